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


# Weight of a check in the score, per severity (README: "Score and grade"):
# each step up the scale counts twice as much; information counts nothing.
SCORE_WEIGHTS = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 4,
    Severity.CRITICAL: 8,
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


def finding_key(check_id, subject=""):
    """The key of a finding: what acknowledgements and causes refer to."""
    return f"{check_id}|{subject}"


@dataclass(frozen=True)
class Link:
    """A page that helps with a remediation.

    ``url`` is either absolute (``https://...``, public documentation) or a
    path relative to the site root (``@@security-controlpanel``, the site's
    own setting screen), made absolute with the site's URL when shown.
    """

    title: str
    url: str

    @property
    def on_site(self):
        return "://" not in self.url

    def resolve(self, site_url=""):
        """The URL to show: site paths joined to ``site_url``."""
        if not self.on_site:
            return self.url
        return f"{site_url.rstrip('/')}/{self.url.lstrip('/')}"


@dataclass(frozen=True)
class Finding:
    """One answer of a check that needs attention.

    ``remediation`` is prose; ``commands`` are shell commands that carry it
    out, runnable as written and in order; ``links`` are :class:`Link`
    objects. ``cause`` is the key (:func:`finding_key`) of the finding this
    one follows from: when that finding is in the same report, this one is
    shown under it and does not count on its own.
    """

    check_id: str
    area: Area
    severity: Severity
    title: str
    detail: str
    remediation: str
    reference: str
    subject: str = ""
    commands: tuple = ()
    links: tuple = ()
    cause: str = ""

    @property
    def key(self):
        """Identity of the finding across runs: check id and subject."""
        return finding_key(self.check_id, self.subject)

    @property
    def fingerprint(self):
        """Changes whenever what the finding says changes."""
        content = "\n".join((self.severity.label, text(self.title), text(self.detail)))
        return hashlib.sha256(content.encode("utf-8")).hexdigest()[:16]

    @property
    def cause_id(self):
        """``(check_id, subject)`` of the cause, or None."""
        if not self.cause:
            return None
        check_id, _sep, subject = self.cause.partition("|")
        return check_id, subject

    def to_dict(self, request=None):
        """What the finding says, as JSON-ready data."""
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

    def as_data(self, request=None, site_url=""):
        """:meth:`to_dict` with the remediation's ``commands`` and ``links``
        (site paths made absolute with ``site_url``) and the ``cause``: what
        every door (page, JSON, REST, command line) shows."""
        cause = self.cause_id
        data = self.to_dict(request)
        data["commands"] = list(self.commands)
        data["links"] = [
            {"title": text(link.title, request), "url": link.resolve(site_url)}
            for link in self.links
        ]
        data["cause"] = {"check_id": cause[0], "subject": cause[1]} if cause else None
        return data


@dataclass(frozen=True)
class AcknowledgedFinding:
    """A finding silenced by an acknowledgement."""

    finding: Finding
    acknowledgement: "Acknowledgement"  # noqa: F821

    def to_dict(self, request=None):
        data = self.finding.to_dict(request)
        data["acknowledgement"] = self.acknowledgement.to_dict()
        return data

    def as_data(self, request=None, site_url=""):
        data = self.finding.as_data(request, site_url)
        data["acknowledgement"] = self.acknowledgement.to_dict()
        return data


def score_of(checks, findings, silenced=()):
    """The score from 0 to 100, in tenths: the severity-weighted share of
    checks passed.

    A check weighs :data:`SCORE_WEIGHTS` of its default severity, or of its
    most severe finding when that is higher; it loses the weight of its most
    severe open finding. Consequences are not passed here: they count with
    their cause.

    :param checks: ``{check_id: default severity}`` of the checks that ran.
    :param findings: the open findings that count.
    :param silenced: findings that count but were acknowledged: they weigh
        in the total and lose nothing.
    """
    checks = dict(checks)
    worst_open, worst = {}, {}
    for finding in findings:
        worst_open[finding.check_id] = max(
            worst_open.get(finding.check_id, Severity.INFO), finding.severity
        )
    for finding in (*findings, *silenced):
        worst[finding.check_id] = max(
            worst.get(finding.check_id, Severity.INFO), finding.severity
        )
        checks.setdefault(finding.check_id, finding.severity)
    total = lost = 0
    for check_id, default in checks.items():
        total += SCORE_WEIGHTS[max(default, worst.get(check_id, Severity.INFO))]
        lost += SCORE_WEIGHTS[worst_open.get(check_id, Severity.INFO)]
    if not total:
        return 100.0
    # Tenths, rounded down: any check that passes raises the score, and
    # 100 means nothing is open.
    return (1000 * (total - lost) // total) / 10


def grade_of(score, findings):
    """The letter grade: from the score, and "F" whenever an open finding
    (consequences included) is critical."""
    if any(f.severity is Severity.CRITICAL for f in findings):
        return "F"
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
    findings: tuple = ()  # open findings that count: the "to do" list
    acknowledged: tuple = ()  # of AcknowledgedFinding
    checks_run: int = 0
    fail_on: object = field(default=Severity.HIGH)  # Severity or None (never)
    consequences: tuple = ()  # findings whose cause is in this report
    checks: tuple = ()  # (check_id, default severity) of the checks that ran

    @property
    def score(self):
        silenced = [item.finding for item in self.acknowledged]
        return score_of(self.checks, self.findings, silenced)

    @property
    def grade(self):
        return grade_of(self.score, (*self.findings, *self.open_consequences))

    def consequences_of(self, finding):
        """The findings that follow from ``finding``, most severe first."""
        found = [c for c in self.consequences if c.cause == finding.key]
        return sorted(found, key=lambda f: (-f.severity, f.check_id, f.subject))

    @property
    def open_consequences(self):
        """Consequences of open findings: fixed with their cause."""
        keys = {f.key for f in self.findings}
        return tuple(c for c in self.consequences if c.cause in keys)

    @property
    def summary(self):
        counts = {s.label: 0 for s in Severity}
        for finding in self.findings:
            counts[finding.severity.label] += 1
        return counts

    def failing(self, threshold):
        """Unacknowledged findings at or above ``threshold`` (None: none),
        consequences of open findings included."""
        if threshold is None:
            return []
        return [
            f
            for f in (*self.findings, *self.open_consequences)
            if f.severity >= threshold
        ]

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

    def to_dict(self, request=None, site_url=None):
        """The report as JSON-ready data; texts in ``request``'s language.

        :param site_url: the site's URL, for links to its setting screens;
            the site's path when omitted.
        """
        site_url = self.site if site_url is None else site_url

        def item(finding, data=None):
            data = data or finding.as_data(request, site_url)
            data["consequences"] = [
                c.as_data(request, site_url) for c in self.consequences_of(finding)
            ]
            return data

        return {
            "site": self.site,
            "generated_at": self.generated_at.isoformat(),
            "versions": dict(self.versions),
            "score": self.score,
            "grade": self.grade,
            "summary": self.summary,
            "checks_run": self.checks_run,
            "checks": [
                {"check_id": check_id, "severity": severity.label}
                for check_id, severity in self.checks
            ],
            "fail_on": self.fail_on.label if self.fail_on else "never",
            "failed": self.failed,
            "findings": [item(f) for _area, items in self.by_area() for f in items],
            "acknowledged": [
                item(a.finding, a.as_data(request, site_url)) for a in self.acknowledged
            ],
        }
