"""The ``securitybp`` command: audit a Plone site from the command line.

``securitybp audit --zope-conf PATH`` opens the instance's database
read-only, so it can run beside the running instance (a FileStorage opened
read-only takes no ``Data.fs.lock`` and writes nothing), audits one Plone site
with the same engine as the ``@@security-report`` page and prints the report
as text or JSON. Its exit code tells monitoring whether the site passed:
0 when no unacknowledged finding is at or above the threshold, 1 when one is,
2 when the audit could not run (the message on stderr says why).

``securitybp checks`` lists the registered checks.
"""

from collective.securitybp.model import Severity
from contextlib import contextmanager
from contextlib import redirect_stdout
from pathlib import Path
import argparse
import json
import logging
import os
import shutil
import sys
import textwrap


PROG = "securitybp"
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_ERROR = 2

# --fail-on values, from the most severe down, as in the control panel.
FAIL_ON_CHOICES = tuple(s.label for s in sorted(Severity, reverse=True)) + ("never",)

# Storage sections that keep everything in memory: nothing to protect.
MEMORY_STORAGES = frozenset({"mappingstorage", "temporarystorage"})

log = logging.getLogger("collective.securitybp.cli")


class CommandError(Exception):
    """The command cannot run; the message says how to fix it (exit 2)."""


def one_line(message):
    """``message`` with every run of whitespace, newlines too, as one space."""
    return " ".join(str(message).split())


class ArgumentParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit 2."""

    def error(self, message):
        self.exit(
            EXIT_ERROR,
            f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help').\n",
        )


# Opening Zope read-only


def make_read_only(storage, where):
    """Set every storage of a ZConfig storage factory to read-only.

    :param storage: a storage factory from zope.conf, such as
        :class:`ZODB.config.FileStorage`; its ``config`` is the section.
    :param where: the name of the database, for messages.
    :raises CommandError: a storage that cannot be opened read-only, or a
        FileStorage whose file is missing or unreadable.
    """
    section = storage.config
    kind = section.getSectionType()
    blob_dir = getattr(section, "blob_dir", None)
    # ZODB creates a missing blob directory, even on a read-only storage.
    if blob_dir and kind != "zeoclient" and not Path(blob_dir).is_dir():
        raise CommandError(
            f"The blob directory {blob_dir} of database {where!r} does not "
            "exist: check blob-dir in zope.conf."
        )
    if hasattr(section, "read_only"):
        section.read_only = True
        if hasattr(section, "create"):
            section.create = False
        if kind == "filestorage":
            check_readable(Path(section.path), where)
        if getattr(section, "base", None) is not None:
            make_read_only(section.base, where)
    elif getattr(section, "base", None) is not None:  # blobstorage, before...
        make_read_only(section.base, where)
    elif getattr(section, "factories", None):  # demostorage
        for factory in section.factories:
            make_read_only(factory, where)
    elif kind not in MEMORY_STORAGES:
        raise CommandError(
            f"Cannot open the <{kind}> storage of database {where!r} "
            "read-only: the command line supports filestorage, zeoclient, "
            "relstorage and blobstorage/demostorage wrapping them."
        )


def check_readable(path, where):
    """Raise :class:`CommandError` unless the database file can be read."""
    if not path.exists():
        raise CommandError(
            f"The database file {path} of database {where!r} does not "
            "exist: check the path in zope.conf, or start the instance once "
            "to create it."
        )
    if not path.is_file() or not os.access(path, os.R_OK):
        raise CommandError(
            f"Cannot read the database file {path} of database {where!r}: "
            "run the command as the user that runs the instance."
        )


def load_configuration(zope_conf):
    """Parse zope.conf and make all its databases read-only.

    :param zope_conf: path of the instance's zope.conf.
    :returns: the Zope2 options, with ``configroot`` and ``confighandlers``.
    :raises CommandError: the file is missing, unreadable or invalid.
    """
    path = Path(zope_conf)
    if not path.is_file():
        raise CommandError(
            f"No zope.conf at {path}: pass the instance's configuration "
            "file, e.g. --zope-conf instance/etc/zope.conf."
        )
    if not os.access(path, os.R_OK):
        raise CommandError(
            f"Cannot read {path}: run the command as the user that runs the instance."
        )
    from Zope2.Startup.options import ZopeWSGIOptions
    import ZConfig

    try:
        options = ZopeWSGIOptions(configfile=str(path.absolute()))()
    except ZConfig.ConfigurationError as error:
        raise CommandError(
            f"{path} is not a valid Zope configuration: {one_line(error)}"
        ) from None
    databases = list(options.configroot.databases or ())
    if not databases:
        raise CommandError(f"{path} configures no database (<zodb_db>).")
    for database in databases:
        make_read_only(database.config.storage, database.name)
    return options


def start_zope(zope_conf):
    """Start Zope in this process on read-only databases.

    What ``Zope2.Startup.run.make_wsgi_app`` does, with the storages
    switched to read-only before Zope opens them. Zope's startup
    (``OFS.Application.AppInitializer``) commits only when the Zope root
    lacks something it adds on the first start; on an instance that has run
    before, those commits are empty and a read-only storage accepts them.

    :returns: the Zope application root, wrapped in a request, with the
        system user logged in.
    :raises CommandError: Zope could not start.
    """
    options = load_configuration(zope_conf)
    from AccessControl.SecurityManagement import newSecurityManager
    from AccessControl.users import system
    from App.config import setConfiguration
    from Testing.makerequest import makerequest
    from ZODB.FileStorage.FileStorage import FileStorageFormatError
    from ZODB.POSException import ReadOnlyError
    from zope.globalrequest import setRequest
    from Zope2.Startup import get_wsgi_starter
    from Zope2.Startup.handlers import handleWSGIConfig
    import Zope2

    try:
        starter = get_wsgi_starter()
        handleWSGIConfig(options.configroot, options.confighandlers)
        setConfiguration(options.configroot)
        starter.setConfiguration(options.configroot)
        starter.prepare()
        app = Zope2.app()
    except ReadOnlyError:
        raise CommandError(
            "Zope wanted to write to the database while starting, which a "
            "read-only audit never does: start the instance once normally "
            "(it then finishes its own initialisation), then audit again."
        ) from None
    except FileStorageFormatError as error:
        raise CommandError(
            f"{one_line(error)} is not a ZODB FileStorage or is damaged: check "
            "the path in zope.conf."
        ) from None
    except OSError as error:
        raise CommandError(f"Cannot open the database: {one_line(error)}") from None
    except CommandError:
        raise
    except Exception as error:
        log.debug("Zope could not start", exc_info=True)
        raise CommandError(
            f"Zope could not start from {zope_conf}: "
            f"{type(error).__name__}: {one_line(error)} "
            "(run with --verbose for the traceback)."
        ) from None
    app = makerequest(app)
    app.REQUEST["PARENTS"] = [app]
    setRequest(app.REQUEST)
    newSecurityManager(None, system)
    return app


def stop_zope():
    """Forget any change and close the databases."""
    import transaction
    import Zope2

    transaction.abort()
    for db in getattr(Zope2, "opened", ()):
        db.close()


# Finding the site


def find_sites(container):
    """Every Plone site in ``container``, looking into plain folders too.

    :returns: a list of Plone sites, by path.
    """
    from Acquisition import aq_base
    from plone.base.interfaces import IPloneSiteRoot
    from ZODB.broken import Broken

    sites = []
    mount_points = getattr(aq_base(container), "_mount_points", {}) or {}
    for obj in container.objectValues():
        if isinstance(aq_base(obj), Broken):
            continue
        if IPloneSiteRoot.providedBy(obj):
            sites.append(obj)
        elif getattr(obj, "meta_type", None) == "Folder" or obj.getId() in mount_points:
            sites.extend(find_sites(obj))
    return sorted(sites, key=lambda site: site.getPhysicalPath())


def site_path(site):
    return "/".join(site.getPhysicalPath())


def get_site(app, wanted):
    """The Plone site to audit.

    :param app: the Zope application root.
    :param wanted: ``--site``: an id (``Plone``), a path (``/Plone``,
        ``/folder/Plone``), or None for the only site of the database.
    :returns: the Plone site.
    :raises CommandError: no such site, or several and none chosen.
    """
    from plone.base.interfaces import IPloneSiteRoot

    if wanted is None:
        sites = find_sites(app)
        if len(sites) == 1:
            return sites[0]
        if not sites:
            raise CommandError(
                "The database holds no Plone site: create one, or check --zope-conf."
            )
        paths = ", ".join(site_path(site) for site in sites)
        raise CommandError(
            f"The database holds several Plone sites ({paths}): choose one with --site."
        )
    obj = app
    for name in [part for part in wanted.strip().split("/") if part]:
        if not hasattr(obj, "hasObject") or not obj.hasObject(name):
            obj = None
            break
        obj = obj._getOb(name)
    if obj is None or obj is app or not IPloneSiteRoot.providedBy(obj):
        sites = ", ".join(site_path(site) for site in find_sites(app))
        hint = f"the database holds {sites}" if sites else "it holds no Plone site"
        raise CommandError(
            f"No Plone site at {wanted!r}: {hint}; pass one of them to --site."
        )
    return obj


def audit_site(app, site, fail_on):
    """Run the audit of ``site``.

    :param fail_on: ``--fail-on`` as given, or None for the site's setting.
    :returns: ``(report, threshold)``; threshold is a Severity or None.
    """
    from collective.securitybp.audit import fail_on_setting
    from collective.securitybp.audit import parse_fail_on
    from collective.securitybp.audit import run_audit
    from zope.component.hooks import setSite

    setSite(site)
    threshold = fail_on_setting(site) if fail_on is None else parse_fail_on(fail_on)
    report = run_audit(site, fail_on=threshold)
    return report, threshold


# Output


class Style:
    """ANSI colours, or nothing when they are off."""

    CODES = {
        "critical": "1;97;41",
        "high": "1;31",
        "medium": "1;33",
        "low": "36",
        "info": "2",
        "bold": "1",
        "dim": "2",
        "good": "1;32",
        "bad": "1;31",
        "warn": "1;33",
    }

    def __init__(self, enabled):
        self.enabled = enabled

    def __call__(self, name, value):
        if not self.enabled or name not in self.CODES:
            return value
        return f"\033[{self.CODES[name]}m{value}\033[0m"


def use_colour(stream):
    """Colour only on a terminal, and never when NO_COLOR is set."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    return hasattr(stream, "isatty") and stream.isatty()


def wrap(value, indent, width):
    return textwrap.fill(
        value,
        width=width,
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


def format_finding(item, style, width, acknowledgement=None, indent=2):
    """Lines of one finding: severity, id, title, subject, then the texts.

    Commands stay on their own lines, unwrapped, so they can be copied as
    they are; consequences follow, indented under their cause.
    """
    severity = item["severity"]
    badge = style(severity, f"{severity.upper():<8}")
    lead = " " * indent
    lines = [f"{lead}{badge} {style('bold', item['check_id'])}  {item['title']}"]
    body = " " * (indent + 9)
    if item["subject"]:
        lines.append(f"{body}Subject: {item['subject']}")
    lines.append(wrap(item["detail"], body, width))
    lines.append(wrap(f"Fix: {item['remediation']}", body, width))
    if item.get("commands"):
        lines.append(f"{body}Commands:")
        lines += [f"{body}    {command}" for command in item["commands"]]
    for link in item.get("links") or ():
        lines.append(wrap(f"See: {link['title']}: {link['url']}", body, width))
    if item["reference"]:
        lines.append(wrap(style("dim", f"Reference: {item['reference']}"), body, width))
    if acknowledgement:
        ack = acknowledgement
        when = ack["when"][:10]
        until = f", until {ack['until']}" if ack["until"] else ""
        if ack["until_changed"]:
            until += ", or until the finding changes"
        lines.append(
            wrap(
                f"Acknowledged by {ack['who'] or '?'} on {when}{until}: "
                f"{ack['reason']}",
                body,
                width,
            )
        )
    consequences = item.get("consequences") or ()
    if consequences:
        lines.append(f"{body}Follows from it ({len(consequences)}), fixed with it:")
        for consequence in consequences:
            lines += format_finding(consequence, style, width, indent=indent + 9)
    return lines


def format_report(report, threshold, style, width=80):
    """The report as text for a terminal.

    :param report: a :class:`collective.securitybp.model.Report`.
    :param threshold: the Severity the exit code is based on, or None.
    :param style: a :class:`Style`.
    :returns: the text, ending with a newline.
    """
    data = report.to_dict()
    versions = data["versions"]
    generated = report.generated_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    lines = [
        style("bold", f"Security report for {data['site']}"),
        style(
            "dim",
            f"{generated} | Plone {versions.get('plone')} | Zope "
            f"{versions.get('zope')} | Python {versions.get('python')} | "
            f"collective.securitybp {versions.get('securitybp')}",
        ),
        "",
    ]
    grade = data["grade"]
    grade_style = {"A": "good", "B": "good", "C": "warn"}.get(grade, "bad")
    lines.append(
        f"Grade {style(grade_style, grade)}   Score {data['score']}/100   "
        f"({data['checks_run']} checks run)"
    )
    counts = []
    for severity in sorted(Severity, reverse=True):
        count = data["summary"][severity.label]
        label = f"{severity.label} {count}"
        counts.append(style(severity.label, label) if count else label)
    lines.append("   ".join(counts))
    failing = report.failing(threshold)
    if threshold is None:
        lines.append("Fail threshold: never (exit code 0 whatever is found)")
    elif failing:
        lines.append(
            style(
                "bad",
                f"FAILED: {len(failing)} finding(s) at or above {threshold.label}",
            )
        )
    else:
        lines.append(style("good", f"Passed: no finding at or above {threshold.label}"))
    by_key = {(f["check_id"], f["subject"]): f for f in data["findings"]}
    if not report.findings:
        lines += ["", style("good", "No open findings.")]
    for area, findings in report.by_area():
        lines += ["", style("bold", f"{data_area_title(area)} ({len(findings)})")]
        for finding in findings:
            item = by_key[(finding.check_id, finding.subject)]
            lines += format_finding(item, style, width)
    if data["acknowledged"]:
        lines += ["", style("bold", f"Acknowledged ({len(data['acknowledged'])})")]
        for item in data["acknowledged"]:
            lines += format_finding(item, style, width, item["acknowledgement"])
    return "\n".join(lines) + "\n"


def data_area_title(area):
    from collective.securitybp.model import text

    return text(area.title)


def check_data(check):
    from collective.securitybp.checks.base import severity_text
    from collective.securitybp.model import text

    cases = dict(getattr(check, "cases", None) or {})
    return {
        "id": check.id,
        "area": check.area.label,
        "area_title": text(check.area.title),
        "severity": check.severity.label,
        "cases": {name: severity.label for name, severity in cases.items()},
        "severities": severity_text(check),
        "title": text(check.title),
        "reference": check.reference,
    }


def format_checks(checks, style):
    rows = [check_data(check) for check in checks]
    if not rows:
        return "No checks are registered.\n"
    area_width = max(len(row["area"]) for row in rows)
    id_width = max(len(row["id"]) for row in rows)
    header = f"{'ID':<{id_width}}  {'AREA':<{area_width}}  {'SEVERITY':<8}  TITLE"
    lines = [style("bold", header)]
    for row in rows:
        severity = style(row["severity"], f"{row['severity']:<8}")
        lines.append(
            f"{row['id']:<{id_width}}  {row['area']:<{area_width}}  "
            f"{severity}  {row['title']}"
        )
        if row["cases"]:
            indent = " " * (id_width + area_width + 4)
            lines.append(f"{indent}{style('dim', row['severities'])}")
    return "\n".join(lines) + "\n"


# Commands


@contextmanager
def quiet_stdout():
    """Send whatever Zope prints while starting to stderr, not stdout."""
    with redirect_stdout(sys.stderr):
        yield


def command_audit(args):
    """``securitybp audit``: audit one site; exit 0, 1 (failed) or 2."""
    try:
        with quiet_stdout():
            app = start_zope(args.zope_conf)
            try:
                site = get_site(app, args.site)
                report, threshold = audit_site(app, site, args.fail_on)
                if args.format == "json":
                    from collective.securitybp.history import report_history

                    data = report.to_dict()
                    data["history"] = report_history(site, report)
                    output = json.dumps(data)
                else:
                    width = min(shutil.get_terminal_size((100, 24)).columns, 100)
                    output = format_report(
                        report, threshold, Style(use_colour(sys.stdout)), width
                    ).rstrip("\n")
            finally:
                stop_zope()
    except CommandError as error:
        return fail(error)
    print(output)
    return EXIT_FAILED if report.failing(threshold) else EXIT_OK


def load_checks_zcml():
    """Register this add-on's checks without starting Zope."""
    from zope.configuration import xmlconfig

    xmlconfig.string(
        """
        <configure xmlns="http://namespaces.zope.org/zope">
          <include package="collective.securitybp" file="meta.zcml" />
          <include package="collective.securitybp.checks" />
        </configure>
        """
    )


def command_checks(args):
    """``securitybp checks``: list the registered checks; exit 0 or 2."""
    from collective.securitybp.audit import registered_checks

    try:
        with quiet_stdout():
            if args.zope_conf:
                start_zope(args.zope_conf)
                try:
                    checks = registered_checks()
                finally:
                    stop_zope()
            else:
                load_checks_zcml()
                checks = registered_checks()
    except CommandError as error:
        return fail(error)
    if args.format == "json":
        print(json.dumps({"checks": [check_data(check) for check in checks]}))
    else:
        print(format_checks(checks, Style(use_colour(sys.stdout))), end="")
    return EXIT_OK


def fail(error):
    print(f"{PROG}: error: {one_line(error)}", file=sys.stderr)
    return EXIT_ERROR


def build_parser():
    """The argument parser of ``securitybp``."""
    parser = ArgumentParser(
        prog=PROG,
        description="Audit a Plone site against Plone's Security Best "
        "Practices (collective.securitybp).",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log Zope's startup at INFO and show tracebacks of errors",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    audit = commands.add_parser(
        "audit",
        help="audit a Plone site of an instance (read-only, works while it runs)",
        description="Open the instance's database read-only and audit a Plone "
        "site. Exit status: 0 when no unacknowledged finding is at or above "
        "the fail threshold, 1 when one is, 2 when the audit could not run.",
    )
    audit.add_argument(
        "--zope-conf",
        required=True,
        metavar="PATH",
        help="the instance's zope.conf, e.g. instance/etc/zope.conf",
    )
    audit.add_argument(
        "--site",
        metavar="ID_OR_PATH",
        help="id or path of the Plone site (Plone, /Plone, /folder/Plone); "
        "may be left out when the database holds exactly one site",
    )
    audit.add_argument(
        "--format", choices=("text", "json"), default="text", help="default: text"
    )
    audit.add_argument(
        "--fail-on",
        type=str.lower,
        choices=FAIL_ON_CHOICES,
        help="exit 1 when an unacknowledged finding is at or above this "
        "severity; default: the site's setting (high unless changed in the "
        "control panel)",
    )
    audit.set_defaults(handler=command_audit)

    checks = commands.add_parser(
        "checks",
        help="list the registered checks",
        description="List every registered check with its id, area, default "
        "severity and title. Without --zope-conf only the checks of "
        "collective.securitybp are known; with it, those of other add-ons "
        "of the instance too.",
    )
    checks.add_argument(
        "--zope-conf",
        metavar="PATH",
        help="load the instance's configuration, to list checks of other add-ons",
    )
    checks.add_argument(
        "--format", choices=("text", "json"), default="text", help="default: text"
    )
    checks.set_defaults(handler=command_checks)

    from collective.securitybp.cli_advisories import add_command as add_advisories

    add_advisories(commands)
    return parser


def main(argv=None):
    """Run the ``securitybp`` command.

    :param argv: the arguments, without the program name; ``sys.argv[1:]``
        if omitted.
    :returns: the exit code: 0 passed, 1 failed, 2 could not run.

    :Example:

    .. code-block:: console

        $ securitybp audit --zope-conf instance/etc/zope.conf --site Plone
        $ securitybp audit --zope-conf instance/etc/zope.conf --format json \\
              --fail-on critical
        $ securitybp checks
    """
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO if args.verbose else logging.WARNING,
        format=f"{PROG}: %(levelname)s [%(name)s] %(message)s",
    )
    if args.verbose:
        log.setLevel(logging.DEBUG)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`securitybp audit | head`): nothing to say.
        # Point stdout at /dev/null so the interpreter's final flush is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as error:  # a bug: still one line and exit 2
        log.debug("Unexpected error", exc_info=True)
        return fail(
            f"unexpected {type(error).__name__}: {error} (run with --verbose "
            "for the traceback, and report it to collective.securitybp)"
        )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
