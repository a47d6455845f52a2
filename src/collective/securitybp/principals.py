"""Read-only views of users, groups and role assignments in a user folder.

These helpers read the ZODB plugins of a PluggableAuthService (and the
``data`` mapping of a plain Zope User Folder) directly and never call PAS
APIs that write (``listRoleIds()`` of Plone's role manager adds missing
roles, for example). They never enumerate every user through PAS either: a
site with ten thousand users is read in a few BTree scans.
"""

from Acquisition import aq_base
from Products.PluggableAuthService.interfaces.plugins import IAuthenticationPlugin
from Products.PluggableAuthService.interfaces.plugins import IGroupsPlugin
from Products.PluggableAuthService.interfaces.plugins import IPropertiesPlugin
from Products.PluggableAuthService.interfaces.plugins import IRolesPlugin
from Products.PluggableAuthService.interfaces.plugins import IUserEnumerationPlugin
from Products.PluggableAuthService.plugins.RecursiveGroupsPlugin import (
    RecursiveGroupsPlugin,
)
from types import MappingProxyType


AUTHENTICATED_GROUP = "AuthenticatedUsers"
# Roles every user has anyway; granting them to a group changes nothing.
IMPLICIT_ROLES = frozenset({"Authenticated", "Anonymous"})


def active_plugins(user_folder, interface):
    """The active plugins of a PAS for ``interface``; empty for other folders."""
    registry = getattr(user_folder, "plugins", None)
    if registry is None or not hasattr(registry, "listPlugins"):
        return []
    try:
        return [plugin for _id, plugin in registry.listPlugins(interface)]
    except KeyError:  # the interface is not registered with this PAS
        return []


def plain_users(user_folder):
    """The user objects of a plain Zope User Folder; empty for a PAS."""
    if hasattr(aq_base(user_folder), "plugins"):
        return {}
    data = getattr(user_folder, "data", None)
    return data if data is not None else {}


def role_assignments(user_folder):
    """Roles granted globally in a user folder: ``{principal_id: set(roles)}``.

    Works for a PAS (its ZODB role managers) and for a plain User Folder.
    """
    result = {}
    for plugin in active_plugins(user_folder, IRolesPlugin):
        stored = getattr(plugin, "_principal_roles", None)
        if stored is None:
            continue
        for principal_id, roles in stored.items():
            result.setdefault(principal_id, set()).update(roles)
    for name, user in plain_users(user_folder).items():
        result.setdefault(name, set()).update(
            set(getattr(user, "roles", ())) - IMPLICIT_ROLES
        )
    return result


def group_members(user_folder):
    """Direct members of each group: ``{group_id: set(principal_ids)}``."""
    result = {}
    for plugin in active_plugins(user_folder, IGroupsPlugin):
        for group_id in getattr(plugin, "_groups", {}):
            result.setdefault(group_id, set())
        stored = getattr(plugin, "_principal_groups", None)
        if stored is None:
            continue
        for principal_id, group_ids in stored.items():
            for group_id in group_ids:
                result.setdefault(group_id, set()).add(principal_id)
    return result


def user_exists(user_folder, user_id):
    """True when a user with ``user_id`` exists in ``user_folder``."""
    for plugin in active_plugins(user_folder, IUserEnumerationPlugin):
        stored = getattr(plugin, "_userid_to_login", None)
        if stored is not None and user_id in stored:
            return True
    if user_id in plain_users(user_folder):
        return True
    return user_folder.getUserById(user_id) is not None


class Directory:
    """A read-only snapshot of one user folder: who holds which role, how.

    Reading it costs one scan of the role and group assignments; everything
    else (titles, logins, password hashes, login times) is looked up per
    principal, so only the principals asked about are loaded.

    :param user_folder: a PluggableAuthService or a plain Zope User Folder.
    """

    def __init__(self, user_folder):
        self.user_folder = user_folder
        self.roles = role_assignments(user_folder)
        self.members = group_members(user_folder)
        # Without PAS's recursive groups plugin a group in a group passes
        # nothing on: only the direct members of a group get its roles.
        self.nested = any(
            isinstance(plugin, RecursiveGroupsPlugin)
            for plugin in active_plugins(user_folder, IGroupsPlugin)
        )
        self._exists = {}
        self._stored_ids = None  # the ZODB user managers' id -> login maps

    def exists(self, user_id):
        """True when ``user_id`` is a user of this folder (not a group)."""
        if user_id not in self._exists:
            if self._stored_ids is None:
                self._stored_ids = [
                    stored
                    for plugin in active_plugins(
                        self.user_folder, IUserEnumerationPlugin
                    )
                    if (stored := getattr(plugin, "_userid_to_login", None)) is not None
                ]
            self._exists[user_id] = user_id not in self.members and (
                any(user_id in stored for stored in self._stored_ids)
                or user_exists(self.user_folder, user_id)
            )
        return self._exists[user_id]

    def grants(self, role, local_roles=None):
        """Principals that hold ``role``, expanded through groups.

        :param role: a role id such as ``"Manager"``.
        :param local_roles: an optional ``{principal_id: roles}`` mapping of
            local roles on the object in question (the site root).
        :returns: ``(holders, unknown)``: two ``{principal_id: path}``
            mappings, where path is the tuple of group ids through which the
            role came (empty for a direct grant). ``holders`` has the users
            and ``AuthenticatedUsers`` (every user that logs in);
            ``unknown`` the principals that are neither a user nor a group
            here (a deleted account, or one of a source that cannot be
            asked).
        """
        granted = {
            principal_id for principal_id, roles in self.roles.items() if role in roles
        }
        granted.update(
            principal_id
            for principal_id, roles in (local_roles or {}).items()
            if role in roles
        )
        holders, unknown, seen = {}, {}, set()
        queue = [(principal_id, ()) for principal_id in sorted(granted)]
        for principal_id, path in queue:  # breadth first: shortest path wins
            if principal_id in seen:
                continue
            seen.add(principal_id)
            if principal_id == AUTHENTICATED_GROUP:
                holders[principal_id] = path
            elif principal_id in self.members:
                if path and not self.nested:
                    continue
                queue.extend(
                    (member, path + (principal_id,))
                    for member in sorted(self.members[principal_id])
                )
            elif self.exists(principal_id):
                holders[principal_id] = path
            else:
                unknown[principal_id] = path
        return holders, unknown

    def holders(self, role, local_roles=None):
        """Users (and ``AuthenticatedUsers``) holding ``role``: ``{id: path}``."""
        return self.grants(role, local_roles)[0]

    def global_roles(self, principal_id):
        """Global roles of ``principal_id``, its groups' included.

        :returns: ``{role: path}``, path being the groups the role came
            through (empty when granted to the principal itself).
        """
        groups_of = {}
        for group_id, members in self.members.items():
            for member in members:
                groups_of.setdefault(member, []).append(group_id)
        result, seen = {}, set()
        queue = [(principal_id, ())]
        for current, path in queue:
            if current in seen:
                continue
            seen.add(current)
            for role in sorted(self.roles.get(current, ())):
                result.setdefault(role, path)
            if self.nested or not path:
                queue.extend(
                    (group_id, path + (group_id,))
                    for group_id in sorted(groups_of.get(current, ()))
                )
        return result

    def properties(self, principal_id):
        """The stored properties of a principal (first properties plugin
        that has any), as a read-only mapping; empty when none."""
        for plugin in active_plugins(self.user_folder, IPropertiesPlugin):
            storage = getattr(plugin, "_storage", None)
            if storage is None:
                continue
            data = storage.get(principal_id)
            if data:
                return MappingProxyType(data)
        return MappingProxyType({})

    def title(self, principal_id):
        """The full name of a user or the title of a group; ``""`` if none."""
        data = self.properties(principal_id)
        title = data.get("fullname") or data.get("title") or ""
        if not title and principal_id in self.members:
            for plugin in active_plugins(self.user_folder, IGroupsPlugin):
                info = getattr(plugin, "_groups", {}).get(principal_id)
                if info:
                    title = info.get("title") or ""
                    break
        return title if isinstance(title, str) else ""

    def login(self, user_id):
        """The login name of a user held in this folder's ZODB sources."""
        for plugin in active_plugins(self.user_folder, IUserEnumerationPlugin):
            stored = getattr(plugin, "_userid_to_login", None)
            if stored is not None and user_id in stored:
                return stored[user_id]
        return user_id

    def password_hash(self, user_id):
        """The stored password (normally a hash) of a user, or None when the
        user is not held in a ZODB source of this folder (LDAP and friends).
        """
        for plugin in active_plugins(self.user_folder, IAuthenticationPlugin):
            stored = getattr(plugin, "_user_passwords", None)
            if stored is not None and user_id in stored:
                return stored[user_id]
        user = plain_users(self.user_folder).get(user_id)
        if user is not None:
            return user._getPassword()
        return None

    def login_times(self, user_id):
        """``(login_time, last_login_time)`` stored for a user, as DateTime
        or None; Plone's login form sets them."""
        data = self.properties(user_id)
        return data.get("login_time"), data.get("last_login_time")


def role_holders(user_folder, role, local_roles=None):
    """Users that hold ``role``, each with the way they got it.

    :param user_folder: a PluggableAuthService.
    :param role: a role id such as ``"Site Administrator"``.
    :param local_roles: an optional ``{principal_id: roles}`` mapping of local
        roles on the object in question (the site root).
    :returns: ``{user_id: path}`` where path is a tuple of group ids through
        which the role came (empty for a direct grant). ``AuthenticatedUsers``
        stands for every user that logs in.
    """
    return Directory(user_folder).holders(role, local_roles)
