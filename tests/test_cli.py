"""The ``securitybp`` command line, run as a real process on a real instance.

A module-scoped fixture creates a Zope instance with a Plone site in a
temporary directory through ``scripts/demo_instance.py --create-only`` (the
code path of ``make start``); the tests then run the ``securitybp`` console
script as a subprocess, once also while the instance serves requests and
holds its ``Data.fs.lock``.
"""

from pathlib import Path
import contextlib
import fcntl
import json
import os
import pytest
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


REPO = Path(__file__).resolve().parent.parent
DEMO_SCRIPT = REPO / "scripts" / "demo_instance.py"
BIN = Path(sys.executable).parent
SECURITYBP = BIN / "securitybp"
TIMEOUT = 300  # seconds for one command; Zope starts in a few

REPORT_KEYS = {
    "site",
    "generated_at",
    "versions",
    "score",
    "grade",
    "summary",
    "findings",
    "acknowledged",
}
FINDING_KEYS = {
    "check_id",
    "area",
    "severity",
    "title",
    "detail",
    "remediation",
    "reference",
    "subject",
}


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def securitybp(*args, env=None):
    """Run the console script; returns the CompletedProcess (text)."""
    return subprocess.run(
        [str(SECURITYBP), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
    )


def assert_one_line_error(result):
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("securitybp"), result.stderr
    assert result.stdout == ""


def stat_of(path):
    info = path.stat()
    return info.st_size, info.st_mtime_ns


class DemoInstance:
    def __init__(self, directory, port):
        self.dir = directory
        self.port = port
        self.zope_conf = directory / "etc" / "zope.conf"
        self.data_fs = directory / "var" / "filestorage" / "Data.fs"
        self.lock_file = directory / "var" / "filestorage" / "Data.fs.lock"


@pytest.fixture(scope="module")
def instance(tmp_path_factory):
    """A Zope instance with the Plone site ``Plone`` and the add-on installed."""
    directory = tmp_path_factory.mktemp("demo") / "instance"
    port = free_port()
    result = subprocess.run(
        [
            sys.executable,
            str(DEMO_SCRIPT),
            "--create-only",
            "--dir",
            str(directory),
            "--port",
            str(port),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return DemoInstance(directory, port)


@pytest.fixture(scope="module")
def json_report(instance):
    """The default audit as JSON: no --site (the only site), no --fail-on."""
    result = securitybp("audit", "--zope-conf", instance.zope_conf, "--format", "json")
    return result


def test_demo_instance_files(instance):
    password_file = instance.dir / "admin-password.txt"
    assert password_file.stat().st_mode & 0o777 == 0o600
    password = password_file.read_text().strip()
    assert len(password) >= 16 and password != "admin"
    assert instance.data_fs.exists()
    ini = (instance.dir / "etc" / "zope.ini").read_text()
    assert f"listen = 127.0.0.1:{instance.port}" in ini


def test_audit_text_exits_1_at_default_threshold(instance):
    before = stat_of(instance.data_fs)
    result = securitybp("audit", "--zope-conf", instance.zope_conf, "--site", "Plone")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    out = result.stdout
    assert "Security report for /Plone" in out
    assert "Grade " in out and "Score " in out
    assert "SBP-PRIV-001" in out and "No Site Administrator" in out
    assert "SBP-PRIV-002" in out and "Subject: admin" in out
    assert "Privileges" in out
    assert "\033[" not in out  # not a terminal: no colour
    assert stat_of(instance.data_fs) == before


def test_audit_json_shape(instance, json_report):
    assert json_report.returncode == 1, json_report.stderr
    data = json.loads(json_report.stdout)
    assert set(data) >= REPORT_KEYS
    assert set(data["versions"]) == {
        "plone",
        "zope",
        "python",
        "securitybp",
        "advisories",
        "advisories_source",
    }
    assert data["versions"]["advisories"] is not None
    assert data["versions"]["advisories_source"] == "shipped with collective.securitybp"
    assert data["history"]["days"] == []
    assert data["site"] == "/Plone"
    assert data["fail_on"] == "high"
    assert data["failed"] is True
    assert data["findings"], data
    for finding in data["findings"]:
        assert set(finding) >= FINDING_KEYS, finding
    by_id = {f["check_id"]: f for f in data["findings"]}
    assert by_id["SBP-PRIV-001"]["severity"] == "low"
    assert by_id["SBP-PRIV-001"]["title"] == "No Site Administrator"
    assert by_id["SBP-PRIV-002"]["severity"] == "low"
    assert by_id["SBP-PRIV-002"]["subject"] == "admin"
    assert data["acknowledged"] == []
    assert data["summary"]["high"] >= 1


@pytest.mark.parametrize(
    "fail_on,site", [("critical", "/Plone"), ("never", "Plone"), ("CRITICAL", None)]
)
def test_fail_on_above_the_findings_exits_0(instance, fail_on, site):
    args = ["audit", "--zope-conf", instance.zope_conf, "--format", "json"]
    args += ["--fail-on", fail_on]
    if site:
        args += ["--site", site]
    result = securitybp(*args)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["fail_on"] == fail_on.lower()
    assert data["failed"] is False
    assert {"SBP-PRIV-001", "SBP-PRIV-002"} <= {f["check_id"] for f in data["findings"]}


def test_fail_on_medium_exits_1(instance):
    result = securitybp(
        "audit", "--zope-conf", instance.zope_conf, "--fail-on", "medium"
    )
    assert result.returncode == 1, result.stderr
    assert "FAILED" in result.stdout


def test_missing_zope_conf(tmp_path):
    result = securitybp("audit", "--zope-conf", tmp_path / "nope" / "zope.conf")
    assert_one_line_error(result)
    assert "zope.conf" in result.stderr


def test_no_such_site(instance):
    result = securitybp("audit", "--zope-conf", instance.zope_conf, "--site", "Nope")
    assert_one_line_error(result)
    assert "Nope" in result.stderr and "/Plone" in result.stderr


def test_not_a_site(instance):
    result = securitybp(
        "audit", "--zope-conf", instance.zope_conf, "--site", "/acl_users"
    )
    assert_one_line_error(result)


def test_missing_database_file_is_not_created(instance, tmp_path):
    storage_dir = tmp_path / "filestorage"
    storage_dir.mkdir()
    missing = storage_dir / "Data.fs"
    conf = tmp_path / "zope.conf"
    original = "path $INSTANCE/var/filestorage/Data.fs"
    assert original in instance.zope_conf.read_text()
    conf.write_text(instance.zope_conf.read_text().replace(original, f"path {missing}"))
    result = securitybp("audit", "--zope-conf", conf, "--site", "Plone")
    assert_one_line_error(result)
    assert str(missing) in result.stderr
    assert not missing.exists()
    assert list(storage_dir.iterdir()) == []


def test_invalid_fail_on(instance):
    result = securitybp(
        "audit", "--zope-conf", instance.zope_conf, "--fail-on", "sometimes"
    )
    assert_one_line_error(result)
    assert "--fail-on" in result.stderr and "critical" in result.stderr


def test_usage_errors_exit_2():
    assert_one_line_error(securitybp())
    assert_one_line_error(securitybp("audit"))  # --zope-conf is required
    assert_one_line_error(securitybp("audit", "--zope-conf", "x", "--format", "xml"))


ADD_SECOND_SITE = """
import sys
import transaction
sys.path.insert(0, sys.argv[1])
import demo_instance
from OFS.Folder import manage_addFolder
from plone.distribution.api import site as site_api

app = demo_instance.start_zope(demo_instance.Instance(sys.argv[2]))
manage_addFolder(app, "folder")
transaction.commit()  # site_api.create begins (and so aborts) a transaction
site_api.create(
    app.folder, "classic", {"site_id": "Other", "title": "Other", "setup_content": False}
)
transaction.commit()
demo_instance.stop_zope()
"""


@pytest.fixture(scope="module")
def two_sites(instance, tmp_path_factory):
    """A copy of the instance with a second site, /folder/Other."""
    directory = tmp_path_factory.mktemp("two") / "instance"
    shutil.copytree(instance.dir, directory)
    conf = directory / "etc" / "zope.conf"
    conf.write_text(conf.read_text().replace(str(instance.dir), str(directory)))
    result = subprocess.run(
        [sys.executable, "-c", ADD_SECOND_SITE, DEMO_SCRIPT.parent, directory],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return DemoInstance(directory, instance.port)


def test_several_sites_need_site(two_sites):
    result = securitybp("audit", "--zope-conf", two_sites.zope_conf)
    assert_one_line_error(result)
    assert "/Plone" in result.stderr and "/folder/Other" in result.stderr
    assert "--site" in result.stderr


def test_site_path_with_folders(two_sites):
    result = securitybp(
        "audit",
        "--zope-conf",
        two_sites.zope_conf,
        "--site",
        "/folder/Other",
        "--format",
        "json",
        "--fail-on",
        "never",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["site"] == "/folder/Other"


def test_checks_without_zope_conf(integration):
    from collective.securitybp.audit import registered_checks
    from collective.securitybp.docs import checks_table_rst

    result = securitybp("checks")
    assert result.returncode == 0, result.stderr
    assert "SBP-PRIV-001" in result.stdout
    assert "SBP-PRIV-002" in result.stdout
    assert "No Site Administrator" in result.stdout
    result = securitybp("checks", "--format", "json")
    assert result.returncode == 0, result.stderr
    checks = {c["id"]: c for c in json.loads(result.stdout)["checks"]}
    assert checks["SBP-PRIV-001"]["area"] == "privileges"
    assert checks["SBP-PRIV-001"]["severity"] == "low"
    assert checks["SBP-PRIV-002"]["severity"] == "low"
    # One source: the list, the docs' table and the report agree.
    header = checks["SBP-HEADER-002"]
    assert (header["severity"], header["cases"]) == ("medium", {"report-only": "low"})
    assert header["severities"] == "medium; report-only: low"
    assert "medium; report-only: low" in securitybp("checks").stdout
    table = checks_table_rst(registered_checks())
    row = table.split("<sbp-header-002>`", 1)[1].split("* -", 1)[0]
    assert [line.strip() for line in row.splitlines()[1:3]] == [
        "- Headers",
        "- medium; report-only: low",
    ]


def test_checks_with_zope_conf(instance):
    result = securitybp("checks", "--zope-conf", instance.zope_conf)
    assert result.returncode == 0, result.stderr
    assert "SBP-PRIV-001" in result.stdout
    assert "SBP-PRIV-002" in result.stdout


def test_colour_only_on_a_terminal(monkeypatch):
    from collective.securitybp.cli import use_colour

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    main_fd, terminal_fd = os.openpty()
    try:
        with open(terminal_fd, "w") as terminal, open(os.devnull, "w") as devnull:
            assert use_colour(terminal)
            assert not use_colour(devnull)
            monkeypatch.setenv("NO_COLOR", "1")
            assert not use_colour(terminal)
    finally:
        os.close(main_fd)


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def lock_is_held(path):
    """True when another process holds the zc.lockfile lock on ``path``."""
    with open(path, "a+") as stream:
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(stream.fileno(), fcntl.LOCK_UN)
        return False


@contextlib.contextmanager
def serving(instance, env=None):
    """Run the instance with runwsgi (through demo_instance.py, as make start),
    with ``env`` as its environment if given."""
    output = instance.dir / "serve.log"
    with open(output, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                str(DEMO_SCRIPT),
                "--dir",
                str(instance.dir),
                "--port",
                str(instance.port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{instance.port}/"
    try:
        deadline = time.monotonic() + TIMEOUT
        while http_status(url) is None:
            if process.poll() is not None:
                pytest.fail(f"the instance stopped: {output.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the instance did not answer: {output.read_text()}")
            time.sleep(0.5)
        yield process, output
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_audit_while_the_instance_runs(instance):
    with serving(instance) as (process, output):
        site_url = f"http://127.0.0.1:{instance.port}/Plone"
        assert http_status(site_url) == 200
        assert lock_is_held(instance.lock_file)
        before = stat_of(instance.data_fs)

        result = securitybp(
            "audit", "--zope-conf", instance.zope_conf, "--format", "json"
        )

        assert stat_of(instance.data_fs) == before
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        data = json.loads(result.stdout)
        assert set(data) >= REPORT_KEYS
        assert {"SBP-PRIV-001", "SBP-PRIV-002"} <= {
            f["check_id"] for f in data["findings"]
        }
        assert process.poll() is None
        assert lock_is_held(instance.lock_file)
        assert http_status(site_url) == 200
    log = output.read_text()
    # make start's second run reuses the instance and prints how to log in
    assert "Creating" not in log
    # The printed URLs use localhost: Plone un-themes 127.0.0.1.
    assert f"http://localhost:{instance.port}/Plone/@@security-report" in log
    assert "Login:           admin" in log


def without(*names):
    """This process's environment without ``names``."""
    return {k: v for k, v in os.environ.items() if k not in names}


def by_check(data, check_id):
    """``(severity, subject)`` of the findings of a check, consequences too."""
    found = []
    for finding in data["findings"]:
        for item in (finding, *finding["consequences"]):
            if item["check_id"] == check_id:
                found.append((item["severity"], item["subject"]))
    return found


def test_audit_reads_the_environment_of_the_serving_process(instance):
    # CSRF protection is switched off in the server's environment only.
    server_env = dict(without("PLONE_CSRF_DISABLED"), PLONE_CSRF_DISABLED="true")
    with serving(instance, env=server_env) as (process, _output):
        result = securitybp(
            "audit",
            "--zope-conf",
            instance.zope_conf,
            "--format",
            "json",
            env=without("PLONE_CSRF_DISABLED"),
        )
        assert result.returncode == 1, result.stderr
        data = json.loads(result.stdout)
        assert by_check(data, "SBP-CONF-004") == [("critical", "PLONE_CSRF_DISABLED")]
        [finding] = [f for f in data["findings"] if f["check_id"] == "SBP-CONF-004"]
        assert "the running instance found through" in finding["detail"]
        assert by_check(data, "SBP-CONF-017") == []
        assert data["grade"] == "F"
        # The text form names the process and shows the commands unwrapped.
        text = securitybp(
            "audit",
            "--zope-conf",
            instance.zope_conf,
            env=without("PLONE_CSRF_DISABLED"),
        ).stdout
        words = " ".join(text.split())
        assert "CSRF protection is off" in words
        assert "Inspected: process " in words


def test_audit_ignores_its_own_environment(instance):
    # The command's environment says nothing about the server's.
    with serving(instance, env=without("PLONE_CSRF_DISABLED")):
        result = securitybp(
            "audit",
            "--zope-conf",
            instance.zope_conf,
            "--format",
            "json",
            env=dict(os.environ, PLONE_CSRF_DISABLED="true"),
        )
        data = json.loads(result.stdout)
        assert by_check(data, "SBP-CONF-004") == []
        # Running as root: the writable code follows from SBP-PROC-001.
        [root] = [f for f in data["findings"] if f["check_id"] == "SBP-PROC-001"]
        assert root["severity"] in ("critical", "high")  # high in a container
        consequences = {c["check_id"] for c in root["consequences"]}
        assert consequences == {"SBP-PROC-003"}
        assert not any(f["check_id"] == "SBP-PROC-003" for f in data["findings"])
        assert data["score"] > 0


READ_ROTATIONS = """\
from plone.keyring.interfaces import IKeyManager
from zope.component import getUtility
from zope.component.hooks import setSite

setSite(app.unrestrictedTraverse("/Plone"))
manager = getUtility(IKeyManager)
print(min(manager[name].last_rotation for name in manager))
"""


def test_keyring_rotation_command_runs_on_the_instance(instance, tmp_path):
    # SBP-CONF-011's command, as the finding gives it, on the stopped
    # instance: every ring of the site is rotated afterwards.
    from collective.securitybp.checks.configuration import rotate_commands

    before = time.time()
    [command] = rotate_commands("/Plone", instance.zope_conf)
    for _round in range(2):  # safe to run twice
        done = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, timeout=TIMEOUT
        )
        assert done.returncode == 0, done.stderr
    script = tmp_path / "read.py"
    script.write_text(READ_ROTATIONS)
    done = subprocess.run(
        [str(BIN / "zconsole"), "run", str(instance.zope_conf), str(script)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    assert float(done.stdout.strip().splitlines()[-1]) >= before
