"""versions.cfg (buildout) must pin what constraints.txt (pip) pins.

Plain pytest, no Plone layer. When a test here fails after constraints.txt
changed, regenerate the buildout pins with

    python3 scripts/versions_from_constraints.py
"""

from pathlib import Path
import configparser
import importlib.util
import pytest
import re


ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS = ROOT / "constraints.txt"
VERSIONS = ROOT / "versions.cfg"
BUILDOUT = ROOT / "buildout.cfg"
SCRIPT = ROOT / "scripts" / "versions_from_constraints.py"
FIX = "run: python3 scripts/versions_from_constraints.py"


def load_script():
    spec = importlib.util.spec_from_file_location("versions_from_constraints", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def read_cfg(path):
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keep the names' case, as buildout does
    parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    return parser


def constraint_pins():
    """{canonical name: (name, version)}, read independently of the script."""
    pins = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        assert sep, f"constraints.txt: not an exact pin: {line!r}"
        name = name.split("[", 1)[0].strip()
        pins[canonical(name)] = (name, version.strip())
    return pins


def versions_pins():
    parser = read_cfg(VERSIONS)
    assert parser.sections() == ["versions"], "versions.cfg: only [versions]"
    pins = {}
    for name, version in parser.items("versions"):
        key = canonical(name)
        assert key not in pins, f"versions.cfg pins {name} twice"
        pins[key] = (name, version.strip())
    return pins


def test_every_constraint_is_pinned_the_same_in_versions_cfg():
    constraints = constraint_pins()
    assert constraints, "constraints.txt has no pins"
    versions = versions_pins()
    problems = []
    for key, (name, version) in sorted(constraints.items()):
        if key not in versions:
            problems.append(f"{name}=={version}: missing from versions.cfg")
        elif versions[key][1] != version:
            problems.append(
                f"{name}=={version} in constraints.txt but "
                f"{versions[key][1]} in versions.cfg"
            )
    assert not problems, "\n".join(problems + [FIX])


def test_versions_cfg_pins_nothing_else_than_constraints_and_buildout():
    allowed = set(constraint_pins())
    allowed |= {canonical(name) for name in load_script().BUILDOUT_PINS}
    extra = sorted(
        name for key, (name, _) in versions_pins().items() if key not in allowed
    )
    assert not extra, f"pinned only in versions.cfg (hand-edited?): {extra}; {FIX}"


def test_versions_cfg_is_exactly_the_generated_file():
    expected = load_script().generate(CONSTRAINTS)
    assert VERSIONS.read_text(encoding="utf-8") == expected, (
        f"versions.cfg is out of date or hand-edited; {FIX}"
    )


def test_buildout_itself_and_its_recipe_are_pinned():
    versions = versions_pins()
    for name in (
        "zc.buildout",
        "zc.recipe.egg",
        "plone.recipe.zope2instance",
        "setuptools",
        "pip",
        "wheel",
        "Plone",
        "Products.CMFPlone",
    ):
        assert canonical(name) in versions, f"{name} not pinned in versions.cfg"


def test_buildout_cfg_uses_the_pins_and_ships_no_credentials():
    cfg = read_cfg(BUILDOUT)
    buildout = cfg["buildout"]
    assert buildout["extends"].split() == ["versions.cfg"]
    assert buildout["develop"].split() == ["."]
    assert buildout["allow-picked-versions"] == "false"
    instance = cfg[buildout["parts"].split()[0]]
    assert instance["recipe"] == "plone.recipe.zope2instance"
    assert instance["eggs"].split() == ["Plone", "collective.securitybp"]
    # The initial Manager comes from buildout:admin-user, empty by default
    # (the recipe then asks for it): no password in the repository.
    assert instance["user"] == "${buildout:admin-user}"
    assert buildout["admin-user"] == ""
    text = BUILDOUT.read_text(encoding="utf-8")
    assert not re.search(r"^\s*(user|admin-user)\s*=\s*[^$\s]\S*:", text, re.MULTILINE)
    assert buildout["http-address"].startswith("127.0.0.1:")


def test_versions_written_in_the_docs_match_versions_cfg():
    """'pip install zc.buildout==X' in buildout.cfg, README.rst or docs/ is
    pinned X."""
    versions = versions_pins()
    problems = []
    docs = sorted((ROOT / "docs").rglob("*.rst"))
    for doc in (BUILDOUT, ROOT / "README.rst", *docs):
        if not doc.exists():
            continue
        text = doc.read_text(encoding="utf-8")
        for name, version in re.findall(r"([A-Za-z][\w.-]*)==([\w.+!-]+)", text):
            pinned = versions.get(canonical(name))
            if pinned and pinned[1] != version:
                problems.append(
                    f"{doc.relative_to(ROOT)}: {name}=={version}, pinned {pinned[1]}"
                )
    assert not problems, "\n".join(problems)


# The generator itself.


def test_parser_reads_pins_extras_and_comments():
    script = load_script()
    text = "# header\n\nFoo==1.0\nbar_baz[extra]==2.0  # why\nFoo==1.0\n"
    assert script.parse_constraints(text) == [("Foo", "1.0"), ("bar_baz", "2.0")]


@pytest.mark.parametrize(
    "line",
    [
        "foo>=1.0",
        "foo==1.0; python_version < '3.12'",
        "-r other.txt",
        "foo",
        "foo==1.*",
    ],
)
def test_parser_rejects_what_buildout_cannot_express(line):
    script = load_script()
    with pytest.raises(script.ConstraintError, match=":2:"):
        script.parse_constraints(f"ok==1\n{line}\n")


def test_parser_rejects_one_name_pinned_twice_differently():
    script = load_script()
    with pytest.raises(script.ConstraintError, match="pinned twice"):
        script.parse_constraints("Foo==1.0\nfoo==2.0\n")


def test_render_keeps_buildout_pins_consistent_with_constraints():
    script = load_script()
    text = script.render([("Zope", "6.3")], extra={"zope": "6.3", "zc.buildout": "6"})
    assert "Zope = 6.3\n" in text and "zope = 6.3" not in text
    assert text.endswith("zc.buildout = 6\n")
    with pytest.raises(script.ConstraintError, match="make them agree"):
        script.render([("Zope", "6.3")], extra={"zope": "6.2"})


def test_check_mode_reports_a_stale_file(tmp_path):
    script = load_script()
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("Foo==1.0\n", encoding="utf-8")
    output = tmp_path / "versions.cfg"
    args = ["--constraints", str(constraints), "--output", str(output)]
    assert script.main([*args, "--check"]) == 1
    assert script.main(args) == 0
    assert "Foo = 1.0\n" in output.read_text(encoding="utf-8")
    assert script.main([*args, "--check"]) == 0
    constraints.write_text("Foo==1.1\n", encoding="utf-8")
    assert script.main([*args, "--check"]) == 1
