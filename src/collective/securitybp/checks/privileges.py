"""Privileges: who holds the powerful roles, how, and what they do with them.

Sections "Work with the lowest amount of privileges necessary",
"'Zope Manager' User should not be used for daily work" and "Use dedicated
Plone 'Site Administrator' users".

Everything here reads stored data directly: the ZODB plugins of the user
folders (see :mod:`collective.securitybp.principals`), the catalog's
indexes and metadata, the member data tool's storage, and the
role-permission settings of the site and Zope roots. Nothing enumerates
users through PAS, nothing authenticates, nothing writes.
"""

from AccessControl.PermissionRole import rolesForPermissionOn
from Acquisition import aq_base
from AuthEncoding.AuthEncoding import pw_validate
from collective.securitybp import _
from collective.securitybp import logger
from collective.securitybp import references
from collective.securitybp.checks.base import Check
from collective.securitybp.model import Area
from collective.securitybp.model import Severity
from collective.securitybp.principals import AUTHENTICATED_GROUP
from collective.securitybp.principals import Directory
from collective.securitybp.settings import get_settings
from DateTime import DateTime
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from io import BytesIO
from persistent.TimeStamp import TimeStamp
from plone.registry.interfaces import IRegistry
from Products.CMFCore.indexing import processQueue
from Products.CMFCore.utils import getToolByName
from types import MappingProxyType
from ZODB._compat import PersistentUnpickler
from ZODB.utils import z64
from zope.component import queryUtility
from zope.i18nmessageid import Message


SITE_ADMINISTRATOR = "Site Administrator"
USERS_SETTINGS = "@@usergroup-userprefs"
GROUPS_SETTINGS = "@@usergroup-groupprefs"
SITE_ADMINS_GROUP = "@@usergroup-groupmembership?groupname=Site%20Administrators"
MANAGER = "Manager"
PRIVILEGED_ROLES = frozenset({MANAGER, SITE_ADMINISTRATOR})
GUESSABLE_ADMIN_NAMES = frozenset({"admin"})
# More Zope root Managers than this: one to work with, one spare.
MAX_ROOT_MANAGERS = 2
# Paths listed in one finding; the total is always given.
MAX_LISTED = 20
# Roles the virtual group of logged-in users may hold without harm.
HARMLESS_GROUP_ROLES = frozenset({"Member", "Authenticated"})
# Roles every visitor or every user has: powerful permissions granted to
# them are granted to everybody.
EVERYBODY_ROLES = ("Anonymous", "Authenticated", "Member")
# Severity of each risky permission when anyone on the internet holds it
# (Anonymous, or every user while anyone may register); held by logged-in
# users only, a grant is one step lower (LOWER).
RISKY_PERMISSIONS = MappingProxyType(
    {
        "Manage portal": Severity.CRITICAL,
        "Manage users": Severity.CRITICAL,
        "View management screens": Severity.CRITICAL,
        "Change permissions": Severity.CRITICAL,
        "Change local roles": Severity.CRITICAL,
        "Delegate Manager role": Severity.CRITICAL,
        "Modify portal content": Severity.CRITICAL,
        "Portlets: Manage portlets": Severity.CRITICAL,
        "Manage properties": Severity.HIGH,
        "Add portal member": Severity.HIGH,
    }
)
LOWER = MappingProxyType(
    {
        Severity.CRITICAL: Severity.HIGH,
        Severity.HIGH: Severity.MEDIUM,
        Severity.MEDIUM: Severity.LOW,
        Severity.LOW: Severity.LOW,
        Severity.INFO: Severity.INFO,
    }
)
# Every permission whose name starts with one of these is risky.
RISKY_PERMISSION_PREFIXES = MappingProxyType({"Plone Site Setup: ": Severity.CRITICAL})
# Granted to Anonymous on purpose when self-registration is on.
SELF_REGISTRATION_PERMISSION = "Add portal member"
SELF_REGISTRATION_RECORD = "plone.enable_self_reg"
# Tried against the stored hash of each privileged account, after the
# account's own login and id (and their reverse).
WEAK_PASSWORDS = (
    "",
    "admin",
    "administrator",
    "manager",
    "password",
    "passw0rd",
    "plone",
    "zope",
    "secret",
    "changeme",
    "welcome",
    "letmein",
    "qwerty",
    "123456",
    "12345678",
    "123456789",
    "admin123",
)
# An account whose stored password, roles or groups changed this recently
# is new (or newly maintained): not dormant yet. The user folders do not
# record when an account was created; the last change of the stored
# records that hold it stands for that.
NEW_ACCOUNT_GRACE = timedelta(days=7)
# Records of the ZODB user sources that hold an account, by attribute.
ACCOUNT_RECORDS = ("_user_passwords", "_principal_roles", "_principal_groups")
# Most recently modified items whose last version is read, for evidence
# of daily work.
MAX_CHANGED_ITEMS = 200
# Plone's "never logged in" value of login_time is 2000/01/01.
NEVER_LOGGED_IN_BEFORE = DateTime("2000/01/02 UTC").asdatetime()
# Content created this soon after the site root came with the site itself:
# creating sites is what the Zope Manager is for.
SITE_SETUP = timedelta(minutes=10)
DAY_SETTINGS = MappingProxyType(
    {
        "privileges_daily_work_days": 30,
        "privileges_dormant_days": 180,
    }
)


def site_local_roles(site):
    """Local roles granted on the site object itself (Sharing at the root)."""
    return local_roles_of(site)


def local_roles_of(obj):
    """The ``{principal_id: roles}`` stored on ``obj`` (not acquired)."""
    roles = getattr(aq_base(obj), "__ac_local_roles__", None)
    if callable(roles):
        roles = roles()
    return dict(roles or {})


def days_setting(context, name):
    """A day count of :data:`DAY_SETTINGS` from the cached settings; its
    default when the record is missing or broken."""
    value = get_settings(context.site).get(name)
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return DAY_SETTINGS[name]


def self_registration(site):
    """True when the site lets visitors register themselves."""
    registry = queryUtility(IRegistry, context=site)
    try:
        return bool(registry.get(SELF_REGISTRATION_RECORD, False))
    except Exception:
        return False


def printable(value, limit=100):
    """``value`` safe to show on a terminal too: control characters and
    other invisible ones escaped, and at most ``limit`` characters."""
    value = "".join(
        char if char.isprintable() else f"\\u{ord(char):04x}" for char in str(value)
    )
    return value if len(value) <= limit else value[: limit - 1] + "\u2026"


def name_of(directory, principal_id):
    """``id (title)`` of a user or group, or the id alone; printable."""
    title = directory.title(principal_id)
    if title and title != principal_id:
        return f"{printable(principal_id)} ({printable(title)})"
    return printable(principal_id)


def how(directory, principal_id, path, role, local_roles, root=False):
    """How a principal got ``role``: a message saying directly, by a local
    role on the site (or Zope) root, or through which groups; the first
    group holds the role, each next one is a member of the one before."""
    if path:
        groups = " \u2192 ".join(name_of(directory, group) for group in path)
        return _("through the group ${groups}", mapping={"groups": groups})
    if role not in directory.roles.get(principal_id, ()) and role in local_roles.get(
        principal_id, ()
    ):
        if root:
            return _("by a local role on the Zope root")
        return _("by a local role on the site root")
    return _("directly")


def joined(items, separator="; "):
    """One message of ``items`` (texts or messages) joined by ``separator``;
    messages among them stay translatable."""
    keys = [f"item{index}" for index in range(len(items))]
    return Message(
        separator.join(f"${{{key}}}" for key in keys),
        domain="collective.securitybp",
        mapping=dict(zip(keys, items, strict=True)),
    )


def place_of(places):
    """Where an account holds its role, as a message."""
    if tuple(places) == ("root",):
        return _("at the Zope root")
    if tuple(places) == ("site",):
        return _("on this site")
    return _("on this site and at the Zope root")


def as_datetime(value):
    """A stored login time as an aware datetime; None for never or junk."""
    if value is None:
        return None
    try:
        if not isinstance(value, DateTime):
            value = DateTime(value)
        moment = value.asdatetime()
    except Exception:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    if moment < NEVER_LOGGED_IN_BEFORE:
        return None
    return moment


def day(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d")


def last_change(tree, key, now):
    """When the stored record of ``tree`` that holds ``key`` last changed,
    as an aware datetime; None when ``key`` is not in it.

    A BTree keeps its keys in buckets, each a record of its own (or inline
    in the tree while it is small): the serial of that record is the time
    of the transaction that last changed it. A record changed in the
    current transaction counts as changed at ``now``.
    """
    try:
        if tree is None or key not in tree:
            return None
    except TypeError:
        return None
    holder = tree
    bucket = getattr(tree, "_firstbucket", None)
    while bucket is not None:
        if bucket._p_oid is None:
            break  # inline in the tree
        if key in bucket:
            holder = bucket
            break
        bucket = bucket._next
    if getattr(holder, "_p_changed", False) or not getattr(holder, "_p_jar", None):
        return now
    serial = getattr(holder, "_p_serial", None)
    if not serial or serial == z64:
        return None
    return datetime.fromtimestamp(TimeStamp(serial).timeTime(), timezone.utc)


def account_changed(user_folder, user_id, now):
    """The last change of the records holding ``user_id`` in the ZODB
    user sources of ``user_folder`` (password, roles, groups), or None."""
    found = []
    for plugin in user_folder.objectValues():
        for name in ACCOUNT_RECORDS:
            moment = last_change(getattr(aq_base(plugin), name, None), user_id, now)
            if moment is not None:
                found.append(moment)
    return max(found, default=None)


def site_created(site):
    """When the site root was created, as an aware datetime, or None."""
    try:
        return as_datetime(site.created())
    except Exception:
        return None


class Account:
    """A user holding Manager or Site Administrator, on the site, at the
    Zope root, or both under one id."""

    def __init__(self, user_id, role, places):
        self.user_id = user_id
        self.role = role  # MANAGER, or SITE_ADMINISTRATOR when not a Manager
        self.places = places  # ("site",), ("root",) or ("site", "root")

    def __repr__(self):
        return f"<Account {self.user_id} {self.role} {self.places}>"


class Survey:
    """Who holds the powerful roles, read once per audit.

    :param context: the :class:`collective.securitybp.audit.AuditContext`.
    """

    def __init__(self, context):
        # Not the context itself: :func:`survey` forgets a survey when its
        # context goes away, which a reference from here would prevent.
        self.portal, self.now = context.site, context.now
        site, root = context.site, context.root
        self.site_local = site_local_roles(site)
        self.root_local = local_roles_of(root)
        self.site = Directory(site.acl_users)
        self.root = Directory(root.acl_users)
        self.site_managers, self.unknown_managers = self.site.grants(
            MANAGER, self.site_local
        )
        self.site_admins = self.site.holders(SITE_ADMINISTRATOR, self.site_local)
        self.root_managers = self.root.holders(MANAGER, self.root_local)
        self.root_managers.pop(AUTHENTICATED_GROUP, None)  # no such group there
        # Local roles on the site root may name Zope root users: not unknown.
        self.unknown_managers = {
            principal_id: path
            for principal_id, path in self.unknown_managers.items()
            if not self.root.exists(principal_id)
        }
        self._created = {}
        self._accounts = None

    def directory(self, place):
        return self.site if place == "site" else self.root

    def accounts(self):
        """Every privileged account, Managers first, then by id."""
        if self._accounts is None:
            on_site = set(self.site_managers) | set(self.site_admins)
            on_site.discard(AUTHENTICATED_GROUP)
            at_root = set(self.root_managers)
            result = []
            for user_id in on_site | at_root:
                manager = user_id in self.site_managers or user_id in at_root
                places = ("site",) if user_id in on_site else ()
                places += ("root",) if user_id in at_root else ()
                role = MANAGER if manager else SITE_ADMINISTRATOR
                result.append(Account(user_id, role, places))
            result.sort(key=lambda account: (account.role != MANAGER, account.user_id))
            self._accounts = result
        return self._accounts

    def name(self, account):
        return name_of(self.directory(account.places[0]), account.user_id)

    def login_times(self, account):
        """``(last, previous)`` login of an account as aware datetimes (or
        None), the latest of the places it has an account in."""
        found = []
        for place in account.places:
            if place == "site":
                stored = self.site.login_times(account.user_id)
            else:  # Zope root users keep Plone member data in the tool
                tool = getToolByName(self.portal, "portal_memberdata", None)
                data = getattr(tool, "_members", {}).get(account.user_id)
                stored = (
                    getattr(data, "login_time", None),
                    getattr(data, "last_login_time", None),
                )
            found.append(tuple(as_datetime(value) for value in stored))
        known = [pair for pair in found if pair[0] is not None]
        if not known:
            return None, None
        return max(known, key=lambda pair: pair[0])

    def worked(self, days):
        """``{user_id: (count, latest)}`` of content privileged accounts
        created or changed in the last ``days`` days.

        Created: the catalog's ``Creator`` and ``created`` indexes (one
        query). Changed: Plone does not record who edited an item in the
        item or the catalog; its versioning (CMFEditions) records who saved
        each version. Of the :data:`MAX_CHANGED_ITEMS` items modified most
        recently in the window (the site root left out: setup and site-wide
        settings change it), the last saved version of each is read from
        the histories storage, without creating anything there.
        """
        if days not in self._created:
            user_ids = {account.user_id for account in self.accounts()}
            result = {}
            catalog = getToolByName(self.portal, "portal_catalog", None)
            if user_ids and catalog is not None:
                since = self.now - timedelta(days=days)
                setup = site_created(self.portal)
                if setup is not None:
                    since = max(since, setup + SITE_SETUP)
                since = DateTime(since)
                items = {}  # (user_id, path) -> when
                for brain in catalog.unrestrictedSearchResults(
                    Creator=sorted(user_ids), created={"query": since, "range": "min"}
                ):
                    items[brain.Creator, brain.getPath()] = brain.created
                root = "/".join(self.portal.getPhysicalPath())
                brains = catalog.unrestrictedSearchResults(
                    modified={"query": since, "range": "min"},
                    sort_on="modified",
                    sort_order="reverse",
                    sort_limit=MAX_CHANGED_ITEMS,
                )[:MAX_CHANGED_ITEMS]
                for brain in brains:
                    if brain.getPath() == root:
                        continue
                    principal, when = last_version(self.portal, brain)
                    if principal in user_ids and when is not None and when >= since:
                        key = (principal, brain.getPath())
                        items[key] = max(when, items.get(key, when))
                for (user_id, _path), when in items.items():
                    count, latest = result.get(user_id, (0, None))
                    if isinstance(when, DateTime) and (latest is None or when > latest):
                        latest = when
                    result[user_id] = (count + 1, latest)
            self._created[days] = result
        return self._created[days]


def last_version(site, brain):
    """``(principal, DateTime)`` of the last version CMFEditions saved of
    the item of ``brain``; ``(None, None)`` when it has none. Reads only:
    the storage's lookups that would add a missing history are avoided."""
    handler = getToolByName(site, "portal_historyidhandler", None)
    storage = getToolByName(site, "portal_historiesstorage", None)
    if handler is None or storage is None:
        return None, None
    try:
        obj = brain._unrestrictedGetObject()
        history_id = handler.queryUid(obj, None)
        shadow = storage._getShadowStorage(autoAdd=False)
        if history_id is None or shadow is None:
            return None, None
        history = shadow.getHistory(history_id, autoAdd=False)
        if history is None:
            return None, None
        for version in range(history.getLength(countPurged=True) - 1, -1, -1):
            data = history.retrieve(version)
            if data is None:
                continue
            metadata = data["metadata"]["sys_metadata"]
            return metadata.get("principal"), DateTime(metadata.get("timestamp"))
    except Exception:  # a broken history is no evidence
        logger.debug("Cannot read the history of %s", brain.getPath(), exc_info=True)
    return None, None


def survey(context):
    """The :class:`Survey` of an audit, read once for all of its checks."""
    return context.shared("privileges.survey", Survey)


class NoSiteAdministrator(Check):
    """Nobody holds the Site Administrator role.

    The document asks for a dedicated Site Administrator account as the
    first step on a new site, so that maintenance is not done as a Zope
    Manager. The check looks at global role grants in the site's user
    folder and local grants on the site root, expanding groups (nested ones
    too): a "Site Administrators" group without members does not count.

    Hygiene (low): nothing is exposed by it, but the Manager account then
    does work a smaller role could do.

    Example finding: "No Site Administrator" (low).
    """

    id = "SBP-PRIV-001"
    title = _("No Site Administrator")
    area = Area.PRIVILEGES
    severity = Severity.LOW
    reference = references.SITE_ADMINISTRATOR

    def run(self, context):
        if survey(context).site_admins:
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
                links=[
                    (_("Users and Groups"), USERS_SETTINGS),
                    (_("Members of 'Site Administrators'"), SITE_ADMINS_GROUP),
                ],
            )
        ]


class ZopeRootAdmin(Check):
    """The Zope root has a Manager called ``admin``.

    ``admin`` is the first name anybody guessing passwords tries, and a
    Manager at the Zope root can do everything in every site of the
    instance. The check asks the root user folder (a plain User Folder or a
    PluggableAuthService) for a user with that id or login.

    Hygiene (low): a guessable name is only half of a login; a weak
    password is SBP-PRIV-009 (critical).

    Example finding: "Zope root Manager named 'admin'" (low).
    """

    id = "SBP-PRIV-002"
    title = _("Zope root Manager named 'admin'")
    area = Area.PRIVILEGES
    severity = Severity.LOW
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


class ZopeRootManagers(Check):
    """More than two principals are Managers at the Zope root.

    A Manager at the Zope root can do everything in every site of the
    instance, including the management interface, which has no protection
    against cross-site request forgery. The role is for setting up sites;
    one account for that and a spare are enough. The check reads the root
    user folder (a plain User Folder or a PluggableAuthService, whose
    groups it expands) and local roles on the Zope root, and lists every
    Manager with how it got the role. SBP-PRIV-002 looks at the name
    ``admin`` separately.

    Example finding: "More than two Zope root Managers" (medium): "The
    Zope root gives the Manager role to 3 users: admin directly; ops1
    directly; ops2 by a local role on the Zope root. ..."
    """

    id = "SBP-PRIV-003"
    title = _("More than two Zope root Managers")
    area = Area.PRIVILEGES
    severity = Severity.MEDIUM
    reference = references.ZOPE_MANAGER

    def run(self, context):
        found = survey(context)
        managers = found.root_managers
        if len(managers) <= MAX_ROOT_MANAGERS:
            return []
        listed = joined(
            [
                _(
                    "${name} ${how}",
                    mapping={
                        "name": name_of(found.root, user_id),
                        "how": how(
                            found.root, user_id, path, MANAGER, found.root_local, True
                        ),
                    },
                )
                for user_id, path in sorted(managers.items())
            ]
        )
        return [
            self.finding(
                subject="/",
                detail=_(
                    "The Zope root gives the Manager role to ${count} users: "
                    "${managers}. The Zope Manager role is for setting up "
                    "sites, not for daily work, and each of these accounts "
                    "can do everything in every site of this Zope.",
                    mapping={"count": len(managers), "managers": listed},
                ),
                remediation=_(
                    "Keep at most ${max} Zope root Managers (one and a spare). "
                    "Remove the others in the management interface at "
                    "/acl_users (users and roles) and give the people behind "
                    "them Site Administrator accounts in the sites they "
                    "look after.",
                    mapping={"max": MAX_ROOT_MANAGERS},
                ),
            )
        ]


class SiteManagers(Check):
    """Who holds Manager on the site, and how they got it.

    Lists, as information, every user holding the Manager role on the site:
    granted globally in the site's user folder or locally on the site root,
    directly or through groups (nested groups expanded), with the path by
    which the role came ("through the group Staff -> Administrators": Staff
    holds the role, Administrators is a member of Staff, the user a member
    of Administrators). Zope root Managers are counted by SBP-PRIV-003.

    It also reports any global role other than Member that the virtual
    group "Logged-in users" (``AuthenticatedUsers``) holds, directly or
    through a group it was put in: everybody who logs in gets that role.
    High; critical when self-registration is on, because then anyone can
    create an account and so give themselves the role (the finding says
    so). And a Manager role granted to an id that is no user or group of
    the site: whoever gets an account with that id later becomes a Manager.
    Medium; critical when self-registration is on (anyone can register
    that id).

    Example findings: "Manager on the site" (info): "alice (Alice Smith)
    holds the Manager role on this site through the group Administrators.";
    "Logged-in users hold a global role" (critical).

    It cannot see roles that add-ons compute at run time (local role
    adapters, LDAP role mappings); it reads the stored grants.
    """

    id = "SBP-PRIV-004"
    title = _("Manager on the site")
    area = Area.PRIVILEGES
    severity = Severity.INFO
    cases = {
        "logged-in users hold a role, anyone may register": Severity.CRITICAL,
        "logged-in users hold a role": Severity.HIGH,
        "Manager of an unknown id, anyone may register": Severity.CRITICAL,
        "Manager of an unknown id": Severity.MEDIUM,
    }
    reference = references.LOWEST_PRIVILEGES

    def run(self, context):
        found = survey(context)
        directory = found.site
        findings = []
        open_registration = self_registration(context.site)
        roles = {
            role: path
            for role, path in directory.global_roles(AUTHENTICATED_GROUP).items()
            if role not in HARMLESS_GROUP_ROLES
        }
        if roles:
            if open_registration:
                case = "logged-in users hold a role, anyone may register"
                chain = _(
                    "Self-registration is on, so anyone can create an account "
                    "and make themselves ${roles}.",
                    mapping={"roles": ", ".join(sorted(roles))},
                )
            else:
                case, chain = "logged-in users hold a role", ""
            listed = joined(
                [
                    _(
                        "${role} ${how}",
                        mapping={
                            "role": printable(role),
                            "how": how(directory, AUTHENTICATED_GROUP, path, role, {}),
                        },
                    )
                    for role, path in sorted(roles.items())
                ]
            )
            findings.append(
                self.finding(
                    subject=AUTHENTICATED_GROUP,
                    case=case,
                    title=_("Logged-in users hold a global role"),
                    detail=_(
                        "The virtual group 'Logged-in users' "
                        "(AuthenticatedUsers) holds these global roles: "
                        "${roles}. Everybody who logs in gets them. ${chain}",
                        mapping={"roles": listed, "chain": chain},
                    ),
                    links=[(_("Groups"), GROUPS_SETTINGS)],
                    remediation=_(
                        "In Site Setup > Groups, open 'Logged-in users' and "
                        "untick every role but Member (and take the group "
                        "out of any group it was added to). Give the roles "
                        "to a dedicated group with only the people who need "
                        "them."
                    ),
                )
            )
        for user_id, path in sorted(found.site_managers.items()):
            if user_id == AUTHENTICATED_GROUP:
                continue
            findings.append(
                self.finding(
                    subject=user_id,
                    detail=_(
                        "${name} holds the Manager role on this site ${how}.",
                        mapping={
                            "name": name_of(directory, user_id),
                            "how": how(
                                directory, user_id, path, MANAGER, found.site_local
                            ),
                        },
                    ),
                    remediation=_(
                        "Check that this person needs full control of the "
                        "site. Site maintenance needs only Site Administrator; "
                        "take the Manager role away in Site Setup > Users and "
                        "Groups otherwise."
                    ),
                )
            )
        for principal_id, path in sorted(found.unknown_managers.items()):
            findings.append(
                self.finding(
                    subject=principal_id,
                    case=(
                        "Manager of an unknown id, anyone may register"
                        if open_registration
                        else "Manager of an unknown id"
                    ),
                    title=_("Manager granted to an unknown principal"),
                    detail=_(
                        "The Manager role is granted to '${name}' ${how}, but "
                        "the site's user and group sources have no such user "
                        "or group (a deleted account, or one of another "
                        "source). Whoever gets an account with this id later "
                        "becomes a Manager.",
                        mapping={
                            "name": printable(principal_id),
                            "how": how(
                                directory,
                                principal_id,
                                path,
                                MANAGER,
                                found.site_local,
                            ),
                        },
                    ),
                    remediation=_(
                        "Remove the grant: in the management interface at "
                        "/acl_users/portal_role_manager (or the site root's "
                        "local roles, or the group's members) for "
                        "'${name}'.",
                        mapping={"name": printable(principal_id)},
                    ),
                )
            )
        return findings


class DailyWork(Check):
    """Shared evidence of daily work; subclasses say for which role."""

    role = None

    def evidence(self, context, found, account):
        """A message with what shows daily work, or None."""
        days = days_setting(context, "privileges_daily_work_days")
        count, latest = found.worked(days).get(account.user_id, (0, None))
        if not count:
            return None
        return _(
            "created or changed ${count} item(s) in the last ${days} days, "
            "the latest on ${date}",
            mapping={
                "count": count,
                "days": days,
                "date": day(latest.asdatetime()) if latest else "?",
            },
        )

    def run(self, context):
        found = survey(context)
        findings = []
        for account in found.accounts():
            if account.role != self.role:
                continue
            evidence = self.evidence(context, found, account)
            if evidence is None:
                continue
            findings.append(
                self.finding(
                    subject=account.user_id,
                    detail=self.detail(found.name(account), account, evidence),
                    remediation=self.remediation(found.name(account)),
                )
            )
        return findings


class ManagerDailyWork(DailyWork):
    """A Manager account is used for daily work.

    A Manager (of the site or of the Zope root) should log in only when a
    task needs that role, and log out afterwards. The check takes as
    evidence of daily work that the account created or changed content in
    the last 30 days (a setting): items it created (the catalog's
    ``Creator`` and ``created`` indexes, so the first creator of each item
    counts), and items whose last version it saved (Plone's versioning
    records who saved each version; the 200 most recently modified items
    are looked at). Logins are not evidence: logging in to do a task is
    what the role is for.

    What the evidence cannot see: edits of content types without
    versioning, and edits older than the last saved version; a Zope root
    user and a site user with the same id share the catalog's creator.
    Default content created with a new site counts as created by whoever
    created the site only after its first ten minutes.

    Example finding: "Manager account used for daily work" (high): "alice
    holds the Manager role on this site and is used for daily work: created
    or changed 12 item(s) in the last 30 days, the latest on 2026-11-20."
    """

    id = "SBP-PRIV-005"
    title = _("Manager account used for daily work")
    area = Area.PRIVILEGES
    severity = Severity.HIGH
    reference = references.ZOPE_MANAGER
    role = MANAGER

    def detail(self, name, account, evidence):
        return _(
            "${name} holds the Manager role ${where} and is used for daily "
            "work: ${evidence}.",
            mapping={
                "name": name,
                "where": place_of(account.places),
                "evidence": evidence,
            },
        )

    def remediation(self, name):
        return _(
            "Give the person behind ${name} a second account without extra "
            "roles for daily editing, and use the Manager account only when a "
            "task needs it; log out afterwards.",
            mapping={"name": name},
        )


class SiteAdministratorDailyWork(DailyWork):
    """A Site Administrator account is used for daily editing.

    "Your daily content-editing account should not have extra privileges."
    The evidence is the same as SBP-PRIV-005's (content created or changed
    in the last 30 days, not logins), for users that hold Site
    Administrator but not Manager, and it has the same blind spots.

    Example finding: "Site Administrator account used for daily editing"
    (medium).
    """

    id = "SBP-PRIV-006"
    title = _("Site Administrator account used for daily editing")
    area = Area.PRIVILEGES
    severity = Severity.MEDIUM
    reference = references.SITE_ADMINISTRATOR
    role = SITE_ADMINISTRATOR

    def detail(self, name, account, evidence):
        return _(
            "${name} is a Site Administrator and is used for daily editing: "
            "${evidence}. Your daily content-editing account should not have "
            "extra privileges.",
            mapping={"name": name, "evidence": evidence},
        )

    def remediation(self, name):
        return _(
            "Give the person behind ${name} a second account for editing "
            "(with Editor or Contributor where needed) and use the Site "
            "Administrator account only for maintenance.",
            mapping={"name": name},
        )


def risky_permissions(place):
    """``{permission: severity}`` of the risky permissions known at
    ``place``: the fixed ones, and those matching a risky prefix."""
    result = dict(RISKY_PERMISSIONS)
    try:
        known = [entry[0] for entry in place.ac_inherited_permissions(1)]
    except Exception:
        known = []
    for name in known:
        for prefix, severity in RISKY_PERMISSION_PREFIXES.items():
            if name.startswith(prefix):
                result.setdefault(name, severity)
    return result


def roles_with(permission, place):
    """The roles that have ``permission`` on ``place``; empty when that
    cannot be read (an unknown name gives Zope's default, Manager only)."""
    try:
        roles = rolesForPermissionOn(permission, place)
    except Exception:
        logger.warning("Cannot read the roles of %r; skipping it.", permission)
        return frozenset()
    if isinstance(roles, str):
        roles = (roles,)
    return frozenset(roles or ())


class RiskyPermissions(Check):
    """Powerful permissions granted to everybody on the site or Zope root.

    Anonymous (every visitor), Authenticated and Member (every user) must
    not hold permissions that change content, users, security or settings.
    The check reads the role-permission settings of the site root and the
    Zope root (what the Security tab of the management interface shows,
    acquired settings included) for Modify portal content, Manage portal,
    Manage users, View management screens, Change permissions, Change local
    roles, Manage properties, Delegate Manager role, every "Plone Site
    Setup: ..." permission, Portlets: Manage portlets, and Add portal
    member (only when self-registration is off: with it on, visitors need
    it). A grant on the Zope root is reported there, not again on the site.
    It also reports the roles the virtual group "Logged-in users" holds
    locally on the site root (the Sharing tab) when they carry one of those
    permissions; its global roles are SBP-PRIV-004's. Permissions unknown
    to this Zope are skipped.

    The severity depends on who holds the permission. Held by Anonymous,
    or by every user while self-registration is on (anyone can register
    and get it), it is critical for the permissions that change content,
    users, security, portlets or settings, and high for Manage properties
    and Add portal member. Held by logged-in users only, each is one step
    lower: a logged-in user is needed. The finding says when
    self-registration opens a grant to everyone.

    Example finding: "Powerful permission granted to everybody" (critical):
    "On the site root (/plone), Anonymous has: Manage portal, Modify portal
    content."
    """

    id = "SBP-PRIV-007"
    title = _("Powerful permission granted to everybody")
    area = Area.PRIVILEGES
    severity = Severity.CRITICAL
    cases = {
        "anyone, lesser permissions": Severity.HIGH,
        "logged-in users only": Severity.HIGH,
        "logged-in users only, lesser permissions": Severity.MEDIUM,
    }
    reference = references.LOWEST_PRIVILEGES

    def grants(self, place, skip=frozenset()):
        """``{principal: {permission: severity}}`` of risky grants on
        ``place`` to the roles every user has, minus ``skip`` pairs."""
        result = {}
        for permission, severity in sorted(risky_permissions(place).items()):
            roles = roles_with(permission, place)
            for role in EVERYBODY_ROLES:
                if role in roles and (role, permission) not in skip:
                    result.setdefault(role, {})[permission] = severity
        return result

    def run(self, context):
        site, root = context.site, context.root
        site_path = "/".join(site.getPhysicalPath())
        root_grants = self.grants(
            root,
            skip={(role, SELF_REGISTRATION_PERMISSION) for role in EVERYBODY_ROLES},
        )
        skip = {
            (role, permission)
            for role, permissions in root_grants.items()
            for permission in permissions
        }
        if self_registration(site):
            skip.update(
                (role, SELF_REGISTRATION_PERMISSION) for role in EVERYBODY_ROLES
            )
        site_grants = self.grants(site, skip)
        group_roles = set(survey(context).site_local.get(AUTHENTICATED_GROUP, ()))
        group_roles -= HARMLESS_GROUP_ROLES
        if group_roles:
            for permission, severity in sorted(risky_permissions(site).items()):
                if permission == SELF_REGISTRATION_PERMISSION:
                    continue
                if group_roles & roles_with(permission, site):
                    site_grants.setdefault(AUTHENTICATED_GROUP, {})[permission] = (
                        severity
                    )
        open_registration = self_registration(site)
        findings = []
        for path, where, grants in (
            ("/", _("the Zope root"), root_grants),
            (
                site_path,
                _("the site root (${path})", mapping={"path": site_path}),
                site_grants,
            ),
        ):
            for principal, permissions in sorted(grants.items()):
                findings.append(
                    self.grant_finding(
                        path, where, principal, permissions, open_registration
                    )
                )
        return findings

    def grant_finding(self, path, where, principal, permissions, open_registration):
        names = ", ".join(sorted(permissions))
        anyone = principal == "Anonymous" or open_registration
        severity = max(permissions.values())
        if not anyone:
            severity = LOWER[severity]
        if principal == "Anonymous":
            everybody = _("Every visitor has this role, logged in or not.")
        elif open_registration:
            everybody = _(
                "Every user who logs in has this role, and self-registration "
                "is on: anyone can create an account and get these permissions."
            )
        else:
            everybody = _("Every user who logs in has this role.")
        if principal == AUTHENTICATED_GROUP:
            who = _("the group 'Logged-in users' (by its local roles)")
            everybody = (
                _(
                    "Every user who logs in is in this group, and "
                    "self-registration is on: anyone can create an account "
                    "and get these permissions."
                )
                if open_registration
                else _("Every user who logs in is in this group.")
            )
            remediation = _(
                "Open the Sharing tab of the site root and take every role "
                "away from 'Logged-in users'; give the roles to a group of "
                "the people who need them instead."
            )
        else:
            who = principal
            remediation = _(
                "In the management interface, open ${path}/manage_access "
                "(the Security tab) and untick ${role} for these "
                "permissions, or reinstall the workflow and role map "
                "settings of the site (portal_setup: 'rolemap' and "
                "'workflow' steps) if they were changed by mistake.",
                mapping={"path": "" if path == "/" else path, "role": principal},
            )
        return self.finding(
            subject=f"{principal} on {path}",
            severity=severity,
            detail=_(
                "On ${where}, ${who} has: ${permissions}. ${everybody}",
                mapping={
                    "where": where,
                    "who": who,
                    "permissions": names,
                    "everybody": everybody,
                },
            ),
            remediation=remediation,
        )


class _Opaque:
    """Stands for every object in a stored state that is not plain data."""

    def __init__(self, *args, **kw):
        pass

    def __setstate__(self, state):
        pass


class _Reference:
    """Stands for a reference to another persistent object."""

    def __init__(self, reference):
        self.reference = reference


def _opaque_class(module, name):
    return _Opaque


def _plain_local_roles(roles):
    """``roles`` when it is ``{str: [str]}`` (or empty), else None."""
    if roles is None:
        return {}
    if type(roles) is not dict:
        return None
    for principal_id, granted in roles.items():
        if not isinstance(principal_id, str) or not isinstance(granted, list | tuple):
            return None
        if not all(isinstance(role, str) for role in granted):
            return None
    return roles


def stored_local_roles(obj):
    """The local roles stored for a ghost, read from its record as plain
    data: the object stays a ghost, nothing else in the record is built.

    :returns: ``{principal_id: roles}``, or None when that cannot be told
        from the record alone (the caller then loads the object).
    """
    try:
        data, _serial = obj._p_jar._storage.load(obj._p_oid)
        unpickler = PersistentUnpickler(_opaque_class, _Reference, BytesIO(data))
        unpickler.load()  # the class
        state = unpickler.load()
    except Exception:
        return None
    if isinstance(state, tuple):  # (dict, slots)
        state = state[0] if state else None
    if not isinstance(state, dict):
        return None
    return _plain_local_roles(state.get("__ac_local_roles__"))


def local_grants(site, roles):
    """Local grants of ``roles`` on catalogued content below ``site``.

    There is no index of local roles: the catalog's ``allowedRolesAndUsers``
    says who may view, not with which role, so a local Manager grant looks
    just like a Reader grant there. This reads ``__ac_local_roles__`` of
    every catalogued object below the site, resolving the catalog's paths
    through their parents (no traversal, no security checks, no brains).
    Containers are loaded (their children are reached through them) and
    turned back into ghosts at the end if they were ghosts. Every other
    object that is a ghost stays one: its stored record is read and
    unpickled with every class replaced by a stand-in, so only plain data
    is built (no DateTime, no rich text, nothing enters the object cache).
    The cost is one storage load per object (about 0.03 ms from a local
    FileStorage's cache, a round trip with ZEO or RelStorage without a warm
    client cache) plus one load per container.

    :param site: the Plone site.
    :param roles: the role ids to look for.
    :returns: ``[(path, principal_id, roles)]`` sorted by path.
    """
    catalog = getToolByName(site, "portal_catalog", None)
    if catalog is None:
        return []
    # Index what this transaction changed first, as every catalog search
    # does (nothing to do in a request that changed nothing).
    processQueue()
    roles = frozenset(roles)
    site_path = "/".join(site.getPhysicalPath())
    containers = {site_path: aq_base(site)}
    was_ghost = []

    def child(parent, name):
        get = getattr(parent, "_getOb", None)
        if get is None:
            return None
        try:
            found = get(name, None)
        except Exception:
            return None
        return None if found is None else aq_base(found)

    def container(path):
        if path not in containers:
            parent_path, _sep, name = path.rpartition("/")
            parent = container(parent_path)
            found = None if parent is None else child(parent, name)
            if getattr(found, "_p_changed", False) is None:
                was_ghost.append(found)
            containers[path] = found
        return containers[path]

    result = []
    paths = catalog._catalog.uids.keys(
        site_path + "/", site_path + "0", excludemax=True
    )
    for path in paths:
        parent_path, _sep, name = path.rpartition("/")
        parent = container(parent_path)
        obj = None if parent is None else child(parent, name)
        if obj is None:
            continue
        local = None
        if getattr(obj, "_p_changed", False) is None:  # a ghost
            local = stored_local_roles(obj)
        if local is None:
            ghost = getattr(obj, "_p_changed", False) is None
            local = local_roles_of(obj)
            if ghost:
                obj._p_deactivate()
        for principal_id, granted in sorted(local.items()):
            hits = roles.intersection(granted)
            if hits:
                result.append((path, principal_id, tuple(sorted(hits))))
    for obj in was_ghost:
        obj._p_deactivate()
    return result


class LocalGrants(Check):
    """Manager or Site Administrator granted on content below the site root.

    A local Manager or Site Administrator grant (given in the management
    interface's local roles, with plone.api, or by an add-on, since the
    Sharing tab does not offer those roles by default) hands full control
    of a part of the site to someone, usually forgotten after the task it
    was for. The check lists each such grant below the site root (at most
    20, plus the total); grants on the site root itself count as site-wide
    and are listed by SBP-PRIV-004 and SBP-PRIV-001.

    It reads the stored local roles of every catalogued object (there is no
    index that tells a Manager grant from a Reader grant), one object load
    each, turning objects back into ghosts afterwards: see the README for
    figures. It cannot see objects that are not in the catalog, nor roles
    that local role adapters compute at run time.

    Example finding: "Manager or Site Administrator granted below the site
    root" (medium): "1 local grant(s) of Manager or Site Administrator
    below the site root: /plone/news: bob (Manager)."
    """

    id = "SBP-PRIV-008"
    title = _("Manager or Site Administrator granted below the site root")
    area = Area.PRIVILEGES
    severity = Severity.MEDIUM
    reference = references.LOWEST_PRIVILEGES

    def run(self, context):
        grants = local_grants(context.site, PRIVILEGED_ROLES)
        if not grants:
            return []
        directory = survey(context).site
        listed = "; ".join(
            f"{printable(path)}: {name_of(directory, principal_id)} "
            f"({', '.join(roles)})"
            for path, principal_id, roles in grants[:MAX_LISTED]
        )
        if len(grants) > MAX_LISTED:
            listed = _(
                "${listed}; and ${more} more",
                mapping={"listed": listed, "more": len(grants) - MAX_LISTED},
            )
        return [
            self.finding(
                subject="/".join(context.site.getPhysicalPath()),
                detail=_(
                    "${count} local grant(s) of Manager or Site "
                    "Administrator below the site root: ${grants}.",
                    mapping={"count": len(grants), "grants": listed},
                ),
                remediation=_(
                    "For each path, remove the grant in the management "
                    "interface (the object's manage_listLocalRoles) or with "
                    "plone.api (api.user.revoke_roles with obj=...). Where "
                    "someone needs to work there, grant Editor or Reviewer "
                    "on the Sharing tab instead."
                ),
            )
        ]


def weak(stored, user_id, login):
    """True when the stored password matches one of the weak candidates.

    Compares with AuthEncoding's ``pw_validate`` only: no authentication,
    no login event, no lockout counter. The matching candidate is never
    returned.
    """
    candidates = dict.fromkeys(
        (login, login[::-1], user_id, user_id[::-1]) + WEAK_PASSWORDS
    )
    for candidate in candidates:
        try:
            if pw_validate(stored, candidate):
                return True
        except Exception:  # an unknown scheme: cannot tell
            return False
    return False


class WeakPasswords(Check):
    """A Manager or Site Administrator has a password anybody can guess.

    For every Manager and Site Administrator held in a ZODB user source of
    the site or of the Zope root (PAS's user manager, or a plain User
    Folder), the check compares the stored password hash with a short list:
    the login itself, the user id, both reversed, and common passwords
    such as "admin", "password", "plone", "secret", "changeme" and
    "12345678". It compares hashes directly (AuthEncoding's
    ``pw_validate``): no login, no event, no lockout counter, no write.
    The password is never shown, logged or returned, only that it is weak.
    With bcrypt hashes each comparison costs what bcrypt costs (about a
    quarter of a second), so the check takes a few seconds per account.

    Accounts of other sources (LDAP and friends) keep their passwords
    elsewhere: they are reported as not checkable (info).

    Example finding: "Privileged account with a weak password" (critical):
    "The password of alice (Alice Smith), who holds the Manager role on
    this site, is on the list of passwords tried first by anyone
    guessing: ..."
    """

    id = "SBP-PRIV-009"
    title = _("Privileged account with a weak password")
    area = Area.PRIVILEGES
    severity = Severity.CRITICAL
    cases = {"not checkable": Severity.INFO}
    reference = references.LOWEST_PRIVILEGES

    def run(self, context):
        found = survey(context)
        findings = []
        for account in found.accounts():
            checked, where = False, []
            for place in account.places:
                directory = found.directory(place)
                stored = directory.password_hash(account.user_id)
                if stored is None:
                    continue
                checked = True
                if weak(stored, account.user_id, directory.login(account.user_id)):
                    where.append(place)
            name = found.name(account)
            if where:
                findings.append(
                    self.finding(
                        subject=account.user_id,
                        detail=_(
                            "The password of ${name}, who holds the ${role} "
                            "role ${where}, is on the list of passwords tried "
                            "first by anyone guessing: the login itself, its "
                            "reverse, or a common password.",
                            mapping={
                                "name": name,
                                "role": account.role,
                                "where": place_of(where),
                            },
                        ),
                        remediation=_(
                            "Set a long, unique password for ${name} now "
                            "(Site Setup > Users and Groups, or /acl_users in "
                            "the management interface for the Zope root), and "
                            "check the site's history for changes made with "
                            "this account.",
                            mapping={"name": name},
                        ),
                    )
                )
            elif not checked:
                findings.append(
                    self.finding(
                        subject=account.user_id,
                        case="not checkable",
                        title=_("Password of a privileged account not checkable"),
                        detail=_(
                            "${name}, who holds the ${role} role, is not held "
                            "in a user source of the ZODB (it comes from LDAP "
                            "or another source), so the strength of its "
                            "password cannot be checked here.",
                            mapping={"name": name, "role": account.role},
                        ),
                        remediation=_(
                            "Make sure the source of ${name} enforces a strong "
                            "password policy.",
                            mapping={"name": name},
                        ),
                    )
                )
        return findings


class DormantAccounts(Check):
    """A Manager or Site Administrator of the site has not logged in for long.

    Privileged accounts nobody uses are forgotten and keep their old
    passwords: a gift for anyone guessing. The check reports site accounts
    holding Manager or Site Administrator that never logged in through
    Plone's login form, or not in the last 180 days (a setting). It reads
    the ``login_time`` member property from the properties plugin's storage.

    Zope root Managers are left out on purpose: the document wants them
    used only to set up sites, so a root Manager that is seldom used is
    what it asks for. New accounts get 7 days of grace: the user folders do
    not record when an account was made, so an account whose stored
    password, roles or group memberships changed in the last 7 days (the
    time of the transaction that last wrote the record holding it) is left
    alone; a Site Administrator created minutes ago is not dormant. Logins
    with HTTP basic authentication (scripts, the REST API with credentials)
    are not recorded, so an account used only that way looks dormant.

    Example finding: "Dormant privileged account" (low): "bob, who holds
    the Manager role, has not logged in since 2025-01-07 (361 days)."
    """

    id = "SBP-PRIV-010"
    title = _("Dormant privileged account")
    area = Area.PRIVILEGES
    severity = Severity.LOW
    reference = references.LOWEST_PRIVILEGES

    def run(self, context):
        found = survey(context)
        days = days_setting(context, "privileges_dormant_days")
        findings = []
        for account in found.accounts():
            if "site" not in account.places:
                continue
            role = (
                MANAGER
                if account.user_id in found.site_managers
                else (SITE_ADMINISTRATOR)
            )
            site_account = Account(account.user_id, role, ("site",))
            last, _previous = found.login_times(site_account)
            name = found.name(account)
            changed = account_changed(
                context.site.acl_users, account.user_id, context.now
            )
            if changed is not None and context.now - changed < NEW_ACCOUNT_GRACE:
                continue  # a new account, or one just given its role
            if last is None:
                detail = _(
                    "${name}, who holds the ${role} role, has never logged "
                    "in through the login form of this site.",
                    mapping={"name": name, "role": role},
                )
            elif context.now - last > timedelta(days=days):
                detail = _(
                    "${name}, who holds the ${role} role, has not logged "
                    "in since ${date} (${days} days).",
                    mapping={
                        "name": name,
                        "role": role,
                        "date": day(last),
                        "days": (context.now - last).days,
                    },
                )
            else:
                continue
            findings.append(
                self.finding(
                    subject=account.user_id,
                    detail=detail,
                    remediation=_(
                        "If ${name} is no longer needed, delete it or take its "
                        "role away (Site Setup > Users and Groups); otherwise "
                        "ask its owner to log in and set a new password.",
                        mapping={"name": name},
                    ),
                )
            )
        return findings
