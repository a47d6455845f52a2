"""Evidence: the ZMI requests this process saw on hosts that are not manage
hosts.

Kept in memory only, per process, and bounded: the newest
:data:`MAX_RECORDS` records. Nothing is written to the database; a restart
forgets everything. Every field is cut to a bounded length, since the host and
the path come from the client.
"""

from dataclasses import dataclass
from datetime import datetime
import collections
import threading


MAX_RECORDS = 200
MAX_FIELD = 200

_lock = threading.Lock()
_records = collections.deque(maxlen=MAX_RECORDS)


@dataclass(frozen=True)
class ZMIRequest:
    """One ZMI request seen on a host that is not a manage host."""

    when: datetime  # timezone-aware
    host: str
    client_ip: str
    user: str  # "" when the request was blocked before authentication
    method: str
    path: str
    kind: str  # "zmi", "webdav" or "xmlrpc"
    site: str  # path of the site whose settings applied; "" for the root
    blocked: bool

    def to_dict(self):
        return {
            "when": self.when.isoformat(),
            "host": self.host,
            "client_ip": self.client_ip,
            "user": self.user,
            "method": self.method,
            "path": self.path,
            "kind": self.kind,
            "site": self.site,
            "blocked": self.blocked,
        }


def _cut(value):
    value = str(value or "")
    return value if len(value) <= MAX_FIELD else value[: MAX_FIELD - 1] + "…"


def record(**fields):
    """Remember one request; the oldest record goes when the store is full."""
    entry = ZMIRequest(
        **{
            name: _cut(value) if isinstance(value, str) else value
            for name, value in fields.items()
        }
    )
    with _lock:
        _records.append(entry)
    return entry


def recent(site=None):
    """The records, newest first.

    :param site: a site path: only the records of that site and of the Zope
        root (whose ZMI every site shares). None: all records.
    """
    with _lock:
        records = list(_records)
    if site is not None:
        records = [r for r in records if r.site in (site, "")]
    records.reverse()
    return records


def clear():
    """Forget every record (tests)."""
    with _lock:
        _records.clear()
