"""The README's section on the checks, generated from the registered checks.

``make docs`` (``scripts/update_readme_checks.py``) rewrites the part of
README.rst between the markers
``.. checks-table-start`` and ``.. checks-table-end``; a test fails when the
README and the registry disagree.
"""

from collective.securitybp.checks.base import severity_text
from collective.securitybp.model import Area
import inspect


START = ".. checks-table-start"
END = ".. checks-table-end"


def _table(rows, headers):
    widths = [
        max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))
    ]
    rule = "  ".join("=" * w for w in widths)

    def line(row):
        return "  ".join(
            str(v).ljust(w) for v, w in zip(row, widths, strict=True)
        ).rstrip()

    return [rule, line(headers), rule, *[line(r) for r in rows], rule]


def checks_rst(checks):
    """The reStructuredText of the checks section for ``checks``."""
    rows = [
        (c.id, c.area.label, severity_text(c), str(c.title))
        for c in sorted(checks, key=lambda c: c.id)
    ]
    lines = [START, "", *_table(rows, ("id", "area", "severity", "title")), ""]
    for area in Area:
        in_area = [c for c in sorted(checks, key=lambda c: c.id) if c.area is area]
        if not in_area:
            continue
        heading = f"{area.title} ({area.code})"
        lines += [heading, "-" * len(heading), ""]
        for check in in_area:
            lines.append(f"{check.id}: {check.title}")
            doc = inspect.cleandoc(type(check).__doc__ or "").strip()
            for paragraph in doc.splitlines():
                lines.append(f"    {paragraph}".rstrip())
            lines.append(f'    Document section: "{check.reference}".')
            lines.append("")
    lines.append(END)
    return "\n".join(lines)


def replace_section(readme_text, section):
    before, rest = readme_text.split(START, 1)
    _old, after = rest.split(END, 1)
    return before + section + after
