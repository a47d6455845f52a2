"""Process and files: who runs Zope, and what it can change on disk.

Section "Use dedicated Unix user accounts": a build user (plone_buildout)
owns the code, a daemon user (plone_daemon) runs Zope and can write only its
``var`` directory, both in one group (plone_group).

The checks judge an :class:`~collective.securitybp.processinfo.InstallationLayout`
(``inspect(layout)``); ``run(context)`` asks the running instance for it once
per audit. Permissions are judged from owners and mode bits only: access
control lists, read-only mounts and SELinux/AppArmor rules are not seen. No
check walks a whole tree: a code location is judged with its direct entries
only (at most ``MAX_ENTRIES``), and at most ``MAX_BLOB_SAMPLE`` blob files
are looked at.
"""

from collective.securitybp import _
from collective.securitybp import references
from collective.securitybp.checks.base import Check
from collective.securitybp.model import Area
from collective.securitybp.model import Severity
from collective.securitybp.processinfo import DAEMON
from collective.securitybp.processinfo import file_kind
from collective.securitybp.processinfo import GIVEN
from collective.securitybp.processinfo import group_name
from collective.securitybp.processinfo import installation_layout
from collective.securitybp.processinfo import ProcessIdentity
from pathlib import Path
import os
import pwd
import re
import shlex
import stat


MAX_ENTRIES = 2000  # direct entries judged per code location
MAX_SHOWN = 10  # paths named in one finding
MAX_BLOB_SAMPLE = 200  # blob files looked at per blob directory
MAX_PER_DIRECTORY = 64  # entries read per directory while sampling blobs
MAX_BLOB_DIRECTORIES = 1000  # directories read while sampling blobs
MAX_CONFIG_SIZE = 1024 * 1024  # configuration files read for credentials

WRITE = 0o2
EXECUTE = 0o1
OTHERS_READ_WRITE = stat.S_IROTH | stat.S_IWOTH

BUILD_USER = "plone_buildout"
DAEMON_USER = "plone_daemon"
SHARED_GROUP = "plone_group"

DATA_KINDS = {
    "client home": _("client home"),
    "database directory": _("database directory"),
    "database file": _("database file"),
    "blob directory": _("blob directory"),
    "log directory": _("log directory"),
    "log file": _("log file"),
}
DATABASE_FILE_SUFFIXES = ("", ".index", ".old")

# Lines of zope.conf / zope.ini that hold a credential; values never shown.
CREDENTIAL_PATTERNS = (
    # "password secret", "smtp_pass = secret", "%define DB_PASSWORD secret"
    re.compile(
        r"^\s*(?:%define\s+)?[\w.-]*(?:passw(?:or)?d|_pass|pwd|secret)[\w.-]*"
        r"\s*(?:[=:]\s*|\s+)[^\s$]",
        re.IGNORECASE,
    ),
    # a DSN: dsn "dbname='zodb' user='zope' password='secret'"
    re.compile(r"\bpass(?:word|wd)?\s*=\s*['\"]?[^\s'\"$]", re.IGNORECASE),
    # a URL with a password: mysql://zope:secret@db/zodb
    re.compile(r"://[^\s/:@]+:[^\s/@]+@"),
)


# What the checks look at, once per audit


def layout_for(context):
    """The installation layout of this audit, discovered once per audit."""
    return context.shared(
        "process.layout", lambda ctx: installation_layout(root=ctx.root)
    )


# Permissions


def mode_of(st):
    return f"{stat.S_IMODE(st.st_mode):04o}"


def owner_of(st):
    try:
        return pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        return str(st.st_uid)


def _stat(path):
    try:
        return os.stat(path)
    except OSError:
        return None


def permission_bits(st, identity):
    """The rwx bits that apply to ``identity`` (owner, group or others)."""
    mode = stat.S_IMODE(st.st_mode)
    if st.st_uid == identity.uid:
        return (mode >> 6) & 0o7
    if st.st_gid in identity.gids:
        return (mode >> 3) & 0o7
    return mode & 0o7


def can_write(st, identity):
    """Whether ``identity`` may change a file, or add and replace entries of
    a directory (which needs write and search permission)."""
    if identity.uid == 0:
        return True
    needed = WRITE | EXECUTE if stat.S_ISDIR(st.st_mode) else WRITE
    return permission_bits(st, identity) & needed == needed


def others_reach(path):
    """Whether every user of the machine can get to ``path``: each directory
    above it grants others search permission."""
    for parent in Path(path).parents:
        st = _stat(parent)
        if st is None or not st.st_mode & stat.S_IXOTH:
            return False
    return True


def code_entries(locations, limit=MAX_ENTRIES):
    """The locations and their direct entries: ``(location, path, stat)``.

    :param locations: files or directories.
    :param limit: direct entries read per directory, so big ones stay cheap.
    """
    seen = set()
    for location in locations:
        st = _stat(location)
        if st is None or location in seen:
            continue
        seen.add(location)
        yield location, location, st
        if not stat.S_ISDIR(st.st_mode):
            continue
        try:
            with os.scandir(location) as entries:
                for number, entry in enumerate(entries):
                    if number >= limit:
                        break
                    path = Path(entry.path)
                    entry_stat = _stat(path)
                    if entry_stat is not None and path not in seen:
                        seen.add(path)
                        yield location, path, entry_stat
        except OSError:
            continue


def matching_code(locations, predicate, skip=frozenset()):
    """Paths of code entries for which ``predicate(stat)`` holds; an entry of
    a location that holds itself is left out (the location says it all)."""
    found, hit_locations = [], set()
    for location, path, st in code_entries(locations):
        if path in skip or location in hit_locations:
            continue
        if predicate(st):
            found.append((path, st))
            if path == location:
                hit_locations.add(location)
    return found


def code_groups(layout, skip=frozenset()):
    """``(group, locations, skip)`` of the layout's code, in a stable order;
    ``skip`` holds the data locations, which are not code."""
    data = {path for _kind, path, _is_dir in layout.data_locations()} | set(skip)
    for group, locations in layout.code.items():
        locations = tuple(p for p in locations if p not in data)
        if locations:
            yield group, locations, frozenset(data)


def shown(paths):
    """Paths as one line, at most ``MAX_SHOWN`` of them."""
    paths = [str(p) for p in paths]
    if len(paths) > MAX_SHOWN:
        rest = len(paths) - MAX_SHOWN
        return ", ".join(paths[:MAX_SHOWN]) + f" and {rest} more"
    return ", ".join(paths)


def quoted(paths):
    """Paths for a shell command, leaving out those inside another one."""
    paths = sorted(set(map(Path, paths)))
    kept = [p for p in paths if not any(q in p.parents for q in paths)]
    return " ".join(shlex.quote(str(p)) for p in kept)


def describe(identity):
    """Which process was inspected, as a translatable text."""
    groups = ", ".join(f"{group_name(g)} ({g})" for g in identity.groups) or "-"
    mapping = {
        "pid": identity.pid,
        "user": identity.user,
        "uid": identity.uid,
        "group": identity.group,
        "gid": identity.gid,
        "groups": groups,
        "evidence": identity.evidence,
    }
    if identity.origin == DAEMON:
        return _(
            "process ${pid}, the running instance found through ${evidence} "
            "(user ${user}, uid ${uid}, group ${group}, gid ${gid}, groups "
            "${groups})",
            mapping=mapping,
        )
    if identity.origin == GIVEN:
        return _(
            "process ${pid}, named with set_inspected_process() (user ${user}, "
            "uid ${uid}, group ${group}, gid ${gid}, groups ${groups})",
            mapping=mapping,
        )
    return _(
        "process ${pid}, the one serving this site (user ${user}, uid ${uid}, "
        "group ${group}, gid ${gid}, groups ${groups})",
        mapping=mapping,
    )


def code_paths(layout):
    return [p for _group, locations, _skip in code_groups(layout) for p in locations]


def data_directories(layout):
    return [path for _kind, path, is_dir in layout.data_locations() if is_dir]


def account_commands(layout):
    """The commands that set up the document's two accounts for this layout."""
    code = quoted(code_paths(layout)) or "CODE"
    data = quoted(data_directories(layout)) or "VAR"
    return (
        f"groupadd {SHARED_GROUP}; "
        f"useradd --system --gid {SHARED_GROUP} --shell /usr/sbin/nologin "
        f"{BUILD_USER}; "
        f"useradd --system --gid {SHARED_GROUP} --shell /usr/sbin/nologin "
        f"{DAEMON_USER}; "
        f"chown -R {BUILD_USER}:{SHARED_GROUP} {code}; "
        f"chmod -R u+rwX,g+rX,g-w,o-rwx {code}; "
        f"chown -R {DAEMON_USER}:{SHARED_GROUP} {data}; "
        f"chmod -R u+rwX,g+rX,o-rwx {data}"
    )


# The checks


class ProcessCheck(Check):
    """A check of the process and its files: ``inspect(layout)`` does the work."""

    area = Area.PROCESS
    reference = references.UNIX_ACCOUNTS

    def run(self, context):
        return self.inspect(layout_for(context))

    def inspect(self, layout):  # pragma: no cover - every check overrides it
        raise NotImplementedError


class RunsAsRoot(ProcessCheck):
    """Zope runs as root.

    A flaw in Zope, Plone or any add-on then gives an attacker the whole
    machine. The check reads the effective user of the process that serves
    the site: this process for the report page, and for the command line
    the running instance, found through its FileStorage lock file or its
    pid file and read from ``/proc`` (see SBP-PROC-010 when it is not
    found). The finding names the process inspected and its user, uid, gid
    and groups, and gives the commands that set up the document's
    plone_buildout / plone_daemon / plone_group accounts for the paths found.

    Example finding: "Zope runs as root" (critical), "Inspected: process
    4242, the one serving this site (user root, uid 0, ...)".
    """

    id = "SBP-PROC-001"
    title = _("Zope runs as root")
    severity = Severity.CRITICAL

    def inspect(self, layout):
        identity = layout.process
        if identity is None or identity.uid != 0:
            return []
        return [
            self.finding(
                detail=_(
                    "Zope runs as root, so a flaw in Zope, Plone or an add-on "
                    "gives an attacker the whole machine instead of one "
                    "account that can only write the site's data. Inspected: "
                    "${process}.",
                    mapping={"process": describe(identity)},
                ),
                remediation=_(
                    "Run the instance as an unprivileged user that cannot "
                    "change its code. As root: ${commands}. Then start the "
                    "instance as ${daemon} (User=${daemon} in its systemd "
                    "unit, or sudo -u ${daemon}), and let a web server in "
                    "front of it use the ports below 1024.",
                    mapping={
                        "commands": account_commands(layout),
                        "daemon": DAEMON_USER,
                    },
                ),
            )
        ]


class OwnsCode(ProcessCheck):
    """The user that runs Zope owns the code it runs.

    The document asks for two accounts: plone_buildout owns the code,
    plone_daemon runs Zope. An owner can always make its files writable
    (chmod), so when one user does both, a flaw in the site can change the
    code even where the modes do not allow it today. Looks at the locations
    of SBP-PROC-003 and their direct entries; not reported for root (that
    is SBP-PROC-001).

    Example finding: "The user running Zope owns its code" (high), "The user
    zope that runs Zope owns 3 code locations: /srv/plone/.venv/lib/
    python3.11/site-packages, ...".
    """

    id = "SBP-PROC-002"
    title = _("The user running Zope owns its code")
    severity = Severity.HIGH

    def inspect(self, layout):
        identity = layout.process
        if identity is None or identity.uid == 0:
            return []
        owned = []
        for _group, locations, skip in code_groups(layout):
            owned.extend(
                path
                for path, _st in matching_code(
                    locations, lambda st: st.st_uid == identity.uid, skip
                )
            )
        if not owned:
            return []
        return [
            self.finding(
                detail=_(
                    "The user ${user} that runs Zope owns ${count} code "
                    "location(s): ${paths}. An owner can always make its "
                    "files writable, so the two accounts the document asks "
                    "for (one owning the code, one running Zope) are missing. "
                    "Inspected: ${process}.",
                    mapping={
                        "user": identity.user,
                        "count": len(owned),
                        "paths": shown(owned),
                        "process": describe(identity),
                    },
                ),
                remediation=_(
                    "Give the code to a build user and run Zope as a daemon "
                    "user in the same group. As root: ${commands}. Then start "
                    "the instance as ${daemon}, and run buildout or pip as "
                    "${build}.",
                    mapping={
                        "commands": account_commands(layout),
                        "daemon": DAEMON_USER,
                        "build": BUILD_USER,
                    },
                ),
            )
        ]


class CodeWritable(ProcessCheck):
    """The user that runs Zope can change code it runs.

    One finding per group of locations (the subject), listing the paths:

    - ``interpreter``: the running interpreter's site-packages, and its
      virtualenv's ``bin``;
    - ``distributions``: where distributions outside site-packages are
      installed (eggs, develop checkouts), and the package directories of
      Plone, Products.CMFPlone, Zope and collective.securitybp;
    - ``source checkouts``: editable installs, from their
      ``direct_url.json``;
    - ``instance configuration``: the instance home and its ``etc``
      (zope.conf, zope.ini, site.zcml);
    - ``buildout``: buildout's ``bin`` and ``parts``, when the instance is
      part of a buildout.

    A location counts when the process may write to it or to one of its
    direct entries (mode bits and owners; root may write everything). The
    data Zope must write (SBP-PROC-004) is left out. Deeper files are not
    looked at, so that the check stays fast on big installations.

    Example finding: "Zope can change its own code" (high), subject
    "interpreter", "The process can write to 1 location(s) of interpreter:
    /srv/plone/.venv/lib/python3.11/site-packages. ...".
    """

    id = "SBP-PROC-003"
    title = _("Zope can change its own code")
    severity = Severity.HIGH

    def inspect(self, layout):
        identity = layout.process
        if identity is None:
            return []
        findings = []
        for group, locations, skip in code_groups(layout):
            writable = matching_code(
                locations, lambda st: can_write(st, identity), skip
            )
            if not writable:
                continue
            paths = [path for path, _st in writable]
            findings.append(
                self.finding(
                    subject=group,
                    detail=_(
                        "The process can write to ${count} location(s) of "
                        "${group}, so a flaw in the site lets an attacker "
                        "change the code it runs: ${paths}. Inspected: "
                        "${process}.",
                        mapping={
                            "count": len(paths),
                            "group": group,
                            "paths": shown(paths),
                            "process": describe(identity),
                        },
                    ),
                    remediation=_(
                        "Give these locations to the build user and take "
                        "away write access from the others. As root: "
                        "chown -R ${build}:${shared} ${paths}; chmod -R "
                        "u+rwX,g+rX,g-w,o-rwx ${paths}; and run Zope as "
                        "${daemon}, a member of ${shared} (create the "
                        "accounts with: groupadd ${shared}; useradd --system "
                        "--gid ${shared} --shell /usr/sbin/nologin ${build}; "
                        "useradd --system --gid ${shared} --shell "
                        "/usr/sbin/nologin ${daemon}).",
                        mapping={
                            "paths": quoted(locations),
                            "build": BUILD_USER,
                            "daemon": DAEMON_USER,
                            "shared": SHARED_GROUP,
                        },
                    ),
                )
            )
        return findings


class DataNotWritable(ProcessCheck):
    """Zope cannot write data it must write.

    The client home (``var``), each FileStorage file and its directory
    (Zope writes the index, lock and pack files beside it), each blob
    directory, and the files of the process's logging handlers and their
    directories. A missing location counts as writable when the process can
    create it in the nearest directory that exists. One finding per path
    (the subject). Mode bits and owners only; root may write everything.

    Example finding: "Zope cannot write its data" (high), subject
    "/srv/plone/var/blobstorage", "The process cannot write to the blob
    directory /srv/plone/var/blobstorage (owner plone_buildout, mode
    0755). ...".
    """

    id = "SBP-PROC-004"
    title = _("Zope cannot write its data")
    severity = Severity.HIGH

    def inspect(self, layout):
        identity = layout.process
        if identity is None:
            return []
        findings = []
        for kind, path, is_dir in layout.data_locations():
            checked = path
            while (st := _stat(checked)) is None and checked.parent != checked:
                checked = checked.parent
            if st is None or can_write(st, identity):
                continue
            mapping = {
                "kind": DATA_KINDS[kind],
                "path": str(path),
                "checked": str(checked),
                "owner": owner_of(st),
                "mode": mode_of(st),
                "process": describe(identity),
            }
            if checked == path:
                detail = _(
                    "The process cannot write to the ${kind} ${path} (owner "
                    "${owner}, mode ${mode}), so the site fails when it "
                    "needs to. Inspected: ${process}.",
                    mapping=mapping,
                )
            else:
                detail = _(
                    "The ${kind} ${path} does not exist, and the process "
                    "cannot create it in ${checked} (owner ${owner}, mode "
                    "${mode}), so the site fails when it needs to. "
                    "Inspected: ${process}.",
                    mapping=mapping,
                )
            findings.append(
                self.finding(
                    subject=str(path),
                    detail=detail,
                    remediation=_(
                        "Give it to the user that runs Zope. As root: "
                        "mkdir -p ${directory}; chown -R ${user}:${shared} "
                        "${target}; chmod -R u+rwX,o-rwx ${target}",
                        mapping={
                            "directory": shlex.quote(
                                str(path if is_dir else path.parent)
                            ),
                            "target": shlex.quote(str(path)),
                            "user": identity.user,
                            "shared": SHARED_GROUP,
                        },
                    ),
                )
            )
        return findings


def sample_blobs(blob_dir, limit=MAX_BLOB_SAMPLE):
    """Up to ``limit`` blob files below ``blob_dir`` that every user of the
    machine can reach, with their stat; reads a bounded number of entries.

    :returns: ``(sampled, exposed)``: the number of blob files looked at, and
        ``(path, stat)`` of those others can read or write.
    """
    sampled, exposed, directories = 0, [], 0
    stack = [Path(blob_dir)]
    while stack and sampled < limit and directories < MAX_BLOB_DIRECTORIES:
        directory = stack.pop()
        directories += 1
        try:
            with os.scandir(directory) as entries:
                for number, entry in enumerate(entries):
                    if number >= MAX_PER_DIRECTORY or sampled >= limit:
                        break
                    if entry.is_dir(follow_symlinks=False):
                        if entry.stat().st_mode & stat.S_IXOTH:
                            stack.append(Path(entry.path))
                    elif entry.name.endswith(".blob"):
                        sampled += 1
                        st = entry.stat()
                        if st.st_mode & OTHERS_READ_WRITE:
                            exposed.append((Path(entry.path), st))
        except OSError:
            continue
    return sampled, exposed


class DataReadableByOthers(ProcessCheck):
    """Every user of the machine can read or write the database.

    Looks at each FileStorage's ``Data.fs``, ``Data.fs.index`` and
    ``Data.fs.old`` (left by packing) and at the blob directory, and at up
    to 200 of its blob files: a file counts when others may read or write
    it and every directory above it lets them through; the blob directory
    counts when others may list or write it. The database holds every
    page, every file and the users' password hashes. One finding per
    database (the subject, as named in zope.conf). Storages that are not
    files (ZEO, RelStorage) are judged on their servers, not here.

    Example finding: "Database files readable by every user" (high),
    subject "main", "/srv/plone/var/filestorage/Data.fs (0644), ...".
    """

    id = "SBP-PROC-005"
    title = _("Database files readable by every user")
    severity = Severity.HIGH

    def inspect(self, layout):
        findings = []
        for database in layout.databases:
            exposed, blobs, sampled = [], [], 0
            for suffix in DATABASE_FILE_SUFFIXES if database.path else ():
                path = Path(f"{database.path}{suffix}")
                st = _stat(path)
                if st and st.st_mode & OTHERS_READ_WRITE and others_reach(path):
                    exposed.append((path, st))
            st = database.blob_dir and _stat(database.blob_dir)
            if st and others_reach(database.blob_dir):
                if st.st_mode & OTHERS_READ_WRITE:
                    blobs.append((database.blob_dir, st))
                if st.st_mode & stat.S_IXOTH:
                    sampled, exposed_blobs = sample_blobs(database.blob_dir)
                    blobs.extend(exposed_blobs)
            if not exposed and not blobs:
                continue
            targets = [path for path, _st in exposed]
            if blobs:
                targets.append(database.blob_dir)
            exposed.extend(blobs)
            findings.append(
                self.finding(
                    subject=database.name,
                    detail=_(
                        "Every user of this machine can read or write files "
                        "of database ${name}, which hold all the site's "
                        "content and its users' password hashes: ${paths} "
                        "(${sampled} blob files sampled).",
                        mapping={
                            "name": database.name,
                            "paths": shown(f"{p} ({mode_of(st)})" for p, st in exposed),
                            "sampled": sampled,
                        },
                    ),
                    remediation=_(
                        "Take away the others' access. As root: chmod -R "
                        "o-rwx ${paths}; and start the instance with umask "
                        "027 (UMask=0027 in its systemd unit) so that new "
                        "files stay private.",
                        mapping={"paths": quoted(targets)},
                    ),
                )
            )
        return findings


class GroupWritableCode(ProcessCheck):
    """Code that its group can change.

    In the document's scheme the daemon user shares a group with the build
    user: code writable by that group can be changed by the daemon. Looks
    at the locations of SBP-PROC-003 and their direct entries, whoever runs
    the audit; one finding per group of locations (the subject).

    Example finding: "Code writable by its group" (medium), subject
    "source checkouts", "/srv/plone/src/my.theme (group plone_group)".
    """

    id = "SBP-PROC-006"
    title = _("Code writable by its group")
    severity = Severity.MEDIUM

    def inspect(self, layout):
        findings = []
        for group, locations, skip in code_groups(layout):
            writable = matching_code(
                locations, lambda st: st.st_mode & stat.S_IWGRP, skip
            )
            if not writable:
                continue
            findings.append(
                self.finding(
                    subject=group,
                    detail=_(
                        "${count} location(s) of ${group} can be changed by "
                        "every member of their group, the user that runs Zope "
                        "too when it is one: ${paths}.",
                        mapping={
                            "count": len(writable),
                            "group": group,
                            "paths": shown(
                                f"{path} (group {group_name(st.st_gid)})"
                                for path, st in writable
                            ),
                        },
                    ),
                    remediation=_(
                        "Let only the build user write the code. As root: "
                        "chmod -R g-w ${paths}",
                        mapping={"paths": quoted(p for p, _st in writable)},
                    ),
                )
            )
        return findings


class LeftoverInituser(ProcessCheck):
    """An ``inituser`` file Zope never reads is left in the instance home.

    Zope reads ``inituser`` only into a plain root User Folder with at most
    one user, and then deletes it. Once the root user folder is a
    PluggableAuthService (or holds more users) the file stays forever: it
    changes nothing and only leaks a Manager's name and password hash.

    Example finding: "Leftover inituser file" (medium), subject
    "/srv/plone/parts/instance/inituser".
    """

    id = "SBP-PROC-007"
    title = _("Leftover inituser file")
    severity = Severity.MEDIUM

    def inspect(self, layout):
        if layout.instance_home is None or layout.reads_inituser:
            return []
        path = layout.instance_home / "inituser"
        if file_kind(path) != stat.S_IFREG:
            return []
        return [
            self.finding(
                subject=str(path),
                detail=_(
                    "${path} is never read: Zope reads inituser only into a "
                    "plain root user folder with at most one user, which this "
                    "one is not. The file only leaks a Manager's name and "
                    "password hash.",
                    mapping={"path": str(path)},
                ),
                remediation=_(
                    "Delete it: rm ${target}. Add Zope root Managers in the "
                    "root acl_users of the management interface, or with "
                    "the addzopeuser script.",
                    mapping={"target": shlex.quote(str(path))},
                ),
            )
        ]


class EmergencyUserFile(ProcessCheck):
    """An emergency user is defined in the instance home (``access``).

    Zope reads the ``access`` file when it starts and gives the user in it
    every right in every site, bypassing all user folders. It is meant to
    regain access after a lock-out, then to be removed.

    Example finding: "Emergency user file present" (medium), subject
    "/srv/plone/parts/instance/access".
    """

    id = "SBP-PROC-008"
    title = _("Emergency user file present")
    severity = Severity.MEDIUM

    def inspect(self, layout):
        if layout.instance_home is None:
            return []
        path = layout.instance_home / "access"
        if file_kind(path) != stat.S_IFREG:
            return []
        return [
            self.finding(
                subject=str(path),
                detail=_(
                    "${path} defines an emergency user: a user with every "
                    "right in every site, outside all user folders, for as "
                    "long as the file is there when the instance starts.",
                    mapping={"path": str(path)},
                ),
                remediation=_(
                    "Once you have regained access, delete it and restart "
                    "the instance: rm ${target}",
                    mapping={"target": shlex.quote(str(path))},
                ),
            )
        ]


def credential_lines(path):
    """Numbers of the lines of ``path`` that hold a credential."""
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            text = file.read(MAX_CONFIG_SIZE)
    except OSError:
        return []
    return [
        number
        for number, line in enumerate(text.splitlines(), 1)
        if not line.lstrip().startswith(("#", ";"))
        and any(pattern.search(line) for pattern in CREDENTIAL_PATTERNS)
    ]


class CredentialsReadable(ProcessCheck):
    """A configuration file with credentials can be read by every user.

    zope.conf, zope.ini and wsgi.ini in the instance's ``etc`` may hold a
    RelStorage DSN with its password, ZEO credentials or an SMTP password.
    Fires when others may read the file (and reach it) and a line looks
    like a credential: a password or secret setting, a DSN ``password=``,
    or a URL with a password. The values are never shown, only the line
    numbers. One finding per file (the subject).

    Example finding: "Credentials in a configuration file every user can
    read" (medium), subject "/srv/plone/etc/zope.conf", "... (mode 0644)
    holds credentials on line(s) 12".
    """

    id = "SBP-PROC-009"
    title = _("Credentials in a configuration file every user can read")
    severity = Severity.MEDIUM

    def inspect(self, layout):
        findings = []
        for path in layout.config_files:
            st = _stat(path)
            if st is None or not st.st_mode & stat.S_IROTH or not others_reach(path):
                continue
            lines = credential_lines(path)
            if not lines:
                continue
            findings.append(
                self.finding(
                    subject=str(path),
                    detail=_(
                        "${path} (mode ${mode}) can be read by every user of "
                        "this machine and holds credentials on line(s) "
                        "${lines}.",
                        mapping={
                            "path": str(path),
                            "mode": mode_of(st),
                            "lines": ", ".join(map(str, lines)),
                        },
                    ),
                    remediation=_(
                        "Let only the build user and the group of the user "
                        "that runs Zope read it. As root: chown "
                        "${build}:${shared} ${target}; chmod 640 ${target}",
                        mapping={
                            "target": shlex.quote(str(path)),
                            "build": BUILD_USER,
                            "shared": SHARED_GROUP,
                        },
                    ),
                )
            )
        return findings


class ProcessUnknown(ProcessCheck):
    """The process that serves the site could not be found.

    The command line opens the databases read-only and runs as whoever
    calls it, so it looks for the running instance (a FileStorage lock
    held by a live process, or a live process in a pid file) and judges
    that process's user. When none is found (the instance is stopped, or
    a ZEO or RelStorage client has no pid file), SBP-PROC-001 to 004 are
    skipped, and this finding says so.

    Example finding: "The process serving the site was not found" (info).
    """

    id = "SBP-PROC-010"
    title = _("The process serving the site was not found")
    severity = Severity.INFO

    def inspect(self, layout):
        if layout.process is not None:
            return []
        me = ProcessIdentity.current()
        mapping = {
            "pid": me.pid,
            "user": me.user,
            "searched": shown(layout.searched),
        }
        if layout.searched:
            detail = _(
                "This audit runs in process ${pid} (user ${user}), which does "
                "not serve the site: its databases are read-only, as on the "
                "command line. No running instance was found through "
                "${searched}, so the checks of the user that runs Zope "
                "(SBP-PROC-001 to SBP-PROC-004) were skipped.",
                mapping=mapping,
            )
        else:
            detail = _(
                "This audit runs in process ${pid} (user ${user}), which does "
                "not serve the site: its databases are read-only, as on the "
                "command line. The instance has no FileStorage lock file and "
                "no pid file to find the running instance with, so the checks "
                "of the user that runs Zope (SBP-PROC-001 to SBP-PROC-004) "
                "were skipped.",
                mapping=mapping,
            )
        return [
            self.finding(
                detail=detail,
                remediation=_(
                    "Run the audit while the instance runs, or open the "
                    "site's @@security-report page, which inspects the "
                    "process serving it."
                ),
            )
        ]
