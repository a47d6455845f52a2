"""The audit engine: registration, isolation, acknowledgements, scoring."""

from collective.securitybp.acknowledgements import AcknowledgementError
from collective.securitybp.acknowledgements import AcknowledgementStore
from collective.securitybp.acknowledgements import parse_until
from collective.securitybp.audit import parse_fail_on
from collective.securitybp.audit import registered_checks
from collective.securitybp.audit import run_audit
from collective.securitybp.checks.base import Check
from collective.securitybp.interfaces import ISecurityCheck
from collective.securitybp.model import Area
from collective.securitybp.model import Finding
from collective.securitybp.model import grade_of
from collective.securitybp.model import score_of
from collective.securitybp.model import Severity
from collective.securitybp.model import validate_check_id
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from zope.component import getGlobalSiteManager
from zope.configuration import xmlconfig
from zope.configuration.config import ConfigurationConflictError
from zope.configuration.exceptions import ConfigurationError
import collective.securitybp
import logging
import pytest


NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)


class ConfigurableCheck(Check):
    """A check whose answer the test sets."""

    id = "SBP-CONF-900"
    title = "Configurable test check"
    area = Area.CONFIGURATION
    severity = Severity.LOW
    reference = "Test"
    detail = "first answer"
    fires = True

    def run(self, context):
        if not self.fires:
            return []
        return [self.finding(detail=self.detail, remediation="Fix it.", subject="x")]


class CrashingCheck(Check):
    id = "SBP-CONF-901"
    title = "Crashing test check"
    area = Area.CONFIGURATION
    severity = Severity.CRITICAL
    reference = "Test"

    def run(self, context):
        raise RuntimeError("password=hunter2 leaked in a message")


class WrongTypeCheck(CrashingCheck):
    id = "SBP-CONF-902"

    def run(self, context):
        return ["not a finding"]


class MalformedIdCheck(ConfigurableCheck):
    id = "SBP-PRIV-1"


class WrongAreaCheck(ConfigurableCheck):
    id = "SBP-PRIV-900"


class DuplicateCheck(ConfigurableCheck):
    """Same id as ConfigurableCheck."""


def finding(severity, subject=""):
    return Finding(
        check_id="SBP-CONF-900",
        area=Area.CONFIGURATION,
        severity=severity,
        title="t",
        detail="d",
        remediation="r",
        reference="ref",
        subject=subject,
    )


def load_zcml(body):
    context = xmlconfig.file("meta.zcml", package=collective.securitybp)
    xmlconfig.string(
        f"""<configure xmlns="http://namespaces.zope.org/zope"
                       xmlns:securitybp="http://namespaces.plone.org/securitybp">
            {body}</configure>""",
        context=context,
    )


class TestRegistration:
    def test_first_checks_registered(self, portal):
        ids = [check.id for check in registered_checks()]
        assert "SBP-PRIV-001" in ids
        assert "SBP-PRIV-002" in ids
        assert ids == sorted(ids)

    def test_malformed_id_fails_naming_it(self):
        with pytest.raises(
            ConfigurationError, match=r"Malformed check id 'SBP-PRIV-1'"
        ):
            load_zcml('<securitybp:check factory="test_engine.MalformedIdCheck" />')

    def test_id_must_match_area(self):
        with pytest.raises(
            ConfigurationError, match=r"SBP-PRIV-900 does not match its area"
        ):
            load_zcml('<securitybp:check factory="test_engine.WrongAreaCheck" />')

    def test_duplicate_id_fails_naming_it(self):
        with pytest.raises(ConfigurationConflictError) as info:
            load_zcml(
                '<securitybp:check factory="test_engine.ConfigurableCheck" />'
                '<securitybp:check factory="test_engine.DuplicateCheck" />'
            )
        assert "SBP-CONF-900" in str(info.value)

    def test_valid_registration(self):
        gsm = getGlobalSiteManager()
        try:
            load_zcml('<securitybp:check factory="test_engine.ConfigurableCheck" />')
            check = gsm.getUtility(ISecurityCheck, name="SBP-CONF-900")
            assert isinstance(check, ConfigurableCheck)
        finally:
            gsm.unregisterUtility(provided=ISecurityCheck, name="SBP-CONF-900")

    @pytest.mark.parametrize(
        "check_id,area,message",
        [
            ("SBP-PRIV-01", Area.PRIVILEGES, "Malformed"),
            ("sbp-priv-001", Area.PRIVILEGES, "Malformed"),
            ("SBP-FOO-001", Area.PRIVILEGES, "does not match"),
            ("SBP-PRIV-001", None, "no valid area"),
        ],
    )
    def test_validate_check_id(self, check_id, area, message):
        with pytest.raises(ValueError, match=message):
            validate_check_id(check_id, area)


class TestIsolation:
    def test_crash_becomes_finding(self, portal, caplog):
        caplog.set_level(logging.ERROR, logger="collective.securitybp")
        report = run_audit(
            portal, checks=[CrashingCheck(), ConfigurableCheck()], now=NOW
        )
        by_id = {f.check_id: f for f in report.findings}
        crash = by_id["SBP-CONF-901"].to_dict()
        assert crash["severity"] == "medium"
        assert crash["title"] == "Check could not run: Crashing test check"
        assert "hunter2" not in " ".join(str(v) for v in crash.values())
        # the other check still ran
        assert by_id["SBP-CONF-900"].detail == "first answer"
        # the traceback went to the log
        assert "Security check SBP-CONF-901 failed" in caplog.text
        assert "RuntimeError" in caplog.text

    def test_non_finding_result_becomes_finding(self, portal):
        report = run_audit(portal, checks=[WrongTypeCheck()], now=NOW)
        assert [f.check_id for f in report.findings] == ["SBP-CONF-902"]
        assert report.findings[0].to_dict()["title"].startswith("Check could not run")

    def test_crashing_registered_check_does_not_break_report_view(self, portal):
        from plone.app.testing import setRoles
        from plone.app.testing import TEST_USER_ID

        setRoles(portal, TEST_USER_ID, ["Manager"])
        gsm = getGlobalSiteManager()
        gsm.registerUtility(CrashingCheck(), ISecurityCheck, name="SBP-CONF-901")
        try:
            html = portal.restrictedTraverse("@@security-report")()
        finally:
            gsm.unregisterUtility(provided=ISecurityCheck, name="SBP-CONF-901")
        assert 'data-check-id="SBP-CONF-901"' in html
        assert "Check could not run" in html
        assert "hunter2" not in html
        assert 'data-check-id="SBP-PRIV-001"' in html

    def test_finding_text_is_escaped(self, portal):
        from plone.app.testing import setRoles
        from plone.app.testing import TEST_USER_ID

        setRoles(portal, TEST_USER_ID, ["Manager"])
        check = ConfigurableCheck()
        check.detail = '<script>alert("x")</script>'
        gsm = getGlobalSiteManager()
        gsm.registerUtility(check, ISecurityCheck, name=check.id)
        try:
            html = portal.restrictedTraverse("@@security-report")()
        finally:
            gsm.unregisterUtility(provided=ISecurityCheck, name=check.id)
        assert "&lt;script&gt;alert" in html
        assert '<script>alert("x")' not in html


def scored(checks, findings, silenced=()):
    score = score_of(checks, findings, silenced)
    return score, grade_of(score, findings)


class CauseCheck(Check):
    """Fires the cause; its finding has the subject "root"."""

    id = "SBP-CONF-910"
    title = "Cause"
    area = Area.CONFIGURATION
    severity = Severity.HIGH
    reference = "Test"
    fires = True

    def run(self, context):
        if not self.fires:
            return []
        return [self.finding(detail="cause", remediation="r", subject="root")]


class ConsequenceCheck(Check):
    """Two findings; they follow from the cause when it fires."""

    id = "SBP-CONF-911"
    title = "Consequence"
    area = Area.CONFIGURATION
    severity = Severity.MEDIUM
    reference = "Test"
    cases = {"worse": Severity.HIGH}

    def __init__(self, cause):
        self.cause_check = cause

    def run(self, context):
        cause = ("SBP-CONF-910", "root") if self.cause_check.fires else None
        return [
            self.finding(detail="c", remediation="r", subject=name, cause=cause)
            for name in ("a", "b")
        ]


class UndeclaredSeverityCheck(ConfigurableCheck):
    id = "SBP-CONF-912"

    def run(self, context):
        return [self.finding(detail="d", remediation="r", severity=Severity.HIGH)]


class TestScore:
    CHECKS = {
        "SBP-CONF-900": Severity.LOW,
        "SBP-CONF-901": Severity.HIGH,
        "SBP-CONF-902": Severity.CRITICAL,
        "SBP-CONF-903": Severity.MEDIUM,
        "SBP-CONF-904": Severity.INFO,
    }  # weights 1 + 4 + 8 + 2 + 0 = 15

    def test_no_findings(self):
        assert scored(self.CHECKS, []) == (100, "A")
        assert scored({}, []) == (100, "A")

    @pytest.mark.parametrize(
        "failed,score,grade",
        [
            ({"SBP-CONF-904": Severity.INFO}, 100, "A"),
            ({"SBP-CONF-900": Severity.LOW}, 93.3, "A"),
            ({"SBP-CONF-903": Severity.MEDIUM}, 86.6, "B"),
            ({"SBP-CONF-901": Severity.HIGH}, 73.3, "C"),
            ({"SBP-CONF-901": Severity.MEDIUM}, 86.6, "B"),
            ({"SBP-CONF-901": Severity.HIGH, "SBP-CONF-903": Severity.MEDIUM}, 60, "C"),
            ({"SBP-CONF-902": Severity.HIGH}, 73.3, "C"),
            ({"SBP-CONF-902": Severity.CRITICAL}, 46.6, "F"),
            # a check whose finding is above its default weighs that much
            ({"SBP-CONF-900": Severity.CRITICAL}, 63.6, "F"),
        ],
    )
    def test_score_and_grade(self, failed, score, grade):
        findings = [
            finding(severity, subject=check_id) for check_id, severity in failed.items()
        ]
        findings = [Finding(**{**f.__dict__, "check_id": f.subject}) for f in findings]
        assert scored(self.CHECKS, findings) == (score, grade)

    def test_any_check_that_passes_raises_it(self):
        # One low check among a hundred critical ones still shows.
        checks = {f"SBP-CONF-{n}": Severity.CRITICAL for n in range(100, 200)}
        checks["SBP-CONF-900"] = Severity.LOW
        low = finding(Severity.LOW, "x")
        assert score_of(checks, [low]) < score_of(checks, []) == 100.0

    def test_several_findings_of_one_check_count_once(self):
        findings = [finding(Severity.LOW, str(i)) for i in range(10)]
        assert score_of({"SBP-CONF-900": Severity.LOW}, findings) == 0
        assert score_of({**self.CHECKS}, findings) == 93.3

    def test_acknowledged_finding_counts_as_passed(self):
        high = Finding(
            **{**finding(Severity.HIGH).__dict__, "check_id": "SBP-CONF-901"}
        )
        assert score_of(self.CHECKS, [high]) == 73.3
        assert score_of(self.CHECKS, [], silenced=[high]) == 100

    def test_critical_means_f_whatever_the_score(self):
        checks = {f"SBP-CONF-{n}": Severity.CRITICAL for n in range(100, 200)}
        critical = Finding(
            **{**finding(Severity.CRITICAL).__dict__, "check_id": "SBP-CONF-100"}
        )
        assert scored(checks, [critical]) == (99.0, "F")


class TestCauses:
    @pytest.fixture
    def checks(self):
        cause = CauseCheck()
        return cause, ConsequenceCheck(cause)

    def test_consequences_under_their_cause(self, portal, checks):
        report = run_audit(portal, checks=list(checks), now=NOW)
        assert [(f.check_id, f.subject) for f in report.findings] == [
            ("SBP-CONF-910", "root")
        ]
        [cause] = report.findings
        assert [f.subject for f in report.consequences_of(cause)] == ["a", "b"]
        data = report.to_dict()
        [item] = data["findings"]
        assert [c["subject"] for c in item["consequences"]] == ["a", "b"]
        assert item["consequences"][0]["cause"] == {
            "check_id": "SBP-CONF-910",
            "subject": "root",
        }
        assert data["summary"]["medium"] == 0
        # the consequence check counts as passed: 4 lost of 4 + 2
        assert report.score == 33.3

    def test_without_the_cause_they_count(self, portal, checks):
        cause, consequence = checks
        cause.fires = False
        report = run_audit(portal, checks=[cause, consequence], now=NOW)
        assert [f.subject for f in report.findings] == ["a", "b"]
        assert report.consequences == ()
        assert report.score == 66.6

    def test_fixing_the_cause_raises_the_score(self, portal, checks):
        before = run_audit(portal, checks=list(checks), now=NOW).score
        checks[0].fires = False
        assert run_audit(portal, checks=list(checks), now=NOW).score > before

    def test_acknowledging_the_cause_takes_them_along(self, portal, checks):
        before = run_audit(portal, checks=list(checks), now=NOW)
        AcknowledgementStore(portal).add(
            before.findings[0], reason="Known", who="siteadmin", now=NOW
        )
        after = run_audit(portal, checks=list(checks), now=NOW)
        assert after.findings == ()
        assert after.score == 100 > before.score
        [item] = after.to_dict()["acknowledged"]
        assert [c["subject"] for c in item["consequences"]] == ["a", "b"]
        assert after.failing(Severity.LOW) == []

    def test_open_consequences_fail_with_their_cause(self, portal, checks):
        report = run_audit(portal, checks=list(checks), now=NOW)
        failing = report.failing(Severity.MEDIUM)
        assert sorted((f.check_id, f.subject) for f in failing) == [
            ("SBP-CONF-910", "root"),
            ("SBP-CONF-911", "a"),
            ("SBP-CONF-911", "b"),
        ]

    def test_undeclared_severity_is_an_error_of_the_check(self, portal):
        report = run_audit(portal, checks=[UndeclaredSeverityCheck()], now=NOW)
        [crash] = report.findings
        assert crash.to_dict()["title"].startswith("Check could not run")


class TestThresholds:
    def test_severity_order(self):
        assert (
            Severity.INFO
            < Severity.LOW
            < Severity.MEDIUM
            < Severity.HIGH
            < Severity.CRITICAL
        )

    @pytest.mark.parametrize(
        "threshold,expected",
        [
            ("critical", []),
            ("high", ["high"]),
            ("medium", ["high", "medium"]),
            ("info", ["high", "medium", "info"]),
            ("never", []),
        ],
    )
    def test_failing(self, portal, threshold, expected):
        findings = [
            finding(Severity.HIGH, "a"),
            finding(Severity.MEDIUM, "b"),
            finding(Severity.INFO, "c"),
        ]
        from collective.securitybp.model import Report

        report = Report(
            site="/plone",
            generated_at=NOW,
            versions={},
            findings=tuple(findings),
            fail_on=parse_fail_on(threshold),
        )
        assert [f.severity.label for f in report.failing(report.fail_on)] == expected
        assert report.failed is bool(expected)

    def test_parse_unknown_severity(self):
        with pytest.raises(
            ValueError, match="Unknown severity 'severe': use one of info, low"
        ):
            parse_fail_on("severe")

    def test_fail_on_from_registry(self, portal):
        from plone import api

        api.portal.set_registry_record("collective.securitybp.fail_on", "critical")
        assert run_audit(portal, checks=[]).fail_on is Severity.CRITICAL
        api.portal.set_registry_record("collective.securitybp.fail_on", "never")
        assert run_audit(portal, checks=[]).fail_on is None


class TestAcknowledgements:
    @pytest.fixture
    def check(self):
        return ConfigurableCheck()

    def acknowledge(self, portal, check, **kw):
        report = run_audit(portal, checks=[check], now=NOW)
        return AcknowledgementStore(portal).add(
            report.findings[0], reason="Accepted risk", who="siteadmin", now=NOW, **kw
        )

    def test_acknowledged_finding_leaves_score(self, portal, check):
        before = run_audit(portal, checks=[check], now=NOW)
        assert before.score == 0
        self.acknowledge(portal, check)
        after = run_audit(portal, checks=[check], now=NOW)
        assert after.findings == ()
        assert after.score == 100
        [item] = after.acknowledged
        assert item.finding.check_id == "SBP-CONF-900"
        data = item.to_dict()["acknowledgement"]
        assert data == {
            "check_id": "SBP-CONF-900",
            "subject": "x",
            "reason": "Accepted risk",
            "who": "siteadmin",
            "when": "2026-11-29T12:00:00+00:00",
            "until": None,
            "until_changed": False,
        }

    def test_acknowledgement_with_expiry(self, portal, check):
        self.acknowledge(portal, check, until=date(2026, 12, 31))
        on_last_day = run_audit(
            portal, checks=[check], now=NOW.replace(month=12, day=31)
        )
        assert on_last_day.findings == ()
        day_after = run_audit(portal, checks=[check], now=NOW + timedelta(days=33))
        assert [f.check_id for f in day_after.findings] == ["SBP-CONF-900"]
        assert day_after.acknowledged == ()

    def test_until_changed(self, portal, check):
        self.acknowledge(portal, check, until_changed=True)
        assert run_audit(portal, checks=[check], now=NOW).findings == ()
        check.detail = "the answer changed"
        report = run_audit(portal, checks=[check], now=NOW)
        assert [f.detail for f in report.findings] == ["the answer changed"]

    def test_without_until_changed_survives_change(self, portal, check):
        self.acknowledge(portal, check)
        check.detail = "the answer changed"
        assert run_audit(portal, checks=[check], now=NOW).findings == ()

    def test_reason_required(self, portal, check):
        with pytest.raises(AcknowledgementError) as info:
            AcknowledgementStore(portal).add(
                run_audit(portal, checks=[check], now=NOW).findings[0],
                reason="   ",
                who="x",
                now=NOW,
            )
        assert info.value.args[0].default.startswith("Say why this finding")

    def test_withdraw(self, portal, check):
        ack = self.acknowledge(portal, check)
        AcknowledgementStore(portal).remove(ack.key)
        assert len(run_audit(portal, checks=[check], now=NOW).findings) == 1
        with pytest.raises(AcknowledgementError):
            AcknowledgementStore(portal).remove(ack.key)

    @pytest.mark.parametrize("value", ["31/12/2026", "tomorrow", "2026-02-30"])
    def test_until_malformed(self, value):
        with pytest.raises(AcknowledgementError) as info:
            parse_until(value, NOW.date())
        assert "YYYY-MM-DD" in info.value.args[0].default

    def test_until_in_past(self):
        with pytest.raises(AcknowledgementError):
            parse_until("2026-11-28", NOW.date())
        assert parse_until("2026-11-29", NOW.date()) == date(2026, 11, 29)
        assert parse_until("", NOW.date()) is None

    def test_reading_writes_nothing(self, portal, check):
        import transaction

        self.acknowledge(portal, check)
        txn = transaction.get()
        resources = list(txn._resources)
        connection = portal._p_jar
        registered = list(connection._registered_objects)
        report = run_audit(portal, now=NOW)
        assert report.checks_run >= 2
        assert list(txn._resources) == resources
        assert list(connection._registered_objects) == registered


class TestSharedPerAudit:
    def test_computed_once_per_audit(self, portal):
        from collective.securitybp.audit import AuditContext

        calls = []

        def factory(context):
            calls.append(context)
            return object()

        context = AuditContext(portal, portal.getPhysicalRoot(), NOW)
        first = context.shared("test.value", factory)
        assert context.shared("test.value", factory) is first
        assert calls == [context]
        other = AuditContext(portal, portal.getPhysicalRoot(), NOW)
        assert other.shared("test.value", factory) is not first
        assert len(calls) == 2

    def test_backup_checks_scan_once(self, portal):
        from collective.securitybp.audit import AuditContext
        from collective.securitybp.checks import backups

        context = AuditContext(portal, portal.getPhysicalRoot(), NOW)
        assert backups.backup_state(context) is backups.backup_state(context)


class CommandsCheck(CauseCheck):
    """The cause, with commands and a link to a setting screen."""

    def run(self, context):
        return [
            self.finding(
                detail="cause",
                remediation="r",
                subject="root",
                commands=[
                    "mkdir -p /srv/x",
                    "chmod -R o-rwx '/srv/x y' && echo <done>",
                ],
                links=[("Setting screen", "@@overview-controlpanel")],
            )
        ]


class TestRendering:
    """Consequences under their cause, commands in their own blocks."""

    @pytest.fixture
    def html(self, portal):
        from plone.app.testing import setRoles
        from plone.app.testing import TEST_USER_ID

        setRoles(portal, TEST_USER_ID, ["Manager"])
        cause = CommandsCheck()
        gsm = getGlobalSiteManager()
        checks = (cause, ConsequenceCheck(cause))
        for check in checks:
            gsm.registerUtility(check, ISecurityCheck, name=check.id)
        try:
            yield portal.restrictedTraverse("@@security-report")()
        finally:
            for check in checks:
                gsm.unregisterUtility(provided=ISecurityCheck, name=check.id)

    def test_commands_in_a_pre_code_block(self, html):
        block = (
            "<code>mkdir -p /srv/x\n"
            "chmod -R o-rwx '/srv/x y' &amp;&amp; echo &lt;done&gt;</code></pre>"
        )
        assert block in html
        assert (
            html[: html.index(block)]
            .rstrip()
            .endswith('<pre class="securitybp-commands" >')
        )
        links = html[html.index(block) :]
        links = links[links.index('<ul class="securitybp-links"') :]
        links = links[: links.index("</ul>")]
        assert "/plone/@@overview-controlpanel" in links
        assert ">Setting screen</a>" in links

    def test_consequences_inside_their_cause(self, html):
        start = html.index('data-check-id="SBP-CONF-910"')
        section = html[start : html.index("</article>\n", html.rindex("SBP-CONF-911"))]
        assert section.count('data-cause="SBP-CONF-910|root"') == 2
        # not listed again on their own
        assert html.count('data-check-id="SBP-CONF-911"') == 2

    def test_score_explained(self, html):
        assert 'id="securitybp-score-help"' in html

    def test_json_carries_lists(self, portal):
        cause = CommandsCheck()
        report = run_audit(portal, checks=[cause, ConsequenceCheck(cause)], now=NOW)
        [item] = report.to_dict(site_url="https://example.org/plone")["findings"]
        assert item["commands"][0] == "mkdir -p /srv/x"
        assert item["links"] == [
            {
                "title": "Setting screen",
                "url": "https://example.org/plone/@@overview-controlpanel",
            }
        ]
        assert len(item["consequences"]) == 2

    def test_text_keeps_commands_whole(self, portal):
        from collective.securitybp.cli import format_report
        from collective.securitybp.cli import Style

        cause = CommandsCheck()
        report = run_audit(portal, checks=[cause, ConsequenceCheck(cause)], now=NOW)
        text = format_report(report, Severity.HIGH, Style(False), width=40)
        lines = text.splitlines()
        assert "               chmod -R o-rwx '/srv/x y' && echo <done>" in lines
        assert any("Follows from it (2)" in line for line in lines)
        assert sum("SBP-CONF-911" in line for line in lines) == 2
