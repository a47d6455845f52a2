"""Configuration: Zope and Plone settings that undo the document's advice.

Zope's own settings (zope.conf and the environment), plone.protect,
plone.session and the keyrings, and the site's content settings: HTML
filtering, self-registration, comments, code stored in the database and
unpublished content that Anonymous can see. Every check reads; none writes.
"""

from AccessControl.PermissionRole import rolesForPermissionOn
from Acquisition import aq_base
from collective.securitybp import _
from collective.securitybp import references
from collective.securitybp.checks.base import Check
from collective.securitybp.checks.process import describe
from collective.securitybp.checks.process import environment_for
from collective.securitybp.model import Area
from collective.securitybp.model import Severity
from collective.securitybp.principals import active_plugins
from DateTime import DateTime
from pathlib import Path
from plone.protect import auto as protect_auto
from plone.registry.interfaces import IRegistry
from plone.transformchain.interfaces import ITransform
from Products.PluggableAuthService.interfaces.plugins import ICredentialsUpdatePlugin
from Products.PluggableAuthService.interfaces.plugins import IPropertiesPlugin
from types import MappingProxyType
from zope.component import queryMultiAdapter
from zope.component import queryUtility
from zope.globalrequest import getRequest
from zope.publisher.browser import TestRequest
import os
import shlex
import sys


# Values of an environment variable that plone.protect reads as "true".
TRUE_VALUES = frozenset({"true", "t", "yes", "y", "1"})
CSRF_TRANSFORM = "plone.protect.autocsrf"
SESSION_TIMEOUT_LIMIT = 12 * 60 * 60  # seconds
# plone.protect rotates each keyring at a login once this many seconds
# have passed since its last rotation (plone.protect.subscribers).
ROTATION_PERIODS = MappingProxyType(
    {"_system": 7 * 24 * 60 * 60, "_forms": 24 * 60 * 60, "_anon": 24 * 60 * 60}
)
# A login this long after a ring was due shows that nothing rotated it.
ROTATION_SLACK = 60 * 60
SESSION_PROPERTIES = "acl_users/session/manage_propertiesForm"
SESSION_SECRETS = "acl_users/session/manage_secret"
HTML_FILTERING = "@@filter-controlpanel"
SECURITY_SETTINGS = "@@security-controlpanel"
DISCUSSION_SETTINGS = "@@discussion-controlpanel"
# Tags that let content run code, or post to another site, when allowed.
SCRIPT_TAGS = frozenset({"script", "object", "embed", "form"})
# Tags that embed another site; Plone's filter empties javascript: and
# data: sources and removes srcdoc, so they cannot run script in this one.
FRAME_TAGS = frozenset({"iframe"})
NO_CAPTCHA = frozenset({"", "disabled"})
DISCUSSION = "plone.app.discussion.interfaces.IDiscussionSettings."
# Objects that hold code or templates editable through the web.
TTW_META_TYPES = (
    "Script (Python)",
    "External Method",
    "Page Template",
    "DTML Method",
    "DTML Document",
    "Z SQL Method",
)
# Tools of the site whose whole content is customised code or templates.
CUSTOMIZATION_FOLDERS = ("portal_skins/custom", "portal_view_customizations")
MAX_LISTED = 20
MAX_ROOT_FOLDERS = 1000
# States that are never meant for Anonymous, whatever a workflow says.
UNPUBLISHED_STATE_NAMES = frozenset({"private", "pending"})
VIEW = "View"
# Plone's "never logged in" value of login_time is 2000/01/01.
NEVER_LOGGED_IN = DateTime("2000/01/02 UTC").timeTime()
ANONYMOUS = "Anonymous"


def zope_configuration():
    from App.config import getConfiguration

    return getConfiguration()


def registry_value(site, name, default=None):
    """A record of the site's registry; ``default`` when missing or broken."""
    registry = queryUtility(IRegistry, context=site)
    if registry is None:
        return default
    try:
        value = registry.get(name, default)
    except Exception:  # a broken record never breaks the audit
        return default
    return default if value is None else value


def listing(items, total=None):
    """Up to :data:`MAX_LISTED` items, and how many more there are."""
    items = list(items)
    total = len(items) if total is None else total
    text = ", ".join(items[:MAX_LISTED])
    if total > MAX_LISTED:
        text += f" … (+{total - MAX_LISTED} more)"
    return text


class Setting(Check):
    """A check on one switch of Zope's configuration (base class)."""

    area = Area.CONFIGURATION
    reference = references.LOCK_DOWN
    subject = ""
    detail = None
    remediation = None
    reads_environment = False  # the detail then names the process inspected

    def is_on(self, context):  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    def run(self, context):
        if not self.is_on(context):
            return []
        detail = self.detail
        if self.reads_environment:
            detail = _(
                "${detail} Inspected: ${process}.",
                mapping={
                    "detail": detail,
                    "process": inspected(environment_for(context)),
                },
            )
        return [
            self.finding(
                subject=self.subject, detail=detail, remediation=self.remediation
            )
        ]


def inspected(environment):
    """Which process's environment was read, as a translatable text."""
    if environment.process is None:
        return _("the instance's configuration (the process was not found)")
    return describe(environment.process)


class DebugMode(Setting):
    """Zope runs in debug mode.

    Debug mode is for development: Zope shows tracebacks and internals in
    error pages, reloads templates from disk, and plone.session drops the
    Secure flag of its cookie. The check reads ``debug-mode`` from the
    running instance's configuration (zope.conf, or ``debug_mode`` in the
    WSGI ini file).

    Example finding: "Zope runs in debug mode" (high).
    """

    id = "SBP-CONF-001"
    title = _("Zope runs in debug mode")
    severity = Severity.HIGH
    subject = "debug-mode"
    detail = _(
        "The instance runs with debug-mode on: error pages can show "
        "tracebacks and internals, templates are re-read from disk and the "
        "login cookie is sent without its Secure flag."
    )
    remediation = _(
        "Set 'debug-mode off' in zope.conf (and debug_mode = false in the "
        "[app] section of the WSGI ini file, if set there), then restart. "
        "Use debug mode only on a development machine."
    )

    def is_on(self, context):
        return bool(getattr(zope_configuration(), "debug_mode", False))


class VerboseSecurity(Setting):
    """Verbose security exceptions are on.

    With ``verbose-security on`` an Unauthorized error explains which
    permission and roles were missing: useful when debugging, but it shows
    visitors how the site is structured. The check reads the running
    instance's configuration and AccessControl's security policy.

    Example finding: "Verbose security exceptions are on" (medium).
    """

    id = "SBP-CONF-002"
    title = _("Verbose security exceptions are on")
    severity = Severity.MEDIUM
    subject = "verbose-security"
    detail = _(
        "verbose-security is on: Unauthorized errors name the permission and "
        "the roles that were missing, which tells visitors how the site's "
        "security is set up."
    )
    remediation = _("Set 'verbose-security off' in zope.conf and restart.")

    def is_on(self, context):
        from AccessControl import ImplPython

        configured = getattr(zope_configuration(), "verbose_security", False)
        return bool(configured or getattr(ImplPython, "_embed_permission_in_roles", 0))


class PythonSecurityPolicy(Setting):
    """Zope uses the Python implementation of its security policy.

    ``security-policy-implementation python`` in zope.conf (or the
    environment variable ``PURE_PYTHON``) selects it; it is meant for
    debugging (verbose security needs it). The C implementation is the
    default and the one tested for production; the Python one is slower.
    Informational.

    Example finding: "Python security policy implementation in use" (info).
    """

    id = "SBP-CONF-003"
    title = _("Python security policy implementation in use")
    severity = Severity.INFO
    reads_environment = True
    subject = "security-policy-implementation"
    detail = _(
        "Zope checks permissions with the Python implementation of its "
        "security policy, meant for debugging; the default C implementation "
        "is faster and the one used in production."
    )
    remediation = _(
        "Remove 'security-policy-implementation python' from zope.conf (the "
        "default is C) and unset the PURE_PYTHON environment variable, then "
        "restart."
    )

    def is_on(self, context):
        configured = getattr(
            zope_configuration(), "security_policy_implementation", "C"
        )
        environment = environment_for(context)
        pure_python = environment.get("PURE_PYTHON", "").strip().lower()
        return str(configured).upper() == "PYTHON" or pure_python in TRUE_VALUES


class CSRFProtectionOff(Check):
    """plone.protect's automatic CSRF protection is switched off.

    plone.protect refuses any request that writes to the database without a
    valid token, which protects every form, including add-ons' forms, from
    cross-site request forgery. It is switched off by the environment
    variable ``PLONE_CSRF_DISABLED`` (read when the instance starts), or
    when its transform ``plone.protect.autocsrf`` is not registered (or an
    override returns no transform). One finding per cause. The environment
    is that of the process that serves the site: for ``securitybp audit``
    the running instance's, read from ``/proc/<pid>/environ`` with
    zope.conf's ``<environment>`` on top (SBP-CONF-017 says when it could
    not be read); the finding names the process.

    Example finding: "CSRF protection is off" (critical), subject
    ``PLONE_CSRF_DISABLED``.
    """

    id = "SBP-CONF-004"
    title = _("CSRF protection is off")
    area = Area.CONFIGURATION
    severity = Severity.CRITICAL
    reference = references.ZOPE_MANAGER

    def run(self, context):
        findings = []
        environment = environment_for(context)
        value = environment.get("PLONE_CSRF_DISABLED")
        serving = environment.process is not None and environment.process.pid == (
            os.getpid()
        )
        disabled = (value or "").strip().lower() in TRUE_VALUES
        if disabled or (serving and protect_auto.CSRF_DISABLED):
            process = inspected(environment)
            findings.append(
                self.finding(
                    subject="PLONE_CSRF_DISABLED",
                    detail=_(
                        "The environment variable PLONE_CSRF_DISABLED is "
                        "'${value}': plone.protect does not check any request "
                        "for a CSRF token, so a page on another site can make "
                        "a logged-in user change this one. Inspected: "
                        "${process}.",
                        mapping={
                            "value": value or "true (at start-up)",
                            "process": process,
                        },
                    ),
                    remediation=_(
                        "Remove PLONE_CSRF_DISABLED from the environment of the "
                        "instance (zope.conf <environment>, the service unit, "
                        "the container definition) and restart."
                    ),
                )
            )
        request = getRequest() or getattr(context.site, "REQUEST", None)
        if request is None:
            request = TestRequest()
        transform = queryMultiAdapter(
            (context.site, request), ITransform, name=CSRF_TRANSFORM
        )
        if transform is None:
            findings.append(
                self.finding(
                    subject=CSRF_TRANSFORM,
                    detail=_(
                        "The transform ${name} of plone.protect is not "
                        "registered, so forms are not protected against CSRF "
                        "automatically.",
                        mapping={"name": CSRF_TRANSFORM},
                    ),
                    remediation=_(
                        "Find the add-on or ZCML override that unregisters "
                        "${name} (look for it in your packages' ZCML and "
                        "overrides.zcml), remove it and restart.",
                        mapping={"name": CSRF_TRANSFORM},
                    ),
                )
            )
        return findings


class FrameOptionsEmptied(Setting):
    """``PLONE_X_FRAME_OPTIONS`` is set to an empty value.

    plone.protect sends ``X-Frame-Options: SAMEORIGIN`` unless the
    environment variable ``PLONE_X_FRAME_OPTIONS`` says otherwise; set to an
    empty value, the header is not sent and other sites can frame this one
    (clickjacking). A proxy or the add-on's header settings may still send
    the header: see the header checks.

    Example finding: "PLONE_X_FRAME_OPTIONS is empty" (medium).
    """

    id = "SBP-CONF-005"
    title = _("PLONE_X_FRAME_OPTIONS is empty")
    severity = Severity.MEDIUM
    reads_environment = True
    reference = references.HEADERS
    subject = "PLONE_X_FRAME_OPTIONS"
    detail = _(
        "The environment variable PLONE_X_FRAME_OPTIONS is empty, so "
        "plone.protect does not send X-Frame-Options and other sites may show "
        "this one in a frame (clickjacking)."
    )
    remediation = _(
        "Remove PLONE_X_FRAME_OPTIONS from the instance's environment (the "
        "default is SAMEORIGIN) or set it to SAMEORIGIN or DENY, and restart."
    )

    def is_on(self, context):
        environment = environment_for(context)
        value = environment.get("PLONE_X_FRAME_OPTIONS")
        serving = environment.process is not None and environment.process.pid == (
            os.getpid()
        )
        return (value is not None and not value.strip()) or (
            serving and not protect_auto.X_FRAME_OPTIONS
        )


class XMLRPCEnabled(Setting):
    """Zope's XML-RPC support is on.

    With ``enable-xmlrpc on``, Zope treats POST requests with the content
    type text/xml as XML-RPC calls to any published method: an interface
    nobody uses today, and more for an attacker to probe.

    Example finding: "XML-RPC is enabled" (low).
    """

    id = "SBP-CONF-006"
    title = _("XML-RPC is enabled")
    severity = Severity.LOW
    subject = "enable-xmlrpc"
    detail = _(
        "enable-xmlrpc is on: Zope answers XML-RPC calls (POST requests with "
        "the content type text/xml) to published methods."
    )
    remediation = _(
        "Set 'enable-xmlrpc off' in zope.conf (the default since Zope 5.8) "
        "unless a client really uses XML-RPC, then restart."
    )

    def is_on(self, context):
        return bool(getattr(zope_configuration(), "enable_xmlrpc", False))


def session_plugins(site):
    """The active plone.session plugins of the site's user folder."""
    from plone.session.plugins.session import SessionPlugin

    return [
        plugin
        for plugin in active_plugins(site.acl_users, ICredentialsUpdatePlugin)
        if isinstance(aq_base(plugin), SessionPlugin)
    ]


def plugin_path(plugin):
    return "/".join(plugin.getPhysicalPath())


def hsts_covers(site):
    """Whether the add-on sends a Strict-Transport-Security header of at
    least six months: browsers then never send a request, and its cookie,
    over plain HTTP once they have seen the site."""
    from collective.securitybp.headers.policy import HSTS_MIN_MAX_AGE
    from collective.securitybp.headers.subscriber import plan_for

    plan = plan_for(site)
    return bool(plan.enabled and plan.hsts and plan.hsts_max_age >= HSTS_MIN_MAX_AGE)


class SessionCookieNotSecure(Check):
    """The login cookie is sent without its Secure flag on an HTTPS site.

    plone.session's ``secure`` property makes browsers send the ``__ac``
    cookie over HTTPS only. When it is off on a site served over HTTPS, a
    single plain HTTP request (a typed address, a mixed link) sends the
    session in clear text. HTTPS is recognised from the request that runs
    the audit (``SERVER_URL``, which virtual hosting sets to the public
    URL); the command line cannot tell and stays quiet.

    High; medium when the add-on sends Strict-Transport-Security for at
    least six months, which keeps browsers that have seen the site from
    making plain HTTP requests (the first visit stays exposed).

    Example finding: "Login cookie not limited to HTTPS" (high), subject
    ``/Plone/acl_users/session``.
    """

    id = "SBP-CONF-007"
    title = _("Login cookie not limited to HTTPS")
    area = Area.CONFIGURATION
    severity = Severity.HIGH
    cases = {"HSTS covers the cookie": Severity.MEDIUM}
    reference = references.MANAGE_DOMAIN

    def run(self, context):
        request = getattr(context.site, "REQUEST", None)
        url = request.get("SERVER_URL", "") if request is not None else ""
        if not str(url).startswith("https://"):
            return []
        covered = hsts_covers(context.site)
        return [
            self.finding(
                subject=plugin_path(plugin),
                case="HSTS covers the cookie" if covered else None,
                detail=_(
                    "This site is served over HTTPS (${url}) but plone.session "
                    "sets its login cookie without the Secure flag, so a "
                    "browser also sends it over plain HTTP.",
                    mapping={"url": url},
                ),
                remediation=_(
                    "In the management interface open ${path}, tab Properties, "
                    "tick 'secure' and save (or set it in a setup step). "
                    "Debug mode also drops the flag: keep it off.",
                    mapping={"path": plugin_path(plugin)},
                ),
                links=[(_("Properties of the session plugin"), SESSION_PROPERTIES)],
            )
            for plugin in session_plugins(context.site)
            if not plugin.getProperty("secure")
        ]


class SessionTimeoutLong(Check):
    """A login session is valid for more than 12 hours.

    plone.session's ``timeout`` (seconds, default 2 hours) is how long a
    stolen or forgotten session stays usable. Over 12 hours a session
    outlives a working day.

    Example finding: "Login sessions last more than 12 hours" (low), 168
    hours.
    """

    id = "SBP-CONF-008"
    title = _("Login sessions last more than 12 hours")
    area = Area.CONFIGURATION
    severity = Severity.LOW
    reference = references.LOWEST_PRIVILEGES

    def run(self, context):
        findings = []
        for plugin in session_plugins(context.site):
            timeout = plugin.getProperty("timeout") or 0
            if timeout <= SESSION_TIMEOUT_LIMIT:
                continue
            mapping = {
                "hours": f"{round(timeout / 3600, 1):g}",
                "path": plugin_path(plugin),
            }
            findings.append(
                self.finding(
                    subject=plugin_path(plugin),
                    detail=_(
                        "A login session stays valid for ${hours} hours: a "
                        "stolen or forgotten session can be used that long.",
                        mapping=mapping,
                    ),
                    remediation=_(
                        "Lower 'timeout' of ${path} (Properties tab, in "
                        "seconds) to 43200 (12 hours) or less; the default is "
                        "7200.",
                        mapping=mapping,
                    ),
                )
            )
        return findings


class NoPerUserKeyring(Check):
    """Login sessions are not signed with a keyring per user.

    By default plone.session signs every session with the site's shared
    secret: logging out does not invalidate a copied cookie. With
    ``per_user_keyring`` each user gets a secret that logging out replaces,
    which ends every session of that user.

    Example finding: "No per-user keyring for login sessions" (low).
    """

    id = "SBP-CONF-009"
    title = _("No per-user keyring for login sessions")
    area = Area.CONFIGURATION
    severity = Severity.LOW
    reference = references.LOWEST_PRIVILEGES

    def run(self, context):
        return [
            self.finding(
                subject=plugin_path(plugin),
                detail=_(
                    "plone.session signs all sessions with one shared secret, "
                    "so logging out does not invalidate a copied login cookie."
                ),
                remediation=_(
                    "In the management interface open ${path}, tab Manage "
                    "secrets, and enable per-user keyrings.",
                    mapping={"path": plugin_path(plugin)},
                ),
            )
            for plugin in session_plugins(context.site)
            if not plugin.getProperty("per_user_keyring")
        ]


def root_login_service(root):
    """The REST service answering ``POST /@login`` on the Zope root
    (plone.distribution's), or None."""
    try:
        from plone.rest.negotiation import lookup_service_id
    except ImportError:
        return None
    service_id = lookup_service_id("POST", "application/json")
    if not service_id:
        return None
    return queryMultiAdapter((root, TestRequest()), name=service_id + "@login")


class RootCookieStoresPassword(Check):
    """The Zope root's cookie plugin keeps login and password in ``__ac``.

    A PluggableAuthService at the Zope root with a Cookie Auth Helper active
    for updating credentials stores ``login:password``, only encoded, in
    the ``__ac`` cookie after a Zope Manager logs in: the password travels
    with every request and stays in the browser, in a cookie scripts can
    read. (Plone sites use plone.session instead, which stores a signed
    ticket.)

    The REST service ``POST /@login`` of the Zope root (plone.distribution,
    for creating sites) calls that plugin directly, whether or not it is
    active: while the root has a plugin ``credentials_cookie_auth`` and the
    service is registered, logging in there sets the same cookie. That is
    a second finding, subject ``/@login``.

    Example finding: "Zope root cookie stores the password" (medium),
    subject ``/acl_users/credentials_cookie_auth``.
    """

    id = "SBP-CONF-010"
    title = _("Zope root cookie stores the password")
    area = Area.CONFIGURATION
    severity = Severity.MEDIUM
    reference = references.ZOPE_MANAGER

    def run(self, context):
        from Products.PluggableAuthService.plugins.CookieAuthHelper import (
            CookieAuthHelper,
        )

        user_folder = getattr(aq_base(context.root), "acl_users", None)
        if user_folder is None:
            return []
        findings = [
            self.finding(
                subject=plugin_path(plugin),
                detail=_(
                    "The cookie plugin ${path} at the Zope root stores the "
                    "login name and the password, only encoded, in the "
                    "__ac cookie of every Zope Manager who logs in there.",
                    mapping={"path": plugin_path(plugin)},
                ),
                remediation=_(
                    "In /acl_users/plugins (Credentials Update Plugins) "
                    "deactivate ${path}, or use HTTP basic authentication over "
                    "HTTPS on a dedicated manage domain for the Zope root.",
                    mapping={"path": plugin_path(plugin)},
                ),
            )
            for plugin in active_plugins(
                context.root.acl_users, ICredentialsUpdatePlugin
            )
            if isinstance(aq_base(plugin), CookieAuthHelper)
        ]
        cookie = getattr(aq_base(user_folder), "credentials_cookie_auth", None)
        if isinstance(cookie, CookieAuthHelper) and root_login_service(context.root):
            findings.append(
                self.finding(
                    subject="/@login",
                    detail=_(
                        "The REST service POST /@login of the Zope root sets "
                        "the __ac cookie with the login name and the password, "
                        "only encoded, through /acl_users/credentials_cookie_auth, "
                        "whether or not that plugin is active."
                    ),
                    remediation=_(
                        "In the management interface, delete "
                        "credentials_cookie_auth from /acl_users (Zope root "
                        "Managers then log in there with HTTP basic "
                        "authentication, over HTTPS on a dedicated manage "
                        "domain), or refuse POST /@login on the Zope root in "
                        "the web server in front of Zope."
                    ),
                )
            )
        return findings


def last_login(site):
    """The latest login through Plone's login form on ``site``, by any user
    (the ``login_time`` member property), in seconds since the epoch; None
    when nobody has logged in."""
    latest = None
    stores = [
        getattr(plugin, "_storage", None)
        for plugin in active_plugins(site.acl_users, IPropertiesPlugin)
    ]
    tool = getattr(aq_base(site), "portal_memberdata", None)
    members = getattr(aq_base(tool), "_members", None) if tool is not None else None
    for store in [*stores, members]:
        if store is None:
            continue
        for data in store.values():
            value = (
                data.get("login_time")
                if isinstance(data, dict)
                else getattr(data, "login_time", None)
            )
            try:
                moment = DateTime(value).timeTime() if value else None
            except Exception:
                moment = None
            if (
                moment
                and moment > NEVER_LOGGED_IN
                and (latest is None or moment > latest)
            ):
                latest = moment
    return latest


ROTATE_SCRIPT = """\
# Replaces every secret of every keyring of the site and the Zope root.
import transaction
from plone.keyring.interfaces import IKeyManager
from zope.component import getUtility
from zope.component.hooks import setSite

setSite(app.unrestrictedTraverse({site!r}))
for manager in (getUtility(IKeyManager), getattr(app, "_key_manager", None)):
    for name in manager or ():
        for _secret in range(len(manager[name])):
            manager[name].rotate()
transaction.commit()
"""


def zconsole():
    """The zconsole script of this Python's environment, or plain ``zconsole``."""
    script = Path(sys.executable).parent / "zconsole"
    return shlex.quote(str(script)) if script.exists() else "zconsole"


def rotate_commands(site_path, zope_conf):
    """The command that rotates every keyring of the site at ``site_path``
    and of the Zope root, with the instance's ``zope_conf``: zconsole runs
    the script it reads from its standard input (no temporary file)."""
    script = ROTATE_SCRIPT.format(site=site_path)
    return [
        f"{zconsole()} run {shlex.quote(str(zope_conf))} /dev/stdin <<'EOF'\n"
        f"{script}EOF"
    ]


def instance_zope_conf():
    """The running instance's zope.conf: ``<instancehome>/etc/zope.conf``."""
    from App.config import getConfiguration

    home = getattr(getConfiguration(), "instancehome", None) or "."
    return Path(home) / "etc" / "zope.conf"


class KeyringsNeverRotated(Check):
    """A keyring of the site or the Zope root was not rotated when due.

    plone.keyring holds the secrets that sign login sessions (``_system``)
    and CSRF tokens (``_forms``, ``_anon``). plone.protect rotates each of
    them at a login once it is due (``_system`` weekly, the others daily),
    so a fresh site where nobody has logged in yet still has the secrets
    it was created with, and that is fine. A ring counts when a login
    through Plone's login form (the latest ``login_time`` of any member)
    came more than an hour after the ring was due: nothing rotated it, so
    the secrets made with the site (perhaps copied with the database to
    other machines) still sign sessions and tokens. Logins with HTTP basic
    authentication are not recorded and do not rotate either. The root's
    key manager is read only if it exists.

    Example finding: "Keyrings not rotated" (low), subject ``/Plone``,
    rings _system, _forms.
    """

    id = "SBP-CONF-011"
    title = _("Keyrings not rotated")
    area = Area.CONFIGURATION
    severity = Severity.LOW
    reference = references.LOWEST_PRIVILEGES

    def run(self, context):
        from plone.keyring.interfaces import IKeyManager

        latest = context.shared(
            "configuration.last_login", lambda ctx: last_login(ctx.site)
        )
        if latest is None:
            return []
        managers = (
            (
                "/".join(context.site.getPhysicalPath()),
                queryUtility(IKeyManager, context=context.site),
            ),
            ("/", getattr(aq_base(context.root), "_key_manager", None)),
        )
        findings = []
        for where, manager in managers:
            if manager is None:
                continue
            rings = [
                name
                for name, period in ROTATION_PERIODS.items()
                if name in manager
                and (getattr(manager[name], "last_rotation", 0) or 0) + period
                < latest - ROTATION_SLACK
            ]
            if not rings:
                continue
            findings.append(
                self.finding(
                    subject=where,
                    detail=_(
                        "The keyrings ${rings} of ${where} were due for "
                        "rotation before the last login (${login}), which "
                        "should have rotated them: they still sign sessions "
                        "and tokens with old secrets.",
                        mapping={
                            "rings": ", ".join(rings),
                            "where": where,
                            "login": DateTime(latest).ISO8601(),
                        },
                    ),
                    remediation=_(
                        "Rotate every keyring of the site and the Zope root "
                        "(this logs everybody out): stop the instance (or "
                        "use a ZEO client) and run the command below; then "
                        "find out why logins do not rotate them (plone.protect "
                        "not loaded, or logins with basic authentication only)."
                    ),
                    commands=rotate_commands(
                        "/".join(context.site.getPhysicalPath()), instance_zope_conf()
                    ),
                    links=[(_("Session secrets of the site"), SESSION_SECRETS)],
                )
            )
        return findings


class UnsafeHTMLFiltering(Check):
    """HTML filtering lets editors put code or other sites into pages.

    Plone filters the HTML of rich text with the settings in Site Setup >
    HTML filtering. With filtering disabled, with ``script``, ``object``,
    ``embed`` or ``form`` among the valid tags, or with event handler
    attributes (``onclick``, ``onload``, ...) among the custom attributes,
    anybody who can edit a page can run JavaScript in the browsers of its
    visitors, administrators included, or post their input elsewhere: high.

    ``iframe`` alone is low: Plone's default valid tags include it (to
    embed videos), and the filter empties ``javascript:`` and ``data:``
    sources and removes ``srcdoc``, so a frame cannot run script in the
    site's origin; what remains is content of another site (a phishing
    form) shown by a trusted editor. One finding per setting.

    Example finding: "HTML filtering allows active content" (high), subject
    ``plone.valid_tags``, tags iframe, script.
    """

    id = "SBP-CONF-012"
    title = _("HTML filtering allows active content")
    area = Area.CONFIGURATION
    severity = Severity.HIGH
    cases = {"frames only": Severity.LOW}
    reference = references.LOWEST_PRIVILEGES

    def run(self, context):
        site = context.site
        findings = []
        remediation = _(
            "In Site Setup > HTML filtering, enable filtering, remove script, "
            "object, embed and form (and iframe, unless editors embed videos) "
            "from the valid tags and remove attributes starting with 'on' "
            "from the custom attributes."
        )
        links = [(_("HTML filtering settings"), HTML_FILTERING)]
        if registry_value(site, "plone.disable_filtering", False):
            findings.append(
                self.finding(
                    subject="plone.disable_filtering",
                    detail=_(
                        "HTML filtering is disabled: rich text is stored and "
                        "shown as editors wrote it, scripts included."
                    ),
                    remediation=remediation,
                    links=links,
                )
            )
        valid = {
            str(tag).lower() for tag in registry_value(site, "plone.valid_tags", [])
        }
        scripts = sorted(valid & SCRIPT_TAGS)
        frames = sorted(valid & FRAME_TAGS)
        if scripts:
            findings.append(
                self.finding(
                    subject="plone.valid_tags",
                    detail=_(
                        "HTML filtering keeps the tags ${tags} in rich text: "
                        "editors can run scripts in visitors' browsers or post "
                        "their input to another site.",
                        mapping={"tags": ", ".join(sorted(scripts + frames))},
                    ),
                    remediation=remediation,
                    links=links,
                )
            )
        elif frames:
            findings.append(
                self.finding(
                    subject="plone.valid_tags",
                    case="frames only",
                    detail=_(
                        "HTML filtering keeps the tags ${tags} in rich text: "
                        "editors can show pages of other sites inside this "
                        "one. The filter empties javascript: and data: "
                        "sources and removes srcdoc, so a frame cannot run "
                        "script here; it can show another site's content, a "
                        "phishing form for instance.",
                        mapping={"tags": ", ".join(frames)},
                    ),
                    remediation=remediation,
                    links=links,
                )
            )
        attributes = sorted(
            {
                str(name).lower()
                for name in registry_value(site, "plone.custom_attributes", [])
                if str(name).lower().startswith("on")
            }
        )
        if attributes:
            findings.append(
                self.finding(
                    subject="plone.custom_attributes",
                    detail=_(
                        "HTML filtering keeps the event handler attributes "
                        "${attributes}: they run JavaScript.",
                        mapping={"attributes": ", ".join(attributes)},
                    ),
                    remediation=remediation,
                    links=links,
                )
            )
        return findings


class SelfRegistrationWithoutValidation(Check):
    """Anybody can register, with a password of their choice.

    When self-registration is on (Anonymous has "Add portal member") and
    users choose their password in the registration form, nobody confirms
    the e-mail address: accounts can be made in bulk with any address.
    With the password left to an e-mailed link, the address is validated.

    Example finding: "Self-registration without e-mail validation" (medium).
    """

    id = "SBP-CONF-013"
    title = _("Self-registration without e-mail validation")
    area = Area.CONFIGURATION
    severity = Severity.MEDIUM
    reference = references.LOWEST_PRIVILEGES

    def run(self, context):
        site = context.site
        roles = rolesForPermissionOn("Add portal member", site) or ()
        if ANONYMOUS not in roles:
            return []
        if not registry_value(site, "plone.enable_user_pwd_choice", False):
            return []
        return [
            self.finding(
                subject="plone.enable_user_pwd_choice",
                detail=_(
                    "Anybody can create an account and chooses its password "
                    "in the form, so the e-mail address is never confirmed."
                ),
                remediation=_(
                    "In Site Setup > Security, untick 'Let users select their "
                    "own passwords' (users then get an e-mail to set it), or "
                    "untick 'Enable self-registration' if nobody needs it."
                ),
                links=[(_("Security settings"), SECURITY_SETTINGS)],
            )
        ]


class AnonymousCommentsWithoutCaptcha(Check):
    """Anonymous users may comment and no captcha stops robots.

    With plone.app.discussion, comments enabled, anonymous comments allowed
    and no captcha, robots can post spam (and links) in bulk; moderation
    only hides it.

    Example finding: "Anonymous comments without a captcha" (low).
    """

    id = "SBP-CONF-014"
    title = _("Anonymous comments without a captcha")
    area = Area.CONFIGURATION
    severity = Severity.LOW
    reference = references.LOWEST_PRIVILEGES

    def run(self, context):
        site = context.site
        enabled = registry_value(site, DISCUSSION + "globally_enabled", False)
        anonymous = registry_value(site, DISCUSSION + "anonymous_comments", False)
        captcha = str(registry_value(site, DISCUSSION + "captcha", "") or "")
        if not (enabled and anonymous) or captcha.strip().lower() not in NO_CAPTCHA:
            return []
        return [
            self.finding(
                subject="plone.app.discussion",
                detail=_(
                    "Anonymous users may post comments and no captcha is "
                    "configured, so robots can post spam in bulk."
                ),
                links=[(_("Discussion settings"), DISCUSSION_SETTINGS)],
                remediation=_(
                    "In Site Setup > Discussion, choose a captcha (install "
                    "plone.formwidget.recaptcha or a similar package first) or "
                    "untick 'Enable anonymous comments'."
                ),
            )
        ]


def ttw_items(container, path, meta_types=TTW_META_TYPES):
    """``(path, meta type)`` of code objects directly in ``container``."""
    found = []
    for meta_type in meta_types:
        for item_id in container.objectIds(meta_type):
            found.append((f"{path}/{item_id}", meta_type))
    return found


def is_zope_default_page(root):
    """True when the root's ``index_html`` is the page Zope itself created."""
    from OFS.Application import DEFAULT_ROOT_TEMPLATE

    page = getattr(aq_base(root), "index_html", None)
    read = getattr(page, "read", None)
    try:
        return read is not None and read().strip() == DEFAULT_ROOT_TEMPLATE.strip()
    except Exception:  # an unreadable template is reported, not hidden
        return False


def root_ttw_items(root):
    """Code objects at the Zope root and in its plain folders, except the
    default page Zope creates at the root."""
    found = ttw_items(root, "")
    if is_zope_default_page(root):
        found = [item for item in found if item[0] != "/index_html"]
    queue = [(root, "")]
    visited = 0
    while queue and visited < MAX_ROOT_FOLDERS:
        folder, path = queue.pop(0)
        visited += 1
        for entry in folder.objectMap():
            if entry.get("meta_type") != "Folder":
                continue
            child = folder._getOb(entry["id"])
            child_path = f"{path}/{entry['id']}"
            found.extend(ttw_items(child, child_path))
            queue.append((child, child_path))
    return found


class ThroughTheWebCode(Check):
    """Code or templates are stored in the database (through the web).

    Scripts (Python), External Methods, DTML and page templates created in
    the management interface, and customised templates in
    ``portal_skins/custom`` and ``portal_view_customizations``, run with
    the rights of their owner, escape code review and version control, and
    are what attackers add or change after a break-in. The check lists them
    at the Zope root (and its plain folders), on the site root and in the
    two customisation folders; it does not search content folders. The
    root's ``index_html`` is left out while it is the page Zope itself
    created.

    Example finding: "Code stored through the web" (medium), with the
    inventory "/Plone/portal_skins/custom/main_template (Page Template)".
    """

    id = "SBP-CONF-015"
    title = _("Code stored through the web")
    area = Area.CONFIGURATION
    severity = Severity.MEDIUM
    reference = references.UNIX_ACCOUNTS

    def run(self, context):
        site = context.site
        site_path = "/".join(site.getPhysicalPath())
        found = root_ttw_items(context.root)
        found += ttw_items(site, site_path)
        for folder_path in CUSTOMIZATION_FOLDERS:
            folder = site.unrestrictedTraverse(folder_path, None)
            if folder is None or not hasattr(aq_base(folder), "objectMap"):
                continue
            for entry in folder.objectMap():
                found.append(
                    (f"{site_path}/{folder_path}/{entry['id']}", entry.get("meta_type"))
                )
        if not found:
            return []
        found.sort()
        items = [f"{path} ({meta_type})" for path, meta_type in found]
        return [
            self.finding(
                detail=_(
                    "${count} objects hold code or templates edited through "
                    "the web: ${items}.",
                    mapping={"count": len(found), "items": listing(items)},
                ),
                remediation=_(
                    "Move each into a file-system package under version "
                    "control (a browser view, an override template), then "
                    "delete it in the management interface. Delete what is "
                    "not used any more."
                ),
            )
        ]


def unpublished_states(site):
    """Workflow states whose definition denies View to Anonymous.

    A state id counts when every workflow that defines it manages View
    without Anonymous; ``private`` and ``pending`` always count.
    """
    verdicts = {}
    workflow_tool = getattr(site, "portal_workflow", None)
    for workflow in workflow_tool.objectValues() if workflow_tool else ():
        states = getattr(workflow, "states", None)
        if states is None:
            continue
        for state in states.objectValues():
            roles = (getattr(state, "permission_roles", None) or {}).get(VIEW)
            closed = isinstance(roles, tuple) and ANONYMOUS not in roles
            verdicts[state.getId()] = verdicts.get(state.getId(), True) and closed
    return sorted(
        {state for state, closed in verdicts.items() if closed}
        | UNPUBLISHED_STATE_NAMES
    )


class UnpublishedContentVisible(Check):
    """Content in an unpublished workflow state can be seen by Anonymous.

    Private and pending content, and content in any state whose workflow
    definition withholds View from Anonymous, should not be visible to
    visitors who are not logged in. It becomes visible when somebody sets
    View by hand (the Security tab), a workflow's permissions were changed
    without updating the security settings of existing content, or a state
    was copied carelessly. The check asks the catalog (review state and
    allowed roles, no object is loaded) and lists up to 20 paths with the
    total. Plone's catalog records who has "Access contents information",
    so content whose View alone was opened, or that is not catalogued, is
    not seen.

    Example finding: "Unpublished content visible to Anonymous" (high): "3
    items in an unpublished workflow state can be seen by Anonymous:
    /Plone/news/draft-budget (private), ...".
    """

    id = "SBP-CONF-016"
    title = _("Unpublished content visible to Anonymous")
    area = Area.CONFIGURATION
    severity = Severity.HIGH
    reference = references.LOWEST_PRIVILEGES

    def run(self, context):
        site = context.site
        catalog = getattr(site, "portal_catalog", None)
        if catalog is None:
            return []
        states = unpublished_states(site)
        results = catalog.unrestrictedSearchResults(
            review_state=states, allowedRolesAndUsers=ANONYMOUS
        )
        total = len(results)
        if not total:
            return []
        items = sorted(
            f"{brain.getPath()} ({getattr(brain, 'review_state', '')})"
            for brain in results[:MAX_LISTED]
        )
        return [
            self.finding(
                detail=_(
                    "${total} items in an unpublished workflow state can be "
                    "seen by Anonymous: ${items}.",
                    mapping={"total": total, "items": listing(items, total)},
                ),
                remediation=_(
                    "For each item, check the Security tab in the management "
                    "interface (View should be acquired, not granted to "
                    "Anonymous) and its Sharing tab. If a workflow was "
                    "changed, run 'Update security settings' in "
                    "portal_workflow. Publish what is meant to be public."
                ),
            )
        ]


# Variables some check reads from the environment of the serving process.
ENVIRONMENT_VARIABLES = (
    "PLONE_CSRF_DISABLED",
    "PLONE_X_FRAME_OPTIONS",
    "PURE_PYTHON",
    "SECURITYBP_ZMI_GUARD",
)


class ServingEnvironmentUnknown(Check):
    """The environment of the process serving the site could not be read.

    The command line describes the running instance, not itself: the
    checks that read environment variables (SBP-CONF-003, SBP-CONF-004,
    SBP-CONF-005) read them from ``/proc/<pid>/environ`` of the process
    found by SBP-PROC-001's search, with zope.conf's ``<environment>`` on
    top. Reading another user's ``/proc/<pid>/environ`` needs that user or
    root; when it cannot be read, or no running instance was found, those
    checks saw only zope.conf, and this finding says so (following from
    SBP-PROC-010 in the second case).

    Example finding: "Environment of the serving process not read" (info).
    """

    id = "SBP-CONF-017"
    title = _("Environment of the serving process not read")
    area = Area.CONFIGURATION
    severity = Severity.INFO
    reference = references.LOCK_DOWN

    def run(self, context):
        environment = environment_for(context)
        if environment.complete:
            return []
        mapping = {"variables": ", ".join(ENVIRONMENT_VARIABLES)}
        if environment.process is None:
            detail = _(
                "No running instance was found, so the environment variables "
                "${variables} were judged from zope.conf's <environment> "
                "section only.",
                mapping=mapping,
            )
            cause = ("SBP-PROC-010", "")
        else:
            mapping["process"] = describe(environment.process)
            mapping["pid"] = environment.process.pid
            detail = _(
                "/proc/${pid}/environ could not be read, so the environment "
                "variables ${variables} were judged from zope.conf's "
                "<environment> section only. Inspected: ${process}.",
                mapping=mapping,
            )
            cause = None
        return [
            self.finding(
                subject="environment",
                cause=cause,
                detail=detail,
                remediation=_(
                    "Run securitybp audit as root or as the user that runs "
                    "the instance, while it runs; or open the site's "
                    "@@security-report page, which reads its own environment."
                ),
            )
        ]


class SecurityContactNotPublished(Check):
    """The site publishes no valid security contact (security.txt).

    RFC 9116 asks every site to publish ``/.well-known/security.txt`` with
    at least one ``Contact`` (where to report a vulnerability) and an
    ``Expires`` date, after which the file is not to be trusted. Without it,
    a person who finds a vulnerability in the site has no known way to tell
    its owners, and may publish it instead. The "Security contact" settings
    of the control panel publish one; another add-on may serve the file
    instead, and then what it serves is checked.

    - Nothing published: low (hygiene).
    - Published without ``Contact``, without a readable ``Expires``, or
      expired: medium (reports go to a contact the site no longer vouches
      for).
    - Expires within 30 days: low.

    Example finding: "No valid security contact (security.txt)" (low),
    subject /.well-known/security.txt: "The site publishes no security
    contact."

    What a proxy in front of the site serves at that address instead is
    not seen.
    """

    id = "SBP-CONF-018"
    title = _("No valid security contact (security.txt)")
    area = Area.CONFIGURATION
    severity = Severity.LOW
    cases = {"invalid": Severity.MEDIUM}
    reference = references.SECURITY_INFORMATION

    SETTINGS = _(
        "Set a contact and an expiry date in Site Setup > Security best "
        "practices > Security contact (@@securitybp-controlpanel); the site "
        "then serves /.well-known/security.txt. Renew the date before it "
        "passes."
    )

    def run(self, context):
        from collective.securitybp.securitytxt import EXPIRY_WARNING_DAYS
        from collective.securitybp.securitytxt import parse
        from collective.securitybp.securitytxt import parse_expires
        from collective.securitybp.securitytxt import PATH
        from collective.securitybp.securitytxt import published

        request = getRequest() or getattr(context.site, "REQUEST", None)
        text, provider = published(context.site, request)
        if text is None:
            return [
                self.finding(
                    subject=PATH,
                    detail=_(
                        "The site publishes no security contact at ${path}.",
                        mapping={"path": PATH},
                    ),
                    remediation=self.SETTINGS,
                )
            ]
        fields = parse(text)
        problem = None
        case = "invalid"
        expires = parse_expires((fields.get("expires") or [""])[0])
        if not fields.get("contact"):
            problem = _("${path} names no Contact.", mapping={"path": PATH})
        elif expires is None:
            problem = _(
                "${path} has no readable Expires date (RFC 3339, such as "
                "2027-06-30T23:59:59Z).",
                mapping={"path": PATH},
            )
        elif expires <= context.now:
            problem = _(
                "${path} expired on ${date}: readers are told not to trust "
                "its contact.",
                mapping={"path": PATH, "date": expires.date().isoformat()},
            )
        elif (expires - context.now).days < EXPIRY_WARNING_DAYS:
            case = None
            problem = _(
                "${path} expires on ${date}, in less than ${days} days.",
                mapping={
                    "path": PATH,
                    "date": expires.date().isoformat(),
                    "days": EXPIRY_WARNING_DAYS,
                },
            )
        if problem is None:
            return []
        remediation = self.SETTINGS
        if provider == "other":
            remediation = _(
                "Another add-on serves ${path}: correct it in that add-on's settings.",
                mapping={"path": PATH},
            )
        return [
            self.finding(
                subject=PATH,
                case=case,
                detail=problem,
                remediation=remediation,
            )
        ]
