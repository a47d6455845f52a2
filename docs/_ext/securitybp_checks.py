"""Sphinx directives that write the checks reference from the registered checks.

``.. securitybp-checks-table::`` renders the table of every check;
``.. securitybp-checks:: PRIV`` renders every check of an area (its code)
with its severities and its docstring, each under a label such as
``sbp-priv-001`` that the table links to. The checks are those that
collective.securitybp registers in its ZCML, loaded once per build, so the
reference cannot drift from the code. A build warns (and with ``-W`` fails)
when an area has no page that renders its checks.
"""

from collective.securitybp.docs import area_checks_rst
from collective.securitybp.docs import checks_table_rst
from collective.securitybp.model import Area
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles


logger = logging.getLogger(__name__)
_CHECKS = []


def registered_checks():
    """The checks registered by collective.securitybp's ZCML."""
    if not _CHECKS:
        from collective.securitybp.audit import registered_checks
        from zope.configuration import xmlconfig
        import collective.securitybp
        import collective.securitybp.checks

        context = xmlconfig.file("meta.zcml", package=collective.securitybp)
        xmlconfig.file(
            "configure.zcml", package=collective.securitybp.checks, context=context
        )
        _CHECKS.extend(registered_checks())
    return _CHECKS


def _areas(env):
    if not hasattr(env, "securitybp_areas"):
        env.securitybp_areas = {}
    return env.securitybp_areas


class _ChecksDirective(SphinxDirective):
    def render(self, text):
        source, _line = self.get_source_info()
        content = StringList(
            text.splitlines(), source=f"{source} (generated from the checks)"
        )
        node = nodes.section()
        node.document = self.state.document
        nested_parse_with_titles(self.state, content, node)
        return node.children


class ChecksTable(_ChecksDirective):
    """The table of every registered check."""

    def run(self):
        _areas(self.env).setdefault(self.env.docname, set())
        return self.render(checks_table_rst(registered_checks()))


class AreaChecks(_ChecksDirective):
    """Every check of one area: ``.. securitybp-checks:: PRIV``."""

    required_arguments = 1

    def run(self):
        code = self.arguments[0]
        area = next((a for a in Area if a.code == code), None)
        if area is None:
            codes = ", ".join(a.code for a in Area)
            raise self.error(f"unknown area {code!r}: one of {codes}")
        text = area_checks_rst(registered_checks(), area)
        if not text:
            raise self.error(f"no check is registered in the area {code}")
        _areas(self.env).setdefault(self.env.docname, set()).add(code)
        return self.render(text)


def purge(app, env, docname):
    _areas(env).pop(docname, None)


def merge(app, env, docnames, other):
    _areas(env).update(
        {name: codes for name, codes in _areas(other).items() if name in docnames}
    )


def always_outdated(app, env, added, changed, removed):
    """Pages with generated checks are read again at every build."""
    return [name for name in _areas(env) if name not in removed]


def check_every_area(app, env):
    documented = set().union(*_areas(env).values())
    for area in Area:
        if area.code not in documented:
            logger.warning(
                "no page renders the checks of the area %s "
                "(add `.. securitybp-checks:: %s`)",
                area.code,
                area.code,
            )


def setup(app):
    app.add_directive("securitybp-checks-table", ChecksTable)
    app.add_directive("securitybp-checks", AreaChecks)
    app.connect("env-purge-doc", purge)
    app.connect("env-merge-info", merge)
    app.connect("env-get-outdated", always_outdated)
    app.connect("env-check-consistency", check_every_area)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
