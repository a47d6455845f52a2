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
from collective.securitybp.checks.configuration import inspected
from collective.securitybp.checks.process import environment_for
from collective.securitybp.checks.process import layout_for
from collective.securitybp.model import Area
from collective.securitybp.model import Severity
from collective.securitybp.zmi import evidence
from collective.securitybp.zmi.config import ENV_VARIABLE
from collective.securitybp.zmi.config import guard_switched_off
from collective.securitybp.zmi.config import MODE_BLOCK
from collective.securitybp.zmi.guard import DAV_METHODS
from collective.securitybp.zmi.guard import site_config
from collective.securitybp.zmi.sockets import is_loopback
from collective.securitybp.zmi.sockets import listening_addresses


MAX_HOSTS = 10  # findings of SBP-ZMI-001, one per host, most requests first
MAX_EXAMPLES = 3  # requests quoted in each finding
RULES_VIEW = "@@securitybp-proxy-rules"


def _site_path(site):
    return "/".join(site.getPhysicalPath())


def _switched_off(context):
    """Whether ``SECURITYBP_ZMI_GUARD`` switches blocking off in the
    process serving the site (for the command line: the running instance's
    environment, see SBP-CONF-017 when it cannot be read)."""
    return guard_switched_off(environment_for(context))


def _time(value):
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def _examples(entries):
    lines = []
    for entry in entries:
        for method, path in entry.paths:
            line = f"{method} {path}"
            if line not in lines:
                lines.append(line)
    return "; ".join(lines[:MAX_EXAMPLES])


def _clients(entries):
    clients = []
    for entry in entries:
        clients.extend(c for c, _n in entry.clients if c not in clients)
    return ", ".join(clients[:MAX_EXAMPLES])


class ZMIAnsweredOnPublicHost(Check):
    """The management interface answered on a host that is not a manage host.

    The guard records every management request (the ZMI, methods protected
    by management permissions, WebDAV, XML-RPC, however spelled) for a host
    that is not a manage host, or that a peer named which may not be
    believed. This check reports the ones that were answered rather than
    blocked (report mode, or blocking switched off):

    - high, one finding per host: the management interface was served to a
      logged-in user there. Only valid credentials add such evidence, so it
      cannot be forged;
    - medium, one finding for all the rest: anonymous requests (and
      requests whose credentials failed) were answered there, with a login
      prompt. Anybody can cause these, so they are counted together, never
      one finding per host a client made up.

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
    cases = {"anonymous": Severity.MEDIUM}
    reference = references.ACCESS_CONTROL

    def run(self, context):
        answered = [
            e for e in evidence.recent(site=_site_path(context.site)) if not e.blocked
        ]
        config = site_config(context.site)
        # Answered in block mode: the environment variable switched it off.
        cause = (
            ("SBP-ZMI-004", "")
            if config is not None and config.blocks and _switched_off(context)
            else None
        )
        served = {}
        for entry in answered:
            if entry.access == evidence.SERVED:
                served.setdefault(entry.host, []).append(entry)
        hosts = sorted(served, key=lambda h: (-sum(e.count for e in served[h]), h))
        findings = [
            self._served(host, served[host], cause) for host in hosts[:MAX_HOSTS]
        ]
        others = [e for e in answered if e.access != evidence.SERVED]
        if others:
            findings.append(self._attempts(others, cause))
        return findings

    def _served(self, host, entries, cause):
        users = []
        for entry in entries:
            users.extend(u for u in entry.users if u not in users)
        return self.finding(
            subject=host,
            cause=cause,
            detail=_(
                "The management interface was served ${count} time(s) to "
                "logged-in users (${users}) on the host '${host}', which is "
                "not a manage host, between ${first} and ${last}, to the "
                "clients ${clients}. Latest requests: ${examples}.",
                mapping={
                    "count": sum(e.count for e in entries),
                    "users": ", ".join(users[:MAX_EXAMPLES]),
                    "host": host,
                    "first": _time(min(e.first_seen for e in entries)),
                    "last": _time(max(e.last_seen for e in entries)),
                    "clients": _clients(entries),
                    "examples": _examples(entries),
                },
            ),
            remediation=_(
                "If '${host}' is the host you use for the management "
                "interface, add it to the manage hosts in the control panel "
                "(and the address of your proxy to the trusted proxies). "
                "Otherwise the management interface is in use on your "
                "public domain: list your manage host, switch the guard to "
                "block mode, and add the rules of ${view} to the web server "
                "of '${host}'.",
                mapping={"host": host, "view": RULES_VIEW},
            ),
        )

    def _attempts(self, entries, cause):
        hosts = sorted({e.host for e in entries})
        return self.finding(
            subject="*",
            case="anonymous",
            cause=cause,
            detail=_(
                "${count} management request(s) without a valid login were "
                "answered (with a login prompt) on ${hosts} host(s) that are "
                "not manage hosts, such as ${examples_hosts}, from clients "
                "such as ${clients}: the management interface's login is "
                "public. Latest requests: ${examples}.",
                mapping={
                    "count": sum(e.count for e in entries),
                    "hosts": len(hosts),
                    "examples_hosts": ", ".join(hosts[:MAX_EXAMPLES]),
                    "clients": _clients(entries),
                    "examples": _examples(entries),
                },
            ),
            remediation=_(
                "Once the manage hosts are right, switch the management "
                "interface guard to block mode: these requests then get the "
                "site's not-found page. ${view} has the web server rules.",
                mapping={"view": RULES_VIEW},
            ),
        )


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
    UNLOCK, COPY, MOVE, and PUT and DELETE outside plone.rest) on every
    object, and XML-RPC when ``enable-xmlrpc`` is on in ``zope.conf``. Both
    are management protocols that bypass the Plone user interface. Unless
    the guard blocks them (block mode, not switched off), they answer on
    every host. One finding per protocol; the check cannot see rules of the
    web server that may refuse them. With no manage host the findings follow
    from SBP-ZMI-002, and with blocking switched off from SBP-ZMI-004: they
    are shown under that cause and count with it.

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
        switched_off = _switched_off(context)
        if config is None or (config.blocks and not switched_off):
            return []
        if not config.blocks and not config.manage_hosts:
            cause = ("SBP-ZMI-002", "")
        elif config.blocks:
            cause = ("SBP-ZMI-004", "")
        else:
            cause = None
        findings = [
            self.finding(
                subject="webdav",
                cause=cause,
                detail=_(
                    "Zope answers the WebDAV methods (${methods}) and the "
                    "guard does not block them, so they are reachable on "
                    "every host that reaches Zope, including the public "
                    "one.",
                    mapping={"methods": ", ".join(sorted(DAV_METHODS))},
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
                    cause=cause,
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
    the environment of the process that serves the site: for ``securitybp
    audit`` the running instance's, from ``/proc/<pid>/environ`` with
    zope.conf's ``<environment>`` on top (SBP-CONF-017 says when it cannot
    be read); the finding names the process.

    Example finding: "Management interface guard switched off" (medium).
    """

    id = "SBP-ZMI-004"
    title = _("Management interface guard switched off")
    area = Area.MANAGEMENT
    severity = Severity.MEDIUM
    reference = references.ACCESS_CONTROL

    def run(self, context):
        config = site_config(context.site)
        if config is None or config.mode != MODE_BLOCK or not _switched_off(context):
            return []
        environment = environment_for(context)
        return [
            self.finding(
                detail=_(
                    "The guard is set to block mode, but the environment "
                    "variable ${name}=${value} of the Zope process "
                    "switches blocking off: the management interface "
                    "answers on every host. Inspected: ${process}.",
                    mapping={
                        "name": ENV_VARIABLE,
                        "value": environment.get(ENV_VARIABLE, ""),
                        "process": inspected(environment),
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


class ZopeListensPublicly(Check):
    """Zope listens on an address other than loopback.

    The document's "Access control": the Zope port should be reachable only
    by the front web server, so that every request passes its rules and
    TLS. A Zope process that listens on a public or private network address
    (``0.0.0.0``, ``::`` or a network card's address) can be reached
    directly, around the proxy. The guard then believes a manage host only
    from the trusted proxies and the admin networks, but the proxy's other
    rules, its TLS and its logs are bypassed. The check reads the listening
    TCP sockets of the process serving the site from ``/proc`` (the running
    instance, for the command line); it stays quiet when they cannot be
    read.

    Example finding: "Zope listens on a non-loopback address" — 0.0.0.0:8080
    (medium).
    """

    id = "SBP-ZMI-005"
    title = _("Zope listens on a non-loopback address")
    area = Area.MANAGEMENT
    severity = Severity.MEDIUM
    reference = references.ACCESS_CONTROL

    def run(self, context):
        process = layout_for(context).process
        if process is None:
            return []
        addresses = listening_addresses(process.pid)
        findings = []
        for address, port in addresses or ():
            if is_loopback(address):
                continue
            shown = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
            findings.append(
                self.finding(
                    subject=shown,
                    detail=_(
                        "Process ${pid} listens on ${address}, which other "
                        "machines can reach: clients can talk to Zope "
                        "directly, around the front web server and its "
                        "rules.",
                        mapping={"pid": process.pid, "address": shown},
                    ),
                    remediation=_(
                        "Make Zope listen on the loopback address only: in "
                        "zope.ini (or wsgi.ini), section [server:main], set "
                        "listen = 127.0.0.1:${port} (buildout: http-address "
                        "= 127.0.0.1:${port}), restart, and let the web "
                        "server proxy to it. In a container, publish the "
                        "port only to the proxy's network.",
                        mapping={"port": port},
                    ),
                )
            )
        return findings


class NoAdminNetworks(Check):
    """The manage hosts answer any client.

    With manage hosts set, the management interface answers there to
    whoever reaches them. The document's dedicated manage domain is also
    restricted to the administrators' network. The admin networks setting
    limits the manage hosts to those clients (and lets the guard believe a
    manage host named by a client there even without a trusted proxy). The
    check fires in block mode, when the guard relies on the manage hosts;
    the web server may restrict them too, which the add-on cannot see.

    Example finding: "Manage hosts open to any client" (low).
    """

    id = "SBP-ZMI-006"
    title = _("Manage hosts open to any client")
    area = Area.MANAGEMENT
    severity = Severity.LOW
    reference = references.MANAGE_DOMAIN

    def run(self, context):
        config = site_config(context.site)
        if config is None or not config.blocks or config.admin_networks:
            return []
        return [
            self.finding(
                subject=", ".join(sorted(config.manage_hosts)),
                detail=_(
                    "The management interface answers on the manage hosts "
                    "(${hosts}) to any client that reaches them; only the "
                    "login stands between the internet and the ZMI there.",
                    mapping={"hosts": ", ".join(sorted(config.manage_hosts))},
                ),
                remediation=_(
                    "Enter your administrators' addresses or networks under "
                    "Admin networks in the control panel (for example your "
                    "office or VPN network, or 127.0.0.1 for an SSH "
                    "tunnel), or restrict the manage host in the web server "
                    "(the manage host rules of ${view} do).",
                    mapping={"view": RULES_VIEW},
                ),
            )
        ]
