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
from collective.securitybp.processinfo import serving_environment
from pathlib import Path
import itertools
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

DOCKER_USER_DOCS = "https://docs.docker.com/reference/dockerfile/#user"
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


def first_entries(directory, limit):
    """At most ``limit`` entries of ``directory``, as the file system lists
    them, so big directories stay cheap; none when it cannot be read."""
    try:
        with os.scandir(directory) as entries:
            return list(itertools.islice(entries, limit))
    except OSError:
        return []


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
        for entry in first_entries(location, limit):
            path = Path(entry.path)
            entry_stat = _stat(path)
            if entry_stat is not None and path not in seen:
                seen.add(path)
                yield location, path, entry_stat


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


def inside(path, locations):
    """Whether ``path`` is one of ``locations`` or lies below one."""
    path = Path(path)
    return any(path == p or Path(p) in path.parents for p in locations)


def code_groups(layout, skip=frozenset()):
    """``(group, locations, skip)`` of the layout's code, in a stable order;
    ``skip`` holds the data locations, which are not code. A location inside
    one of an earlier group (a package directory in the interpreter's
    site-packages) is left to that group, so one path is one finding."""
    data = {path for _kind, path, _is_dir in layout.data_locations()} | set(skip)
    seen = []
    for group, locations in layout.code.items():
        locations = tuple(p for p in locations if p not in data and not inside(p, seen))
        seen.extend(locations)
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


def outermost(paths):
    """``paths`` sorted, without those inside another one."""
    paths = sorted(set(map(Path, paths)))
    return [p for p in paths if not any(q in p.parents for q in paths)]


def create_accounts():
    """Commands that create the document's group and two accounts, doing
    nothing for those that exist."""
    user = (
        "id -u {name} >/dev/null 2>&1 || useradd --system --gid {group} "
        "--no-create-home --shell /usr/sbin/nologin {name}"
    )
    return [
        f"getent group {SHARED_GROUP} >/dev/null || groupadd --system {SHARED_GROUP}",
        user.format(name=BUILD_USER, group=SHARED_GROUP),
        user.format(name=DAEMON_USER, group=SHARED_GROUP),
    ]


def recursively(command, argument, paths, keep=()):
    """``command -R argument path`` for each path, leaving out the paths of
    ``keep`` below it (the data Zope writes) with ``find ... -prune``.

    ``find`` hands symbolic links to the command by name, and chown and
    chmod would change what they point to (a virtualenv's ``python`` is a
    link to the system's): links are left out, as ``-R`` leaves them."""
    commands = []
    for path in outermost(paths):
        below = [k for k in outermost(keep) if path in k.parents]
        target = shlex.quote(str(path))
        if not below:
            commands.append(f"{command} -R {argument} {target}")
            continue
        pruned = " -o ".join(f"-path {shlex.quote(str(k))}" for k in below)
        commands.append(
            f"find {target} \\( {pruned} \\) -prune -o ! -type l -exec "
            f"{command} {argument} {{}} +"
        )
    return commands


def closed_parents(paths):
    """Directories above ``paths`` that others may not enter (``/root``,
    mode 0700): the accounts could not reach what lies below them."""
    closed = []
    for path in outermost(paths):
        for parent in reversed(path.parents):
            st = _stat(parent)
            if (
                st is not None
                and not st.st_mode & stat.S_IXOTH
                and parent not in closed
                and not inside(parent, paths)
            ):
                closed.append(parent)
    return closed


def code_commands(paths, data):
    """Commands that give code to the build user, readable by the group,
    leaving the data Zope writes alone."""
    return recursively(
        "chown", f"{BUILD_USER}:{SHARED_GROUP}", paths, data
    ) + recursively("chmod", "u+rwX,g+rX,g-w,o-rwx", paths, data)


def account_commands(layout):
    """The commands that set up the document's two accounts for this
    layout, in order and safe to run twice."""
    code, data = code_paths(layout), data_directories(layout)
    commands = create_accounts()
    for parent in closed_parents(code + data):
        if not stat.S_IMODE(os.stat(parent).st_mode) & stat.S_IRWXG:
            target = shlex.quote(str(parent))
            commands += [f"chgrp {SHARED_GROUP} {target}", f"chmod g+x {target}"]
    commands += code_commands(code, data)
    if data:
        quoted_data = quoted(data)
        commands += [
            f"mkdir -p {quoted_data}",
            f"chown -R {DAEMON_USER}:{SHARED_GROUP} {quoted_data}",
            f"chmod -R u+rwX,g+rX,o-rwx {quoted_data}",
        ]
    return commands


def environment_for(context):
    """The :class:`~collective.securitybp.processinfo.ServingEnvironment` of
    this audit: that of the process serving the site."""

    def read(ctx):
        from App.config import getConfiguration

        configured = getattr(getConfiguration(), "environment", None) or {}
        return serving_environment(layout_for(ctx).process, configured)

    return context.shared("process.environment", read)


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
    plone_buildout / plone_daemon / plone_group accounts for the paths
    found: they create what is missing, let the two accounts through a
    directory only root may enter (``/root``) when the installation lies
    below one, give the code to plone_buildout and the data to
    plone_daemon. Root can write everything, so the findings of SBP-PROC-003
    follow from this one.

    Critical on a machine; high inside a container (the ``container``
    environment variable, a runtime's marker file or control group), where
    root is confined to the container but still owns everything in it.

    Example finding: "Zope runs as root" (critical), "Inspected: process
    4242, the one serving this site (user root, uid 0, ...)".
    """

    id = "SBP-PROC-001"
    title = _("Zope runs as root")
    severity = Severity.CRITICAL
    cases = {"in a container": Severity.HIGH}

    def inspect(self, layout):
        identity = layout.process
        if identity is None or identity.uid != 0:
            return []
        container = layout.container
        mapping = {
            "process": describe(identity),
            "daemon": DAEMON_USER,
            "container": container or "",
        }
        commands = account_commands(layout)
        if container:
            detail = _(
                "Zope runs as root inside a container (${container}): a flaw "
                "in Zope, Plone or an add-on gives an attacker everything in "
                "the container, its code included, and one step less to the "
                "machine. Inspected: ${process}.",
                mapping=mapping,
            )
        else:
            detail = _(
                "Zope runs as root, so a flaw in Zope, Plone or an add-on "
                "gives an attacker the whole machine instead of one account "
                "that can only write the site's data. Inspected: ${process}.",
                mapping=mapping,
            )
        return [
            self.finding(
                case="in a container" if container else None,
                detail=detail,
                remediation=_(
                    "Run the instance as an unprivileged user that cannot "
                    "change its code. As root, run the commands below: they "
                    "create the accounts, give the code to plone_buildout and "
                    "the data to ${daemon}. Then start the instance as "
                    "${daemon} (User=${daemon} in its systemd unit, or "
                    "runuser -u ${daemon} --), and let a web server in front "
                    "of it use the ports below 1024. An installation under "
                    "/root is best installed again under /srv/plone by "
                    "plone_buildout. In a container, run the commands in the "
                    "image's build (RUN in the Dockerfile) and add "
                    "'USER ${daemon}', or start it with --user (docker run "
                    "--user, podman run --user, runAsUser in Kubernetes).",
                    mapping=mapping,
                ),
                commands=commands,
                links=[(_("Dockerfile reference: USER"), DOCKER_USER_DOCS)],
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
                    "user in the same group: as root, run the commands below. "
                    "Then start the instance as ${daemon}, and run buildout "
                    "or pip as ${build}.",
                    mapping={"daemon": DAEMON_USER, "build": BUILD_USER},
                ),
                commands=account_commands(layout),
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

    A location inside one of an earlier group (a package directory inside
    the interpreter's site-packages) belongs to that group only. A location
    counts when the process may write to it or to one of its direct entries
    (mode bits and owners; root may write everything). The data Zope must
    write (SBP-PROC-004) is left out, and the commands of the remediation
    leave it alone. Deeper files are not looked at, so that the check stays
    fast on big installations. When the process runs as root, the findings
    follow from SBP-PROC-001 and are shown under it.

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
        data = data_directories(layout)
        cause = (RunsAsRoot.id, "") if identity.uid == 0 else None
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
                    cause=cause,
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
                        "away write access from the others: as root, run the "
                        "commands below (they create the accounts if needed "
                        "and leave the data Zope writes alone). Then run Zope "
                        "as ${daemon}, a member of ${shared}.",
                        mapping={"daemon": DAEMON_USER, "shared": SHARED_GROUP},
                    ),
                    commands=create_accounts() + code_commands(locations, data),
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
                        "Give it to the user that runs Zope (${user}): as "
                        "root, run the commands below.",
                        mapping={"user": identity.user},
                    ),
                    commands=data_commands(path, is_dir, identity),
                )
            )
        return findings


def data_commands(path, is_dir, identity):
    """Commands that let ``identity`` write ``path``, creating it first."""
    owner = f"{identity.user}:{identity.group}"
    target = shlex.quote(str(path))
    if is_dir:
        return [
            f"mkdir -p {target}",
            f"chown -R {owner} {target}",
            f"chmod -R u+rwX,o-rwx {target}",
        ]
    if _stat(path) is not None:
        return [f"chown {owner} {target}", f"chmod u+rw,o-rwx {target}"]
    directory = shlex.quote(str(path.parent))
    return [
        f"mkdir -p {directory}",
        f"chown {owner} {directory}",
        f"chmod u+rwx,o-rwx {directory}",
    ]


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


def database_files(path, limit=MAX_ENTRIES):
    """The files of a FileStorage: ``Data.fs`` and the files beside it
    whose name starts with it (index, ``.tmp``, ``.old`` left by packing;
    not the lock, which holds only a process id), and every ``*.old`` file
    in its directory."""
    return sorted(
        Path(entry.path)
        for entry in first_entries(path.parent, limit)
        if not entry.name.endswith(".lock")
        and (entry.name.startswith(path.name) or entry.name.endswith(".old"))
    )


def exposed_entries(path, limit=MAX_PER_DIRECTORY):
    """``path`` and, for a directory others may enter, its direct entries
    that every user of the machine can read or write: ``(path, stat)``."""
    st = _stat(path)
    if st is None or not others_reach(path):
        return []
    found = [(path, st)] if st.st_mode & OTHERS_READ_WRITE else []
    if stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_IXOTH:
        for entry in first_entries(path, limit):
            entry_stat = _stat(entry.path)
            if entry_stat and entry_stat.st_mode & OTHERS_READ_WRITE:
                found.append((Path(entry.path), entry_stat))
    return found


class DataReadableByOthers(ProcessCheck):
    """Every user of the machine can read or write the database or its backups.

    Looks at each FileStorage's files (``Data.fs``, ``Data.fs.index``,
    ``Data.fs.tmp`` and ``Data.fs.old`` left by packing, and every ``*.old``
    file beside them) and at the blob directory, and at up to 200 of its
    blob files: a file counts when others may read or write it and every
    directory above it lets them through; the blob directory counts when
    others may list or write it. One finding per database (the subject, as
    named in zope.conf). Storages that are not files (ZEO, RelStorage) are
    judged on their servers, not here.

    Backups hold the same: the files repozo wrote and the blob backups that
    SBP-BACKUP-001 and SBP-BACKUP-003 find (with their direct entries) are
    one more finding, subject "backups".

    Example finding: "Database files readable by every user" (high),
    subject "main", "/srv/plone/var/filestorage/Data.fs (0644), ...".
    """

    id = "SBP-PROC-005"
    title = _("Database files readable by every user")
    severity = Severity.HIGH

    def run(self, context):
        from collective.securitybp.checks.backups import backup_state

        inventory = backup_state(context).inventory
        backups = [Path(b.path) for b in (*inventory.database, *inventory.blobs)]
        return self.inspect(layout_for(context), backups=backups)

    def inspect(self, layout, backups=()):
        findings = []
        for database in layout.databases:
            exposed, blobs, sampled = [], [], 0
            for path in database_files(database.path) if database.path else ():
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
                        "Take away the others' access: as root, run the "
                        "command below; and start the instance with umask 027 "
                        "(UMask=0027 in its systemd unit) so that new files "
                        "stay private."
                    ),
                    commands=[f"chmod -R o-rwx {quoted(targets)}"],
                )
            )
        exposed = [item for path in backups for item in exposed_entries(path)]
        if exposed:
            locations = sorted({path.parent for path in backups})
            findings.append(
                self.finding(
                    subject="backups",
                    detail=_(
                        "Every user of this machine can read or write backups "
                        "of the database, which hold all the site's content "
                        "and its users' password hashes: ${paths}.",
                        mapping={
                            "paths": shown(f"{p} ({mode_of(st)})" for p, st in exposed)
                        },
                    ),
                    remediation=_(
                        "Take away the others' access to the backup "
                        "directories: as root, run the command below; and run "
                        "the backups with umask 027 so that new ones stay "
                        "private."
                    ),
                    commands=[f"chmod -R o-rwx {quoted(locations)}"],
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
                        "Let only the build user write the code: as root, run "
                        "the command below (it leaves the data Zope writes "
                        "alone)."
                    ),
                    commands=recursively(
                        "chmod",
                        "g-w",
                        [p for p, _st in writable],
                        data_directories(layout),
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
                    "Delete it with the command below. Add Zope root Managers "
                    "in the root acl_users of the management interface, or "
                    "with the addzopeuser script."
                ),
                commands=[f"rm -f {shlex.quote(str(path))}"],
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
                    "Once you have regained access, delete it with the "
                    "command below and restart the instance."
                ),
                commands=[f"rm -f {shlex.quote(str(path))}"],
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
                        "Let only its owner and the group of the user that "
                        "runs Zope read it: as root, run the command below "
                        "(and give it to ${build}:${shared} when you set up "
                        "the two accounts).",
                        mapping={"build": BUILD_USER, "shared": SHARED_GROUP},
                    ),
                    commands=[f"chmod o-rwx {shlex.quote(str(path))}"],
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
