"""Sphinx configuration of collective.securitybp's documentation.

Build it with ``make docs`` (``sphinx-build -W -b html docs docs/_build/html``).
The checks reference is generated from the registered checks by the
extension in ``_ext/securitybp_checks.py``.
"""

from importlib.metadata import version as distribution_version
from pathlib import Path
import sys


sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "collective.securitybp"
author = "collective.securitybp contributors"
copyright = "collective.securitybp contributors"  # noqa: A001
release = distribution_version("collective.securitybp")
version = release

extensions = ["securitybp_checks"]
exclude_patterns = ["_build"]
root_doc = "index"
html_theme = "alabaster"
html_static_path = ["_static"]
html_title = f"collective.securitybp {release}"
html_theme_options = {
    "description": "Audit and harden a Plone site",
    "page_width": "1200px",
    "sidebar_width": "240px",
}
smartquotes = False
