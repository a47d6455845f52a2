"""Management exposure: is the ZMI reachable on the production domain?

Sections "Lock down access to your Management components", "Access control",
"Use caution when using SSH tunnels to access Management Interface" and
"Provide a dedicated manage domain". The guard itself is in
:mod:`collective.securitybp.zmi.guard`.
"""

from App.config import getConfiguration
from collective.securitybp import _
from collective.securitybp import references
from collective.securitybp.checks.base import Check
from collective.securitybp.model import Area
from collective.securitybp.model import Severity
from collective.securitybp.zmi import evidence
from collective.securitybp.zmi.config import ENV_VARIABLE
from collective.securitybp.zmi.config import guard_switched_off
from collective.securitybp.zmi.config import MODE_BLOCK
from collective.securitybp.zmi.guard import site_config
from collective.securitybp.zmi.guard import WEBDAV_METHODS
import os


MAX_HOSTS = 10  # findings of SBP-ZMI-001, one per host, most requests first
MAX_EXAMPLES = 3  # requests quoted in each finding
RULES_VIEW = "@@securitybp-proxy-rules"


def _site_path(site):
    return "/".join(site.getPhysicalPath())


def _request_line(item):
    user = item.user or "-"
    when = item.when.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{when} {item.client_ip} {user} {item.method} {item.path}"


class ZMIAnsweredOnPublicHost(Check):
    """The ZMI answered requests on a host that is not a manage host.

    The guard records every request for the management interface, its
    resources, WebDAV and XML-RPC that arrives for a host not in the manage
    host list (the host of the proxy's VirtualHostBase URL, else the Host
    header), with time, client address (proxy-aware), user and path. This
    check reports the ones that were answered rather than blocked (report
    mode, or blocking switched off), one finding per host, with the latest
    requests as evidence.

    The evidence is kept in memory by the Zope process that serves the
    report: a restart forgets it, each process of a cluster has its own, and
    the command line (a process of its own) never sees any.

    Example finding: "Management interface answered on a public host" —
    www.example.com (high).
    """

    id = "SBP-ZMI-001"
    title = _("Management interface answered on a public host")
    area = Area.MANAGEMENT
    severity = Severity.HIGH
    reference = references.ACCESS_CONTROL

    def run(self, context):
        by_host = {}
        for item in evidence.recent(site=_site_path(context.site)):
            if not item.blocked:
                by_host.setdefault(item.host, []).append(item)
        hosts = sorted(by_host, key=lambda host: (-len(by_host[host]), host))
        findings = []
        for host in hosts[:MAX_HOSTS]:
            items = by_host[host]
            findings.append(
                self.finding(
                    subject=host,
                    detail=_(
                        "${count} request(s) for the management interface, "
                        "WebDAV or XML-RPC arrived for the host '${host}', "
                        "which is not a manage host, and were answered. "
                        "Latest (time, client, user, request): ${examples}.",
                        mapping={
                            "count": len(items),
                            "host": host,
                            "examples": "; ".join(
                                _request_line(item) for item in items[:MAX_EXAMPLES]
                            ),
                        },
                    ),
                    remediation=_(
                        "If '${host}' is the host you use for the management "
                        "interface, add it to the manage hosts in the "
                        "control panel. Otherwise the management interface "
                        "is reachable on your public domain: list your "
                        "manage host, switch the guard to block mode, and "
                        "add the rules of ${view} to the web server of "
                        "'${host}'.",
                        mapping={"host": host, "view": RULES_VIEW},
                    ),
                )
            )
        return findings


class NoManageHost(Check):
    """Report mode with no manage host: the ZMI is probably public.

    With no manage host configured, nothing tells the management interface
    of the production domain from a dedicated one, and nothing blocks it:
    it is then most likely reachable wherever the site is, unless the web
    server refuses it (which the add-on cannot see from inside). WebDAV and
    XML-RPC are in the same case; SBP-ZMI-003 leaves them to this finding.

    Example finding: "No manage host for the management interface" (medium).
    """

    id = "SBP-ZMI-002"
    title = _("No manage host for the management interface")
    area = Area.MANAGEMENT
    severity = Severity.MEDIUM
    reference = references.MANAGE_DOMAIN

    def run(self, context):
        config = site_config(context.site)
        if config is None or config.blocks or config.manage_hosts:
            return []
        return [
            self.finding(
                detail=_(
                    "The management interface guard is in report mode and "
                    "no manage host is set, so the management interface "
                    "(ZMI), WebDAV and XML-RPC probably answer on the "
                    "production domain, where anybody can find the ZMI's "
                    "login."
                ),
                remediation=_(
                    "Serve the management interface on a dedicated host "
                    "(for example manage.example.com, with TLS and only "
                    "for your network) or reach it through an SSH tunnel "
                    "(localhost). Enter that host under Manage hosts in "
                    "the control panel, check that it works, then switch "
                    "the guard to block mode. ${view} has the web server "
                    "rules.",
                    mapping={"view": RULES_VIEW},
                ),
            )
        ]


class WebDAVXMLRPCReachable(Check):
    """WebDAV or XML-RPC is answered on public hosts.

    Zope answers the WebDAV methods (PROPFIND, PROPPATCH, MKCOL, LOCK,
    UNLOCK, COPY, MOVE) on every object, and XML-RPC when ``enable-xmlrpc``
    is on in ``zope.conf``. Both are management protocols that bypass the
    Plone user interface. Unless the guard blocks them (block mode, not
    switched off), they answer on every host. One finding per protocol;
    the check cannot see rules of the web server that may refuse them. It
    stays quiet while SBP-ZMI-002 (no manage host) fires: same cause, same
    remedy, one finding.

    Example finding: "WebDAV or XML-RPC reachable on public hosts" —
    webdav (medium).
    """

    id = "SBP-ZMI-003"
    title = _("WebDAV or XML-RPC reachable on public hosts")
    area = Area.MANAGEMENT
    severity = Severity.MEDIUM
    reference = references.LOCK_DOWN

    def run(self, context):
        config = site_config(context.site)
        if config is None or (config.blocks and not guard_switched_off()):
            return []
        if not config.blocks and not config.manage_hosts:
            return []  # SBP-ZMI-002 reports it
        findings = [
            self.finding(
                subject="webdav",
                detail=_(
                    "Zope answers the WebDAV methods (${methods}) and the "
                    "guard does not block them, so they are reachable on "
                    "every host that reaches Zope, including the public "
                    "one.",
                    mapping={"methods": ", ".join(sorted(WEBDAV_METHODS))},
                ),
                remediation=_(
                    "Set manage hosts and switch the management interface "
                    "guard to block mode, or refuse WebDAV in the web server "
                    "(the rules of ${view} do).",
                    mapping={"view": RULES_VIEW},
                ),
            )
        ]
        if getattr(getConfiguration(), "enable_xmlrpc", False):
            findings.append(
                self.finding(
                    subject="xmlrpc",
                    detail=_(
                        "XML-RPC is enabled (enable-xmlrpc on in zope.conf) "
                        "and the guard does not block it, so it is reachable "
                        "on every host that reaches Zope, including the "
                        "public one."
                    ),
                    remediation=_(
                        "Set enable-xmlrpc off in zope.conf unless something "
                        "needs XML-RPC. Otherwise set manage hosts and "
                        "switch the guard to block mode, or refuse it in the "
                        "web server (the rules of ${view} do).",
                        mapping={"view": RULES_VIEW},
                    ),
                )
            )
        return findings


class GuardSwitchedOff(Check):
    """Block mode is set, but the environment switches blocking off.

    ``SECURITYBP_ZMI_GUARD=off`` in the environment of the Zope process is
    the escape hatch for someone who locked themselves out: it wins over the
    settings. Left in place, it silently undoes block mode. The check reads
    the environment of the process that runs the audit (the Zope process for
    the report; the command line's own for ``securitybp audit``).

    Example finding: "Management interface guard switched off" (medium).
    """

    id = "SBP-ZMI-004"
    title = _("Management interface guard switched off")
    area = Area.MANAGEMENT
    severity = Severity.MEDIUM
    reference = references.ACCESS_CONTROL

    def run(self, context):
        config = site_config(context.site)
        if config is None or config.mode != MODE_BLOCK or not guard_switched_off():
            return []
        return [
            self.finding(
                detail=_(
                    "The guard is set to block mode, but the environment "
                    "variable ${name}=${value} of this Zope process "
                    "switches blocking off: the management interface "
                    "answers on every host.",
                    mapping={
                        "name": ENV_VARIABLE,
                        "value": os.environ.get(ENV_VARIABLE, ""),
                    },
                ),
                remediation=_(
                    "Once the manage hosts are right, remove ${name} from "
                    "the environment of the Zope process (its systemd unit, "
                    "container settings or start script) and restart it.",
                    mapping={"name": ENV_VARIABLE},
                ),
            )
        ]
