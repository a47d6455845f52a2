"""How long the update, configuration and backup checks take on a big site.

Builds a test site with 20,000 content items (100 published folders of 199
documents, in simple_publication_workflow: a third published, a third
pending, a third private, 26 private ones opened to Anonymous by hand;
catalogued with every index but the full text, to build it fast), a
few scripts and templates stored through the web, and a backup directory
with 2,000 repozo files and 50 blob backups. In one run it times:

- the whole family (SBP-UPDATE-*, SBP-CONF-*, SBP-BACKUP-*), cold (object
  cache emptied first) and warm, first on the site with 1,000 items and
  then, after adding the rest, with 20,000 (the ratio shows how it scales);
- each check, warm, on the big site;
- for comparison, what a naive check of unpublished content does: load
  every item the catalog knows and ask who may view it.

The family must stay under 1 s on the big site. Run with the virtualenv's
Python::

    .venv/bin/python benchmarks/bench_maintenance.py
"""

from _layers import set_up
from _layers import tear_down
from AccessControl.PermissionRole import rolesForPermissionOn
from App.config import getConfiguration
from collective.securitybp.audit import AuditContext
from collective.securitybp.audit import registered_checks
from collective.securitybp.testing import FIXTURE
from DateTime import DateTime
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path
from plone.app.testing import FunctionalTesting
from plone.app.testing import setRoles
from plone.app.testing import TEST_USER_ID
from plone.dexterity.utils import createContent
import os
import tempfile
import time
import transaction


FOLDERS = 100
SMALL_FOLDERS = 5
DOCUMENTS = 199  # per folder: with the folders, 20,000 items
LIMIT_SECONDS = 1.0
FAMILY = ("SBP-UPDATE-", "SBP-CONF-", "SBP-BACKUP-")
WORKFLOW = "simple_publication_workflow"
STATES = ("published", "pending", "private")
FULL_TEXT = "SearchableText"
NOW = datetime.now(timezone.utc)

BENCH = FunctionalTesting(bases=(FIXTURE,), name="securitybp:bench-maintenance")


def set_state(workflow, definition, obj, state):
    """Put ``obj`` in ``state`` and apply the state's permissions."""
    workflow.setStatusOf(
        WORKFLOW,
        obj,
        {
            "review_state": state,
            "action": None,
            "actor": "bench",
            "comments": "",
            "time": DateTime(),
        },
    )
    definition.updateRoleMappingsFor(obj)


def add(container, portal_type, item_id):
    container._setObject(
        item_id,
        createContent(portal_type, id=item_id, title=item_id),
        suppress_events=True,
    )
    return container._getOb(item_id)


def build_folders(portal, first, last):
    """Folders ``first``..``last - 1`` with their documents; commits.

    Objects are added without events and catalogued directly, with every
    index except the full text (the costly part, which no check reads):
    a few milliseconds per item instead of tens.
    """
    workflow = portal.portal_workflow
    definition = workflow[WORKFLOW]
    catalog = portal.portal_catalog
    indexes = [name for name in catalog.indexes() if name != FULL_TEXT]
    for number in range(first, last):
        folder = add(portal, "Folder", f"folder-{number:03d}")
        set_state(workflow, definition, folder, "published")
        catalog.catalog_object(folder, idxs=indexes)
        for item in range(DOCUMENTS):
            document = add(folder, "Document", f"doc-{item:03d}")
            set_state(workflow, definition, document, STATES[item % 3])
            if number % 8 == 0 and item in (2, 125):
                for permission in ("View", "Access contents information"):
                    document.manage_permission(
                        permission, ["Anonymous", "Manager"], acquire=0
                    )
            catalog.catalog_object(document, idxs=indexes)
        transaction.savepoint(optimistic=True)
    transaction.commit()


def build_files(portal, app, directory):
    from Products.PageTemplates.ZopePageTemplate import manage_addPageTemplate
    from Products.PythonScripts.PythonScript import manage_addPythonScript

    for number in range(5):
        manage_addPythonScript(portal, f"script_{number}")
        manage_addPageTemplate(portal.portal_skins.custom, f"template_{number}", "")
    manage_addPythonScript(app, "root_script")
    transaction.commit()
    var = Path(directory) / "var"
    for name, count, suffix in (
        ("backups", 2000, ".deltafsz"),
        ("blobstoragebackups", 50, ""),
    ):
        (var / name).mkdir(parents=True)
        for number in range(count):
            stamp = (NOW - timedelta(hours=number)).strftime("%Y-%m-%d-%H-%M-%S")
            path = (
                var / name / f"blobstorage.{stamp}"
                if not suffix
                else (var / name / f"{stamp}{suffix}")
            )
            if suffix:
                path.write_bytes(b"x")
            else:
                path.mkdir()
    return str(var)


def family(checks):
    return [check for check in checks if check.id.startswith(FAMILY)]


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def run_family(context, checks):
    findings = {}
    for check in checks:
        findings[check.id] = len(check.run(context))
    return findings


def measure(portal, app, checks):
    """(cold seconds, warm seconds, findings) of the family."""
    portal._p_jar.cacheMinimize()
    # A new audit each time: what one audit computes for all its checks
    # (AuditContext.shared) is not carried over to the next.
    cold, _findings = timed(
        lambda: run_family(AuditContext(site=portal, root=app, now=NOW), checks)
    )
    warm, findings = timed(
        lambda: run_family(AuditContext(site=portal, root=app, now=NOW), checks)
    )
    return cold, warm, findings


def naive_unpublished(portal):
    """What a check without the catalog's help does: load and ask."""
    count = 0
    for brain in portal.portal_catalog.unrestrictedSearchResults(
        review_state=["private", "pending"]
    ):
        obj = brain._unrestrictedGetObject()
        if "Anonymous" in rolesForPermissionOn("View", obj):
            count += 1
    return count


def main():
    layers = set_up(BENCH)
    directory = tempfile.mkdtemp(prefix="securitybp-bench-")
    configuration = getConfiguration()
    clienthome = getattr(configuration, "clienthome", None)
    try:
        portal, app = BENCH["portal"], BENCH["app"]
        setRoles(portal, TEST_USER_ID, ["Manager"])
        portal.portal_workflow.setDefaultChain(WORKFLOW)
        configuration.clienthome = build_files(portal, app, directory)
        checks = family(registered_checks())

        start = time.perf_counter()
        build_folders(portal, 0, SMALL_FOLDERS)
        small_items = SMALL_FOLDERS * (DOCUMENTS + 1)
        small_cold, small_warm, _ = measure(portal, app, checks)
        build_folders(portal, SMALL_FOLDERS, FOLDERS)
        built = time.perf_counter() - start
        items = len(portal.portal_catalog)
        cold, warm, findings = measure(portal, app, checks)

        per_check = []
        for check in checks:  # alone, in an audit of its own
            seconds, result = timed(
                lambda check=check: check.run(
                    AuditContext(site=portal, root=app, now=NOW)
                )
            )
            per_check.append((seconds, check.id, len(result)))
        naive, exposed = timed(lambda: naive_unpublished(portal))
        ours = {c: s for s, c, _n in per_check}["SBP-CONF-016"]

        print(
            f"Site: {items} catalogued items (built in {built:.0f} s), "
            f"{len(checks)} checks in the family"
        )
        print(
            f"Family on {small_items} items: {small_cold * 1000:7.1f} ms cold, "
            f"{small_warm * 1000:7.1f} ms warm"
        )
        print(
            f"Family on {items} items: {cold * 1000:7.1f} ms cold, "
            f"{warm * 1000:7.1f} ms warm (limit {LIMIT_SECONDS * 1000:.0f} ms)"
        )
        print(
            f"Ratio big/small site: cold {cold / small_cold:.2f}x, "
            f"warm {warm / small_warm:.2f}x for "
            f"{items / small_items:.0f}x the items"
        )
        print(f"Findings per check: {dict(sorted(findings.items()))}")
        for seconds, check_id, count in sorted(per_check, reverse=True):
            print(f"  {check_id}: {seconds * 1000:7.1f} ms warm, {count} finding(s)")
        print(
            f"Unpublished content, naive (load every private/pending item): "
            f"{naive * 1000:.0f} ms, {exposed} exposed; SBP-CONF-016 "
            f"(catalog only): {ours * 1000:.1f} ms; ratio {naive / ours:.0f}x"
        )
        print("Within limits" if cold < LIMIT_SECONDS else "OVER LIMITS")
    finally:
        configuration.clienthome = clienthome
        tear_down(layers)
        for root, dirs, files in os.walk(directory, topdown=False):
            for name in files:
                os.unlink(os.path.join(root, name))
            for name in dirs:
                os.rmdir(os.path.join(root, name))
        os.rmdir(directory)


if __name__ == "__main__":
    main()
