"""Security advisories: the data, loading a newer file, and what they affect.

The add-on ships ``data/advisories.json``: advisories of Plone, Zope and their
packages (each with its source and date), the end of security support of
each Plone series and the end of life of each Python version. Its form is
described by ``data/advisories.schema.json`` (JSON Schema).

An administrator can install a newer file with ``securitybp advisories --load
FILE``. It is validated first (a malformed file is rejected with the reason
and the data in use is kept) and then stored atomically (written to a
temporary file beside the target, then renamed) at:

- the path in the environment variable ``SECURITYBP_ADVISORIES``, if set;
- otherwise ``securitybp-advisories.json`` in the instance's ``clienthome``
  (its ``var`` directory).

Never inside the installed package: the process that runs Zope must not be
able to write its own code. The audit uses whichever of the shipped and the
loaded data is newer, and notices a newly loaded file without a restart.

``securitybp advisories --update`` builds such a file itself from OSV and
PyPI (see :mod:`collective.securitybp.advisory_sources`): it names its
``source`` and the time it was fetched, and carries the newest ``releases``
of each Plone and Zope series.
"""

from collective.securitybp import logger
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from functools import cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as distribution_version
from packaging.specifiers import InvalidSpecifier
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion
from packaging.version import Version
from pathlib import Path
from types import MappingProxyType
import json
import os
import sys
import sysconfig
import tempfile
import threading


DATA_DIR = Path(__file__).parent / "data"
SHIPPED_PATH = DATA_DIR / "advisories.json"
SCHEMA_PATH = DATA_DIR / "advisories.schema.json"
ENVIRONMENT_VARIABLE = "SECURITYBP_ADVISORIES"
FILE_NAME = "securitybp-advisories.json"
STALE_AFTER_DAYS = 180
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ERRORS_SHOWN = 3
# The distribution whose version is "the Plone version".
PLONE_DISTRIBUTION = "Products.CMFPlone"
EXIT_OK = 0
EXIT_AFFECTED = 1
EXIT_ERROR = 2


class AdvisoryDataError(ValueError):
    """Advisory data that cannot be used; the message says what is wrong."""


@dataclass(frozen=True)
class Advisory:
    """One advisory: which versions of which distributions it affects."""

    id: str
    aliases: tuple
    affected: tuple  # ((distribution name, (SpecifierSet, ...)), ...)
    severity: str  # critical, high, moderate, low or unknown
    summary: str
    published: str  # YYYY-MM-DD or YYYY-MM
    source: str
    mitigated_by: tuple = ()


@dataclass(frozen=True)
class AdvisoryData:
    """Validated advisory data and where it came from."""

    updated: date
    advisories: tuple
    plone_support: MappingProxyType  # series ("6.2") -> last day of support
    python_end_of_life: MappingProxyType  # version ("3.11") -> end of life
    path: str
    shipped: bool
    source: str = ""  # where the data came from, as the file says
    # distribution ("Plone", "Zope") -> series ("6.2") -> newest release
    releases: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    releases_fetched: str = ""  # when the release data was fetched (ISO 8601)

    @property
    def source_label(self):
        """Where the data came from, for people."""
        if self.source:
            return self.source
        if self.shipped:
            return "shipped with collective.securitybp"
        return "loaded from a file"

    def age_days(self, today):
        """Days between the data's date and ``today``."""
        return (today - self.updated).days

    def is_stale(self, today):
        return self.age_days(today) > STALE_AFTER_DAYS


@dataclass(frozen=True)
class Match:
    """An installed distribution in an advisory's affected range."""

    advisory: Advisory
    distribution: str
    installed: str
    fixed_in: str  # the version to upgrade to; "" when the range names none


def _json_schema_validator():
    from jsonschema import Draft202012Validator

    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return Draft202012Validator(
        schema, format_checker=Draft202012Validator.FORMAT_CHECKER
    )


_validator = None


def _schema_errors(raw):
    global _validator
    if _validator is None:
        _validator = _json_schema_validator()
    errors = sorted(_validator.iter_errors(raw), key=lambda e: list(e.absolute_path))
    messages = []
    for error in errors[:MAX_ERRORS_SHOWN]:
        where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
        messages.append(f"{where}: {error.message}")
    if len(errors) > MAX_ERRORS_SHOWN:
        messages.append(f"and {len(errors) - MAX_ERRORS_SHOWN} more problem(s)")
    return messages


def _dates(section):
    return MappingProxyType(
        {key: date.fromisoformat(value) for key, value in section["dates"].items()}
    )


def parse(raw, path="", shipped=False, today=None):
    """Validate decoded advisory data and return it as :class:`AdvisoryData`.

    :param raw: the decoded JSON.
    :param path: where it came from, for messages.
    :param shipped: whether it is the data shipped with the add-on.
    :param today: the current date (to refuse data dated in the future).
    :returns: an :class:`AdvisoryData`.
    :raises AdvisoryDataError: the data does not match the schema, a range is
        not a valid PEP 440 specifier, an id is repeated, or the data is
        dated in the future; the message names the place and the problem.
    """
    problems = _schema_errors(raw)
    if problems:
        raise AdvisoryDataError(
            "it does not match the advisory schema: " + "; ".join(problems)
        )
    today = today or datetime.now(timezone.utc).date()
    updated = date.fromisoformat(raw["updated"])
    if updated > today + timedelta(days=1):
        raise AdvisoryDataError(
            f"it is dated {updated.isoformat()}, in the future: correct 'updated'."
        )
    advisories, seen = [], set()
    for index, item in enumerate(raw["advisories"]):
        if item["id"] in seen:
            raise AdvisoryDataError(
                f"advisories/{index}: the id {item['id']} appears twice; merge "
                "the entries into one with several 'affected' packages."
            )
        seen.add(item["id"])
        affected = []
        for entry in item["affected"]:
            try:
                ranges = tuple(SpecifierSet(text) for text in entry["ranges"])
            except InvalidSpecifier as error:
                raise AdvisoryDataError(
                    f"advisories/{index} ({item['id']}): a range of "
                    f"{entry['package']} is not a PEP 440 version specifier "
                    f"({error}); write it like '>=6.0,<6.0.4'."
                ) from None
            affected.append((entry["package"], ranges))
        advisories.append(
            Advisory(
                id=item["id"],
                aliases=tuple(item.get("aliases", ())),
                affected=tuple(affected),
                severity=item["severity"],
                summary=item["summary"],
                published=item["published"],
                source=item["source"],
                mitigated_by=tuple(item.get("mitigated_by", ())),
            )
        )
    releases = raw.get("releases") or {}
    return AdvisoryData(
        updated=updated,
        advisories=tuple(advisories),
        plone_support=_dates(raw["plone_security_support"]),
        python_end_of_life=_dates(raw["python_end_of_life"]),
        path=str(path),
        shipped=shipped,
        source=raw.get("source", ""),
        releases=MappingProxyType(
            {
                name: MappingProxyType(dict(series))
                for name, series in releases.get("series", {}).items()
            }
        ),
        releases_fetched=releases.get("fetched_at", ""),
    )


def read(path, shipped=False, today=None):
    """Read and validate the advisory file at ``path``.

    :raises AdvisoryDataError: the file cannot be read, is not JSON or is
        not valid advisory data.
    """
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise AdvisoryDataError(
                f"it is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB."
            )
        content = path.read_bytes()
    except OSError as error:
        raise AdvisoryDataError(f"it cannot be read: {error.strerror}.") from None
    try:
        raw = json.loads(content.decode("utf-8"))
    except UnicodeDecodeError:
        raise AdvisoryDataError("it is not UTF-8 text.") from None
    except json.JSONDecodeError as error:
        raise AdvisoryDataError(
            f"it is not JSON: {error.msg} at line {error.lineno}, column {error.colno}."
        ) from None
    return parse(raw, path=path, shipped=shipped, today=today)


def default_clienthome():
    """The running instance's ``clienthome`` (its var directory), or None."""
    try:
        from App.config import getConfiguration

        return getattr(getConfiguration(), "clienthome", None) or None
    except Exception:  # no Zope configuration: the command line
        return None


def environment_path():
    """The path in ``SECURITYBP_ADVISORIES``, or None when it is not set."""
    configured = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    return Path(configured).expanduser() if configured else None


def loaded_path(clienthome=None):
    """Where a loaded advisory file lives, or None when that is unknown.

    :param clienthome: the instance's clienthome; the running instance's
        when omitted.
    """
    configured = environment_path()
    if configured:
        return configured
    clienthome = clienthome or default_clienthome()
    return Path(clienthome) / FILE_NAME if clienthome else None


_lock = threading.Lock()
_cache = {}


def _cached(path, shipped):
    """Parse ``path`` once per change of its modification time and size."""
    try:
        stat = Path(path).stat()
    except OSError:
        return None, None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    with _lock:
        if key in _cache:
            return _cache[key]
    try:
        result = (read(path, shipped=shipped), None)
    except AdvisoryDataError as error:
        result = (None, str(error))
    with _lock:
        _cache[key] = result
    return result


def current(path=None):
    """The advisory data to use, and why a loaded file was not used.

    The newer of the shipped data and the loaded file wins.

    :param path: the loaded file; :func:`loaded_path` when omitted.
    :returns: ``(AdvisoryData, problem)``; problem is None, or a sentence
        saying why the loaded file was ignored.
    :raises AdvisoryDataError: the shipped data itself is broken (a bug).
    """
    shipped, error = _cached(SHIPPED_PATH, shipped=True)
    if shipped is None:
        raise AdvisoryDataError(f"The shipped advisory data is broken: {error}")
    path = loaded_path() if path is None else path
    if not path:
        return shipped, None
    loaded, problem = _cached(path, shipped=False)
    if problem:
        logger.warning("Ignoring the advisory file %s: %s", path, problem)
        return shipped, f"{path} was ignored: {problem}"
    if loaded is not None and loaded.updated >= shipped.updated:
        return loaded, None
    return shipped, None


def _inside(path, directory):
    try:
        path.resolve().relative_to(Path(directory).resolve())
    except ValueError:
        return False
    return True


def protected_directories():
    """Directories that hold code: a loaded file must not go there."""
    paths = sysconfig.get_paths()
    return {Path(__file__).parent, Path(paths["purelib"]), Path(paths["platlib"])}


def _check_target(target):
    for directory in protected_directories():
        if _inside(target, directory):
            raise AdvisoryDataError(
                f"{target} is inside the installed code ({directory}); store "
                f"it in the instance's var directory or set "
                f"{ENVIRONMENT_VARIABLE} to a path outside the code."
            )


def _write(content, target):
    """Write ``content`` (bytes) to a temporary file beside ``target`` and
    rename it over ``target``: readers see the old or the new data, never a
    half-written file."""
    if not target.parent.is_dir():
        raise AdvisoryDataError(
            f"the directory {target.parent} does not exist: check the "
            f"instance's clienthome or {ENVIRONMENT_VARIABLE}."
        )
    try:
        handle, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=".securitybp-advisories-", suffix=".tmp"
        )
    except OSError as error:
        raise AdvisoryDataError(
            f"it cannot be stored at {target}: {error.strerror}."
        ) from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise AdvisoryDataError(
            f"it cannot be stored at {target}: {error.strerror}."
        ) from None


def install(source, target, today=None):
    """Validate the advisory file ``source`` and store it at ``target``.

    The file is stored atomically; nothing changes when validation fails.

    :param source: path of the new file.
    :param target: where the running instance reads it (:func:`loaded_path`).
    :returns: the installed :class:`AdvisoryData`.
    :raises AdvisoryDataError: the file is invalid, older than the data in
        use, or cannot be stored; the message says why.
    """
    target = Path(target)
    _check_target(target)
    data = read(source, today=today)
    in_use = read(SHIPPED_PATH, shipped=True, today=today)
    if target.exists():
        try:
            loaded = read(target, today=today)
        except AdvisoryDataError:
            loaded = None  # a broken file may be replaced
        if loaded is not None and loaded.updated > in_use.updated:
            in_use = loaded
    if data.updated < in_use.updated:
        raise AdvisoryDataError(
            f"it is dated {data.updated.isoformat()}, older than the data in "
            f"use ({in_use.updated.isoformat()}, {in_use.path}). To go back "
            f"to older data, delete {target} first."
        )
    _write(Path(source).read_bytes(), target)
    return replace(data, path=str(target))


def store(raw, target, today=None):
    """Validate decoded advisory data and store it at ``target`` as JSON.

    :param raw: the data, as :func:`parse` takes it.
    :param target: where the running instance reads it (:func:`loaded_path`).
    :returns: the stored :class:`AdvisoryData`.
    :raises AdvisoryDataError: the data is invalid or cannot be stored;
        nothing changes then.
    """
    target = Path(target)
    _check_target(target)
    data = parse(raw, path=target, today=today)
    _write(json.dumps(raw, indent=1, ensure_ascii=False).encode("utf-8"), target)
    return data


def shipped_raw():
    """The decoded data shipped with the add-on."""
    return json.loads(SHIPPED_PATH.read_text(encoding="utf-8"))


@cache
def installed_version(distribution):
    """The installed version of ``distribution``, or None."""
    try:
        return distribution_version(distribution)
    except PackageNotFoundError:
        return None


def fixed_in(specifiers):
    """The version a ``<`` bound of ``specifiers`` names, or ""."""
    for specifier in specifiers:
        if specifier.operator == "<":
            return specifier.version
    return ""


def affected(data):
    """Installed distributions in an affected range, one :class:`Match` each.

    An advisory is skipped when a distribution in its ``mitigated_by`` (a
    hotfix) is installed.
    """
    matches = []
    for advisory in data.advisories:
        if any(installed_version(name) for name in advisory.mitigated_by):
            continue
        for distribution, ranges in advisory.affected:
            installed = installed_version(distribution)
            if installed is None:
                continue
            try:
                parsed = Version(installed)
            except InvalidVersion:
                continue
            for specifiers in ranges:
                if specifiers.contains(parsed, prereleases=True):
                    matches.append(
                        Match(advisory, distribution, installed, fixed_in(specifiers))
                    )
                    break
    return matches


def support_end(dates, release):
    """When support of ``release`` ("6.2", "3.10") ends, from ``dates``.

    :returns: a date; for a release older than every listed one, the
        earliest listed date; None when the release is newer or unknown.
    """
    if release in dates:
        return dates[release]
    key = Version(release)
    if dates and all(Version(known) > key for known in dates):
        return min(dates.values())
    return None


def plone_series():
    """The installed Plone series, such as "6.2", or None."""
    installed = installed_version(PLONE_DISTRIBUTION)
    if installed is None:
        return None
    try:
        parsed = Version(installed)
    except InvalidVersion:
        return None
    return f"{parsed.major}.{parsed.minor}"


def python_series():
    return f"{sys.version_info.major}.{sys.version_info.minor}"
