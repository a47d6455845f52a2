"""The plain data of an audit: severities, areas, findings and reports.

Everything here is immutable and free of Zope objects, so a report can be
rendered as HTML, serialised as JSON or printed on a terminal alike.
"""

from collective.securitybp import _
from dataclasses import dataclass
from dataclasses import field
from enum import Enum
from enum import IntEnum
from zope.i18n import translate
from zope.i18nmessageid import Message
import hashlib
import re


def text(value, request=None):
    """A finding's text as a plain string: translated for ``request``'s
    language when given, else the English default with its values filled in.
    """
    if isinstance(value, Message):
        return translate(value, context=request)
    return value


class Severity(IntEnum):
    """How urgent a finding is; ordered, so thresholds are comparisons."""

    INFO = 10
    LOW = 20
    MEDIUM = 30
    HIGH = 40
    CRITICAL = 50

    @property
    def label(self):
        """The lower-case name used in JSON, URLs and the command line."""
        return self.name.lower()

    @classmethod
    def parse(cls, value):
        """Return the severity for a name such as ``"high"``.

        :param value: a severity, or its name in any case.
        :returns: a :class:`Severity`.
        :raises ValueError: the name is not a severity; the message lists
            the valid names.
        """
        if isinstance(value, cls):
            return value
        try:
            return cls[str(value).strip().upper()]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise ValueError(
                f"Unknown severity {value!r}: use one of {names}."
            ) from None


# Penalty of one unacknowledged finding, per severity (README: "Score").
SCORE_WEIGHTS = {
    Severity.INFO: 0,
    Severity.LOW: 2,
    Severity.MEDIUM: 5,
    Severity.HIGH: 15,
    Severity.CRITICAL: 40,
}
# Lowest score for each grade, best first; below the last one is "F".
GRADE_THRESHOLDS = (("A", 90), ("B", 75), ("C", 60), ("D", 40))


class Area(Enum):
    """A section of the best-practices document a check belongs to.

    The members are in the order of the document, which is the order of
    the report. ``code`` is the middle part of a check id.
    """

    BACKUPS = ("BACKUP", _("Backups & monitoring"))
    UPDATES = ("UPDATE", _("Updates"))
    PRIVILEGES = ("PRIV", _("Privileges"))
    PROCESS = ("PROC", _("Process & files"))
    MANAGEMENT = ("ZMI", _("Management exposure"))
    HEADERS = ("HEADER", _("Headers"))
    CONFIGURATION = ("CONF", _("Configuration"))

    def __init__(self, code, title):
        self.code = code
        self.title = title

    @property
    def label(self):
        """The lower-case name used in JSON."""
        return self.name.lower()

    @classmethod
    def from_code(cls, code):
        for area in cls:
            if area.code == code:
                return area
        return None


CHECK_ID_PATTERN = re.compile(r"^SBP-(?P<area>[A-Z]+)-(?P<number>\d{3})$")


def validate_check_id(check_id, area):
    """Raise ValueError unless ``check_id`` is ``SBP-<AREA>-<NNN>`` for ``area``.

    :param check_id: the id a check declares.
    :param area: the :class:`Area` the check declares.
    :raises ValueError: with a message naming the id and the expected form.
    """
    match = CHECK_ID_PATTERN.match(check_id or "")
    if match is None:
        codes = ", ".join(a.code for a in Area)
        raise ValueError(
            f"Malformed check id {check_id!r}: use SBP-<AREA>-<NNN>, where "
            f"AREA is one of {codes} and NNN three digits, e.g. SBP-PRIV-001."
        )
    if not isinstance(area, Area):
        raise ValueError(f"Check {check_id} has no valid area: {area!r}.")
    if match.group("area") != area.code:
        raise ValueError(
            f"Check id {check_id} does not match its area {area.label!r}: "
            f"ids of that area start with SBP-{area.code}-."
        )


@dataclass(frozen=True)
class Finding:
    """One answer of a check that needs attention."""

    check_id: str
    area: Area
    severity: Severity
    title: str
    detail: str
    remediation: str
    reference: str
    subject: str = ""

    @property
    def key(self):
        """Identity of the finding across runs: check id and subject."""
        return f"{self.check_id}|{self.subject}"

    @property
    def fingerprint(self):
        """Changes whenever what the finding says changes."""
        content = "\n".join((self.severity.label, text(self.title), text(self.detail)))
        return hashlib.sha256(content.encode("utf-8")).hexdigest()[:16]

    def to_dict(self, request=None):
        return {
            "check_id": self.check_id,
            "area": self.area.label,
            "area_title": text(self.area.title, request),
            "severity": self.severity.label,
            "title": text(self.title, request),
            "detail": text(self.detail, request),
            "remediation": text(self.remediation, request),
            "reference": self.reference,
            "subject": self.subject,
        }


@dataclass(frozen=True)
class AcknowledgedFinding:
    """A finding silenced by an acknowledgement."""

    finding: Finding
    acknowledgement: "Acknowledgement"  # noqa: F821

    def to_dict(self, request=None):
        data = self.finding.to_dict(request)
        data["acknowledgement"] = self.acknowledgement.to_dict()
        return data


def score_of(findings):
    """The score from 0 to 100 for unacknowledged findings."""
    return max(0, 100 - sum(SCORE_WEIGHTS[f.severity] for f in findings))


def grade_of(findings):
    """The letter grade: from the score, and "F" whenever one is critical."""
    if any(f.severity is Severity.CRITICAL for f in findings):
        return "F"
    score = score_of(findings)
    for grade, lowest in GRADE_THRESHOLDS:
        if score >= lowest:
            return grade
    return "F"


@dataclass(frozen=True)
class Report:
    """The result of one audit: plain data for every door."""

    site: str
    generated_at: object  # datetime, timezone-aware
    versions: dict
    findings: tuple = ()
    acknowledged: tuple = ()
    checks_run: int = 0
    fail_on: object = field(default=Severity.HIGH)  # Severity or None (never)

    @property
    def score(self):
        return score_of(self.findings)

    @property
    def grade(self):
        return grade_of(self.findings)

    @property
    def summary(self):
        counts = {s.label: 0 for s in Severity}
        for finding in self.findings:
            counts[finding.severity.label] += 1
        return counts

    def failing(self, threshold):
        """Unacknowledged findings at or above ``threshold`` (None: none)."""
        if threshold is None:
            return []
        return [f for f in self.findings if f.severity >= threshold]

    @property
    def failed(self):
        return bool(self.failing(self.fail_on))

    def by_area(self, findings=None):
        """(area, findings) pairs in the document's order, empty areas left out."""
        findings = self.findings if findings is None else findings
        groups = []
        for area in Area:
            items = [f for f in findings if f.area is area]
            if items:
                items.sort(key=lambda f: (-f.severity, f.check_id, f.subject))
                groups.append((area, items))
        return groups

    def to_dict(self, request=None):
        """The report as JSON-ready data; texts in ``request``'s language."""
        return {
            "site": self.site,
            "generated_at": self.generated_at.isoformat(),
            "versions": dict(self.versions),
            "score": self.score,
            "grade": self.grade,
            "summary": self.summary,
            "checks_run": self.checks_run,
            "fail_on": self.fail_on.label if self.fail_on else "never",
            "failed": self.failed,
            "findings": [
                f.to_dict(request) for _area, items in self.by_area() for f in items
            ],
            "acknowledged": [a.to_dict(request) for a in self.acknowledged],
        }
