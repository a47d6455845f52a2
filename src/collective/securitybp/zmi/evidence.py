"""Evidence: the management requests this process saw on hosts where the
management interface does not belong.

Kept in memory only, per process, and bounded in every direction, since
the host, the path and the client come from whoever sends the request:

- Requests are aggregated: one entry per site, host, kind, access and
  outcome, with a count, the first and last time, the latest methods and
  paths, and the clients (each with its own count).
- Requests that the management interface *served* to a logged-in user
  (report mode, after authentication) live in a store of their own. Only
  somebody with valid credentials can add to it, so no anonymous flood can
  push that evidence out.
- Every other attempt (anonymous, or with credentials that were never
  checked because the request was blocked first) goes to the attempts
  store. One client (an IPv4 address, or an IPv6 /64 network) may own at
  most :data:`MAX_KEYS_PER_CLIENT` entries there; the hosts it names beyond
  that are counted under the host ``*``. When a store is full, the entry
  seen least recently goes.

Nothing is written to the database; a restart forgets everything. Every
text is cut to a bounded length.
"""

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone
import ipaddress
import threading


MAX_SERVED = 100  # entries of requests served to logged-in users
MAX_ATTEMPTS = 300  # entries of every other request
MAX_KEYS_PER_CLIENT = 10  # attempt entries one client network may create
MAX_CLIENTS = 10  # clients kept per entry, most recent first
MAX_PATHS = 5  # paths kept per entry
MAX_USERS = 10  # users kept per served entry
MAX_FIELD = 200
OTHER_HOSTS = "*"

SERVED = "served"  # answered to a logged-in user
CREDENTIALS = "credentials"  # sent credentials, never checked (blocked)
ANONYMOUS = "anonymous"

_lock = threading.Lock()


def _cut(value):
    value = str(value or "")
    return value if len(value) <= MAX_FIELD else value[: MAX_FIELD - 1] + "…"


def client_network(address):
    """The unit one client is counted in: the address, or its /64 for IPv6
    (one host usually holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return _cut(address)
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _bump(mapping, key, limit, amount=1):
    mapping[key] = mapping.pop(key, 0) + amount
    while len(mapping) > limit:
        mapping.popitem(last=False)


@dataclass(frozen=True)
class ZMIEvidence:
    """What the guard saw of one kind of management request (a snapshot)."""

    site: str  # path of the site whose settings applied; "" for the root
    host: str
    kind: str  # "zmi", "method", "directive", "webdav" or "xmlrpc"
    access: str  # SERVED, CREDENTIALS or ANONYMOUS
    blocked: bool
    count: int
    first_seen: datetime  # timezone-aware
    last_seen: datetime
    clients: tuple  # ((client, count), ...), most recent first
    paths: tuple  # ((method, path), ...), most recent first
    users: tuple  # user ids the request was served to (SERVED only)

    @property
    def client_ip(self):
        """The most recent client."""
        return self.clients[0][0] if self.clients else ""

    @property
    def path(self):
        return self.paths[0][1] if self.paths else ""

    @property
    def method(self):
        return self.paths[0][0] if self.paths else ""

    @property
    def when(self):
        return self.last_seen

    def to_dict(self):
        return {
            "site": self.site,
            "host": self.host,
            "kind": self.kind,
            "access": self.access,
            "blocked": self.blocked,
            "count": self.count,
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "clients": [{"client": c, "count": n} for c, n in self.clients],
            "requests": [{"method": m, "path": p} for m, p in self.paths],
            "users": list(self.users),
        }


class _Entry:
    __slots__ = ("key", "owner", "count", "first", "last", "clients", "paths", "users")

    def __init__(self, key, owner, when):
        self.key = key
        self.owner = owner
        self.count = 0
        self.first = self.last = when
        self.clients = OrderedDict()
        self.paths = OrderedDict()
        self.users = OrderedDict()

    def snapshot(self):
        site, host, kind, access, blocked = self.key
        return ZMIEvidence(
            site=site,
            host=host,
            kind=kind,
            access=access,
            blocked=blocked,
            count=self.count,
            first_seen=self.first,
            last_seen=self.last,
            clients=tuple(reversed(self.clients.items())),
            paths=tuple(reversed(self.paths)),
            users=tuple(reversed(self.users)),
        )


class EvidenceStore:
    """Both stores, with their bounds (see the module)."""

    def __init__(self):
        self.served = OrderedDict()
        self.attempts = OrderedDict()
        self.owned = {}  # client network -> attempt entries it created
        self.folded = 0  # attempts counted under OTHER_HOSTS

    def _evict(self, store, limit):
        while len(store) > limit:
            _key, entry = store.popitem(last=False)
            if entry.owner is not None:
                left = self.owned.get(entry.owner, 1) - 1
                if left > 0:
                    self.owned[entry.owner] = left
                else:
                    self.owned.pop(entry.owner, None)

    def add(self, site, host, client, kind, method, path, access, blocked, when, user):
        site, host, path = _cut(site), _cut(host), _cut(path)
        client = _cut(client)
        served = access == SERVED
        store = self.served if served else self.attempts
        key = (site, host, kind, access, blocked)
        entry = store.get(key)
        if entry is None and not served:
            owner = client_network(client)
            if self.owned.get(owner, 0) >= MAX_KEYS_PER_CLIENT:
                key = (site, OTHER_HOSTS, kind, access, blocked)
                self.folded += 1
                entry = store.get(key)
                owner = None
            if entry is None:
                entry = _Entry(key, owner, when)
                if owner is not None:
                    self.owned[owner] = self.owned.get(owner, 0) + 1
        elif entry is None:
            entry = _Entry(key, None, when)
        store.pop(key, None)
        store[key] = entry
        entry.count += 1
        entry.last = when
        _bump(entry.clients, client, MAX_CLIENTS)
        _bump(entry.paths, (_cut(method)[:16], path), MAX_PATHS)
        if served and user:
            _bump(entry.users, _cut(user), MAX_USERS)
        self._evict(store, MAX_SERVED if served else MAX_ATTEMPTS)
        return entry


_store = EvidenceStore()


def record(
    site,
    host,
    client_ip,
    kind,
    method,
    path,
    access=ANONYMOUS,
    blocked=False,
    when=None,
    user="",
):
    """Count one management request.

    :param site: the path of the site whose settings judged it ("" root).
    :param host: the host it named.
    :param client_ip: the client, as far as it can be believed.
    :param kind: how it reached management (see :class:`ZMIEvidence`).
    :param access: :data:`SERVED` (answered to the logged-in ``user``),
        :data:`CREDENTIALS` or :data:`ANONYMOUS`.
    :param blocked: whether the guard refused it.
    :returns: a snapshot of the entry it was counted in.
    """
    when = when or datetime.now(timezone.utc)
    with _lock:
        entry = _store.add(
            site, host, client_ip, kind, method, path, access, blocked, when, user
        )
        return entry.snapshot()


def recent(site=None, access=None):
    """The entries, most recently seen first.

    :param site: a site path: only the entries of that site and of the Zope
        root (whose management interface every site shares). None: all.
    :param access: only entries with this access (e.g. :data:`SERVED`).
    """
    with _lock:
        entries = [
            e.snapshot() for e in (*_store.served.values(), *_store.attempts.values())
        ]
    if site is not None:
        entries = [e for e in entries if e.site in (site, "")]
    if access is not None:
        entries = [e for e in entries if e.access == access]
    entries.sort(key=lambda e: e.last_seen, reverse=True)
    return entries


def sizes():
    """``(served entries, attempt entries, tracked clients)``, for tests and
    benchmarks of the bounds."""
    with _lock:
        return len(_store.served), len(_store.attempts), len(_store.owned)


def clear():
    """Forget everything (uninstall, tests)."""
    global _store
    with _lock:
        _store = EvidenceStore()
