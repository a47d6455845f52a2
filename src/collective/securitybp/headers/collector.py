"""``@@csp-report``: where browsers send Content-Security-Policy violations.

Browsers post reports without credentials, so the collector is public. It is
bounded in every direction: bodies up to 64 KiB, a rate limit per client
address, the last 500 reports and at most 1000 distinct violations per site
in this process's memory. It never writes to the database. The security
report shows the most frequent violations (``@@securitybp-csp-violations``).
"""

from collections import deque
from datetime import datetime
from datetime import timezone
from Products.Five.browser import BrowserView
from Products.Five.browser.pagetemplatefile import ViewPageTemplateFile
from urllib.parse import urlsplit
import json
import threading
import time


MAX_BODY = 64 * 1024
MAX_REPORTS = 500
MAX_VIOLATIONS = 1000
MAX_FIELD = 300
MAX_SAMPLE = 80
TOP = 20
# Token bucket per client address: bursts of 60 reports, then one a second.
RATE_BURST = 60
RATE_PER_SECOND = 1.0
MAX_CLIENTS = 4096
CONTENT_TYPES = frozenset(
    {"application/csp-report", "application/reports+json", "application/json"}
)


def _text(value, limit=MAX_FIELD):
    return value[:limit] if isinstance(value, str) else ""


def _strip_url(value):
    """A URL without its query and fragment (they may hold tokens); keywords
    such as ``inline`` or ``eval`` as they are."""
    value = _text(value)
    if "://" not in value:
        return value
    parts = urlsplit(value)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"[:MAX_FIELD]


def _path(value):
    value = _text(value)
    if "://" not in value:
        return value
    return urlsplit(value).path or "/"


def _violation(directive, blocked, document, disposition, source, line, sample):
    directive = _text(directive).strip().split(" ")[0].lower()
    if not directive:
        raise ValueError("a report without a directive")
    line = line if isinstance(line, int) and not isinstance(line, bool) else 0
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
        self.violations = {}  # (directive, blocked, document) -> entry
        self.received = 0
        self.dropped = 0  # new kinds of violation beyond MAX_VIOLATIONS
        self._buckets = {}  # client address -> [tokens, last time]

    def allow(self, client, now=None):
        """Whether ``client`` may post one more report now."""
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                if len(self._buckets) >= MAX_CLIENTS:
                    self._forget_idle_clients(now)
                bucket = self._buckets[client] = [float(RATE_BURST), now]
            tokens = min(RATE_BURST, bucket[0] + (now - bucket[1]) * RATE_PER_SECOND)
            bucket[1] = now
            if tokens < 1:
                bucket[0] = tokens
                return False
            bucket[0] = tokens - 1
            return True

    def _forget_idle_clients(self, now):
        refill = RATE_BURST / RATE_PER_SECOND
        for client, (_tokens, last) in list(self._buckets.items()):
            if now - last >= refill:
                del self._buckets[client]
        if len(self._buckets) >= MAX_CLIENTS:
            self._buckets.clear()

    def add(self, violations, now=None):
        """Keep ``violations`` (from :func:`parse_reports`)."""
        now = time.time() if now is None else now
        with self._lock:
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
                    if len(self.violations) >= MAX_VIOLATIONS:
                        self.dropped += 1
                        continue
                    entry = self.violations[key] = {
                        "directive": key[0],
                        "blocked": key[1],
                        "document": key[2],
                        "count": 0,
                        "first_seen": now,
                    }
                entry["count"] += 1
                entry["last_seen"] = now
                entry["disposition"] = violation["disposition"]
                entry["source"] = violation["source"]
                entry["line"] = violation["line"]
                entry["sample"] = violation["sample"]

    def top(self, limit=TOP):
        """The most frequent violations, most frequent first."""
        with self._lock:
            entries = [dict(entry) for entry in self.violations.values()]
        entries.sort(
            key=lambda e: (-e["count"], -e["last_seen"], e["directive"], e["blocked"])
        )
        return entries[:limit]

    def clear(self):
        with self._lock:
            self.recent.clear()
            self.violations.clear()
            self._buckets.clear()
            self.received = self.dropped = 0


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
        if not store.allow(request.getClientAddr() or ""):
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
        body = self._read_body()
        if body is None or len(body) > MAX_BODY:
            return self._answer(400, "Report body over 64 KiB.\n")
        try:
            violations = parse_reports(json.loads(body))
        except ValueError:  # JSONDecodeError and unicode errors too
            return self._answer(400, "Malformed CSP report.\n")
        store.add(violations)
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
                    "violations": self.store.top(),
                    "recent": list(self.store.recent),
                },
                indent=2,
            )
        return self.index()

    def violations(self):
        return [
            dict(entry, last_seen=_utc(entry["last_seen"]))
            for entry in self.store.top()
        ]
