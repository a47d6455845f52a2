"""The CSP collector under abuse, over a real WSGI server: any body, any
number of clients, floods; never a 5xx, memory bounded, rare violations kept.

Clients are told apart by their address: each test client binds its own
loopback address (127.0.0.0/8 is all this machine's on Linux).
"""

from collective.securitybp.headers import collector
from plone.app.testing import setRoles
from plone.app.testing import TEST_USER_ID
import http.client
import json
import pytest
import re
import requests
import transaction


PASSWORD = "a long test passphrase 42"


@pytest.fixture(autouse=True)
def no_reports():
    collector.clear_stores()
    yield
    collector.clear_stores()


@pytest.fixture
def server(functional):
    portal = functional["portal"]
    setRoles(portal, TEST_USER_ID, ["Manager"])
    portal.acl_users.userFolderAddUser("manager", PASSWORD, ["Manager"], [])
    transaction.commit()
    return {
        "port": functional["port"],
        "url": f"http://{functional['host']}:{functional['port']}/plone",
        "portal": portal,
    }


def store(server):
    return collector.store_for(server["portal"])


def post(server, body, content_type="application/csp-report", source="127.0.0.1"):
    """POST ``body`` to @@csp-report from the loopback address ``source``;
    the response's status."""
    if not isinstance(body, bytes):
        body = (body if isinstance(body, str) else json.dumps(body)).encode()
    connection = http.client.HTTPConnection(
        "127.0.0.1", server["port"], timeout=60, source_address=(source, 0)
    )
    try:
        connection.request(
            "POST",
            "/plone/@@csp-report",
            body=body,
            headers={"Content-Type": content_type, "Host": "localhost"},
        )
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def source(n):
    """The ``n``-th client address: 127.1.0.1, 127.1.0.2, ..."""
    return f"127.1.{n // 250}.{n % 250 + 1}"


def legacy(blocked="inline", directive="script-src-elem", document="/plone/doc"):
    return {
        "csp-report": {
            "document-uri": f"http://localhost{document}",
            "effective-directive": directive,
            "blocked-uri": blocked,
            "disposition": "report",
        }
    }


def batch(count, prefix="https://flood.example.net/", kinds=None):
    """A Reporting API batch of ``count`` violations, all distinct or of
    ``kinds`` kinds."""
    return [
        {
            "type": "csp-violation",
            "url": "https://www.example.org/news",
            "body": {
                "effectiveDirective": "img-src",
                "blockedURL": f"{prefix}{n if kinds is None else n % kinds}",
                "disposition": "enforce",
            },
        }
        for n in range(count)
    ]


def violations(server):
    session = requests.Session()
    session.auth = ("manager", PASSWORD)
    response = session.get(
        server["url"] + "/@@securitybp-csp-violations?format=json", timeout=60
    )
    assert response.status_code == 200
    return response.json()


def nested(depth, opening="[", closing="]"):
    return opening * depth + closing * depth


REPORT = json.dumps(legacy())[:-2]  # '{"csp-report": {...' without '}}'
# Bodies of every shape: what the collector answers (never a 5xx) and how
# many violations it keeps of each.
BODIES = {
    "nested arrays": (nested(30000), 400, 0),
    "nested objects": ('{"a":' * 10000 + "1" + "}" * 10000, 400, 0),
    "nested in a report": (
        REPORT + ', "line-number": ' + nested(20000) + "}}",
        400,
        0,
    ),
    "nested in a field": (
        '[{"type": "csp-violation", "body": {"effectiveDirective": "img-src", '
        '"sample": ' + nested(20000) + "}}]",
        400,
        0,
    ),
    "a 5000-digit number": (REPORT + ', "line-number": 1' + "0" * 5000 + "}}", 400, 0),
    "a huge float": (REPORT + ', "line-number": 1e999999}}', 204, 1),
    "NaN and Infinity": (REPORT + ', "line-number": NaN, "x": -Infinity}}', 204, 1),
    "a number": ("12", 400, 0),
    "null": ("null", 400, 0),
    "true": ("true", 400, 0),
    "a string": ('"csp-report"', 400, 0),
    "a string for the report": ('{"csp-report": "script-src"}', 400, 0),
    "a list for the report": ('{"csp-report": []}', 400, 0),
    "a number for the directive": (
        '{"csp-report": {"effective-directive": 5}}',
        400,
        0,
    ),
    "objects for every field": (
        json.dumps(
            {
                "csp-report": {
                    key: {"a": [1]}
                    for key in (
                        "document-uri",
                        "blocked-uri",
                        "source-file",
                        "line-number",
                        "disposition",
                        "script-sample",
                    )
                }
                | {"effective-directive": "img-src"}
            }
        ),
        204,
        1,
    ),
    "a string for the body": ('[{"type": "csp-violation", "body": "x"}]', 400, 0),
    "a list for the type": ('[{"type": ["csp-violation"], "body": {}}]', 204, 0),
    "10,000 empty objects": ("[" + ",".join(["{}"] * 10000) + "]", 204, 0),
    "10,000 numbers": ("[" + ",".join(["1"] * 10000) + "]", 400, 0),
    "10,000 nulls": ("[" + ",".join(["null"] * 10000) + "]", 400, 0),
    "empty": ("", 400, 0),
    "blank": ("   \n", 400, 0),
    "not UTF-8": (b"\x80\x81\xfe\xff", 400, 0),
    "latin-1 text": (
        b'{"csp-report": {"effective-directive": "img-src\xe9"}}',
        400,
        0,
    ),
    "a UTF-8 BOM": (b"\xef\xbb\xbf" + json.dumps(legacy()).encode(), 204, 1),
    "UTF-16": (json.dumps(legacy()).encode("utf-16"), 204, 1),
    "NUL bytes": (b"\x00" * 1000, 400, 0),
    "lone surrogates and escapes": (
        '{"csp-report": {"effective-directive": "img-src\\ud800", '
        '"blocked-uri": "https://x/\\udfff\\u0000\\u001b[31m<b>"}}',
        204,
        1,
    ),
    "duplicate keys": (
        '{"csp-report": {"effective-directive": "a", "effective-directive": "b"}}',
        204,
        1,
    ),
    "over 64 KiB": (json.dumps(legacy(blocked="x" * 70000)), 400, 0),
}


@pytest.mark.parametrize("name", sorted(BODIES))
def test_any_body_gets_2xx_or_4xx(server, name):
    body, status, kept = BODIES[name]
    assert post(server, body) == status
    assert post(server, body, "application/reports+json", "127.0.0.9") == status
    data = violations(server)
    assert data["received"] == 2 * kept
    # The report page still renders whatever was kept.
    session = requests.Session()
    session.auth = ("manager", PASSWORD)
    response = session.get(server["url"] + "/@@security-report", timeout=60)
    assert response.status_code == 200
    assert 'id="securitybp-csp-violations"' in response.text


def test_odd_text_is_kept_printable(server):
    body, _status, _kept = BODIES["lone surrogates and escapes"]
    assert post(server, body) == 204
    [entry] = violations(server)["violations"]
    assert (entry["directive"], entry["blocked"]) == (
        "img-src\ufffd",
        "https://x/\ufffd\ufffd\ufffd[31m<b>",
    )
    session = requests.Session()
    session.auth = ("manager", PASSWORD)
    html = session.get(server["url"] + "/@@security-report", timeout=60).text
    assert 'data-blocked="https://x/\ufffd\ufffd\ufffd[31m&lt;b&gt;"' in html


def test_chunked_body_over_64_kib(server):
    def chunks():
        yield b'{"csp-report": {"effective-directive": "img-src", "x": "'
        for _n in range(100):
            yield b"y" * 1024
        yield b'"}}'

    response = requests.post(
        server["url"] + "/@@csp-report",
        data=chunks(),
        headers={"Content-Type": "application/csp-report"},
        timeout=60,
    )
    assert response.status_code == 400
    assert violations(server)["received"] == 0


def test_rate_limit_counts_reports_not_requests(server):
    # A batch of 100 takes the whole burst of 60; the other 40 are dropped.
    assert post(server, batch(100), "application/reports+json") == 204
    data = violations(server)
    assert (data["received"], data["dropped"]) == (60, 40)
    assert len(data["violations"]) == collector.MAX_PER_CLIENT
    # Nothing left: the next request is refused before its body is read.
    assert post(server, legacy(), "application/reports+json") == 429
    assert post(server, b"{bad") == 429
    # Another client has its own allowance.
    assert post(server, legacy(), source="127.0.0.2") == 204
    assert violations(server)["received"] == 61


def test_two_big_batches_do_not_hide_real_violations(server):
    """Two 63 KB batches from one client once filled the table."""
    for round_ in range(2):
        body = json.dumps(batch(345, prefix=f"https://flood{round_}.example.net/"))
        assert 60000 < len(body) < 65536
        assert post(server, body, "application/reports+json") in (204, 429)
    assert len(store(server).violations) <= collector.MAX_PER_CLIENT
    # A real violation, reported afterwards by a visitor, is kept.
    assert (
        post(server, legacy(blocked="https://cdn.example.org"), source="127.0.0.3")
        == 204
    )
    blocked = [v["blocked"] for v in violations(server)["violations"]]
    assert "https://cdn.example.org" in blocked


def test_rare_violation_survives_a_flood_from_many_clients(server):
    rare = legacy(blocked="https://rare.example.org", directive="frame-src")
    assert post(server, rare, source="127.0.0.3") == 204
    assert post(server, rare, source="127.0.0.4") == 204
    # 40 flooding clients, 60 new violations each: 2,400 distinct ones for
    # a table of 1,000.
    for n in range(40):
        body = batch(60, prefix=f"https://flood.example.net/{n}/")
        assert post(server, body, "application/reports+json", source(n)) == 204
    table = store(server)
    assert len(table.violations) == collector.MAX_VIOLATIONS
    assert max(len(keys) for keys in table._owned.values()) <= collector.MAX_PER_CLIENT
    data = violations(server)
    assert data["received"] == 2 + 40 * 60
    assert data["evicted"] == 2 + 40 * 60 - 1 - collector.MAX_VIOLATIONS
    # Kept, and first on the security report: two clients saw it.
    assert data["violations"][0]["blocked"] == "https://rare.example.org"
    assert data["violations"][0]["count"] == 2
    session = requests.Session()
    session.auth = ("manager", PASSWORD)
    html = session.get(server["url"] + "/@@security-report", timeout=60).text
    assert 'data-blocked="https://rare.example.org"' in html


def test_many_clients_memory_bounded(server, monkeypatch):
    """More clients than the collector tracks: the least recently seen are
    forgotten, one at a time; a client seen recently keeps its (empty)
    bucket."""
    monkeypatch.setattr(collector, "MAX_CLIENTS", 50)  # the real bound: 4096
    assert post(server, batch(60), "application/reports+json", "127.0.0.5") == 204
    busy = 0
    for n in range(120):
        assert post(server, legacy(blocked=f"https://x/{n}"), source=source(n)) == 204
        if n % 20 == 0:  # the busy client comes back now and then
            status = post(server, legacy(), source="127.0.0.5")
            assert status in (204, 429)  # one token a second comes back
            busy += status == 204
    table = store(server)
    assert len(table._buckets) == 50
    # Still tracked with its bucket nearly empty: never forgotten all at once.
    assert table._buckets["127.0.0.5"][0] < 30
    assert source(0) not in table._buckets
    assert source(119) in table._buckets
    assert len(table.violations) <= collector.MAX_VIOLATIONS
    assert len(table.recent) <= collector.MAX_REPORTS
    assert violations(server)["received"] == 60 + 120 + busy


def test_keeps_the_last_500_reports(server):
    for n in range(10):
        body = batch(55, prefix=f"https://x/{n % 2}/", kinds=5)
        assert post(server, body, "application/reports+json", source(n)) == 204
    data = violations(server)
    assert data["received"] == 550
    assert len(data["recent"]) == 500
    assert sum(v["count"] for v in data["violations"]) == 550


def test_report_page_ranks_by_clients(server):
    """Many reports from one client rank below a violation many clients saw."""
    assert post(server, batch(30, kinds=1), "application/reports+json") == 204
    for n in range(9):
        assert post(server, legacy(), source=source(n)) == 204
    session = requests.Session()
    session.auth = ("manager", PASSWORD)
    html = session.get(server["url"] + "/@@security-report", timeout=60).text
    rows = re.findall(
        r'<tr class="securitybp-csp-violation"[^>]*>\s*'
        r"<td>(\d+)</td>\s*<td>([^<]+)</td>\s*<td><code>([^<]+)</code>",
        html,
    )
    assert rows == [("9", "8+", "script-src-elem"), ("30", "1", "img-src")]
