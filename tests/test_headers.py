"""Security headers: the grammar, the compiled plan and the checks SBP-HEADER-*."""

from collective.securitybp.audit import AuditContext
from collective.securitybp.audit import run_check
from collective.securitybp.checks.headers import CSPNotEnforced
from collective.securitybp.checks.headers import CSPUnsafeScripts
from collective.securitybp.checks.headers import HeadersSwitchedOff
from collective.securitybp.checks.headers import HSTSMissing
from collective.securitybp.checks.headers import PoweredByDisclosed
from collective.securitybp.headers import collector
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


def violation(blocked="https://a/", directive="img-src", document="/p"):
    return {
        "directive": directive,
        "blocked": blocked,
        "document": document,
        "disposition": "report",
        "source": "",
        "line": 0,
        "sample": "",
    }


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
                "The Content-Security-Policy contains a line break U+000D ('\\r') "
                "at column 19: a header is one line",
            ),
            (
                "default-src 'self'\x07",
                "contains a control character U+0007 ('\\x07') at column 19, "
                "which HTTP cannot carry",
            ),
            (
                "default-src \u2018self\u2019",
                "contains a curly quote U+2018 (\u2018) at column 13, which HTTP "
                "cannot carry: use straight quotes (' or \") instead.",
            ),
            (
                "img-src 'self' https://ex\u00e4mple.org",
                "contains U+00E4 (\u00e4) at column 26, which HTTP cannot carry",
            ),
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
            (
                ["X-Frame-Options DENY"],
                "Line 1 'X-Frame-Options DENY' is not a header",
            ),
            (["X Frame: DENY"], "'X Frame' is not a valid header name"),
            (
                ["Set-Cookie: a=b"],
                "The add-on does not set Set-Cookie: it sets cookies",
            ),
            (["Content-Security-Policy: default-src 'self'"], "has its own settings"),
            (
                ["Strict-Transport-Security: max-age=1"],
                "Strict-Transport-Security fields",
            ),
            (
                ["X-A: b\r\nSet-Cookie: x=y"],
                "Line 1 contains a line break U+000D ('\\r') at column 7",
            ),
            (
                ["X-A: 1", "X-B: b\x00"],
                "Line 2 contains a control character U+0000 ('\\x00') at column 7",
            ),
            (["X-A: " + "b" * 4100], "Line 1 is longer than 4 KiB (4105 bytes)"),
            (["X-A: 1", "x-a: 2"], "x-a appears twice (lines 1 and 2)"),
            # What HTTP cannot carry, named with its line and column.
            (
                [
                    "X-Frame-Options: DENY",
                    "",
                    "Referrer-Policy: \u201cno-referrer\u201d",
                ],
                "Line 3 contains a curly quote U+201C (\u201c) at column 18, which "
                "HTTP cannot carry: use straight quotes (' or \") instead.",
            ),
            (
                ["X-Robots-Tag: noindex\u2026"],
                "Line 1 contains U+2026 (\u2026) at column 22, which HTTP cannot "
                "carry: a header holds only ASCII letters, digits, punctuation, "
                "spaces and tabs.",
            ),
            (
                ["X-A: a\u2028b"],
                "Line 1 contains a line break U+2028 ('\\u2028') at column 7",
            ),
            (["X-A: caf\u00e9"], "Line 1 contains U+00E9 (\u00e9) at column 9"),
            (["X-A: a\u00a0b"], "Line 1 contains U+00A0 ('\\xa0') at column 7"),
            (["X-A: a\x85b"], "Line 1 contains a line break U+0085 ('\\x85')"),
            (["X-A: a\x7fb"], "control character U+007F ('\\x7f') at column 7"),
            (["\u2003"], "Line 1 contains U+2003 ('\\u2003') at column 1"),
        ],
    )
    def test_refuses(self, lines, message):
        assert message in error_of(IHeaderSettings["headers_overrides"].validate, lines)

    @pytest.mark.parametrize(
        "name,reason",
        [
            ("Content-Length", "it frames the HTTP message"),
            ("Transfer-Encoding", "it frames the HTTP message"),
            ("Content-Type", "it frames the HTTP message"),
            ("Set-Cookie", "it sets cookies"),
            ("Location", "it redirects"),
            ("Refresh", "it redirects"),
            ("Access-Control-Allow-Origin", "it is a CORS header"),
            ("access-control-allow-credentials", "it is a CORS header"),
            (
                "Access-Control-Expose-Headers",
                "it is a CORS header, which lets other sites read this one's "
                "pages; configure CORS with plone.rest's CORS policy (the "
                "plone:CORSPolicy ZCML directive) instead",
            ),
            ("Connection", "it is a hop-by-hop header"),
            ("Keep-Alive", "it is a hop-by-hop header"),
            ("Proxy-Authenticate", "it is a hop-by-hop header"),
            ("Proxy-Anything", "it is a hop-by-hop header"),
            ("TE", "it is a hop-by-hop header"),
            ("Trailer", "it frames the HTTP message"),
            ("Upgrade", "it is a hop-by-hop header"),
            ("Server", "Zope and the web server set it"),
            ("WWW-Authenticate", "Zope and the web server set it"),
        ],
    )
    def test_refuses_headers_the_add_on_must_not_set(self, name, reason):
        message = error_of(
            IHeaderSettings["headers_overrides"].validate, ["X-A: 1", f"{name}: x"]
        )
        assert message.startswith(f"The add-on does not set {name}: {reason}")
        assert message.endswith("Remove line 2.")

    def test_total_size(self):
        lines = [f"X-Pad-{n}: " + "a" * 2000 for n in range(4)]  # 4 x 2011 bytes
        assert policy.configured_size(lines, "") == 8044
        assert policy.configured_size(lines + ["X-Off:"], "") == 8044
        policy.check_total_size(lines, "")
        policy.check_total_size(lines[:3], "img-src " + "a" * 2000)
        # The custom policy counts as a Content-Security-Policy-Report-Only
        # header: 35 + 2 + 128 + 2 bytes.
        assert policy.configured_size(lines, "img-src " + "a" * 120) == 8211
        policy.check_total_size(lines, "img-src " + "a" * 101)  # 8192
        message = error_of(policy.check_total_size, lines, "img-src " + "a" * 120)
        assert message == (
            "The header overrides and the custom policy add up to 8211 bytes, "
            "over the 8 KiB (8192 bytes) they may take together: servers and "
            "proxies refuse responses with big headers. Shorten them."
        )

    def test_total_size_is_an_invariant(self, portal):
        lines = [f"X-Pad-{n}: " + "a" * 3000 for n in range(3)]
        IHeaderSettings["headers_overrides"].validate(lines)  # each line is fine
        errors = []

        class Data:
            headers_overrides = lines
            headers_csp_policy = ""
            headers_hsts_max_age = 31536000
            headers_hsts_include_subdomains = True
            headers_hsts_preload = False

        with pytest.raises(Invalid):
            IHeaderSettings.validateInvariants(Data(), errors)
        assert [str(e) for e in errors] == [
            "The header overrides and the custom policy add up to 9033 bytes, "
            "over the 8 KiB (8192 bytes) they may take together: servers and "
            "proxies refuse responses with big headers. Shorten them."
        ]


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

    def test_unsendable_lines_left_out_one_by_one(self, portal, caplog):
        """Values stored bypassing validation: each bad line is left out
        (the preset's value instead, or nothing), the others count."""
        registry = api.portal.get_tool("portal_registry")
        registry.records._values[PREFIX + "headers_overrides"] = [
            "X-Frame-Options: DENY\u2019",
            "Referrer-Policy: no-referrer",
            "Refresh: 0; url=https://elsewhere.example.org/",
            "Access-Control-Allow-Origin: *",
            "X-Extra: caf\u00e9",
            "X-Line: a\u2028b",
            "X-Kept: 1",
            "x-kept: 2",
            42,
        ]
        from collective.securitybp.settings import bump

        bump(portal)
        policy._logged.clear()
        headers = dict(plan_for(portal).headers_for(False, "/plone"))
        assert headers["x-frame-options"] == "SAMEORIGIN"  # the preset's
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-kept"] == "1"
        for name in ("refresh", "access-control-allow-origin", "x-extra", "x-line"):
            assert name not in headers
        logged = [
            r.getMessage() for r in caplog.records if "left out" in r.getMessage()
        ]
        assert [m.split(" of ")[0] for m in logged] == [
            "Line 1",
            "Line 3",
            "Line 4",
            "Line 5",
            "Line 6",
            "Line 8",
            "Line 9",
        ]
        assert "curly quote U+2019" in logged[0]
        assert all(len(m) < 600 for m in logged)
        caplog.clear()
        bump(portal)
        plan_for(portal)
        assert not [r for r in caplog.records if "left out" in r.getMessage()]

    def test_oversized_settings_cut_at_send_time(self, portal, caplog):
        registry = api.portal.get_tool("portal_registry")
        values = registry.records._values
        values[PREFIX + "headers_overrides"] = [
            f"X-Pad-{n}: " + "a" * 3000 for n in range(40)
        ]
        values[PREFIX + "headers_csp_mode"] = "enforce"
        values[PREFIX + "headers_csp_policy"] = "img-src " + "a" * 3000
        from collective.securitybp.settings import bump

        bump(portal)
        policy._logged.clear()
        plan = plan_for(portal)
        headers = plan.headers_for(True, "/plone")
        pads = [name for name, _value in headers if name.startswith("x-pad-")]
        assert pads == ["x-pad-0", "x-pad-1"]  # 2 x 3011 bytes; a third is over
        assert plan.csp_policy == policy.COMPATIBLE_CSP  # the custom one is over
        assert sum(policy.header_size(n, v) for n, v in headers) < 2 * 8192
        messages = [r.getMessage() for r in caplog.records]
        assert any("The custom policy in" in m for m in messages)
        assert len([m for m in messages if "take over 8 KiB" in m]) == 38

    def test_last_safety_net(self, portal, caplog):
        policy._logged.clear()
        plan = policy.HeaderPlan(
            static=[("x-good", "1"), ("x-bad", "a\u2019b"), ("x-crlf", "a\r\nb")],
            csp_mode="enforce",
            csp_policy="default-src 'self'",
            csp_reporting=True,
        )
        headers = dict(plan.headers_for(False, "/pl\u00f6ne site"))
        assert headers == {
            "x-good": "1",
            "content-security-policy": (
                "default-src 'self'; report-uri /pl%C3%B6ne%20site/@@csp-report"
            ),
        }
        assert plan.headers_for(False, "/pl\u00f6ne site") is plan.headers_for(
            False, "/pl\u00f6ne site"
        )
        logged = [r.getMessage() for r in caplog.records]
        assert len([m for m in logged if "cannot be sent" in m]) == 2
        assert list(policy.sendable([("a", "ok\t"), ("b", b"x"), ("c", "\x80")])) == [
            ("a", "ok\t")
        ]


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
            {"csp-report": {"effective-directive": ["script-src"]}},
            [{"type": "csp-violation", "body": {"effectiveDirective": {"a": 1}}}],
            [{"type": "csp-violation", "body": []}],
            None,
            12,
            [[]],
        ],
    )
    def test_malformed(self, payload):
        with pytest.raises(ValueError):
            parse_reports(payload)

    def test_wrong_types_and_odd_text_are_tamed(self):
        [violation] = parse_reports(
            {
                "csp-report": {
                    "effective-directive": "img-src\x00\ud800",
                    "blocked-uri": "http://[broken/x?token=1",
                    "document-uri": "https://[::1/p?q",
                    "source-file": {"not": "a string"},
                    "line-number": 10**200,
                    "disposition": ["enforce"],
                    "script-sample": "a\x1b[31m\udfff" + "x" * 500,
                }
            }
        )
        assert violation == {
            "directive": "img-src\ufffd\ufffd",
            "blocked": "http://[broken/x",
            "document": "/",
            "disposition": "",
            "source": "",
            "line": 0,
            "sample": "a\ufffd[31m\ufffd" + "x" * 73,
        }
        for line in (True, -1, 1.5, "12", None, float("nan")):
            payload = {"csp-report": {"effective-directive": "x", "line-number": line}}
            assert parse_reports(payload)[0]["line"] == 0

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

    def test_rate_limit_counts_reports(self):
        store = ReportStore()
        assert store.take("10.0.0.1", 45, now=100.0) == 45
        assert store.take("10.0.0.1", 45, now=100.0) == 15  # what is left
        assert store.take("10.0.0.1", 45, now=100.0) == 0
        assert store.take("10.0.0.1", 45, now=110.0) == 10  # one a second
        assert store.take("10.0.0.1", 1, now=10000.0) == 1
        assert store.take("10.0.0.1", 100, now=10000.0) == 59  # burst at most

    def test_clients_forgotten_least_recent_first(self):
        store = ReportStore()
        store.take("victim", 60, now=0.0)  # empty
        for n in range(collector.MAX_CLIENTS - 1):
            store.take(f"10.1.{n // 256}.{n % 256}", now=1.0)
        assert len(store._buckets) == collector.MAX_CLIENTS
        store.take("victim", 1, now=1.0)  # seen again: now the most recent
        for n in range(100):  # new clients push out the least recent only
            store.take(f"10.2.0.{n}", now=1.0)
        assert len(store._buckets) == collector.MAX_CLIENTS
        assert "victim" in store._buckets
        assert store.take("victim", 1, now=1.0) == 0  # still limited
        assert "10.1.0.0" not in store._buckets
        assert "10.1.0.100" in store._buckets

    @pytest.mark.parametrize(
        "address,key",
        [
            ("192.0.2.7", "192.0.2.7"),
            ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
            ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
            ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
            ("::ffff:192.0.2.7", "192.0.2.7"),
            ("fe80::1%eth0", "fe80::/64"),
            ("not:an:address" * 10, ("not:an:address" * 10)[:64]),
            ("", ""),
        ],
    )
    def test_client_key(self, address, key):
        assert collector.client_key(address) == key

    def test_one_client_owns_a_bounded_share(self):
        store = ReportStore()
        store.add([violation(blocked="https://rare.example.net/")], "visitor", 1.0)
        for n in range(1000):
            store.add([violation(blocked=f"https://x/{n}")], "attacker", 2.0 + n)
        assert len(store.violations) == collector.MAX_PER_CLIENT + 1
        assert len(store._owned["attacker"]) == collector.MAX_PER_CLIENT
        # the attacker's most recent 50 remain; the rare one stays
        assert ("img-src", "https://rare.example.net/", "/p") in store.violations
        assert ("img-src", "https://x/999", "/p") in store.violations
        assert ("img-src", "https://x/949", "/p") not in store.violations
        assert store.evicted == 950

    def test_full_table_evicts_from_the_largest_owner(self):
        store = ReportStore()
        store.add([violation(blocked="https://rare/")], "visitor", 0.0)
        for client in range(30):  # 30 networks, 50 each: more than the table
            for n in range(collector.MAX_PER_CLIENT):
                store.add(
                    [violation(blocked=f"https://x/{client}/{n}")],
                    f"net{client}",
                    1.0 + n,
                )
        assert len(store.violations) == collector.MAX_VIOLATIONS
        assert ("img-src", "https://rare/", "/p") in store.violations
        assert max(len(keys) for keys in store._owned.values()) <= 50
        assert sum(len(keys) for keys in store._owned.values()) == 1000
        # counts add up on the same entry, whoever reports it
        store.add([violation(blocked="https://rare/")] * 3, "net1", 99.0)
        [rare] = [e for e in store.top(limit=None) if e["blocked"] == "https://rare/"]
        assert (rare["count"], rare["clients"]) == (4, 2)
        assert store.top(limit=1)[0]["blocked"] == "https://rare/"  # two clients

    def test_table_never_grows_past_its_bounds(self):
        store = ReportStore()
        for n in range(5000):
            store.add([violation(blocked=f"https://x/{n}")], f"c{n % 700}", float(n))
        assert len(store.violations) == collector.MAX_VIOLATIONS
        assert sum(len(keys) for keys in store._owned.values()) == 1000
        assert len(store.recent) == collector.MAX_REPORTS
        assert store.received == 5000
        assert store.evicted == 4000


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
