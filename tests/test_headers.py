"""Security headers: the grammar, the compiled plan and the checks SBP-HEADER-*."""

from collective.securitybp.audit import AuditContext
from collective.securitybp.audit import run_check
from collective.securitybp.checks.headers import CSPNotEnforced
from collective.securitybp.checks.headers import CSPUnsafeScripts
from collective.securitybp.checks.headers import HeadersSwitchedOff
from collective.securitybp.checks.headers import HSTSMissing
from collective.securitybp.checks.headers import PoweredByDisclosed
from collective.securitybp.headers import policy
from collective.securitybp.headers.collector import parse_reports
from collective.securitybp.headers.collector import ReportStore
from collective.securitybp.headers.subscriber import HTTPS_SITES
from collective.securitybp.headers.subscriber import plan_for
from collective.securitybp.interfaces import IHeaderSettings
from datetime import datetime
from datetime import timezone
from plone import api
from zope.interface import Invalid
import pytest


PREFIX = "collective.securitybp."
SETTINGS = "Site Setup > Security best practices > Security headers"


def set_record(name, value):
    api.portal.set_registry_record(PREFIX + name, value)


def run(check, portal):
    context = AuditContext(
        site=portal, root=portal.getPhysicalRoot(), now=datetime.now(timezone.utc)
    )
    return [f.as_data() for f in run_check(check, context)]


def error_of(function, *args):
    with pytest.raises(Invalid) as info:
        function(*args)
    return str(info.value)


class TestCSPGrammar:
    @pytest.mark.parametrize("value", [policy.COMPATIBLE_CSP, policy.STRICT_CSP])
    def test_presets_parse(self, value):
        names = [name for name, _values in policy.parse_csp(value)]
        assert names[0] == "default-src"
        assert "frame-ancestors" in names

    def test_accepts_every_kind_of_source(self):
        value = (
            "default-src 'none'; script-src 'self' 'nonce-abc123==' "
            "'sha256-AbC+/d=' 'strict-dynamic' https://cdn.example.org:443/js/ "
            "*.example.org; img-src * data: blob:; frame-src [::1]:8080; "
            "sandbox allow-scripts allow-forms; upgrade-insecure-requests; "
            "report-uri /plone/@@csp-report; report-to group"
        )
        assert len(policy.parse_csp(value)) == 8

    @pytest.mark.parametrize(
        "value,message",
        [
            ("scirpt-src 'self'", "Unknown CSP directive 'scirpt-src'"),
            ("script-src self", "self in script-src must be in single quotes"),
            (
                "script-src 'unsafe-evil'",
                "'unsafe-evil' in script-src is not a CSP keyword",
            ),
            ("img-src http://exa mple.org", None),  # split: "mple.org" is a host
            (
                "img-src https://ex_ample.org",
                "https://ex_ample.org in img-src is not a valid source expression",
            ),
            ("img-src 'self' 'none'", "'none' in img-src must stand alone"),
            (
                "img-src 'self'; img-src data:",
                "The CSP directive img-src appears twice",
            ),
            (
                "upgrade-insecure-requests https:",
                "upgrade-insecure-requests takes no value",
            ),
            ("sandbox allow-everything", "allow-everything is not a sandbox flag"),
            ("report-uri", "report-uri needs a value"),
            (" ; ", "The Content-Security-Policy is empty"),
            (
                "default-src 'self'\r\nSet-Cookie: a=b",
                "contains a control character ('\\r')",
            ),
            ("default-src 'self'\x07", "contains a control character ('\\x07')"),
            ("img-src " + "a" * 4100, "is longer than 4 KiB (4108 bytes)"),
        ],
    )
    def test_refuses(self, value, message):
        if message is None:
            policy.parse_csp(value)
            return
        assert message in error_of(policy.parse_csp, value)

    def test_field_constraint_allows_empty(self):
        assert IHeaderSettings["headers_csp_policy"].validate("") is None
        with pytest.raises(Invalid):
            IHeaderSettings["headers_csp_policy"].validate("bogus-src x")


class TestHeaderLines:
    def test_valid_lines(self):
        field = IHeaderSettings["headers_overrides"]
        field.validate(["X-Frame-Options: DENY", "Cross-Origin-Opener-Policy:", ""])

    @pytest.mark.parametrize(
        "lines,message",
        [
            (["X-Frame-Options DENY"], "'X-Frame-Options DENY' is not a header"),
            (["X Frame: DENY"], "'X Frame' is not a valid header name"),
            (
                ["Set-Cookie: a=b"],
                "Set-Cookie frames the HTTP response or belongs to Zope",
            ),
            (["Content-Security-Policy: default-src 'self'"], "has its own settings"),
            (
                ["Strict-Transport-Security: max-age=1"],
                "Strict-Transport-Security fields",
            ),
            (["X-A: b\r\nSet-Cookie: x=y"], "contains a control character ('\\r')"),
            (["X-A: b\x00"], "contains a control character ('\\x00')"),
            (["X-A: " + "b" * 4100], "is longer than 4 KiB"),
            (["X-A: 1", "x-a: 2"], "x-a appears twice"),
        ],
    )
    def test_refuses(self, lines, message):
        assert message in error_of(IHeaderSettings["headers_overrides"].validate, lines)


class TestHSTSSettings:
    def test_negative_max_age(self):
        message = error_of(IHeaderSettings["headers_hsts_max_age"].validate, -1)
        assert "max-age is a number of seconds and cannot be negative (-1)" in message

    @pytest.mark.parametrize(
        "max_age,subdomains", [(31535999, True), (31536000, False), (None, True)]
    )
    def test_preload_requirements(self, max_age, subdomains):
        message = error_of(policy.check_preload, max_age, subdomains, True)
        assert message.startswith("HSTS preload needs max-age of at least 31536000")

    def test_preload_accepted(self):
        policy.check_preload(63072000, True, True)
        policy.check_preload(0, False, False)


class TestPlan:
    def test_defaults(self, portal):
        plan = plan_for(portal)
        headers = dict(plan.headers_for(False, "/plone"))
        assert headers["x-frame-options"] == "SAMEORIGIN"
        assert headers["x-xss-protection"] == "0"
        assert headers["cross-origin-opener-policy"] == "same-origin-allow-popups"
        assert headers["cross-origin-resource-policy"] == "same-site"
        assert "camera=()" in headers["permissions-policy"]
        assert "strict-transport-security" not in headers
        assert "reporting-endpoints" not in headers  # plain HTTP: report-uri only
        assert headers["content-security-policy-report-only"] == (
            policy.COMPATIBLE_CSP + "; report-uri /plone/@@csp-report"
        )

    def test_https(self, portal):
        headers = dict(plan_for(portal).headers_for(True, "/"))
        assert (
            headers["strict-transport-security"]
            == "max-age=31536000; includeSubDomains"
        )
        assert headers["reporting-endpoints"] == 'securitybp-csp="/@@csp-report"'
        assert headers["content-security-policy-report-only"].endswith(
            "; report-uri /@@csp-report; report-to securitybp-csp"
        )

    def test_strict_with_relaxations(self, portal):
        set_record("headers_preset", "strict")
        set_record("headers_hsts_max_age", 63072000)
        set_record("headers_hsts_preload", True)
        plan = plan_for(portal)
        headers = dict(plan.headers_for(True, "/plone"))
        assert headers["cross-origin-opener-policy"] == "same-origin"
        assert headers["cross-origin-resource-policy"] == "same-origin"
        assert headers["strict-transport-security"] == (
            "max-age=63072000; includeSubDomains; preload"
        )
        csp = headers["content-security-policy"]
        assert csp.startswith(policy.STRICT_CSP + "; upgrade-insecure-requests; ")
        assert "content-security-policy-report-only" not in headers
        assert plan.variant("http://h/plone/Members") is None
        assert plan.variant("http://h/plone/manager-notes") is None
        for url, extra in [
            ("http://h/plone/folder/folder_contents", "'unsafe-eval'"),
            ("http://h/plone/@@resourceregistry-controlpanel", "'unsafe-inline'"),
            ("http://h/plone/manage_main", "'unsafe-inline'"),
            ("http://h/plone/portal_catalog/manage", "'unsafe-inline'"),
        ]:
            variant = plan.variant(url)
            assert variant == extra
            relaxed = dict(plan.headers_for(False, "/plone", variant))
            assert f"script-src 'self' {extra};" in relaxed["content-security-policy"]

    def test_overrides_and_extra_headers(self, portal):
        set_record(
            "headers_overrides",
            [
                "X-Frame-Options: DENY",
                "X-XSS-Protection:",
                "X-Permitted-Cross-Domain-Policies: none",
            ],
        )
        plan = plan_for(portal)
        headers = dict(plan.headers_for(False, "/plone"))
        assert headers["x-frame-options"] == "DENY"
        assert "x-xss-protection" not in headers
        assert headers["x-permitted-cross-domain-policies"] == "none"
        assert plan.switched_off == ("x-xss-protection",)

    def test_custom_policy_with_own_reporting(self, portal):
        set_record("headers_csp_mode", "enforce")
        set_record(
            "headers_csp_policy",
            "default-src 'self'; report-uri https://r.example.org/",
        )
        headers = dict(plan_for(portal).headers_for(True, "/plone"))
        assert headers["content-security-policy"] == (
            "default-src 'self'; report-uri https://r.example.org/"
        )
        assert "reporting-endpoints" not in headers

    def test_off(self, portal):
        set_record("headers_preset", "off")
        set_record("headers_overrides", ["X-Extra: 1"])
        assert plan_for(portal).headers_for(True, "/plone") == (("x-extra", "1"),)
        set_record("headers_enabled", False)
        assert plan_for(portal).enabled is False

    def test_compiled_once_per_change(self, portal):
        first = plan_for(portal)
        assert plan_for(portal) is first
        set_record("headers_hsts_max_age", 600)
        second = plan_for(portal)
        assert second is not first
        assert second.hsts == "max-age=600; includeSubDomains"

    def test_broken_records_fall_back_and_log_once(self, portal, caplog):
        registry = api.portal.get_tool("portal_registry")
        registry.records._values[PREFIX + "headers_preset"] = "bogus"
        registry.records._values[PREFIX + "headers_hsts_max_age"] = "a year"
        del registry.records[PREFIX + "headers_overrides"]
        from collective.securitybp.settings import bump

        bump(portal)
        policy._logged.clear()
        plan = plan_for(portal)
        assert plan.preset == "compatible"
        assert plan.hsts == "max-age=31536000; includeSubDomains"
        messages = [r.getMessage() for r in caplog.records]
        assert any(
            "collective.securitybp.headers_preset has an invalid value" in m
            for m in messages
        )
        assert any(
            "collective.securitybp.headers_overrides is missing" in m for m in messages
        )
        caplog.clear()
        bump(portal)  # a new snapshot, the same broken values: not logged again
        assert plan_for(portal) is not plan
        assert plan_for(portal).preset == "compatible"
        assert not [r for r in caplog.records if "invalid value" in r.getMessage()]


class TestCollectorParsing:
    def test_legacy_report(self):
        [violation] = parse_reports(
            {
                "csp-report": {
                    "document-uri": "https://example.org/plone/page?token=secret",
                    "violated-directive": "script-src-elem",
                    "effective-directive": "script-src-elem",
                    "blocked-uri": "https://evil.example.net/x.js?session=abc#f",
                    "source-file": "https://example.org/plone/page?token=secret",
                    "line-number": 12,
                    "disposition": "report",
                }
            }
        )
        assert violation == {
            "directive": "script-src-elem",
            "blocked": "https://evil.example.net/x.js",
            "document": "/plone/page",
            "disposition": "report",
            "source": "https://example.org/plone/page",
            "line": 12,
            "sample": "",
        }

    def test_reporting_api(self):
        violations = parse_reports(
            [
                {"type": "deprecation", "body": {"id": "x"}},
                {
                    "type": "csp-violation",
                    "url": "https://example.org/plone/",
                    "body": {
                        "blockedURL": "inline",
                        "effectiveDirective": "style-src-attr",
                        "disposition": "enforce",
                        "sample": "color: red" * 20,
                    },
                },
            ]
        )
        assert [(v["directive"], v["blocked"], v["document"]) for v in violations] == [
            ("style-src-attr", "inline", "/plone/")
        ]
        assert len(violations[0]["sample"]) == 80

    @pytest.mark.parametrize(
        "payload",
        [
            {},
            {"csp-report": "x"},
            "text",
            [1],
            [{"type": "csp-violation"}],
            {"csp-report": {"blocked-uri": "inline"}},
        ],
    )
    def test_malformed(self, payload):
        with pytest.raises(ValueError):
            parse_reports(payload)

    def test_store_bounds_and_aggregates(self):
        store = ReportStore()
        base = {"disposition": "report", "source": "", "line": 0, "sample": ""}
        for n in range(510):
            store.add(
                [
                    dict(
                        base,
                        directive="img-src",
                        blocked="https://a/",
                        document=f"/p{n % 3}",
                    )
                ],
                now=float(n),
            )
        assert store.received == 510
        assert len(store.recent) == 500
        store.add(
            [dict(base, directive="img-src", blocked="https://a/", document="/p0")],
            now=600.0,
        )
        # most frequent first, then most recent
        assert [(v["document"], v["count"]) for v in store.top()] == [
            ("/p0", 171),
            ("/p2", 170),
            ("/p1", 170),
        ]
        assert len(store.recent) == 500

    def test_store_rate_limit(self):
        store = ReportStore()
        assert all(store.allow("10.0.0.1", now=100.0) for _n in range(60))
        assert store.allow("10.0.0.1", now=100.0) is False
        assert store.allow("10.0.0.2", now=100.0) is True
        assert store.allow("10.0.0.1", now=101.5) is True  # one a second again


@pytest.fixture(autouse=True)
def no_https_seen():
    """Other tests' https requests are remembered per process."""
    HTTPS_SITES.clear()
    yield
    HTTPS_SITES.clear()


@pytest.fixture
def https_seen(portal):
    HTTPS_SITES.add(portal.getPhysicalPath())
    yield
    HTTPS_SITES.discard(portal.getPhysicalPath())


class TestHeadersSwitchedOff:
    check = HeadersSwitchedOff()

    def test_quiet_by_default(self, portal):
        assert run(self.check, portal) == []

    @pytest.mark.parametrize(
        "name,value,reason",
        [
            ("headers_enabled", False, "'Send security headers' is unticked"),
            ("headers_preset", "off", "the preset is 'Off'"),
        ],
    )
    def test_fires_when_off(self, portal, name, value, reason):
        set_record(name, value)
        [result] = run(self.check, portal)
        assert (result["check_id"], result["severity"], result["subject"]) == (
            "SBP-HEADER-001",
            "medium",
            "all",
        )
        assert f"from the add-on: {reason}." in result["detail"]
        assert result["links"][0]["url"].endswith("@@securitybp-controlpanel")

    def test_fires_per_header_switched_off(self, portal):
        set_record(
            "headers_overrides", ["X-Content-Type-Options:", "X-XSS-Protection:"]
        )
        [result] = run(self.check, portal)
        assert (result["check_id"], result["severity"], result["subject"]) == (
            "SBP-HEADER-001",
            "low",
            "X-Content-Type-Options",
        )


class TestCSPNotEnforced:
    check = CSPNotEnforced()

    def test_report_only_by_default(self, portal):
        [result] = run(self.check, portal)
        assert result["subject"] == "Content-Security-Policy-Report-Only"
        assert result["severity"] == "low"
        assert result["detail"] == (
            "The Content-Security-Policy is sent as report-only: browsers report "
            "what it would block but block nothing, so it does not stop an "
            "injected script."
        )
        assert "set 'Content-Security-Policy' to 'Enforce'" in result["remediation"]

    @pytest.mark.parametrize(
        "records", [{"headers_csp_mode": "off"}, {"headers_enabled": False}]
    )
    def test_missing(self, portal, records):
        for name, value in records.items():
            set_record(name, value)
        [result] = run(self.check, portal)
        assert (result["subject"], result["severity"]) == (
            "Content-Security-Policy",
            "medium",
        )
        assert "No Content-Security-Policy is sent" in result["detail"]
        # With every header off, it follows from SBP-HEADER-001.
        cause = {"check_id": "SBP-HEADER-001", "subject": "all"}
        assert result["cause"] == (cause if "headers_enabled" in records else None)

    @pytest.mark.parametrize(
        "records",
        [{"headers_preset": "strict"}, {"headers_csp_mode": "enforce"}],
    )
    def test_quiet_when_enforced(self, portal, records):
        for name, value in records.items():
            set_record(name, value)
        assert run(self.check, portal) == []


class TestCSPUnsafeScripts:
    check = CSPUnsafeScripts()

    @pytest.mark.parametrize(
        "records",
        [
            {},  # compatible: report-only, SBP-HEADER-002's business
            {"headers_preset": "strict"},
            {
                "headers_csp_mode": "enforce",
                "headers_csp_policy": "script-src 'nonce-abc' 'unsafe-inline'",
            },
        ],
    )
    def test_quiet(self, portal, records):
        for name, value in records.items():
            set_record(name, value)
        assert run(self.check, portal) == []

    def test_fires_for_unsafe_sources(self, portal):
        set_record("headers_csp_mode", "enforce")  # the compatible policy, enforced
        results = run(self.check, portal)
        assert [(r["subject"], r["severity"]) for r in results] == [
            ("'unsafe-inline'", "medium"),
            ("'unsafe-eval'", "low"),
        ]
        assert results[0]["detail"] == (
            "The enforced policy allows inline scripts ('unsafe-inline' in "
            "script-src): a script injected into a page runs as if the site had "
            "written it."
        )
        assert results[1]["remediation"].startswith(
            f"In {SETTINGS}, remove 'unsafe-eval' from script-src"
        )

    def test_default_src_governs(self, portal):
        set_record("headers_csp_mode", "enforce")
        set_record("headers_csp_policy", "default-src 'self' 'unsafe-eval'")
        assert [r["subject"] for r in run(self.check, portal)] == ["'unsafe-eval'"]

    def test_no_script_sources_at_all(self, portal):
        set_record("headers_csp_mode", "enforce")
        set_record("headers_csp_policy", "img-src 'self'")
        [result] = run(self.check, portal)
        assert (result["subject"], result["severity"]) == ("script-src", "medium")


class TestHSTSMissing:
    check = HSTSMissing()

    def test_quiet_without_https(self, portal):
        set_record("headers_hsts_enabled", False)
        assert run(self.check, portal) == []

    def test_quiet_with_https_and_defaults(self, portal, https_seen):
        assert run(self.check, portal) == []

    @pytest.mark.parametrize(
        "name,value",
        [
            ("headers_hsts_enabled", False),
            ("headers_preset", "off"),
            ("headers_enabled", False),
        ],
    )
    def test_fires_when_missing(self, portal, https_seen, name, value):
        set_record(name, value)
        [result] = run(self.check, portal)
        assert (result["check_id"], result["severity"], result["subject"]) == (
            "SBP-HEADER-004",
            "medium",
            "Strict-Transport-Security",
        )
        off = name != "headers_hsts_enabled"
        cause = {"check_id": "SBP-HEADER-001", "subject": "all"}
        assert result["cause"] == (cause if off else None)

    def test_fires_when_short(self, portal, https_seen):
        set_record("headers_hsts_max_age", 15767999)
        [result] = run(self.check, portal)
        assert (result["subject"], result["severity"]) == ("max-age", "low")
        assert result["detail"].startswith(
            "Strict-Transport-Security has max-age=15767999: browsers forget it"
        )

    def test_https_request_counts(self, portal, request):
        portal.REQUEST.other["SERVER_URL"] = "https://example.org"
        request.addfinalizer(
            lambda: portal.REQUEST.other.update(SERVER_URL="http://nohost")
        )
        set_record("headers_hsts_enabled", False)
        assert [r["subject"] for r in run(self.check, portal)] == [
            "Strict-Transport-Security"
        ]


def run_with_ini(check, portal, ini):
    """Run ``check`` for an instance whose zope.ini is ``ini``."""
    from collective.securitybp.processinfo import InstallationLayout

    context = AuditContext(
        site=portal, root=portal.getPhysicalRoot(), now=datetime.now(timezone.utc)
    )
    context._shared["process.layout"] = InstallationLayout(config_files=(ini,))
    return [f.as_data() for f in run_check(check, context)]


class TestPoweredByDisclosed:
    def test_fires_while_zope_sends_it(self, portal, tmp_path):
        check = PoweredByDisclosed()
        ini = tmp_path / "zope.ini"
        ini.write_text("[server:main]\nuse = egg:waitress#main\nlisten = 0:8080\n")
        [result] = run_with_ini(check, portal, ini)
        assert (result["check_id"], result["severity"], result["subject"]) == (
            "SBP-HEADER-005",
            "low",
            "X-Powered-By",
        )
        assert "waitress adds 'Server: waitress' as well" in result["detail"]

    def test_blank_ident_leaves_waitress_out(self, portal, tmp_path):
        ini = tmp_path / "zope.ini"
        ini.write_text("[server:main]\nuse = egg:waitress#main\nident =\n")
        [result] = run_with_ini(PoweredByDisclosed(), portal, ini)
        assert (result["severity"], result["subject"]) == ("low", "X-Powered-By")
        assert "Server:" not in result["detail"]

    def test_ident_blanked_sends_no_server_header(self):
        # What the finding says, checked against waitress itself.
        from waitress.adjustments import Adjustments

        assert Adjustments(ident="").ident is None
        assert Adjustments().ident == "waitress"

    def test_quiet_when_zope_stops(self, portal, monkeypatch):
        from ZPublisher.HTTPResponse import HTTPResponse

        original = HTTPResponse.listHeaders
        monkeypatch.setattr(
            HTTPResponse,
            "listHeaders",
            lambda self: [h for h in original(self) if h[0] != "X-Powered-By"],
        )
        assert run(PoweredByDisclosed(), portal) == []
