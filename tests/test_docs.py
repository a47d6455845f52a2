"""README's table of checks agrees with the registered checks."""

from collective.securitybp.audit import registered_checks
from pathlib import Path

README = Path(__file__).parent.parent / "README.rst"


def readme_rows():
    text = README.read_text(encoding="utf-8")
    table = text.split(".. checks-table-start")[1].split(".. checks-table-end")[0]
    rows = []
    for line in table.splitlines():
        if line.startswith("SBP-"):
            check_id, area, severity, title = line.split(None, 3)
            rows.append((check_id, area, severity, title.strip()))
    return rows


def test_readme_table_matches_registry(integration):
    registered = [
        (check.id, check.area.label, check.severity.label, str(check.title))
        for check in registered_checks()
    ]
    assert readme_rows() == registered


def test_every_check_documented_in_docstring(integration):
    for check in registered_checks():
        doc = type(check).__doc__ or ""
        assert len(doc.strip().splitlines()) > 3, f"{check.id} needs a docstring"
        assert "Example finding" in doc, check.id
