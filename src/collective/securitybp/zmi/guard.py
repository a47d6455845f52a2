"""The management guard: keeps the management interface on the manage hosts.

It decides on what a request will publish, not on how its URL is spelled.

Where it acts, and why there
----------------------------

Zope publishes a request in three stages (``ZPublisher.WSGIPublisher``):
``processInputs`` reads the form, and turns the form directives
(``NAME:method``, ``:action=NAME``, ``NAME:default_method``,
``:default_action=NAME``, in the query string or in a urlencoded or
multipart body) and an XML-RPC method name into extra names at the end of
the path; ``BaseRequest.traverse`` then walks the path one name at a time
(with acquisition, views, ``++namespace++`` adapters, the virtual host
monster and, for WebDAV, the request method as the last name); only after
the whole walk does it authenticate the user.

The guard sits in the walk itself. An ``IPubStart`` subscriber gives each
request a ``traverseName`` of its own (:class:`StepGuard`), which
``BaseRequest.traverse`` calls for every name, including the names a form
directive added, the default view and the WebDAV method. Each step is
judged on what it really reaches:

* a management name: ``manage``, ``manage_*`` or ``manageX``, the ZMI's
  resources (``misc_``, ``p_``, ``++resource++zmi``, ``++resource++logo``)
  and ``Control_Panel``, also as a view (``@@`` or ``++view++``);
* a method or template whose permission is a management permission
  (:data:`MANAGEMENT_PERMISSIONS`), such as ``acl_users/userFolderAddUser``
  or ``error_log/getLogEntries``;
* the WebDAV methods, PUT and DELETE as the last name of the walk (a
  plone.rest call never reaches them: its services have names of their
  own); XML-RPC, whose method is the last name.

Everything else passes: Plone's views and control panels, plone.restapi
services, folder contents, ``@@manage-portlets``.

A management step is then judged by every add-on site on the way (every
Plone site the walk passed through, by path or by acquisition), every
add-on site that contains the managed object, and, when no add-on site
contains it, the Zope root (the combined settings of every add-on site,
:func:`collective.securitybp.zmi.config.combine`). It is answered only when
each of them allows it (:meth:`GuardConfig.allows`): a manage host, named
by a peer that may be believed. When one of them blocks, the walk stops
with the exception Zope itself raises for a name that does not exist, so
the answer is Plone's own not-found page for that place, the same for
Anonymous and for a Manager (nobody is authenticated yet). In report mode
the request goes on and is recorded, and once authentication has run, the
user it was served to.

The escape hatch, ``SECURITYBP_ZMI_GUARD=off`` in the environment of the
Zope process, wins over the settings: nothing is blocked (requests are
still recorded).

The guard never raises into a response except its refusal: any failure
lets the step through and is logged once per process.
"""

from Acquisition import aq_base
from Acquisition import aq_chain
from Acquisition import aq_inner
from collective.securitybp import logger
from collective.securitybp.settings import get_settings
from collective.securitybp.settings import STAMP_KEY
from collective.securitybp.zmi import evidence
from collective.securitybp.zmi.config import client_of
from collective.securitybp.zmi.config import combine
from collective.securitybp.zmi.config import config_from_settings
from collective.securitybp.zmi.config import guard_switched_off
from collective.securitybp.zmi.config import normalize_host
from collective.securitybp.zmi.config import peer_of
from plone.base.interfaces import IPloneSiteRoot
from plone.rest.interfaces import IAPIRequest
from urllib.parse import urlsplit
from ZPublisher.BaseRequest import BaseRequest
from ZPublisher.xmlrpc import is_xmlrpc_response
import re
import types
import zExceptions


# WebDAV methods; as the last name of the walk they are management.
WEBDAV_METHODS = frozenset(
    {"PROPFIND", "PROPPATCH", "MKCOL", "LOCK", "UNLOCK", "COPY", "MOVE"}
)
# PUT and DELETE create and delete objects through WebDAV; plone.rest serves
# them under service names, so as the last name they are WebDAV too.
WRITE_METHODS = frozenset({"PUT", "DELETE"})
DAV_METHODS = WEBDAV_METHODS | WRITE_METHODS
# A name that is the ZMI: its pages (manage, manage_*, manageX), its
# resources and the Control_Panel, also spelled as a view.
ZMI_NAME = re.compile(
    r"(?:@@|\+\+view\+\+)?"
    r"(?:manage(?:[_A-Z].*)?|Control_Panel|misc_|p_|\+\+resource\+\+(?:zmi|logo))$",
    re.DOTALL,
)
# Beginnings of every such name: a cheaper test first.
ZMI_STARTS = (
    "manage",
    "@@manage",
    "++view++manage",
    "Control_Panel",
    "@@Control_Panel",
    "++view++Control_Panel",
    "misc_",
    "@@misc_",
    "++view++misc_",
    "p_",
    "@@p_",
    "++view++p_",
    "++resource++zmi",
    "++resource++logo",
)
# Permissions of the management interface and of Zope-level objects (user
# folders and their plugins, the error log, the Zope and CMF tools). Plone's
# own screens are protected by permissions of their own ("Plone Site Setup:
# ...", "Manage portal" only for the tools' ZMI methods).
MANAGEMENT_PERMISSIONS = frozenset(
    {
        "View management screens",
        "Manage users",
        "Manage properties",
        "Change permissions",
        "Change proxy roles",
        "Take ownership",
        "Undo changes",
        "Manage portal",
        "Log Site Errors",
        "Change configuration",
        "Manage Access Rules",
        "Manage Vocabulary",
        "Manage ZCatalog Entries",
        "Manage ZCatalogIndex Entries",
        "Import/Export objects",
        "Change Python Scripts",
        "Change Page Templates",
        "Change DTML Documents",
        "Change DTML Methods",
        "Change External Methods",
        "Change cache managers",
        "Manage WebDAV Locks",
        "Manage Five local sites",
        "Manage Transient Object Container",
    }
)
# Exact types: ``type()`` is cheap where ``isinstance`` would ask an
# acquisition wrapper for its ``__class__``.
METHOD_TYPES = frozenset(
    {
        types.MethodType,
        types.FunctionType,
        types.BuiltinMethodType,
        types.MethodWrapperType,
    }
)
# Names of the cookies and header that carry credentials (Plone's session
# cookie, plone.restapi's JWT cookie, HTTP authentication).
CREDENTIAL_COOKIES = ("__ac=", "auth_token=")
ANONYMOUS = "Anonymous User"
SITES_KEY = "collective.securitybp.sites"

_traverse_name = BaseRequest.traverseName
_failure_logged = False


def _log_failure_once():
    global _failure_logged
    if not _failure_logged:
        _failure_logged = True
        logger.exception(
            "The management guard failed and let a request through; later "
            "failures are not logged again until the process restarts."
        )


def is_zmi_name(name):
    """True when a path name is the management interface (see the module)."""
    return name.startswith(ZMI_STARTS) and ZMI_NAME.match(name) is not None


def _permission(ob, name, sub):
    """The permission protecting the published ``sub`` (``ob``'s ``name``),
    as ZPublisher's ``getRoles`` finds it; None for a public or unknown one."""
    roles = getattr(aq_base(sub), "__roles__", None)
    if roles is None:
        container = sub.__self__ if type(sub) is types.MethodType else ob
        roles = getattr(type(aq_base(container)), name + "__roles__", None)
    permission = getattr(roles, "__name__", None)
    return permission if isinstance(permission, str) else None


def is_management_method(ob, name, sub):
    """True when ``sub`` is a method or a template protected by a management
    permission."""
    if not (type(sub) in METHOD_TYPES or _maybe_template(sub)):
        return False
    return _permission(ob, name, sub) in MANAGEMENT_PERMISSIONS


def _is_template(base):
    """A page template or DTML file kept on a class: the ZMI's forms."""
    module = type(base).__module__
    return module.startswith(
        ("App.special_dtml", "Products.PageTemplates.PageTemplateFile")
    )


# Which sites have the add-on


def site_config(site):
    """The parsed guard settings of ``site``; None without the add-on."""
    path = "/".join(site.getPhysicalPath())
    return get_settings(site).derived(
        "zmi_guard", lambda snapshot: config_from_settings(path, snapshot)
    )


def _has_addon(ob):
    annotations = getattr(aq_base(ob), "__annotations__", None)
    return annotations is not None and STAMP_KEY in annotations


def registered_paths(app):
    """The paths of the sites the add-on was installed in (any depth)."""
    jar = getattr(app, "_p_jar", None)
    if jar is None:
        return ()
    return tuple(jar.root().get(SITES_KEY, ()))


def register_site(site, installed=True):
    """Add ``site`` to (or remove it from) the list of sites with the
    add-on, kept in the database root; called on install and uninstall."""
    jar = site._p_jar
    if jar is None:
        return
    root = jar.root()
    path = "/".join(site.getPhysicalPath())
    paths = set(root.get(SITES_KEY, ()))
    if (path in paths) == installed:
        return
    if installed:
        paths.add(path)
    else:
        paths.discard(path)
    root[SITES_KEY] = tuple(sorted(paths))


def installed_sites(app):
    """The Plone sites that have the add-on: those registered at install,
    at any depth, and those directly in the Zope root."""
    sites, seen = [], set()
    candidates = [app.unrestrictedTraverse(p, None) for p in registered_paths(app)]
    for name in app.objectIds():
        candidates.append(app._getOb(name, None))
    for ob in candidates:
        if ob is None or not IPloneSiteRoot.providedBy(ob) or not _has_addon(ob):
            continue
        path = ob.getPhysicalPath()
        if path not in seen:
            seen.add(path)
            sites.append(ob)
    return sites


def root_config(app):
    """The combined settings that guard the Zope root (see the module)."""
    return combine(site_config(site) for site in installed_sites(app))


def governing(app, parents, managed):
    """The settings that judge a management step.

    :param app: the Zope root.
    :param parents: the objects the walk passed through.
    :param managed: the object whose management is asked for.
    :returns: a list of :class:`GuardConfig`, without duplicates.
    """
    configs = {}

    def add(ob):
        if IPloneSiteRoot.providedBy(ob):
            config = site_config(ob)
            if config is not None:
                configs.setdefault(config.site, config)
                return True
        return False

    for ob in parents:
        add(ob)
    contained = False
    try:
        chain = aq_chain(aq_inner(managed))
    except Exception:
        chain = ()
    for ob in chain:
        contained = add(ob) or contained
    if not contained:
        config = root_config(app)
        if config is not None:
            configs.setdefault(config.site, config)
    return list(configs.values())


def _credentials(request):
    """Whether the request carries credentials (never checked here). Zope
    moves the Authorization header from the environ to ``request._auth``."""
    environ = request.environ
    if getattr(request, "_auth", None) or environ.get("HTTP_AUTHORIZATION"):
        return evidence.CREDENTIALS
    cookie = environ.get("HTTP_COOKIE") or ""
    if any(name in cookie for name in CREDENTIAL_COOKIES):
        return evidence.CREDENTIALS
    return evidence.ANONYMOUS


class Forbidden(zExceptions.HTTPException):
    """The refusal in 403 mode. Not a ``zExceptions.Forbidden``, which the
    walk would turn into a 404."""

    def __init__(self):
        super().__init__("")
        self.setStatus(403)


class StepGuard:
    """The ``traverseName`` of one request (see the module)."""

    __slots__ = ("request", "dav", "xmlrpc", "recorded", "served")

    def __init__(self, request, method):
        self.request = request
        self.dav = method if method in DAV_METHODS else None
        self.xmlrpc = None  # known once the form is read
        self.recorded = None  # sites whose evidence this request added to
        self.served = None  # evidence fields to record again once served

    def __call__(self, ob, name):
        request = self.request
        if "_post_traverse" not in request.__dict__:
            # Not Zope's publishing walk (it keeps its post-traversal hooks
            # there while it walks) but code resolving a path later, such as
            # plone.app.linkintegrity: nothing is published by this name.
            return _traverse_name(request, ob, name)
        kind = None
        try:
            if is_zmi_name(name):
                kind = "zmi"
            elif self.dav is not None and name == self.dav:
                kind = "webdav"
            if kind is not None:
                self.judge(ob, name, kind)
        except (KeyError, zExceptions.HTTPException):
            raise
        except Exception:
            _log_failure_once()
        sub = _traverse_name(request, ob, name)
        if kind is not None:
            return sub
        try:
            managed = ob
            if self.xmlrpc is None:
                self.xmlrpc = is_xmlrpc_response(request.response)
            if not request.path and (self.xmlrpc or self._webdav()):
                # The last name of the URL: what an XML-RPC call or a WebDAV
                # method acts on, whatever Zope publishes after it.
                kind, managed = ("xmlrpc" if self.xmlrpc else "webdav"), sub
            elif is_management_method(ob, name, sub):
                kind = "method"
            if kind is not None:
                self.judge(managed, name, kind)
        except (KeyError, zExceptions.HTTPException):
            raise
        except Exception:
            _log_failure_once()
        return sub

    def _webdav(self):
        """A WebDAV request: a WebDAV method, or PUT or DELETE that is not
        a plone.rest call."""
        if self.dav is None:
            return False
        return self.dav in WEBDAV_METHODS or not IAPIRequest.providedBy(self.request)

    def judge(self, ob, name, kind):
        """Let a management step through, record it, or refuse it.

        :param ob: the object whose management the step asks for.
        :param name: the name of the step.
        :param kind: how it is management (see the evidence).
        """
        request = self.request
        environ = request.environ
        parents = request.other.get("PARENTS") or [ob]
        configs = governing(parents[0], parents, ob)
        if not configs:
            return
        host = normalize_host(urlsplit(request.other.get("SERVER_URL", "")).netloc)
        peer, server_client = peer_of(environ)
        refusing = []
        for config in configs:
            client = client_of(config, environ, peer, server_client)
            if not config.allows(host, peer, client):
                refusing.append((config, client))
        if not refusing:
            return
        block = any(c.blocks for c, _client in refusing) and not guard_switched_off()
        if kind in ("zmi", "method") and self._directive(name):
            kind = "directive"
        path = request.other.get("PATH_INFO") or environ.get("PATH_INFO", "")
        access = _credentials(request)
        method = environ.get("REQUEST_METHOD", "")
        recorded = self.recorded = self.recorded or set()
        for config, client in refusing:
            if config.site in recorded:
                continue
            recorded.add(config.site)
            fields = {
                "site": config.site,
                "host": host,
                "client_ip": client,
                "kind": kind,
                "method": method,
                "path": path,
            }
            evidence.record(access=access, blocked=block, **fields)
            if not block:
                if self.served is None:
                    self.served = []
                    request.post_traverse(self.record_served)
                self.served.append(fields)
        if block:
            if all(c.status == 403 for c, _client in refusing if c.blocks):
                raise Forbidden()
            raise KeyError(name)

    def _directive(self, name):
        """Whether ``name`` came from a form directive or XML-RPC."""
        request = self.request
        hacked = request.other.get("PATH_INFO")
        return bool(
            hacked
            and hacked != request.environ.get("PATH_INFO")
            and hacked.rstrip("/").rsplit("/", 1)[-1] == name
        )

    def record_served(self):
        """After authentication (report mode): record whom the management
        interface was served to. A post-traversal hook; returns None."""
        try:
            user = self.request.other.get("AUTHENTICATED_USER")
            user_id = user.getId() if user is not None else None
            if not user_id or user_id == ANONYMOUS:
                return None
            for fields in self.served or ():
                evidence.record(
                    access=evidence.SERVED, blocked=False, user=user_id, **fields
                )
        except Exception:
            _log_failure_once()
        return None


def _maybe_template(sub):
    """:func:`_is_template` for what a step reached, wrapped or not."""
    return _is_template(aq_base(sub))


def on_pub_start(event):
    """``IPubStart`` subscriber: gives the request its :class:`StepGuard`.
    The only part of the guard every request pays for, with the cheap name
    test of each step."""
    try:
        request = event.request
        method = request.environ.get("REQUEST_METHOD", "GET").upper()
        request.traverseName = StepGuard(request, method)
    except Exception:
        _log_failure_once()
