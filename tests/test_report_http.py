"""The report, its JSON forms and the REST endpoint over a real WSGI server."""

from collective.securitybp.model import GRADE_THRESHOLDS
from collective.securitybp.model import SCORE_WEIGHTS
from collective.securitybp.model import Severity
import json
import pytest
import re
import requests
import transaction


PASSWORD = "a long test passphrase 42"
DENIED_ROLES = ["Anonymous", "Member", "Contributor", "Editor", "Reviewer"]
ALLOWED_ROLES = ["Manager", "Site Administrator"]


@pytest.fixture
def server(functional):
    portal = functional["portal"]
    url = f"http://{functional['host']}:{functional['port']}/{portal.getId()}"
    for role in DENIED_ROLES[1:] + ALLOWED_ROLES:
        user_id = role.lower().replace(" ", "")
        portal.acl_users.userFolderAddUser(user_id, PASSWORD, [role], [])
    transaction.commit()
    return {"url": url, "portal": portal}


def session_for(role):
    session = requests.Session()
    if role != "Anonymous":
        session.auth = (role.lower().replace(" ", ""), PASSWORD)
    return session


def get(role, url, **kwargs):
    return session_for(role).get(url, allow_redirects=False, timeout=60, **kwargs)


def assert_denied(response):
    assert response.status_code in (302, 401, 403), response.status_code
    if response.status_code == 302:
        assert (
            "login" in response.headers["Location"]
            or "require_login" in (response.headers["Location"])
        )
    assert "SBP-" not in response.text
    assert '"findings"' not in response.text


@pytest.mark.parametrize("role", DENIED_ROLES)
@pytest.mark.parametrize(
    "path,headers",
    [
        ("/@@security-report", {}),
        ("/@@security-report?format=json", {}),
        ("/@@security-report.json", {}),
        ("/@security-report", {"Accept": "application/json"}),
        ("/++api++/@security-report", {}),
    ],
)
def test_denied(server, role, path, headers):
    assert_denied(get(role, server["url"] + path, headers=headers))


def expected_score(data):
    """The README's formula, computed independently of the engine: each
    check weighs its default severity (or its worst finding's, if higher),
    and loses the weight of its worst open finding; consequences are
    nested under their cause and do not count."""
    weight = {c["check_id"]: Severity.parse(c["severity"]) for c in data["checks"]}
    lost = {}
    for finding in data["findings"]:
        severity = Severity.parse(finding["severity"])
        lost[finding["check_id"]] = max(lost.get(finding["check_id"], 0), severity)
        weight[finding["check_id"]] = max(weight[finding["check_id"]], severity)
    for item in data["acknowledged"]:
        severity = Severity.parse(item["severity"])
        weight[item["check_id"]] = max(weight[item["check_id"]], severity)
    total = sum(SCORE_WEIGHTS[s] for s in weight.values())
    missing = sum(SCORE_WEIGHTS[s] for s in lost.values())
    return (1000 * (total - missing) // total) / 10


def expected_grade(data):
    open_findings = data["findings"] + [
        c for f in data["findings"] for c in f["consequences"]
    ]
    if any(f["severity"] == "critical" for f in open_findings):
        return "F"
    score = expected_score(data)
    for grade, lowest in GRADE_THRESHOLDS:
        if score >= lowest:
            return grade
    return "F"


@pytest.mark.parametrize("role", ALLOWED_ROLES)
def test_html_report(server, role):
    data = get(role, server["url"] + "/@@security-report.json").json()
    response = get(role, server["url"] + "/@@security-report")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.text
    assert f'id="securitybp-grade">{data["grade"]}</div>' in html
    assert f"{data['score']}/100" in html
    for label, count in data["summary"].items():
        assert f'data-severity="{label}">{label}: {count}</span>' in html
    for finding in data["findings"]:
        assert f'data-check-id="{finding["check_id"]}"' in html
    # The test users include a Site Administrator, so SBP-PRIV-001 is quiet.
    assert 'data-check-id="SBP-PRIV-001"' not in html
    assert 'data-check-id="SBP-PRIV-002"' in html
    assert "<span>'Zope Manager' User should not be used for daily work</span>" in html
    assert "<h2>Privileges</h2>" in html
    source = data["versions"]["advisories_source"]
    assert f'id="securitybp-advisories-source">({source})</span>' in html


EXPECTED_KEYS = {
    "site",
    "generated_at",
    "versions",
    "score",
    "grade",
    "summary",
    "findings",
    "acknowledged",
    "checks_run",
    "checks",
    "fail_on",
    "failed",
}
FINDING_KEYS = {
    "check_id",
    "area",
    "area_title",
    "severity",
    "title",
    "detail",
    "remediation",
    "reference",
    "subject",
    "commands",
    "links",
    "cause",
    "consequences",
}


def assert_report_json(data):
    assert set(data) >= EXPECTED_KEYS
    assert set(data["versions"]) >= {"plone", "zope", "python", "securitybp"}
    assert data["site"] == "/plone"
    assert set(data["summary"]) == {"info", "low", "medium", "high", "critical"}
    counts = dict.fromkeys(data["summary"], 0)
    for finding in data["findings"]:
        assert set(finding) == FINDING_KEYS
        counts[finding["severity"]] += 1
    assert data["summary"] == counts
    assert data["score"] == expected_score(data)
    assert data["grade"] == expected_grade(data)
    assert data["fail_on"] == "high"
    assert data["failed"] is bool(counts["high"] or counts["critical"])
    ids = [(f["check_id"], f["subject"], f["severity"]) for f in data["findings"]]
    assert ("SBP-PRIV-002", "admin", "low") in ids
    assert not any(check_id == "SBP-PRIV-001" for check_id, _s, _v in ids)
    assert data["acknowledged"] == []


@pytest.mark.parametrize("role", ALLOWED_ROLES)
@pytest.mark.parametrize(
    "path,headers",
    [
        ("/@@security-report?format=json", {}),
        ("/@@security-report.json", {}),
        ("/@security-report", {"Accept": "application/json"}),
        ("/++api++/@security-report", {}),
    ],
)
def test_json_report(server, role, path, headers):
    response = get(role, server["url"] + path, headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert_report_json(response.json())


def authenticator(session, url):
    html = session.get(url + "/@@security-report", timeout=60).text
    return re.search(
        r'name="_authenticator"\s+type="hidden"\s+value="([^"]+)"', html
    ).group(1)


class TestAcknowledge:
    def report(self, session, url):
        return session.get(url + "/@@security-report.json", timeout=60).json()

    def test_get_changes_nothing(self, server):
        session = session_for("Site Administrator")
        url = server["url"]
        response = session.get(
            url + "/@@security-report-acknowledge",
            params={
                "check_id": "SBP-PRIV-002",
                "subject": "admin",
                "reason": "x",
                "_authenticator": authenticator(session, url),
            },
            allow_redirects=False,
            timeout=60,
        )
        assert response.status_code == 405
        assert self.report(session, url)["acknowledged"] == []

    def test_post_without_token_refused(self, server):
        session = session_for("Site Administrator")
        url = server["url"]
        response = session.post(
            url + "/@@security-report-acknowledge",
            data={"check_id": "SBP-PRIV-002", "subject": "admin", "reason": "x"},
            allow_redirects=False,
            timeout=60,
        )
        assert response.status_code == 403
        assert self.report(session, url)["acknowledged"] == []

    @pytest.mark.parametrize("role", ["Member", "Editor", "Reviewer"])
    def test_post_by_other_roles_refused(self, server, role):
        session = session_for(role)
        url = server["url"]
        response = session.post(
            url + "/@@security-report-acknowledge",
            data={"check_id": "SBP-PRIV-002", "subject": "admin", "reason": "x"},
            allow_redirects=False,
            timeout=60,
        )
        assert_denied(response)
        admin = session_for("Manager")
        assert self.report(admin, url)["acknowledged"] == []

    def test_acknowledge_and_withdraw(self, server):
        session = session_for("Site Administrator")
        url = server["url"]
        before = self.report(session, url)
        token = authenticator(session, url)
        response = session.post(
            url + "/@@security-report-acknowledge",
            data={
                "check_id": "SBP-PRIV-002",
                "subject": "admin",
                "reason": "Renamed at the next maintenance window",
                "until": "2099-01-31",
                "_authenticator": token,
            },
            allow_redirects=False,
            timeout=60,
        )
        assert response.status_code == 302
        assert response.headers["Location"] == url + "/@@security-report"
        data = self.report(session, url)
        assert "SBP-PRIV-002" not in [f["check_id"] for f in data["findings"]]
        assert data["summary"]["low"] == before["summary"]["low"] - 1
        assert data["score"] == expected_score(data) > before["score"]
        [ack] = data["acknowledged"]
        assert ack["check_id"] == "SBP-PRIV-002"
        assert ack["acknowledgement"]["who"] == "siteadministrator"
        assert (
            ack["acknowledgement"]["reason"] == "Renamed at the next maintenance window"
        )
        assert ack["acknowledgement"]["until"] == "2099-01-31"
        html = session.get(url + "/@@security-report", timeout=60).text
        section = html[html.index('id="securitybp-acknowledged"') :]
        assert 'data-check-id="SBP-PRIV-002"' in section
        assert "Renamed at the next maintenance window" in section

        response = session.post(
            url + "/@@security-report-withdraw",
            data={
                "check_id": "SBP-PRIV-002",
                "subject": "admin",
                "_authenticator": token,
            },
            allow_redirects=False,
            timeout=60,
        )
        assert response.status_code == 302
        data = self.report(session, url)
        assert data["acknowledged"] == []
        assert data["summary"] == before["summary"]
        assert "SBP-PRIV-002" in [f["check_id"] for f in data["findings"]]

    @pytest.mark.parametrize(
        "form,message",
        [
            ({"reason": ""}, "the reason is required"),
            ({"reason": "ok", "until": "31/01/2099"}, "is not a date"),
            ({"reason": "ok", "until": "2001-01-01"}, "is in the past"),
            ({"reason": "ok", "subject": "nobody"}, "not in the report any more"),
        ],
    )
    def test_bad_input_keeps_everything(self, server, form, message):
        session = session_for("Manager")
        url = server["url"]
        data = {
            "check_id": "SBP-PRIV-002",
            "subject": "admin",
            "_authenticator": authenticator(session, url),
        }
        data.update(form)
        response = session.post(
            url + "/@@security-report-acknowledge", data=data, timeout=60
        )
        assert response.status_code == 200
        assert message in response.text
        assert self.report(session, url)["acknowledged"] == []


class TestControlPanel:
    def test_in_site_setup_security_section(self, server):
        html = get(
            "Site Administrator", server["url"] + "/@@overview-controlpanel"
        ).text
        assert "@@securitybp-controlpanel" in html
        assert "Security best practices" in html

    def test_page_links_to_report(self, server):
        response = get(
            "Site Administrator", server["url"] + "/@@securitybp-controlpanel"
        )
        assert response.status_code == 200
        assert f'href="{server["url"]}/@@security-report"' in response.text

    @pytest.mark.parametrize("role", DENIED_ROLES)
    def test_denied(self, server, role):
        response = get(role, server["url"] + "/@@securitybp-controlpanel")
        assert response.status_code in (302, 401, 403)

    def test_rest_controlpanel(self, server):
        response = get(
            "Manager",
            server["url"] + "/@controlpanels/securitybp",
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 200
        data = response.json()
        assert data["data"]["fail_on"]["token"] == "high"
        assert data["group"] == "Security"

    def test_rest_patch_rejects_bad_value(self, server):
        session = session_for("Manager")
        url = server["url"] + "/@controlpanels/securitybp"
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        response = session.patch(
            url, data=json.dumps({"fail_on": "severe"}), headers=headers, timeout=60
        )
        assert response.status_code == 400
        assert (
            session.get(url, headers=headers, timeout=60).json()["data"]["fail_on"][
                "token"
            ]
            == "high"
        )
        response = session.patch(
            url, data=json.dumps({"fail_on": "critical"}), headers=headers, timeout=60
        )
        assert response.status_code == 204
        assert (
            session.get(url, headers=headers, timeout=60).json()["data"]["fail_on"][
                "token"
            ]
            == "critical"
        )
        report = session.get(
            server["url"] + "/@@security-report.json", timeout=60
        ).json()
        assert report["fail_on"] == "critical"
        response = session.patch(
            url, data=json.dumps({"fail_on": "medium"}), headers=headers, timeout=60
        )
        report = session.get(
            server["url"] + "/@@security-report.json", timeout=60
        ).json()
        assert report["fail_on"] == "medium"
        assert report["failed"] is True

    def test_form_rejects_bad_value_and_keeps_old(self, server):
        session = session_for("Manager")
        url = server["url"] + "/@@securitybp-controlpanel"
        html = session.get(url, timeout=60).text
        token = re.search(r'name="_authenticator" value="([^"]+)"', html) or re.search(
            r'value="([^"]+)" name="_authenticator"', html
        )
        response = session.post(
            url,
            data={
                "form.widgets.fail_on:list": "severe",
                "form.widgets.fail_on-empty-marker": "1",
                "form.buttons.save": "Save",
                "_authenticator": token.group(1) if token else "",
            },
            timeout=60,
        )
        assert response.status_code == 200
        assert "There were some errors" in response.text
        data = session.get(
            server["url"] + "/@controlpanels/securitybp",
            headers={"Accept": "application/json"},
            timeout=60,
        ).json()
        assert data["data"]["fail_on"]["token"] == "high"
