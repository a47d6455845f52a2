"""The report's history: one summary of the audit per day, for 365 days.

Each summary holds the day, the score, the grade, the counts per severity and
the keys of the open findings. They live in an ``OOBTree`` in the site's
annotations, one key per day (``"2026-12-01"``).

Nothing is recorded on a GET: viewing the report only reads the history.
Summaries are written by :func:`record_due`, which a daily job inside each
running instance calls with its own database connection (started when Zope
starts, see :func:`start_job`). Several Zope clients may record the same day
at the same time: both insert the same key into the same bucket, ZODB refuses
the second commit as a conflict, and that client finds the day recorded when
it looks again. So each day has one summary, written once.
"""

from collective.securitybp import logger
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from html import escape
import os
import threading


KEY = "collective.securitybp.history"
KEEP_DAYS = 365
ENVIRONMENT_VARIABLE = "SECURITYBP_HISTORY"
JOB_INTERVAL = 3600  # seconds between two looks of the daily job
JOB_FIRST_DELAY = 120  # seconds after start-up


def summary(report):
    """The summary of ``report`` that the history keeps."""
    return {
        "date": report.generated_at.date().isoformat(),
        "recorded_at": report.generated_at.replace(microsecond=0).isoformat(),
        "score": report.score,
        "grade": report.grade,
        "summary": dict(report.summary),
        "open": sorted({finding.key for finding in report.findings}),
    }


class HistoryStore:
    """The daily summaries of one site."""

    def __init__(self, site):
        self.site = site

    def _tree(self, create=False):
        annotations = getattr(self.site, "__annotations__", None)
        tree = annotations.get(KEY) if annotations is not None else None
        if tree is None and create:
            from BTrees.OOBTree import OOBTree
            from zope.annotation.interfaces import IAnnotations

            tree = IAnnotations(self.site)[KEY] = OOBTree()
        return tree

    def has(self, day):
        tree = self._tree()
        return tree is not None and day.isoformat() in tree

    def entries(self):
        """Every summary, oldest first (read-only)."""
        tree = self._tree()
        return [dict(value) for value in tree.values()] if tree is not None else []

    def record(self, report):
        """Keep the summary of ``report`` for its day, unless that day has
        one; forget days older than 365 days.

        :returns: True when a summary was added.
        """
        day = report.generated_at.date()
        tree = self._tree(create=True)
        if day.isoformat() in tree:
            return False
        tree[day.isoformat()] = summary(report)
        oldest = (day - timedelta(days=KEEP_DAYS)).isoformat()
        for key in list(tree.keys(max=oldest, excludemax=True)):
            del tree[key]
        return True

    def clear(self):
        annotations = getattr(self.site, "__annotations__", None)
        if annotations is not None and KEY in annotations:
            del annotations[KEY]


def report_history(site, report):
    """The history for the report's doors: the days (oldest first), and the
    keys of findings new since the day before the report and fixed since.
    """
    today = report.generated_at.date().isoformat()
    days = HistoryStore(site).entries()
    previous = [entry for entry in days if entry["date"] < today]
    current = {finding.key for finding in report.findings}
    if not previous:
        return {"days": days, "previous": None, "new": [], "fixed": []}
    before = set(previous[-1]["open"])
    return {
        "days": days,
        "previous": previous[-1]["date"],
        "new": sorted(current - before),
        "fixed": sorted(before - current),
    }


def trend_svg(days, width=320, height=64):
    """A small inline SVG line of the daily scores (0 to 100), with a dot on
    the last day; no script."""
    points = [(str(entry["date"]), int(entry["score"])) for entry in days]
    if not points:
        return ""
    step = width / max(len(points) - 1, 1)
    xy = [
        (round(index * step, 1), round(height - score * height / 100, 1))
        for index, (_day, score) in enumerate(points)
    ]
    coordinates = " ".join(f"{x},{y}" for x, y in xy)
    (first_day, first), (last_day, last) = points[0], points[-1]
    label = escape(f"Score {first} on {first_day}, {last} on {last_day}")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="securitybp-trend" '
        f'width="{width}" height="{height}" viewBox="-3 -3 {width + 6} '
        f'{height + 6}" role="img" aria-label="{label}"><title>{label}</title>'
        f'<polyline fill="none" stroke="currentColor" stroke-width="2" '
        f'points="{coordinates}"/><circle cx="{xy[-1][0]}" cy="{xy[-1][1]}" '
        f'r="3" fill="currentColor"/></svg>'
    )


# The daily job


def _sites(app):
    from collective.securitybp.zmi.guard import installed_sites

    return installed_sites(app)


def record_due(db, now=None):
    """Record today's summary of every site with the add-on that lacks one.

    Opens its own connection to ``db`` and commits once per site. A conflict
    means another Zope client recorded the same site and day: it is
    abandoned, and the day keeps that client's summary.

    :param db: the ZODB database.
    :param now: the time of the audit (timezone-aware); now when omitted.
    :returns: the paths of the sites recorded.
    """
    from AccessControl.SecurityManagement import getSecurityManager
    from AccessControl.SecurityManagement import newSecurityManager
    from AccessControl.SecurityManagement import setSecurityManager
    from AccessControl.users import system
    from collective.securitybp.audit import run_audit
    from Testing.makerequest import makerequest
    from ZODB.POSException import ConflictError
    from zope.component.hooks import getSite
    from zope.component.hooks import setSite
    from zope.globalrequest import getRequest
    from zope.globalrequest import setRequest
    import transaction

    now = now or datetime.now(timezone.utc)
    # Whatever this thread had before is restored afterwards.
    before = (getSite(), getRequest(), getSecurityManager())
    manager = transaction.TransactionManager()
    connection = db.open(transaction_manager=manager)
    recorded = []
    try:
        app = makerequest(connection.root()["Application"])
        setRequest(app.REQUEST)
        newSecurityManager(None, system)
        for site in _sites(app):
            path = "/".join(site.getPhysicalPath())
            manager.begin()
            store = HistoryStore(site)
            if store.has(now.date()):
                manager.abort()
                continue
            setSite(site)
            try:
                report = run_audit(site, now=now)
                if store.record(report):
                    manager.get().note(f"collective.securitybp: history of {path}")
                    manager.commit()
                    recorded.append(path)
                else:
                    manager.abort()
            except ConflictError:
                manager.abort()
                logger.info("Another client recorded the history of %s today.", path)
            finally:
                setSite(before[0])
    finally:
        manager.abort()
        setSite(before[0])
        setRequest(before[1])
        setSecurityManager(before[2])
        connection.close()
    return recorded


def _job(db, stop):
    if stop.wait(JOB_FIRST_DELAY):
        return
    while True:
        try:
            record_due(db)
        except Exception:
            logger.exception("Cannot record the security report's history.")
        if stop.wait(JOB_INTERVAL):
            return


_stop = threading.Event()


def start_job(event=None):
    """Start the daily job (subscriber of Zope's ProcessStarting).

    Not started when ``SECURITYBP_HISTORY=off`` or when the database is
    read-only (``securitybp audit`` opens it so).
    """
    if os.environ.get(ENVIRONMENT_VARIABLE, "").strip().lower() == "off":
        return None
    import Zope2

    db = getattr(Zope2, "DB", None)
    if db is None or db.storage.isReadOnly():
        return None
    thread = threading.Thread(
        target=_job, args=(db, _stop), name="securitybp-history", daemon=True
    )
    thread.start()
    return thread
