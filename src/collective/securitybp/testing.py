"""Test layers: a Plone site with collective.securitybp installed."""

from plone.app.testing import applyProfile
from plone.app.testing import FunctionalTesting
from plone.app.testing import IntegrationTesting
from plone.app.testing import PLONE_FIXTURE
from plone.app.testing import PloneSandboxLayer
from plone.testing import zope
import collective.securitybp


class SecurityBPLayer(PloneSandboxLayer):
    defaultBases = (PLONE_FIXTURE,)

    def setUpZope(self, app, configurationContext):
        import plone.restapi

        self.loadZCML(package=plone.restapi)
        self.loadZCML(package=collective.securitybp)

    def setUpPloneSite(self, portal):
        applyProfile(portal, "collective.securitybp:default")


FIXTURE = SecurityBPLayer()

INTEGRATION_TESTING = IntegrationTesting(
    bases=(FIXTURE,), name="CollectiveSecuritybpLayer:IntegrationTesting"
)
FUNCTIONAL_TESTING = FunctionalTesting(
    bases=(FIXTURE, zope.WSGI_SERVER_FIXTURE),
    name="CollectiveSecuritybpLayer:FunctionalTesting",
)


GUARD_PUBLIC = "www.example.com"
GUARD_MANAGE = "manage.example.com"
GUARD_PASSWORD = "a long test passphrase 42"  # noqa: S105 - test fixture


class GuardSitesLayer(PloneSandboxLayer):
    """Sites for the management guard's tests, beside the site ``plone``:
    ``plain``, a second site with the add-on in report mode, and
    ``org/nested``, a site inside a folder, both in block mode with
    ``manage.example.com`` as manage host (``plone`` too); Plone's content
    types and a (Zope) folder ``folder`` in ``plone``, a virtual host
    monster, and a Manager ``manager`` in ``plone`` and ``org/nested``."""

    defaultBases = (FIXTURE,)

    def setUpZope(self, app, configurationContext):
        import plone.app.contenttypes

        self.loadZCML(package=plone.app.contenttypes)

    def setUpPloneSite(self, portal):
        from plone.app.testing import SITE_OWNER_NAME
        from Products.CMFPlone.factory import addPloneSite
        from Products.SiteAccess.VirtualHostMonster import manage_addVirtualHostMonster
        from zope.component.hooks import setSite

        app = portal.getPhysicalRoot()
        if "virtual_hosting" not in app.objectIds():
            manage_addVirtualHostMonster(app)
        zope.login(app["acl_users"], SITE_OWNER_NAME)
        profile = ("collective.securitybp:default",)
        addPloneSite(app, "plain", extension_ids=profile)
        app.manage_addFolder("org")
        addPloneSite(app.org, "nested", extension_ids=profile)
        setSite(portal)
        applyProfile(portal, "plone.app.contenttypes:default")
        portal.manage_addFolder("folder")
        for site, mode in (
            (portal, "block"),
            (app.plain, "report"),
            (app.org.nested, "block"),
        ):
            setSite(site)
            registry = site.portal_registry
            registry["collective.securitybp.zmi_manage_hosts"] = [GUARD_MANAGE]
            registry["collective.securitybp.zmi_mode"] = mode
            if site is not app.plain:
                site.acl_users.userFolderAddUser(
                    "manager", GUARD_PASSWORD, ["Manager"], []
                )
        setSite(portal)


GUARD_FIXTURE = GuardSitesLayer()
GUARD_FUNCTIONAL_TESTING = FunctionalTesting(
    bases=(GUARD_FIXTURE, zope.WSGI_SERVER_FIXTURE),
    name="CollectiveSecuritybpLayer:GuardFunctionalTesting",
)
