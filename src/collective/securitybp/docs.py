"""The checks reference of the documentation, generated from the checks.

The Sphinx extension ``docs/_ext/securitybp_checks.py`` calls these
functions while ``make docs`` builds the site, with the checks registered
in the code, so the reference cannot drift from them: the table of every
check (``checks_table_rst``) and, on each area's page, every check of that
area with its severities and its docstring (``area_checks_rst``).
"""

from collective.securitybp.checks.base import severity_text
import inspect
import re


def label(check):
    """The Sphinx label of a check's section, ``sbp-priv-001``."""
    return check.id.lower()


def _escape(text):
    """``text`` as literal reStructuredText inline text."""
    return re.sub(r"([\\`*|_])", r"\\\1", str(text))


def _list_table(rows, headers, widths):
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        f"   :widths: {' '.join(str(w) for w in widths)}",
        "",
    ]
    for row in [headers, *rows]:
        first, *rest = row
        lines.append(f"   * - {first}")
        lines += [f"     - {cell}" for cell in rest]
    return lines


def checks_table_rst(checks):
    """The reStructuredText table of ``checks``: id, area, severity, title.

    Each id links to the check's section on its area's page.
    """
    rows = [
        (
            f":ref:`{c.id} <{label(c)}>`",
            str(c.area.title),
            _escape(severity_text(c)),
            _escape(c.title),
        )
        for c in sorted(checks, key=lambda c: c.id)
    ]
    return "\n".join(
        [*_list_table(rows, ("id", "area", "severity", "title"), (18, 16, 30, 36)), ""]
    )


def check_rst(check):
    """One check: a labelled section with its severities and its docstring."""
    heading = f"{check.id}: {_escape(check.title)}"
    doc = inspect.cleandoc(type(check).__doc__ or "").strip()
    return "\n".join(
        [
            f".. _{label(check)}:",
            "",
            heading,
            "~" * len(heading),
            "",
            f":Severity: {_escape(severity_text(check))}",
            f":Document section: {_escape(check.reference)}",
            "",
            doc,
            "",
        ]
    )


def area_checks_rst(checks, area):
    """Every check of ``area`` among ``checks``, by id."""
    in_area = sorted((c for c in checks if c.area is area), key=lambda c: c.id)
    return "\n".join(check_rst(check) for check in in_area)
