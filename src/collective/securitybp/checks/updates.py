"""Updates: known vulnerabilities, end of support, the age of the data.

Section "Keep your Plone up-to-date". The advisory data, its date and how to
load a newer file are described in :mod:`collective.securitybp.advisories`.
"""

from collective.securitybp import _
from collective.securitybp import references
from collective.securitybp.advisories import affected
from collective.securitybp.advisories import current
from collective.securitybp.advisories import installed_version
from collective.securitybp.advisories import plone_series
from collective.securitybp.advisories import python_series
from collective.securitybp.advisories import STALE_AFTER_DAYS
from collective.securitybp.advisories import support_end
from collective.securitybp.checks.base import Check
from collective.securitybp.model import Area
from collective.securitybp.model import Severity
from packaging.version import InvalidVersion
from packaging.version import Version


LOAD_COMMAND = "securitybp advisories --zope-conf instance/etc/zope.conf --load FILE"
UPDATE_COMMAND = "securitybp advisories --zope-conf instance/etc/zope.conf --update"


def advisory_data():
    """The advisory data in use (see :func:`advisories.current`)."""
    data, _problem = current()
    return data


class VulnerableDistribution(Check):
    """An installed package is in the affected range of a security advisory.

    The advisory data shipped with the add-on (or a newer file loaded with
    ``securitybp advisories --load``) lists advisories of Plone, Zope and
    their packages since 2020, each with the version ranges it affects
    (PEP 440 specifiers), its source and its date. The check compares them
    with the versions installed in the running Python environment
    (``importlib.metadata``): one finding per advisory and package. Its
    severity is critical for an advisory rated critical, high otherwise: a
    fix is released and waiting. An advisory is left out when its hotfix
    package is installed.

    Example finding: "Installed package has a known vulnerability" (critical)
    for plone.app.portlets 7.0.1 and GHSA-rr49-f9g6-c9r5, upgrade to 7.0.2.

    It cannot see advisories newer than the data (see SBP-UPDATE-004),
    packages patched in place, or code outside installed distributions.
    """

    id = "SBP-UPDATE-001"
    title = _("Installed package has a known vulnerability")
    area = Area.UPDATES
    severity = Severity.HIGH
    cases = {"advisory rated critical": Severity.CRITICAL}
    reference = references.UP_TO_DATE

    def run(self, context):
        data = advisory_data()
        findings = []
        for match in affected(data):
            advisory = match.advisory
            mapping = {
                "distribution": match.distribution,
                "installed": match.installed,
                "id": advisory.id,
                "aliases": ", ".join(advisory.aliases) or "-",
                "rating": advisory.severity,
                "summary": advisory.summary,
                "published": advisory.published,
                "updated": data.updated.isoformat(),
                "fixed_in": match.fixed_in,
                "source": advisory.source,
            }
            if match.fixed_in:
                remediation = _(
                    "Upgrade ${distribution} to ${fixed_in} or later: raise its "
                    "pin in your constraints or versions file, reinstall and "
                    "restart the instance. Details and workarounds: ${source}",
                    mapping=mapping,
                )
            else:
                remediation = _(
                    "Upgrade ${distribution} to a release that fixes "
                    "${id}, then restart the instance. Details: ${source}",
                    mapping=mapping,
                )
            findings.append(
                self.finding(
                    subject=f"{match.distribution} {advisory.id}",
                    case="advisory rated critical"
                    if advisory.severity == "critical"
                    else None,
                    links=[(advisory.id, advisory.source)]
                    if "://" in (advisory.source or "")
                    else [],
                    detail=_(
                        "${distribution} ${installed} is affected by ${id} "
                        "(${aliases}; rated ${rating}, published ${published}): "
                        "${summary} (advisory data of ${updated})",
                        mapping=mapping,
                    ),
                    remediation=remediation,
                )
            )
        return findings


class PlonePastSecuritySupport(Check):
    """The installed Plone series no longer gets security fixes.

    Each Plone series has an end of security support, after which
    vulnerabilities stay unfixed (Plone 5.2: 2024-10-31; every Plone 6
    series: 2027-12-31). The dates come with the advisory data; the series
    is that of the installed ``Products.CMFPlone``.

    Example finding: "Plone past the end of its security support" (high)
    for Plone 5.2.

    A series newer than the data knows is not reported.
    """

    id = "SBP-UPDATE-002"
    title = _("Plone past the end of its security support")
    area = Area.UPDATES
    severity = Severity.HIGH
    reference = references.UP_TO_DATE

    def run(self, context):
        series = plone_series()
        data = advisory_data()
        end = support_end(data.plone_support, series) if series else None
        if end is None or end >= context.now.date():
            return []
        mapping = {"series": series, "end": end.isoformat()}
        return [
            self.finding(
                subject=f"Plone {series}",
                detail=_(
                    "This site runs Plone ${series}, whose security support "
                    "ended on ${end}. Vulnerabilities found since then are not "
                    "fixed for it.",
                    mapping=mapping,
                ),
                remediation=_(
                    "Upgrade to a supported Plone release "
                    "(https://plone.org/download/release-schedule). Test the "
                    "upgrade on a copy of the site first.",
                ),
            )
        ]


class PythonPastEndOfLife(Check):
    """The Python that runs Zope is past its end of life.

    Python versions get security fixes for five years; after their end of
    life, vulnerabilities in Python itself stay unfixed (3.10: 2026-10-31,
    3.11: 2027-10-31). The dates come with the advisory data.

    Example finding: "Python past its end of life" (high) for Python 3.10.
    """

    id = "SBP-UPDATE-003"
    title = _("Python past its end of life")
    area = Area.UPDATES
    severity = Severity.HIGH
    reference = references.UP_TO_DATE

    def run(self, context):
        version = python_series()
        end = support_end(advisory_data().python_end_of_life, version)
        if end is None or end >= context.now.date():
            return []
        mapping = {"version": version, "end": end.isoformat()}
        return [
            self.finding(
                subject=f"Python {version}",
                detail=_(
                    "Zope runs on Python ${version}, which reached its end of "
                    "life on ${end} and gets no security fixes any more.",
                    mapping=mapping,
                ),
                remediation=_(
                    "Move the instance to a supported Python version that your "
                    "Plone release supports: create a new virtual environment "
                    "with it and reinstall (https://devguide.python.org/versions/).",
                ),
            )
        ]


class AdvisoryDataStale(Check):
    """The advisory data is older than 180 days.

    SBP-UPDATE-001 knows only the advisories in its data: data older than
    half a year very likely misses some. The data's date is the
    ``updated`` field of the file in use, the newer of the file shipped
    with the add-on and the one an administrator loaded or fetched from OSV
    with ``securitybp advisories --update`` (the day of the update); every
    finding of SBP-UPDATE-001 shows it too, the report shows it with its
    source, and ``securitybp advisories`` prints both. When a loaded file is
    ignored (SBP-UPDATE-005), the shipped data is in use and this finding
    follows from that one: loading a valid file fixes both.

    Example finding: "Advisory data is stale" (low), dated 2026-11-29 and
    200 days old.
    """

    id = "SBP-UPDATE-004"
    title = _("Advisory data is stale")
    area = Area.UPDATES
    severity = Severity.LOW
    reference = references.UP_TO_DATE

    def run(self, context):
        data, problem = current()
        today = context.now.date()
        if not data.is_stale(today):
            return []
        mapping = {
            "updated": data.updated.isoformat(),
            "days": data.age_days(today),
            "limit": STALE_AFTER_DAYS,
            "path": data.path,
            "command": LOAD_COMMAND,
        }
        return [
            self.finding(
                subject="advisory data",
                # A loaded file that is ignored leaves the shipped data in use.
                cause=(AdvisoryFileIgnored.id, "advisory file") if problem else None,
                detail=_(
                    "The advisory data in use (${path}) is dated ${updated}, "
                    "${days} days ago (more than ${limit}). Advisories "
                    "published since then are not checked.",
                    mapping=mapping,
                ),
                remediation=_(
                    "Update the advisory data from OSV (${update}, for example "
                    "daily from cron), upgrade collective.securitybp, or load a "
                    "newer advisory file: ${command}. Subscribe to the "
                    "plone-announce mailing list for security announcements.",
                    mapping=dict(mapping, update=UPDATE_COMMAND),
                ),
            )
        ]


class AdvisoryFileIgnored(Check):
    """The loaded advisory file cannot be used.

    ``securitybp advisories --load`` validates a file before it replaces
    anything, but the stored file can still be edited or damaged later.
    Such a file is ignored (the shipped data is used) and this check says
    why, so that newer advisories are not silently lost.

    Example finding: "Loaded advisory file is ignored" (medium): "it is not
    JSON: Expecting value at line 1, column 1."
    """

    id = "SBP-UPDATE-005"
    title = _("Loaded advisory file is ignored")
    area = Area.UPDATES
    severity = Severity.MEDIUM
    reference = references.UP_TO_DATE

    def run(self, context):
        data, problem = current()
        if not problem:
            return []
        mapping = {
            "problem": problem,
            "updated": data.updated.isoformat(),
            "command": LOAD_COMMAND,
        }
        return [
            self.finding(
                subject="advisory file",
                detail=_(
                    "${problem} The data shipped with the add-on, dated "
                    "${updated}, is used instead.",
                    mapping=mapping,
                ),
                remediation=_(
                    "Load a valid file again (${command}); it is checked "
                    "before it replaces anything.",
                    mapping=mapping,
                ),
            )
        ]


# The distribution whose version is "the Plone version", then a fallback.
PLONE_DISTRIBUTIONS = ("Plone", "Products.CMFPlone")


def _installed(names):
    for name in names:
        text = installed_version(name)
        if text:
            try:
                return Version(text)
            except InvalidVersion:
                return None
    return None


class NotLatestBugfixRelease(Check):
    """Plone or Zope is not the latest bugfix release of its series.

    Plone fixes vulnerabilities in the current bugfix release of each
    supported series ("Current versions will be patched"): a site on an
    older bugfix release waits for fixes it could already have, and upgrades
    in bigger steps later. ``securitybp advisories --update`` records the
    newest final release of each Plone and Zope series from PyPI with the
    advisory data; the check compares it with the installed ``Plone`` (or
    ``Products.CMFPlone``) and ``Zope``.

    The severity is low: keeping current is hygiene. A release that fixes an
    advisory affecting the site is reported by SBP-UPDATE-001 at its own
    severity.

    Example finding: "Not the latest bugfix release of its series" (low)
    for Plone 6.2: 6.2.2 is installed, 6.2.3 is the newest, with the pip
    and buildout commands to upgrade.

    The check is quiet while no release data was recorded (the data shipped
    with the add-on has none; run ``securitybp advisories --update``), and
    for a series the data does not list.
    """

    id = "SBP-UPDATE-006"
    title = _("Not the latest bugfix release of its series")
    area = Area.UPDATES
    severity = Severity.LOW
    reference = references.UP_TO_DATE

    def run(self, context):
        data = advisory_data()
        findings = []
        for name, distributions in (
            ("Plone", PLONE_DISTRIBUTIONS),
            ("Zope", ("Zope",)),
        ):
            installed = _installed(distributions)
            if installed is None:
                continue
            series = f"{installed.major}.{installed.minor}"
            newest = data.releases.get(name, {}).get(series)
            try:
                if newest is None or Version(newest) <= installed:
                    continue
            except InvalidVersion:
                continue
            mapping = {
                "name": name,
                "series": series,
                "installed": str(installed),
                "latest": newest,
                "fetched": data.releases_fetched[:10],
            }
            if name == "Plone":
                remediation = _(
                    "Upgrade to Plone ${latest}: pip install -c "
                    "https://dist.plone.org/release/${latest}/constraints.txt "
                    "Plone==${latest} (with buildout: extends = "
                    "https://dist.plone.org/release/${latest}/versions.cfg, "
                    "then bin/buildout), restart the instance and run the "
                    "upgrade steps of the site (@@plone-upgrade). Try it on a "
                    "copy first.",
                    mapping=mapping,
                )
            else:
                remediation = _(
                    "Upgrade Zope to ${latest}: pip install -c "
                    "https://zopefoundation.github.io/Zope/releases/${latest}/"
                    "constraints.txt Zope==${latest} (with buildout: extends = "
                    "https://zopefoundation.github.io/Zope/releases/${latest}/"
                    "versions.cfg, then bin/buildout), and restart the "
                    "instance. A newer Plone bugfix release usually pins it.",
                    mapping=mapping,
                )
            findings.append(
                self.finding(
                    subject=f"{name} {series}",
                    detail=_(
                        "${name} ${installed} is installed; the newest release "
                        "of the ${series} series is ${latest} (release data of "
                        "${fetched}). Security fixes go into the newest bugfix "
                        "release of each series.",
                        mapping=mapping,
                    ),
                    remediation=remediation,
                )
            )
        return findings
