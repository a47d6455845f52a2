"""The management guard over a real WSGI server.

The corpus: every spelling Zope accepts for a management request (path,
view, percent-encoding, form directives in the query, in urlencoded and in
multipart bodies, acquisition, management methods without the ``manage``
prefix, WebDAV, XML-RPC), for Anonymous and a Manager, on the public and on
the manage host, at the Zope root, in a site, in a site inside a folder and
through a second site in report mode (the sites of
:class:`collective.securitybp.testing.GuardSitesLayer`). On the public host
every one is refused with the same answer as a name that does not exist
there; on the manage host every one works.
"""

from collective.securitybp.settings import clear_cache
from collective.securitybp.testing import GUARD_MANAGE as MANAGE
from collective.securitybp.testing import GUARD_PASSWORD
from collective.securitybp.testing import GUARD_PUBLIC as PUBLIC
from collective.securitybp.zmi import evidence
from collective.securitybp.zmi import guard
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import SITE_OWNER_PASSWORD
from requests.adapters import HTTPAdapter
from zope.component.hooks import setSite
import logging
import pytest
import re
import requests
import transaction


MANAGER = ("manager", GUARD_PASSWORD)  # a Manager of plone and org/nested
ROOT_MANAGER = (SITE_OWNER_NAME, SITE_OWNER_PASSWORD)  # Manager of the root
XMLRPC_BODY = (
    "<?xml version='1.0'?><methodCall><methodName>getId</methodName>"
    "<params></params></methodCall>"
)
HTML = {"Accept": "text/html"}
# Headers that differ between any two responses.
VOLATILE_HEADERS = {"date", "content-length"}

# Methods of Zope-level objects that need a management permission.
SITE_METHODS = {
    "users": "acl_users/source_users/getUserInfo?user_id=manager",
    "log": "error_log/getLogEntries",
}
ROOT_METHODS = {
    "users": "acl_users/getUser?name=admin",
    "log": "acl_users/getUserById?id=admin",
}
# Where the management request goes: the virtual host's site path, a prefix
# inside it, the Manager there, and its management methods.
TARGETS = {
    "root": ("", "", ROOT_MANAGER, ROOT_METHODS),
    "site": ("plone", "", MANAGER, SITE_METHODS),
    "nested": ("org/nested", "", MANAGER, SITE_METHODS),
    # The root's management, reached through a site in report mode.
    "via-report-site": ("plain", "aq_parent/", ROOT_MANAGER, ROOT_METHODS),
}
# (name, method, path, request arguments); {users} and {log} are the
# target's management methods.
SPELLINGS = [
    ("path", "GET", "manage_main", {}),
    ("view", "GET", "@@manage_interfaces", {}),
    ("view-namespace", "GET", "++view++manage_interfaces", {}),
    ("encoded", "GET", "%6danage_main", {}),
    ("trailing-slash", "GET", "manage_main/", {}),
    ("query-method", "GET", "?manage_main:method=1", {}),
    ("query-action", "GET", "?:action=manage_main", {}),
    ("query-default-method", "GET", "?manage_main:default_method=1", {}),
    ("query-default-action", "GET", "?:default_action=manage_main", {}),
    ("query-encoded", "GET", "?manage_main%3A%6Dethod=1", {}),
    ("body-urlencoded", "POST", "", {"data": {"manage_main:method": "1"}}),
    ("body-multipart", "POST", "", {"files": {":action": (None, "manage_main")}}),
    ("acquired-user-folder", "GET", "acl_users/manage_main", {}),
    ("user-folder-method", "GET", "{users}", {}),
    ("error-log-method", "GET", "{log}", {}),
    ("webdav-propfind", "PROPFIND", "", {"headers": {"Depth": "0"}}),
    ("webdav-mkcol", "MKCOL", "guard-new-collection", {}),
    ("webdav-put", "PUT", "guard-new-file", {"data": b"hello"}),
    (
        "xmlrpc",
        "POST",
        "",
        {"data": XMLRPC_BODY, "headers": {"Content-Type": "text/xml"}},
    ),
]


@pytest.fixture
def server(guard_functional):
    setSite(guard_functional["portal"])
    clear_cache()
    evidence.clear()
    yield f"http://{guard_functional['host']}:{guard_functional['port']}"
    evidence.clear()


def url(server, host, site, path=""):
    site = f"{site}/" if site else ""
    return f"{server}/VirtualHostBase/http/{host}:80/{site}VirtualHostRoot/{path}"


def send(method, address, auth=None, headers=None, session=requests, **kwargs):
    headers = {**HTML, **(headers or {})}
    return session.request(
        method,
        address,
        auth=auth,
        headers=headers,
        allow_redirects=False,
        timeout=60,
        **kwargs,
    )


def header_names(response):
    return {name.lower() for name in response.headers} - VOLATILE_HEADERS


def title(response):
    match = re.search(r"<title>(.*?)</title>", response.text, re.DOTALL)
    return match and match.group(1).strip()


def assert_like_not_found(response, control):
    """The answer is the one for a name that does not exist there."""
    assert response.status_code == control.status_code == 404
    assert header_names(response) == header_names(control)
    assert response.headers.get("Content-Type") == control.headers.get("Content-Type")
    assert title(response) == title(control)
    assert_no_challenge(response)


def assert_no_challenge(response):
    """No login redirect or prompt: nothing tells that something is there."""
    assert "Location" not in response.headers
    assert "WWW-Authenticate" not in response.headers
    assert "came_from" not in response.text


def request_for(server, host, target, spelling, auth):
    site, prefix, _manager, methods = TARGETS[target]
    _name, method, path, kwargs = spelling
    path = prefix + path.format(**methods)
    return send(method, url(server, host, site, path), auth=auth, **kwargs)


def control_for(server, target, spelling):
    """A request of the same method for a name that does not exist where the
    management request would have gone: the management name replaced."""
    site, prefix, _manager, methods = TARGETS[target]
    method = "POST" if spelling[1] == "POST" else "GET"
    path = spelling[2].format(**methods).split("?", 1)[0].rstrip("/")
    parent = path.rsplit("/", 1)[0] + "/" if "/" in path else ""
    address = url(server, PUBLIC, site, prefix + parent + "guard-no-such-name")
    return send(method, address)


def cases(manage_host=False):
    """The (target, spelling) pairs that apply: the Zope root answers no
    XML-RPC of its own; WebDAV does not acquire, so through the report site
    it stays there; on the manage host the root has a URL of its own."""
    for target in TARGETS:
        for spelling in SPELLINGS:
            root = target in ("root", "via-report-site")
            if root and spelling[0] == "xmlrpc":
                continue
            if target == "via-report-site" and (
                manage_host or spelling[0].startswith("webdav")
            ):
                continue
            yield pytest.param(target, spelling, id=f"{target}-{spelling[0]}")


class TestCorpus:
    @pytest.mark.parametrize("target,spelling", list(cases()))
    def test_public_host_is_refused_like_a_missing_name(self, server, target, spelling):
        manager = TARGETS[target][2]
        control = control_for(server, target, spelling)
        answers = [
            request_for(server, PUBLIC, target, spelling, auth)
            for auth in (None, manager)
        ]
        for response in answers:
            if spelling[1] in ("GET", "POST") and spelling[0] != "xmlrpc":
                assert_like_not_found(response, control)
            else:
                # WebDAV and XML-RPC: Zope's own not-found for those methods,
                # which shows no more than a not-found page does.
                assert response.status_code == 404
                assert header_names(response) <= header_names(control)
                assert_no_challenge(response)
        assert answers[0].text == answers[1].text  # Anonymous as the Manager
        entries = evidence.recent()
        assert entries and all(e.blocked and e.host == PUBLIC for e in entries)
        assert sum(e.count for e in entries) >= 2

    @pytest.mark.parametrize("target,spelling", list(cases(manage_host=True)))
    def test_manage_host_works(self, server, target, spelling):
        manager = TARGETS[target][2]
        response = request_for(server, MANAGE, target, spelling, manager)
        if spelling[1] in ("GET", "POST") and spelling[0] != "xmlrpc":
            assert response.status_code in (200, 204), response.text[:300]
        else:  # what Zope itself answers, if not always a success
            assert response.status_code != 404
        anonymous = request_for(server, MANAGE, target, spelling, None)
        assert anonymous.status_code != 404
        assert evidence.recent() == []


def exists(app, path):
    transaction.begin()  # see what the server committed
    return app.unrestrictedTraverse(path, None) is not None


def token_for(portal, user):
    from plone.protect.authenticator import createToken

    setSite(portal)
    with api.env.adopt_user(username=user):
        return createToken()


class TestNoEffect:
    """Destructive requests on the public host change nothing; the same
    request on the manage host does (so the test can fail)."""

    def test_put_and_mkcol(self, server, guard_functional):
        app = guard_functional["app"]
        for host, created in ((PUBLIC, False), (MANAGE, True)):
            send("PUT", url(server, host, "plone", "g-file"), MANAGER, data=b"x")
            send("MKCOL", url(server, host, "plone", "g-col"), MANAGER)
            assert exists(app, "plone/g-file") is created
            assert exists(app, "plone/g-col") is created

    def test_webdav_delete(self, server, guard_functional):
        app = guard_functional["app"]
        for host, kept in ((PUBLIC, True), (MANAGE, False)):
            send("DELETE", url(server, host, "plone", "folder"), MANAGER)
            assert exists(app, "plone/folder") is kept

    def test_delete_by_form_directive(self, server, guard_functional):
        app, portal = guard_functional["app"], guard_functional["portal"]
        data = {
            "manage_delObjects:method": "Delete",
            "ids:list": "folder",
            "_authenticator": token_for(portal, "manager"),
        }
        for host, kept in ((PUBLIC, True), (MANAGE, False)):
            send("POST", url(server, host, "plone"), MANAGER, data=data)
            assert exists(app, "plone/folder") is kept

    def test_user_creation_by_management_method(self, server, guard_functional):
        portal = guard_functional["portal"]
        data = {
            "login": "intruder",
            "password": "an intruder's passphrase 99",
            "roles:list": "Manager",
            "domains:list": "",
            "_authenticator": token_for(portal, "manager"),
        }
        address = "acl_users/userFolderAddUser"
        for host, created in ((PUBLIC, False), (MANAGE, True)):
            send("POST", url(server, host, "plone", address), MANAGER, data=data)
            transaction.begin()
            user = portal.acl_users.getUserById("intruder")
            assert (user is not None) is created


class TestReportSite:
    """The site ``plain`` is in report mode: its own management interface
    answers on the public host and is recorded; the root's stays blocked."""

    def test_served_and_recorded_with_the_user(self, server):
        response = send(
            "GET", url(server, PUBLIC, "plain", "manage_main"), ROOT_MANAGER
        )
        assert response.status_code == 200
        [entry] = evidence.recent(access=evidence.SERVED)
        assert (entry.site, entry.host, entry.kind, entry.users) == (
            "/plain",
            PUBLIC,
            "zmi",
            (SITE_OWNER_NAME,),
        )

    def test_anonymous_probe_recorded_apart(self, server):
        response = send("GET", url(server, PUBLIC, "plain", "manage_main"))
        assert response.status_code in (302, 401)
        assert evidence.recent(access=evidence.SERVED) == []
        [entry] = evidence.recent()
        assert (entry.access, entry.blocked) == (evidence.ANONYMOUS, False)

    def test_form_directive_recorded_as_such(self, server):
        address = url(server, PUBLIC, "plain", "?manage_main:method=1")
        assert send("GET", address, ROOT_MANAGER).status_code == 200
        kinds = {e.kind for e in evidence.recent()}
        assert kinds == {"directive"}

    def test_credentials_told_apart_when_blocked(self, server):
        send("GET", url(server, PUBLIC, "plone", "manage_main"))
        send("GET", url(server, PUBLIC, "plone", "manage_main"), MANAGER)
        accesses = sorted(e.access for e in evidence.recent())
        assert accesses == [evidence.ANONYMOUS, evidence.CREDENTIALS]


class TestPlonePassesOnThePublicHost:
    @pytest.mark.parametrize(
        "method,path,headers",
        [
            ("GET", "", {}),
            ("GET", "@@overview-controlpanel", {}),
            ("GET", "@@securitybp-controlpanel", {}),
            ("GET", "@@manage-portlets", {}),
            ("GET", "manage-portlets", {}),
            ("GET", "folder_contents", {}),
            ("GET", "@@security-report", {}),
            ("GET", "portal_registry", {}),
            ("GET", "++api++/@controlpanels", {}),
            ("GET", "@controlpanels/securitybp", {"Accept": "application/json"}),
            ("GET", "@search", {"Accept": "application/json"}),
            ("OPTIONS", "", {}),
        ],
    )
    def test_untouched(self, server, method, path, headers):
        response = send(method, url(server, PUBLIC, "plone", path), MANAGER, headers)
        assert response.status_code == 200
        assert evidence.recent() == []

    def test_rest_write_methods(self, server, guard_functional):
        json_headers = {"Accept": "application/json"}
        address = url(server, PUBLIC, "plone", "@controlpanels/securitybp")
        response = send(
            "PATCH",
            address,
            MANAGER,
            json_headers,
            json={"zmi_blocked_status": "403"},
        )
        assert response.status_code == 204
        portal = guard_functional["portal"]
        portal.acl_users.userFolderAddUser("victim", GUARD_PASSWORD, [], [])
        transaction.commit()
        response = send(
            "DELETE",
            url(server, PUBLIC, "plone", "@users/victim"),
            MANAGER,
            json_headers,
        )
        assert response.status_code == 204
        assert evidence.recent() == []


def configure(portal, **records):
    setSite(portal)
    for name, value in records.items():
        api.portal.set_registry_record(f"collective.securitybp.zmi_{name}", value)
    transaction.commit()


class FromAddress(HTTPAdapter):
    """Connect from another loopback address, as another machine would."""

    def __init__(self, address):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def client(address):
    session = requests.Session()
    session.mount("http://", FromAddress(address))
    return session


class TestWhoIsBelieved:
    """A manage host counts only from a trusted proxy or an admin network."""

    def test_host_named_by_an_untrusted_peer_is_not_believed(
        self, server, guard_functional
    ):
        configure(guard_functional["portal"], trusted_proxies=["127.0.0.1/32"])
        address = url(server, MANAGE, "plone", "manage_main")
        direct = send("GET", address, MANAGER, session=client("127.0.0.2"))
        assert direct.status_code == 404
        [entry] = evidence.recent()
        assert (entry.host, entry.client_ip) == (MANAGE, "127.0.0.2")
        assert send("GET", address, MANAGER).status_code == 200  # from the proxy

    def test_host_header_from_an_untrusted_peer(self, server, guard_functional):
        configure(guard_functional["portal"], trusted_proxies=["127.0.0.1/32"])
        address = f"{server}/plone/manage_main"
        headers = {"Host": MANAGE}
        direct = send("GET", address, MANAGER, headers, session=client("127.0.0.2"))
        assert direct.status_code == 404
        assert send("GET", address, MANAGER, headers).status_code == 200

    def test_admin_networks_limit_the_manage_host(self, server, guard_functional):
        configure(
            guard_functional["portal"],
            trusted_proxies=["127.0.0.1/32"],
            admin_networks=["127.0.0.3/32"],
        )
        address = url(server, MANAGE, "plone", "manage_main")
        # A client in the admin network, directly: believed.
        assert (
            send("GET", address, MANAGER, session=client("127.0.0.3")).status_code
            == 200
        )
        # The proxy, for a client outside it: refused.
        assert send("GET", address, MANAGER).status_code == 404
        # The proxy vouching for a client inside it: believed.
        forwarded = {"X-Forwarded-For": "127.0.0.3"}
        assert send("GET", address, MANAGER, forwarded).status_code == 200
        # A forged header from an untrusted peer: refused.
        spoofed = send("GET", address, MANAGER, forwarded, session=client("127.0.0.2"))
        assert spoofed.status_code == 404

    def test_403_when_configured(self, server, guard_functional):
        configure(guard_functional["portal"], blocked_status="403")
        address = url(server, PUBLIC, "plone", "manage_main")
        answers = [send("GET", address, auth) for auth in (None, MANAGER)]
        assert [r.status_code for r in answers] == [403, 403]
        for response in answers:
            assert_no_challenge(response)
            assert "x-content-type-options" in header_names(response)
        assert answers[0].text == answers[1].text
        assert title(answers[0]) == title(
            send("GET", url(server, PUBLIC, "plone", "guard-no-such-name"))
        )

    @pytest.mark.parametrize(
        "proxies,forwarded_for,expected",
        [
            ((), "203.0.113.7", "127.0.0.1"),
            (("127.0.0.1",), "203.0.113.7", "203.0.113.7"),
            (("127.0.0.1",), None, "127.0.0.1"),
            (
                ("127.0.0.0/8", "10.0.0.0/8"),
                "198.51.100.9, 203.0.113.7, 10.1.2.3",
                "203.0.113.7",
            ),
            (("10.0.0.0/8",), "203.0.113.7", "127.0.0.1"),
            (("127.0.0.1",), "203.0.113.7, not-an-ip", "127.0.0.1"),
        ],
    )
    def test_client_address_in_evidence(
        self, server, guard_functional, proxies, forwarded_for, expected
    ):
        configure(guard_functional["portal"], trusted_proxies=list(proxies))
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        send("GET", url(server, PUBLIC, "plone", "manage_main"), headers=headers)
        [entry] = evidence.recent()
        assert entry.client_ip == expected


class TestEscapeHatchAndRobustness:
    @pytest.mark.parametrize("value", ["off", "OFF", "0", "false"])
    def test_environment_variable_switches_blocking_off(
        self, server, monkeypatch, value
    ):
        monkeypatch.setenv("SECURITYBP_ZMI_GUARD", value)
        site = send("GET", url(server, PUBLIC, "plone", "manage_main"), MANAGER)
        root = send("GET", url(server, PUBLIC, "", "manage_main"), ROOT_MANAGER)
        assert (site.status_code, root.status_code) == (200, 200)
        served = evidence.recent(access=evidence.SERVED)
        assert sorted(e.users[0] for e in served) == sorted(
            ["manager", SITE_OWNER_NAME]
        )

    def test_other_values_do_not_switch_off(self, server, monkeypatch):
        monkeypatch.setenv("SECURITYBP_ZMI_GUARD", "on")
        response = send("GET", url(server, PUBLIC, "plone", "manage_main"), MANAGER)
        assert response.status_code == 404

    def test_failure_lets_the_request_through_and_is_logged_once(
        self, server, monkeypatch, caplog
    ):
        def broken(app, parents, managed):
            raise RuntimeError("broken settings")

        monkeypatch.setattr(guard, "governing", broken)
        monkeypatch.setattr(guard, "_failure_logged", False)
        address = url(server, PUBLIC, "plone", "manage_main")
        with caplog.at_level(logging.ERROR, logger="collective.securitybp"):
            statuses = [send("GET", address, MANAGER).status_code for _ in range(2)]
        assert statuses == [200, 200]
        messages = [
            r.getMessage()
            for r in caplog.records
            if "management guard failed" in r.getMessage()
        ]
        assert len(messages) == 1

    def test_subscriber_never_raises(self):
        class Event:
            request = object()  # no environ at all

        guard.on_pub_start(Event())

    def test_a_site_without_settings_is_guarded_by_the_root(
        self, server, guard_functional
    ):
        portal = guard_functional["portal"]
        setSite(portal)
        registry = api.portal.get_tool("portal_registry")
        prefix = "collective.securitybp.zmi_"
        for name in list(registry.records.keys(prefix, prefix + "\uffff")):
            del registry.records[name]
        transaction.commit()
        # plone has no guard settings now: the root's (org/nested blocks)
        # govern it, as any site without the add-on.
        site = send("GET", url(server, PUBLIC, "plone", "manage_main"), MANAGER)
        assert site.status_code == 404
        [entry] = evidence.recent()
        assert (entry.site, entry.blocked) == ("", True)
        # The report-mode site still answers.
        plain = send("GET", url(server, PUBLIC, "plain", "manage_main"), ROOT_MANAGER)
        assert plain.status_code == 200


class TestSitesWithTheAddon:
    def test_sites_at_any_depth_are_found(self, guard_functional):
        app = guard_functional["app"]
        paths = sorted(
            "/".join(s.getPhysicalPath()) for s in guard.installed_sites(app)
        )
        assert paths == ["/org/nested", "/plain", "/plone"]

    def test_root_blocks_when_one_site_blocks(self, guard_functional):
        root = guard.root_config(guard_functional["app"])
        assert (root.mode, root.manage_hosts) == ("block", frozenset({MANAGE}))


def test_paths_resolved_after_the_walk_are_not_judged(guard_functional):
    """Code that resolves a path with the request after publishing's walk
    (plone.app.linkintegrity, for links in a page) publishes nothing: the
    guard leaves it alone and records nothing."""
    from io import BytesIO
    from ZPublisher.HTTPRequest import WSGIRequest
    from ZPublisher.HTTPResponse import WSGIResponse
    from ZPublisher.pubevents import PubStart

    evidence.clear()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/plone/front-page/@@edit",
        "SERVER_NAME": PUBLIC,
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": BytesIO(b""),
    }
    request = WSGIRequest(environ["wsgi.input"], environ, WSGIResponse())
    guard.on_pub_start(PubStart(request))
    portal = guard_functional["portal"]
    assert request.traverseName(portal, "manage_main") is not None
    assert evidence.recent() == []
    # Inside the walk the same name is refused.
    request._post_traverse = []
    request.other["PARENTS"] = [guard_functional["app"], portal]
    with pytest.raises(KeyError):
        request.traverseName(portal, "manage_main")
    assert [e.blocked for e in evidence.recent()] == [True]
    evidence.clear()
