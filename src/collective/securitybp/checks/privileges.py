"""Privileges: who holds the powerful roles, and how.

Sections "Work with the lowest amount of privileges necessary",
"'Zope Manager' User should not be used for daily work" and "Use dedicated
Plone 'Site Administrator' users".
"""

from collective.securitybp import _
from collective.securitybp import references
from collective.securitybp.checks.base import Check
from collective.securitybp.model import Area
from collective.securitybp.model import Severity
from collective.securitybp.principals import role_holders

SITE_ADMINISTRATOR = "Site Administrator"
MANAGER = "Manager"
GUESSABLE_ADMIN_NAMES = frozenset({"admin"})


def site_local_roles(site):
    """Local roles granted on the site object itself (Sharing at the root)."""
    return dict(getattr(site, "__ac_local_roles__", None) or {})


class NoSiteAdministrator(Check):
    """Nobody holds the Site Administrator role.

    The document asks for a dedicated Site Administrator account as the
    first step on a new site, so that maintenance is not done as a Zope
    Manager. The check looks at global role grants in the site's user
    folder and local grants on the site root, expanding groups (nested ones
    too): a "Site Administrators" group without members does not count.

    Example finding: "No Site Administrator" (high).
    """

    id = "SBP-PRIV-001"
    title = _("No Site Administrator")
    area = Area.PRIVILEGES
    severity = Severity.HIGH
    reference = references.SITE_ADMINISTRATOR

    def run(self, context):
        holders = role_holders(
            context.site.acl_users, SITE_ADMINISTRATOR, site_local_roles(context.site)
        )
        if holders:
            return []
        return [
            self.finding(
                detail=_(
                    "Nobody holds the Site Administrator role on this site, "
                    "directly or through a group. Administration is then done "
                    "with a Manager account, which can do far more than that "
                    "work needs."
                ),
                remediation=_(
                    "In Site Setup > Users and Groups, add a user for "
                    "administration and put it in the 'Site Administrators' "
                    "group (or give it the Site Administrator role). Use it "
                    "only for maintenance; edit content with an account "
                    "without extra roles."
                ),
            )
        ]


class ZopeRootAdmin(Check):
    """The Zope root has a Manager called ``admin``.

    ``admin`` is the first name anybody guessing passwords tries, and a
    Manager at the Zope root can do everything in every site of the
    instance. The check asks the root user folder (a plain User Folder or a
    PluggableAuthService) for a user with that id or login.

    Example finding: "Zope root Manager named 'admin'" (medium).
    """

    id = "SBP-PRIV-002"
    title = _("Zope root Manager named 'admin'")
    area = Area.PRIVILEGES
    severity = Severity.MEDIUM
    reference = references.ZOPE_MANAGER

    def run(self, context):
        user_folder = context.root.acl_users
        findings = []
        for name in sorted(GUESSABLE_ADMIN_NAMES):
            user = user_folder.getUser(name)
            if user is None and hasattr(user_folder, "getUserById"):
                user = user_folder.getUserById(name)
            if user is None or MANAGER not in user.getRoles():
                continue
            findings.append(
                self.finding(
                    subject=name,
                    detail=_(
                        "The Zope root user folder has a user '${name}' with "
                        "the Manager role. It is the first name tried by "
                        "anyone guessing passwords, and this account can do "
                        "everything in every site of this Zope.",
                        mapping={"name": name},
                    ),
                    remediation=_(
                        "At the Zope root (/acl_users in the management "
                        "interface, or the addzopeuser script), create a "
                        "Manager with a name that is hard to guess and a "
                        "strong password, log in with it, and delete "
                        "'${name}'. Use it only to set up sites, never for "
                        "daily work.",
                        mapping={"name": name},
                    ),
                )
            )
        return findings
