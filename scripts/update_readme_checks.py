"""Rewrite README.rst's section on the checks from the registered checks.

Run by ``make docs``; a test fails while README.rst and the registry differ.
"""

from collective.securitybp.audit import registered_checks
from collective.securitybp.docs import checks_rst
from collective.securitybp.docs import replace_section
from pathlib import Path
from zope.configuration import xmlconfig
import collective.securitybp
import collective.securitybp.checks
import sys


def main(readme="README.rst"):
    context = xmlconfig.file("meta.zcml", package=collective.securitybp)
    xmlconfig.file(
        "configure.zcml", package=collective.securitybp.checks, context=context
    )
    path = Path(readme)
    text = path.read_text(encoding="utf-8")
    path.write_text(
        replace_section(text, checks_rst(registered_checks())), encoding="utf-8"
    )
    print(f"Updated the checks in {path}.")


if __name__ == "__main__":
    main(*sys.argv[1:])
