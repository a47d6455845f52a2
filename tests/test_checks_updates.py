"""Update checks and the advisory data: firing, quiet, loading a new file."""

from collective.securitybp import advisories
from collective.securitybp.advisories import SHIPPED_PATH
from collective.securitybp.audit import AuditContext
from collective.securitybp.audit import run_check
from collective.securitybp.checks.updates import AdvisoryDataStale
from collective.securitybp.checks.updates import AdvisoryFileIgnored
from collective.securitybp.checks.updates import PlonePastSecuritySupport
from collective.securitybp.checks.updates import PythonPastEndOfLife
from collective.securitybp.checks.updates import VulnerableDistribution
from collective.securitybp.cli_advisories import main_advisories
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from importlib.metadata import version
from pathlib import Path
import json
import os
import pytest
import sys


SHIPPED = json.loads(SHIPPED_PATH.read_text(encoding="utf-8"))
SHIPPED_DATE = date.fromisoformat(SHIPPED["updated"])
TODAY = datetime.now(timezone.utc).date()
PORTLETS = version("plone.app.portlets")
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
REFERENCE = "Keep your Plone up-to-date"


def run(check, portal, now=None):
    context = AuditContext(
        site=portal,
        root=portal.getPhysicalRoot(),
        now=now or datetime.now(timezone.utc),
    )
    return [f.as_data() for f in run_check(check, context)]


def at(day):
    return datetime(day.year, day.month, day.day, 12, tzinfo=timezone.utc)


def advisory(id="TEST-0001", package="plone.app.portlets", ranges=None, **extra):
    item = {
        "id": id,
        "aliases": ["CVE-2099-0001"],
        "affected": [{"package": package, "ranges": ranges or [f"<={PORTLETS}"]}],
        "severity": "critical",
        "summary": "Remote code execution in a test.",
        "published": "2026-06-23",
        "source": "https://example.org/advisories/TEST-0001",
    }
    item.update(extra)
    return item


def data_file(path, items, updated=None, **changes):
    data = dict(SHIPPED, updated=(updated or TODAY).isoformat(), advisories=items)
    data.update(changes)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def loaded(tmp_path, monkeypatch):
    """The environment variable points at a file of the test."""
    path = tmp_path / "advisories.json"
    monkeypatch.setenv("SECURITYBP_ADVISORIES", str(path))
    return path


class TestVulnerableDistribution:
    check = VulnerableDistribution()

    def test_quiet_with_shipped_data(self, portal, monkeypatch):
        monkeypatch.delenv("SECURITYBP_ADVISORIES", raising=False)
        assert run(self.check, portal) == []

    def test_fires_for_installed_version_in_range(self, portal, loaded):
        data_file(
            loaded,
            [
                advisory(ranges=[">=1.0,<1.1", f">={PORTLETS},<99.0.1"]),
                advisory(
                    id="TEST-0002",
                    package="Zope",
                    ranges=[">=2.0"],
                    severity="moderate",
                    aliases=[],
                    summary="A moderate problem.",
                ),
                advisory(id="TEST-0003", package="not-installed-xyz"),
                advisory(id="TEST-0004", ranges=["<0.1"]),
                advisory(id="TEST-0005", mitigated_by=["Zope"]),
            ],
        )
        findings = run(self.check, portal)
        assert [(f["check_id"], f["severity"], f["subject"]) for f in findings] == [
            ("SBP-UPDATE-001", "critical", "plone.app.portlets TEST-0001"),
            ("SBP-UPDATE-001", "high", "Zope TEST-0002"),
        ]
        first = findings[0]
        assert first["title"] == "Installed package has a known vulnerability"
        assert first["reference"] == REFERENCE
        assert first["detail"] == (
            f"plone.app.portlets {PORTLETS} is affected by TEST-0001 "
            "(CVE-2099-0001; rated critical, published 2026-06-23): Remote code "
            f"execution in a test. (advisory data of {TODAY.isoformat()})"
        )
        assert first["remediation"] == (
            "Upgrade plone.app.portlets to 99.0.1 or later: raise its pin in "
            "your constraints or versions file, reinstall and restart the "
            "instance. Details and workarounds: "
            "https://example.org/advisories/TEST-0001"
        )
        assert findings[1]["remediation"] == (
            "Upgrade Zope to a release that fixes TEST-0002, then restart the "
            "instance. Details: https://example.org/advisories/TEST-0001"
        )
        assert (
            f"Zope {version('Zope')} is affected by TEST-0002 (-;"
            in (findings[1]["detail"])
        )

    def test_older_loaded_file_loses_to_shipped_data(self, portal, loaded):
        data_file(loaded, [advisory()], updated=SHIPPED_DATE - timedelta(days=1))
        assert run(self.check, portal) == []


class TestPlonePastSecuritySupport:
    check = PlonePastSecuritySupport()

    def test_quiet_while_supported(self, portal):
        assert run(self.check, portal, at(date(2027, 12, 31))) == []

    def test_fires_after_the_end_of_support(self, portal):
        series = ".".join(version("Products.CMFPlone").split(".")[:2])
        end = SHIPPED["plone_security_support"]["dates"][series]
        assert end == "2027-12-31"
        assert run(self.check, portal, at(date(2028, 1, 1))) == [
            {
                "check_id": "SBP-UPDATE-002",
                "area": "updates",
                "area_title": "Updates",
                "severity": "high",
                "title": "Plone past the end of its security support",
                "detail": (
                    f"This site runs Plone {series}, whose security support "
                    "ended on 2027-12-31. Vulnerabilities found since then are "
                    "not fixed for it."
                ),
                "remediation": (
                    "Upgrade to a supported Plone release "
                    "(https://plone.org/download/release-schedule). Test the "
                    "upgrade on a copy of the site first."
                ),
                "reference": REFERENCE,
                "subject": f"Plone {series}",
                "commands": [],
                "links": [],
                "cause": None,
            }
        ]

    def test_series_older_than_the_data_counts_as_unsupported(self):
        dates = advisories.read(SHIPPED_PATH).plone_support
        assert advisories.support_end(dates, "4.2") == date(2022, 12, 12)
        assert advisories.support_end(dates, "5.2") == date(2024, 10, 31)
        assert advisories.support_end(dates, "7.0") is None


class TestPythonPastEndOfLife:
    check = PythonPastEndOfLife()

    def test_fires_after_end_of_life(self, portal):
        end = date.fromisoformat(SHIPPED["python_end_of_life"]["dates"][PYTHON])
        assert run(self.check, portal, at(end)) == []
        [finding] = run(self.check, portal, at(end + timedelta(days=1)))
        assert finding["check_id"] == "SBP-UPDATE-003"
        assert finding["severity"] == "high"
        assert finding["subject"] == f"Python {PYTHON}"
        assert finding["detail"] == (
            f"Zope runs on Python {PYTHON}, which reached its end of life on "
            f"{end.isoformat()} and gets no security fixes any more."
        )

    def test_quiet_today(self, portal):
        assert run(self.check, portal, at(date(2026, 11, 29))) == []


class TestAdvisoryDataStale:
    check = AdvisoryDataStale()

    def test_quiet_up_to_180_days(self, portal, monkeypatch):
        monkeypatch.delenv("SECURITYBP_ADVISORIES", raising=False)
        assert run(self.check, portal, at(SHIPPED_DATE + timedelta(days=180))) == []

    def test_fires_after_180_days(self, portal, monkeypatch):
        monkeypatch.delenv("SECURITYBP_ADVISORIES", raising=False)
        day = SHIPPED_DATE + timedelta(days=181)
        assert run(self.check, portal, at(day)) == [
            {
                "check_id": "SBP-UPDATE-004",
                "area": "updates",
                "area_title": "Updates",
                "severity": "low",
                "title": "Advisory data is stale",
                "detail": (
                    f"The advisory data in use ({SHIPPED_PATH}) is dated "
                    f"{SHIPPED_DATE.isoformat()}, 181 days ago (more than 180). "
                    "Advisories published since then are not checked."
                ),
                "remediation": (
                    "Update the advisory data from OSV (securitybp advisories "
                    "--zope-conf instance/etc/zope.conf --update, for example "
                    "daily from cron), upgrade collective.securitybp, or load "
                    "a newer advisory file: securitybp advisories --zope-conf "
                    "instance/etc/zope.conf --load FILE. Subscribe to the "
                    "plone-announce mailing list for security announcements."
                ),
                "reference": REFERENCE,
                "subject": "advisory data",
                "commands": [],
                "links": [],
                "cause": None,
            }
        ]

    def test_follows_from_an_ignored_loaded_file(self, portal, loaded):
        loaded.write_text("{ not json", encoding="utf-8")
        day = SHIPPED_DATE + timedelta(days=200)
        [finding] = run(self.check, portal, at(day))
        assert (finding["severity"], finding["subject"]) == ("low", "advisory data")
        assert finding["cause"] == {
            "check_id": "SBP-UPDATE-005",
            "subject": "advisory file",
        }

    def test_a_newer_loaded_file_makes_it_fresh(self, portal, loaded):
        day = SHIPPED_DATE + timedelta(days=200)
        assert len(run(self.check, portal, at(day))) == 1
        data_file(loaded, [advisory(ranges=["<0.1"])])
        assert run(self.check, portal, at(TODAY + timedelta(days=10))) == []


class TestAdvisoryFileIgnored:
    check = AdvisoryFileIgnored()

    def test_quiet_without_loaded_file(self, portal, loaded):
        assert not loaded.exists()
        assert run(self.check, portal) == []

    def test_fires_for_a_broken_loaded_file(self, portal, loaded):
        loaded.write_text("{ not json", encoding="utf-8")
        assert run(self.check, portal) == [
            {
                "check_id": "SBP-UPDATE-005",
                "area": "updates",
                "area_title": "Updates",
                "severity": "medium",
                "title": "Loaded advisory file is ignored",
                "detail": (
                    f"{loaded} was ignored: it is not JSON: Expecting property "
                    "name enclosed in double quotes at line 1, column 3. The "
                    f"data shipped with the add-on, dated {SHIPPED_DATE}, is "
                    "used instead."
                ),
                "remediation": (
                    "Load a valid file again (securitybp advisories --zope-conf "
                    "instance/etc/zope.conf --load FILE); it is checked before "
                    "it replaces anything."
                ),
                "reference": REFERENCE,
                "subject": "advisory file",
                "commands": [],
                "links": [],
                "cause": None,
            }
        ]
        # The other checks go on with the shipped data.
        assert run(VulnerableDistribution(), portal) == []


class TestShippedData:
    def test_every_entry_names_its_source_and_date(self):
        data = advisories.read(SHIPPED_PATH, shipped=True)
        assert len(data.advisories) >= 30
        for item in SHIPPED["advisories"]:
            assert item["source"].startswith("https://"), item["id"]
            assert item["published"][:4].isdigit(), item["id"]
            assert item["checked"], item["id"]

    def test_nothing_installed_is_affected(self):
        data = advisories.read(SHIPPED_PATH, shipped=True)
        assert advisories.affected(data) == []

    def test_critical_portlets_advisory_ranges(self):
        data = advisories.read(SHIPPED_PATH, shipped=True)
        [entry] = [a for a in data.advisories if a.id == "GHSA-rr49-f9g6-c9r5"]
        [(package, ranges)] = entry.affected
        assert package == "plone.app.portlets"
        hits = {
            v: [str(r) for r in ranges if r.contains(v)]
            for v in ("5.0.7", "5.0.8", "6.0.3", "6.0.4", "7.0.1", "7.0.2")
        }
        assert {v: bool(h) for v, h in hits.items()} == {
            "5.0.7": True,
            "5.0.8": False,
            "6.0.3": True,
            "6.0.4": False,
            "7.0.1": True,
            "7.0.2": False,
        }
        assert advisories.fixed_in(ranges[0]) == "7.0.2"


# securitybp advisories --load: validation and atomic replacement


@pytest.fixture
def target(tmp_path, monkeypatch):
    path = tmp_path / "var" / "securitybp-advisories.json"
    path.parent.mkdir()
    monkeypatch.setenv("SECURITYBP_ADVISORIES", str(path))
    return path


def load(path, capsys):
    code = main_advisories(["--load", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def leftovers(directory):
    return sorted(p.name for p in Path(directory).iterdir() if p.suffix == ".tmp")


class TestLoad:
    def test_valid_file_is_installed(self, tmp_path, target, capsys):
        source = data_file(tmp_path / "new.json", [advisory(ranges=["<0.1"])])
        code, out, err = load(source, capsys)
        assert (code, err) == (0, "")
        assert out == (
            f"Loaded 1 advisories dated {TODAY.isoformat()} into {target}. The "
            "instance uses them from its next audit; no restart is needed.\n"
        )
        assert target.read_bytes() == source.read_bytes()
        assert oct(target.stat().st_mode & 0o777) == "0o644"
        assert leftovers(target.parent) == []
        data, problem = advisories.current()
        assert (data.path, problem, len(data.advisories)) == (str(target), None, 1)

    @pytest.mark.parametrize(
        "change,reason",
        [
            (
                lambda d: d["advisories"][0].update(severity="urgent"),
                "advisories/0/severity: 'urgent' is not one of ['critical', "
                "'high', 'moderate', 'low', 'unknown']",
            ),
            (
                lambda d: d["advisories"][0]["affected"][0].update(ranges=["<<7"]),
                "a range of plone.app.portlets is not a PEP 440 version "
                "specifier (Invalid specifier: '<<7')",
            ),
            (
                lambda d: d.update(updated="2026-13-01"),
                "updated: '2026-13-01' is not a 'date'",
            ),
            (lambda d: d.pop("advisories"), "'advisories' is a required property"),
            (
                lambda d: d["advisories"].append(dict(d["advisories"][0])),
                "the id TEST-0001 appears twice",
            ),
            (
                lambda d: d["advisories"][0].update(source="http://example.org/"),
                "advisories/0/source: 'http://example.org/' does not match",
            ),
        ],
    )
    def test_malformed_file_is_rejected_and_old_data_kept(
        self, tmp_path, target, capsys, change, reason
    ):
        old = data_file(target, [advisory(ranges=["<0.1"])])
        before = (old.read_bytes(), os.stat(old).st_mtime_ns)
        raw = json.loads(old.read_text())
        change(raw)
        source = tmp_path / "bad.json"
        source.write_text(json.dumps(raw), encoding="utf-8")
        code, out, err = load(source, capsys)
        assert code == 2
        assert out == ""
        assert err.startswith(f"securitybp: error: {source} was rejected: ")
        assert reason in err
        assert err.rstrip().endswith(f"The advisory data in use was kept ({target}).")
        assert (target.read_bytes(), os.stat(target).st_mtime_ns) == before
        assert leftovers(target.parent) == []

    def test_not_json_is_rejected(self, tmp_path, target, capsys):
        source = tmp_path / "bad.json"
        source.write_text("<html>", encoding="utf-8")
        code, _out, err = load(source, capsys)
        assert code == 2
        assert "it is not JSON: Expecting value at line 1, column 1." in err
        assert f"kept ({SHIPPED_PATH})" in err
        assert not target.exists()

    def test_older_than_data_in_use_is_rejected(self, tmp_path, target, capsys):
        source = data_file(
            tmp_path / "old.json", [advisory()], updated=SHIPPED_DATE - timedelta(1)
        )
        code, _out, err = load(source, capsys)
        assert code == 2
        assert "older than the data in use" in err
        assert not target.exists()

    def test_future_date_is_rejected(self, tmp_path, target, capsys):
        source = data_file(tmp_path / "f.json", [], updated=TODAY + timedelta(3))
        code, _out, err = load(source, capsys)
        assert code == 2
        assert "in the future: correct 'updated'" in err

    def test_target_inside_the_package_is_refused(self, tmp_path, monkeypatch, capsys):
        inside = Path(advisories.__file__).parent / "data" / "loaded.json"
        monkeypatch.setenv("SECURITYBP_ADVISORIES", str(inside))
        source = data_file(tmp_path / "new.json", [advisory(ranges=["<0.1"])])
        code, _out, err = load(source, capsys)
        assert code == 2
        assert "is inside the installed code" in err
        assert not inside.exists()

    def test_without_a_target_it_says_how_to_name_one(
        self, tmp_path, monkeypatch, capsys
    ):
        monkeypatch.delenv("SECURITYBP_ADVISORIES", raising=False)
        source = data_file(tmp_path / "new.json", [])
        code, _out, err = load(source, capsys)
        assert code == 2
        assert "pass --zope-conf" in err

    def test_zope_conf_puts_it_in_clienthome(self, tmp_path, monkeypatch, capsys):
        monkeypatch.delenv("SECURITYBP_ADVISORIES", raising=False)
        var = tmp_path / "instance" / "var"
        var.mkdir(parents=True)
        conf = tmp_path / "zope.conf"
        conf.write_text(
            f"%define INSTANCE {tmp_path / 'instance'}\n"
            "instancehome $INSTANCE\n"
            "clienthome $INSTANCE/var\n"
            "<zodb_db main>\n  <filestorage>\n    path $INSTANCE/var/Data.fs\n"
            "  </filestorage>\n  mount-point /\n</zodb_db>\n"
        )
        source = data_file(tmp_path / "new.json", [advisory(ranges=["<0.1"])])
        code = main_advisories(["--zope-conf", str(conf), "--load", str(source)])
        assert code == 0
        assert (var / "securitybp-advisories.json").read_bytes() == source.read_bytes()
        capsys.readouterr()
        code = main_advisories(["--zope-conf", str(conf), "--format", "json"])
        info = json.loads(capsys.readouterr().out)
        assert code == 0
        assert info["path"] == str(var / "securitybp-advisories.json")
        assert info["origin"] == "loaded"
        assert info["advisories"] == 1


class TestStatus:
    def test_shipped_data_status(self, monkeypatch, capsys):
        monkeypatch.delenv("SECURITYBP_ADVISORIES", raising=False)
        python_end = SHIPPED["python_end_of_life"]["dates"][PYTHON]
        # Exit 1 once this Python is past its end of life, 0 until then.
        assert main_advisories([]) == int(date.fromisoformat(python_end) < TODAY)
        out = capsys.readouterr().out
        assert out.splitlines()[:2] == [
            f"Advisory data: {SHIPPED_PATH} (shipped with collective.securitybp)",
            f"Dated {SHIPPED_DATE} ({(TODAY - SHIPPED_DATE).days} days old), "
            f"{len(SHIPPED['advisories'])} advisories.",
        ]
        assert "No installed package is in an affected range." in out

    def test_affected_package_exits_1(self, target, capsys):
        data_file(target, [advisory()])
        assert main_advisories(["--format", "json"]) == 1
        info = json.loads(capsys.readouterr().out)
        assert info["affected"] == [
            {
                "id": "TEST-0001",
                "distribution": "plone.app.portlets",
                "installed": PORTLETS,
                "fixed_in": "",
                "severity": "critical",
                "source": "https://example.org/advisories/TEST-0001",
            }
        ]


def test_securitybp_command_has_the_subcommand(tmp_path, target, capsys):
    from collective.securitybp.cli import main

    bad = tmp_path / "bad.json"
    bad.write_text("[]", encoding="utf-8")
    assert main(["advisories", "--load", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"securitybp: error: {bad} was rejected: it does not ")
    assert "(top level): [] is not of type 'object'" in err
    assert not target.exists()
    good = data_file(tmp_path / "good.json", [advisory(ranges=["<0.1"])])
    assert main(["advisories", "--load", str(good)]) == 0
    assert target.read_bytes() == good.read_bytes()
