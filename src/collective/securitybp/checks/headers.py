"""Response headers: what the header subscriber sends, and what Zope leaks.

Section "set HTTP Security Headers". The checks read the same compiled
settings the subscriber sends from (``headers.subscriber.plan_for``), so they
report what browsers actually get from the add-on. They cannot see headers
that a web server in front of Zope adds or removes: acknowledge a finding
that your proxy already takes care of.
"""

from collective.securitybp import _
from collective.securitybp import references
from collective.securitybp.checks.base import Check
from collective.securitybp.headers.policy import effective_sources
from collective.securitybp.headers.policy import ESSENTIAL_HEADERS
from collective.securitybp.headers.policy import HSTS_MIN_MAX_AGE
from collective.securitybp.headers.policy import PRESET_HEADERS
from collective.securitybp.headers.subscriber import HTTPS_SITES
from collective.securitybp.headers.subscriber import plan_for
from collective.securitybp.model import Area
from collective.securitybp.model import Severity
from zope.globalrequest import getRequest


HEADER_NAMES = {name.lower(): name for name, _v in PRESET_HEADERS["strict"]}
SETTINGS_PATH = _("Site Setup > Security best practices > Security headers")
SETTINGS_SCREEN = "@@securitybp-controlpanel"
WAITRESS_DOCS = (
    "https://docs.pylonsproject.org/projects/waitress/en/stable/arguments.html"
)
SWITCHED_OFF = ("SBP-HEADER-001", "all")


def settings_link():
    return [(_("Security headers settings"), SETTINGS_SCREEN)]


def switched_off(plan):
    """Whether the add-on sends no security headers at all."""
    return not plan.enabled or plan.preset == "off"


def served_over_https(site):
    """Whether ``site`` is known to answer on an https public URL: the
    current request says so, or the subscriber saw one in this process."""
    request = getRequest()
    server_url = getattr(request, "other", {}).get("SERVER_URL", "") if request else ""
    return server_url.startswith("https:") or site.getPhysicalPath() in HTTPS_SITES


class HeadersSwitchedOff(Check):
    """The add-on sends no security headers, or not all of them.

    The document asks for "as strict security headers as possible" on every
    response. This check reports when the headers are switched off in the
    control panel ("Send security headers" unticked, or the preset "off"),
    and, per header, when an override line ``Name:`` stops one of
    X-Frame-Options, X-Content-Type-Options, Referrer-Policy,
    Permissions-Policy, Cross-Origin-Opener-Policy or
    Cross-Origin-Resource-Policy. X-XSS-Protection is not reported: leaving
    it out is as good as ``0``.

    It cannot see headers a web server in front of Zope sets: if yours does,
    acknowledge the finding.

    Medium when all are off (the findings of SBP-HEADER-002 and
    SBP-HEADER-004 then follow from it); low for one header.

    Example finding: "Security headers switched off" (medium).
    """

    id = "SBP-HEADER-001"
    title = _("Security headers switched off")
    area = Area.HEADERS
    severity = Severity.MEDIUM
    cases = {"one header": Severity.LOW}
    reference = references.HEADERS

    def run(self, context):
        plan = plan_for(context.site)
        if switched_off(plan):
            reason = (
                _("'Send security headers' is unticked")
                if not plan.enabled
                else _("the preset is 'Off'")
            )
            return [
                self.finding(
                    subject="all",
                    detail=_(
                        "No response of this site gets the recommended "
                        "security headers from the add-on: ${reason}. Pages "
                        "can then be framed by other sites, sniffed as "
                        "another content type, and leak their address to "
                        "other sites.",
                        mapping={"reason": reason},
                    ),
                    remediation=_(
                        "In ${settings}, tick 'Send security headers' and "
                        "choose the 'Compatible' preset (or 'Strict'). If "
                        "your web server sets these headers instead, "
                        "acknowledge this finding.",
                        mapping={"settings": SETTINGS_PATH},
                    ),
                    links=settings_link(),
                )
            ]
        findings = []
        for key in plan.switched_off:
            if key not in ESSENTIAL_HEADERS:
                continue
            name = HEADER_NAMES[key]
            findings.append(
                self.finding(
                    subject=name,
                    case="one header",
                    links=settings_link(),
                    detail=_(
                        "The line '${name}:' in the header overrides stops "
                        "the add-on from sending ${name}.",
                        mapping={"name": name},
                    ),
                    remediation=_(
                        "In ${settings}, remove the line '${name}:' from the "
                        "header overrides, or give it a value.",
                        mapping={"settings": SETTINGS_PATH, "name": name},
                    ),
                )
            )
        return findings


class CSPNotEnforced(Check):
    """No Content-Security-Policy is enforced.

    A Content-Security-Policy is the browser's last line of defence against
    cross-site scripting: it decides where scripts, styles, frames and form
    posts may come from. The MDN HTTP Observatory takes 25 points off when
    there is none, and as many when there is only a report-only policy,
    which blocks nothing.

    Report-only is the 'Compatible' preset's default on purpose: collect
    the violations browsers report (the security report lists them), allow
    what you trust, then enforce. This check reminds you of the last step.

    Medium when no policy is sent (following from SBP-HEADER-001 when all
    headers are off); low for a report-only policy.

    Example finding: "Content-Security-Policy not enforced" (low, for
    report-only; medium when none is sent).
    """

    id = "SBP-HEADER-002"
    title = _("Content-Security-Policy not enforced")
    area = Area.HEADERS
    severity = Severity.MEDIUM
    cases = {"report-only": Severity.LOW}
    reference = references.HEADERS

    def run(self, context):
        plan = plan_for(context.site)
        if plan.enabled and plan.csp_mode == "enforce":
            return []
        if plan.enabled and plan.csp_mode == "report-only":
            return [
                self.finding(
                    subject="Content-Security-Policy-Report-Only",
                    case="report-only",
                    links=settings_link(),
                    detail=_(
                        "The Content-Security-Policy is sent as report-only: "
                        "browsers report what it would block but block "
                        "nothing, so it does not stop an injected script."
                    ),
                    remediation=_(
                        "Look at the Content-Security-Policy violations on "
                        "this report. Allow the sources you trust in a custom "
                        "policy, and when no unexpected violation comes in, "
                        "set 'Content-Security-Policy' to 'Enforce' (or use "
                        "the 'Strict' preset) in ${settings}.",
                        mapping={"settings": SETTINGS_PATH},
                    ),
                )
            ]
        return [
            self.finding(
                subject="Content-Security-Policy",
                cause=SWITCHED_OFF if switched_off(plan) else None,
                links=settings_link(),
                detail=_(
                    "No Content-Security-Policy is sent: browsers run any "
                    "script that makes it into a page, from anywhere."
                ),
                remediation=_(
                    "In ${settings}, set 'Content-Security-Policy' to 'As the "
                    "preset says' with the 'Compatible' preset (report-only, "
                    "to collect violations first), then enforce it.",
                    mapping={"settings": SETTINGS_PATH},
                ),
            )
        ]


def remove_source(source):
    """The remediation of an unsafe script source."""
    return _(
        "In ${settings}, remove ${source} from script-src in the custom "
        "policy (or use the 'Strict' preset's). Move inline scripts into "
        "files of a bundle; if a page still needs it, look at its "
        "violations on this report first.",
        mapping={"settings": SETTINGS_PATH, "source": source},
    )


class CSPUnsafeScripts(Check):
    """The enforced Content-Security-Policy allows inline or eval'd scripts.

    ``'unsafe-inline'`` in script-src (or in default-src when there is no
    script-src) lets an injected ``<script>`` or ``onclick=`` run: the policy
    then does little against cross-site scripting (Observatory: -20).
    ``'unsafe-eval'`` lets scripts turn strings into code (Observatory: -10).
    A policy with neither script-src nor default-src allows every script.

    Plone's classic UI needs neither, except on three kinds of page: folder
    contents (``'unsafe-eval'``), the resource registry control panel and
    the Zope management screens (``'unsafe-inline'``). The 'Strict' preset
    allows them there only, and this check looks at the site-wide policy.
    ``'unsafe-inline'`` next to a nonce, a hash or ``'strict-dynamic'`` is
    ignored by browsers and not reported. Only the enforced policy is
    checked; a report-only one is SBP-HEADER-002's business.

    Example finding: "CSP allows inline or eval'd scripts", subject
    ``'unsafe-inline'`` (medium).
    """

    id = "SBP-HEADER-003"
    title = _("CSP allows inline or eval'd scripts")
    area = Area.HEADERS
    severity = Severity.MEDIUM
    cases = {"'unsafe-eval' only": Severity.LOW}
    reference = references.HEADERS

    def run(self, context):
        plan = plan_for(context.site)
        if not plan.enabled or plan.csp_mode != "enforce":
            return []
        sources = effective_sources(plan.csp_directives, "script-src")
        if sources is None:
            return [
                self.finding(
                    subject="script-src",
                    detail=_(
                        "The enforced policy has neither script-src nor "
                        "default-src, so it allows every script, inline ones "
                        "included."
                    ),
                    remediation=_(
                        "In ${settings}, add \"script-src 'self'\" (or "
                        "\"default-src 'self'\") to the custom policy.",
                        mapping={"settings": SETTINGS_PATH},
                    ),
                )
            ]
        findings = []
        neutralised = any(
            s == "'strict-dynamic'" or s.startswith(("'nonce-", "'sha"))
            for s in sources
        )
        if "'unsafe-inline'" in sources and not neutralised:
            findings.append(
                self.finding(
                    subject="'unsafe-inline'",
                    detail=_(
                        "The enforced policy allows inline scripts "
                        "('unsafe-inline' in script-src): a script injected "
                        "into a page runs as if the site had written it."
                    ),
                    remediation=remove_source("'unsafe-inline'"),
                )
            )
        if "'unsafe-eval'" in sources:
            findings.append(
                self.finding(
                    subject="'unsafe-eval'",
                    case="'unsafe-eval' only",
                    detail=_(
                        "The enforced policy lets scripts evaluate strings as "
                        "code ('unsafe-eval' in script-src), which turns "
                        "injected text into running code."
                    ),
                    remediation=remove_source("'unsafe-eval'"),
                )
            )
        return findings


class HSTSMissing(Check):
    """The site answers over HTTPS without a long Strict-Transport-Security.

    Without HSTS, a visitor who types the address or follows an old
    ``http://`` link makes a first request in clear text, which an attacker
    on the network can redirect (SSL stripping). The Observatory takes off
    20 points when HSTS is missing and grades max-age under 15768000 (six
    months) down; a year (31536000) is the usual value.

    The check knows the site is served over HTTPS when the request that runs
    the audit has an https public URL (after virtual hosting), or when the
    header subscriber saw one in this process. From the command line of a
    freshly started instance it cannot tell, and stays quiet. It does not
    see an HSTS header set by a web server in front of Zope.

    Example finding: "Strict-Transport-Security missing or short" (medium).
    """

    id = "SBP-HEADER-004"
    title = _("Strict-Transport-Security missing or short")
    area = Area.HEADERS
    severity = Severity.MEDIUM
    cases = {"max-age under six months": Severity.LOW}
    reference = references.HEADERS

    def run(self, context):
        if not served_over_https(context.site):
            return []
        plan = plan_for(context.site)
        if not plan.enabled or not plan.hsts:
            return [
                self.finding(
                    subject="Strict-Transport-Security",
                    cause=SWITCHED_OFF if switched_off(plan) else None,
                    links=settings_link(),
                    detail=_(
                        "The site is served over HTTPS but the add-on sends "
                        "no Strict-Transport-Security header, so browsers "
                        "will still try plain HTTP first."
                    ),
                    remediation=_(
                        "In ${settings}, tick 'Send security headers' and "
                        "'Strict-Transport-Security' with a preset other than "
                        "'Off' (max-age 31536000). Check first that every "
                        "page works over HTTPS.",
                        mapping={"settings": SETTINGS_PATH},
                    ),
                )
            ]
        if plan.hsts_max_age < HSTS_MIN_MAX_AGE:
            return [
                self.finding(
                    subject="max-age",
                    case="max-age under six months",
                    links=settings_link(),
                    detail=_(
                        "Strict-Transport-Security has max-age=${max_age}: "
                        "browsers forget it after less than six months "
                        "(15768000 seconds), so returning visitors lose the "
                        "protection.",
                        mapping={"max_age": plan.hsts_max_age},
                    ),
                    remediation=_(
                        "In ${settings}, set the HSTS max-age to 31536000 (a year).",
                        mapping={"settings": SETTINGS_PATH},
                    ),
                )
            ]
        return []


def zope_powered_by():
    """The X-Powered-By value Zope adds to every response, or None."""
    from ZPublisher.HTTPResponse import HTTPResponse

    for name, value in HTTPResponse().listHeaders():
        if name.lower() == "x-powered-by":
            return value
    return None


def waitress_ident(config_files):
    """waitress's ``ident`` in the ``[server:main]`` section of the
    instance's WSGI configuration: None when not set (waitress then sends
    ``Server: waitress``), "" when blanked (no Server header)."""
    import configparser

    for path in config_files:
        if path.suffix != ".ini":
            continue
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error:
            continue
        if parser.has_option("server:main", "ident"):
            return parser.get("server:main", "ident").strip()
    return None


class PoweredByDisclosed(Check):
    """Zope tells every visitor which software it runs.

    Zope adds ``X-Powered-By: Zope (www.zope.dev), Python (www.python.org)``
    to every response and has no setting to stop it. waitress adds
    ``Server: waitress`` unless ``ident`` is blanked (``ident =``) in the
    ``[server:main]`` section of zope.ini: the check reads the instance's
    WSGI configuration and mentions the Server header only while it is
    sent. Neither header protects anything, and they save an attacker the
    time of fingerprinting the server; hygiene (low). Only the web server
    in front of Zope can drop X-Powered-By, so the add-on cannot see
    whether yours does: acknowledge this finding once it is configured.

    The check asks Zope's response class whether it adds the header, so it
    goes quiet by itself on a Zope that stops sending it.

    Example finding: "Server software disclosed in X-Powered-By" (low).
    """

    id = "SBP-HEADER-005"
    title = _("Server software disclosed in X-Powered-By")
    area = Area.HEADERS
    severity = Severity.LOW
    reference = references.HEADERS

    def run(self, context):
        from collective.securitybp.checks.process import layout_for

        value = zope_powered_by()
        if value is None:
            return []
        ident = waitress_ident(layout_for(context).config_files)
        if ident == "":
            server = ""
        else:
            server = _(
                "waitress adds 'Server: ${ident}' as well: set 'ident =' "
                "(empty) in the [server:main] section of zope.ini and restart.",
                mapping={"ident": ident or "waitress"},
            )
        return [
            self.finding(
                subject="X-Powered-By",
                detail=_(
                    "Every response says 'X-Powered-By: ${value}'. Zope has no "
                    "setting to stop it; the add-on cannot remove it. ${server}",
                    mapping={"value": value, "server": server},
                ),
                remediation=_(
                    "Drop it in the web server in front of Zope. nginx: "
                    "'proxy_hide_header X-Powered-By;' in the server block that "
                    "proxies to Zope. Apache (mod_headers): 'Header always "
                    "unset X-Powered-By' and 'Header unset X-Powered-By'. Then "
                    "acknowledge this finding: the add-on cannot see what the "
                    "proxy removes."
                ),
                links=[(_("waitress settings: ident"), WAITRESS_DOCS)],
            )
        ]
