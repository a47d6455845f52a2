"""The documentation site builds without a warning, and its checks
reference comes from the registered checks."""

from collective.securitybp.audit import registered_checks
from collective.securitybp.docs import area_checks_rst
from collective.securitybp.docs import checks_table_rst
from collective.securitybp.model import Area
from pathlib import Path
import subprocess
import sys


ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.rst"


def test_every_check_documented_in_docstring(integration):
    for check in registered_checks():
        doc = type(check).__doc__ or ""
        assert len(doc.strip().splitlines()) > 3, f"{check.id} needs a docstring"
        assert "Example finding" in doc, check.id


def test_checks_table_links_every_check(integration):
    checks = registered_checks()
    table = checks_table_rst(checks)
    for check in checks:
        assert f":ref:`{check.id} <{check.id.lower()}>`" in table


def test_area_pages_hold_every_check_with_its_docstring(integration):
    checks = registered_checks()
    for check in checks:
        text = area_checks_rst(checks, check.area)
        assert f".. _{check.id.lower()}:" in text
        first_line = (type(check).__doc__ or "").strip().splitlines()[0]
        assert first_line in text, check.id


def test_every_area_has_a_page_rendering_its_checks():
    pages = "".join(p.read_text(encoding="utf-8") for p in DOCS.rglob("*.rst"))
    for area in Area:
        assert f".. securitybp-checks:: {area.code}\n" in pages, area.code


def test_sphinx_build_has_no_warning(tmp_path):
    """What ``make docs`` runs, into a temporary directory: warnings fail."""
    out = tmp_path / "html"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(DOCS),
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    page = (out / "checks" / "privileges.html").read_text(encoding="utf-8")
    assert 'id="sbp-priv-001"' in page
    index = (out / "checks" / "index.html").read_text(encoding="utf-8")
    assert 'href="privileges.html#sbp-priv-001"' in index


def test_readme_is_short_and_points_to_the_docs():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    assert "docs/" in text
    assert "make docs" in text
