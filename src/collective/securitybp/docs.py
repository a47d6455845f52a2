"""The README's section on the checks, generated from the registered checks.

``make docs`` rewrites the part of README.rst between the markers
``.. checks-table-start`` and ``.. checks-table-end``; a test fails when the
README and the registry disagree.
"""

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
        (c.id, c.area.label, c.severity.label, str(c.title))
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


def main():  # pragma: no cover - used by `make docs`
    from collective.securitybp.audit import registered_checks
    from pathlib import Path
    from zope.configuration import xmlconfig
    import collective.securitybp
    import collective.securitybp.checks
    import sys

    context = xmlconfig.file("meta.zcml", package=collective.securitybp)
    xmlconfig.file(
        "configure.zcml", package=collective.securitybp.checks, context=context
    )
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "README.rst")
    path.write_text(
        replace_section(
            path.read_text(encoding="utf-8"), checks_rst(registered_checks())
        ),
        encoding="utf-8",
    )
    print(f"Updated the checks in {path}.")


if __name__ == "__main__":  # pragma: no cover
    main()
