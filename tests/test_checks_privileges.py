"""The privilege checks (SBP-PRIV-*), each firing and quiet."""

from collective.securitybp.audit import AuditContext
from collective.securitybp.audit import run_check
from collective.securitybp.checks import privileges
from collective.securitybp.checks.privileges import DormantAccounts
from collective.securitybp.checks.privileges import LocalGrants
from collective.securitybp.checks.privileges import ManagerDailyWork
from collective.securitybp.checks.privileges import NoSiteAdministrator
from collective.securitybp.checks.privileges import RiskyPermissions
from collective.securitybp.checks.privileges import SiteAdministratorDailyWork
from collective.securitybp.checks.privileges import SiteManagers
from collective.securitybp.checks.privileges import WeakPasswords
from collective.securitybp.checks.privileges import ZopeRootAdmin
from collective.securitybp.checks.privileges import ZopeRootManagers
from DateTime import DateTime
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from plone import api
from plone.app.testing import login
from plone.app.testing import logout
from plone.app.testing import setRoles
from plone.app.testing import TEST_USER_ID
from Products.PluggableAuthService.interfaces.plugins import IUserEnumerationPlugin
from Products.PluggableAuthService.plugins.BasePlugin import BasePlugin
from zope.interface import implementer
import pytest


def run(check, portal):
    context = AuditContext(
        site=portal, root=portal.getPhysicalRoot(), now=datetime.now(timezone.utc)
    )
    return [f.to_dict() for f in run_check(check, context)]


NO_SITE_ADMIN = [("SBP-PRIV-001", "low", "")]


def context_of(portal, now=None):
    return AuditContext(
        site=portal,
        root=portal.getPhysicalRoot(),
        now=now or datetime.now(timezone.utc),
    )


def keyed(check, portal, now=None):
    """``(check id, severity, subject)`` of each finding."""
    return [
        (f["check_id"], f["severity"], f["subject"])
        for f in findings(check, portal, now)
    ]


@pytest.fixture
def user(portal):
    return api.user.create(email="siteadmin@example.org", username="siteadmin")


class TestNoSiteAdministrator:
    check = NoSiteAdministrator()

    def test_fires_on_fresh_site(self, portal):
        # Plone's "Site Administrators" group has the role but no members.
        assert "Site Administrators" in [g.id for g in api.group.get_groups()]
        assert keyed(self.check, portal) == NO_SITE_ADMIN
        [finding] = NoSiteAdministrator().run(context_of(portal))
        assert [link.url for link in finding.links][0] == "@@usergroup-userprefs"

    def test_quiet_with_member_of_site_administrators_group(self, portal, user):
        api.group.add_user(groupname="Site Administrators", username="siteadmin")
        assert run(self.check, portal) == []

    def test_quiet_with_direct_global_role(self, portal, user):
        api.user.grant_roles(username="siteadmin", roles=["Site Administrator"])
        assert run(self.check, portal) == []

    def test_quiet_with_local_role_on_site_root(self, portal, user):
        portal.manage_setLocalRoles("siteadmin", ["Site Administrator"])
        assert run(self.check, portal) == []

    def test_quiet_through_nested_group(self, portal, user):
        api.group.create(groupname="ops")
        api.group.add_user(groupname="ops", username="siteadmin")
        portal.acl_users.source_groups.addPrincipalToGroup("ops", "Site Administrators")
        assert run(self.check, portal) == []

    def test_fires_when_only_empty_nested_group_holds_role(self, portal):
        api.group.create(groupname="ops")
        portal.acl_users.source_groups.addPrincipalToGroup("ops", "Site Administrators")
        assert keyed(self.check, portal) == NO_SITE_ADMIN

    def test_fires_when_role_granted_to_deleted_user(self, portal, user):
        api.user.grant_roles(username="siteadmin", roles=["Site Administrator"])
        portal.acl_users.source_users.removeUser("siteadmin")
        assert keyed(self.check, portal) == NO_SITE_ADMIN

    def test_local_role_below_root_does_not_count(self, portal, user):
        setRoles(portal, TEST_USER_ID, ["Manager"])
        folder = api.content.create(container=portal, type="Folder", id="f")
        folder.manage_setLocalRoles("siteadmin", ["Site Administrator"])
        assert keyed(self.check, portal) == NO_SITE_ADMIN


ROOT_ADMIN = [("SBP-PRIV-002", "low", "admin")]


class TestZopeRootAdmin:
    check = ZopeRootAdmin()

    def test_fires_for_admin_manager(self, portal, app):
        # plone.app.testing creates the Zope root user "admin" with Manager.
        assert "Manager" in app.acl_users.getUser("admin").getRoles()
        assert keyed(self.check, portal) == ROOT_ADMIN

    def test_quiet_when_admin_renamed(self, portal, app):
        plugins = app.acl_users
        plugins.users.addUser("zope-keeper-7", "zope-keeper-7", "a long passphrase")
        plugins.roles.assignRoleToPrincipal("Manager", "zope-keeper-7")
        plugins.users.removeUser("admin")
        assert run(self.check, portal) == []

    def test_quiet_when_admin_is_not_manager(self, portal, app):
        app.acl_users.roles.removeRoleFromPrincipal("Manager", "admin")
        assert app.acl_users.getUser("admin") is not None
        assert run(self.check, portal) == []

    def test_fires_for_admin_login_with_other_id(self, portal, app):
        plugins = app.acl_users
        plugins.users.removeUser("admin")
        plugins.users.addUser("u-17", "admin", "a long passphrase")
        plugins.roles.assignRoleToPrincipal("Manager", "u-17")
        assert keyed(self.check, portal) == ROOT_ADMIN

    def test_fires_with_plain_user_folder(self, portal, app):
        from OFS.userfolder import UserFolder

        app._delObject("acl_users")
        app._setObject("acl_users", UserFolder())
        app.acl_users._doAddUser("admin", "a long passphrase", ["Manager"], [])
        assert keyed(self.check, portal) == ROOT_ADMIN

    def test_quiet_with_plain_user_folder_without_admin(self, portal, app):
        from OFS.userfolder import UserFolder

        app._delObject("acl_users")
        app._setObject("acl_users", UserFolder())
        app.acl_users._doAddUser("keeper", "a long passphrase", ["Manager"], [])
        assert run(self.check, portal) == []

    def test_plone_site_user_named_admin_does_not_count(self, portal, app):
        app.acl_users.users.removeUser("admin")
        setRoles(portal, TEST_USER_ID, ["Manager"])
        api.user.create(email="a@example.org", username="admin", roles=["Manager"])
        assert run(self.check, portal) == []


# -- SBP-PRIV-003 and up -------------------------------------------------


STRONG = "a long test passphrase 42"
DAY = timedelta(days=1)


def findings(check, portal, now=None):
    context = AuditContext(
        site=portal,
        root=portal.getPhysicalRoot(),
        now=now or datetime.now(timezone.utc),
    )
    return [
        {
            key: f.to_dict()[key]
            for key in ("check_id", "severity", "subject", "title", "detail")
        }
        for f in run_check(check, context)
    ]


def add_user(portal, user_id, fullname="", password=STRONG, roles=(), groups=()):
    api.user.create(
        email=f"{user_id}@example.org",
        username=user_id,
        password=password,
        properties={"fullname": fullname} if fullname else {},
    )
    for role in roles:
        portal.acl_users.portal_role_manager.assignRoleToPrincipal(role, user_id)
    for group in groups:
        portal.acl_users.source_groups.addPrincipalToGroup(user_id, group)


def add_group(portal, group_id, title="", roles=(), inside=()):
    portal.acl_users.source_groups.addGroup(group_id, title=title)
    for role in roles:
        portal.acl_users.portal_role_manager.assignRoleToPrincipal(role, group_id)
    for parent in inside:
        portal.acl_users.source_groups.addPrincipalToGroup(group_id, parent)


def add_root_manager(app, user_id, password=STRONG):
    app.acl_users.users.addUser(user_id, user_id, password)
    app.acl_users.roles.assignRoleToPrincipal("Manager", user_id)


def set_logins(portal, user_id, last, previous):
    api.user.get(userid=user_id).setMemberProperties(
        {"login_time": DateTime(last), "last_login_time": DateTime(previous)}
    )


@pytest.fixture
def old_site(portal):
    """A site created a year ago, so recent content is not setup content."""
    portal.creation_date = DateTime(datetime.now(timezone.utc) - 365 * DAY)
    portal.reindexObject(idxs=["created"])
    return portal


def add_document(portal, doc_id, creator, age, container=None):
    """A document created by ``creator`` ``age`` ago and not changed since."""
    with api.env.adopt_roles(["Manager"]):
        doc = api.content.create(
            container=container or portal, type="Document", id=doc_id
        )
    doc.setCreators([creator])
    doc.creation_date = doc.modification_date = DateTime(
        datetime.now(timezone.utc) - age
    )
    # Named indexes: a full reindex would add the current user as creator.
    doc.reindexObject(idxs=["created", "modified", "Creator"])
    return doc


def edit_as(portal, user_id, doc):
    """Change ``doc`` as ``user_id`` does in the edit form: a new title, a
    version saved by Plone's versioning, the modification date."""
    login(portal if user_id != "admin" else portal.getPhysicalRoot(), user_id)
    try:
        doc.title = f"Changed by {user_id}"
        portal.portal_repository.save(obj=doc, comment="edited")
        doc.reindexObject()
    finally:
        logout()


def strong_root_admin(app):
    # plone.app.testing's Zope root admin has the password "secret".
    app.acl_users.users.updateUserPassword("admin", STRONG)


class TestZopeRootManagers:
    check = ZopeRootManagers()

    def test_quiet_with_two(self, portal, app):
        add_root_manager(app, "keeper")
        assert findings(self.check, portal) == []

    def test_fires_with_three_naming_how(self, portal, app):
        add_root_manager(app, "keeper")
        app.acl_users.users.addUser("ops", "ops", STRONG)
        app.manage_setLocalRoles("ops", ["Manager"])
        assert findings(self.check, portal) == [
            {
                "check_id": "SBP-PRIV-003",
                "severity": "medium",
                "subject": "/",
                "title": "More than two Zope root Managers",
                "detail": (
                    "The Zope root gives the Manager role to 3 users: admin "
                    "directly; keeper directly; ops by a local role on the "
                    "Zope root. The Zope Manager role is for setting up sites, "
                    "not for daily work, and each of these accounts can do "
                    "everything in every site of this Zope."
                ),
            }
        ]

    def test_fires_with_plain_user_folder(self, portal, app):
        from OFS.userfolder import UserFolder

        app._delObject("acl_users")
        app._setObject("acl_users", UserFolder())
        for name in ("a1", "a2", "a3"):
            app.acl_users._doAddUser(name, STRONG, ["Manager"], [])
        app.acl_users._doAddUser("viewer", STRONG, ["Authenticated"], [])
        [finding] = findings(self.check, portal)
        assert finding["detail"].startswith(
            "The Zope root gives the Manager role to 3 users: a1 directly; "
            "a2 directly; a3 directly."
        )


class TestSiteManagers:
    check = SiteManagers()

    def test_quiet_on_fresh_site(self, portal):
        # The "Administrators" group holds Manager but has no members.
        assert findings(self.check, portal) == []

    def test_lists_managers_with_paths(self, portal):
        add_group(portal, "staff", title="Staff", inside=["Administrators"])
        add_user(portal, "alice", "Alice Smith", groups=["staff"])
        add_user(portal, "bob", roles=["Manager"])
        add_user(portal, "carol")
        portal.manage_setLocalRoles("carol", ["Manager"])
        add_user(portal, "dave", roles=["Editor"])
        assert findings(self.check, portal) == [
            {
                "check_id": "SBP-PRIV-004",
                "severity": "info",
                "subject": "alice",
                "title": "Manager on the site",
                "detail": (
                    "alice (Alice Smith) holds the Manager role on this site "
                    "through the group Administrators \u2192 staff (Staff)."
                ),
            },
            {
                "check_id": "SBP-PRIV-004",
                "severity": "info",
                "subject": "bob",
                "title": "Manager on the site",
                "detail": "bob holds the Manager role on this site directly.",
            },
            {
                "check_id": "SBP-PRIV-004",
                "severity": "info",
                "subject": "carol",
                "title": "Manager on the site",
                "detail": (
                    "carol holds the Manager role on this site by a local "
                    "role on the site root."
                ),
            },
        ]

    def test_logged_in_users_with_global_role_is_high(self, portal):
        roles = portal.acl_users.portal_role_manager
        roles.assignRoleToPrincipal("Reviewer", "AuthenticatedUsers")
        roles.assignRoleToPrincipal("Member", "AuthenticatedUsers")
        portal.acl_users.source_groups.addPrincipalToGroup(
            "AuthenticatedUsers", "Site Administrators"
        )
        [finding] = findings(self.check, portal)
        assert (finding["check_id"], finding["severity"], finding["subject"]) == (
            "SBP-PRIV-004",
            "high",
            "AuthenticatedUsers",
        )
        assert (
            "Site Administrator through the group Site Administrators"
            in (finding["detail"])
        )

    def test_logged_in_editor_with_self_registration_is_critical(self, portal):
        # Anyone can register, and every logged-in user is an Editor.
        api.portal.set_registry_record("plone.enable_self_reg", True)
        roles = portal.acl_users.portal_role_manager
        roles.assignRoleToPrincipal("Editor", "AuthenticatedUsers")
        [finding] = findings(self.check, portal)
        assert (finding["severity"], finding["subject"]) == (
            "critical",
            "AuthenticatedUsers",
        )
        assert (
            "anyone can create an account and make themselves Editor"
            in (finding["detail"])
        )

    def test_zope_root_user_with_local_manager_role_is_not_unknown(self, portal):
        portal.manage_setLocalRoles("admin", ["Owner", "Manager"])
        assert findings(self.check, portal) == []

    def test_member_role_for_logged_in_users_is_quiet(self, portal):
        roles = portal.acl_users.portal_role_manager
        roles.assignRoleToPrincipal("Member", "AuthenticatedUsers")
        assert findings(self.check, portal) == []

    @pytest.mark.parametrize(
        "self_registration,severity", [(False, "medium"), (True, "critical")]
    )
    def test_manager_granted_to_unknown_id(self, portal, self_registration, severity):
        api.portal.set_registry_record("plone.enable_self_reg", self_registration)
        portal.acl_users.portal_role_manager.assignRoleToPrincipal("Manager", "ghost")
        assert findings(self.check, portal) == [
            {
                "check_id": "SBP-PRIV-004",
                "severity": severity,
                "subject": "ghost",
                "title": "Manager granted to an unknown principal",
                "detail": (
                    "The Manager role is granted to 'ghost' directly, but the "
                    "site's user and group sources have no such user or group "
                    "(a deleted account, or one of another source). Whoever "
                    "gets an account with this id later becomes a Manager."
                ),
            }
        ]


class TestManagerDailyWork:
    check = ManagerDailyWork()

    def test_fires_for_recent_content(self, old_site):
        add_user(old_site, "alice", "Alice Smith", roles=["Manager"])
        add_document(old_site, "d1", "alice", 3 * DAY)
        add_document(old_site, "d2", "alice", 10 * DAY)
        add_document(old_site, "d3", "alice", 40 * DAY)
        [finding] = findings(self.check, old_site)
        latest = (datetime.now(timezone.utc) - 3 * DAY).strftime("%Y-%m-%d")
        assert (finding["severity"], finding["subject"]) == ("high", "alice")
        assert (
            f"created or changed 2 item(s) in the last 30 days, the latest on {latest}"
            in (finding["detail"])
        )

    def test_logins_alone_are_not_daily_work(self, old_site):
        now = datetime.now(timezone.utc)
        add_user(old_site, "alice", roles=["Manager"])
        set_logins(old_site, "alice", now - DAY, now - 3 * DAY)
        assert findings(self.check, old_site, now=now) == []

    def test_fires_for_content_changed(self, old_site):
        add_user(old_site, "alice", roles=["Manager"])
        doc = add_document(old_site, "d1", "bob", 200 * DAY)
        assert findings(self.check, old_site) == []
        edit_as(old_site, "alice", doc)
        [finding] = findings(self.check, old_site)
        assert (finding["severity"], finding["subject"]) == ("high", "alice")

    def test_quiet_for_old_content_and_rare_logins(self, old_site):
        now = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
        add_user(old_site, "alice", roles=["Manager"])
        add_document(old_site, "d3", "alice", 40 * DAY)
        # Logged in yesterday, but the login before was three weeks ago.
        set_logins(old_site, "alice", now - DAY, now - 21 * DAY)
        add_user(old_site, "bob", roles=["Manager"])
        # A first login sets both times to the same moment.
        set_logins(old_site, "bob", now - DAY, now - DAY)
        assert findings(self.check, old_site, now=now) == []

    def test_content_of_site_setup_does_not_count(self, portal, app):
        # The fresh test site was created moments ago by "admin"; the site
        # root and its setup content are not daily work.
        add_document(portal, "front", "admin", timedelta(0))
        assert findings(self.check, portal) == []

    def test_zope_root_manager_editing_the_site(self, old_site, app):
        doc = add_document(old_site, "d1", "bob", 200 * DAY)
        edit_as(old_site, "admin", doc)
        [finding] = findings(self.check, old_site)
        assert (finding["severity"], finding["subject"]) == ("high", "admin")
        assert "Manager role at the Zope root" in finding["detail"]

    def test_days_setting(self, old_site):
        add_user(old_site, "alice", roles=["Manager"])
        add_document(old_site, "d1", "alice", 20 * DAY)
        assert len(findings(self.check, old_site)) == 1
        api.portal.set_registry_record(
            "collective.securitybp.privileges_daily_work_days", 10
        )
        assert findings(self.check, old_site) == []

    def test_site_administrator_is_not_reported_here(self, old_site):
        add_user(old_site, "sam", roles=["Site Administrator"])
        add_document(old_site, "d1", "sam", DAY)
        assert findings(self.check, old_site) == []


class TestSiteAdministratorDailyWork:
    check = SiteAdministratorDailyWork()

    def test_fires_for_site_administrator(self, old_site):
        add_user(old_site, "sam", "Sam", groups=["Site Administrators"])
        add_document(old_site, "d1", "sam", DAY)
        assert keyed(self.check, old_site) == [("SBP-PRIV-006", "medium", "sam")]

    def test_fires_for_a_site_administrator_editing(self, old_site):
        add_user(old_site, "sam", "Sam", groups=["Site Administrators"])
        doc = add_document(old_site, "d1", "bob", 200 * DAY)
        edit_as(old_site, "sam", doc)
        [finding] = findings(self.check, old_site)
        assert (finding["severity"], finding["subject"]) == ("medium", "sam")
        assert "created or changed 1 item(s)" in finding["detail"]

    def test_quiet_for_logins_only(self, old_site):
        now = datetime.now(timezone.utc)
        add_user(old_site, "sam", groups=["Site Administrators"])
        set_logins(old_site, "sam", now - DAY, now - 2 * DAY)
        assert findings(self.check, old_site, now=now) == []

    def test_quiet_for_editor_and_for_managers(self, old_site):
        add_user(old_site, "edith", roles=["Editor"])
        add_document(old_site, "d1", "edith", DAY)
        add_user(old_site, "both", roles=["Manager", "Site Administrator"])
        add_document(old_site, "d2", "both", DAY)
        assert findings(self.check, old_site) == []
        assert [f["subject"] for f in findings(ManagerDailyWork(), old_site)] == [
            "both"
        ]


class TestRiskyPermissions:
    check = RiskyPermissions()

    def test_quiet_on_fresh_site(self, portal):
        # "Add portal member" is granted to Anonymous at the Zope root by
        # default; it means nothing there.
        assert "Anonymous" in privileges.roles_with(
            "Add portal member", portal.getPhysicalRoot()
        )
        assert findings(self.check, portal) == []

    def test_anonymous_on_site_root(self, portal):
        portal.manage_permission("Manage portal", ["Anonymous", "Manager"], acquire=0)
        portal.manage_permission(
            "Modify portal content", ["Anonymous", "Manager"], acquire=1
        )
        assert findings(self.check, portal) == [
            {
                "check_id": "SBP-PRIV-007",
                "severity": "critical",
                "subject": "Anonymous on /plone",
                "title": "Powerful permission granted to everybody",
                "detail": (
                    "On the site root (/plone), Anonymous has: Manage portal, "
                    "Modify portal content. Every visitor has this role, "
                    "logged in or not."
                ),
            }
        ]

    def test_member_with_modify_is_high_without_self_registration(self, portal):
        portal.manage_permission(
            "Modify portal content", ["Member", "Manager"], acquire=0
        )
        [finding] = findings(self.check, portal)
        assert finding["severity"] == "high"
        assert finding["subject"] == "Member on /plone"
        assert finding["detail"] == (
            "On the site root (/plone), Member has: Modify portal content. "
            "Every user who logs in has this role."
        )

    def test_member_with_modify_and_self_registration_is_critical(self, portal):
        api.portal.set_registry_record("plone.enable_self_reg", True)
        portal.manage_permission(
            "Modify portal content", ["Member", "Manager"], acquire=0
        )
        [finding] = findings(self.check, portal)
        assert (finding["severity"], finding["subject"]) == (
            "critical",
            "Member on /plone",
        )
        assert "anyone can create an account and get these" in finding["detail"]

    def test_anonymous_with_modify_alone_is_critical(self, portal):
        portal.manage_permission(
            "Modify portal content", ["Anonymous", "Manager"], acquire=0
        )
        assert keyed(self.check, portal) == [
            ("SBP-PRIV-007", "critical", "Anonymous on /plone")
        ]

    def test_member_with_manage_properties_is_medium(self, portal):
        portal.manage_permission("Manage properties", ["Member", "Manager"], acquire=0)
        assert keyed(self.check, portal) == [
            ("SBP-PRIV-007", "medium", "Member on /plone")
        ]

    def test_zope_root_grant_reported_once_there(self, portal, app):
        app.manage_permission(
            "Plone Site Setup: Mail", ["Authenticated", "Manager"], acquire=0
        )
        # The site acquires the setting: reported at the root only.
        assert "Authenticated" in privileges.roles_with(
            "Plone Site Setup: Mail", portal
        )
        assert keyed(self.check, portal) == [
            ("SBP-PRIV-007", "high", "Authenticated on /")
        ]

    def test_add_portal_member_only_without_self_registration(self, portal):
        portal.manage_permission(
            "Add portal member", ["Anonymous", "Manager"], acquire=0
        )
        [finding] = findings(self.check, portal)
        assert (finding["severity"], finding["subject"]) == (
            "high",
            "Anonymous on /plone",
        )
        assert "Add portal member" in finding["detail"]
        api.portal.set_registry_record("plone.enable_self_reg", True)
        assert findings(self.check, portal) == []

    def test_logged_in_users_local_role_on_site_root(self, portal):
        portal.manage_setLocalRoles("AuthenticatedUsers", ["Editor"])
        [finding] = findings(self.check, portal)
        assert (finding["severity"], finding["subject"]) == (
            "high",
            "AuthenticatedUsers on /plone",
        )
        assert "Manage properties, Modify portal content." in finding["detail"]

    def test_unknown_permission_never_crashes(self, portal, monkeypatch):
        monkeypatch.setattr(
            privileges,
            "RISKY_PERMISSIONS",
            {
                "No such permission": privileges.Severity.CRITICAL,
                "": privileges.Severity.HIGH,
            },
        )
        portal.manage_permission("Manage portal", ["Anonymous", "Manager"], acquire=0)
        assert privileges.roles_with("No such permission", portal) == {"Manager"}
        # "Plone Site Setup: *" still found by prefix; the unknown names
        # give Zope's default (Manager only), so nothing fires for them.
        assert findings(self.check, portal) == []
        portal.manage_permission(
            "Plone Site Setup: Site", ["Anonymous", "Manager"], acquire=0
        )
        assert [f["subject"] for f in findings(self.check, portal)] == [
            "Anonymous on /plone"
        ]


def folder(portal, folder_id, container=None):
    with api.env.adopt_roles(["Manager"]):
        return api.content.create(
            container=container or portal, type="Folder", id=folder_id
        )


class TestLocalGrants:
    check = LocalGrants()

    def test_quiet_with_ordinary_sharing(self, portal):
        f = folder(portal, "f")
        f.manage_setLocalRoles("bob", ["Editor", "Reader"])
        portal.manage_setLocalRoles("bob", ["Manager"])  # the root: PRIV-004's
        assert findings(self.check, portal) == []

    def test_fires_with_paths(self, portal):
        add_user(portal, "bob", "Bob <b>")
        add_group(portal, "ops", title="Ops")
        f = folder(portal, "f")
        f.manage_setLocalRoles("bob", ["Manager", "Editor"])
        doc = add_document(portal, "d", "test_user_1_", DAY, container=f)
        doc.manage_setLocalRoles("ops", ["Site Administrator"])
        assert findings(self.check, portal) == [
            {
                "check_id": "SBP-PRIV-008",
                "severity": "medium",
                "subject": "/plone",
                "title": "Manager or Site Administrator granted below the site root",
                "detail": (
                    "2 local grant(s) of Manager or Site Administrator below "
                    "the site root: /plone/f: bob (Bob <b>) (Manager); "
                    "/plone/f/d: ops (Ops) (Site Administrator)."
                ),
            }
        ]

    def test_lists_at_most_twenty(self, portal):
        for index in range(22):
            folder(portal, f"f{index:02d}").manage_setLocalRoles("bob", ["Manager"])
        [finding] = findings(self.check, portal)
        assert finding["detail"].startswith(
            "22 local grant(s) of Manager or Site Administrator below the site "
            "root: /plone/f00: bob (Manager); /plone/f01: bob (Manager);"
        )
        assert finding["detail"].endswith("/plone/f19: bob (Manager); and 2 more.")
        assert "/plone/f20" not in finding["detail"]


@implementer(IUserEnumerationPlugin)
class ExternalUsers(BasePlugin):
    """A user source without passwords in the ZODB, as LDAP would be."""

    meta_type = "Test external users"

    def __init__(self, id, users):
        self.id = id
        self.users = tuple(users)

    def enumerateUsers(self, id=None, login=None, exact_match=False, **kw):
        wanted = id or login
        return tuple(
            {"id": user, "login": user, "pluginid": self.getId()}
            for user in self.users
            if wanted is None or user == wanted
        )


class TestWeakPasswords:
    check = WeakPasswords()

    def test_quiet_with_strong_passwords(self, portal, app):
        strong_root_admin(app)
        add_user(portal, "alice", roles=["Manager"])
        add_user(portal, "sam", groups=["Site Administrators"])
        add_user(portal, "weakling", password="password")  # not privileged
        assert findings(self.check, portal) == []

    @pytest.mark.parametrize(
        "password", ["ecila", "alice", "password", "12345678", "changeme"]
    )
    def test_fires_for_weak_site_password(self, portal, app, password, caplog):
        strong_root_admin(app)
        add_user(portal, "alice", "Alice Smith", roles=["Manager"])
        portal.acl_users.source_users.updateUserPassword("alice", password)
        result = [
            f.to_dict()
            for f in self.check.run(
                AuditContext(portal, app, datetime.now(timezone.utc))
            )
        ]
        assert [
            {
                key: f[key]
                for key in ("check_id", "severity", "subject", "title", "detail")
            }
            for f in result
        ] == [
            {
                "check_id": "SBP-PRIV-009",
                "severity": "critical",
                "subject": "alice",
                "title": "Privileged account with a weak password",
                "detail": (
                    "The password of alice (Alice Smith), who holds the "
                    "Manager role on this site, is on the list of passwords "
                    "tried first by anyone guessing: the login itself, its "
                    "reverse, or a common password."
                ),
            }
        ]
        shown = " ".join(str(value) for value in result[0].values())
        if password not in ("alice", "password"):  # words of the text itself
            assert password not in shown
        assert password not in caplog.text

    def test_zope_root_admin_of_the_test_fixture(self, portal):
        # plone.app.testing's Zope root admin has the password "secret".
        assert findings(self.check, portal) == [
            {
                "check_id": "SBP-PRIV-009",
                "severity": "critical",
                "subject": "admin",
                "title": "Privileged account with a weak password",
                "detail": (
                    "The password of admin, who holds the Manager role at the "
                    "Zope root, is on the list of passwords tried first by "
                    "anyone guessing: the login itself, its reverse, or a "
                    "common password."
                ),
            }
        ]

    def test_plain_user_folder_at_root(self, portal, app):
        from OFS.userfolder import UserFolder

        app._delObject("acl_users")
        app._setObject("acl_users", UserFolder())
        app.acl_users._doAddUser("keeper", "repeek", ["Manager"], [])
        app.acl_users._doAddUser("spare", STRONG, ["Manager"], [])
        assert [
            (f["subject"], f["severity"]) for f in findings(self.check, portal)
        ] == [("keeper", "critical")]

    def test_account_of_other_source_is_not_checkable(self, portal, app):
        strong_root_admin(app)
        uf = portal.acl_users
        uf._setObject("external", ExternalUsers("external", ["ldapuser"]))
        uf.plugins.activatePlugin(IUserEnumerationPlugin, "external")
        uf.portal_role_manager.assignRoleToPrincipal("Site Administrator", "ldapuser")
        assert findings(self.check, portal) == [
            {
                "check_id": "SBP-PRIV-009",
                "severity": "info",
                "subject": "ldapuser",
                "title": "Password of a privileged account not checkable",
                "detail": (
                    "ldapuser, who holds the Site Administrator role, is not "
                    "held in a user source of the ZODB (it comes from LDAP or "
                    "another source), so the strength of its password cannot "
                    "be checked here."
                ),
            }
        ]

    def test_no_login_no_lockout_no_write(self, portal, app):
        import transaction

        add_user(portal, "alice", roles=["Manager"], password="password")
        txn = transaction.get()
        resources = list(txn._resources)
        registered = list(portal._p_jar._registered_objects)
        events = []
        from zope.event import subscribers

        subscribers.append(events.append)
        try:
            assert len(findings(self.check, portal)) == 2  # alice and admin
        finally:
            subscribers.remove(events.append)
        assert events == []
        assert list(txn._resources) == resources
        assert list(portal._p_jar._registered_objects) == registered


@pytest.fixture
def committed(functional):
    """A site in a layer that lets tests commit: the records holding an
    account then carry the time of the transaction that wrote them."""
    from zope.component.hooks import setSite

    setSite(functional["portal"])
    return functional["portal"]


class TestDormantAccounts:
    check = DormantAccounts()

    def test_new_account_is_not_dormant(self, portal):
        # Created to fix SBP-PRIV-001 minutes ago, never logged in yet.
        add_user(portal, "sam", groups=["Site Administrators"])
        assert findings(self.check, portal) == []

    def test_fires_for_never_and_long_ago(self, committed):
        import transaction

        add_user(committed, "alice", "Alice", roles=["Manager"])
        add_user(committed, "sam", groups=["Site Administrators"])
        transaction.commit()
        assert findings(self.check, committed) == []  # still new
        later = datetime.now(timezone.utc) + 10 * DAY
        set_logins(committed, "sam", later - 200 * DAY, later - 300 * DAY)
        result = findings(self.check, committed, now=later)
        assert [(f["check_id"], f["severity"], f["subject"]) for f in result] == [
            ("SBP-PRIV-010", "low", "alice"),
            ("SBP-PRIV-010", "low", "sam"),
        ]
        assert "has never logged in" in result[0]["detail"]
        assert "(200 days)" in result[1]["detail"]

    def test_role_given_again_restarts_the_grace(self, committed):
        import transaction

        add_user(committed, "sam")
        transaction.commit()
        later = datetime.now(timezone.utc) + 10 * DAY
        assert findings(self.check, committed, now=later) == []  # no role
        committed.acl_users.source_groups.addPrincipalToGroup(
            "sam", "Site Administrators"
        )
        assert findings(self.check, committed, now=later) == []

    def test_quiet_for_recent_login_and_zope_root(self, committed):
        import transaction

        add_user(committed, "sam", groups=["Site Administrators"])
        transaction.commit()
        later = datetime.now(timezone.utc) + 10 * DAY
        set_logins(committed, "sam", later - 100 * DAY, later - 300 * DAY)
        # The Zope root "admin" never logged in: it should be seldom used.
        assert findings(self.check, committed, now=later) == []

    def test_days_setting(self, committed):
        import transaction

        add_user(committed, "sam", groups=["Site Administrators"])
        transaction.commit()
        later = datetime.now(timezone.utc) + 10 * DAY
        set_logins(committed, "sam", later - 100 * DAY, later - 300 * DAY)
        api.portal.set_registry_record(
            "collective.securitybp.privileges_dormant_days", 90
        )
        result = findings(self.check, committed, now=later)
        assert [f["subject"] for f in result] == ["sam"]
