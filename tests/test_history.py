"""The report's history: one summary per day, written by the daily job with
its own connection, never by a GET; shown in the report, its JSON and REST."""

from collective.securitybp.history import HistoryStore
from collective.securitybp.history import record_due
from collective.securitybp.history import start_job
from collective.securitybp.model import Report
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from ZODB.POSException import ConflictError
import pytest
import requests
import transaction


PASSWORD = "a long test passphrase 42"
DAY = datetime(2026, 12, 1, 3, 0, tzinfo=timezone.utc)


def entries(portal):
    transaction.abort()  # see what other connections committed
    return HistoryStore(portal).entries()


def test_once_per_day_with_an_injected_clock(functional):
    db, portal = functional["zodbDB"], functional["portal"]
    assert record_due(db, now=DAY) == ["/plone"]
    assert record_due(db, now=DAY + timedelta(hours=20)) == []
    assert record_due(db, now=DAY + timedelta(days=1)) == ["/plone"]
    days = entries(portal)
    assert [entry["date"] for entry in days] == ["2026-12-01", "2026-12-02"]
    first = days[0]
    assert first["recorded_at"] == "2026-12-01T03:00:00+00:00"
    assert set(first["summary"]) == {"info", "low", "medium", "high", "critical"}
    assert "SBP-CONF-018|/.well-known/security.txt" in first["open"]


def test_days_older_than_a_year_are_forgotten(functional):
    db, portal = functional["zodbDB"], functional["portal"]
    record_due(db, now=DAY)
    record_due(db, now=DAY + timedelta(days=365))
    assert len(entries(portal)) == 2
    record_due(db, now=DAY + timedelta(days=366))
    assert [e["date"] for e in entries(portal)] == ["2027-12-01", "2027-12-02"]


def test_two_clients_on_the_same_day_write_one_summary(functional):
    db = functional["zodbDB"]
    record_due(db, now=DAY - timedelta(days=1))  # the history exists
    managers = [transaction.TransactionManager() for _client in range(2)]
    connections = [db.open(transaction_manager=tm) for tm in managers]
    try:
        for number, connection in enumerate(connections):
            site = connection.root()["Application"]["plone"]
            report = Report(
                site="/plone", generated_at=DAY + timedelta(minutes=number), versions={}
            )
            assert HistoryStore(site).record(report) is True
        managers[0].commit()
        with pytest.raises(ConflictError):
            managers[1].commit()
        managers[1].abort()
    finally:
        for connection in connections:
            connection.close()
    # The second client's job looks again and finds the day recorded.
    assert record_due(db, now=DAY + timedelta(hours=1)) == []
    days = entries(functional["portal"])
    assert [e["recorded_at"] for e in days][-1] == "2026-12-01T03:00:00+00:00"
    assert len(days) == 2


@pytest.fixture
def server(functional):
    portal = functional["portal"]
    portal.acl_users.userFolderAddUser("siteadmin", PASSWORD, ["Manager"], [])
    transaction.commit()
    url = f"http://{functional['host']}:{functional['port']}/{portal.getId()}"
    return {"url": url, "portal": portal, "db": functional["zodbDB"]}


def test_report_shows_the_trend_and_no_get_writes(server):
    db, portal = server["db"], server["portal"]
    auth = ("siteadmin", PASSWORD)
    # Plone's portlets store their assignments on the first page view.
    requests.get(server["url"] + "/@@security-report", auth=auth, timeout=60)
    now = datetime.now(timezone.utc)
    record_due(db, now=now - timedelta(days=2))
    record_due(db, now=now - timedelta(days=1))
    # Fixed since yesterday: a security contact is published now.
    registry = portal.portal_registry
    registry["collective.securitybp.securitytxt_contact"] = ["mailto:s@example.org"]
    registry["collective.securitybp.securitytxt_expires"] = date.today() + timedelta(
        days=200
    )
    transaction.commit()
    last = db.lastTransaction()
    data = requests.get(
        server["url"] + "/@@security-report.json", auth=auth, timeout=60
    ).json()
    history = data["history"]
    assert len(history["days"]) == 2
    assert history["previous"] == (now - timedelta(days=1)).date().isoformat()
    assert "SBP-CONF-018|/.well-known/security.txt" in history["fixed"]
    rest = requests.get(
        server["url"] + "/@security-report",
        headers={"Accept": "application/json"},
        auth=auth,
        timeout=60,
    ).json()
    assert rest["history"]["fixed"] == history["fixed"]
    html = requests.get(server["url"] + "/@@security-report", auth=auth, timeout=60)
    assert 'id="securitybp-history"' in html.text
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="securitybp-trend"' in (
        html.text
    )
    assert "<script" not in html.text.split('id="securitybp-history"')[1][:3000]
    assert db.lastTransaction() == last
    assert len(entries(portal)) == 2


def test_no_history_no_section(server):
    auth = ("siteadmin", PASSWORD)
    html = requests.get(server["url"] + "/@@security-report", auth=auth, timeout=60)
    assert html.status_code == 200
    assert 'id="securitybp-history"' not in html.text
    data = requests.get(
        server["url"] + "/@@security-report.json", auth=auth, timeout=60
    ).json()
    assert data["history"] == {"days": [], "previous": None, "new": [], "fixed": []}


def test_the_job_can_be_switched_off(monkeypatch):
    import Zope2

    monkeypatch.setenv("SECURITYBP_HISTORY", "off")
    monkeypatch.setattr(Zope2, "DB", object(), raising=False)
    assert start_job() is None


def test_trend_svg():
    from collective.securitybp.history import trend_svg

    days = [{"date": "2026-12-01", "score": 100}, {"date": "2026-12-02", "score": 50}]
    svg = trend_svg(days, width=100, height=50)
    assert 'points="0.0,0.0 100.0,25.0"' in svg
    assert '<circle cx="100.0" cy="25.0"' in svg
    assert trend_svg([]) == ""


def test_the_job_starts_with_a_writable_database(functional, monkeypatch):
    import collective.securitybp.history as history
    import threading
    import Zope2

    stop = threading.Event()
    monkeypatch.setattr(history, "_stop", stop)
    monkeypatch.setenv("SECURITYBP_HISTORY", "")
    monkeypatch.setattr(Zope2, "DB", functional["zodbDB"], raising=False)
    thread = start_job()
    try:
        assert thread.is_alive() and thread.name == "securitybp-history"
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()
