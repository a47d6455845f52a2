"""README's section on the checks agrees with the registered checks."""

from collective.securitybp.audit import registered_checks
from collective.securitybp.docs import checks_rst
from collective.securitybp.docs import END
from collective.securitybp.docs import START
from pathlib import Path


README = Path(__file__).parent.parent / "README.rst"


def test_readme_checks_match_registry(integration):
    text = README.read_text(encoding="utf-8")
    section = START + text.split(START, 1)[1].split(END, 1)[0] + END
    assert section == checks_rst(registered_checks()), "run `make docs`"


def test_every_check_documented_in_docstring(integration):
    for check in registered_checks():
        doc = type(check).__doc__ or ""
        assert len(doc.strip().splitlines()) > 3, f"{check.id} needs a docstring"
        assert "Example finding" in doc, check.id
