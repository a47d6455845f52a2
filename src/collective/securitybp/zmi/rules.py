"""Proxy rules generated from the guard's settings.

The best-practices document blocks the ZMI in the web server. Its examples
have two faults this module fixes: the Apache one uses the 2.2 syntax
(``Order deny,allow``) and its ``RewriteRule ... - [L,NC]`` blocks nothing;
and both patterns only catch a ZMI name at the end of the URL, so they miss
``/plone/manage`` (Apache), ``/manage_addProduct/...``,
``/manage_main/...``, ``/@@manage_interfaces``, ``/Control_Panel/...`` and the
ZMI's own resources (``misc_``, ``p_``, ``++resource++zmi``). The patterns
here match a ZMI name as any path segment, exactly as the guard does
(:func:`collective.securitybp.zmi.guard.is_zmi_name`; a test keeps them in
step), and they also refuse WebDAV methods (PUT and DELETE too, unless the
request asks for JSON: plone.restapi), XML-RPC, and form directives in the
query string (``NAME:method``, ``:action=NAME``, ``NAME:default_method``,
``:default_action=NAME``, which Zope turns into one more name of the path).

What a proxy cannot see, only the guard inside Zope catches: form
directives in a POST body, methods protected by management permissions
whose names do not start with ``manage`` (``acl_users/userFolderAddUser``),
and whatever else depends on what a name turns out to be once Zope has
walked to it.
"""

from collective.securitybp import _
from collective.securitybp.zmi.config import LOOPBACK_HOSTS
from collective.securitybp.zmi.guard import WEBDAV_METHODS
from collective.securitybp.zmi.guard import WRITE_METHODS
from dataclasses import dataclass


# One path segment that is the ZMI (see guard.ZMI_NAME).
ZMI_PATH_REGEX = (
    r"(^|/)(@@|\+\+view\+\+)?"
    r"(manage([_A-Z][^/]*)?|Control_Panel|misc_|p_|\+\+resource\+\+(zmi|logo))(/|$)"
)
# A form directive in the raw query string: a key ending in :method,
# :action, :default_method or :default_action (the colon possibly
# percent-encoded) ...
DIRECTIVE_QUERY_REGEX = (
    r"(^|&)[^=&]*(:|%3[aA])(default_)?(method|action)([:%][^=&]*)?(=|&|$)"
)
# ... or a typed key with any other percent-encoding after its colon, which
# could spell a directive in disguise (browsers encode no ASCII letters).
ENCODED_DIRECTIVE_REGEX = r"(^|&)[^=&]*(:|%3[aA])([^=&%]|%3[aA])*%([^3]|3[^aA])"
WEBDAV_GROUP = "({})".format("|".join(sorted(WEBDAV_METHODS)))
WRITE_GROUP = "({})".format("|".join(sorted(WRITE_METHODS)))
EXAMPLE_PUBLIC_HOST = "www.example.com"
EXAMPLE_MANAGE_HOST = "manage.example.com"
EXAMPLE_ADMIN_NETWORK = "192.0.2.0/24"


@dataclass(frozen=True)
class RuleSet:
    """One block of configuration, with a title for people."""

    id: str
    title: str
    text: str


def _nginx(public, site, backend, status):
    return f"""\
# nginx: the public site {public}. The management interface, WebDAV,
# XML-RPC and form directives in the query answer {status} here. A proxy
# cannot see form directives in POST bodies: the guard in Zope refuses them.

# In the http {{}} block:
map "$request_method:$content_type" $securitybp_zmi_request {{
    default 0;
    "~^{WEBDAV_GROUP}:" 1;
    "~*^POST:.*text/xml" 1;
}}
map "$request_method:$http_accept" $securitybp_dav_write {{
    default 0;
    "~^{WRITE_GROUP}:(?!.*application/json)" 1;
}}
map $args $securitybp_directive {{
    default 0;
    "~{DIRECTIVE_QUERY_REGEX}" 1;
    "~{ENCODED_DIRECTIVE_REGEX}" 1;
}}

server {{
    listen 443 ssl;
    server_name {public};
    # ssl_certificate and ssl_certificate_key of {public}

    if ($securitybp_zmi_request) {{
        return {status};
    }}
    if ($securitybp_dav_write) {{
        return {status};
    }}
    if ($securitybp_directive) {{
        return {status};
    }}
    location ~ "{ZMI_PATH_REGEX}" {{
        return {status};
    }}
    location / {{
        proxy_pass http://{backend}/VirtualHostBase/https/{public}:443/{site}/VirtualHostRoot/;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }}
}}
"""


def _apache(public, site, backend, status):
    return f"""\
# Apache 2.4 (mod_rewrite, mod_proxy_http): in the public
# <VirtualHost *:443> of {public}, before the rule that proxies to Zope.
# The management interface, WebDAV, XML-RPC and form directives in the query
# answer {status} here. A proxy cannot see form directives in POST bodies:
# the guard in Zope refuses them.
RewriteEngine On
RewriteCond "%{{REQUEST_METHOD}}" "^{WEBDAV_GROUP}$" [OR]
RewriteCond "%{{REQUEST_METHOD}}:%{{HTTP:Content-Type}}" "^POST:.*text/xml" [NC,OR]
RewriteCond "%{{QUERY_STRING}}" "{DIRECTIVE_QUERY_REGEX}" [OR]
RewriteCond "%{{QUERY_STRING}}" "{ENCODED_DIRECTIVE_REGEX}" [OR]
RewriteCond "%{{REQUEST_URI}}" "{ZMI_PATH_REGEX}"
RewriteRule "^" "-" [R={status},L]
RewriteCond "%{{REQUEST_METHOD}}" "^{WRITE_GROUP}$"
RewriteCond "%{{HTTP:Accept}}" "!application/json"
RewriteRule "^" "-" [R={status},L]

RewriteRule "^/(.*)$" "http://{backend}/VirtualHostBase/https/{public}:443/{site}/VirtualHostRoot/$1" [P,L]
"""  # noqa: E501


def _haproxy(public, site, backend, status):
    methods = " ".join(sorted(WEBDAV_METHODS))
    writes = " ".join(sorted(WRITE_METHODS))
    return f"""\
# HAProxy 2.x: in the frontend of the public site {public}. The path is
# URL-decoded before it is matched (%6danage_main is manage_main to Zope).
# A proxy cannot see form directives in POST bodies: the guard in Zope
# refuses them.
acl securitybp_zmi_path path,url_dec -m reg '{ZMI_PATH_REGEX}'
acl securitybp_webdav method {methods}
acl securitybp_write method {writes}
acl securitybp_json req.hdr(accept) -m sub -i application/json
acl securitybp_post method POST
acl securitybp_xml req.hdr(content-type) -m sub -i text/xml
acl securitybp_directive query -m reg '{DIRECTIVE_QUERY_REGEX}'
acl securitybp_directive query -m reg '{ENCODED_DIRECTIVE_REGEX}'
http-request deny deny_status {status} if securitybp_zmi_path || securitybp_webdav || securitybp_post securitybp_xml || securitybp_directive
http-request deny deny_status {status} if securitybp_write !securitybp_json

# In its backend ({backend} is Zope):
http-request set-path /VirtualHostBase/https/{public}:443/{site}/VirtualHostRoot%[path]
"""  # noqa: E501


def _manage_nginx(manage, backend, network):
    return f"""\
# nginx: the dedicated manage host {manage}, with TLS, only for your
# administrators' network ({network} is an example: use yours). It maps
# the Zope root, so the ZMI of the root and of every site is here.
server {{
    listen 443 ssl;
    server_name {manage};
    ssl_certificate     /etc/ssl/certs/{manage}.pem;
    ssl_certificate_key /etc/ssl/private/{manage}.key;
    ssl_protocols TLSv1.2 TLSv1.3;

    allow {network};
    deny all;

    add_header X-Frame-Options "SAMEORIGIN" always;
    add_header Strict-Transport-Security "max-age=15768000; includeSubDomains" always;
    add_header X-Content-Type-Options "nosniff" always;

    location / {{
        proxy_pass http://{backend}/VirtualHostBase/https/{manage}:443/VirtualHostRoot/;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }}
}}
"""


def _manage_apache(manage, backend, network):
    return f"""\
# Apache 2.4: the dedicated manage host {manage}, with TLS, only for your
# administrators' network ({network} is an example: use yours).
<VirtualHost *:443>
    ServerName {manage}
    SSLEngine on
    SSLProtocol -all +TLSv1.2 +TLSv1.3
    SSLCertificateFile /etc/ssl/certs/{manage}.pem
    SSLCertificateKeyFile /etc/ssl/private/{manage}.key

    ProxyRequests Off
    <Location "/">
        Require ip {network}
    </Location>

    Header always set X-Frame-Options "SAMEORIGIN"
    Header always set Strict-Transport-Security "max-age=15768000; includeSubDomains"
    Header always set X-Content-Type-Options "nosniff"

    RewriteEngine On
    RewriteRule "^/(.*)$" "http://{backend}/VirtualHostBase/https/{manage}:443/VirtualHostRoot/$1" [P,L]
</VirtualHost>
"""  # noqa: E501


def ssh_advice(backend, loopback):
    """The document's advice on SSH tunnels, as messages to translate.

    :param backend: ``host:port`` of Zope on the server.
    :param loopback: the loopback names among the manage hosts.
    """
    port = backend.rsplit(":", 1)[-1]
    hosts = ", ".join(sorted(loopback)) or "localhost"
    return [
        _(
            "ssh_manage_host",
            default="${hosts} must be one of the manage hosts: it is the host "
            "name the browser sends through the tunnel.",
            mapping={"hosts": hosts},
        ),
        _(
            "ssh_open",
            default="Open the tunnel only for the maintenance: "
            "ssh -N -L ${port}:${backend} you@your-server, then open "
            "http://localhost:${port}/manage.",
            mapping={"port": port, "backend": backend},
        ),
        _(
            "ssh_other_tabs",
            default="Use a separate browser, or a new private window, and "
            "close every other tab first: any page open in the same browser "
            "can send requests to http://localhost:${port}/ with your ZMI "
            "login (cross-site request forgery), and the ZMI has little "
            "protection against it.",
            mapping={"port": port},
        ),
        _(
            "ssh_close",
            default="Log out, and close the tunnel (end the ssh command) as "
            "soon as you are done.",
        ),
        _(
            "ssh_manage_domain",
            default="Better: use the dedicated manage host instead of a tunnel.",
        ),
    ]


def proxy_rules(config, public_host, site_path, backend):
    """The rules for ``config``, as a list of :class:`RuleSet`.

    :param config: the site's :class:`~collective.securitybp.zmi.config.GuardConfig`.
    :param public_host: the public host name, or None for an example.
    :param site_path: the site's path below the Zope root, e.g. ``"Plone"``.
    :param backend: ``host:port`` of Zope as the proxy reaches it.
    """
    manage_hosts = sorted(config.manage_hosts - LOOPBACK_HOSTS)
    manage = manage_hosts[0] if manage_hosts else EXAMPLE_MANAGE_HOST
    public = public_host or EXAMPLE_PUBLIC_HOST
    status = config.status
    network = EXAMPLE_ADMIN_NETWORK
    return [
        RuleSet("nginx", _("nginx"), _nginx(public, site_path, backend, status)),
        RuleSet(
            "apache",
            _("Apache 2.4"),
            _apache(public, site_path, backend, status),
        ),
        RuleSet(
            "haproxy",
            _("HAProxy"),
            _haproxy(public, site_path, backend, status),
        ),
        RuleSet(
            "manage-nginx",
            _("Dedicated manage host with TLS (nginx)"),
            _manage_nginx(manage, backend, network),
        ),
        RuleSet(
            "manage-apache",
            _("Dedicated manage host with TLS (Apache 2.4)"),
            _manage_apache(manage, backend, network),
        ),
    ]
