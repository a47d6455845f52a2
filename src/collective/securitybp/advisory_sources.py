"""Advisory and release data from OSV and PyPI.

:func:`build` asks OSV (https://osv.dev), the open vulnerability database
that carries the GitHub and PyPA advisories of Plone, Zope and their
dependencies, about every distribution installed in this Python environment,
through its documented API:

- ``POST {osv}/v1/querybatch`` with one query per installed distribution
  and version, which answers the ids of the advisories affecting it;
- ``GET {osv}/v1/vulns/{id}`` for the details of each.

Each advisory is mapped to the add-on's advisory data
(:mod:`collective.securitybp.advisories`): its id and aliases, summary, the
affected version ranges of each PyPI package (from the ``ECOSYSTEM`` events
``introduced``, ``fixed`` and ``last_affected``), and the severity of the
advisory's own rating (GitHub's ``database_specific.severity``, else the
base score of a CVSS v3 vector, else "unknown"). They are merged into the
data shipped with the add-on: a shipped entry is never lost; an OSV advisory
with its id, or naming it among its aliases, updates it and keeps its id, so
acknowledgements stay valid; any other is added.

It also reads the release lists of ``Plone`` and ``Zope`` from PyPI's JSON
API (``GET {pypi}/pypi/{name}/json``) and records the newest final release
of each series ("6.2" -> "6.2.3").

Only the standard library speaks HTTP (``urllib``), so HTTPS proxies from
the environment (``https_proxy``, ``no_proxy``) apply. Any failure raises
:class:`SourceError` with a message saying which service failed and why.
"""

from collective.securitybp.advisories import AdvisoryDataError
from collective.securitybp.advisories import shipped_raw
from datetime import datetime
from datetime import timezone
from importlib.metadata import distributions
from packaging.specifiers import InvalidSpecifier
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion
from packaging.version import Version
from urllib.parse import quote
import json
import math
import urllib.error
import urllib.request


OSV_URL = "https://api.osv.dev"
PYPI_URL = "https://pypi.org"
TIMEOUT = 30  # seconds, for each request
BATCH_SIZE = 1000  # OSV's limit of queries per querybatch request
MAX_PAGES = 20  # follow-up pages of one querybatch, at most
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
RELEASE_DISTRIBUTIONS = ("Plone", "Zope")
OSV_PAGE = "https://osv.dev/vulnerability/"
SUMMARY_LENGTH = 500
GITHUB_SEVERITIES = {
    "LOW": "low",
    "MODERATE": "moderate",
    "MEDIUM": "moderate",
    "HIGH": "high",
    "CRITICAL": "critical",
}
USER_AGENT = "collective.securitybp (securitybp advisories --update)"


class SourceError(AdvisoryDataError):
    """OSV or PyPI cannot be reached or answered something unusable."""


# HTTP


def fetch_json(url, payload=None, timeout=TIMEOUT, service="OSV"):
    """GET ``url`` (or POST ``payload`` as JSON) and decode the JSON answer.

    :raises SourceError: the service cannot be reached, times out, answers
        an HTTP error, too much, or not JSON.
    """
    if not url.startswith(("https://", "http://")):
        raise SourceError(f"{url} is not an http or https address of {service}.")
    data = None
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if payload is not None:
        data = json.dumps(payload).encode("utf-8")
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            content = response.read(MAX_RESPONSE_BYTES + 1)
    except urllib.error.HTTPError as error:
        raise SourceError(
            f"{service} answered HTTP {error.code} {error.reason} for {url}."
        ) from None
    except urllib.error.URLError as error:
        reason = error.reason
        if isinstance(reason, TimeoutError):
            reason = f"no answer within {timeout} seconds"
        raise SourceError(f"cannot reach {service} at {url}: {reason}.") from None
    except TimeoutError:
        raise SourceError(
            f"{service} did not answer {url} within {timeout} seconds."
        ) from None
    except OSError as error:
        raise SourceError(f"cannot reach {service} at {url}: {error}.") from None
    if len(content) > MAX_RESPONSE_BYTES:
        raise SourceError(f"{service} answered more than 32 MB for {url}.")
    try:
        return json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SourceError(f"{service} did not answer JSON for {url}.") from None


def _malformed(what, url):
    return SourceError(f"OSV answered malformed data for {url}: {what}.")


# OSV


def installed_distributions():
    """``(name, version)`` of every installed distribution, once per name."""
    found = {}
    for distribution in distributions():
        name = distribution.metadata["Name"]
        if not name or not distribution.version:
            continue
        found.setdefault(canonicalize_name(name), (name, distribution.version))
    return sorted(found.values(), key=lambda item: item[0].lower())


def query_ids(osv_url, packages, timeout=TIMEOUT):
    """The ids of the advisories OSV knows for ``packages``.

    :param packages: ``(name, version)`` pairs.
    :returns: a sorted list of ids.
    :raises SourceError: OSV failed or answered malformed data.
    """
    url = f"{osv_url}/v1/querybatch"
    ids = set()
    for start in range(0, len(packages), BATCH_SIZE):
        queries = [
            {"package": {"name": name, "ecosystem": "PyPI"}, "version": version}
            for name, version in packages[start : start + BATCH_SIZE]
        ]
        for _page in range(MAX_PAGES):
            answer = fetch_json(url, {"queries": queries}, timeout=timeout)
            results = answer.get("results") if isinstance(answer, dict) else None
            if not isinstance(results, list) or len(results) != len(queries):
                raise _malformed("'results' is not one result per query", url)
            following = []
            for query, result in zip(queries, results, strict=True):
                if not isinstance(result, dict):
                    raise _malformed("a result is not an object", url)
                vulns = result.get("vulns") or []
                if not isinstance(vulns, list):
                    raise _malformed("'vulns' is not a list", url)
                for vuln in vulns:
                    if not isinstance(vuln, dict) or not isinstance(
                        vuln.get("id"), str
                    ):
                        raise _malformed("an advisory has no id", url)
                    ids.add(vuln["id"])
                token = result.get("next_page_token")
                if token:
                    following.append(dict(query, page_token=token))
            if not following:
                break
            queries = following
    return sorted(ids)


def fetch_vuln(osv_url, vuln_id, timeout=TIMEOUT):
    """The OSV record of ``vuln_id``.

    :raises SourceError: OSV failed or the record is not an OSV record.
    """
    url = f"{osv_url}/v1/vulns/{quote(vuln_id, safe='')}"
    record = fetch_json(url, timeout=timeout)
    if not isinstance(record, dict) or record.get("id") != vuln_id:
        raise _malformed(f"it is not the record of {vuln_id}", url)
    return record


def _specifier(text):
    try:
        SpecifierSet(text)
    except InvalidSpecifier:
        return None
    return text


def _bounded(introduced, operator, version):
    if introduced in (None, "0"):
        return f"{operator}{version}"
    return f">={introduced},{operator}{version}"


def ecosystem_ranges(events):
    """PEP 440 specifiers for OSV ``ECOSYSTEM`` range events.

    ``[{"introduced": "0"}, {"fixed": "1.2"}]`` becomes ``["<1.2"]``;
    ``last_affected`` gives ``<=``, and an introduced version without an end
    ``>=``. Versions that are not PEP 440 are left out.
    """
    ranges, introduced = [], None
    for event in events:
        if not isinstance(event, dict):
            continue
        if "introduced" in event:
            if introduced is not None:
                ranges.append(f">={introduced}")
            introduced = str(event["introduced"])
        elif "fixed" in event or "limit" in event:
            end = str(event.get("fixed", event.get("limit")))
            ranges.append(_bounded(introduced, "<", end))
            introduced = None
        elif "last_affected" in event:
            ranges.append(_bounded(introduced, "<=", str(event["last_affected"])))
            introduced = None
    if introduced is not None:
        ranges.append(f">={introduced}")
    return [text for text in ranges if _specifier(text)]


def affected_packages(record):
    """The add-on's ``affected`` entries for the PyPI packages of ``record``."""
    affected = {}
    for entry in record.get("affected") or ():
        package = entry.get("package") if isinstance(entry, dict) else None
        if not isinstance(package, dict) or package.get("ecosystem") != "PyPI":
            continue
        name = package.get("name")
        if not isinstance(name, str) or not name:
            continue
        ranges = []
        for item in entry.get("ranges") or ():
            if isinstance(item, dict) and item.get("type") == "ECOSYSTEM":
                ranges += ecosystem_ranges(item.get("events") or ())
        if not ranges:
            ranges = [
                text
                for text in (f"=={v}" for v in entry.get("versions") or ())
                if _specifier(text)
            ]
        if ranges:
            known = affected.setdefault(name, [])
            known += [text for text in ranges if text not in known]
    return [{"package": name, "ranges": ranges} for name, ranges in affected.items()]


_CVSS3 = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_CVSS3_PR = {
    "U": {"N": 0.85, "L": 0.62, "H": 0.27},
    "C": {"N": 0.85, "L": 0.68, "H": 0.5},
}


def _round_up(value):
    scaled = round(value * 100000)
    if scaled % 10000 == 0:
        return scaled / 100000.0
    return (math.floor(scaled / 10000) + 1) / 10.0


def cvss3_score(vector):
    """The base score of a CVSS v3 vector, or None when it cannot be read."""
    try:
        parts = dict(part.split(":", 1) for part in vector.split("/")[1:])
        scope = parts["S"]
        impact_sub = 1 - math.prod(1 - _CVSS3["C"][parts[m]] for m in ("C", "I", "A"))
        if scope == "U":
            impact = 6.42 * impact_sub
        else:
            impact = 7.52 * (impact_sub - 0.029) - 3.25 * (impact_sub - 0.02) ** 15
        exploitability = (
            8.22
            * _CVSS3["AV"][parts["AV"]]
            * _CVSS3["AC"][parts["AC"]]
            * _CVSS3_PR[scope][parts["PR"]]
            * _CVSS3["UI"][parts["UI"]]
        )
    except (KeyError, ValueError, AttributeError):
        return None
    if impact <= 0:
        return 0.0
    if scope == "U":
        return _round_up(min(impact + exploitability, 10))
    return _round_up(min(1.08 * (impact + exploitability), 10))


def rating(record):
    """The severity of the advisory's own rating, in the add-on's words."""
    specific = record.get("database_specific")
    if isinstance(specific, dict):
        named = GITHUB_SEVERITIES.get(str(specific.get("severity", "")).upper())
        if named:
            return named
    for item in record.get("severity") or ():
        if not isinstance(item, dict) or not str(item.get("type", "")).startswith(
            "CVSS_V3"
        ):
            continue
        score = cvss3_score(str(item.get("score", "")))
        if score is None:
            continue
        if score >= 9:
            return "critical"
        if score >= 7:
            return "high"
        if score >= 4:
            return "moderate"
        return "low"
    return "unknown"


def _summary(record):
    text = record.get("summary") or ""
    if not text.strip():
        text = (record.get("details") or "").strip().split("\n\n")[0]
    text = " ".join(str(text).split()) or record["id"]
    if len(text) > SUMMARY_LENGTH:
        text = text[: SUMMARY_LENGTH - 3].rstrip() + "..."
    return text


def _day(value):
    value = str(value or "")[:10]
    try:
        return datetime.strptime(value, "%Y-%m-%d").date().isoformat()
    except ValueError:
        return None


def to_advisory(record, today):
    """The add-on's advisory entry for an OSV record, or None when it
    affects no PyPI package (or was withdrawn)."""
    if record.get("withdrawn"):
        return None
    affected = affected_packages(record)
    if not affected or len(record["id"]) > 100:
        return None
    aliases = [
        alias
        for alias in record.get("aliases") or ()
        if isinstance(alias, str) and alias and alias != record["id"]
    ]
    modified = _day(record.get("modified"))
    return {
        "id": record["id"],
        "aliases": aliases,
        "affected": affected,
        "severity": rating(record),
        "summary": _summary(record),
        "published": _day(record.get("published")) or modified or today.isoformat(),
        "source": OSV_PAGE + quote(record["id"], safe=""),
        "checked": f"OSV record {record['id']}, modified {modified or 'unknown'}",
    }


def _preference(entry):
    """GitHub's advisories first: they carry the rating."""
    return (not entry["id"].startswith("GHSA-"), entry["id"])


def merge(shipped, found):
    """The shipped advisories, updated and completed by ``found``.

    :param shipped: the shipped data's advisory entries.
    :param found: entries from :func:`to_advisory`.
    :returns: ``(entries, added, updated)``.
    """
    entries = [dict(entry) for entry in shipped]
    chosen_ids, chosen_names = set(), set()
    added = updated = 0
    for entry in sorted(found, key=_preference):
        names = {entry["id"], *entry["aliases"]}
        if entry["id"] in chosen_names or names & chosen_ids:
            continue  # the same advisory under another database's id
        chosen_ids.add(entry["id"])
        chosen_names |= names
        match = next(
            (
                item
                for item in entries
                if item["id"] in names or entry["id"] in item.get("aliases", ())
            ),
            None,
        )
        if match is None:
            entries.append(entry)
            added += 1
            continue
        aliases = list(match.get("aliases", ()))
        aliases += [n for n in sorted(names) if n != match["id"] and n not in aliases]
        match.update(
            aliases=aliases,
            affected=entry["affected"],
            summary=entry["summary"],
            checked=entry["checked"],
        )
        if entry["severity"] != "unknown":
            match["severity"] = entry["severity"]
        updated += 1
    return entries, added, updated


# PyPI


def newest_by_series(releases):
    """The newest final release of each ``major.minor`` series.

    :param releases: PyPI's ``releases`` mapping (version -> files); a
        release whose files are all yanked is left out.
    """
    newest = {}
    for text, files in releases.items():
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        if version.is_prerelease or version.is_devrelease:
            continue
        if files and all(isinstance(f, dict) and f.get("yanked") for f in files):
            continue
        series = f"{version.major}.{version.minor}"
        if series not in newest or version > newest[series]:
            newest[series] = version
    return {series: str(version) for series, version in sorted(newest.items())}


def fetch_releases(pypi_url, names=RELEASE_DISTRIBUTIONS, timeout=TIMEOUT):
    """The newest release of each series of ``names``, from PyPI.

    :raises SourceError: PyPI failed or answered something unusable.
    """
    series = {}
    for name in names:
        url = f"{pypi_url}/pypi/{quote(name)}/json"
        answer = fetch_json(url, timeout=timeout, service="PyPI")
        releases = answer.get("releases") if isinstance(answer, dict) else None
        if not isinstance(releases, dict):
            raise SourceError(f"PyPI answered malformed data for {url}: no releases.")
        series[name] = newest_by_series(releases)
        if not series[name]:
            raise SourceError(f"PyPI lists no final release of {name} at {url}.")
    return series


# Everything together


def build(osv_url=OSV_URL, pypi_url=PYPI_URL, timeout=TIMEOUT, now=None, packages=None):
    """Advisory data from OSV and PyPI, merged with the shipped data.

    :param osv_url: OSV's API, without a trailing slash.
    :param pypi_url: PyPI, without a trailing slash.
    :param timeout: seconds for each request.
    :param now: the time of the update (timezone-aware); now when omitted.
    :param packages: ``(name, version)`` pairs; the installed distributions
        when omitted.
    :returns: ``(raw, stats)``: the data to store, and counts for messages
        (``distributions``, ``found``, ``added``, ``updated``).
    :raises SourceError: a service failed; nothing was stored.
    """
    now = now or datetime.now(timezone.utc)
    osv_url, pypi_url = osv_url.rstrip("/"), pypi_url.rstrip("/")
    packages = installed_distributions() if packages is None else packages
    found = []
    for vuln_id in query_ids(osv_url, packages, timeout=timeout):
        entry = to_advisory(fetch_vuln(osv_url, vuln_id, timeout=timeout), now.date())
        if entry is not None:
            found.append(entry)
    series = fetch_releases(pypi_url, timeout=timeout)
    raw = shipped_raw()
    entries, added, updated = merge(raw["advisories"], found)
    stamp = now.replace(microsecond=0).isoformat()
    raw.update(
        updated=now.date().isoformat(),
        source=f"OSV ({osv_url}) for {len(packages)} installed distributions, "
        f"merged with the data shipped with collective.securitybp "
        f"(dated {raw['updated']})",
        fetched_at=stamp,
        advisories=entries,
        releases={
            "source": f"PyPI ({pypi_url})",
            "fetched_at": stamp,
            "series": series,
        },
    )
    stats = {
        "distributions": len(packages),
        "found": len(found),
        "added": added,
        "updated": updated,
    }
    return raw, stats
