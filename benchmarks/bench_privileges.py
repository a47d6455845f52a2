"""How long the privilege checks (SBP-PRIV-*) take on a big site.

Builds, directly in the ZODB plugins of a test site (fast, no events), a
site with 10,000 users (each with Plone's member properties, login times
included, and a password hash), 200 groups (40 chains five deep, 2 of them
giving Manager or Site Administrator to a handful of users four nesting
levels down; every user in two groups), 3 Zope root Managers, and 1,020
content items (20 folders of 50 documents) with a few local Manager grants.
It commits, then times in one run:

- the whole family (SBP-PRIV-001..010), cold (object cache emptied first)
  and warm (medians of 5), and the peak memory it adds (tracemalloc, a
  separate cold run);
- each check alone, warm;
- for comparison, what peers do: every user through PAS with its roles
  (``searchUsers`` + ``getUserById().getRoles()``), and loading every
  folderish object through the catalog to read its local roles.

The family must stay under 1 s and add under 50 MB. Run with the
virtualenv's Python::

    .venv/bin/python benchmarks/bench_privileges.py
"""

from _layers import set_up
from _layers import tear_down
from AuthEncoding.AuthEncoding import pw_encrypt
from collective.securitybp.audit import AuditContext
from collective.securitybp.audit import registered_checks
from collective.securitybp.checks.privileges import LocalGrants
from collective.securitybp.testing import FIXTURE
from DateTime import DateTime
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from plone.app.testing import FunctionalTesting
from plone.app.testing import setRoles
from plone.app.testing import TEST_USER_ID
from statistics import median
import gc
import time
import tracemalloc
import transaction


USERS = 10_000
GROUPS = 200
CHAIN = 5
FOLDERS = 20
DOCUMENTS = 50
LIMIT_SECONDS = 1.0
LIMIT_MB = 50
RUNS = 5  # medians: the machine is shared and noisy
NOW = datetime.now(timezone.utc)

BENCH = FunctionalTesting(bases=(FIXTURE,), name="securitybp:bench-privileges")


def build_principals(portal, app):
    uf = portal.acl_users
    users, roles = uf.source_users, uf.portal_role_manager
    groups, props = uf.source_groups, uf.mutable_properties
    digest = pw_encrypt("a long benchmark passphrase")
    for number in range(GROUPS):
        group_id = f"group{number:03d}"
        groups._groups[group_id] = {
            "id": group_id,
            "title": f"Group {number}",
            "description": "",
        }
        if number % CHAIN:  # each group sits in the one before, 5 deep
            groups._principal_groups[group_id] = (f"group{number - 1:03d}",)
    roles._principal_roles["group000"] = ("Manager",)
    roles._principal_roles["group005"] = ("Site Administrator",)
    for number in range(USERS):
        user_id = f"user{number:05d}"
        users._user_passwords[user_id] = digest
        users._login_to_userid[user_id] = user_id
        users._userid_to_login[user_id] = user_id
        roles._principal_roles[user_id] = ("Member",)
        # Users in the groups 10..199; the deepest group of the first two
        # chains gets five people each (Managers / Site Administrators).
        if number < 5:
            member_of = ("group004",)
        elif number < 10:
            member_of = ("group009",)
        else:
            member_of = (
                f"group{10 + number % 190:03d}",
                f"group{10 + (number * 7) % 190:03d}",
            )
        groups._principal_groups[user_id] = member_of
        last = DateTime(NOW - timedelta(days=number % 400))
        props._storage[user_id] = {
            "email": f"{user_id}@example.org",
            "fullname": f"User {number}",
            "portal_skin": "",
            "listed": True,
            "login_time": last,
            "last_login_time": DateTime(NOW - timedelta(days=number % 400 + 3)),
            "error_log_update": 0.0,
            "language": "",
            "ext_editor": False,
            "wysiwyg_editor": "",
            "visible_ids": False,
            "timezone": "",
            "home_page": "",
            "description": "",
            "location": "",
            "isGroup": False,
        }
    for user_id in ("manager1", "manager2", "manager3"):
        app.acl_users.users.addUser(user_id, user_id, "a long passphrase 42")
        app.acl_users.roles.assignRoleToPrincipal("Manager", user_id)


def build_content(portal):
    from plone import api

    setRoles(portal, TEST_USER_ID, ["Manager"])
    for number in range(FOLDERS):
        folder = api.content.create(
            container=portal, type="Folder", id=f"folder{number:02d}"
        )
        if number % 7 == 0:
            folder.manage_setLocalRoles(f"user{number:05d}", ["Manager"])
        for doc in range(DOCUMENTS):
            item = api.content.create(container=folder, type="Document", id=f"d{doc}")
            if doc == 0:
                item.setCreators(["user00001"])  # a Manager at work
                item.reindexObject(idxs=["Creator"])
    setRoles(portal, TEST_USER_ID, ["Member"])


def run_family(context, checks):
    findings = []
    for check in checks:
        findings.extend(check.run(context))
    return findings


def cold(connection):
    transaction.begin()
    connection.cacheMinimize()
    gc.collect()


def timed(function, runs=1, before=None):
    """Median seconds of ``runs`` calls (``before`` runs untimed before
    each), and the last result."""
    times = []
    for _run in range(runs):
        if before is not None:
            before()
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return median(times), result


def peers_users(portal):
    """What an add-on listing global roles does: every user through PAS."""
    uf = portal.acl_users
    holders = set()
    for info in uf.searchUsers():
        user = uf.getUserById(info["userid"])
        if user is not None and "Manager" in user.getRoles():
            holders.add(info["userid"])
    return holders


def peers_folders(portal):
    """What an add-on finding local roles does: load every folder."""
    grants = []
    catalog = portal.portal_catalog
    for brain in catalog.unrestrictedSearchResults(is_folderish=True):
        obj = brain._unrestrictedGetObject()
        for principal, roles in obj.get_local_roles():
            if "Manager" in roles:
                grants.append((brain.getPath(), principal))
    return grants


def main():
    BENCH["host"], BENCH["port"] = "127.0.0.1", 0  # no server: requests only
    layers = set_up(BENCH)
    try:
        portal, app = BENCH["portal"], BENCH["app"]
        started = time.perf_counter()
        build_principals(portal, app)
        build_content(portal)
        transaction.commit()
        built = time.perf_counter() - started
        connection = portal._p_jar
        checks = [c for c in registered_checks() if c.id.startswith("SBP-PRIV-")]
        context = lambda: AuditContext(portal, app, NOW)  # noqa: E731

        family = lambda: run_family(context(), checks)  # noqa: E731
        flush = lambda: cold(connection)  # noqa: E731
        cold_time, findings = timed(family, RUNS, before=flush)
        warm_time, _ = timed(family, RUNS)
        cold(connection)
        tracemalloc.start()
        base, _ = tracemalloc.get_traced_memory()
        run_family(context(), checks)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        added_mb = (peak - base) / 1024 / 1024

        per_check = []
        for check in checks:  # alone: it reads the principals itself
            seconds, result = timed(lambda check=check: check.run(context()), RUNS)
            per_check.append((check.id, seconds, len(result)))

        users_time, peer_managers = timed(lambda: peers_users(portal), before=flush)
        folders_time, peer_grants = timed(
            lambda: peers_folders(portal), RUNS, before=flush
        )
        walk_time, _ = timed(lambda: LocalGrants().run(context()), RUNS, before=flush)

        objects = len(portal.portal_catalog._catalog.uids)
        by_check = {}
        for finding in findings:
            by_check[finding.check_id] = by_check.get(finding.check_id, 0) + 1
        print(
            f"Site: {USERS:,} users, {GROUPS} groups ({GROUPS // CHAIN} chains "
            f"{CHAIN} deep), {objects:,} catalogued objects; built in "
            f"{built:.1f} s"
        )
        print(f"Findings per check: {dict(sorted(by_check.items()))}")
        print(
            f"Privilege family (10 checks), median of {RUNS}: cold "
            f"{cold_time * 1000:.0f} ms, warm {warm_time * 1000:.0f} ms "
            f"(limit {LIMIT_SECONDS * 1000:.0f} ms)"
        )
        print(f"Peak memory added (cold): {added_mb:.1f} MB (limit {LIMIT_MB} MB)")
        for check_id, seconds, count in per_check:
            print(
                f"  {check_id}: {seconds * 1000:7.1f} ms warm, alone, "
                f"{count} finding(s)"
            )
        print(
            f"Peers, every user through PAS with roles: {users_time * 1000:.0f} ms "
            f"({len(peer_managers)} Managers found, not how they got it) "
            f"= {users_time / cold_time:.1f} x the whole family"
        )
        print(
            f"Peers, loading every folder for local roles (cold): "
            f"{folders_time * 1000:.0f} ms ({len(peer_grants)} grants, documents "
            f"not looked at); SBP-PRIV-008 reading every object (cold): "
            f"{walk_time * 1000:.0f} ms = "
            f"{walk_time * 1000 / objects * 1000:.0f} ms per 1,000 objects"
        )
        ok = cold_time < LIMIT_SECONDS and added_mb < LIMIT_MB
        print("Within limits" if ok else "OVER LIMITS")
    finally:
        tear_down(layers)


if __name__ == "__main__":
    main()
