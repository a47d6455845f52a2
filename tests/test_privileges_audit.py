"""The privilege family as a whole: read-only, escaped, configurable."""

from collective.securitybp.audit import registered_checks
from collective.securitybp.audit import run_audit
from collective.securitybp.checks.privileges import local_grants
from collective.securitybp.checks.privileges import printable
from collective.securitybp.checks.privileges import stored_local_roles
from collective.securitybp.interfaces import privileges_days
from collective.securitybp.principals import Directory
from DateTime import DateTime
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from html.parser import HTMLParser
from plone import api
from plone.app.testing import setRoles
from plone.app.testing import TEST_USER_ID
from Products.CMFCore.indexing import processQueue
from zope.interface import Invalid
import json
import pytest
import requests
import transaction


PASSWORD = "a long test passphrase 42"
NOW = datetime.now(timezone.utc)
EVIL = '<img src=x onerror="alert(1)">\x1b[2J'


def privilege_checks():
    return [check for check in registered_checks() if check.id.startswith("SBP-PRIV-")]


def populate(portal, app):
    """A site where every privilege check has something to say."""
    uf = portal.acl_users
    setRoles(portal, TEST_USER_ID, ["Manager"])
    uf.source_groups.addGroup("staff", title="Staff")
    uf.source_groups.addPrincipalToGroup("staff", "Administrators")
    for user_id, password, fullname in (
        ("alice", "ecila", EVIL),
        ("sam", PASSWORD, "Sam"),
        ("dora", PASSWORD, "Dora"),
        ("bob", PASSWORD, ""),
    ):
        api.user.create(
            email=f"{user_id}@example.org",
            username=user_id,
            password=PASSWORD,
            properties={"fullname": fullname},
        )
        uf.source_users.updateUserPassword(user_id, password)
    uf.source_groups.addPrincipalToGroup("alice", "staff")
    uf.source_groups.addPrincipalToGroup("sam", "Site Administrators")
    uf.source_groups.addPrincipalToGroup("dora", "Site Administrators")
    uf.portal_role_manager.assignRoleToPrincipal("Reviewer", "AuthenticatedUsers")
    uf.portal_role_manager.assignRoleToPrincipal("Manager", "ghost")
    for user_id in ("alice", "sam"):
        api.user.get(userid=user_id).setMemberProperties(
            {
                "login_time": DateTime(NOW - timedelta(days=1)),
                "last_login_time": DateTime(NOW - timedelta(days=2)),
            }
        )
    for user_id in ("keeper", "spare"):
        app.acl_users.users.addUser(user_id, user_id, PASSWORD)
        app.acl_users.roles.assignRoleToPrincipal("Manager", user_id)
    portal.manage_permission("Manage portal", ["Anonymous", "Manager"], acquire=0)
    folder = api.content.create(container=portal, type="Folder", id="f")
    folder.manage_setLocalRoles("bob", ["Manager"])
    doc = api.content.create(container=folder, type="Document", id="d")
    doc.manage_setLocalRoles("staff", ["Site Administrator"])
    # Daily work: each saves a version of a page, on a site made long ago.
    portal.creation_date = DateTime(NOW - timedelta(days=365))
    for user_id in ("alice", "sam"):
        page = api.content.create(container=folder, type="Document", id=user_id)
        with api.env.adopt_user(username=user_id):
            portal.portal_repository.save(obj=page, comment=f"edited by {user_id}")
    setRoles(portal, TEST_USER_ID, ["Member"])


def assert_nothing_written(portal, audit):
    txn = transaction.get()
    resources = list(txn._resources)
    connection = portal._p_jar
    registered = list(connection._registered_objects)
    report = audit()
    assert list(txn._resources) == resources
    assert list(connection._registered_objects) == registered
    return report


class TestReadOnly:
    def test_every_check_fires_on_the_populated_site(self, functional):
        # Committed and audited ten days later: dora, who never logged in,
        # is past the grace period of new accounts.
        from zope.component.hooks import setSite

        portal, app = functional["portal"], functional["app"]
        setSite(portal)
        populate(portal, app)
        transaction.commit()
        later = NOW + timedelta(days=10)
        report = run_audit(portal, checks=privilege_checks(), now=later)
        fired = {f.check_id for f in report.findings}
        assert fired == {f"SBP-PRIV-{n:03d}" for n in range(2, 11)}

    def test_whole_audit_registers_nothing(self, portal, app):
        populate(portal, app)
        processQueue()  # index what populate changed before looking
        report = assert_nothing_written(portal, lambda: run_audit(portal, now=NOW))
        assert len(report.findings) > 10
        report = assert_nothing_written(
            portal, lambda: run_audit(portal, checks=privilege_checks(), now=NOW)
        )
        assert report.checks_run == 10

    def test_committed_site_stays_ghosts_and_clean(self, functional):
        from persistent.mapping import PersistentMapping

        portal, app = functional["portal"], functional["app"]
        populate(portal, app)
        setRoles(portal, TEST_USER_ID, ["Manager"])
        odd = api.content.create(container=portal.f, type="Document", id="odd")
        # Not plain data in the record: read by loading the object instead.
        odd.__ac_local_roles__ = PersistentMapping({"carol": ["Manager"]})
        setRoles(portal, TEST_USER_ID, ["Member"])
        transaction.commit()
        connection = portal._p_jar
        connection.cacheMinimize()
        folder = portal.f  # loads the folder only through the site
        folder._p_deactivate()
        assert folder._p_changed is None
        grants = assert_nothing_written(
            portal, lambda: local_grants(portal, {"Manager", "Site Administrator"})
        )
        assert grants == [
            ("/plone/f", "bob", ("Manager",)),
            ("/plone/f/d", "staff", ("Site Administrator",)),
            ("/plone/f/odd", "carol", ("Manager",)),
        ]
        # The walk left ghosts as ghosts, the odd one included.
        assert folder._p_changed is None
        assert folder._getOb("d")._p_changed is None
        assert folder._getOb("odd")._p_changed is None
        # Read from the record, without loading the object:
        doc = folder._getOb("d")
        assert stored_local_roles(doc) == {
            "test_user_1_": ["Owner"],
            "staff": ["Site Administrator"],
        }
        assert doc._p_changed is None
        assert stored_local_roles(folder._getOb("odd")) is None
        assert_nothing_written(
            portal, lambda: run_audit(portal, checks=privilege_checks(), now=NOW)
        )
        assert connection._registered_objects == []


class TestEscaping:
    def test_printable(self):
        assert printable("a\x1b[2Jb\u200bc") == "a\\u001b[2Jb\\u200bc"
        assert printable("x" * 150) == "x" * 99 + "\u2026"

    def test_names_are_escaped_in_the_report(self, portal, app):
        populate(portal, app)
        setRoles(portal, TEST_USER_ID, ["Manager"])
        html = portal.restrictedTraverse("@@security-report")()
        assert "alice (&lt;img src=x onerror=" in html
        assert "&gt;\\u001b[2J)" in html
        assert "<img src=x" not in html
        assert "\x1b" not in html
        data = run_audit(portal, now=NOW).to_dict()
        details = [f["detail"] for f in data["findings"] if f["subject"] == "alice"]
        assert len(details) >= 3
        assert "\x1b" not in str(data)  # nor on a terminal


class TestDirectory:
    def test_nested_groups_need_the_recursive_plugin(self, portal):
        uf = portal.acl_users
        uf.source_groups.addGroup("outer")
        uf.source_groups.addGroup("inner")
        uf.source_groups.addPrincipalToGroup("inner", "outer")
        uf.portal_role_manager.assignRoleToPrincipal("Manager", "outer")
        api.user.create(email="i@example.org", username="inner-user", password=PASSWORD)
        uf.source_groups.addPrincipalToGroup("inner-user", "inner")
        assert Directory(uf).holders("Manager") == {"inner-user": ("outer", "inner")}
        from Products.PluggableAuthService.interfaces.plugins import IGroupsPlugin

        uf.plugins.deactivatePlugin(IGroupsPlugin, "recursive_groups")
        assert Directory(uf).holders("Manager") == {}

    def test_global_roles_through_groups(self, portal):
        uf = portal.acl_users
        uf.source_groups.addPrincipalToGroup("AuthenticatedUsers", "Reviewers")
        roles = Directory(uf).global_roles("AuthenticatedUsers")
        assert roles == {"Reviewer": ("Reviewers",)}

    def test_reads_no_member_through_pas(self, portal, monkeypatch):
        """The survey never enumerates users through PAS."""
        from Products.PlonePAS.tools.membership import MembershipTool
        from Products.PluggableAuthService.PluggableAuthService import (
            PluggableAuthService,
        )

        def refuse(*args, **kw):
            raise AssertionError("enumerated users through PAS")

        monkeypatch.setattr(MembershipTool, "listMembers", refuse)
        monkeypatch.setattr(MembershipTool, "searchForMembers", refuse)
        monkeypatch.setattr(PluggableAuthService, "searchUsers", refuse)
        monkeypatch.setattr(PluggableAuthService, "searchPrincipals", refuse)
        report = run_audit(portal, checks=privilege_checks(), now=NOW)
        assert not [f for f in report.findings if "could not run" in str(f.title)]


class TestSettings:
    def test_defaults(self, portal):
        assert (
            api.portal.get_registry_record(
                "collective.securitybp.privileges_daily_work_days"
            )
            == 30
        )
        # Logins are no evidence of daily work: no setting for them.
        assert (
            api.portal.get_registry_record(
                "collective.securitybp.privileges_login_days", default=None
            )
            is None
        )
        assert (
            api.portal.get_registry_record(
                "collective.securitybp.privileges_dormant_days"
            )
            == 180
        )

    @pytest.mark.parametrize("value", [0, -5, 3651])
    def test_constraint_says_how_to_fix(self, value):
        with pytest.raises(Invalid) as info:
            privileges_days(value)
        assert str(info.value.args[0]) == (
            "The number of days must be from 1 to 3650 (about ten years): "
            "enter a whole number in that range."
        )

    def test_broken_record_falls_back_to_default(self, portal):
        from collective.securitybp.audit import AuditContext
        from collective.securitybp.checks.privileges import days_setting

        registry = portal.portal_registry
        del registry.records["collective.securitybp.privileges_dormant_days"]
        context = AuditContext(portal, portal.getPhysicalRoot(), NOW)
        assert days_setting(context, "privileges_dormant_days") == 180


class FormValues(HTMLParser):
    """The values a browser would submit from the control panel form."""

    def __init__(self):
        super().__init__()
        self.values, self._select, self._textarea = [], None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button"):
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            self.values.append((name, attrs.get("value") or ""))
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attrs:
            self.values.append((self._select, attrs.get("value") or ""))
        elif tag == "textarea" and name:
            self._textarea = [name, ""]

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.values.append(tuple(self._textarea))
            self._textarea = None


@pytest.fixture
def manager(functional):
    portal = functional["portal"]
    portal.acl_users.userFolderAddUser("keeper", PASSWORD, ["Manager"], [])
    transaction.commit()
    session = requests.Session()
    session.auth = ("keeper", PASSWORD)
    url = f"http://{functional['host']}:{functional['port']}/{portal.getId()}"
    return session, url


def rest_value(session, url, name):
    data = session.get(
        url + "/@controlpanels/securitybp",
        headers={"Accept": "application/json"},
        timeout=60,
    ).json()["data"]
    return data[name]


class TestSettingsOverHTTP:
    def test_rest_patch_rejects_and_keeps_old_value(self, manager):
        session, url = manager
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        response = session.patch(
            url + "/@controlpanels/securitybp",
            data=json.dumps({"privileges_dormant_days": 0}),
            headers=headers,
            timeout=60,
        )
        assert response.status_code == 400
        assert "The number of days must be from 1 to 3650" in response.text
        assert rest_value(session, url, "privileges_dormant_days") == 180
        response = session.patch(
            url + "/@controlpanels/securitybp",
            data=json.dumps({"privileges_dormant_days": 90}),
            headers=headers,
            timeout=60,
        )
        assert response.status_code == 204
        assert rest_value(session, url, "privileges_dormant_days") == 90

    def test_form_rejects_and_keeps_old_value(self, manager):
        session, url = manager
        form_url = url + "/@@securitybp-controlpanel"
        parser = FormValues()
        parser.feed(session.get(form_url, timeout=60).text)
        values = [
            (name, value)
            for name, value in parser.values
            if name != "form.widgets.privileges_dormant_days"
        ]
        bad = values + [
            ("form.widgets.privileges_dormant_days", "0"),
            ("form.buttons.save", "Save"),
        ]
        response = session.post(form_url, data=bad, timeout=60)
        assert response.status_code == 200
        assert "The number of days must be from 1 to 3650" in response.text
        assert rest_value(session, url, "privileges_dormant_days") == 180
        good = values + [
            ("form.widgets.privileges_dormant_days", "3"),
            ("form.buttons.save", "Save"),
        ]
        response = session.post(form_url, data=good, timeout=60)
        assert response.status_code == 200
        assert "The number of days must be" not in response.text
        assert rest_value(session, url, "privileges_dormant_days") == 3
