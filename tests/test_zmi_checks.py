"""The management exposure checks (SBP-ZMI-*), each firing and quiet, and
the settings they read."""

from App.config import getConfiguration
from collective.securitybp.audit import AuditContext
from collective.securitybp.checks.management import GuardSwitchedOff
from collective.securitybp.checks.management import NoAdminNetworks
from collective.securitybp.checks.management import NoManageHost
from collective.securitybp.checks.management import WebDAVXMLRPCReachable
from collective.securitybp.checks.management import ZMIAnsweredOnPublicHost
from collective.securitybp.checks.management import ZopeListensPublicly
from collective.securitybp.model import finding_key
from collective.securitybp.settings import clear_cache
from collective.securitybp.settings import STAMP_KEY
from collective.securitybp.zmi import evidence
from collective.securitybp.zmi import guard
from collective.securitybp.zmi import sockets
from collective.securitybp.zmi.config import combine
from collective.securitybp.zmi.config import GuardConfig
from datetime import datetime
from datetime import timezone
from plone import api
from zope.annotation.interfaces import IAnnotations
import ipaddress
import os
import pytest
import socket


WHEN = datetime(2030, 5, 6, 7, 8, 9, tzinfo=timezone.utc)


@pytest.fixture
def site(portal):
    clear_cache()
    evidence.clear()
    yield portal
    evidence.clear()
    clear_cache()


def run(check, portal):
    context = AuditContext(
        site=portal, root=portal.getPhysicalRoot(), now=datetime.now(timezone.utc)
    )
    return [f.to_dict() for f in check.run(context)]


def set_guard(mode="report", hosts=()):
    api.portal.set_registry_record(
        "collective.securitybp.zmi_manage_hosts", list(hosts)
    )
    api.portal.set_registry_record("collective.securitybp.zmi_mode", mode)


def seen(host="www.example.com", blocked=False, site="/plone", **fields):
    values = {
        "when": WHEN,
        "host": host,
        "client_ip": "203.0.113.7",
        "method": "GET",
        "path": "/VirtualHostBase/https/www.example.com:443/plone/"
        "VirtualHostRoot/manage_main",
        "kind": "zmi",
        "site": site,
        "blocked": blocked,
        "access": evidence.SERVED,
        "user": "admin",
    }
    values.update(fields)
    return evidence.record(**values)


def context_of(portal):
    return AuditContext(
        site=portal, root=portal.getPhysicalRoot(), now=datetime.now(timezone.utc)
    )


def brief(findings):
    return [(f["check_id"], f["severity"], f["subject"]) for f in findings]


def test_install_leaves_the_stamp_that_marks_the_site(site):
    # The guard finds the sites that have the add-on by this stamp.
    assert STAMP_KEY in IAnnotations(site)
    assert guard.installed_sites(site.getPhysicalRoot()) == [site]


def test_uninstall_leaves_the_guard_inert(site, installer):
    from plone.app.testing import setRoles
    from plone.app.testing import TEST_USER_ID

    set_guard(mode="block", hosts=["manage.example.com"])
    setRoles(site, TEST_USER_ID, ["Manager"])
    installer.uninstall_product("collective.securitybp")
    app = site.getPhysicalRoot()
    assert guard.site_config(site) is None
    assert guard.installed_sites(app) == []
    assert guard.root_config(app) is None


class TestZMIAnsweredOnPublicHost:
    check = ZMIAnsweredOnPublicHost()

    def test_served_to_a_user_is_high_per_host(self, site):
        seen(blocked=True, access=evidence.ANONYMOUS, user="")  # blocked
        seen()
        seen(user="editor", method="HEAD", path="/manage", site="")
        [finding] = run(self.check, site)
        assert brief([finding]) == [("SBP-ZMI-001", "high", "www.example.com")]
        assert "admin, editor" in finding["detail"]
        assert "HEAD /manage" in finding["detail"]

    def test_anonymous_answers_are_one_medium_finding(self, site):
        for number in range(5):
            seen(host=f"made-up-{number}.example", access=evidence.ANONYMOUS, user="")
        [finding] = run(self.check, site)
        assert brief([finding]) == [("SBP-ZMI-001", "medium", "*")]
        assert "5 management request(s)" in finding["detail"]

    def test_unchecked_credentials_count_as_attempts(self, site):
        seen(access=evidence.CREDENTIALS, user="")
        assert brief(run(self.check, site)) == [("SBP-ZMI-001", "medium", "*")]

    def test_one_finding_per_host_most_requests_first(self, site):
        seen(host="a.example.com")
        seen(host="b.example.com")
        seen(host="b.example.com")
        assert [f["subject"] for f in run(self.check, site)] == [
            "b.example.com",
            "a.example.com",
        ]

    def test_at_most_ten_hosts(self, site):
        for number in range(12):
            seen(host=f"h{number:02}.example.com")
        assert len(run(self.check, site)) == 10

    def test_quiet_without_evidence(self, site):
        assert run(self.check, site) == []

    def test_quiet_when_every_request_was_blocked(self, site):
        seen(blocked=True, access=evidence.CREDENTIALS, user="")
        seen(blocked=True, access=evidence.ANONYMOUS, user="")
        assert run(self.check, site) == []

    def test_quiet_for_requests_of_another_site(self, site):
        seen(site="/other")
        assert run(self.check, site) == []


class TestEvidenceBounds:
    def test_fields_are_cut(self, site):
        entry = seen(path="/manage_main/" + "x" * 500, host="h" * 500)
        assert len(entry.path) <= evidence.MAX_FIELD
        assert len(entry.host) <= evidence.MAX_FIELD

    def test_requests_are_counted_not_stored(self, site):
        for _number in range(1000):
            seen(access=evidence.ANONYMOUS, user="", blocked=True)
        [entry] = evidence.recent()
        assert entry.count == 1000
        assert evidence.sizes() == (0, 1, 1)

    def test_one_client_cannot_flood_out_other_evidence(self, site):
        seen()  # served to admin
        seen(host="probe.example", client_ip="198.51.100.1", access="anonymous")
        for number in range(2000):
            seen(host=f"h{number}.example", access="anonymous", blocked=True)
        served, attempts, clients = evidence.sizes()
        assert (served, clients) == (1, 2)
        assert attempts == evidence.MAX_KEYS_PER_CLIENT + 2  # + folded + probe
        hosts = {e.host for e in evidence.recent()}
        assert {"www.example.com", "probe.example", evidence.OTHER_HOSTS} <= hosts
        [folded] = [e for e in evidence.recent() if e.host == evidence.OTHER_HOSTS]
        assert folded.count == 2000 - evidence.MAX_KEYS_PER_CLIENT

    def test_many_clients_stay_bounded(self, site):
        for number in range(5000):
            seen(
                host=f"h{number}.example",
                client_ip=f"2001:db8:{number:x}::1",
                access="anonymous",
            )
        served, attempts, clients = evidence.sizes()
        assert attempts == evidence.MAX_ATTEMPTS
        assert clients <= evidence.MAX_ATTEMPTS

    def test_an_ipv6_network_counts_as_one_client(self, site):
        for number in range(50):
            seen(
                host=f"h{number}.example",
                client_ip=f"2001:db8::{number:x}",
                access="anonymous",
            )
        assert evidence.sizes()[1:] == (evidence.MAX_KEYS_PER_CLIENT + 1, 1)
        assert evidence.client_network("2001:db8::7") == "2001:db8::/64"

    def test_clients_and_paths_per_entry_are_bounded(self, site):
        for number in range(100):
            seen(client_ip=f"192.0.2.{number}", path=f"/manage_main/{number}")
        [entry] = evidence.recent()
        assert len(entry.clients) == evidence.MAX_CLIENTS
        assert len(entry.paths) == evidence.MAX_PATHS
        assert entry.client_ip == "192.0.2.99"


NO_MANAGE_HOST = {
    "check_id": "SBP-ZMI-002",
    "area": "management",
    "area_title": "Management exposure",
    "severity": "medium",
    "title": "No manage host for the management interface",
    "detail": (
        "The management interface guard is in report mode and no manage host "
        "is set, so the management interface (ZMI), WebDAV and XML-RPC "
        "probably answer on the production domain, where anybody can find "
        "the ZMI's login."
    ),
    "remediation": (
        "Serve the management interface on a dedicated host (for example "
        "manage.example.com, with TLS and only for your network) or reach it "
        "through an SSH tunnel (localhost). Enter that host under Manage "
        "hosts in the control panel, check that it works, then switch the "
        "guard to block mode. @@securitybp-proxy-rules has the web server "
        "rules."
    ),
    "reference": "Provide a dedicated manage domain",
    "subject": "",
}


class TestNoManageHost:
    check = NoManageHost()

    def test_fires_on_a_fresh_site(self, site):
        assert run(self.check, site) == [NO_MANAGE_HOST]

    def test_quiet_with_a_manage_host(self, site):
        set_guard(hosts=["manage.example.com"])
        assert run(self.check, site) == []

    def test_quiet_in_block_mode(self, site):
        set_guard(mode="block", hosts=["manage.example.com"])
        assert run(self.check, site) == []


WEBDAV = {
    "check_id": "SBP-ZMI-003",
    "area": "management",
    "area_title": "Management exposure",
    "severity": "medium",
    "title": "WebDAV or XML-RPC reachable on public hosts",
    "detail": (
        "Zope answers the WebDAV methods (COPY, DELETE, LOCK, MKCOL, MOVE, "
        "PROPFIND, PROPPATCH, PUT, UNLOCK) and the guard does not block them, so they are "
        "reachable on every host that reaches Zope, including the public one."
    ),
    "remediation": (
        "Set manage hosts and switch the management interface guard to block "
        "mode, or refuse WebDAV in the web server (the rules of "
        "@@securitybp-proxy-rules do)."
    ),
    "reference": "Lock down access to your Management components",
    "subject": "webdav",
}
XMLRPC = dict(
    WEBDAV,
    subject="xmlrpc",
    detail=(
        "XML-RPC is enabled (enable-xmlrpc on in zope.conf) and the guard "
        "does not block it, so it is reachable on every host that reaches "
        "Zope, including the public one."
    ),
    remediation=(
        "Set enable-xmlrpc off in zope.conf unless something needs XML-RPC. "
        "Otherwise set manage hosts and switch the guard to block mode, or "
        "refuse it in the web server (the rules of @@securitybp-proxy-rules "
        "do)."
    ),
)


@pytest.fixture(params=[True, False], ids=["xmlrpc-on", "xmlrpc-off"])
def xmlrpc(request, monkeypatch):
    monkeypatch.setattr(
        getConfiguration(), "enable_xmlrpc", request.param, raising=False
    )
    return request.param


class TestWebDAVXMLRPCReachable:
    check = WebDAVXMLRPCReachable()

    def test_fires_in_report_mode(self, site, xmlrpc):
        set_guard(hosts=["manage.example.com"])
        expected = [WEBDAV, XMLRPC] if xmlrpc else [WEBDAV]
        assert run(self.check, site) == expected

    def test_fires_when_blocking_is_switched_off(self, site, xmlrpc, monkeypatch):
        set_guard(mode="block", hosts=["manage.example.com"])
        monkeypatch.setenv("SECURITYBP_ZMI_GUARD", "off")
        assert [f["subject"] for f in run(self.check, site)] == (
            ["webdav", "xmlrpc"] if xmlrpc else ["webdav"]
        )

    def test_quiet_in_block_mode(self, site, xmlrpc):
        set_guard(mode="block", hosts=["manage.example.com"])
        assert run(self.check, site) == []

    def test_follows_from_no_manage_host_on_a_fresh_site(self, site, xmlrpc):
        findings = self.check.run(context_of(site))
        assert [(f.check_id, f.subject) for f in findings] == (
            [("SBP-ZMI-003", "webdav"), ("SBP-ZMI-003", "xmlrpc")]
            if xmlrpc
            else [("SBP-ZMI-003", "webdav")]
        )
        assert {f.cause for f in findings} == {finding_key("SBP-ZMI-002", "")}
        assert run(NoManageHost(), site) == [NO_MANAGE_HOST]

    def test_follows_from_the_switch_in_block_mode(self, site, xmlrpc, monkeypatch):
        set_guard(mode="block", hosts=["manage.example.com"])
        monkeypatch.setenv("SECURITYBP_ZMI_GUARD", "off")
        findings = self.check.run(context_of(site))
        assert {f.cause for f in findings} == {finding_key("SBP-ZMI-004", "")}


class TestGuardSwitchedOff:
    check = GuardSwitchedOff()

    def test_fires_in_block_mode_with_the_variable(self, site, monkeypatch):
        set_guard(mode="block", hosts=["manage.example.com"])
        monkeypatch.setenv("SECURITYBP_ZMI_GUARD", "off")
        [finding] = run(self.check, site)
        assert brief([finding]) == [("SBP-ZMI-004", "medium", "")]
        assert "SECURITYBP_ZMI_GUARD=off" in finding["detail"]
        assert f"process {os.getpid()}" in finding["detail"]

    def test_reads_the_serving_process_not_its_own(self, site, monkeypatch):
        """From the command line: the variable in the running instance's
        environment counts, the command's own does not."""
        from collective.securitybp.processinfo import set_inspected_process
        import subprocess

        set_guard(mode="block", hosts=["manage.example.com"])
        monkeypatch.delenv("SECURITYBP_ZMI_GUARD", raising=False)
        server = subprocess.Popen(
            ["sleep", "60"],
            env={"SECURITYBP_ZMI_GUARD": "off", "PATH": "/usr/bin:/bin"},
        )
        try:
            for _ in range(100):  # until the child runs its program
                with open(f"/proc/{server.pid}/environ", "rb") as environ:
                    if b"SECURITYBP_ZMI_GUARD" in environ.read():
                        break
            set_inspected_process(server.pid)
            [finding] = run(self.check, site)
            assert f"process {server.pid}" in finding["detail"]
            set_inspected_process(os.getpid())
            assert run(self.check, site) == []
        finally:
            set_inspected_process(None)
            server.kill()
            server.wait()

    def test_quiet_in_block_mode_without_the_variable(self, site, monkeypatch):
        set_guard(mode="block", hosts=["manage.example.com"])
        monkeypatch.delenv("SECURITYBP_ZMI_GUARD", raising=False)
        assert run(self.check, site) == []

    def test_quiet_in_report_mode(self, site, monkeypatch):
        monkeypatch.setenv("SECURITYBP_ZMI_GUARD", "off")
        assert run(self.check, site) == []


def network(value):
    return ipaddress.ip_network(value)


class TestRootSettings:
    """How the settings of several sites guard the Zope root."""

    def test_one_blocking_site_blocks_the_root_with_its_hosts(self):
        report = GuardConfig("/a", "report", frozenset({"a.example.com"}))
        block = GuardConfig(
            "/b", "block", frozenset({"manage.example.com"}), (network("10.0.0.0/8"),)
        )
        root = combine([report, block, None])
        assert root == GuardConfig(
            "",
            "block",
            frozenset({"manage.example.com"}),
            (network("10.0.0.0/8"),),
            404,
        )

    def test_without_a_blocking_site_every_host_counts(self):
        a = GuardConfig("/a", "report", frozenset({"a.example.com"}))
        b = GuardConfig("/b", "report", frozenset({"b.example.com"}))
        root = combine([a, b])
        assert (root.mode, root.manage_hosts) == (
            "report",
            frozenset({"a.example.com", "b.example.com"}),
        )

    def test_403_only_when_every_blocking_site_says_403(self):
        a = GuardConfig("/a", "block", frozenset({"m"}), status=403)
        b = GuardConfig("/b", "block", frozenset({"m"}), status=404)
        assert combine([a, b]).status == 404
        assert combine([a]).status == 403

    def test_no_site_no_guard(self):
        assert combine([None]) is None

    def test_root_config_comes_from_the_installed_site(self, site):
        set_guard(mode="block", hosts=["manage.example.com"])
        root = guard.root_config(site.getPhysicalRoot())
        assert (root.site, root.mode, root.manage_hosts) == (
            "",
            "block",
            frozenset({"manage.example.com"}),
        )


class TestClientIP:
    config = GuardConfig(
        "/plone",
        trusted_proxies=(network("127.0.0.1/32"), network("10.0.0.0/8")),
    )

    @pytest.mark.parametrize(
        "remote,header,expected",
        [
            ("127.0.0.1", None, "127.0.0.1"),
            ("127.0.0.1", "203.0.113.7", "203.0.113.7"),
            ("127.0.0.1", "1.2.3.4, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
            ("127.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.3"),
            ("198.51.100.1", "203.0.113.7", "198.51.100.1"),
            ("127.0.0.1", "2001:db8::1", "2001:db8::1"),
            ("127.0.0.1", "garbage", "127.0.0.1"),
        ],
    )
    def test_client_ip(self, remote, header, expected):
        assert self.config.client_ip(remote, header) == expected


@pytest.fixture
def listening():
    """Real listening sockets of this process (the one serving the site)."""
    opened = []

    def listen(family, address):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.bind((address, 0))
        sock.listen(1)
        opened.append(sock)
        return sock.getsockname()[1]

    yield listen
    for sock in opened:
        sock.close()


class TestZopeListensPublicly:
    check = ZopeListensPublicly()

    def test_fires_for_every_address(self, site, listening):
        port = listening(socket.AF_INET, "0.0.0.0")  # noqa: S104 - closed at once
        findings = run(self.check, site)
        assert ("SBP-ZMI-005", "medium", f"0.0.0.0:{port}") in brief(findings)
        assert f"listen = 127.0.0.1:{port}" in findings[0]["remediation"]

    def test_fires_for_ipv6_any(self, site, listening):
        if not socket.has_ipv6:
            pytest.skip("no IPv6 on this machine")
        try:
            port = listening(socket.AF_INET6, "::")
        except OSError:
            pytest.skip("no IPv6 on this machine")
        assert ("SBP-ZMI-005", "medium", f"[::]:{port}") in brief(run(self.check, site))

    def test_quiet_on_loopback(self, site, listening):
        port = listening(socket.AF_INET, "127.0.0.1")
        assert (os.getpid() and ("127.0.0.1", port)) in sockets.listening_addresses(
            os.getpid()
        )
        assert run(self.check, site) == []

    def test_quiet_when_the_process_cannot_be_read(self, site):
        assert sockets.listening_addresses(2**22 + 12345) is None

    @pytest.mark.parametrize(
        "address,loopback",
        [
            ("127.0.0.1", True),
            ("127.8.9.1", True),
            ("::1", True),
            ("::ffff:127.0.0.1", True),
            ("0.0.0.0", False),  # noqa: S104
            ("::", False),
            ("192.0.2.1", False),
            ("garbage", False),
        ],
    )
    def test_loopback(self, address, loopback):
        assert sockets.is_loopback(address) is loopback


class TestNoAdminNetworks:
    check = NoAdminNetworks()

    def test_fires_in_block_mode_without_networks(self, site):
        set_guard(mode="block", hosts=["manage.example.com"])
        assert brief(run(self.check, site)) == [
            ("SBP-ZMI-006", "low", "manage.example.com")
        ]

    def test_quiet_with_networks(self, site):
        api.portal.set_registry_record(
            "collective.securitybp.zmi_admin_networks", ["192.0.2.0/24"]
        )
        set_guard(mode="block", hosts=["manage.example.com"])
        assert run(self.check, site) == []

    def test_quiet_in_report_mode(self, site):
        set_guard(hosts=["manage.example.com"])
        assert run(self.check, site) == []


class TestAllows:
    """Whom a manage host is believed from."""

    config = GuardConfig(
        "/plone",
        "block",
        frozenset({"manage.example.com"}),
        trusted_proxies=(network("127.0.0.0/8"),),
    )

    @pytest.mark.parametrize(
        "host,peer,client,admin,allowed",
        [
            # A trusted proxy names the manage host: believed.
            ("manage.example.com", "127.0.0.1", "203.0.113.7", (), True),
            # Any other peer naming it: not believed.
            ("manage.example.com", "203.0.113.7", "203.0.113.7", (), False),
            ("www.example.com", "127.0.0.1", "127.0.0.1", (), False),
            # Admin networks: only their clients, through a proxy or not.
            (
                "manage.example.com",
                "127.0.0.1",
                "203.0.113.7",
                ("192.0.2.0/24",),
                False,
            ),
            ("manage.example.com", "127.0.0.1", "192.0.2.9", ("192.0.2.0/24",), True),
            ("manage.example.com", "192.0.2.9", "192.0.2.9", ("192.0.2.0/24",), True),
            (
                "manage.example.com",
                "::ffff:192.0.2.9",
                "::ffff:192.0.2.9",
                ("192.0.2.0/24",),
                True,
            ),
            ("www.example.com", "192.0.2.9", "192.0.2.9", ("192.0.2.0/24",), False),
        ],
    )
    def test_allows(self, host, peer, client, admin, allowed):
        from dataclasses import replace

        config = replace(self.config, admin_networks=tuple(map(network, admin)))
        assert config.allows(host, peer, client) is allowed


class TestPeerOf:
    """The peer and the client, with waitress's own proxy handling."""

    def test_waitress_trusted_proxy_rewrites_the_client(self):
        from collective.securitybp.zmi.config import peer_of
        import http.client
        import json
        import threading
        import waitress.server

        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps(peer_of(environ)).encode()]

        server = waitress.server.create_server(
            app,
            host="127.0.0.1",
            port=0,
            trusted_proxy="127.0.0.1",
            trusted_proxy_headers="x-forwarded-for",
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            port = server.effective_port
            results = []
            for headers in ({"X-Forwarded-For": "203.0.113.7"}, {}):
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                connection.request("GET", "/", headers=headers)
                results.append(json.loads(connection.getresponse().read()))
                connection.close()
        finally:
            server.close()
        assert results == [["127.0.0.1", "203.0.113.7"], ["127.0.0.1", None]]

    def test_other_servers_remote_addr(self):
        from collective.securitybp.zmi.config import peer_of

        assert peer_of({"REMOTE_ADDR": "192.0.2.1"}) == ("192.0.2.1", None)
