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
