"""Install, uninstall and reinstall the add-on's GenericSetup profiles."""

from AccessControl.Permission import pname
from collective.securitybp import PACKAGE_NAME
from collective.securitybp.acknowledgements import AcknowledgementStore
from collective.securitybp.acknowledgements import ANNOTATION_KEY
from collective.securitybp.audit import run_audit
from collective.securitybp.interfaces import IBrowserLayer
from datetime import datetime
from datetime import timezone
from plone import api
from plone.app.testing import setRoles
from plone.app.testing import TEST_USER_ID
from plone.browserlayer import utils as layer_utils
from zope.annotation.interfaces import IAnnotations
import pytest


VIEW = "collective.securitybp: View security report"
MANAGE = "collective.securitybp: Manage security settings"


def configlet_ids(portal):
    tool = api.portal.get_tool("portal_controlpanel")
    return [action.id for action in tool.listActions()]


def roles_of(portal, permission):
    return sorted(
        r["name"] for r in portal.rolesOfPermission(permission) if r["selected"]
    )


@pytest.fixture
def manager(portal):
    setRoles(portal, TEST_USER_ID, ["Manager"])
    return portal


class TestInstall:
    def test_installed(self, installer):
        assert installer.is_product_installed(PACKAGE_NAME) is True

    def test_profile_version(self, portal):
        setup = api.portal.get_tool("portal_setup")
        assert setup.getLastVersionForProfile(f"{PACKAGE_NAME}:default") == ("1004",)

    def test_browserlayer(self, portal):
        assert IBrowserLayer in layer_utils.registered_layers()

    def test_registry_record(self, portal):
        assert api.portal.get_registry_record("collective.securitybp.fail_on") == "high"

    def test_configlet_in_security_section(self, portal):
        tool = api.portal.get_tool("portal_controlpanel")
        action = tool.getActionObject("plone-security/collective.securitybp")
        assert action is not None
        assert action.permissions == (MANAGE,)

    def test_permissions_for_manager_and_site_administrator_only(self, portal):
        # The Security Auditor role (for monitoring) may view, not manage.
        assert roles_of(portal, VIEW) == [
            "Manager",
            "Security Auditor",
            "Site Administrator",
        ]
        assert roles_of(portal, MANAGE) == ["Manager", "Site Administrator"]

    def test_uninstall_profile_hidden(self, portal):
        from collective.securitybp.setuphandlers import HiddenProfiles

        assert "collective.securitybp:uninstall" in (
            HiddenProfiles().getNonInstallableProfiles()
        )


class TestUninstall:
    @pytest.fixture(autouse=True)
    def _uninstall(self, manager, installer):
        store = AcknowledgementStore(manager)
        finding = run_audit(manager).findings[0]
        store.add(finding, "to be removed", "tester", datetime.now(timezone.utc))
        assert ANNOTATION_KEY in IAnnotations(manager)
        installer.uninstall_product(PACKAGE_NAME)
        self.portal = manager

    def test_not_installed(self, installer):
        assert installer.is_product_installed(PACKAGE_NAME) is False

    def test_browserlayer_removed(self):
        assert IBrowserLayer not in layer_utils.registered_layers()

    def test_registry_record_removed(self):
        registry = api.portal.get_tool("portal_registry")
        assert "collective.securitybp.fail_on" not in registry.records

    def test_configlet_removed(self):
        assert "collective.securitybp" not in configlet_ids(self.portal)

    def test_acknowledgements_removed(self):
        assert ANNOTATION_KEY not in IAnnotations(self.portal)

    def test_site_no_longer_guarded(self):
        from collective.securitybp.zmi import guard

        app = self.portal.getPhysicalRoot()
        assert "/plone" not in guard.registered_paths(app)
        assert guard.installed_sites(app) == []

    def test_role_map_removed(self):
        assert pname(VIEW) not in self.portal.__dict__
        assert pname(MANAGE) not in self.portal.__dict__

    def test_reinstall(self, installer):
        installer.install_product(PACKAGE_NAME)
        assert installer.is_product_installed(PACKAGE_NAME) is True
        assert IBrowserLayer in layer_utils.registered_layers()
        assert api.portal.get_registry_record("collective.securitybp.fail_on") == "high"
        assert "collective.securitybp" in configlet_ids(self.portal)
        assert roles_of(self.portal, VIEW) == [
            "Manager",
            "Security Auditor",
            "Site Administrator",
        ]


class TestUpgrade:
    def test_from_1000(self, manager):
        setup = api.portal.get_tool("portal_setup")
        profile = f"{PACKAGE_NAME}:default"
        registry = api.portal.get_tool("portal_registry")
        registry.records.__delitem__("collective.securitybp.fail_on")
        setup.setLastVersionForProfile(profile, "1000")
        steps = setup.listUpgrades(profile, simple=True)
        assert [s.dest for s in steps] == [
            ("1001",),
            ("1002",),
            ("1002",),
            ("1003",),
            ("1004",),
        ]
        setup.upgradeProfile(profile)
        assert setup.getLastVersionForProfile(profile) == ("1004",)
        assert api.portal.get_registry_record("collective.securitybp.fail_on") == "high"

    @pytest.mark.parametrize(
        "proxies,expected",
        [([], ["127.0.0.0/8", "::1/128"]), (["10.0.0.5"], ["10.0.0.5"])],
    )
    def test_from_1001(self, manager, proxies, expected):
        from collective.securitybp.zmi import guard

        setup = api.portal.get_tool("portal_setup")
        profile = f"{PACKAGE_NAME}:default"
        registry = api.portal.get_tool("portal_registry")
        del registry.records["collective.securitybp.zmi_admin_networks"]
        registry["collective.securitybp.zmi_trusted_proxies"] = proxies
        guard.register_site(manager, installed=False)
        app = manager.getPhysicalRoot()
        assert "/plone" not in guard.registered_paths(app)
        setup.setLastVersionForProfile(profile, "1001")
        setup.upgradeProfile(profile)
        assert setup.getLastVersionForProfile(profile) == ("1004",)
        assert registry["collective.securitybp.zmi_admin_networks"] == []
        assert registry["collective.securitybp.zmi_trusted_proxies"] == expected
        assert "/plone" in guard.registered_paths(app)

    def test_to_1004_adds_the_security_contact_settings(self, manager):
        setup = api.portal.get_tool("portal_setup")
        profile = f"{PACKAGE_NAME}:default"
        registry = api.portal.get_tool("portal_registry")
        name = "collective.securitybp.securitytxt_contact"
        del registry.records[name]
        registry["collective.securitybp.zmi_manage_hosts"] = ["manage.example.com"]
        setup.setLastVersionForProfile(profile, "1003")
        [step] = setup.listUpgrades(profile, simple=True)
        assert step.dest == ("1004",)
        setup.upgradeProfile(profile)
        assert setup.getLastVersionForProfile(profile) == ("1004",)
        assert registry[name] == []
        assert registry["collective.securitybp.zmi_manage_hosts"] == [
            "manage.example.com"
        ]


def test_upgrade_removes_the_login_days_record(manager):
    from plone.registry import field
    from plone.registry.record import Record

    setup = api.portal.get_tool("portal_setup")
    profile = f"{PACKAGE_NAME}:default"
    registry = api.portal.get_tool("portal_registry")
    name = "collective.securitybp.privileges_login_days"
    registry.records[name] = Record(field.Int(title="login days"), 7)
    setup.setLastVersionForProfile(profile, "1002")
    setup.upgradeProfile(profile)
    assert setup.getLastVersionForProfile(profile) == ("1004",)
    assert name not in registry.records
