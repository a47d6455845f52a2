"""Who runs Zope, and where its code and data are on disk.

The process checks (``checks/process.py``) look at an
:class:`InstallationLayout`: plain paths and a process identity. Everything
that asks the running instance for them is in :func:`installation_layout`,
so the checks can be tested on a directory tree built for the test.

When the audit runs from the command line, the process that runs the audit
is not the one that serves the site: the command line opens the databases
read-only. Then the running instance is looked for, in this order, and its
user is read from ``/proc/<pid>/status`` (Linux):

1. a FileStorage lock file (``Data.fs.lock``) whose process still holds the
   lock (``/proc/locks``);
2. a pid file: zope.conf's ``pid-filename`` or ``<clienthome>/*.pid``,
   whose process is alive.

:func:`set_inspected_process` names the process to inspect instead, for a
caller that knows it better (for example a ``--pid`` option).

The environment of that process (:func:`serving_environment`) is read from
``/proc/<pid>/environ``, with zope.conf's ``<environment>`` section on top;
whether it runs in a container (:func:`container_of`) from its environment,
its root directory and its control group.
"""

from Acquisition import aq_base
from collective.securitybp import logger
from dataclasses import dataclass
from dataclasses import field
from importlib.metadata import distributions
from pathlib import Path
from urllib.parse import unquote
from urllib.parse import urlparse
import ast
import configparser
import grp
import json
import logging
import os
import pwd
import site
import stat
import sys
import sysconfig


# Where this process came from, as an InstallationLayout tells it.
SERVING = "serving"  # this process serves the site
DAEMON = "daemon"  # the running instance, found through a lock or pid file
GIVEN = "given"  # named with set_inspected_process()

# Groups of code locations; the names are the subjects of the findings.
INTERPRETER = "interpreter"
DISTRIBUTIONS = "distributions"
SOURCE_CHECKOUTS = "source checkouts"
INSTANCE_CONFIGURATION = "instance configuration"
BUILDOUT = "buildout"
CODE_GROUPS = (
    INTERPRETER,
    DISTRIBUTIONS,
    SOURCE_CHECKOUTS,
    INSTANCE_CONFIGURATION,
    BUILDOUT,
)

# The distributions whose packages are looked at one by one.
CORE_DISTRIBUTIONS = ("Plone", "Products.CMFPlone", "Zope", "collective.securitybp")
# Configuration files of the instance (in <instancehome>/etc).
CONFIGURATION_FILES = ("zope.conf", "zope.ini", "wsgi.ini")
# Storage sections nest other storages under these names.
NESTED_STORAGES = ("base", "changes")
BUILDOUT_MARKERS = (".installed.cfg", "bin/buildout")

PROC = Path("/proc")
# Files a container runtime leaves in the root of a container (docker, podman).
CONTAINER_MARKERS = (".dockerenv", "run/.containerenv")
# Words in /proc/<pid>/cgroup that tell a container's control group.
CONTAINER_CGROUPS = ("docker", "kubepods", "containerd", "libpod", "lxc")

_inspected_pid = None


def set_inspected_process(pid=None):
    """Inspect the process ``pid`` instead of finding it.

    For a caller that knows which process serves the instance, such as a
    command line option. The process checks then report that process's
    user, read from ``/proc/<pid>/status``.

    :param pid: a process id, or None to find the process again.
    """
    global _inspected_pid
    _inspected_pid = None if pid is None else int(pid)


@dataclass(frozen=True)
class ProcessIdentity:
    """The user and groups of one process."""

    pid: int
    uid: int
    gid: int
    groups: tuple = ()  # supplementary group ids
    origin: str = SERVING  # SERVING, DAEMON or GIVEN
    evidence: str = ""  # the lock or pid file the pid was read from

    @property
    def user(self):
        """The user name, or the uid when it has none."""
        try:
            return pwd.getpwuid(self.uid).pw_name
        except KeyError:
            return str(self.uid)

    @property
    def group(self):
        """The primary group's name, or the gid when it has none."""
        return group_name(self.gid)

    @property
    def gids(self):
        """The primary and supplementary group ids."""
        return frozenset((self.gid, *self.groups))

    @classmethod
    def current(cls):
        """This process: effective user and groups."""
        return cls(
            pid=os.getpid(),
            uid=os.geteuid(),
            gid=os.getegid(),
            groups=tuple(sorted(set(os.getgroups()))),
        )

    @classmethod
    def from_proc(cls, pid, origin=DAEMON, evidence=""):
        """Another process, from ``/proc/<pid>/status`` (effective ids).

        :returns: a :class:`ProcessIdentity`, or None when the process does
            not exist or its status cannot be read.
        """
        try:
            status = (PROC / str(pid) / "status").read_text()
        except (OSError, ValueError):
            return None
        fields = {}
        for line in status.splitlines():
            name, _sep, value = line.partition(":")
            fields[name] = value.split()
        try:
            return cls(
                pid=int(pid),
                uid=int(fields["Uid"][1]),
                gid=int(fields["Gid"][1]),
                groups=tuple(sorted({int(g) for g in fields.get("Groups", ())})),
                origin=origin,
                evidence=str(evidence),
            )
        except (KeyError, IndexError, ValueError):
            return None


def process_environment(pid):
    """The environment process ``pid`` was started with, from
    ``/proc/<pid>/environ``.

    :returns: a dict, or None when it cannot be read (another user's
        process, no ``/proc``, or a process that is being started, whose
        environment is still empty).
    """
    try:
        raw = (PROC / str(pid) / "environ").read_bytes()
    except (OSError, ValueError):
        return None
    if not raw:
        return None
    values = {}
    for entry in raw.split(b"\0"):
        name, sep, value = entry.decode("utf-8", "surrogateescape").partition("=")
        if sep and name:
            values[name] = value
    return values


def container_of(pid, environ=None):
    """The kind of container process ``pid`` runs in, or None.

    Told by the ``container`` environment variable (podman, systemd-nspawn,
    lxc set it), a runtime's marker file in the process's root directory,
    or its control group.

    :param environ: the process's environment, when already read.
    """
    if environ and environ.get("container"):
        return environ["container"]
    root = PROC / str(pid) / "root"
    for marker in CONTAINER_MARKERS:
        if file_kind(root / marker) is not None:
            return "podman" if "containerenv" in marker else "docker"
    try:
        cgroup = (PROC / str(pid) / "cgroup").read_text()
    except OSError:
        return None
    for word in CONTAINER_CGROUPS:
        if word in cgroup:
            return word
    return None


@dataclass(frozen=True)
class ServingEnvironment:
    """The environment variables of the process that serves the site.

    ``complete`` is False when only part is known: the serving process was
    not found, or its ``/proc/<pid>/environ`` could not be read; then
    ``values`` holds what zope.conf's ``<environment>`` section sets.
    """

    values: dict
    complete: bool
    process: ProcessIdentity = None

    def get(self, name, default=None):
        return self.values.get(name, default)


def serving_environment(process, configured=None):
    """What the environment of ``process`` holds.

    This process's own environment when it serves the site; else the one
    ``/proc/<pid>/environ`` shows, with zope.conf's ``<environment>``
    section on top (Zope sets those when it starts, after the process was
    created).

    :param process: a :class:`ProcessIdentity`, or None when not found.
    :param configured: the ``<environment>`` section of zope.conf.
    :returns: a :class:`ServingEnvironment`.
    """
    configured = dict(configured or {})
    if process is None:
        return ServingEnvironment(configured, False, None)
    if process.pid == os.getpid():
        return ServingEnvironment(dict(os.environ), True, process)
    started = process_environment(process.pid)
    if started is None:
        return ServingEnvironment(configured, False, process)
    return ServingEnvironment({**started, **configured}, True, process)


def group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


@dataclass(frozen=True)
class Database:
    """Where one database of zope.conf keeps its files."""

    name: str
    path: Path = None  # the FileStorage file, Data.fs
    blob_dir: Path = None


@dataclass(frozen=True)
class InstallationLayout:
    """What the process checks look at: plain paths and a process identity."""

    process: ProcessIdentity = None  # None: the serving process is unknown
    instance_home: Path = None
    client_home: Path = None
    databases: tuple = ()  # of Database
    log_files: tuple = ()
    code: dict = field(default_factory=dict)  # code group -> locations
    config_files: tuple = ()  # zope.conf and its kind, which may hold secrets
    reads_inituser: bool = False  # the root user folder still reads inituser
    searched: tuple = ()  # lock and pid files looked at to find the daemon
    container: str = None  # the kind of container the process runs in

    def data_locations(self):
        """What Zope must be able to write: ``(kind, path, is_dir)`` tuples.

        The kinds are the keys of ``checks.process.DATA_KINDS``.
        """
        locations = []
        if self.client_home:
            locations.append(("client home", self.client_home, True))
        for database in self.databases:
            if database.path:
                locations.append(("database directory", database.path.parent, True))
                locations.append(("database file", database.path, False))
            if database.blob_dir:
                locations.append(("blob directory", database.blob_dir, True))
        for log_file in self.log_files:
            locations.append(("log directory", log_file.parent, True))
            locations.append(("log file", log_file, False))
        seen, result = set(), []
        for kind, path, is_dir in locations:
            if path not in seen:
                seen.add(path)
                result.append((kind, path, is_dir))
        return tuple(result)


# Discovery


def file_kind(path):
    """``stat.S_IFREG``, ``stat.S_IFDIR``... of ``path`` (symbolic links
    followed), or None when it does not exist or cannot be looked at."""
    if path is None:
        return None
    try:
        return stat.S_IFMT(os.stat(path).st_mode)
    except (OSError, ValueError):
        return None


def installation_layout(root=None, configuration=None, paths=None):
    """Ask the running instance where its code and data are, and who runs it.

    Never raises: what cannot be found is left out (and logged).

    :param root: the Zope application root; tells whether this process
        serves the site (its main database is writable) and whether the root
        user folder still reads an ``inituser`` file.
    :param configuration: Zope's configuration; ``App.config.getConfiguration()``
        if omitted.
    :param paths: where to look for distributions; ``sys.path`` if omitted.
    :returns: an :class:`InstallationLayout`.
    """
    if configuration is None:
        from App.config import getConfiguration

        configuration = getConfiguration()
    instance_home = _path(getattr(configuration, "instancehome", None))
    client_home = _path(getattr(configuration, "clienthome", None))
    databases = tuple(_databases(configuration))
    config_files = ()
    if instance_home:
        config_files = tuple(
            path
            for name in CONFIGURATION_FILES
            if file_kind(path := instance_home / "etc" / name) == stat.S_IFREG
        )
    logs = tuple(sorted(_log_files() | ini_log_files(config_files)))
    data = {client_home, *(log.parent for log in logs)}
    for database in databases:
        data.update((database.blob_dir, database.path and database.path.parent))
    code = _code_locations(instance_home, paths)
    pid_files = _pid_files(configuration, client_home)
    lock_files = tuple(
        Path(f"{database.path}.lock") for database in databases if database.path
    )
    process = inspected_process(
        serving=_serves(root), lock_files=lock_files, pid_files=pid_files
    )
    container = None
    if process is not None:
        container = container_of(process.pid, process_environment(process.pid))
    return InstallationLayout(
        process=process,
        container=container,
        instance_home=instance_home,
        client_home=client_home,
        databases=databases,
        log_files=logs,
        code={
            group: tuple(p for p in locations if p not in data)
            for group, locations in code.items()
        },
        config_files=config_files,
        reads_inituser=_reads_inituser(root),
        searched=lock_files + pid_files,
    )


def _path(value):
    return Path(value).absolute() if value else None


def _serves(root):
    """True unless the main database is read-only (the command line)."""
    try:
        return not root._p_jar.db().storage.isReadOnly()
    except Exception:
        return True


def _reads_inituser(root):
    """True when Zope would read ``inituser`` into the root user folder.

    Only a plain User Folder with at most one user does
    (``OFS.userfolder.UserFolder._createInitialUser``).
    """
    users = aq_base(getattr(root, "acl_users", None))
    if users is None or not hasattr(users, "_createInitialUser"):
        return False
    return len(getattr(users, "data", ())) <= 1


def _databases(configuration):
    for database in getattr(configuration, "databases", None) or ():
        try:
            found = {}
            _storage_paths(database.config.storage, found)
            yield Database(
                name=database.name,
                path=_path(found.get("path")),
                blob_dir=_path(found.get("blob_dir")),
            )
        except Exception:
            logger.warning("Cannot read the storage of database %r", database)


def _storage_paths(factory, found):
    """Collect the FileStorage path and blob directory of a storage factory,
    looking into storages that wrap others (blobstorage, zlibstorage,
    demostorage, beforestorage).
    """
    section = getattr(factory, "config", None)
    if section is None:
        return
    if section.getSectionType() == "filestorage" and getattr(section, "path", None):
        found.setdefault("path", section.path)
    if getattr(section, "blob_dir", None):
        found.setdefault("blob_dir", section.blob_dir)
    nested = [getattr(section, name, None) for name in NESTED_STORAGES]
    nested.extend(getattr(section, "factories", None) or ())
    for inner in nested:
        if inner is not None:
            _storage_paths(inner, found)


def _log_files():
    """Files written by the logging handlers of this process (not devices
    such as ``/dev/null``)."""
    loggers = [logging.getLogger()] + [
        each
        for each in list(logging.Logger.manager.loggerDict.values())
        if isinstance(each, logging.Logger)
    ]
    files = {
        Path(handler.baseFilename)
        for each in loggers
        for handler in each.handlers
        if getattr(handler, "baseFilename", None)
    }
    return {path for path in files if file_kind(path) in (None, stat.S_IFREG)}


def ini_log_files(config_files):
    """Files of the file handlers configured in WSGI ``.ini`` files.

    The command line does not run the instance's logging configuration, so
    its handlers are read from the file: ``args`` or ``kwargs`` of a
    ``handler_*`` section whose class is a file handler, with ``%(here)s``
    as ``logging.config.fileConfig`` sees it.
    """
    found = set()
    for path in config_files:
        if path.suffix != ".ini":
            continue
        parser = configparser.ConfigParser(
            defaults={"here": str(path.parent), "__file__": str(path)}
        )
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as error:
            logger.debug("Cannot read %s: %s", path, error)
            continue
        for name in parser.sections():
            if not name.startswith("handler_"):
                continue
            section = parser[name]
            try:
                if "FileHandler" not in section.get("class", ""):
                    continue
                args = ast.literal_eval(section.get("args", "()") or "()")
                kwargs = ast.literal_eval(section.get("kwargs", "{}") or "{}")
                filename = kwargs.get("filename") or (args[0] if args else None)
            except (configparser.Error, ValueError, SyntaxError, TypeError) as error:
                logger.debug("Cannot read [%s] of %s: %s", name, path, error)
                continue
            if isinstance(filename, str):
                found.add(Path(os.path.normpath(path.parent / filename)))
    return found


def _pid_files(configuration, client_home):
    pid_files = []
    configured = getattr(configuration, "pid_filename", None)
    if configured:
        pid_files.append(Path(configured))
    if client_home and file_kind(client_home) == stat.S_IFDIR:
        try:
            pid_files.extend(sorted(client_home.glob("*.pid")))
        except OSError:
            logger.debug("Cannot list %s", client_home)
    return tuple(dict.fromkeys(pid_files))


def interpreter_locations():
    """The running interpreter's site-packages, and its virtualenv's scripts."""
    locations = [
        sysconfig.get_paths()["purelib"],
        sysconfig.get_paths()["platlib"],
        *getattr(site, "getsitepackages", list)(),
    ]
    user_site = getattr(site, "getusersitepackages", str)()
    if user_site and user_site in sys.path:
        locations.append(user_site)
    if sys.prefix != sys.base_prefix:
        locations.append(Path(sys.prefix) / "bin")
    return _existing(locations)


def _existing(paths):
    return tuple(dict.fromkeys(p for p in map(_path, paths) if file_kind(p)))


def _code_locations(instance_home, paths=None):
    """The code Zope runs, by group; every location is a file or directory."""
    interpreter = interpreter_locations()
    installed, checkouts = [], []
    for dist in distributions(path=paths if paths is not None else sys.path):
        try:
            location = _path(dist.locate_file(""))
            if location and location not in interpreter:
                installed.append(location)
            source = editable_source(dist.read_text("direct_url.json"))
            if source:
                checkouts.append(source)
        except Exception:
            logger.debug("Cannot read distribution %r", dist, exc_info=True)
    for name in CORE_DISTRIBUTIONS:
        try:
            installed.extend(package_directories(name, paths))
        except Exception:
            logger.debug("Cannot read the files of %s", name, exc_info=True)
    buildout = buildout_directory(instance_home)
    return {
        INTERPRETER: interpreter,
        DISTRIBUTIONS: _existing(installed),
        SOURCE_CHECKOUTS: _existing(checkouts),
        INSTANCE_CONFIGURATION: _existing(
            [instance_home, instance_home / "etc"] if instance_home else []
        ),
        BUILDOUT: _existing([buildout / "bin", buildout / "parts"] if buildout else []),
    }


def editable_source(direct_url):
    """The source checkout of an editable install, from ``direct_url.json``.

    :param direct_url: the file's text, or None.
    :returns: a :class:`Path`, or None when the install is not editable.
    """
    if not direct_url:
        return None
    try:
        data = json.loads(direct_url)
    except ValueError:
        return None
    url = urlparse(data.get("url", ""))
    if url.scheme != "file" or not (data.get("dir_info") or {}).get("editable"):
        return None
    return Path(unquote(url.path))


def package_directories(name, paths=None):
    """The top package directories of the distribution ``name``.

    The shallowest directories of its installed files that hold an
    ``__init__.py`` (from its RECORD); none for an editable install.
    """
    for dist in distributions(name=name, path=paths if paths is not None else sys.path):
        packages = {
            file.parent
            for file in dist.files or ()
            if file.name == "__init__.py" and file.parts[0] != ".."
        }
        return [
            dist.locate_file(package)
            for package in sorted(packages)
            if package.parent not in packages
        ]
    return []


def buildout_directory(instance_home):
    """The buildout the instance belongs to (``parts/instance``), or None."""
    if instance_home is None:
        return None
    for directory in list(instance_home.parents)[:3]:
        if any(file_kind(directory / marker) for marker in BUILDOUT_MARKERS):
            return directory
    return None


# The process


def inspected_process(serving=True, lock_files=(), pid_files=()):
    """The process whose user the checks judge.

    :param serving: whether this process serves the site; False when the
        audit runs from the command line (the databases are read-only).
    :param lock_files: FileStorage lock files, to find the running instance.
    :param pid_files: pid files, to find it when no lock file tells.
    :returns: a :class:`ProcessIdentity`, or None when this process does not
        serve the site and no running instance was found.
    """
    if _inspected_pid is not None:
        identity = ProcessIdentity.from_proc(_inspected_pid, origin=GIVEN)
        if identity is not None:
            return identity
        logger.warning("Cannot read process %s: finding it instead.", _inspected_pid)
    if serving:
        return ProcessIdentity.current()
    for lock_file in lock_files:
        pid = read_pid(lock_file)
        if pid == os.getpid():
            return ProcessIdentity.current()
        if pid and holds_lock(pid, lock_file):
            identity = ProcessIdentity.from_proc(pid, DAEMON, lock_file)
            if identity is not None:
                return identity
    for pid_file in pid_files:
        pid = read_pid(pid_file)
        if pid == os.getpid():
            return ProcessIdentity.current()
        if pid:
            identity = ProcessIdentity.from_proc(pid, DAEMON, pid_file)
            if identity is not None:
                return identity
    return None


def read_pid(path):
    """The process id in a lock or pid file, or None."""
    try:
        with open(path, "rb") as file:
            words = file.read(64).split()
        return int(words[0]) if words else None
    except (OSError, ValueError):
        return None


def holds_lock(pid, path):
    """Whether process ``pid`` holds a lock on ``path`` (``/proc/locks``).

    Tells a running instance from a stale lock file whose pid now belongs
    to another process. Without ``/proc/locks``: whether ``pid`` is alive.
    """
    try:
        inode = os.stat(path).st_ino
        lines = (PROC / "locks").read_text().splitlines()
    except OSError:
        return file_kind(PROC / str(pid)) is not None
    for line in lines:
        parts = line.split()
        if len(parts) > 5 and parts[1] == "->":
            continue  # a process waiting for the lock
        try:
            if int(parts[4]) == pid and int(parts[5].rsplit(":", 1)[1]) == inode:
                return True
        except (IndexError, ValueError):
            continue
    return False
