"""Security headers and the CSP collector over a real WSGI server."""

from collective.securitybp.headers import collector
from collective.securitybp.headers import policy
from collective.securitybp.headers.subscriber import HTTPS_SITES
from collective.securitybp.settings import bump
from html.parser import HTMLParser
from plone import api
from plone.app.testing import setRoles
from plone.app.testing import TEST_USER_ID
from plone.namedfile.file import NamedBlobFile
from plone.namedfile.file import NamedBlobImage
import ast
import base64
import html
import http.client
import io
import json
import pytest
import re
import requests
import tarfile
import transaction


PASSWORD = "a long test passphrase 42"
PREFIX = "collective.securitybp."
# A 1x1 transparent PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
EXPECTED = {
    "X-Frame-Options": "SAMEORIGIN",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": policy.PERMISSIONS_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin-allow-popups",
    "Cross-Origin-Resource-Policy": "same-site",
    "X-XSS-Protection": "0",
    "Content-Security-Policy-Report-Only": policy.COMPATIBLE_CSP
    + "; report-uri /plone/@@csp-report",
}
ADDED = [name for name in EXPECTED if name != "X-Frame-Options"] + [
    "Strict-Transport-Security",
    "Reporting-Endpoints",
    "Content-Security-Policy",
]

REST_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}
# Values HTTP cannot carry, pasted from documents: a curly quote, an
# ellipsis, a line separator, a non-breaking space.
UNSENDABLE_LINES = [
    (
        ["X-Frame-Options: DENY", "Referrer-Policy: \u2018no-referrer\u2019"],
        "Line 2 contains a curly quote U+2018 (\u2018) at column 18, which HTTP "
        "cannot carry: use straight quotes (' or \") instead.",
    ),
    (
        ["X-Robots-Tag: noindex\u2026"],
        "Line 1 contains U+2026 (\u2026) at column 22, which HTTP cannot carry",
    ),
    (
        ["X-Robots-Tag: noindex\u2028nofollow"],
        "Line 1 contains a line break U+2028 ('\\u2028') at column 22",
    ),
    (
        ["X-Robots-Tag: noindex,\u00a0nofollow"],
        "Line 1 contains U+00A0 ('\\xa0') at column 23",
    ),
]
UNSENDABLE_POLICIES = [
    (
        "default-src \u2018self\u2019",
        "The Content-Security-Policy contains a curly quote U+2018 (\u2018) at "
        "column 13, which HTTP cannot carry: use straight quotes (' or \") "
        "instead.",
    ),
    (
        "default-src 'self';\u2028img-src data:",
        "The Content-Security-Policy contains a line break U+2028 ('\\u2028') "
        "at column 20",
    ),
    (
        "img-src https://b\u00fccher.example.org",
        "contains U+00FC (\u00fc) at column 18, which HTTP cannot carry",
    ),
]
FORBIDDEN_LINES = [
    (["Refresh: 0; url=https://elsewhere.example.org/"], "it redirects"),
    (["Location: https://elsewhere.example.org/"], "it redirects"),
    (["Access-Control-Allow-Origin: *"], "it is a CORS header"),
    (["Access-Control-Allow-Credentials: true"], "it is a CORS header"),
    (["Content-Length: 0"], "it frames the HTTP message"),
    (["Transfer-Encoding: chunked"], "it frames the HTTP message"),
    (["Set-Cookie: a=b"], "it sets cookies"),
    (["Connection: close"], "it is a hop-by-hop header"),
    (["Proxy-Authenticate: Basic"], "it is a hop-by-hop header"),
]
# 30 lines of 4,000 bytes: each line fine, 121 KB together.
OVERSIZED = [f"X-Pad-{n}: " + "a" * 4000 for n in range(30)]
TOO_BIG = "over the 8 KiB (8192 bytes) they may take together"


def python_script(container, name, body):
    container.manage_addProduct["PythonScripts"].manage_addPythonScript(name)
    container[name].write(body)


@pytest.fixture(autouse=True)
def no_reports():
    collector.clear_stores()
    yield
    collector.clear_stores()
    HTTPS_SITES.clear()


@pytest.fixture
def server(functional):
    portal = functional["portal"]
    app = functional["app"]
    setRoles(portal, TEST_USER_ID, ["Manager"])
    portal.acl_users.userFolderAddUser("manager", PASSWORD, ["Manager"], [])
    api.content.create(container=portal, type="Document", id="doc", title="Doc")
    api.content.create(
        container=portal,
        type="File",
        id="file",
        file=NamedBlobFile(b"plain text\n" * 100, filename="notes.txt"),
    )
    api.content.create(
        container=portal,
        type="Image",
        id="image",
        image=NamedBlobImage(PNG, filename="dot.png"),
    )
    python_script(portal, "boom", "raise ValueError('boom')")
    python_script(
        portal,
        "stream",
        "response = container.REQUEST.RESPONSE\n"
        "response.setHeader('Content-Type', 'text/plain')\n"
        "response.write(b'first chunk\\n')\n"
        "response.write(b'second chunk\\n')\n",
    )
    python_script(
        portal,
        "own_header",
        "container.REQUEST.RESPONSE.setHeader('Referrer-Policy', 'no-referrer')\n"
        "return 'mine'",
    )
    if "virtual_hosting" not in app.objectIds():
        from Products.SiteAccess.VirtualHostMonster import manage_addVirtualHostMonster

        manage_addVirtualHostMonster(app)
    transaction.commit()
    root = f"http://{functional['host']}:{functional['port']}"
    return {"root": root, "url": root + "/plone", "portal": portal, "app": app}


def manager():
    session = requests.Session()
    session.auth = ("manager", PASSWORD)
    return session


def assert_security_headers(response, expected=EXPECTED):
    for name, value in expected.items():
        assert response.raw.headers.getlist(name) == [value], name
    assert "Strict-Transport-Security" not in response.headers


RESPONSES = {
    "page": ("get", "", {}, 200),
    "login form": ("get", "/login", {}, 200),
    "redirect": ("get", "/logout", {}, 302),
    "redirect to login": (
        "get",
        "/@@overview-controlpanel",
        {"Accept": "text/html"},
        302,
    ),
    "401 REST": ("get", "/++api++/@security-report", {}, 401),
    "404 page": ("get", "/nothere", {"Accept": "text/html"}, 404),
    "404 JSON": ("get", "/nothere", {"Accept": "application/json"}, 404),
    "500 page": ("get", "/boom", {"Accept": "text/html"}, 500),
    "file download": ("get", "/file/@@download/file", {}, 200),
    "image": ("get", "/image/@@images/image", {}, 200),
    "image scale": ("get", "/image/@@images/image/thumb", {}, 200),
    "REST JSON": ("get", "/++api++/doc", {}, 200),
    "streamed": ("get", "/stream", {}, 200),
    "static resource": ("get", "/favicon.ico", {}, 200),
}


@pytest.mark.parametrize("kind", sorted(RESPONSES))
def test_every_response_kind(server, kind):
    method, path, headers, status = RESPONSES[kind]
    response = requests.request(
        method, server["url"] + path, headers=headers, allow_redirects=False, timeout=60
    )
    assert response.status_code == status
    assert_security_headers(response)
    if kind == "streamed":
        assert response.text == "first chunk\nsecond chunk\n"


def test_403_and_manager_pages(server):
    session = manager()
    response = session.post(
        server["url"] + "/@@security-report-acknowledge",
        data={"check_id": "SBP-HEADER-002", "subject": "x", "reason": "x"},
        allow_redirects=False,
        timeout=60,
    )
    assert response.status_code == 403
    assert_security_headers(response)
    for path in ("/@@securitybp-controlpanel", "/@@security-report", "/doc/edit"):
        response = session.get(server["url"] + path, timeout=60)
        assert response.status_code == 200
        assert_security_headers(response)


def test_header_set_by_view_left_alone(server):
    response = requests.get(server["url"] + "/own_header", timeout=60)
    assert response.text == "mine"
    assert response.raw.headers.getlist("Referrer-Policy") == ["no-referrer"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_override_replaces_plone_protect_default(server):
    api.portal.set_registry_record(
        PREFIX + "headers_overrides", ["X-Frame-Options: DENY"]
    )
    transaction.commit()
    for path in ("", "/favicon.ico"):  # an HTML page (plone.protect) and a file
        response = requests.get(server["url"] + path, timeout=60)
        assert response.raw.headers.getlist("X-Frame-Options") == ["DENY"]


def test_outside_the_site_untouched(server):
    for path in ("/", "/acl_users/manage_main"):
        response = requests.get(
            server["root"] + path, allow_redirects=False, timeout=60
        )
        for name in ADDED:
            assert name not in response.headers, (path, name)


def test_https_public_url_gets_hsts(server):
    url = (
        server["root"]
        + "/VirtualHostBase/https/www.example.org:443/plone/VirtualHostRoot/"
    )
    response = requests.get(url, timeout=60)
    assert response.status_code == 200
    assert (
        response.headers["Strict-Transport-Security"]
        == "max-age=31536000; includeSubDomains"
    )
    assert response.headers["Reporting-Endpoints"] == 'securitybp-csp="/@@csp-report"'
    assert response.headers["Content-Security-Policy-Report-Only"].endswith(
        "; report-uri /@@csp-report; report-to securitybp-csp"
    )
    url = (
        server["root"]
        + "/VirtualHostBase/https/www.example.org:443/plone/VirtualHostRoot/_vh_site/"
    )
    response = requests.get(url, timeout=60)
    assert (
        response.headers["Reporting-Endpoints"] == 'securitybp-csp="/site/@@csp-report"'
    )
    url = (
        server["root"]
        + "/VirtualHostBase/http/www.example.org:80/plone/VirtualHostRoot/"
    )
    response = requests.get(url, timeout=60)
    assert "Strict-Transport-Security" not in response.headers
    assert "Reporting-Endpoints" not in response.headers
    assert response.headers["Content-Security-Policy-Report-Only"].endswith(
        "'self'; report-uri /@@csp-report"
    )


def test_strict_preset_over_https(server):
    api.portal.set_registry_record(PREFIX + "headers_preset", "strict")
    transaction.commit()
    base = (
        server["root"]
        + "/VirtualHostBase/https/www.example.org:443/plone/VirtualHostRoot"
    )
    response = requests.get(base + "/", timeout=60)
    assert "Content-Security-Policy-Report-Only" not in response.headers
    assert response.headers["Content-Security-Policy"] == (
        policy.STRICT_CSP
        + "; upgrade-insecure-requests; report-uri /@@csp-report; report-to securitybp-csp"
    )
    assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    response = manager().get(base + "/doc/folder_contents", timeout=60)
    assert (
        "script-src 'self' 'unsafe-eval';"
        in response.headers["Content-Security-Policy"]
    )


def test_uninstall_removes_every_header(server):
    from plone.base.utils import get_installer

    portal = server["portal"]
    get_installer(portal, portal.REQUEST).uninstall_product("collective.securitybp")
    transaction.commit()
    for path, status in (("", 200), ("/nothere", 404), ("/file/@@download/file", 200)):
        response = requests.get(server["url"] + path, timeout=60)
        assert response.status_code == status
        for name in ADDED:
            assert name not in response.headers, (path, name)
    # Stock Plone's own header stays (plone.protect, HTML pages only).
    assert (
        requests.get(server["url"], timeout=60).headers["X-Frame-Options"]
        == "SAMEORIGIN"
    )


def test_deleted_records_never_break_a_response(server, caplog):
    registry = api.portal.get_tool("portal_registry")
    for name in ("headers_enabled", "headers_preset", "headers_overrides"):
        del registry.records[PREFIX + name]
    transaction.commit()
    policy._logged.clear()
    for path, status in (("", 200), ("/nothere", 404)):
        response = requests.get(
            server["url"] + path, headers={"Accept": "text/html"}, timeout=60
        )
        assert response.status_code == status
        assert_security_headers(response)
    logged = [r.getMessage() for r in caplog.records if "is missing" in r.getMessage()]
    assert len(logged) == 3  # once each, not once per response


def test_corrupted_records_never_break_a_response(server, caplog):
    portal = server["portal"]
    registry = api.portal.get_tool("portal_registry")
    values = registry.records._values
    values[PREFIX + "headers_preset"] = "bogus"
    values[PREFIX + "headers_overrides"] = ["Set-Cookie: stolen=1", "no colon"]
    values[PREFIX + "headers_csp_policy"] = "scirpt-src 'self'"
    values[PREFIX + "headers_hsts_max_age"] = "a year"
    registry.records._fields[PREFIX + "headers_csp_mode"] = "not a field"
    bump(portal)  # direct writes fire no record event
    transaction.commit()
    policy._logged.clear()
    for _round in range(3):
        response = requests.get(server["url"], timeout=60)
        assert response.status_code == 200
        assert_security_headers(response)
        assert "stolen" not in response.headers.get("Set-Cookie", "")
    messages = [r.getMessage() for r in caplog.records]
    for name in ("headers_preset", "headers_csp_policy"):
        assert (
            len([m for m in messages if f"securitybp.{name} has an invalid value" in m])
            == 1
        )
    assert [m.split(" of ")[0] for m in messages if "is left out" in m] == [
        "Line 1",
        "Line 2",
    ]


# Every kind of page, and what it answers with any stored setting.
PAGES = [
    ("front page", "", {"Accept": "text/html"}, None, 200),
    ("REST", "/++api++", {"Accept": "application/json"}, None, 200),
    ("REST content", "/++api++/doc", {"Accept": "application/json"}, None, 200),
    ("control panel", "/@@securitybp-controlpanel", {}, "manager", 200),
    ("REST control panel", "/@controlpanels/securitybp", REST_HEADERS, "manager", 200),
    ("404 page", "/nothere", {"Accept": "text/html"}, None, 404),
    ("404 JSON", "/nothere", {"Accept": "application/json"}, None, 404),
    ("file download", "/file/@@download/file", {}, None, 200),
]


def get_pages(server):
    """Every page of PAGES: ``{name: response}``; the statuses checked."""
    responses = {}
    for name, path, headers, user, status in PAGES:
        session = manager() if user else requests.Session()
        response = session.get(
            server["url"] + path, headers=headers, allow_redirects=False, timeout=60
        )
        assert response.status_code == status, name
        responses[name] = response
    return responses


def write_straight(server, **values):
    """Store values the way no field validates them (an import, an older
    version, a script): into the registry's storage."""
    registry = api.portal.get_tool("portal_registry")
    for name, value in values.items():
        registry.records._values[PREFIX + name] = value
    bump(server["portal"])  # direct writes fire no record event
    transaction.commit()
    policy._logged.clear()


@pytest.mark.parametrize("lines,_message", UNSENDABLE_LINES)
def test_unsendable_override_stored_never_breaks_a_response(
    server, caplog, lines, _message
):
    write_straight(server, headers_overrides=[*lines, "X-Kept: yes"])
    for _round in range(2):
        for name, response in get_pages(server).items():
            # Every other header goes out; the bad one falls back to the
            # preset's value (X-Frame-Options, Referrer-Policy) or is not sent.
            expected = dict(EXPECTED)
            if lines[0] == "X-Frame-Options: DENY":
                expected["X-Frame-Options"] = "DENY"
            assert_security_headers(response, expected)
            assert "X-Robots-Tag" not in response.headers, name
            assert response.headers["X-Kept"] == "yes", name
    logged = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert len(logged) == 1  # once per process, not per response
    assert logged[0].startswith(f"Line {len(lines)} of ")


@pytest.mark.parametrize("value,_message", UNSENDABLE_POLICIES)
def test_unsendable_policy_stored_never_breaks_a_response(
    server, caplog, value, _message
):
    write_straight(server, headers_csp_policy=value)
    for response in get_pages(server).values():
        assert_security_headers(response)  # the preset's policy
    logged = [
        r.getMessage()
        for r in caplog.records
        if "headers_csp_policy has an invalid value" in r.getMessage()
    ]
    assert len(logged) == 1


def test_setting_imported_by_genericsetup_never_breaks_a_response(server, caplog):
    """plone.registry keeps no constraint of its fields: a registry.xml (or
    api.portal.set_registry_record) stores what the control panel refuses."""
    from plone.app.registry.exportimport.handler import importRegistry
    from Products.GenericSetup.context import TarballImportContext

    xml = (
        '<?xml version="1.0" encoding="utf-8"?>\n<registry>\n'
        '<record name="collective.securitybp.headers_overrides">\n'
        '<value purge="true">\n'
        "<element>Referrer-Policy: \u201cno-referrer\u201d</element>\n"
        "<element>X-Kept: yes</element>\n"
        "</value>\n</record>\n</registry>\n"
    ).encode()
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("registry.xml")
        info.size = len(xml)
        tar.addfile(info, io.BytesIO(xml))
    portal = server["portal"]
    importRegistry(TarballImportContext(portal.portal_setup, archive.getvalue()))
    transaction.commit()
    policy._logged.clear()
    assert stored("headers_overrides") == [
        "Referrer-Policy: \u201cno-referrer\u201d",
        "X-Kept: yes",
    ]
    for name, response in get_pages(server).items():
        assert_security_headers(response)  # Referrer-Policy: the preset's
        assert response.headers["X-Kept"] == "yes", name
    logged = [r.getMessage() for r in caplog.records if "left out" in r.getMessage()]
    assert len(logged) == 1
    assert "Line 1 contains a curly quote U+201C" in logged[0]


def test_forbidden_and_oversized_overrides_stored_never_break_a_response(server):
    write_straight(
        server,
        headers_overrides=[
            "Refresh: 0; url=https://elsewhere.example.org/",
            "Access-Control-Allow-Origin: *",
            "Location: https://elsewhere.example.org/",
            "Content-Length: 0",
            "Set-Cookie: stolen=1",
            *OVERSIZED,
        ],
        headers_csp_mode="enforce",
        headers_csp_policy="img-src " + "a" * 4000,
    )
    for name, response in get_pages(server).items():
        for header in ("Refresh", "Access-Control-Allow-Origin", "Location"):
            assert header not in response.headers, (name, header)
        assert "stolen" not in response.headers.get("Set-Cookie", ""), name
        pads = [h for h in response.headers if h.startswith("X-Pad-")]
        assert pads == ["X-Pad-0", "X-Pad-1"], name  # 8 KiB, no more
        assert response.headers["Content-Security-Policy"].startswith(
            policy.COMPATIBLE_CSP
        ), name
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_broken_stamp_never_breaks_a_response(server):
    from collective.securitybp.settings import STAMP_KEY
    from zope.annotation.interfaces import IAnnotations

    IAnnotations(server["portal"])[STAMP_KEY] = "not a stamp"
    transaction.commit()
    response = requests.get(server["url"], timeout=60)
    assert response.status_code == 200


# The collector


def post(url, body, content_type="application/csp-report", **kwargs):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(
        url + "/@@csp-report",
        data=data,
        headers={"Content-Type": content_type},
        timeout=60,
        **kwargs,
    )


def legacy(directive="script-src-elem", blocked="inline", document="/plone/doc"):
    return {
        "csp-report": {
            "document-uri": f"http://localhost{document}?ticket=secret",
            "violated-directive": directive,
            "effective-directive": directive,
            "blocked-uri": blocked,
            "disposition": "report",
            "line-number": 3,
        }
    }


def reporting_api(count, directive="img-src"):
    return [
        {
            "type": "csp-violation",
            "url": "https://www.example.org/news",
            "body": {
                "documentURL": f"https://www.example.org/news?n={n}",
                "effectiveDirective": directive,
                "blockedURL": f"https://tracker.example.net/pixel{n % 2}.gif?id={n}",
                "disposition": "enforce",
            },
        }
        for n in range(count)
    ]


def violations(server):
    return (
        manager()
        .get(server["url"] + "/@@securitybp-csp-violations?format=json", timeout=60)
        .json()
    )


def test_collector_accepts_both_formats(server):
    url = server["url"]
    for _n in range(3):
        assert post(url, legacy()).status_code == 204
    response = post(url, reporting_api(4), "application/reports+json")
    assert response.status_code == 204
    assert response.headers["Cache-Control"] == "no-store"
    assert_security_headers(response)
    data = violations(server)
    assert data["received"] == 7
    assert [
        (v["count"], v["directive"], v["blocked"], v["document"])
        for v in data["violations"]
    ] == [
        (3, "script-src-elem", "inline", "/plone/doc"),
        (2, "img-src", "https://tracker.example.net/pixel0.gif", "/news"),
        (2, "img-src", "https://tracker.example.net/pixel1.gif", "/news"),
    ]
    assert "secret" not in json.dumps(data)  # query strings are dropped


@pytest.mark.parametrize(
    "body,content_type,status",
    [
        (b"{not json", "application/csp-report", 400),
        (b"\xff\xfe", "application/reports+json", 400),
        ({"csp-report": "nope"}, "application/csp-report", 400),
        ([{"type": "csp-violation", "body": "nope"}], "application/reports+json", 400),
        (json.dumps(legacy(blocked="x" * 70000)), "application/csp-report", 400),
        (legacy(), "text/plain", 415),
        (legacy(), "application/x-www-form-urlencoded", 415),
    ],
)
def test_collector_rejects(server, body, content_type, status):
    response = post(server["url"], body, content_type)
    assert response.status_code == status
    assert violations(server)["received"] == 0


def test_collector_size_limit_is_64_kib(server):
    report = legacy()
    padding = 65536 - len(json.dumps(report)) - len(', "x": ""')
    report["x"] = "y" * padding
    body = json.dumps(report)
    assert len(body) == 65536
    assert post(server["url"], body).status_code == 204
    assert post(server["url"], body + " ").status_code == 400


def test_collector_get_not_allowed(server):
    response = requests.get(server["url"] + "/@@csp-report", timeout=60)
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"


def test_collector_rate_limit_per_client(server):
    statuses = [post(server["url"], legacy()).status_code for _n in range(65)]
    assert statuses[:60] == [204] * 60
    assert 429 in statuses[60:]
    # Another client address has its own allowance.
    connection = http.client.HTTPConnection(
        "127.0.0.1",
        int(server["root"].rsplit(":", 1)[1]),
        timeout=60,
        source_address=("127.0.0.2", 0),
    )
    connection.request(
        "POST",
        "/plone/@@csp-report",
        body=json.dumps(legacy()),
        headers={"Content-Type": "application/csp-report", "Host": "localhost"},
    )
    assert connection.getresponse().status == 204
    connection.close()


def test_collector_never_writes_to_the_database(server):
    db = server["app"]._p_jar.db()
    before = db.lastTransaction()
    assert post(server["url"], legacy()).status_code == 204
    assert (
        post(server["url"], reporting_api(3), "application/reports+json").status_code
        == 204
    )
    assert post(server["url"], b"{bad", "application/csp-report").status_code == 400
    assert db.lastTransaction() == before


def test_report_page_shows_top_violations(server):
    post(
        server["url"],
        legacy(directive="frame-src", blocked="https://video.example.net"),
    )
    post(
        server["url"],
        legacy(directive="frame-src", blocked="https://video.example.net"),
    )
    post(server["url"], legacy())
    html = manager().get(server["url"] + "/@@security-report", timeout=60).text
    section = html[html.index('id="securitybp-csp-violations"') :]
    rows = re.findall(
        r'<tr class="securitybp-csp-violation"[^>]*>\s*<td>(\d+)</td>', section
    )
    assert rows == ["2", "1"]
    assert 'data-directive="frame-src"' in section
    assert 'data-blocked="https://video.example.net"' in section


def test_report_page_without_violations(server):
    html = manager().get(server["url"] + "/@@security-report", timeout=60).text
    assert 'id="securitybp-csp-none"' in html


@pytest.mark.parametrize("auth", [None, ("nobody", "x")])
def test_violations_only_for_report_readers(server, auth):
    post(server["url"], legacy())
    response = requests.get(
        server["url"] + "/@@securitybp-csp-violations?format=json",
        auth=auth,
        allow_redirects=False,
        timeout=60,
    )
    assert response.status_code in (302, 401, 403)
    assert "script-src-elem" not in response.text


# Validation in the control panel and the REST API

INVALID = [
    *[({"headers_overrides": lines}, message) for lines, message in UNSENDABLE_LINES],
    *[
        ({"headers_csp_policy": value}, message)
        for value, message in UNSENDABLE_POLICIES
    ],
    *[
        (
            {"headers_overrides": lines},
            "The add-on does not set " + lines[0].split(":")[0],
        )
        for lines, _reason in FORBIDDEN_LINES
    ],
    (
        {"headers_overrides": OVERSIZED},
        "The header overrides and the custom policy add up to 120350 bytes, " + TOO_BIG,
    ),
    (
        {
            "headers_overrides": OVERSIZED[:2],
            "headers_csp_policy": "img-src 'self' " + "a" * 300,
        },
        "add up to 8376 bytes, " + TOO_BIG,
    ),
    (
        {"headers_overrides": ["X-A: b\r\nSet-Cookie: x=y"]},
        "Line 1 contains a line break U+000D ('\\r') at column 7",
    ),
    (
        {"headers_overrides": ["X-A: b\x07"]},
        "Line 1 contains a control character U+0007 ('\\x07') at column 7",
    ),
    ({"headers_overrides": ["X-A: " + "b" * 4100]}, "is longer than 4 KiB"),
    ({"headers_csp_policy": "scirpt-src 'self'"}, "Unknown CSP directive 'scirpt-src'"),
    (
        {"headers_csp_policy": "img-src https://ex_ample.org"},
        "is not a valid source expression",
    ),
    ({"headers_csp_policy": "script-src self"}, "must be in single quotes"),
    (
        {"headers_csp_policy": "default-src 'self'\r\nX-A: b"},
        "contains a line break U+000D",
    ),
    ({"headers_hsts_max_age": -1}, "cannot be negative (-1)"),
    ({"headers_hsts_max_age": "a year"}, "Invalid int literal."),
    ({"headers_hsts_max_age": 1.5}, "wrong type"),
    (
        {"headers_hsts_preload": True, "headers_hsts_include_subdomains": False},
        "HSTS preload needs max-age of at least 31536000 and includeSubDomains",
    ),
    (
        {"headers_hsts_preload": True, "headers_hsts_max_age": 86400},
        "HSTS preload needs max-age of at least 31536000",
    ),
]


def rest_errors(response):
    """The messages of a refused PATCH, as plone.restapi sends them (the
    repr of its list of errors)."""
    return " ".join(e["message"] for e in ast.literal_eval(response.json()["message"]))


def stored(name):
    """A record as the database has it now (a new transaction sees the
    server's commits)."""
    transaction.begin()
    return api.portal.get_registry_record(PREFIX + name)


def controlpanel(session, server):
    url = server["url"] + "/@controlpanels/securitybp"
    return session.get(url, headers=REST_HEADERS, timeout=60).json()["data"]


@pytest.mark.parametrize("patch,message", INVALID)
def test_rest_patch_rejects(server, patch, message):
    session = manager()
    before = controlpanel(session, server)
    records = {name: stored(name) for name in before}
    response = session.patch(
        server["url"] + "/@controlpanels/securitybp",
        data=json.dumps(patch),
        headers=REST_HEADERS,
        timeout=60,
    )
    assert response.status_code == 400
    assert message in rest_errors(response)
    after = controlpanel(session, server)
    assert {k: after[k] for k in patch} == {k: before[k] for k in patch}
    assert {name: stored(name) for name in before} == records
    # The headers still come from the old values.
    assert_security_headers(requests.get(server["url"], timeout=60))


def test_rest_preload_checks_stored_values(server):
    session = manager()
    url = server["url"] + "/@controlpanels/securitybp"
    patch = session.patch(
        url,
        data=json.dumps({"headers_hsts_max_age": 600}),
        headers=REST_HEADERS,
        timeout=60,
    )
    assert patch.status_code == 204
    response = session.patch(
        url,
        data=json.dumps({"headers_hsts_preload": True}),
        headers=REST_HEADERS,
        timeout=60,
    )
    assert response.status_code == 400
    assert "HSTS preload needs" in response.text
    assert controlpanel(session, server)["headers_hsts_preload"] is False


def test_rejected_change_leaves_no_stale_headers(server):
    """A refused PATCH changes records, then aborts; the subscriber has seen
    the changed settings meanwhile (on IPubBeforeAbort). The next accepted
    change must not be served from that aborted snapshot."""
    session = manager()
    url = server["url"] + "/@controlpanels/securitybp"
    https = (
        server["root"]
        + "/VirtualHostBase/https/www.example.org:443/plone/VirtualHostRoot/"
    )
    bad = {"headers_hsts_max_age": 600, "headers_hsts_preload": True}
    assert (
        session.patch(
            url, data=json.dumps(bad), headers=REST_HEADERS, timeout=60
        ).status_code
        == 400
    )
    good = {"headers_hsts_max_age": 700, "headers_hsts_include_subdomains": False}
    assert (
        session.patch(
            url, data=json.dumps(good), headers=REST_HEADERS, timeout=60
        ).status_code
        == 204
    )
    assert (
        requests.get(https, timeout=60).headers["Strict-Transport-Security"]
        == "max-age=700"
    )


def test_rest_patch_accepts_and_applies(server):
    session = manager()
    patch = {
        "headers_overrides": ["Referrer-Policy: no-referrer", "X-Robots-Tag: noindex"],
        "headers_csp_mode": "enforce",
        "headers_csp_policy": "default-src 'self'; img-src 'self' data:",
    }
    response = session.patch(
        server["url"] + "/@controlpanels/securitybp",
        data=json.dumps(patch),
        headers=REST_HEADERS,
        timeout=60,
    )
    assert response.status_code == 204
    headers = requests.get(server["url"], timeout=60).headers
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Robots-Tag"] == "noindex"
    assert headers["Content-Security-Policy"] == (
        "default-src 'self'; img-src 'self' data:; report-uri /plone/@@csp-report"
    )


class FormFields(HTMLParser):
    """The fields of the control panel form, as a browser would submit them."""

    def __init__(self):
        super().__init__()
        self.fields, self._in_form, self._select, self._textarea = [], False, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._in_form = attrs.get("action", "").endswith(
                "@@securitybp-controlpanel"
            )
        if not self._in_form:
            return
        if tag == "input" and attrs.get("name"):
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            if kind not in ("submit", "button"):
                self.fields.append([attrs["name"], attrs.get("value", "")])
        elif tag == "select":
            self._select = attrs["name"]
        elif tag == "option" and self._select and "selected" in attrs:
            self.fields.append([self._select, attrs.get("value", "")])
        elif tag == "textarea":
            self._textarea = [attrs["name"], ""]
            self.fields.append(self._textarea)

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            if self._textarea is not None:
                self._textarea[1] = self._textarea[1].lstrip("\n")
            self._textarea = None

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data


def submit_form(server, changes):
    session = manager()
    url = server["url"] + "/@@securitybp-controlpanel"
    parser = FormFields()
    parser.feed(session.get(url, timeout=60).text)
    fields = [f for f in parser.fields if f[0] not in changes]
    for name, value in changes.items():
        if value is not None:
            fields.append([name, value])
    fields.append(["form.buttons.save", "Save"])
    return session.post(url, data=fields, timeout=60)


W = "form.widgets."
FORM_INVALID = [
    *[
        ({W + "headers_overrides": "\n".join(lines)}, message)
        for lines, message in UNSENDABLE_LINES
    ],
    *[
        ({W + "headers_csp_policy": value}, message)
        for value, message in UNSENDABLE_POLICIES
    ],
    *[
        ({W + "headers_overrides": "X-A: 1\n" + lines[0]}, reason)
        for lines, reason in FORBIDDEN_LINES
    ],
    (
        {W + "headers_overrides": "\n".join(OVERSIZED)},
        "add up to 120350 bytes, " + TOO_BIG,
    ),
    ({W + "headers_overrides": "X-A: b\x07"}, "contains a control character"),
    ({W + "headers_overrides": "X-A: b\rX-B: c"}, "contains a line break U+000D"),
    ({W + "headers_overrides": "X-A: " + "b" * 4100}, "is longer than 4 KiB"),
    ({W + "headers_overrides": "X-A: 1\nx-a: 2"}, "x-a appears twice"),
    ({W + "headers_csp_policy": "scirpt-src 'self'"}, "Unknown CSP directive"),
    ({W + "headers_csp_policy": "img-src 'self' 'none'"}, "must stand alone"),
    (
        {W + "headers_csp_policy": "default-src 'self'\r\nX-A: b"},
        "contains a line break",
    ),
    ({W + "headers_hsts_max_age": "-1"}, "cannot be negative"),
    (
        {W + "headers_hsts_max_age": "1.5"},
        "max-age is a whole number of seconds, without a fraction",
    ),
    (
        {W + "headers_hsts_max_age": "a year"},
        "The entered value is not a valid integer literal.",
    ),
    (
        {
            W + "headers_hsts_preload:list": "selected",
            W + "headers_hsts_include_subdomains:list": None,
        },
        "HSTS preload needs max-age of at least 31536000 and includeSubDomains",
    ),
]


@pytest.mark.parametrize("changes,message", FORM_INVALID)
def test_form_rejects_and_keeps_old_value(server, changes, message):
    before = controlpanel(manager(), server)
    records = {name: stored(name) for name in before}
    response = submit_form(server, changes)
    assert response.status_code == 200
    assert "There were some errors" in response.text
    assert message in html.unescape(response.text)
    assert controlpanel(manager(), server) == before
    assert {name: stored(name) for name in before} == records
    assert_security_headers(requests.get(server["url"], timeout=60))


def test_form_saves_valid_values(server):
    response = submit_form(
        server,
        {
            W + "headers_overrides": "X-Frame-Options: DENY\nX-XSS-Protection:",
            W + "headers_hsts_max_age": "63072000",
            W + "headers_hsts_preload:list": "selected",
        },
    )
    assert "Changes saved" in response.text
    data = controlpanel(manager(), server)
    assert data["headers_overrides"] == ["X-Frame-Options: DENY", "X-XSS-Protection:"]
    assert data["headers_hsts_preload"] is True
    headers = requests.get(server["url"], timeout=60).headers
    assert headers["X-Frame-Options"] == "DENY"
    assert "X-XSS-Protection" not in headers


def test_audit_sees_https_and_missing_hsts(server):
    api.portal.set_registry_record(PREFIX + "headers_hsts_enabled", False)
    transaction.commit()
    report = manager().get(server["url"] + "/@@security-report.json", timeout=60).json()
    assert "SBP-HEADER-004" not in [f["check_id"] for f in report["findings"]]
    https = (
        server["root"]
        + "/VirtualHostBase/https/www.example.org:443/plone/VirtualHostRoot"
    )
    response = requests.get(https + "/", timeout=60)
    assert "Strict-Transport-Security" not in response.headers
    report = manager().get(server["url"] + "/@@security-report.json", timeout=60).json()
    [finding] = [f for f in report["findings"] if f["check_id"] == "SBP-HEADER-004"]
    assert (finding["subject"], finding["severity"]) == (
        "Strict-Transport-Security",
        "medium",
    )
