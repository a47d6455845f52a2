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


class TestScore:
    def test_no_findings(self):
        assert score_of([]) == 100
        assert grade_of([]) == "A"

    @pytest.mark.parametrize(
        "severities,score,grade",
        [
            ([Severity.INFO] * 5, 100, "A"),
            ([Severity.LOW] * 5, 90, "A"),
            ([Severity.MEDIUM], 95, "A"),
            ([Severity.HIGH], 85, "B"),
            ([Severity.HIGH, Severity.MEDIUM], 80, "B"),
            ([Severity.HIGH] * 2, 70, "C"),
            ([Severity.HIGH] * 3, 55, "D"),
            ([Severity.HIGH] * 4, 40, "D"),
            ([Severity.HIGH] * 5, 25, "F"),
            ([Severity.HIGH] * 10, 0, "F"),
            ([Severity.CRITICAL], 60, "F"),
        ],
    )
    def test_score_and_grade(self, severities, score, grade):
        findings = [finding(s, str(i)) for i, s in enumerate(severities)]
        assert score_of(findings) == score
        assert grade_of(findings) == grade


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
        assert before.score == 98
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
