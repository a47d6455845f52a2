"""Install and uninstall handlers."""

from AccessControl.Permission import pname
from collective.securitybp import logger
from collective.securitybp.acknowledgements import AcknowledgementStore
from plone import api
from plone.base.interfaces import INonInstallable
from zope.interface import implementer


@implementer(INonInstallable)
class HiddenProfiles:
    def getNonInstallableProfiles(self):
        """Hide the uninstall profile from the add-on control panel."""
        return ["collective.securitybp:uninstall"]


def post_install(context):
    """Post install script."""
    logger.info("collective.securitybp installed.")


PERMISSIONS = (
    "collective.securitybp: View security report",
    "collective.securitybp: Manage security settings",
)


def uninstall(context):
    """Remove what the profiles cannot: acknowledgements and role maps."""
    site = api.portal.get()
    AcknowledgementStore(site).clear()
    for permission in PERMISSIONS:
        attribute = pname(permission)
        if attribute in site.__dict__:
            delattr(site, attribute)
    logger.info("collective.securitybp uninstalled.")
