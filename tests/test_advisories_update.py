"""``securitybp advisories --update`` against a local server that speaks
OSV's and PyPI's APIs with data the tests write; the release check."""

from collective.securitybp import advisories
from collective.securitybp.advisories import SHIPPED_PATH
from collective.securitybp.advisory_sources import cvss3_score
from collective.securitybp.advisory_sources import ecosystem_ranges
from collective.securitybp.advisory_sources import newest_by_series
from collective.securitybp.advisory_sources import rating
from collective.securitybp.audit import AuditContext
from collective.securitybp.audit import run_audit
from collective.securitybp.checks.updates import NotLatestBugfixRelease
from collective.securitybp.checks.updates import VulnerableDistribution
from collective.securitybp.cli_advisories import main_advisories
from datetime import datetime
from datetime import timezone
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from importlib.metadata import version
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
import json
import os
import pytest
import threading
import time


PORTLETS = version("plone.app.portlets")
PLONE = version("Plone")
PLONE_SERIES = ".".join(PLONE.split(".")[:2])
ZOPE = version("Zope")
ZOPE_SERIES = ".".join(ZOPE.split(".")[:2])
SHIPPED = json.loads(SHIPPED_PATH.read_text(encoding="utf-8"))


def osv_record(vuln_id, package, events, **extra):
    record = {
        "id": vuln_id,
        "modified": "2026-11-30T10:00:00Z",
        "published": "2026-11-28T10:00:00Z",
        "aliases": [],
        "summary": f"A test vulnerability {vuln_id}.",
        "affected": [
            {
                "package": {"name": package, "ecosystem": "PyPI"},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }
        ],
    }
    record.update(extra)
    return record


# What the test OSV knows: package (canonical name) -> records.
RECORDS = {
    "plone-app-portlets": [
        osv_record(
            "GHSA-test-0001-aaaa",
            "plone.app.portlets",
            [{"introduced": "0"}, {"fixed": "99.0.1"}],
            aliases=["CVE-2099-1111", "PYSEC-2099-1"],
            database_specific={"severity": "HIGH"},
        ),
        # The same advisory in the PyPA database: left out.
        osv_record(
            "PYSEC-2099-1",
            "plone.app.portlets",
            [{"introduced": "0"}, {"fixed": "99.0.1"}],
            aliases=["CVE-2099-1111", "GHSA-test-0001-aaaa"],
        ),
        # A shipped advisory: OSV updates it, its id stays.
        osv_record(
            "GHSA-rr49-f9g6-c9r5",
            "plone.app.portlets",
            [{"introduced": "7.0.0"}, {"fixed": "7.0.2"}],
            database_specific={"severity": "CRITICAL"},
        ),
    ],
    "zope": [
        osv_record(
            "PYSEC-2099-2",
            "Zope",
            [{"introduced": "5.0"}, {"last_affected": ZOPE}],
            severity=[
                {
                    "type": "CVSS_V3",
                    "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                }
            ],
        )
    ],
}
PYPI = {
    "Plone": {
        "6.1.3": [{"yanked": False}],
        f"{PLONE_SERIES}.99": [{"yanked": False}],
        f"{PLONE_SERIES}.100": [{"yanked": True}],
        f"{PLONE_SERIES}.101a1": [],
        PLONE: [],
    },
    "Zope": {ZOPE: [], "5.13": []},
}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def answer(self, data, status=200):
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def behaviour(self, name):
        return self.server.behaviour.get(name)

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        payload = json.loads(self.rfile.read(length))
        self.server.requests.append(("POST", self.path, payload))
        if self.path != "/v1/querybatch":
            return self.answer({"message": "not found"}, 404)
        special = self.behaviour("querybatch")
        if special == "slow":
            time.sleep(2)
        elif special == "malformed":
            return self.answer({"results": "nothing"})
        elif special == "html":
            return self.answer(b"<html>busy</html>")
        results = []
        for query in payload["queries"]:
            name = canonicalize_name(query["package"]["name"])
            vulns = [{"id": r["id"]} for r in self.server.records.get(name, ())]
            results.append({"vulns": vulns} if vulns else {})
        self.answer({"results": results})

    def do_GET(self):
        self.server.requests.append(("GET", self.path, None))
        if self.path.startswith("/v1/vulns/"):
            vuln_id = self.path.rsplit("/", 1)[1]
            if self.behaviour("vulns") == "wrong":
                return self.answer({"id": "SOMETHING-ELSE"})
            for records in self.server.records.values():
                for record in records:
                    if record["id"] == vuln_id:
                        return self.answer(record)
            return self.answer({"code": 5, "message": "Bug not found."}, 404)
        if self.path.startswith("/pypi/") and self.path.endswith("/json"):
            name = self.path.split("/")[2]
            if self.behaviour("pypi") == "missing" or name not in self.server.pypi:
                return self.answer({"message": "Not Found"}, 404)
            releases = self.server.pypi[name]
            return self.answer({"info": {"name": name}, "releases": releases})
        self.answer({"message": "not found"}, 404)


@pytest.fixture
def api(monkeypatch):
    """A server on 127.0.0.1 that answers as OSV and PyPI do."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.records, server.pypi = RECORDS, PYPI
    server.behaviour, server.requests = {}, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def target(tmp_path, monkeypatch):
    path = tmp_path / "var" / "securitybp-advisories.json"
    path.parent.mkdir()
    monkeypatch.setenv("SECURITYBP_ADVISORIES", str(path))
    return path


def update(api, capsys, *extra):
    code = main_advisories(
        ["--update", "--osv-url", api.url, "--pypi-url", api.url, *extra]
    )
    out, err = capsys.readouterr()
    return code, out, err


def run(check, portal):
    context = AuditContext(
        site=portal, root=portal.getPhysicalRoot(), now=datetime.now(timezone.utc)
    )
    return [f.to_dict() for f in check.run(context)]


class TestUpdate:
    def test_update_then_the_audit_reports_the_new_advisory(
        self, api, target, capsys, portal
    ):
        code, out, err = update(api, capsys)
        assert (code, err) == (0, "")
        assert f"Updated the advisory data in {target}" in out
        [batch] = [r for r in api.requests if r[0] == "POST"]
        queried = {q["package"]["name"]: q["version"] for q in batch[2]["queries"]}
        assert queried["plone.app.portlets"] == PORTLETS
        assert {q["package"]["ecosystem"] for q in batch[2]["queries"]} == {"PyPI"}

        data, problem = advisories.current()
        assert problem is None
        assert data.path == str(target)
        assert data.source.startswith(f"OSV ({api.url})")
        ids = [a.id for a in data.advisories]
        assert set(ids) >= {a["id"] for a in SHIPPED["advisories"]}
        assert "PYSEC-2099-1" not in ids
        updated = next(a for a in data.advisories if a.id == "GHSA-rr49-f9g6-c9r5")
        assert updated.affected[0][1] == (SpecifierSet(">=7.0.0,<7.0.2"),)

        findings = run(VulnerableDistribution(), portal)
        assert [(f["check_id"], f["severity"], f["subject"]) for f in findings] == [
            ("SBP-UPDATE-001", "high", "plone.app.portlets GHSA-test-0001-aaaa"),
            ("SBP-UPDATE-001", "critical", "Zope PYSEC-2099-2"),
        ]
        assert "99.0.1 or later" in findings[0]["remediation"]
        versions = run_audit(portal).to_dict()["versions"]
        assert versions["advisories"] == data.updated.isoformat()
        assert versions["advisories_source"].startswith("OSV (")

    def test_status_shows_source_and_releases(self, api, target, capsys):
        assert update(api, capsys)[0] == 0
        main_advisories(["--format", "json"])
        info = json.loads(capsys.readouterr().out)
        assert info["source"].startswith("OSV (")
        assert info["releases"]["series"]["Plone"][PLONE_SERIES] == (
            f"{PLONE_SERIES}.99"
        )

    @pytest.mark.parametrize(
        "behaviour,options,reason",
        [
            ({"querybatch": "malformed"}, [], "OSV answered malformed data"),
            ({"querybatch": "html"}, [], "OSV did not answer JSON"),
            ({"querybatch": "slow"}, ["--timeout", "0.5"], "within 0.5 seconds"),
            ({"vulns": "wrong"}, [], "it is not the record of"),
            ({"pypi": "missing"}, [], "PyPI answered HTTP 404"),
        ],
    )
    def test_bad_answers_keep_the_old_data(
        self, api, target, capsys, behaviour, options, reason
    ):
        target.write_bytes(SHIPPED_PATH.read_bytes())
        before = (target.read_bytes(), os.stat(target).st_mtime_ns)
        api.behaviour = behaviour
        code, out, err = update(api, capsys, *options)
        assert (code, out) == (2, "")
        assert reason in err
        assert err.rstrip().endswith(f"The advisory data in use was kept ({target}).")
        assert (target.read_bytes(), os.stat(target).st_mtime_ns) == before
        assert [p.name for p in target.parent.iterdir()] == [target.name]

    def test_unreachable_osv(self, api, target, capsys):
        url = api.url
        api.shutdown()
        api.server_close()
        code = main_advisories(["--update", "--osv-url", url, "--timeout", "5"])
        err = capsys.readouterr().err
        assert code == 2
        assert f"cannot reach OSV at {url}/v1/querybatch" in err
        assert not target.exists()

    def test_needs_a_place_to_store(self, api, monkeypatch, capsys):
        monkeypatch.delenv("SECURITYBP_ADVISORIES", raising=False)
        code, _out, err = update(api, capsys)
        assert code == 2
        assert "pass --zope-conf" in err
        assert api.requests == []


class TestMapping:
    @pytest.mark.parametrize(
        "events,expected",
        [
            ([{"introduced": "0"}, {"fixed": "1.2"}], ["<1.2"]),
            (
                [
                    {"introduced": "1.0"},
                    {"fixed": "1.0.4"},
                    {"introduced": "2.0"},
                    {"last_affected": "2.1"},
                ],
                [">=1.0,<1.0.4", ">=2.0,<=2.1"],
            ),
            ([{"introduced": "3.0"}], [">=3.0"]),
            ([{"introduced": "0"}, {"fixed": "not a version!"}], []),
        ],
    )
    def test_ecosystem_ranges(self, events, expected):
        assert ecosystem_ranges(events) == expected

    @pytest.mark.parametrize(
        "record,expected",
        [
            ({"database_specific": {"severity": "MODERATE"}}, "moderate"),
            (
                {
                    "severity": [
                        {
                            "type": "CVSS_V3",
                            "score": "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N",
                        }
                    ]
                },
                "moderate",
            ),
            ({"severity": [{"type": "CVSS_V4", "score": "CVSS:4.0/AV:N"}]}, "unknown"),
            ({}, "unknown"),
        ],
    )
    def test_rating(self, record, expected):
        assert rating(record) == expected

    def test_cvss3_scores(self):
        assert cvss3_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") == 9.8
        assert cvss3_score("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N") == 6.4
        assert cvss3_score("CVSS:3.1/AV:N/AC:L/PR:H/UI:R/S:U/C:N/I:N/A:N") == 0.0
        assert cvss3_score("garbage") is None

    def test_newest_by_series(self):
        assert newest_by_series(
            {
                "6.0.9": [],
                "6.0.10": [{"yanked": False}],
                "6.0.11": [{"yanked": True}],
                "6.1.0rc1": [],
                "6.1.0.dev0": [],
                "nonsense": [],
            }
        ) == {"6.0": "6.0.10"}


class TestNotLatestBugfixRelease:
    check = NotLatestBugfixRelease()

    def test_quiet_without_release_data(self, portal, monkeypatch):
        monkeypatch.delenv("SECURITYBP_ADVISORIES", raising=False)
        assert run(self.check, portal) == []

    def test_fires_when_a_newer_bugfix_release_exists(
        self, api, target, capsys, portal
    ):
        assert update(api, capsys)[0] == 0
        findings = run(self.check, portal)
        assert [(f["check_id"], f["severity"], f["subject"]) for f in findings] == [
            ("SBP-UPDATE-006", "low", f"Plone {PLONE_SERIES}")
        ]
        assert (
            f"-c https://dist.plone.org/release/{PLONE_SERIES}.99/constraints.txt"
            in findings[0]["remediation"]
        )

    def test_quiet_on_the_newest_release(self, api, target, capsys, portal):
        api.pypi = {"Plone": {PLONE: []}, "Zope": {ZOPE: []}}
        assert update(api, capsys)[0] == 0
        assert run(self.check, portal) == []

    def test_zope_behind_its_series(self, api, target, capsys, portal):
        api.pypi = {"Plone": {PLONE: []}, "Zope": {ZOPE: [], f"{ZOPE_SERIES}.99": []}}
        assert update(api, capsys)[0] == 0
        [finding] = run(self.check, portal)
        assert (finding["check_id"], finding["severity"], finding["subject"]) == (
            "SBP-UPDATE-006",
            "low",
            f"Zope {ZOPE_SERIES}",
        )
