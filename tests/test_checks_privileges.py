"""The first privilege checks, each firing and quiet."""

from collective.securitybp.audit import AuditContext
from collective.securitybp.checks.privileges import NoSiteAdministrator
from collective.securitybp.checks.privileges import ZopeRootAdmin
from datetime import datetime
from datetime import timezone
from plone import api
from plone.app.testing import setRoles
from plone.app.testing import TEST_USER_ID

import pytest


def run(check, portal):
    context = AuditContext(
        site=portal, root=portal.getPhysicalRoot(), now=datetime.now(timezone.utc)
    )
    return [f.to_dict() for f in check.run(context)]


NO_SITE_ADMIN = {
    "check_id": "SBP-PRIV-001",
    "area": "privileges",
    "area_title": "Privileges",
    "severity": "high",
    "title": "No Site Administrator",
    "detail": (
        "Nobody holds the Site Administrator role on this site, directly or "
        "through a group. Administration is then done with a Manager account, "
        "which can do far more than that work needs."
    ),
    "remediation": (
        "In Site Setup > Users and Groups, add a user for administration and "
        "put it in the 'Site Administrators' group (or give it the Site "
        "Administrator role). Use it only for maintenance; edit content with "
        "an account without extra roles."
    ),
    "reference": "Use dedicated Plone 'Site Administrator' users",
    "subject": "",
}


@pytest.fixture
def user(portal):
    return api.user.create(email="siteadmin@example.org", username="siteadmin")


class TestNoSiteAdministrator:
    check = NoSiteAdministrator()

    def test_fires_on_fresh_site(self, portal):
        # Plone's "Site Administrators" group has the role but no members.
        assert "Site Administrators" in [g.id for g in api.group.get_groups()]
        assert run(self.check, portal) == [NO_SITE_ADMIN]

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
        assert run(self.check, portal) == [NO_SITE_ADMIN]

    def test_fires_when_role_granted_to_deleted_user(self, portal, user):
        api.user.grant_roles(username="siteadmin", roles=["Site Administrator"])
        portal.acl_users.source_users.removeUser("siteadmin")
        assert run(self.check, portal) == [NO_SITE_ADMIN]

    def test_local_role_below_root_does_not_count(self, portal, user):
        setRoles(portal, TEST_USER_ID, ["Manager"])
        folder = api.content.create(container=portal, type="Folder", id="f")
        folder.manage_setLocalRoles("siteadmin", ["Site Administrator"])
        assert run(self.check, portal) == [NO_SITE_ADMIN]


ROOT_ADMIN = {
    "check_id": "SBP-PRIV-002",
    "area": "privileges",
    "area_title": "Privileges",
    "severity": "medium",
    "title": "Zope root Manager named 'admin'",
    "detail": (
        "The Zope root user folder has a user 'admin' with the Manager role. "
        "It is the first name tried by anyone guessing passwords, and this "
        "account can do everything in every site of this Zope."
    ),
    "remediation": (
        "At the Zope root (/acl_users in the management interface, or the "
        "addzopeuser script), create a Manager with a name that is hard to "
        "guess and a strong password, log in with it, and delete 'admin'. Use "
        "it only to set up sites, never for daily work."
    ),
    "reference": "'Zope Manager' User should not be used for daily work",
    "subject": "admin",
}


class TestZopeRootAdmin:
    check = ZopeRootAdmin()

    def test_fires_for_admin_manager(self, portal, app):
        # plone.app.testing creates the Zope root user "admin" with Manager.
        assert "Manager" in app.acl_users.getUser("admin").getRoles()
        assert run(self.check, portal) == [ROOT_ADMIN]

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
        assert run(self.check, portal) == [ROOT_ADMIN]

    def test_fires_with_plain_user_folder(self, portal, app):
        from OFS.userfolder import UserFolder

        app._delObject("acl_users")
        app._setObject("acl_users", UserFolder())
        app.acl_users._doAddUser("admin", "a long passphrase", ["Manager"], [])
        assert run(self.check, portal) == [ROOT_ADMIN]

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
