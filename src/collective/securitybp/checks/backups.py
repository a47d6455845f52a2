"""Backups and recovery tests.

Section "Backups & Recovery tests": keep regular backups in a safe place,
and test that they can be restored before an emergency. The checks look for
the files that repozo and collective.recipe.backup write, in the locations
configured in the control panel, and at the date of the last restore test
an administrator records there.
"""

from collective.securitybp import _
from collective.securitybp import references
from collective.securitybp.checks.base import Check
from collective.securitybp.interfaces import BACKUPS_DEFAULT_LOCATIONS
from collective.securitybp.model import Area
from collective.securitybp.model import Severity
from collective.securitybp.settings import get_settings
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
from pathlib import Path
from ZODB.DemoStorage import DemoStorage
from ZODB.interfaces import IBlobStorage
import fnmatch
import os
import re
import shlex
import sys


# Files repozo writes: full and incremental backups (gzipped or not) and
# their checksum index.
REPOZO_PATTERNS = ("*.fs", "*.fsz", "*.deltafs", "*.deltafsz", "*.dat")
BLOB_MARKER = "blob"
# collective.recipe.backup names timestamped backups like this.
TIMESTAMP = re.compile(r"(\d{4})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})")
DEFAULT_MAX_AGE_HOURS = 26
SETTINGS_SCREEN = "@@securitybp-controlpanel"
RESTORE_TEST_MAX_DAYS = 90
MAX_LISTED = 10
# Where a restore test puts the database, below the instance's base.
RESTORE_TEST_TARGET = "var/restore-test"
BACKUP_DOCS = "https://pypi.org/project/collective.recipe.backup/"


@dataclass(frozen=True)
class Backup:
    path: str
    time: datetime  # timezone-aware


@dataclass(frozen=True)
class Inventory:
    """What the backup locations hold."""

    locations: tuple  # resolved paths, as strings
    database: tuple  # Backup, newest first
    blobs: tuple  # Backup, newest first


def storage_files(storage):
    """The database file and the blob directory behind ``storage``.

    Temporary layers (DemoStorage's changes) are skipped: they are not what
    needs a backup.

    :returns: ``(data_fs, blob_dir, blobs_supported)``; paths are strings or
        None when the storage does not tell (ZEO, RelStorage).
    """
    while isinstance(storage, DemoStorage):
        storage = storage.base
    data_fs = getattr(storage, "_file_name", None)
    helper = getattr(storage, "fshelper", None)
    blob_dir = getattr(helper, "base_dir", None) if helper is not None else None
    if blob_dir:
        blob_dir = os.path.normpath(blob_dir)
    return data_fs, blob_dir, IBlobStorage.providedBy(storage)


def blobs_in_use(blob_dir, supported):
    """Whether the database keeps blobs that need a backup."""
    if not supported:
        return False
    if blob_dir is None:  # a storage we cannot look into: assume so
        return True
    try:
        return any(entry.name.startswith("0x") for entry in os.scandir(blob_dir))
    except OSError:
        return False


def base_directory(data_fs=None, clienthome=None, instancehome=None):
    """The directory relative backup locations start from.

    The parent of the ``var`` directory that holds the database file (a
    buildout's or an instance's root), else found from the clienthome
    (``<base>/var`` or ``<base>/var/instance``), else the instancehome.
    """
    if data_fs:
        for parent in Path(data_fs).parents:
            if parent.name == "var":
                return parent.parent
    if clienthome:
        home = Path(clienthome)
        if home.name == "var":
            return home.parent
        if home.parent.name == "var":
            return home.parent.parent
    return Path(instancehome or os.getcwd())


def backup_time(entry):
    """When a backup was made: the timestamp in its name, else its mtime."""
    match = TIMESTAMP.search(entry.name)
    if match:
        try:
            return datetime(*map(int, match.groups()), tzinfo=timezone.utc)
        except ValueError:
            pass
    mtime = entry.stat(follow_symlinks=False).st_mtime
    return datetime.fromtimestamp(mtime, timezone.utc)


def scan(locations, base):
    """Look for backups in ``locations`` (relative ones start at ``base``).

    A location whose name contains "blob" holds blob backups: each entry in
    it is one. Elsewhere, files matching :data:`REPOZO_PATTERNS` are
    database backups. Only the top level of each location is read.
    """
    resolved, database, blobs = [], [], []
    for location in locations:
        path = Path(os.path.expanduser(location.strip()))
        if not path.is_absolute():
            path = Path(base) / path
        resolved.append(str(path))
        try:
            entries = list(os.scandir(path))
        except OSError:
            continue
        is_blob_location = BLOB_MARKER in path.name.lower()
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if is_blob_location:
                blobs.append(Backup(entry.path, backup_time(entry)))
            elif entry.is_file() and any(
                fnmatch.fnmatch(entry.name, pattern) for pattern in REPOZO_PATTERNS
            ):
                database.append(Backup(entry.path, backup_time(entry)))

    def newest_first(backups):
        return tuple(sorted(backups, key=lambda b: (b.time, b.path), reverse=True))

    return Inventory(tuple(resolved), newest_first(database), newest_first(blobs))


def zope_homes():
    from App.config import getConfiguration

    configuration = getConfiguration()
    return (
        getattr(configuration, "clienthome", None),
        getattr(configuration, "instancehome", None),
    )


@dataclass(frozen=True)
class BackupState:
    data_fs: str
    blob_dir: str
    blobs_in_use: bool
    base: str
    inventory: Inventory
    max_age_hours: int


def backup_state(context):
    """Everything the backup checks look at, computed once per audit."""
    return context.shared("backups.state", _backup_state)


def _backup_state(context):
    settings = get_settings(context.site)
    locations = settings.get("backups_locations") or list(BACKUPS_DEFAULT_LOCATIONS)
    max_age = settings.get("backups_max_age_hours") or DEFAULT_MAX_AGE_HOURS
    data_fs, blob_dir, supported = storage_files(context.root._p_jar.db().storage)
    clienthome, instancehome = zope_homes()
    base = base_directory(data_fs, clienthome, instancehome)
    return BackupState(
        data_fs=data_fs or "var/filestorage/Data.fs",
        blob_dir=blob_dir or "var/blobstorage",
        blobs_in_use=blobs_in_use(blob_dir, supported),
        base=str(base),
        inventory=scan(locations, base),
        max_age_hours=max_age,
    )


def commands(state):
    """The paths the backup commands use, for this instance."""
    repository = next(
        (
            p
            for p in state.inventory.locations
            if BLOB_MARKER not in Path(p).name.lower()
        ),
        str(Path(state.base) / "var" / "backups"),
    )
    blob_backups = next(
        (p for p in state.inventory.locations if BLOB_MARKER in Path(p).name.lower()),
        str(Path(state.base) / "var" / "blobstoragebackups"),
    )
    return {
        "repository": repository,
        "datafs": state.data_fs,
        "blobs": state.blob_dir,
        "blob_backups": blob_backups,
    }


def repozo():
    """The repozo script of this Python's environment, or plain ``repozo``."""
    script = Path(sys.executable).parent / "repozo"
    return shlex.quote(str(script)) if script.exists() else "repozo"


def backup_commands(state, blobs=True):
    """Commands that back up the database (and the blobs), creating the
    backup directories first."""
    paths = {key: shlex.quote(value) for key, value in commands(state).items()}
    result = [
        f"mkdir -p {paths['repository']}",
        f"{repozo()} --backup --gzip --repository {paths['repository']} "
        f"--file {paths['datafs']}",
    ]
    if blobs:
        result += [
            f"mkdir -p {paths['blob_backups']}",
            f"cp -a {paths['blobs']} {paths['blob_backups']}/blobstorage."
            '"$(date -u +%Y-%m-%d-%H-%M-%S)"',
        ]
    return result


def restore_commands(state):
    """Commands that restore the latest backup into a scratch directory
    beside the instance's own ``var`` contents, never over them."""
    repository = shlex.quote(commands(state)["repository"])
    target = shlex.quote(str(Path(state.base) / RESTORE_TEST_TARGET))
    return [
        f"mkdir -p {target}",
        f"{repozo()} --recover --repository {repository} --output {target}/Data.fs",
    ]


class NoBackups(Check):
    """No backup of the database was found.

    The check looks in the backup locations of the control panel (by
    default those of collective.recipe.backup: ``var/backups``,
    ``var/snapshotbackups``, ``var/zipbackups`` and the blob backup
    directories next to them) for the files repozo writes (``*.fs``,
    ``*.fsz``, ``*.deltafs``, ``*.dat``). Relative locations start at the
    instance's base directory, the parent of the ``var`` directory holding
    the database file. Backups kept elsewhere (another machine, a
    snapshot of the disk) are not seen: add their mount point, or
    acknowledge the finding with where they are.

    Example finding: "No backups found" (high).
    """

    id = "SBP-BACKUP-001"
    title = _("No backups found")
    area = Area.BACKUPS
    severity = Severity.HIGH
    reference = references.BACKUPS

    def run(self, context):
        state = backup_state(context)
        if state.inventory.database:
            return []
        mapping = dict(commands(state), locations=", ".join(state.inventory.locations))
        return [
            self.finding(
                detail=_(
                    "No database backup (repozo's *.fs, *.fsz, *.deltafs or "
                    "*.dat files) was found in ${locations}.",
                    mapping=mapping,
                ),
                remediation=_(
                    "Back up the database and the blobs every day and keep "
                    "copies on another machine. With collective.recipe.backup: "
                    "bin/backup from cron, bin/snapshotbackup before big "
                    "changes. With repozo alone, as the user that runs Zope: "
                    "the commands below (from cron). If backups are kept "
                    "elsewhere, add that directory to the backup locations in "
                    "the control panel.",
                    mapping=mapping,
                ),
                commands=backup_commands(state, blobs=state.blobs_in_use),
                links=[
                    (_("Backup settings"), SETTINGS_SCREEN),
                    (_("collective.recipe.backup"), BACKUP_DOCS),
                ],
            )
        ]


class BackupsTooOld(Check):
    """The newest database backup is older than the maximum age.

    Backups that stopped (a cron job that fails, a full disk) are as bad as
    none, and nobody notices until they are needed. The newest file repozo
    wrote in the backup locations must be younger than the maximum age in
    the control panel (26 hours by default, for a daily backup). A
    timestamp in the file name counts, else its modification time.

    Example finding: "Backups are too old" (high): the newest,
    var/backups/2026-11-20-03-00-00.fsz, is 222 hours old.
    """

    id = "SBP-BACKUP-002"
    title = _("Backups are too old")
    area = Area.BACKUPS
    severity = Severity.HIGH
    reference = references.BACKUPS

    def run(self, context):
        state = backup_state(context)
        if not state.inventory.database:
            return []  # SBP-BACKUP-001 reports it
        newest = state.inventory.database[0]
        age_hours = (context.now - newest.time).total_seconds() / 3600
        if age_hours <= state.max_age_hours:
            return []
        mapping = dict(
            commands(state),
            path=newest.path,
            time=newest.time.strftime("%Y-%m-%d %H:%M UTC"),
            hours=int(age_hours),
            limit=state.max_age_hours,
        )
        return [
            self.finding(
                subject=newest.path,
                detail=_(
                    "The newest database backup, ${path} (${time}), is "
                    "${hours} hours old; the limit is ${limit} hours. Backups "
                    "seem to have stopped.",
                    mapping=mapping,
                ),
                remediation=_(
                    "Check the job that makes the backups (cron, systemd "
                    "timer), its log and the free disk space, then run it by "
                    "hand: bin/backup with collective.recipe.backup, or the "
                    "commands below.",
                    mapping=mapping,
                ),
                commands=backup_commands(state, blobs=False),
            )
        ]


class BlobsNotBackedUp(Check):
    """The database keeps blobs, and no blob backup was found.

    Files and images live in the blob storage, outside ``Data.fs``: a
    backup of the database alone restores a site whose files are all
    missing. The check looks at the blob directory of the running database
    (a blob counts from its first ``0x..`` directory) and at the backup
    locations whose name contains "blob". A ZEO or RelStorage client
    cannot see the server's blob directory and assumes blobs are in use.

    When no database backup was found either, this finding follows from
    SBP-BACKUP-001 (whose commands back up both).

    Example finding: "Blobs are not backed up" (high).
    """

    id = "SBP-BACKUP-003"
    title = _("Blobs are not backed up")
    area = Area.BACKUPS
    severity = Severity.HIGH
    reference = references.BACKUPS

    def run(self, context):
        state = backup_state(context)
        if not state.blobs_in_use or state.inventory.blobs:
            return []
        blob_locations = [
            path
            for path in state.inventory.locations
            if BLOB_MARKER in Path(path).name.lower()
        ]
        mapping = dict(commands(state), locations=", ".join(blob_locations) or "-")
        return [
            self.finding(
                subject=state.blob_dir,
                cause=None if state.inventory.database else (NoBackups.id, ""),
                commands=backup_commands(state)[2:],
                detail=_(
                    "Files and images are stored in ${blobs}, and no backup of "
                    "it was found in ${locations}: a restored database would "
                    "miss them.",
                    mapping=mapping,
                ),
                remediation=_(
                    "Back up the blob directory together with the database: "
                    "collective.recipe.backup's bin/backup does both (blob "
                    "backups go to var/blobstoragebackups); with repozo, copy "
                    "${blobs} right after each repozo run with the commands "
                    "below. If blob backups are kept elsewhere, add that "
                    "directory (its name must contain 'blob') to the backup "
                    "locations.",
                    mapping=mapping,
                ),
            )
        ]


class RestoreNotTested(Check):
    """No restore test was recorded in the last 90 days.

    The document asks to test the backup and restore procedure before an
    emergency. An administrator records the day of the last successful
    restore test in the control panel ("Last restore test"); the check
    reminds when there is none or it is older than 90 days. It cannot know
    whether the test really happened.

    Hygiene (low): an untested restore is a risk of the day it is needed,
    not an exposure.

    Example finding: "Restore not tested recently" (low): never recorded.
    """

    id = "SBP-BACKUP-004"
    title = _("Restore not tested recently")
    area = Area.BACKUPS
    severity = Severity.LOW
    reference = references.BACKUPS

    def run(self, context):
        tested = get_settings(context.site).get("maintenance_last_restore_test")
        today = context.now.date()
        if tested is not None and (today - tested).days <= RESTORE_TEST_MAX_DAYS:
            return []
        state = backup_state(context)
        mapping = dict(commands(state), limit=RESTORE_TEST_MAX_DAYS)
        if tested is None:
            detail = _(
                "No restore test is recorded: nobody knows whether the backups "
                "can bring the site back."
            )
        else:
            mapping.update(date=tested.isoformat(), days=(today - tested).days)
            detail = _(
                "The last restore test was on ${date}, ${days} days ago (more "
                "than ${limit}).",
                mapping=mapping,
            )
        return [
            self.finding(
                detail=detail,
                remediation=_(
                    "Restore the latest backup on another machine (with "
                    "collective.recipe.backup: bin/restore; with repozo: the "
                    "commands below, plus the blobs), start an instance on it "
                    "and check the site and a few files. Then record the date "
                    "in Site Setup > Security best practices > Last restore "
                    "test.",
                    mapping=mapping,
                ),
                commands=restore_commands(state),
                links=[(_("Last restore test"), SETTINGS_SCREEN)],
            )
        ]
