"""The management exposure checks (SBP-ZMI-*), each firing and quiet, and
the settings they read."""

from App.config import getConfiguration
from collective.securitybp.audit import AuditContext
from collective.securitybp.checks.management import GuardSwitchedOff
from collective.securitybp.checks.management import NoManageHost
from collective.securitybp.checks.management import WebDAVXMLRPCReachable
from collective.securitybp.checks.management import ZMIAnsweredOnPublicHost
from collective.securitybp.settings import clear_cache
from collective.securitybp.settings import STAMP_KEY
from collective.securitybp.zmi import evidence
from collective.securitybp.zmi import guard
from collective.securitybp.zmi.config import combine
from collective.securitybp.zmi.config import GuardConfig
from datetime import datetime
from datetime import timezone
from plone import api
from zope.annotation.interfaces import IAnnotations
import ipaddress
import pytest


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
        "user": "admin",
        "method": "GET",
        "path": "/VirtualHostBase/https/www.example.com:443/plone/"
        "VirtualHostRoot/manage_main",
        "kind": "zmi",
        "site": site,
        "blocked": blocked,
    }
    values.update(fields)
    return evidence.record(**values)


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

    def test_fires_with_the_evidence(self, site):
        seen(user="", when=WHEN.replace(second=1), blocked=True)  # blocked
        seen()
        seen(user="Anonymous User", method="HEAD", path="/manage", site="")
        [finding] = run(self.check, site)
        assert finding == {
            "check_id": "SBP-ZMI-001",
            "area": "management",
            "area_title": "Management exposure",
            "severity": "high",
            "title": "Management interface answered on a public host",
            "detail": (
                "2 request(s) for the management interface, WebDAV or XML-RPC "
                "arrived for the host 'www.example.com', which is not a "
                "manage host, and were answered. Latest (time, client, user, "
                "request): 2030-05-06 07:08:09 UTC 203.0.113.7 Anonymous "
                "User HEAD /manage; 2030-05-06 07:08:09 UTC 203.0.113.7 "
                "admin GET /VirtualHostBase/https/www.example.com:443/plone/"
                "VirtualHostRoot/manage_main."
            ),
            "remediation": (
                "If 'www.example.com' is the host you use for the management "
                "interface, add it to the manage hosts in the control panel. "
                "Otherwise the management interface is reachable on your "
                "public domain: list your manage host, switch the guard to "
                "block mode, and add the rules of @@securitybp-proxy-rules to "
                "the web server of 'www.example.com'."
            ),
            "reference": "Access control",
            "subject": "www.example.com",
        }

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
        seen(blocked=True, user="")
        assert run(self.check, site) == []

    def test_quiet_for_requests_of_another_site(self, site):
        seen(site="/other")
        assert run(self.check, site) == []

    def test_evidence_is_bounded(self, site):
        for number in range(evidence.MAX_RECORDS + 5):
            seen(path=f"/manage_main/{number}" + "x" * 500)
        records = evidence.recent()
        assert len(records) == evidence.MAX_RECORDS
        assert all(len(r.path) <= evidence.MAX_FIELD for r in records)


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
        "Zope answers the WebDAV methods (COPY, LOCK, MKCOL, MOVE, PROPFIND, "
        "PROPPATCH, UNLOCK) and the guard does not block them, so they are "
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

    def test_left_to_no_manage_host_on_a_fresh_site(self, site, xmlrpc):
        assert run(self.check, site) == []
        assert run(NoManageHost(), site) == [NO_MANAGE_HOST]


SWITCHED_OFF = {
    "check_id": "SBP-ZMI-004",
    "area": "management",
    "area_title": "Management exposure",
    "severity": "medium",
    "title": "Management interface guard switched off",
    "detail": (
        "The guard is set to block mode, but the environment variable "
        "SECURITYBP_ZMI_GUARD=off of this Zope process switches blocking "
        "off: the management interface answers on every host."
    ),
    "remediation": (
        "Once the manage hosts are right, remove SECURITYBP_ZMI_GUARD from "
        "the environment of the Zope process (its systemd unit, container "
        "settings or start script) and restart it."
    ),
    "reference": "Access control",
    "subject": "",
}


class TestGuardSwitchedOff:
    check = GuardSwitchedOff()

    def test_fires_in_block_mode_with_the_variable(self, site, monkeypatch):
        set_guard(mode="block", hosts=["manage.example.com"])
        monkeypatch.setenv("SECURITYBP_ZMI_GUARD", "off")
        assert run(self.check, site) == [SWITCHED_OFF]

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
