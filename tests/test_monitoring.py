"""Monitoring: the Security Auditor role gets the report's JSON over HTTP
with basic authentication, and nothing else."""

from collective.securitybp import PACKAGE_NAME
from plone import api
from plone.app.testing import setRoles
from plone.app.testing import TEST_USER_ID
import pytest
import requests
import transaction


PASSWORD = "a long test passphrase 42"
ROLE = "Security Auditor"
VIEW_REPORT = "collective.securitybp: View security report"


@pytest.fixture
def server(functional):
    portal = functional["portal"]
    setRoles(portal, TEST_USER_ID, ["Manager"])
    portal.portal_workflow.setDefaultChain("simple_publication_workflow")
    api.content.create(container=portal, type="Document", id="private-page")
    api.content.create(container=portal, type="Folder", id="folder")
    portal.acl_users.userFolderAddUser("auditor", PASSWORD, [ROLE], [])
    portal.acl_users.userFolderAddUser("member", PASSWORD, ["Member"], [])
    transaction.commit()
    return f"http://{functional['host']}:{functional['port']}/{portal.getId()}"


def get(url, user="auditor", **kwargs):
    auth = (user, PASSWORD) if user else None
    return requests.get(url, auth=auth, allow_redirects=False, timeout=60, **kwargs)


@pytest.mark.parametrize(
    "path,headers",
    [
        ("/@@security-report.json", {}),
        ("/@@security-report?format=json", {}),
        ("/@security-report", {"Accept": "application/json"}),
        ("/++api++/@security-report", {}),
    ],
)
def test_auditor_gets_the_json(server, path, headers):
    response = get(server + path, headers=headers)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Cache-Control"] == "no-store"
    data = response.json()
    assert data["site"] == "/plone"
    assert isinstance(data["failed"], bool)
    assert data["fail_on"] == "high"
    assert data["failed"] == any(
        f["severity"] in ("high", "critical") for f in data["findings"]
    )


def assert_refused(response):
    assert response.status_code in (302, 401, 403, 404), response.status_code
    if response.status_code == 302:
        assert "login" in response.headers["Location"]


@pytest.mark.parametrize(
    "path,headers",
    [
        ("/private-page", {}),
        ("/private-page/edit", {}),
        ("/folder/folder_contents", {}),
        ("/@@overview-controlpanel", {}),
        ("/@@securitybp-controlpanel", {}),
        ("/@@usergroup-userprefs", {}),
        ("/manage_main", {}),
        ("/private-page", {"Accept": "application/json"}),
        ("/@controlpanels/securitybp", {"Accept": "application/json"}),
        ("/@users", {"Accept": "application/json"}),
    ],
)
def test_auditor_is_refused_elsewhere(server, path, headers):
    assert_refused(get(server + path, headers=headers))


def test_auditor_cannot_acknowledge(server):
    response = requests.post(
        server + "/@@security-report-acknowledge",
        data={"check_id": "SBP-PRIV-002", "subject": "admin", "reason": "x"},
        auth=("auditor", PASSWORD),
        allow_redirects=False,
        timeout=60,
    )
    assert_refused(response)
    report = get(server + "/@@security-report.json").json()
    assert report["acknowledged"] == []


def test_members_and_anonymous_are_refused_the_json(server):
    for user in ("member", None):
        response = get(server + "/@@security-report.json", user=user)
        assert_refused(response)
        assert '"findings"' not in response.text


def test_the_role_grants_only_the_report(portal):
    assert ROLE in portal.valid_roles()
    granted = {p["name"] for p in portal.permissionsOfRole(ROLE) if p["selected"]}
    assert granted == {VIEW_REPORT}


def test_uninstall_removes_the_role(portal, installer):
    setRoles(portal, TEST_USER_ID, ["Manager"])
    portal.acl_users.userFolderAddUser("auditor", PASSWORD, [ROLE], [])
    assert ROLE in api.user.get_roles(username="auditor")
    installer.uninstall_product(PACKAGE_NAME)
    assert ROLE not in portal.valid_roles()
    assert ROLE not in portal.acl_users.portal_role_manager._roles
    assert ROLE not in api.user.get_roles(username="auditor")
