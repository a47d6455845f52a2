"""The ZMI guard: keeps the management interface on the manage hosts.

Where it acts, and why there
----------------------------

Zope authenticates a request only after traversing its whole path
(``ZPublisher.BaseRequest.traverse``); a ZMI page that needs a Manager then
raises Unauthorized, which becomes a login form, a login redirect or a basic
auth challenge. ``IPubAfterTraversal`` comes after that, so it is too late: an
anonymous visitor would already have been told that the ZMI is there. The
guard therefore decides *before* traversal:

1. An ``IPubStart`` subscriber looks at the request line only (method, path,
   content type): no database, no settings. For anything that is not a ZMI
   request (nearly every request) it returns at once; this is the whole cost
   of the guard on a normal page.
2. For a ZMI request it replaces, on that request object only, the
   ``traverse`` method that ``ZPublisher.WSGIPublisher.publish`` calls next.
   The replacement runs with the database open but before the first
   traversal step: it reads the cached settings of the site in the path
   (:func:`collective.securitybp.settings.get_settings`), works out the public
   host, and either lets Zope's own traversal run, or raises
   :class:`NotFound`, which :class:`BlockedView` renders as a short 404 (or
   403) page. No authentication has happened, so the answer is the same for
   anonymous visitors and Managers.

Raising from the ``IPubStart`` subscriber itself is not possible: the
publisher's ``transaction_pubevents`` context manager would turn the exception
into "generator didn't yield" (an error 500).

The public host is the host of a ``/VirtualHostBase/<scheme>/<host:port>/``
URL when the path has one (the form a front proxy uses; it is what Plone
builds its links from), else the ``Host`` header. Since the guard runs before
the VirtualHostMonster, it reads that segment itself.

Whose settings apply: those of the Plone site the path goes into (the first
name after the virtual-hosting segments) when the add-on is installed there;
otherwise (the Zope root's ZMI, its ``acl_users``, ``Control_Panel``, or a site
without the add-on) the combined settings of every Plone site in the Zope root
that has the add-on (:func:`collective.securitybp.zmi.config.combine`). Each
site's settings come from the settings cache, so they change everywhere at
the next request after a change.

The escape hatch, ``SECURITYBP_ZMI_GUARD=off`` in the environment of the Zope
process, wins over the database: nothing is blocked (requests are still
recorded as evidence).

The guard never raises into a response except its own 404/403: any failure
lets the request through and is logged once per process.
"""

from Acquisition import aq_base
from collective.securitybp import logger
from collective.securitybp.settings import get_settings
from collective.securitybp.settings import STAMP_KEY
from collective.securitybp.zmi import evidence
from collective.securitybp.zmi.config import combine
from collective.securitybp.zmi.config import config_from_settings
from collective.securitybp.zmi.config import guard_switched_off
from collective.securitybp.zmi.config import normalize_host
from datetime import datetime
from datetime import timezone
from plone.base.interfaces import IPloneSiteRoot
import re
import zExceptions


WEBDAV_METHODS = frozenset(
    {"PROPFIND", "PROPPATCH", "MKCOL", "LOCK", "UNLOCK", "COPY", "MOVE"}
)
# Path segments that are the ZMI: its pages, Control_Panel, and its own
# static resources. Any segment starting with "manage_" is one too.
ZMI_NAMES = frozenset(
    {"manage", "Control_Panel", "misc_", "p_", "++resource++zmi", "++resource++logo"}
)
ZMI_PREFIX = "manage_"
# A view name (``@@manage_interfaces``) is checked without its prefix.
VIEW_PREFIXES = ("@@", "++view++")
# Every ZMI path contains one of these: a cheap first test for the hot path.
_MAYBE_ZMI = re.compile(r"manage|Control_Panel|misc_|p_|\+\+resource\+\+")
VIRTUAL_HOST_BASE = "VirtualHostBase"
VIRTUAL_HOST_ROOT = "VirtualHostRoot"
ANONYMOUS = "Anonymous User"
# Set in the environ so that plone.transformchain leaves the page alone.
DISABLE_TRANSFORMS = "plone.transformchain.disable"

_failure_logged = False


def _log_failure_once():
    global _failure_logged
    if not _failure_logged:
        _failure_logged = True
        logger.exception(
            "The ZMI guard failed and let the request through; later "
            "failures are not logged again until the process restarts."
        )


def is_zmi_name(segment):
    """True when a path segment names a ZMI page or resource."""
    for prefix in VIEW_PREFIXES:
        if segment.startswith(prefix):
            segment = segment[len(prefix) :]
            break
    return segment in ZMI_NAMES or segment.startswith(ZMI_PREFIX)


def split_path(path):
    """Split a ``PATH_INFO`` into its virtual host and its names.

    :returns: ``(host, names)``: the ``host:port`` of a leading
        ``/VirtualHostBase/<scheme>/<host:port>`` (None without one) and the
        remaining non-empty names.
    """
    names = [name for name in path.split("/") if name and name != "."]
    if len(names) >= 3 and names[0] == VIRTUAL_HOST_BASE:
        return names[2], names[3:]
    return None, names


def request_kind(method, path, content_type):
    """What kind of ZMI request this is, from the request line alone.

    :returns: ``"webdav"`` (a WebDAV method), ``"xmlrpc"`` (a POST of
        ``text/xml``, which Zope treats as XML-RPC), ``"zmi"`` (a ZMI name in
        the path), or None for anything else.
    """
    if method in WEBDAV_METHODS:
        return "webdav"
    if method == "POST" and "text/xml" in content_type:
        return "xmlrpc"
    if _MAYBE_ZMI.search(path) is None:
        return None
    _host, names = split_path(path)
    for name in names:
        if is_zmi_name(name):
            return "zmi"
    return None


def _site_path(site):
    return "/".join(site.getPhysicalPath())


def site_config(site):
    """The parsed guard settings of ``site``; None without the add-on."""
    path = _site_path(site)
    return get_settings(site).derived(
        "zmi_guard", lambda snapshot: config_from_settings(path, snapshot)
    )


def installed_sites(app):
    """The Plone sites directly in the Zope root that have the add-on.

    A site has it when it has the add-on's settings stamp (written when the
    add-on's records are added at install, removed at uninstall).
    """
    sites = []
    for name in app.objectIds():
        ob = app._getOb(name, None)
        if ob is None or not IPloneSiteRoot.providedBy(ob):
            continue
        annotations = getattr(aq_base(ob), "__annotations__", None)
        if annotations is not None and STAMP_KEY in annotations:
            sites.append(ob)
    return sites


def root_config(app):
    """The combined settings that guard the Zope root (see the module)."""
    return combine(site_config(site) for site in installed_sites(app))


def config_for(app, names):
    """The guard settings that apply to a path (its names after the virtual
    host segment), or None when no site has the add-on."""
    for name in names:
        if name == VIRTUAL_HOST_ROOT or name.startswith("_vh_"):
            continue
        ob = app._getOb(name, None)
        if ob is not None and IPloneSiteRoot.providedBy(ob):
            config = site_config(ob)
            if config is not None:
                return config
        break
    return root_config(app)


class Verdict:
    """What the guard decided about one ZMI request on a public host."""

    __slots__ = ("config", "host", "client_ip", "block")

    def __init__(self, config, host, client_ip, block):
        self.config = config
        self.host = host
        self.client_ip = client_ip
        self.block = block


def decide(request):
    """The :class:`Verdict` for a ZMI request; None when it may pass
    unrecorded (a manage host, or no site with the add-on)."""
    environ = request.environ
    virtual_host, names = split_path(environ.get("PATH_INFO", ""))
    config = config_for(request["PARENTS"][0], names)
    if config is None:
        return None
    host = normalize_host(
        virtual_host or environ.get("HTTP_HOST") or environ.get("SERVER_NAME")
    )
    if config.is_manage_host(host):
        return None
    client_ip = config.client_ip(
        environ.get("REMOTE_ADDR", ""), environ.get("HTTP_X_FORWARDED_FOR")
    )
    return Verdict(config, host, client_ip, config.blocks and not guard_switched_off())


def _user_of(request):
    user = request.other.get("AUTHENTICATED_USER")
    if user is None:
        return ANONYMOUS
    return user.getId() or user.getUserName()


def _record(request, kind, verdict):
    try:
        environ = request.environ
        user = "" if verdict.block else _user_of(request)
        evidence.record(
            when=datetime.now(timezone.utc),
            host=verdict.host,
            client_ip=verdict.client_ip,
            user=user,
            method=environ.get("REQUEST_METHOD", ""),
            path=environ.get("PATH_INFO", ""),
            kind=kind,
            site=verdict.config.site,
            blocked=verdict.block,
        )
    except Exception:
        _log_failure_once()


class NotFound(zExceptions.NotFound):
    """Raised for a blocked request; rendered by :class:`BlockedView`.

    Its status is 404 or 403 as configured. It is named ``NotFound`` so that
    Zope's error log ignores it like any other 404 (its default list of
    ignored exceptions goes by class name) instead of logging a traceback for
    every blocked probe.
    """

    def __init__(self, status):
        super().__init__("")
        self.setStatus(status)


class BlockedView:
    """The response to a blocked request: the status and a page that names
    nothing but the status."""

    def __init__(self, context, request):
        self.context = context
        self.request = request

    def __call__(self):
        status = self.context.getStatus()
        response = self.request.response
        response.setStatus(status, lock=True)
        response.setHeader("Content-Type", "text/html; charset=utf-8")
        response.setHeader("Cache-Control", "no-store")
        reason = zExceptions.status_reasons.get(status, "Not Found")
        return (
            f"<!DOCTYPE html><html><head><title>{reason}</title></head>"
            f"<body><h1>{reason}</h1></body></html>"
        )


class GuardedTraverse:
    """Stands in for ``request.traverse`` on one ZMI request (see the module).

    It removes itself from the request when called, then either blocks, or
    calls Zope's traversal and records the request with the user that
    traversal authenticated.
    """

    __slots__ = ("request", "kind")

    def __init__(self, request, kind):
        self.request = request
        self.kind = kind

    def __call__(self, path, response=None, validated_hook=None):
        request, self.request = self.request, None
        request.__dict__.pop("traverse", None)
        try:
            verdict = decide(request)
        except Exception:
            _log_failure_once()
            verdict = None
        if verdict is None:
            return request.traverse(path, response, validated_hook)
        if verdict.block:
            _record(request, self.kind, verdict)
            request.environ[DISABLE_TRANSFORMS] = True
            raise NotFound(verdict.config.status)
        try:
            return request.traverse(path, response, validated_hook)
        finally:
            _record(request, self.kind, verdict)


def on_pub_start(event):
    """``IPubStart`` subscriber: the only part of the guard every request
    pays for."""
    try:
        request = event.request
        environ = request.environ
        kind = request_kind(
            environ.get("REQUEST_METHOD", "GET").upper(),
            environ.get("PATH_INFO", ""),
            environ.get("CONTENT_TYPE", ""),
        )
        if kind is not None:
            request.traverse = GuardedTraverse(request, kind)
    except Exception:
        _log_failure_once()
