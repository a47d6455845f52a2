"""Process and files checks (SBP-PROC-*), on real files with real owners.

The checks judge an InstallationLayout (``check.inspect(layout)``). These
tests build an installation in a temporary directory with real modes and
owners: code owned by root (the build user), data owned by nobody (65534,
the daemon user). Changing owners needs root, as CI runs; without root the
tests that chown are skipped.

Identities: "running as root" is this process's real identity (CI runs as
root). The quiet cases and the daemon's view INJECT the identity of the
daemon user (uid and gid 65534, plus a shared group 4343) instead: the test
process cannot be another user. Part 6 (finding the daemon) uses real child
processes that drop to uid 65534, and reads their identity from /proc.
"""

from collective.securitybp.audit import AuditContext
from collective.securitybp.audit import registered_checks
from collective.securitybp.audit import run_check
from collective.securitybp.checks import process
from collective.securitybp.checks.process import code_entries
from collective.securitybp.checks.process import CodeWritable
from collective.securitybp.checks.process import credential_lines
from collective.securitybp.checks.process import CredentialsReadable
from collective.securitybp.checks.process import DataNotWritable
from collective.securitybp.checks.process import DataReadableByOthers
from collective.securitybp.checks.process import EmergencyUserFile
from collective.securitybp.checks.process import GroupWritableCode
from collective.securitybp.checks.process import layout_for
from collective.securitybp.checks.process import LeftoverInituser
from collective.securitybp.checks.process import OwnsCode
from collective.securitybp.checks.process import ProcessUnknown
from collective.securitybp.checks.process import RunsAsRoot
from collective.securitybp.checks.process import sample_blobs
from collective.securitybp.model import text
from collective.securitybp.processinfo import BUILDOUT
from collective.securitybp.processinfo import container_of
from collective.securitybp.processinfo import Database
from collective.securitybp.processinfo import DISTRIBUTIONS
from collective.securitybp.processinfo import editable_source
from collective.securitybp.processinfo import inspected_process
from collective.securitybp.processinfo import installation_layout
from collective.securitybp.processinfo import InstallationLayout
from collective.securitybp.processinfo import INSTANCE_CONFIGURATION
from collective.securitybp.processinfo import INTERPRETER
from collective.securitybp.processinfo import process_environment
from collective.securitybp.processinfo import ProcessIdentity
from collective.securitybp.processinfo import set_inspected_process
from collective.securitybp.processinfo import SOURCE_CHECKOUTS
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from datetime import timezone
from pathlib import Path
from types import SimpleNamespace
import grp
import logging
import os
import pytest
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time


NOBODY = 65534  # the daemon user (nobody) and its group (nogroup)
SHARED = 4343  # the group the build user and the daemon share; no name
REFERENCE = "Use dedicated Unix user accounts"

# Injected: the daemon's identity (this test process cannot be another user).
DAEMON_ID = ProcessIdentity(pid=4242, uid=NOBODY, gid=NOBODY, groups=(SHARED,))
DAEMON_TEXT = (
    "process 4242, the one serving this site (user nobody, uid 65534, "
    "group nogroup, gid 65534, groups 4343 (4343))"
)

needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to give files to other users (CI is root)"
)


def findings(check, layout):
    return [f.as_data() for f in check.inspect(layout)]


def make(path, mode, uid=0, gid=0, content=None):
    """A real directory (or file, with ``content``) with owner and mode."""
    path = Path(path)
    if content is None:
        path.mkdir(parents=True, exist_ok=True)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    os.chown(path, uid, gid)
    path.chmod(mode)
    return path


@pytest.fixture
def tree():
    """A temporary directory every user can enter, as /srv would be."""
    root = Path(tempfile.mkdtemp(prefix="securitybp-process-", dir="/tmp"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root)


class Install:
    """A well set up installation: code owned by root, data by the daemon."""

    def __init__(self, root):
        self.root = root
        self.site_packages = make(root / "venv/lib/site-packages", 0o755)
        make(self.site_packages / "plone", 0o755)
        self.module = make(self.site_packages / "six.py", 0o644, content="")
        self.bin = make(root / "venv/bin", 0o755)
        make(self.bin / "runwsgi", 0o755, content="#!/bin/sh\n")
        self.egg = make(root / "eggs/Products.CMFPlone-6.2-py3.11.egg", 0o755)
        self.checkout = make(root / "src/my.theme", 0o755)
        self.setup_py = make(self.checkout / "setup.py", 0o644, content="")
        self.instance = make(root / "parts/instance", 0o755)
        self.etc = make(self.instance / "etc", 0o755)
        self.zope_conf = make(
            self.etc / "zope.conf",
            0o640,
            gid=SHARED,
            content=(
                "<zodb_db main>\n"
                "  <relstorage>\n"
                "    <postgresql>\n"
                "      dsn dbname='zodb' user='zope' password='s3cret'\n"
                "    </postgresql>\n"
                "  </relstorage>\n"
                "</zodb_db>\n"
            ),
        )
        self.zope_ini = make(self.etc / "zope.ini", 0o644, content="[app:zope]\n")
        self.bin_buildout = make(root / "bin", 0o755)
        self.parts = root / "parts"
        self.var = make(root / "var", 0o700, NOBODY, NOBODY)
        self.filestorage = make(self.var / "filestorage", 0o700, NOBODY, NOBODY)
        self.data_fs = make(
            self.filestorage / "Data.fs", 0o600, NOBODY, NOBODY, content="FS21"
        )
        make(self.filestorage / "Data.fs.index", 0o600, NOBODY, NOBODY, content="")
        self.blobs = make(self.var / "blobstorage", 0o700, NOBODY, NOBODY)
        make(self.blobs / "0x00", 0o700, NOBODY, NOBODY)
        self.blob_leaf = make(self.blobs / "0x00/0x01", 0o700, NOBODY, NOBODY)
        self.blob = make(
            self.blob_leaf / "0x03e1.blob", 0o400, NOBODY, NOBODY, content="x"
        )
        self.logs = make(self.var / "log", 0o700, NOBODY, NOBODY)
        self.log = make(self.logs / "instance.log", 0o600, NOBODY, NOBODY, content="")

    def layout(self, **changes):
        layout = InstallationLayout(
            process=DAEMON_ID,  # injected: the daemon user
            instance_home=self.instance,
            client_home=self.var,
            databases=(Database("main", self.data_fs, self.blobs),),
            log_files=(self.log,),
            code={
                INTERPRETER: (self.site_packages, self.bin),
                DISTRIBUTIONS: (self.egg,),
                SOURCE_CHECKOUTS: (self.checkout,),
                INSTANCE_CONFIGURATION: (self.instance, self.etc),
                BUILDOUT: (self.bin_buildout, self.parts),
            },
            config_files=(self.zope_conf, self.zope_ini),
            reads_inituser=False,
            container=None,
        )
        return replace(layout, **changes)


@pytest.fixture
def install(tree):
    return Install(tree)


ALL_CHECKS = (
    RunsAsRoot(),
    OwnsCode(),
    CodeWritable(),
    DataNotWritable(),
    DataReadableByOthers(),
    GroupWritableCode(),
    LeftoverInituser(),
    EmergencyUserFile(),
    CredentialsReadable(),
    ProcessUnknown(),
)


def finding(check_id, severity, title, subject, detail, remediation):
    return {
        "check_id": check_id,
        "area": "process",
        "area_title": "Process & files",
        "severity": severity,
        "title": title,
        "detail": detail,
        "remediation": remediation,
        "reference": REFERENCE,
        "subject": subject,
        "commands": [],
        "links": [],
        "cause": None,
    }


def groups_text(gids):
    names = []
    for gid in gids:
        try:
            names.append(f"{grp.getgrgid(gid).gr_name} ({gid})")
        except KeyError:
            names.append(f"{gid} ({gid})")
    return ", ".join(names) or "-"


def this_process_text():
    """describe() of this test process, written out independently."""
    return (
        f"process {os.getpid()}, the one serving this site (user root, uid 0, "
        f"group root, gid 0, groups {groups_text(sorted(set(os.getgroups())))})"
    )


def fired(check, layout, **kw):
    """``(check id, severity, subject)`` of each finding."""
    return [
        (f.check_id, f.severity.label, f.subject) for f in check.inspect(layout, **kw)
    ]


def follow(result, twice=True):
    """Run a finding's commands as written, in order, with bash; ``twice``
    runs them again, which must work too (idempotent)."""
    for _round in range(2 if twice else 1):
        for command in result.commands:
            done = subprocess.run(
                ["bash", "-c", command], capture_output=True, text=True, timeout=60
            )
            assert done.returncode == 0, (command, done.stderr)


ACCOUNTS = ("plone_daemon", "plone_buildout")


def account_exists(name):
    return subprocess.run(["id", "-u", name], capture_output=True).returncode == 0


@pytest.fixture
def plone_accounts():
    """Removes the document's accounts afterwards if a test created them."""
    existed = {name: account_exists(name) for name in ACCOUNTS}
    group = subprocess.run(["getent", "group", "plone_group"], capture_output=True)
    yield
    for name in ACCOUNTS:
        if not existed[name] and account_exists(name):
            subprocess.run(["userdel", name], check=True)
    if group.returncode != 0:
        subprocess.run(["groupdel", "plone_group"], capture_output=True)


def uid_of(name):
    import pwd

    return pwd.getpwnam(name).pw_uid


@needs_root
class TestWellSetUp:
    @pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.id)
    def test_every_check_quiet(self, install, check):
        # The daemon identity is injected. Its data (var, inside nothing
        # here, but owned and writable by it) is not reported as code.
        assert findings(check, install.layout()) == []


@needs_root
class TestRunsAsRoot:
    check = RunsAsRoot()

    def test_fires_for_this_process_as_root(self, install):
        # Not injected: this process's real identity (CI runs as root).
        layout = install.layout(process=ProcessIdentity.current())
        [result] = self.check.inspect(layout)
        assert fired(self.check, layout) == [("SBP-PROC-001", "critical", "")]
        assert f"Inspected: {this_process_text()}" in text(result.detail)
        assert result.commands[0].startswith("getent group plone_group")
        assert result.links[0].url.startswith("https://docs.docker.com/")

    def test_high_in_a_container(self, install):
        layout = install.layout(process=ProcessIdentity.current(), container="podman")
        assert fired(self.check, layout) == [("SBP-PROC-001", "high", "")]
        [result] = self.check.inspect(layout)
        assert "inside a container (podman)" in text(result.detail)
        assert "'USER plone_daemon'" in text(result.remediation)

    def test_container_told_by_a_real_process(self):
        # podman and systemd-nspawn set "container" in the environment.
        env = dict(os.environ, container="podman")
        with sleeper(env=env) as proc:
            assert container_of(proc.pid, process_environment(proc.pid)) == "podman"
        with sleeper(env={"PATH": os.environ["PATH"]}) as proc:
            expected = "docker" if Path("/.dockerenv").exists() else None
            assert container_of(proc.pid, process_environment(proc.pid)) == expected

    def test_followed_in_a_closed_home_the_daemon_can_run(self, tree, plone_accounts):
        # The installation lies in a directory only root may enter, as
        # /root does. The commands must let the daemon reach its code and
        # write its data, and leave the code to the build user.
        home = make(tree / "root", 0o700)
        install = Install(home)
        layout = install.layout(process=ProcessIdentity.current())
        [result] = self.check.inspect(layout)
        follow(result)
        daemon = ["runuser", "-u", "plone_daemon", "--"]
        reads = subprocess.run([*daemon, "cat", str(install.zope_ini)])
        assert reads.returncode == 0
        writes = subprocess.run([*daemon, "touch", str(install.filestorage / "t")])
        assert writes.returncode == 0
        changes = subprocess.run([*daemon, "touch", str(install.etc / "x.conf")])
        assert changes.returncode != 0
        # Judged for a real process of the daemon: nothing left to report.
        with sleeper(user="plone_daemon") as proc:
            identity = ProcessIdentity.from_proc(proc.pid)
            assert identity.user == "plone_daemon"
            after = install.layout(process=identity)
            for check in (RunsAsRoot(), OwnsCode(), CodeWritable(), DataNotWritable()):
                assert fired(check, after) == [], check.id

    def test_quiet_for_the_daemon_user(self, install):
        assert findings(self.check, install.layout(process=DAEMON_ID)) == []

    def test_quiet_when_the_process_is_unknown(self, install):
        assert findings(self.check, install.layout(process=None)) == []


@needs_root
class TestOwnsCode:
    check = OwnsCode()

    def test_fires_when_the_daemon_owns_a_checkout(self, install):
        os.chown(install.checkout, NOBODY, NOBODY)
        os.chown(install.setup_py, NOBODY, NOBODY)
        install.checkout.chmod(0o555)  # not writable today: still owned
        [result] = self.check.inspect(install.layout())
        assert fired(self.check, install.layout()) == [("SBP-PROC-002", "high", "")]
        assert f"owns 1 code location(s): {install.checkout}." in text(result.detail)

    def test_followed_it_is_quiet(self, install, plone_accounts):
        os.chown(install.checkout, NOBODY, NOBODY)
        [result] = self.check.inspect(install.layout())
        follow(result)
        assert fired(self.check, install.layout()) == []

    def test_owned_entry_listed_alone(self, install):
        os.chown(install.module, NOBODY, NOBODY)
        [result] = findings(self.check, install.layout())
        assert f"owns 1 code location(s): {install.module}." in result["detail"]

    def test_quiet_for_root(self, install):
        # Root owns all the code here; running as root is SBP-PROC-001.
        layout = install.layout(process=ProcessIdentity.current())
        assert findings(self.check, layout) == []


@needs_root
class TestCodeWritable:
    check = CodeWritable()

    def test_fires_per_group_with_the_writable_paths(self, install):
        # A module writable by the shared group the daemon is in, and an egg
        # owned by the daemon: two groups, each with its own path only.
        os.chown(install.module, 0, SHARED)
        install.module.chmod(0o664)
        os.chown(install.egg, NOBODY, NOBODY)
        assert fired(self.check, install.layout()) == [
            ("SBP-PROC-003", "high", "interpreter"),
            ("SBP-PROC-003", "high", "distributions"),
        ]
        result = self.check.inspect(install.layout())
        assert f"change the code it runs: {install.module}." in text(result[0].detail)
        assert result[0].cause == ""

    def test_followed_it_is_quiet_and_data_stays_writable(
        self, install, plone_accounts
    ):
        # The client home inside the instance home: the commands must not
        # take it from the daemon.
        var = make(install.instance / "var", 0o700, NOBODY, NOBODY)
        os.chown(install.instance, NOBODY, NOBODY)
        os.chown(install.egg, NOBODY, NOBODY)
        # A link to a file elsewhere (as a virtualenv's bin/python is):
        # what it points to must stay as it is.
        elsewhere = make(install.root / "system-python", 0o755, content="")
        (install.instance / "python").symlink_to(elsewhere)
        layout = install.layout(client_home=var)
        results = self.check.inspect(layout)
        assert [r.subject for r in results] == [
            "distributions",
            "instance configuration",
            "buildout",  # parts holds the instance
        ]
        for result in results:
            assert not any(
                f"-R plone_buildout:plone_group {install.instance}" in c
                for c in result.commands
            )
            follow(result)
        assert fired(self.check, layout) == []
        assert var.stat().st_uid == NOBODY
        assert fired(DataNotWritable(), layout) == []
        assert (elsewhere.stat().st_uid, elsewhere.stat().st_mode & 0o777) == (
            0,
            0o755,
        )

    def test_distributions_inside_the_interpreter_are_one_finding(self, install):
        # Package directories of Plone in site-packages are found as
        # distributions too: they belong to the interpreter only.
        layout = install.layout(
            process=ProcessIdentity.current(),
            code={
                INTERPRETER: (install.site_packages,),
                DISTRIBUTIONS: (install.site_packages / "plone", install.egg),
            },
        )
        result = self.check.inspect(layout)
        assert [r.subject for r in result] == ["interpreter", "distributions"]
        assert str(install.site_packages / "plone") not in text(result[1].detail)

    def test_root_can_write_every_group(self, install):
        layout = install.layout(process=ProcessIdentity.current())
        result = findings(self.check, layout)
        assert [(f["subject"], f["severity"]) for f in result] == [
            ("interpreter", "high"),
            ("distributions", "high"),
            ("source checkouts", "high"),
            ("instance configuration", "high"),
            ("buildout", "high"),
        ]
        # ... because it is root: they follow from SBP-PROC-001.
        assert {tuple(f["cause"].values()) for f in result} == {("SBP-PROC-001", "")}
        # A writable location stands for its entries.
        assert f"change the code it runs: {install.checkout}." in result[2]["detail"]

    def test_data_inside_code_is_not_code(self, install):
        # The client home inside the instance home, writable by the daemon.
        var = make(install.instance / "var", 0o700, NOBODY, NOBODY)
        layout = install.layout(client_home=var)
        assert findings(self.check, layout) == []
        # ... but the same directory is code when it is not data.
        result = findings(self.check, install.layout())
        assert [f["subject"] for f in result] == ["instance configuration"]
        assert f"change the code it runs: {var}." in result[0]["detail"]

    def test_entries_read_are_bounded(self, install):
        for number in range(5):
            make(install.checkout / f"m{number}.py", 0o644, content="")
        entries = list(code_entries([install.checkout], limit=3))
        assert len(entries) == 4  # the location and 3 of its entries
        assert entries[0][1] == install.checkout


@needs_root
class TestDataNotWritable:
    check = DataNotWritable()

    def test_fires_for_directory_and_missing_file(self, install):
        os.chown(install.blobs, 0, 0)
        install.blobs.chmod(0o755)
        os.chown(install.logs, 0, 0)
        install.logs.chmod(0o755)
        missing = install.logs / "access.log"
        layout = install.layout(log_files=(missing,))
        assert fired(self.check, layout) == [
            ("SBP-PROC-004", "high", str(install.blobs)),
            ("SBP-PROC-004", "high", str(install.logs)),
            ("SBP-PROC-004", "high", str(missing)),
        ]
        results = self.check.inspect(layout)
        assert "does not exist, and the process cannot create it" in text(
            results[2].detail
        )
        for result in results:
            follow(result)
        assert fired(self.check, layout) == []

    def test_followed_for_a_missing_directory(self, install):
        os.chown(install.var, 0, 0)
        install.var.chmod(0o755)
        gone = install.var / "blobs2"
        layout = install.layout(databases=(Database("main", install.data_fs, gone),))
        results = self.check.inspect(layout)
        assert str(gone) in [r.subject for r in results]
        for result in results:
            follow(result)
        assert gone.is_dir()
        assert fired(self.check, layout) == []

    def test_read_only_database_file(self, install):
        install.data_fs.chmod(0o400)
        [result] = findings(self.check, install.layout())
        assert result["subject"] == str(install.data_fs)
        assert result["detail"].startswith(
            f"The process cannot write to the database file {install.data_fs} "
            "(owner nobody, mode 0400)"
        )

    def test_missing_blob_directory_it_can_create_is_fine(self, install):
        layout = install.layout(
            databases=(Database("main", install.data_fs, install.var / "blobs2"),)
        )
        assert findings(self.check, layout) == []

    def test_quiet_for_root(self, install):
        os.chown(install.blobs, 0, 0)
        layout = install.layout(process=ProcessIdentity.current())
        assert findings(self.check, layout) == []


@needs_root
class TestDataReadableByOthers:
    check = DataReadableByOthers()

    def open_up(self, install):
        for directory in (install.var, install.filestorage):
            directory.chmod(0o755)

    def test_fires_for_data_fs(self, install):
        self.open_up(install)
        install.data_fs.chmod(0o644)
        assert fired(self.check, install.layout()) == [("SBP-PROC-005", "high", "main")]
        [result] = self.check.inspect(install.layout())
        assert f"{install.data_fs} (0644)" in text(result.detail)
        follow(result)
        assert fired(self.check, install.layout()) == []

    @pytest.mark.parametrize("name", ["Data.fs.tmp", "Data.fs.old", "Data.fs1.old"])
    def test_fires_for_files_left_beside_it(self, install, name):
        self.open_up(install)
        left = make(install.filestorage / name, 0o644, NOBODY, NOBODY, content="x")
        make(install.filestorage / "Data.fs.lock", 0o644, NOBODY, NOBODY, content="1")
        [result] = self.check.inspect(install.layout())
        assert (result.subject, result.severity.label) == ("main", "high")
        assert f"hashes: {left} (0644)" in text(result.detail)
        follow(result)
        assert fired(self.check, install.layout()) == []

    def test_fires_for_backups(self, install):
        backups = make(install.root / "backups", 0o755)
        full = make(backups / "2026-11-20-03-00-00.fsz", 0o644, content="x")
        blob_backups = make(install.root / "blobstoragebackups", 0o755)
        blob_copy = make(blob_backups / "blobstorage.0", 0o755)
        layout = install.layout()
        assert fired(self.check, layout, backups=[full, blob_copy]) == [
            ("SBP-PROC-005", "high", "backups")
        ]
        [result] = self.check.inspect(layout, backups=[full, blob_copy])
        assert f"{full} (0644)" in text(result.detail)
        follow(result)
        assert fired(self.check, layout, backups=[full, blob_copy]) == []

    def test_quiet_for_private_backups(self, install):
        backups = make(install.root / "backups", 0o750)
        full = make(backups / "2026-11-20-03-00-00.fsz", 0o640, content="x")
        assert fired(self.check, install.layout(), backups=[full]) == []

    def test_fires_for_blob_files(self, install):
        self.open_up(install)
        for directory in (install.blobs, install.blobs / "0x00", install.blob_leaf):
            directory.chmod(0o711)  # others can pass, not list
        install.blob.chmod(0o444)
        [result] = findings(self.check, install.layout())
        assert result["subject"] == "main"
        assert result["detail"].endswith(
            f"password hashes: {install.blob} (0444) (1 blob files sampled)."
        )
        [fix] = self.check.inspect(install.layout())
        assert fix.commands == (f"chmod -R o-rwx {install.blobs}",)

    def test_fires_for_listable_blob_directory(self, install):
        self.open_up(install)
        install.blobs.chmod(0o755)
        [result] = findings(self.check, install.layout())
        assert result["detail"].endswith(
            # 0x00 below it is 0700: no blob file can be reached.
            f"password hashes: {install.blobs} (0755) (0 blob files sampled)."
        )

    def test_quiet_when_others_cannot_reach_it(self, install):
        # Data.fs and blobs readable by others, but var is 0700.
        install.data_fs.chmod(0o644)
        install.filestorage.chmod(0o755)
        install.blobs.chmod(0o755)
        install.blob.chmod(0o444)
        assert findings(self.check, install.layout()) == []

    def test_blob_sample_is_bounded(self, install):
        self.open_up(install)
        install.blobs.chmod(0o711)
        for number in range(30):
            directory = make(install.blobs / f"0x{number:02x}", 0o711)
            for blob in range(10):
                make(directory / f"0x{blob:02x}.blob", 0o444, content="")
        sampled, exposed = sample_blobs(install.blobs, limit=200)
        assert sampled == 200
        assert len(exposed) == 200


@needs_root
class TestGroupWritableCode:
    check = GroupWritableCode()

    def test_fires_with_the_group(self, install):
        os.chown(install.setup_py, 0, SHARED)
        install.setup_py.chmod(0o664)
        assert fired(self.check, install.layout()) == [
            ("SBP-PROC-006", "medium", "source checkouts")
        ]
        [result] = self.check.inspect(install.layout())
        assert f"{install.setup_py} (group 4343)" in text(result.detail)
        follow(result)
        assert fired(self.check, install.layout()) == []


@needs_root
class TestLeftoverInituser:
    check = LeftoverInituser()

    def test_fires_when_the_root_user_folder_ignores_it(self, install):
        inituser = make(install.instance / "inituser", 0o600, content="a:{SHA}x")
        layout = install.layout(reads_inituser=False)
        assert fired(self.check, layout) == [("SBP-PROC-007", "medium", str(inituser))]
        [result] = self.check.inspect(layout)
        assert "is never read" in text(result.detail)
        follow(result)
        assert fired(self.check, layout) == []

    def test_quiet_when_zope_still_reads_it(self, install):
        make(install.instance / "inituser", 0o600, content="a:{SHA}x")
        assert findings(self.check, install.layout(reads_inituser=True)) == []


class TestReadsInituser:
    """Whether the root user folder reads inituser, from real user folders."""

    def test_plain_user_folder_with_one_user_reads_it(self):
        from OFS.userfolder import UserFolder

        users = UserFolder()
        users._doAddUser("admin", "secret", ["Manager"], [])
        root = SimpleNamespace(acl_users=users)
        assert installation_layout(root=root, paths=[]).reads_inituser is True
        users._doAddUser("other", "secret", [], [])
        assert installation_layout(root=root, paths=[]).reads_inituser is False

    def test_pas_root_of_the_test_layer_does_not(self, portal):
        root = portal.getPhysicalRoot()
        assert not hasattr(root.acl_users, "_createInitialUser")
        assert installation_layout(root=root).reads_inituser is False


@needs_root
class TestEmergencyUserFile:
    check = EmergencyUserFile()

    def test_fires_for_access_file(self, install):
        access = make(install.instance / "access", 0o600, content="e:{SHA}x")
        assert fired(self.check, install.layout()) == [
            ("SBP-PROC-008", "medium", str(access))
        ]
        [result] = self.check.inspect(install.layout())
        follow(result)
        assert fired(self.check, install.layout()) == []


@needs_root
class TestCredentialsReadable:
    check = CredentialsReadable()

    def test_fires_for_world_readable_dsn(self, install):
        install.zope_conf.chmod(0o644)
        assert fired(self.check, install.layout()) == [
            ("SBP-PROC-009", "medium", str(install.zope_conf))
        ]
        [result] = self.check.inspect(install.layout())
        assert "on line(s) 4" in text(result.detail)
        follow(result)
        assert fired(self.check, install.layout()) == []

    def test_quiet_when_others_cannot_reach_it(self, install):
        install.zope_conf.chmod(0o644)
        install.etc.chmod(0o750)
        assert findings(self.check, install.layout()) == []

    def test_quiet_without_credentials(self, install):
        install.zope_ini.write_text("[app:zope]\nuse = egg:Zope#main\n")
        assert install.zope_ini.stat().st_mode & 0o004
        assert findings(self.check, install.layout()) == []


@pytest.mark.parametrize(
    "line",
    [
        "dsn dbname='zodb' user='zope' host='db' password='s3cret'",
        "  passwd s3cret",
        "password s3cret",
        "smtp_pass = s3cret",
        "%define DB_PASSWORD s3cret",
        "url = mysql://zope:s3cret@db/zodb",
    ],
)
def test_credential_lines_found(tmp_path, line):
    path = tmp_path / "zope.conf"
    path.write_text(f"instancehome /srv\n{line}\n")
    assert credential_lines(path) == [2]


@pytest.mark.parametrize(
    "line",
    [
        "# password s3cret",
        "pack-keep-old false",
        "password $PASSWORD",
        "dsn dbname='zodb' user='zope' host='db'",
        "url = https://example.org/path",
    ],
)
def test_credential_lines_not_found(tmp_path, line):
    path = tmp_path / "zope.conf"
    path.write_text(f"{line}\n")
    assert credential_lines(path) == []


class TestProcessUnknown:
    check = ProcessUnknown()

    def test_fires_naming_what_was_searched(self, tmp_path):
        lock = tmp_path / "Data.fs.lock"
        me = ProcessIdentity.current()
        layout = InstallationLayout(process=None, searched=(lock,))
        assert findings(self.check, layout) == [
            finding(
                "SBP-PROC-010",
                "info",
                "The process serving the site was not found",
                "",
                f"This audit runs in process {os.getpid()} (user {me.user}), "
                "which does not serve the site: its databases are read-only, "
                "as on the command line. No running instance was found "
                f"through {lock}, so the checks of the user that runs Zope "
                "(SBP-PROC-001 to SBP-PROC-004) were skipped.",
                "Run the audit while the instance runs, or open the site's "
                "@@security-report page, which inspects the process serving it.",
            )
        ]

    def test_fires_without_lock_or_pid_file(self):
        [result] = findings(self.check, InstallationLayout(process=None))
        assert (
            "The instance has no FileStorage lock file and no pid file"
            in (result["detail"])
        )

    def test_quiet_when_the_process_is_known(self):
        assert findings(self.check, InstallationLayout(process=DAEMON_ID)) == []


# Part 6: finding the daemon, with real processes

HOLD_LOCK = """
import os, sys, time, zc.lockfile
lock = zc.lockfile.LockFile(sys.argv[1])
os.setgroups([]); os.setgid(65534); os.setuid(65534)
print("ready", flush=True)
time.sleep(120)
"""
HOLD_FILESTORAGE = """
import os, sys, time, ZODB, ZODB.FileStorage
db = ZODB.DB(ZODB.FileStorage.FileStorage(sys.argv[1], blob_dir=sys.argv[2]))
os.setgroups([]); os.setgid(65534); os.setuid(65534)
print("ready", flush=True)
time.sleep(120)
"""


@contextmanager
def child(script, *args):
    """A Python child process that is ready when the block starts."""
    proc = subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def started(proc, timeout=10):
    """Wait until ``proc`` runs its program: until then its /proc entry
    shows no command line, no environment and maybe the parent's user."""
    deadline = time.monotonic() + timeout
    while not Path(f"/proc/{proc.pid}/cmdline").read_bytes():
        assert time.monotonic() < deadline, "the process did not start"
        time.sleep(0.01)


@contextmanager
def sleeper(**kwargs):
    proc = subprocess.Popen(["sleep", "120"], **kwargs)
    try:
        started(proc)
        yield proc
    finally:
        proc.kill()
        proc.wait()


@needs_root
class TestFindingTheDaemon:
    def test_lock_held_by_the_daemon(self, tree):
        lock = tree / "Data.fs.lock"
        with child(HOLD_LOCK, lock) as daemon:
            found = inspected_process(serving=False, lock_files=[lock])
        assert found == ProcessIdentity(
            pid=daemon.pid,
            uid=NOBODY,  # read from /proc/<pid>/status
            gid=NOBODY,
            groups=(),
            origin="daemon",
            evidence=str(lock),
        )
        assert found.user == "nobody"

    def test_stale_lock_file_is_not_the_daemon(self, tree):
        # The pid of a live process that does not hold the lock.
        lock = tree / "Data.fs.lock"
        with sleeper() as other:
            lock.write_text(f" {other.pid}\n")
            assert inspected_process(serving=False, lock_files=[lock]) is None

    def test_pid_file(self, tree):
        pid_file = tree / "instance.pid"
        with sleeper(user=NOBODY, group=NOBODY, extra_groups=[SHARED]) as daemon:
            pid_file.write_text(f"{daemon.pid}\n")
            found = inspected_process(serving=False, pid_files=[pid_file])
        assert (found.pid, found.uid, found.gid, found.groups) == (
            daemon.pid,
            NOBODY,
            NOBODY,
            (SHARED,),
        )
        assert (found.origin, found.evidence) == ("daemon", str(pid_file))

    def test_dead_pid_is_not_the_daemon(self, tree):
        pid_file = tree / "instance.pid"
        with sleeper() as gone:
            pass
        pid_file.write_text(f"{gone.pid}\n")
        assert inspected_process(serving=False, pid_files=[pid_file]) is None

    def test_serving_process_inspects_itself(self, tree):
        lock = tree / "Data.fs.lock"
        with child(HOLD_LOCK, lock):
            found = inspected_process(serving=True, lock_files=[lock])
        assert found == ProcessIdentity.current()
        assert found.origin == "serving"

    def test_set_inspected_process(self, tree):
        with sleeper(user=NOBODY) as other:
            set_inspected_process(other.pid)
            try:
                found = inspected_process(serving=True)
            finally:
                set_inspected_process(None)
        assert (found.pid, found.uid, found.origin) == (other.pid, NOBODY, "given")
        assert process.describe(found).startswith("process ${pid}, named")

    def test_command_line_audit_inspects_the_running_instance(self, tree):
        """As the command line does: zope.conf parsed, the database opened
        read-only beside a running instance (a child holding the
        FileStorage as nobody)."""
        from Zope2.Startup.options import ZopeWSGIOptions
        import ZODB

        instance = make(tree / "instance", 0o755)
        make(instance / "var/filestorage", 0o755)
        conf = make(
            instance / "etc/zope.conf",
            0o644,
            content=(
                f"instancehome {instance}\nclienthome {instance}/var\n"
                "<zodb_db main>\n  <filestorage>\n"
                f"    path {instance}/var/filestorage/Data.fs\n"
                f"    blob-dir {instance}/var/blobstorage\n"
                "  </filestorage>\n  mount-point /\n</zodb_db>\n"
            ),
        )
        data_fs = instance / "var/filestorage/Data.fs"
        blobs = instance / "var/blobstorage"
        config = ZopeWSGIOptions(configfile=str(conf))().configroot
        factory = config.databases[0].config.storage
        factory.config.read_only = True
        with child(HOLD_FILESTORAGE, data_fs, blobs) as daemon:
            db = ZODB.DB(factory.open())
            try:
                connection = db.open()
                root = connection.root()
                layout = installation_layout(root=root, configuration=config, paths=[])
                connection.close()
            finally:
                db.close()
        lock = Path(f"{data_fs}.lock")
        assert layout.databases == (Database("main", data_fs, blobs),)
        assert layout.process == ProcessIdentity(
            pid=daemon.pid,
            uid=NOBODY,
            gid=NOBODY,
            origin="daemon",
            evidence=str(lock),
        )
        assert layout.searched == (lock, instance / "var/Z4.pid")
        assert findings(RunsAsRoot(), layout) == []
        assert findings(ProcessUnknown(), layout) == []
        # The daemon (nobody) cannot write var, which root owns: reported
        # for the process found through the lock file.
        result = findings(DataNotWritable(), layout)
        assert result[0]["subject"] == str(instance / "var")
        assert result[0]["detail"].endswith(
            f"Inspected: process {daemon.pid}, the running instance found "
            f"through {lock} (user nobody, uid 65534, group nogroup, gid "
            "65534, groups -)."
        )


# Discovery


def test_editable_source():
    assert editable_source(
        '{"url": "file:///srv/src/my%20theme", "dir_info": {"editable": true}}'
    ) == Path("/srv/src/my theme")
    assert editable_source('{"url": "file:///srv/src/x", "dir_info": {}}') is None
    assert editable_source('{"url": "https://example.org/x.whl"}') is None
    assert editable_source(None) is None
    assert editable_source("not json") is None


def test_discovery_from_configuration(tree):
    """A buildout-like instance: zope.conf with a wrapped storage, an egg, an
    editable distribution, a log handler."""
    from Zope2.Startup.options import ZopeWSGIOptions

    (tree / ".installed.cfg").write_text("[buildout]\n")
    for name in ("bin", "var/filestorage"):
        (tree / name).mkdir(parents=True)
    instance = tree / "parts/instance"
    (instance / "etc").mkdir(parents=True)
    conf = instance / "etc/zope.conf"
    conf.write_text(
        f"instancehome {instance}\nclienthome {tree}/var\n"
        "<zodb_db main>\n  <blobstorage>\n"
        f"    blob-dir {tree}/var/blobstorage\n"
        f"    <filestorage>\n      path {tree}/var/filestorage/Data.fs\n"
        "    </filestorage>\n  </blobstorage>\n  mount-point /\n</zodb_db>\n"
    )
    (tree / "var/instance.pid").write_text("1\n")
    ini = instance / "etc/zope.ini"
    ini.write_text(
        "[formatter_generic]\nformat = %(asctime)s %(message)s\n"
        "[handler_console]\nclass = StreamHandler\nargs = (sys.stderr,)\n"
        "[handler_eventlog]\nclass = logging.handlers.RotatingFileHandler\n"
        "args = (r'%(here)s/../../../var/log/instance.log', 'a')\n"
        "[handler_access]\nclass = FileHandler\n"
        f"kwargs = {{'filename': '{tree}/var/log/access.log'}}\n"
    )
    site_packages = tree / "site-packages"
    info = site_packages / "my.theme-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Name: my.theme\nVersion: 1.0\n")
    checkout = tree / "src/my.theme"
    checkout.mkdir(parents=True)
    (info / "direct_url.json").write_text(
        f'{{"url": "file://{checkout}", "dir_info": {{"editable": true}}}}'
    )
    egg = tree / "eggs/Zope-5.0-py3.11.egg"
    (egg / "EGG-INFO").mkdir(parents=True)
    (egg / "EGG-INFO/PKG-INFO").write_text("Name: Zope\nVersion: 5.0\n")
    log = logging.getLogger("collective.securitybp.test-discovery")
    handler = logging.FileHandler(tree / "var/event.log", delay=True)
    log.addHandler(handler)
    try:
        config = ZopeWSGIOptions(configfile=str(conf))().configroot
        layout = installation_layout(
            configuration=config, paths=[str(site_packages), str(egg)]
        )
    finally:
        log.removeHandler(handler)
    assert layout.process == ProcessIdentity.current()  # serving: no root given
    assert layout.instance_home == instance
    assert layout.client_home == tree / "var"
    assert layout.databases == (
        Database("main", tree / "var/filestorage/Data.fs", tree / "var/blobstorage"),
    )
    assert set(layout.log_files) >= {
        tree / "var/event.log",  # a handler of this process
        tree / "var/log/access.log",  # handlers of zope.ini
        tree / "var/log/instance.log",
    }
    # Not the interpreter's site-packages: where a distribution is installed.
    assert layout.code[DISTRIBUTIONS] == (site_packages, egg)
    assert layout.code[SOURCE_CHECKOUTS] == (checkout,)
    assert layout.code[INSTANCE_CONFIGURATION] == (instance, instance / "etc")
    assert layout.code[BUILDOUT] == (tree / "bin", tree / "parts")
    assert layout.config_files == (conf, ini)
    assert layout.searched == (
        tree / "var/filestorage/Data.fs.lock",
        tree / "var/Z4.pid",
        tree / "var/instance.pid",
    )


class TestDiscoveryInPlone:
    """The discovery inside the real plone.app.testing layer."""

    def context(self, portal):
        return AuditContext(
            site=portal,
            root=portal.getPhysicalRoot(),
            now=datetime.now(timezone.utc),
        )

    def test_sane_layout(self, portal):
        import Products.CMFPlone

        layout = installation_layout(root=portal.getPhysicalRoot())
        # The test layer's database is writable: this process serves it.
        assert layout.process == ProcessIdentity.current()
        assert Path(sysconfig.get_paths()["purelib"]) in layout.code[INTERPRETER]
        cmfplone = Path(Products.CMFPlone.__file__).parent
        assert cmfplone in layout.code[DISTRIBUTIONS]
        repository = Path(__file__).parent.parent
        assert repository in layout.code[SOURCE_CHECKOUTS]  # pip install -e
        assert layout.instance_home.is_absolute()
        for group, locations in layout.code.items():
            assert all(path.exists() for path in locations), group

    def test_checks_run_without_crashing(self, portal):
        context = self.context(portal)
        checks = [c for c in registered_checks() if c.id.startswith("SBP-PROC-")]
        assert [c.id for c in checks] == [f"SBP-PROC-{n:03d}" for n in range(1, 11)]
        for check in checks:
            for result in run_check(check, context):
                assert not result.title.startswith("Check could not run")

    def test_layout_discovered_once_per_audit(self, portal):
        context = self.context(portal)
        assert layout_for(context) is layout_for(context)
        assert layout_for(self.context(portal)) is not layout_for(context)


def test_environment_of_a_process_being_started_is_unknown():
    # Right after fork, before the program runs, /proc shows an empty
    # environment: that is "could not read", not "no variables".
    from collective.securitybp.processinfo import serving_environment

    proc = subprocess.Popen(["sleep", "120"], env={"container": "podman"})
    try:
        environment = process_environment(proc.pid)
        assert environment is None or environment.get("container") == "podman"
        started(proc)
        assert process_environment(proc.pid) == {"container": "podman"}
        identity = ProcessIdentity.from_proc(proc.pid)
        assert serving_environment(identity).complete
    finally:
        proc.kill()
        proc.wait()
