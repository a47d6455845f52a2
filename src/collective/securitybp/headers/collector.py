"""``@@csp-report``: where browsers send Content-Security-Policy violations.

Browsers post reports without credentials, so the collector is public, and
anything may arrive: it answers 2xx or 4xx to every body, never 5xx. It is
bounded in every direction, in this process's memory, per site:

- bodies up to 64 KiB;
- a token bucket per client (an IPv4 address, or an IPv6 /64 network, which
  one host can fill with addresses), counting reports, not requests: a
  batch takes one token per report (at least one), the reports beyond the
  tokens left are dropped and counted; 4,096 clients at most, the least
  recently seen forgotten first;
- the last 500 reports;
- 1,000 distinct violations, each kept once with a count. One client owns
  at most 50 of them (the ones it reported first): beyond, its own least
  recently seen one makes room. When the table is full, a new violation
  replaces the least recently seen one of the client owning the most. So a
  flood from one client or network churns its own 50 entries only, and a
  violation from a client with few entries stays unless the flood comes
  from hundreds of networks at once.

It never writes to the database. The security report shows the violations
reported by the most clients, then the most frequent
(``@@securitybp-csp-violations``).
"""

from collections import deque
from collections import OrderedDict
from collective.securitybp.headers.policy import log_once
from datetime import datetime
from datetime import timezone
from Products.Five.browser import BrowserView
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from urllib.parse import urlsplit
import ipaddress
import json
import re
import threading
import time


MAX_BODY = 64 * 1024
MAX_REPORTS = 500
MAX_VIOLATIONS = 1000
# The share of MAX_VIOLATIONS one client may own.
MAX_PER_CLIENT = 50
# Distinct clients remembered per violation (to rank what many saw first).
MAX_REPORTERS = 8
MAX_FIELD = 300
MAX_SAMPLE = 80
TOP = 20
# Token bucket per client: bursts of 60 reports, then one a second.
RATE_BURST = 60
RATE_PER_SECOND = 1.0
MAX_CLIENTS = 4096
CONTENT_TYPES = frozenset(
    {"application/csp-report", "application/reports+json", "application/json"}
)
# Characters a report may not bring into the security report or its JSON:
# control characters and lone surrogates.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _text(value, limit=MAX_FIELD):
    if not isinstance(value, str):
        return ""
    return _UNPRINTABLE.sub("\ufffd", value[:limit])


def _strip_url(value):
    """A URL without its query and fragment (they may hold tokens); keywords
    such as ``inline`` or ``eval`` as they are."""
    value = _text(value)
    if "://" not in value:
        return value
    try:
        parts = urlsplit(value)
    except ValueError:  # "http://[" and the like
        return re.split(r"[?#]", value, maxsplit=1)[0]
    return f"{parts.scheme}://{parts.netloc}{parts.path}"[:MAX_FIELD]


def _path(value):
    value = _text(value)
    if "://" not in value:
        return value
    try:
        return urlsplit(value).path or "/"
    except ValueError:
        return "/"


def client_key(address):
    """Whom the rate limit and the shares count: an IPv4 address, or the /64
    network of an IPv6 address (one host usually has a whole /64)."""
    if ":" not in address:
        return address
    try:
        ip = ipaddress.IPv6Address(address.split("%", 1)[0])
    except ValueError:
        return address[:64]
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((ip, 64), strict=False))


def _violation(directive, blocked, document, disposition, source, line, sample):
    directive = _text(directive).strip().split(" ")[0].lower()
    if not directive:
        raise ValueError("a report without a directive")
    if not isinstance(line, int) or isinstance(line, bool) or not 0 <= line < 2**31:
        line = 0
    return {
        "directive": directive,
        "blocked": _strip_url(blocked),
        "document": _path(document),
        "disposition": _text(disposition, 20),
        "source": _strip_url(source),
        "line": line,
        "sample": _text(sample, MAX_SAMPLE),
    }


def parse_reports(payload):
    """The violations in a report body, in a common form.

    :param payload: decoded JSON: ``{"csp-report": {...}}`` (``report-uri``)
        or a list of Reporting API reports (``report-to``).
    :returns: a list of dicts with ``directive``, ``blocked``, ``document``
        (path only), ``disposition``, ``source``, ``line`` and ``sample``.
    :raises ValueError: the payload has neither shape.
    """
    if isinstance(payload, dict) and isinstance(payload.get("csp-report"), dict):
        report = payload["csp-report"]
        return [
            _violation(
                report.get("effective-directive") or report.get("violated-directive"),
                report.get("blocked-uri"),
                report.get("document-uri"),
                report.get("disposition"),
                report.get("source-file"),
                report.get("line-number"),
                report.get("script-sample"),
            )
        ]
    if isinstance(payload, list):
        violations = []
        for report in payload:
            if not isinstance(report, dict):
                raise ValueError("a report that is not an object")
            body = report.get("body")
            if report.get("type") != "csp-violation":
                continue  # deprecations, interventions, ...: not ours
            if not isinstance(body, dict):
                raise ValueError("a csp-violation report without a body")
            violations.append(
                _violation(
                    body.get("effectiveDirective"),
                    body.get("blockedURL"),
                    body.get("documentURL") or report.get("url"),
                    body.get("disposition"),
                    body.get("sourceFile"),
                    body.get("lineNumber"),
                    body.get("sample"),
                )
            )
        return violations
    raise ValueError("neither a csp-report nor a list of reports")


class ReportStore:
    """The CSP reports of one site in this process: bounded, thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self.recent = deque(maxlen=MAX_REPORTS)
        # (directive, blocked, document) -> entry
        self.violations = {}
        # client -> its entries' keys, least recently seen first
        self._owned = {}
        self.received = 0  # reports kept
        self.dropped = 0  # reports over a client's rate
        self.evicted = 0  # distinct violations replaced by newer ones
        self._buckets = OrderedDict()  # client -> [tokens, last time]

    def take(self, client, wanted=1, now=None):
        """Take up to ``wanted`` tokens of ``client``'s bucket.

        :param client: a :func:`client_key`.
        :returns: how many it may post now, from 0 to ``wanted``.
        """
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                if len(self._buckets) >= MAX_CLIENTS:
                    self._buckets.popitem(last=False)  # the least recent
                bucket = self._buckets[client] = [float(RATE_BURST), now]
            else:
                self._buckets.move_to_end(client)
            tokens = min(
                RATE_BURST, bucket[0] + max(0.0, now - bucket[1]) * RATE_PER_SECOND
            )
            bucket[1] = now
            granted = min(wanted, int(tokens))
            bucket[0] = tokens - granted
            return granted

    def allow(self, client, now=None):
        """Whether ``client`` may post one more report now."""
        return self.take(client, 1, now) == 1

    def add(self, violations, client="", now=None, dropped=0):
        """Keep ``violations`` (from :func:`parse_reports`) of ``client``.

        :param dropped: reports of the same batch refused by the rate limit.
        """
        now = time.time() if now is None else now
        with self._lock:
            self.dropped += dropped
            for violation in violations:
                self.received += 1
                self.recent.append(dict(violation, time=now))
                key = (
                    violation["directive"],
                    violation["blocked"],
                    violation["document"],
                )
                entry = self.violations.get(key)
                if entry is None:
                    entry = self._new_entry(key, client, now)
                else:
                    self._owned[entry["owner"]].move_to_end(key)
                entry["count"] += 1
                entry["last_seen"] = now
                if len(entry["reporters"]) < MAX_REPORTERS:
                    entry["reporters"].add(client)
                entry["disposition"] = violation["disposition"]
                entry["source"] = violation["source"]
                entry["line"] = violation["line"]
                entry["sample"] = violation["sample"]

    def _new_entry(self, key, client, now):
        owned = self._owned.get(client)
        if owned is not None and len(owned) >= MAX_PER_CLIENT:
            self._evict(client)
        elif len(self.violations) >= MAX_VIOLATIONS:
            self._evict(max(self._owned, key=lambda c: len(self._owned[c])))
        entry = self.violations[key] = {
            "directive": key[0],
            "blocked": key[1],
            "document": key[2],
            "count": 0,
            "first_seen": now,
            "owner": client,
            "reporters": set(),
        }
        self._owned.setdefault(client, OrderedDict())[key] = None
        return entry

    def _evict(self, client):
        """Forget the least recently seen violation ``client`` owns."""
        owned = self._owned[client]
        key, _none = owned.popitem(last=False)
        if not owned:
            del self._owned[client]
        del self.violations[key]
        self.evicted += 1

    def top(self, limit=TOP):
        """The violations reported by the most clients, then the most
        frequent, then the most recent; ``limit=None`` for all."""
        with self._lock:
            entries = [
                {
                    name: value
                    for name, value in entry.items()
                    if name not in ("owner", "reporters")
                }
                | {"clients": len(entry["reporters"])}
                for entry in self.violations.values()
            ]
        entries.sort(
            key=lambda e: (
                -e["clients"],
                -e["count"],
                -e["last_seen"],
                e["directive"],
                e["blocked"],
            )
        )
        return entries if limit is None else entries[:limit]

    def clear(self):
        with self._lock:
            self.recent.clear()
            self.violations.clear()
            self._owned.clear()
            self._buckets.clear()
            self.received = self.dropped = self.evicted = 0


_stores = {}
_stores_lock = threading.Lock()


def store_for(site):
    """The :class:`ReportStore` of ``site`` in this process."""
    key = "/".join(site.getPhysicalPath())
    store = _stores.get(key)
    if store is None:
        with _stores_lock:
            store = _stores.setdefault(key, ReportStore())
    return store


def clear_stores(site=None):
    """Forget the reports of ``site``, or of every site (uninstall, tests)."""
    with _stores_lock:
        if site is None:
            _stores.clear()
        else:
            _stores.pop("/".join(site.getPhysicalPath()), None)


class CSPReportView(BrowserView):
    """Accept a CSP violation report (POST, any visitor)."""

    def _answer(self, status, message=""):
        response = self.request.response
        response.setStatus(status)
        if message:
            response.setHeader("Content-Type", "text/plain; charset=utf-8")
        return message

    def __call__(self):
        request = self.request
        request.response.setHeader("Cache-Control", "no-store")
        if request.method != "POST":
            request.response.setHeader("Allow", "POST")
            return self._answer(405, "Send CSP reports with POST.\n")
        store = store_for(self.context)
        client = client_key(request.getClientAddr() or "")
        # Every request takes a token, whatever it holds; a batch takes
        # one per report (below).
        if not store.take(client):
            request.response.setHeader("Retry-After", "60")
            return self._answer(429, "Too many reports; try again later.\n")
        content_type = (request.getHeader("Content-Type") or "").split(";")[0]
        if content_type.strip().lower() not in CONTENT_TYPES:
            return self._answer(
                415, "Use application/csp-report or application/reports+json.\n"
            )
        try:
            length = int(request.getHeader("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY:
            return self._answer(400, "Report body over 64 KiB.\n")
        try:
            body = self._read_body()
            if len(body) > MAX_BODY:
                return self._answer(400, "Report body over 64 KiB.\n")
            violations = parse_reports(json.loads(body))
        except (ValueError, RecursionError):  # malformed, too deep, not UTF-8
            return self._answer(400, "Malformed CSP report.\n")
        except Exception:  # whatever else a body can do: still not a 5xx
            log_once(
                ("csp-report",),
                "A CSP report could not be read; answered 400.",
                exc_info=True,
            )
            return self._answer(400, "Malformed CSP report.\n")
        kept = 1 + store.take(client, len(violations) - 1) if violations else 0
        store.add(violations[:kept], client, dropped=len(violations) - kept)
        return self._answer(204)

    def _read_body(self):
        stream = self.request.get("BODYFILE")
        if stream is None:
            return b""
        if hasattr(stream, "seek"):
            stream.seek(0)
        return stream.read(MAX_BODY + 1)


def _utc(timestamp):
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC"
    )


class CSPViolationsView(BrowserView):
    """The most frequent CSP violations: a section of the security report,
    or JSON with ``?format=json``."""

    index = ViewPageTemplateFile("templates/csp_violations.pt")
    max_reports = MAX_REPORTS

    def __call__(self):
        self.store = store_for(self.context)
        if self.request.form.get("format") == "json":
            self.request.response.setHeader(
                "Content-Type", "application/json; charset=utf-8"
            )
            self.request.response.setHeader("Cache-Control", "no-store")
            return json.dumps(
                {
                    "received": self.store.received,
                    "dropped": self.store.dropped,
                    "evicted": self.store.evicted,
                    "violations": self.store.top(limit=None),
                    "recent": list(self.store.recent),
                },
                indent=2,
            )
        return self.index()

    def violations(self):
        # Clients are remembered up to MAX_REPORTERS per violation: "8+".
        return [
            dict(
                entry,
                last_seen=_utc(entry["last_seen"]),
                clients=(
                    f"{entry['clients']}+"
                    if entry["clients"] >= MAX_REPORTERS
                    else str(entry["clients"])
                ),
            )
            for entry in self.store.top()
        ]
