#!/usr/bin/env python3
"""Write buildout's versions.cfg from pip's constraints.txt.

constraints.txt is the single source of the tested versions: pip users
install with ``-c constraints.txt``, buildout users get the same pins from
versions.cfg, which this script generates so that the two never drift.
tests/test_versions.py fails when they do.

Packages that only buildout needs (zc.buildout, its recipes and their own
dependencies) are not in constraints.txt; their pins live in BUILDOUT_PINS
below. A package pinned in both places must have the same version in both,
otherwise the script stops with an error.

Usage (from the top of the repository, any Python >= 3.10, stdlib only)::

    python3 scripts/versions_from_constraints.py          # write versions.cfg
    python3 scripts/versions_from_constraints.py --check  # exit 1 if stale
"""

from pathlib import Path
import argparse
import re
import sys


ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints.txt"
VERSIONS = ROOT / "versions.cfg"

# Needed by buildout.cfg but not by a pip installation, so not in
# constraints.txt. Resolved with zc.buildout 6.0.1 on Python 3.11 against
# the rest of constraints.txt (a buildout run with allow-picked-versions).
BUILDOUT_PINS = {
    "zc.buildout": "6.0.1",
    "zc.recipe.egg": "6.0.0",
    "plone.recipe.zope2instance": "9.1.0",
    # dependencies of zc.buildout and plone.recipe.zope2instance
    "platformdirs": "4.14.8",
    "python-dotenv": "1.2.4",
    "ZEO": "6.2",
    "zdaemon": "5.2.1",
}

HEADER = """\
# GENERATED FILE, DO NOT EDIT: written by scripts/versions_from_constraints.py
# from constraints.txt (the versions tested with collective.securitybp) plus
# the pins of buildout's own packages kept in that script (BUILDOUT_PINS).
# To change a version, edit constraints.txt (or BUILDOUT_PINS) and run
#     python3 scripts/versions_from_constraints.py
# tests/test_versions.py fails when this file and constraints.txt differ.

[versions]
"""

# name, optional [extras], "==", version; nothing else.
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)"
    r"\s*(?:\[[^\]]*\])?\s*==\s*(?P<version>[A-Za-z0-9][A-Za-z0-9.+!_-]*)$"
)


class ConstraintError(ValueError):
    pass


def canonical(name):
    """PEP 503 name, to compare names spelled differently."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_constraints(text, source="constraints.txt"):
    """Return [(name, version)] from a pip constraints file.

    Accepts only exact pins (``Name==1.2``, extras ignored) so that every
    line can be expressed in buildout's [versions]. Environment markers,
    ranges, includes and options are rejected with the line number rather
    than silently dropped.
    """
    pins = []
    seen = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].split("\t#", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        if match is None:
            raise ConstraintError(
                f"{source}:{number}: cannot express {raw.strip()!r} in "
                "buildout's [versions]; only exact pins 'Name==version' "
                "without environment markers are supported"
            )
        name, version = match.group("name"), match.group("version")
        key = canonical(name)
        if key in seen:
            if seen[key] != version:
                raise ConstraintError(
                    f"{source}:{number}: {name} pinned twice, to "
                    f"{seen[key]} and {version}"
                )
            continue
        seen[key] = version
        pins.append((name, version))
    return pins


def render(pins, extra=BUILDOUT_PINS):
    """versions.cfg text for the constraints ``pins`` plus ``extra``."""
    pinned = {canonical(name): version for name, version in pins}
    lines = [HEADER, "# from constraints.txt\n"]
    lines += [f"{name} = {version}\n" for name, version in pins]
    only_buildout = []
    for name, version in extra.items():
        have = pinned.get(canonical(name))
        if have is None:
            only_buildout.append((name, version))
        elif have != version:
            raise ConstraintError(
                f"{name} is {have} in constraints.txt but {version} in "
                "BUILDOUT_PINS of scripts/versions_from_constraints.py: "
                "make them agree"
            )
    if only_buildout:
        lines.append("\n# buildout only (BUILDOUT_PINS in the script)\n")
        lines += [f"{name} = {version}\n" for name, version in only_buildout]
    return "".join(lines)


def generate(constraints=CONSTRAINTS):
    path = Path(constraints)
    return render(parse_constraints(path.read_text(encoding="utf-8"), path.name))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--constraints", default=CONSTRAINTS, type=Path)
    parser.add_argument("--output", default=VERSIONS, type=Path)
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit 1 if the output file is not up to date",
    )
    args = parser.parse_args(argv)
    try:
        text = generate(args.constraints)
    except (ConstraintError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.check:
        current = (
            args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        )
        if current != text:
            print(
                f"{args.output} is out of date with {args.constraints}: run "
                "python3 scripts/versions_from_constraints.py",
                file=sys.stderr,
            )
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
