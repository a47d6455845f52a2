"""Upgrade steps; each bumps the default profile's version."""

from collective.securitybp.zmi.config import LOOPBACK_NETWORKS
from collective.securitybp.zmi.guard import register_site
from plone import api


TRUSTED_PROXIES = "collective.securitybp.zmi_trusted_proxies"


def upgrade_1002(context):
    """The management guard now believes a manage host only from a trusted
    proxy: an empty list (the old default) becomes the loopback addresses,
    the front proxy on the same machine. The site is recorded among the
    sites with the add-on, so the guard finds it inside folders too."""
    if not api.portal.get_registry_record(TRUSTED_PROXIES, default=None):
        api.portal.set_registry_record(TRUSTED_PROXIES, list(LOOPBACK_NETWORKS))
    register_site(api.portal.get())


LOGIN_DAYS = "collective.securitybp.privileges_login_days"


def upgrade_1003(context):
    """Daily work is judged from the content an account created or changed,
    no longer from its logins: remove the record of login days."""
    registry = api.portal.get_tool("portal_registry")
    if LOGIN_DAYS in registry.records:
        del registry.records[LOGIN_DAYS]
