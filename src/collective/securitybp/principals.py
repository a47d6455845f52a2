"""Read-only views of users, groups and role assignments in a user folder.

These helpers read the ZODB plugins of a PluggableAuthService directly and
never call PAS APIs that write (``listRoleIds()`` of Plone's role manager
adds missing roles, for example).
"""

from Products.PluggableAuthService.interfaces.plugins import IGroupsPlugin
from Products.PluggableAuthService.interfaces.plugins import IRolesPlugin
from Products.PluggableAuthService.interfaces.plugins import (
    IUserEnumerationPlugin,
)

AUTHENTICATED_GROUP = "AuthenticatedUsers"


def active_plugins(user_folder, interface):
    """The active plugins of a PAS for ``interface``; empty for other folders."""
    registry = getattr(user_folder, "plugins", None)
    if registry is None or not hasattr(registry, "listPlugins"):
        return []
    try:
        return [plugin for _id, plugin in registry.listPlugins(interface)]
    except KeyError:  # the interface is not registered with this PAS
        return []


def role_assignments(user_folder):
    """Roles granted globally in a PAS: ``{principal_id: set(roles)}``."""
    result = {}
    for plugin in active_plugins(user_folder, IRolesPlugin):
        stored = getattr(plugin, "_principal_roles", None)
        if stored is None:
            continue
        for principal_id, roles in stored.items():
            result.setdefault(principal_id, set()).update(roles)
    return result


def group_members(user_folder):
    """Direct members of each group: ``{group_id: set(principal_ids)}``."""
    result = {}
    for plugin in active_plugins(user_folder, IGroupsPlugin):
        for group_id in getattr(plugin, "_groups", {}).keys():
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
    return user_folder.getUserById(user_id) is not None


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
    grants = set()
    for principal_id, roles in role_assignments(user_folder).items():
        if role in roles:
            grants.add(principal_id)
    for principal_id, roles in (local_roles or {}).items():
        if role in roles:
            grants.add(principal_id)
    members = group_members(user_folder)
    holders = {}
    queue = [(principal_id, ()) for principal_id in sorted(grants)]
    seen = set()
    while queue:
        principal_id, path = queue.pop(0)
        if principal_id in seen:
            continue
        seen.add(principal_id)
        if principal_id == AUTHENTICATED_GROUP:
            holders[AUTHENTICATED_GROUP] = path
        elif principal_id in members:
            for member in sorted(members[principal_id]):
                queue.append((member, path + (principal_id,)))
        elif user_exists(user_folder, principal_id):
            holders.setdefault(principal_id, path)
    return holders
