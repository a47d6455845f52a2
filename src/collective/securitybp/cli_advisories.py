"""The command line ``securitybp advisories``: show, load or update
advisory data.

The data itself, its validation and its storage are in
:mod:`collective.securitybp.advisories`; fetching it from OSV and PyPI in
:mod:`collective.securitybp.advisory_sources`.
"""

from collective.securitybp.advisories import AdvisoryDataError
from collective.securitybp.advisories import affected
from collective.securitybp.advisories import current
from collective.securitybp.advisories import environment_path
from collective.securitybp.advisories import ENVIRONMENT_VARIABLE
from collective.securitybp.advisories import EXIT_AFFECTED
from collective.securitybp.advisories import EXIT_ERROR
from collective.securitybp.advisories import EXIT_OK
from collective.securitybp.advisories import FILE_NAME
from collective.securitybp.advisories import install
from collective.securitybp.advisories import loaded_path
from collective.securitybp.advisories import plone_series
from collective.securitybp.advisories import python_series
from collective.securitybp.advisories import SHIPPED_PATH
from collective.securitybp.advisories import STALE_AFTER_DAYS
from collective.securitybp.advisories import store
from collective.securitybp.advisories import support_end
from collective.securitybp.advisory_sources import OSV_URL
from collective.securitybp.advisory_sources import PYPI_URL
from collective.securitybp.advisory_sources import TIMEOUT
from datetime import datetime
from datetime import timezone
from pathlib import Path
import argparse
import json
import sys


# The command line: ``securitybp advisories``


def clienthome_of(zope_conf):
    """The clienthome configured in ``zope_conf``.

    :raises AdvisoryDataError: the file is missing or not valid.
    """
    path = Path(zope_conf)
    if not path.is_file():
        raise AdvisoryDataError(f"no zope.conf at {path}.")
    from Zope2.Startup.options import ZopeWSGIOptions
    import ZConfig

    try:
        options = ZopeWSGIOptions(configfile=str(path.absolute()))()
    except ZConfig.ConfigurationError as error:
        message = " ".join(str(error).split())
        raise AdvisoryDataError(f"{path} is not a valid zope.conf: {message}") from None
    return options.configroot.clienthome


def add_arguments(parser):
    """The options of ``securitybp advisories``."""
    parser.add_argument(
        "--zope-conf",
        metavar="PATH",
        help="the instance's zope.conf: a loaded file is stored in its "
        f"clienthome as {FILE_NAME} (the environment variable "
        f"{ENVIRONMENT_VARIABLE} overrides the path)",
    )
    parser.add_argument(
        "--load",
        metavar="FILE",
        help="validate FILE and make it the advisory data of the instance; "
        "a malformed file is rejected and the data in use is kept",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="ask OSV about every installed distribution and PyPI about the "
        "newest Plone and Zope releases, and make the answers (merged with "
        "the shipped data) the advisory data of the instance; when a "
        "service fails, the data in use is kept",
    )
    parser.add_argument(
        "--osv-url",
        metavar="URL",
        default=OSV_URL,
        help=f"OSV's API for --update (default: {OSV_URL})",
    )
    parser.add_argument(
        "--pypi-url",
        metavar="URL",
        default=PYPI_URL,
        help=f"the package index's JSON API for --update (default: {PYPI_URL})",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=float,
        default=TIMEOUT,
        help=f"seconds to wait for each answer of --update (default: {TIMEOUT}); "
        "HTTPS proxies come from the environment (https_proxy, no_proxy)",
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="default: text"
    )
    parser.set_defaults(handler=command_advisories)


def add_command(subparsers):
    """Add ``advisories`` to the ``securitybp`` command's subcommands."""
    parser = subparsers.add_parser(
        "advisories",
        help="show, load or update the security advisory data",
        description="Show which security advisory data is in use and which "
        "installed packages it affects (exit 1 when one is affected), load "
        "a newer advisory file with --load, or fetch it from OSV and PyPI "
        "with --update.",
    )
    add_arguments(parser)
    return parser


def _error(message):
    print(f"securitybp: error: {' '.join(str(message).split())}", file=sys.stderr)
    return EXIT_ERROR


def status(data, problem, today):
    """What ``securitybp advisories`` reports, as JSON-ready data."""
    plone = plone_series()
    plone_end = support_end(data.plone_support, plone) if plone else None
    python = python_series()
    python_end = support_end(data.python_end_of_life, python)
    return {
        "path": data.path,
        "origin": "shipped" if data.shipped else "loaded",
        "source": data.source_label,
        "updated": data.updated.isoformat(),
        "age_days": data.age_days(today),
        "stale": data.is_stale(today),
        "advisories": len(data.advisories),
        "rejected": problem,
        "affected": [
            {
                "id": match.advisory.id,
                "distribution": match.distribution,
                "installed": match.installed,
                "fixed_in": match.fixed_in,
                "severity": match.advisory.severity,
                "source": match.advisory.source,
            }
            for match in affected(data)
        ],
        "plone": {
            "series": plone,
            "security_support_until": plone_end.isoformat() if plone_end else None,
            "supported": not (plone_end and plone_end < today),
        },
        "python": {
            "version": python,
            "end_of_life": python_end.isoformat() if python_end else None,
            "supported": not (python_end and python_end < today),
        },
        "releases": {
            "fetched_at": data.releases_fetched or None,
            "series": {name: dict(series) for name, series in data.releases.items()},
        },
    }


def format_status(info):
    origin = "loaded"
    if info["origin"] == "shipped":
        origin = "shipped with collective.securitybp"
    lines = [
        f"Advisory data: {info['path']} ({origin})",
        f"Dated {info['updated']} ({info['age_days']} days old), "
        f"{info['advisories']} advisories.",
    ]
    if info["origin"] == "loaded":
        lines.append(f"Source: {info['source']}.")
    if info["stale"]:
        lines.append(
            f"The data is older than {STALE_AFTER_DAYS} days: load a newer file "
            "with --load."
        )
    if info["rejected"]:
        lines.append(f"Warning: {info['rejected']}")
    for item in info["affected"]:
        fix = f"upgrade to {item['fixed_in']}" if item["fixed_in"] else "upgrade"
        lines.append(
            f"AFFECTED {item['distribution']} {item['installed']}: {item['id']} "
            f"({item['severity']}); {fix}. {item['source']}"
        )
    if not info["affected"]:
        lines.append("No installed package is in an affected range.")
    for name, key, until in (
        ("Plone", "series", "security_support_until"),
        ("Python", "version", "end_of_life"),
    ):
        part = info[name.lower()]
        if not part["supported"]:
            lines.append(
                f"{name} {part[key]} is past its end of support ({part[until]})."
            )
    for name, series in info["releases"]["series"].items():
        newest = ", ".join(f"{key}: {value}" for key, value in series.items())
        lines.append(f"Newest releases of {name} by series: {newest}.")
    return "\n".join(lines)


NO_TARGET = (
    "Cannot tell where to store the advisory data: pass --zope-conf (it is "
    "stored in the instance's var directory) or set "
    f"{ENVIRONMENT_VARIABLE} to a file path."
)


def update(args, target, today):
    """``--update``: fetch from OSV and PyPI and store; exit 0 or 2."""
    from collective.securitybp.advisory_sources import build

    in_use = target if target.exists() else SHIPPED_PATH
    try:
        raw, stats = build(
            osv_url=args.osv_url, pypi_url=args.pypi_url, timeout=args.timeout
        )
        data = store(raw, target, today=today)
    except AdvisoryDataError as error:
        return _error(
            f"The advisory data was not updated: {error} The advisory data "
            f"in use was kept ({in_use})."
        )
    print(
        f"Updated the advisory data in {target}: OSV knows {stats['found']} "
        f"advisories for the {stats['distributions']} installed "
        f"distributions ({stats['added']} added to and {stats['updated']} "
        f"updated in the shipped data; {len(data.advisories)} in all), and "
        f"the newest releases of {', '.join(data.releases)} come from PyPI. "
        "The instance uses them from its next audit; no restart is needed."
    )
    return EXIT_OK


def command_advisories(args):
    """``securitybp advisories``: exit 0, 1 (something affected) or 2."""
    today = datetime.now(timezone.utc).date()
    try:
        if args.zope_conf:
            target = loaded_path(clienthome_of(args.zope_conf))
        else:
            target = environment_path()
        if args.load and args.update:
            return _error("Use either --load or --update, not both.")
        if args.update:
            if target is None:
                return _error(NO_TARGET)
            return update(args, target, today)
        if args.load:
            if target is None:
                return _error(NO_TARGET)
            try:
                data = install(args.load, target, today=today)
            except AdvisoryDataError as error:
                in_use = target if target.exists() else SHIPPED_PATH
                return _error(
                    f"{args.load} was rejected: {error} The advisory data in "
                    f"use was kept ({in_use})."
                )
            print(
                f"Loaded {len(data.advisories)} advisories dated "
                f"{data.updated.isoformat()} into {target}. The instance uses "
                "them from its next audit; no restart is needed."
            )
            return EXIT_OK
        data, problem = current(target or "")
    except AdvisoryDataError as error:
        return _error(error)
    info = status(data, problem, today)
    if args.format == "json":
        print(json.dumps(info))
    else:
        print(format_status(info))
    failed = info["affected"] or not (
        info["plone"]["supported"] and info["python"]["supported"]
    )
    return EXIT_AFFECTED if failed else EXIT_OK


def main_advisories(argv=None):
    """Run ``securitybp advisories`` with ``argv`` (without the command name).

    :returns: the exit code: 0 nothing affected, 1 an installed package is
        affected or Plone/Python is past its support, 2 an error (a rejected
        file: the data in use was kept).
    """
    parser = argparse.ArgumentParser(prog="securitybp advisories")
    add_arguments(parser)
    return command_advisories(parser.parse_args(argv))
