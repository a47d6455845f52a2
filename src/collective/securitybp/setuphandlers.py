"""Install and uninstall handlers."""

from AccessControl.Permission import pname
from collective.securitybp import logger
from collective.securitybp.acknowledgements import AcknowledgementStore
from collective.securitybp.headers.collector import clear_stores as clear_csp_reports
from collective.securitybp.history import HistoryStore
from collective.securitybp.settings import clear_cache
from collective.securitybp.settings import STAMP_KEY
from collective.securitybp.zmi.evidence import clear as clear_evidence
from collective.securitybp.zmi.guard import register_site
from plone import api
from plone.base.interfaces import INonInstallable
from zope.annotation.interfaces import IAnnotations
from zope.interface import implementer


@implementer(INonInstallable)
class HiddenProfiles:
    def getNonInstallableProfiles(self):
        """Hide the uninstall profile from the add-on control panel."""
        return ["collective.securitybp:uninstall"]


def post_install(context):
    """Record the site among the sites with the add-on, so that the
    management guard finds it wherever it is (see zmi.guard)."""
    register_site(api.portal.get())
    logger.info("collective.securitybp installed.")


PERMISSIONS = (
    "collective.securitybp: View security report",
    "collective.securitybp: Manage security settings",
)
# Roles the default profile adds (rolemap.xml).
ROLES = ("Security Auditor",)


def remove_role(site, role):
    """Remove ``role`` from the site and from Plone's role manager, which also
    takes it away from the users and groups that had it."""
    site.__ac_roles__ = tuple(r for r in site.__ac_roles__ if r != role)
    manager = getattr(site.acl_users, "portal_role_manager", None)
    if manager is not None and role in getattr(manager, "_roles", {}):
        manager.removeRole(role)


def uninstall(context):
    """Remove what the profiles cannot: acknowledgements and role maps."""
    site = api.portal.get()
    AcknowledgementStore(site).clear()
    HistoryStore(site).clear()
    annotations = IAnnotations(site)
    if STAMP_KEY in annotations:
        del annotations[STAMP_KEY]
    clear_cache()
    clear_csp_reports(site)
    clear_evidence()
    register_site(site, installed=False)
    for permission in PERMISSIONS:
        attribute = pname(permission)
        if attribute in site.__dict__:
            delattr(site, attribute)
    for role in ROLES:
        remove_role(site, role)
    logger.info("collective.securitybp uninstalled.")
