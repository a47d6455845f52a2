"""Backup checks on real files with real timestamps and a real FileStorage,
and the maintenance settings' validation in the control panel and REST."""

from collective.securitybp.audit import AuditContext
from collective.securitybp.audit import run_check
from collective.securitybp.checks import backups
from collective.securitybp.settings import clear_cache
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from OFS.Folder import Folder
from plone import api
from ZODB.blob import Blob
from ZODB.FileStorage import FileStorage
import os
import pytest
import re
import requests
import shutil
import subprocess
import transaction
import ZODB


NOW = datetime(2026, 11, 29, 12, 0, tzinfo=timezone.utc)
RECORD = "collective.securitybp."
REFERENCE = "Backups & Recovery tests"


@pytest.fixture(autouse=True)
def fresh_settings():
    """Forget cached settings: a rolled-back test can leave a snapshot whose
    serial the next test's change reuses (see the report of issue #7)."""
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def instance(tmp_path):
    """An instance directory with a real FileStorage and blob directory."""
    base = tmp_path / "instance"
    (base / "var" / "filestorage").mkdir(parents=True)
    for name in ("backups", "blobstoragebackups"):
        (base / "var" / name).mkdir()
    storage = FileStorage(
        str(base / "var" / "filestorage" / "Data.fs"),
        blob_dir=str(base / "var" / "blobstorage"),
    )
    db = ZODB.DB(storage)
    manager = transaction.TransactionManager()
    connection = db.open(transaction_manager=manager)
    connection.root()["app"] = Folder("app")
    manager.commit()
    yield {
        "base": base,
        "var": base / "var",
        "connection": connection,
        "manager": manager,
        "root": connection.root()["app"],
    }
    manager.abort()
    connection.close()
    db.close()


def store_a_blob(instance):
    instance["connection"].root()["file"] = Blob(b"an image")
    instance["manager"].commit()


def run(check, portal, instance, now=NOW):
    context = AuditContext(site=portal, root=instance["root"], now=now)
    return [f.as_data() for f in run_check(check, context)]


def touch(path, age=None, now=NOW):
    """Create ``path``; with ``age``, set its modification time that long ago."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"backup")
    if age is not None:
        stamp = (now - age).timestamp()
        os.utime(path, (stamp, stamp))
    return path


def follow(commands):
    """Run commands as written, in order, with bash."""
    for command in commands:
        done = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, (command, done.stderr)


def set_record(name, value):
    api.portal.set_registry_record(RECORD + name, value)


class TestStorageAndBase:
    def test_filestorage_paths(self, instance):
        storage = instance["root"]._p_jar.db().storage
        data_fs, blob_dir, supported = backups.storage_files(storage)
        assert data_fs == str(instance["var"] / "filestorage" / "Data.fs")
        assert blob_dir == str(instance["var"] / "blobstorage")
        assert supported
        assert not backups.blobs_in_use(blob_dir, supported)
        store_a_blob(instance)
        assert backups.blobs_in_use(blob_dir, supported)

    def test_base_directory(self, tmp_path):
        assert backups.base_directory("/srv/b/var/filestorage/Data.fs") == (
            backups.Path("/srv/b")
        )
        assert backups.base_directory(None, "/srv/i/var") == backups.Path("/srv/i")
        assert backups.base_directory(None, "/srv/b/var/instance") == (
            backups.Path("/srv/b")
        )
        assert backups.base_directory(None, None, "/srv/home") == (
            backups.Path("/srv/home")
        )

    def test_test_layer_uses_clienthome(self, portal, tmp_path, monkeypatch):
        from App.config import getConfiguration

        monkeypatch.setattr(getConfiguration(), "clienthome", str(tmp_path / "var"))
        context = AuditContext(portal, portal.getPhysicalRoot(), NOW)
        state = backups.backup_state(context)
        # plone.app.testing's database is a DemoStorage without files.
        assert state.base == str(tmp_path)
        assert state.blobs_in_use is False
        assert state.inventory.locations[0] == str(tmp_path / "var" / "backups")


class TestNoBackups:
    check = backups.NoBackups()

    def test_fires_without_backup_files(self, portal, instance):
        touch(instance["var"] / "backups" / "notes.txt")
        var = instance["var"]
        locations = ", ".join(
            str(var / name)
            for name in (
                "backups",
                "snapshotbackups",
                "zipbackups",
                "blobstoragebackups",
                "blobstoragesnapshots",
                "blobstoragezips",
            )
        )
        [finding] = run(self.check, portal, instance)
        assert (finding["check_id"], finding["severity"], finding["subject"]) == (
            "SBP-BACKUP-001",
            "high",
            "",
        )
        assert f"was found in {locations}." in finding["detail"]
        assert finding["commands"][0] == f"mkdir -p {var / 'backups'}"

    def test_followed_from_nothing_it_is_quiet(self, portal, instance):
        # No backup directory exists yet: the commands must create them.
        store_a_blob(instance)
        for name in ("backups", "blobstoragebackups"):
            shutil.rmtree(instance["var"] / name)
        [finding] = run(self.check, portal, instance)
        [blobs] = run(backups.BlobsNotBackedUp(), portal, instance)
        # Without any backup, the blob finding follows from this one.
        assert blobs["cause"] == {"check_id": "SBP-BACKUP-001", "subject": ""}
        follow(finding["commands"])
        now = datetime.now(timezone.utc)
        assert run(self.check, portal, instance, now) == []
        assert run(backups.BlobsNotBackedUp(), portal, instance, now) == []
        assert run(backups.BackupsTooOld(), portal, instance, now) == []
        # A day and a half later that backup is too old; the commands of
        # that finding run on the repository the first ones made.
        later = now + timedelta(hours=36)
        [too_old] = run(backups.BackupsTooOld(), portal, instance, later)
        assert too_old["commands"] == finding["commands"][:2]
        follow(too_old["commands"])
        # ... and the restore test's commands bring the database back.
        [restore] = run(backups.RestoreNotTested(), portal, instance, now)
        follow(restore["commands"])
        restored = instance["base"] / "var" / "restore-test" / "Data.fs"
        db = ZODB.DB(FileStorage(str(restored), read_only=True))
        try:
            assert "app" in db.open().root()
        finally:
            db.close()

    @pytest.mark.parametrize(
        "name", ["2026-11-29-03-00-00.fsz", "2026-11-29-03-00-00.deltafs", "Data.fs"]
    )
    def test_quiet_with_repozo_files(self, portal, instance, name):
        touch(instance["var"] / "snapshotbackups" / name)
        assert run(self.check, portal, instance) == []

    def test_blob_backups_alone_do_not_count(self, portal, instance):
        touch(instance["var"] / "blobstoragebackups" / "blobstorage.0" / "x.fs")
        assert len(run(self.check, portal, instance)) == 1

    def test_absolute_location_from_the_settings(self, portal, instance, tmp_path):
        elsewhere = tmp_path / "mnt" / "plone-backups"
        touch(elsewhere / "2026-11-29-03-00-00.fsz")
        assert len(run(self.check, portal, instance)) == 1
        set_record("backups_locations", [str(elsewhere)])
        assert run(self.check, portal, instance) == []


class TestBackupsTooOld:
    check = backups.BackupsTooOld()

    def test_fires_when_the_newest_is_too_old(self, portal, instance):
        old = touch(instance["var"] / "backups" / "2026-11-26-03-00-00.fsz")
        newest = touch(instance["var"] / "backups" / "2026-11-27-03-00-00.deltafsz")
        touch(instance["var"] / "backups" / "2026-11-27-03-00-00.dat")
        assert old.exists()
        [finding] = run(self.check, portal, instance)
        assert finding["check_id"] == "SBP-BACKUP-002"
        assert finding["severity"] == "high"
        assert finding["subject"] in (str(newest), str(newest.with_suffix(".dat")))
        assert finding["detail"].endswith(
            "(2026-11-27 03:00 UTC), is 57 hours old; the limit is 26 hours. "
            "Backups seem to have stopped."
        )
        assert "repozo --backup --gzip" in finding["commands"][1]

    def test_quiet_with_a_recent_backup(self, portal, instance):
        touch(instance["var"] / "backups" / "2026-11-27-03-00-00.fsz")
        touch(instance["var"] / "backups" / "2026-11-29-03-00-00.deltafsz")
        assert run(self.check, portal, instance) == []

    def test_modification_time_of_plain_names(self, portal, instance):
        path = touch(instance["var"] / "zipbackups" / "Data.fsz", timedelta(hours=30))
        [finding] = run(self.check, portal, instance)
        assert finding["subject"] == str(path)
        assert "is 30 hours old; the limit is 26 hours" in finding["detail"]
        touch(path, timedelta(hours=2))
        assert run(self.check, portal, instance) == []

    def test_limit_from_the_settings(self, portal, instance):
        touch(instance["var"] / "backups" / "2026-11-27-03-00-00.fsz")
        set_record("backups_max_age_hours", 72)
        assert run(self.check, portal, instance) == []

    def test_quiet_without_backups(self, portal, instance):
        assert run(self.check, portal, instance) == []  # SBP-BACKUP-001 fires


class TestBlobsNotBackedUp:
    check = backups.BlobsNotBackedUp()

    def test_quiet_while_no_blob_is_stored(self, portal, instance):
        assert run(self.check, portal, instance) == []

    def test_fires_for_blobs_without_backup(self, portal, instance):
        store_a_blob(instance)
        touch(instance["var"] / "backups" / "2026-11-29-03-00-00.fsz")
        blobs = instance["var"] / "blobstorage"
        var = instance["var"]
        [finding] = run(self.check, portal, instance)
        assert (finding["check_id"], finding["severity"], finding["subject"]) == (
            "SBP-BACKUP-003",
            "high",
            str(blobs),
        )
        assert (
            f"no backup of it was found in {var / 'blobstoragebackups'}"
            in (finding["detail"])
        )
        assert finding["cause"] is None  # a database backup exists
        follow(finding["commands"])
        assert run(self.check, portal, instance) == []

    def test_quiet_with_a_blob_backup(self, portal, instance):
        store_a_blob(instance)
        (instance["var"] / "blobstoragebackups" / "blobstorage.0").mkdir()
        assert run(self.check, portal, instance) == []


class TestRestoreNotTested:
    check = backups.RestoreNotTested()

    def test_never_recorded(self, portal, instance):
        [finding] = run(self.check, portal, instance)
        assert (finding["check_id"], finding["severity"], finding["subject"]) == (
            "SBP-BACKUP-004",
            "low",
            "",
        )
        assert "No restore test is recorded" in finding["detail"]
        assert "--recover --repository " in finding["commands"][1]

    def test_older_than_90_days(self, portal, instance):
        set_record("maintenance_last_restore_test", date(2026, 8, 21))
        [finding] = run(self.check, portal, instance)
        assert finding["detail"] == (
            "The last restore test was on 2026-08-21, 100 days ago (more than 90)."
        )

    def test_quiet_within_90_days(self, portal, instance):
        set_record("maintenance_last_restore_test", date(2026, 9, 1))
        assert run(self.check, portal, instance) == []


# The maintenance settings through the control panel and REST


PASSWORD = "a long test passphrase 42"


@pytest.fixture
def server(functional):
    portal = functional["portal"]
    portal.acl_users.userFolderAddUser(
        "siteadmin", PASSWORD, ["Site Administrator"], []
    )
    transaction.commit()
    session = requests.Session()
    session.auth = ("siteadmin", PASSWORD)
    session.headers["Accept"] = "application/json"
    url = f"http://{functional['host']}:{functional['port']}/{portal.getId()}"
    return {"url": url, "session": session, "portal": portal}


def settings(server):
    response = server["session"].get(server["url"] + "/@controlpanels/securitybp")
    return response.json()["data"]


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("backups_max_age_hours", 0, "0 hours cannot be used"),
        ("backups_max_age_hours", 10000, "10000 hours cannot be used"),
        ("maintenance_last_restore_test", "2099-01-01", "2099-01-01 is in the future"),
        ("backups_locations", ["var/backups", "  "], "Enter each backup location"),
    ],
)
def test_rest_rejects_bad_values(server, field, value, message):
    before = settings(server)[field]
    response = server["session"].patch(
        server["url"] + "/@controlpanels/securitybp", json={field: value}, timeout=60
    )
    assert response.status_code == 400, response.text
    assert message in response.text
    assert settings(server)[field] == before


def test_rest_records_the_restore_test(server):
    response = server["session"].patch(
        server["url"] + "/@controlpanels/securitybp",
        json={"maintenance_last_restore_test": "2026-11-01"},
        timeout=60,
    )
    assert response.status_code == 204, response.text
    assert settings(server)["maintenance_last_restore_test"] == "2026-11-01"


def test_control_panel_form_rejects_a_future_date(server):
    session = server["session"]
    session.headers.pop("Accept")
    page = session.get(server["url"] + "/@@securitybp-controlpanel", timeout=60).text
    assert 'name="form.widgets.maintenance_last_restore_test"' in page
    assert 'name="form.widgets.backups_max_age_hours"' in page
    token = re.search(r'name="_authenticator"[^>]*value="([^"]+)"', page).group(1)
    form = {
        "_authenticator": token,
        "form.widgets.backups_max_age_hours": "0",
        "form.widgets.maintenance_last_restore_test": "2099-01-01",
        "form.buttons.save": "Save",
    }
    for name in re.findall(r'name="(form\.widgets\.[a-z_]+)"', page):
        form.setdefault(name, "")
    form["form.widgets.backups_locations"] = "var/backups"
    response = session.post(
        server["url"] + "/@@securitybp-controlpanel", data=form, timeout=60
    )
    assert response.status_code == 200
    assert "0 hours cannot be used" in response.text
    assert "2099-01-01 is in the future" in response.text
    transaction.begin()
    registry = server["portal"].portal_registry
    assert registry[RECORD + "backups_max_age_hours"] == 26
    assert registry[RECORD + "maintenance_last_restore_test"] is None
