"""The audit runner: runs every registered check and builds the report."""

from collective.securitybp import _
from collective.securitybp import logger
from collective.securitybp.acknowledgements import AcknowledgementStore
from collective.securitybp.interfaces import ISecurityCheck
from collective.securitybp.model import AcknowledgedFinding
from collective.securitybp.model import Finding
from collective.securitybp.model import Report
from collective.securitybp.model import Severity
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timezone
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version
from plone.registry.interfaces import IRegistry
from zope.component import getUtilitiesFor
from zope.component import queryUtility
import platform


FAIL_ON_RECORD = "collective.securitybp.fail_on"


@dataclass(frozen=True)
class AuditContext:
    """What a check looks at."""

    site: object  # the Plone site
    root: object  # the Zope application root
    now: datetime  # timezone-aware, the same for every check of one audit
    _shared: dict = field(default_factory=dict, repr=False, compare=False)

    def shared(self, name, factory):
        """A value computed once per audit and shared by its checks.

        :param name: a key, prefixed with the family (``"privileges.survey"``).
        :param factory: called with this context the first time.
        :returns: what ``factory`` returned; the same object for the rest of
            this audit, gone with the context afterwards.
        """
        try:
            return self._shared[name]
        except KeyError:
            value = self._shared[name] = factory(self)
            return value


def registered_checks():
    """Every registered check, ordered by id."""
    return sorted(
        (check for _name, check in getUtilitiesFor(ISecurityCheck)),
        key=lambda check: check.id,
    )


def _version(distribution):
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def versions():
    """Versions of Plone, Zope, Python and this add-on, and the date and
    source of the advisory data in use."""
    updated, source = _advisories()
    return {
        "plone": _version("Products.CMFPlone"),
        "zope": _version("Zope"),
        "python": platform.python_version(),
        "securitybp": _version("collective.securitybp"),
        "advisories": updated,
        "advisories_source": source,
    }


def _advisories():
    from collective.securitybp.advisories import current

    try:
        data = current()[0]
    except Exception:  # the update checks report broken data themselves
        return None, None
    return data.updated.isoformat(), data.source_label


def fail_on_setting(site):
    """The site's "fail at severity" setting; ``high`` when unset or broken.

    :returns: a :class:`Severity`, or None for "never".
    """
    registry = queryUtility(IRegistry, context=site)
    value = None
    if registry is not None:
        try:
            value = registry.get(FAIL_ON_RECORD)
        except Exception:  # a broken record never breaks the report
            logger.warning("Cannot read %s; using 'high'.", FAIL_ON_RECORD)
    return parse_fail_on(value or "high")


def parse_fail_on(value):
    """``never`` becomes None; anything else a :class:`Severity`.

    :raises ValueError: an unknown name, with the valid ones in the message.
    """
    if str(value).strip().lower() == "never":
        return None
    return Severity.parse(value)


def crash_finding(check):
    """The finding that stands for a check that raised."""
    return Finding(
        check_id=check.id,
        area=check.area,
        severity=Severity.MEDIUM,
        title=_("Check could not run: ${title}", mapping={"title": check.title}),
        detail=_(
            "This check raised an error, so what it looks at is unknown. "
            "The traceback is in the instance's event log."
        ),
        remediation=_(
            "Look for 'Security check ${check_id} failed' in the event log "
            "and fix its cause, or report it to the authors of the check.",
            mapping={"check_id": check.id},
        ),
        reference=check.reference,
    )


def declared_severities(check):
    """The severities ``check`` may give its findings: its default severity
    and those of its ``cases`` (the one source of both)."""
    return {check.severity, *dict(getattr(check, "cases", None) or {}).values()}


def run_check(check, context):
    """Run one check in isolation: an error becomes a finding, never a crash.

    A finding of another type, or with a severity its check does not
    declare, is an error of the check too.
    """
    try:
        findings = list(check.run(context) or ())
        allowed = declared_severities(check)
        for finding in findings:
            if not isinstance(finding, Finding):
                raise TypeError(
                    f"{check.id} returned {type(finding).__name__}, not a Finding"
                )
            if finding.severity not in allowed:
                raise ValueError(
                    f"{check.id} returned a {finding.severity.label} finding; "
                    "declare that severity in the check's cases"
                )
        return findings
    except Exception:
        logger.exception("Security check %s failed", check.id)
        return [crash_finding(check)]


def run_audit(site, root=None, now=None, checks=None, fail_on=False):
    """Audit ``site`` and return a :class:`Report`.

    :param site: the Plone site.
    :param root: the Zope application root; found from the site if omitted.
    :param now: timezone-aware time of the audit; the current time if omitted.
    :param checks: the checks to run; every registered check if omitted.
    :param fail_on: threshold (a Severity, or None for never); the site's
        setting if omitted.
    :returns: a :class:`Report`.
    """
    now = now or datetime.now(timezone.utc)
    if root is None:
        root = site.getPhysicalRoot()
    if checks is None:
        checks = registered_checks()
    if fail_on is False:
        fail_on = fail_on_setting(site)
    context = AuditContext(site=site, root=root, now=now)
    findings = []
    for check in checks:
        findings.extend(run_check(check, context))
    keys = {finding.key for finding in findings}
    consequences = [f for f in findings if f.cause in keys and f.cause != f.key]
    acknowledgements = AcknowledgementStore(site).all()
    today = now.date()
    open_findings, acknowledged = [], []
    for finding in findings:
        if finding in consequences:
            continue
        ack = acknowledgements.get(finding.key)
        if ack is not None and ack.covers(finding, today):
            acknowledged.append(AcknowledgedFinding(finding, ack))
        else:
            open_findings.append(finding)
    return Report(
        site="/".join(site.getPhysicalPath()),
        generated_at=now,
        versions=versions(),
        findings=tuple(open_findings),
        acknowledged=tuple(acknowledged),
        checks_run=len(checks),
        fail_on=fail_on,
        consequences=tuple(consequences),
        checks=tuple((check.id, check.severity) for check in checks),
    )
