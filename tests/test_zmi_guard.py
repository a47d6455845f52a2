"""The ZMI guard over a real WSGI server, with virtual-hosting URLs."""

from collective.securitybp.settings import clear_cache
from collective.securitybp.zmi import evidence
from collective.securitybp.zmi import guard
from plone import api
from plone.app.testing import SITE_OWNER_NAME
from plone.app.testing import SITE_OWNER_PASSWORD
from Products.SiteAccess.VirtualHostMonster import manage_addVirtualHostMonster
import logging
import pytest
import requests
import transaction


PASSWORD = "a long test passphrase 42"
PUBLIC = "www.example.com"
MANAGE = "manage.example.com"
MANAGER = ("manager", PASSWORD)  # a Manager of the Plone site
ROOT_MANAGER = (SITE_OWNER_NAME, SITE_OWNER_PASSWORD)  # Manager of the Zope root
BLOCKED_BODY = (
    "<!DOCTYPE html><html><head><title>Not Found</title></head>"
    "<body><h1>Not Found</h1></body></html>"
)


def configure(mode="block", hosts=(MANAGE,), proxies=(), status="404"):
    """Set the guard's records (as the control panel would) and commit."""
    api.portal.set_registry_record(
        "collective.securitybp.zmi_manage_hosts", list(hosts)
    )
    api.portal.set_registry_record(
        "collective.securitybp.zmi_trusted_proxies", list(proxies)
    )
    api.portal.set_registry_record("collective.securitybp.zmi_blocked_status", status)
    api.portal.set_registry_record("collective.securitybp.zmi_mode", mode)
    transaction.commit()


@pytest.fixture
def server(functional):
    app = functional["app"]
    portal = functional["portal"]
    if "virtual_hosting" not in app.objectIds():
        manage_addVirtualHostMonster(app)
    portal.acl_users.userFolderAddUser("manager", PASSWORD, ["Manager"], [])
    portal.acl_users.userFolderAddUser("member", PASSWORD, ["Member"], [])
    transaction.commit()
    clear_cache()  # no snapshot of an earlier, rolled-back test
    evidence.clear()
    yield f"http://{functional['host']}:{functional['port']}"
    evidence.clear()


def site_url(server, host, path=""):
    return f"{server}/VirtualHostBase/http/{host}:80/plone/VirtualHostRoot/{path}"


def root_url(server, host, path=""):
    return f"{server}/VirtualHostBase/http/{host}:80/VirtualHostRoot/{path}"


def request(method, url, auth=None, **kwargs):
    return requests.request(
        method, url, auth=auth, allow_redirects=False, timeout=60, **kwargs
    )


def assert_blocked(response, status=404):
    assert response.status_code == status
    assert "Location" not in response.headers
    assert "WWW-Authenticate" not in response.headers
    assert "login" not in response.text.lower()
    assert "zope" not in response.text.lower()


ZMI_PATHS = [
    "manage",
    "manage_main",
    "manage_workspace",
    "manage_access",
    "@@manage_interfaces",
    "acl_users/manage_main",
    "portal_catalog/manage_catalogView",
    "manage_addProduct/PageTemplates/manage_addPageTemplateForm",
    "manage_page_style.css",
    "misc_/OFSP/dtmldoc.gif",
    "p_/zopelogo_jpg",
    "++resource++zmi/zmi_base.css",
    "++resource++logo/favicon/favicon.ico",
]


class TestBlockMode:
    @pytest.mark.parametrize("path", ZMI_PATHS)
    @pytest.mark.parametrize("auth", [None, MANAGER, ROOT_MANAGER])
    def test_site_zmi_is_404_on_public_host(self, server, path, auth):
        configure()
        response = request("GET", site_url(server, PUBLIC, path), auth=auth)
        assert_blocked(response)
        assert response.text == BLOCKED_BODY

    @pytest.mark.parametrize(
        "path", ["manage_main", "manage", "Control_Panel", "acl_users/manage_users"]
    )
    @pytest.mark.parametrize("auth", [None, ROOT_MANAGER])
    def test_root_zmi_is_404_on_public_host(self, server, path, auth):
        configure()
        assert_blocked(request("GET", root_url(server, PUBLIC, path), auth=auth))

    def test_without_virtual_hosting_the_host_header_counts(self, server):
        configure()
        assert_blocked(request("GET", f"{server}/plone/manage_main", auth=MANAGER))
        response = request(
            "GET",
            f"{server}/plone/manage_main",
            auth=MANAGER,
            headers={"Host": MANAGE},
        )
        assert response.status_code == 200

    def test_403_when_configured(self, server):
        configure(status="403")
        response = request("GET", site_url(server, PUBLIC, "manage_main"), auth=MANAGER)
        assert_blocked(response, status=403)
        assert "<h1>Forbidden</h1>" in response.text

    def test_post_is_blocked_too(self, server):
        configure()
        response = request(
            "POST",
            site_url(server, PUBLIC, "manage_addProduct/OFSP/addDTMLMethod"),
            auth=MANAGER,
            data={"id": "x"},
        )
        assert_blocked(response)

    @pytest.mark.parametrize(
        "path,auth",
        [
            ("manage_main", MANAGER),
            ("manage_main", ROOT_MANAGER),
            ("acl_users/manage_main", MANAGER),
            ("++resource++zmi/zmi_base.css", MANAGER),
        ],
    )
    def test_site_zmi_works_on_manage_host(self, server, path, auth):
        configure()
        response = request("GET", site_url(server, MANAGE, path), auth=auth)
        assert response.status_code == 200
        assert evidence.recent() == []

    def test_root_zmi_works_on_manage_host(self, server):
        configure()
        response = request(
            "GET", root_url(server, MANAGE, "manage_main"), auth=ROOT_MANAGER
        )
        assert response.status_code == 200
        assert "Control_Panel" in response.text

    def test_anonymous_on_manage_host_gets_normal_login(self, server):
        configure()
        response = request("GET", site_url(server, MANAGE, "manage_main"))
        assert response.status_code in (302, 401)

    def test_manage_host_names_are_case_insensitive(self, server):
        configure(hosts=["Manage.Example.com"])
        response = request(
            "GET", site_url(server, "MANAGE.example.COM", "manage_main"), auth=MANAGER
        )
        assert response.status_code == 200

    @pytest.mark.parametrize(
        "path,headers",
        [
            ("", {}),
            ("@@overview-controlpanel", {}),
            ("@@security-controlpanel", {}),
            ("@@securitybp-controlpanel", {}),
            ("@@manage-portlets", {}),
            ("manage-portlets", {}),
            ("@@security-report", {}),
            ("++api++/@controlpanels", {}),
            ("@controlpanels/securitybp", {"Accept": "application/json"}),
            ("@search", {"Accept": "application/json"}),
        ],
    )
    def test_plone_pages_are_untouched(self, server, path, headers):
        configure()
        response = request(
            "GET", site_url(server, PUBLIC, path), auth=MANAGER, headers=headers
        )
        assert response.status_code == 200
        assert evidence.recent() == []

    def test_rest_write_methods_are_untouched(self, server):
        configure()
        response = request(
            "PATCH",
            site_url(server, PUBLIC, "@controlpanels/securitybp"),
            auth=MANAGER,
            json={"zmi_blocked_status": "403"},
            headers={"Accept": "application/json"},
        )
        assert response.status_code == 204
        response = request(
            "GET",
            site_url(server, PUBLIC, "@controlpanels/securitybp"),
            auth=MANAGER,
            headers={"Accept": "application/json"},
        )
        assert response.json()["data"]["zmi_blocked_status"]["token"] == "403"


WEBDAV_METHODS = ["PROPFIND", "PROPPATCH", "MKCOL", "LOCK", "UNLOCK", "COPY", "MOVE"]


class TestProtocols:
    @pytest.mark.parametrize("method", WEBDAV_METHODS)
    @pytest.mark.parametrize("auth", [None, MANAGER])
    def test_webdav_is_blocked_on_public_host(self, server, method, auth):
        configure()
        response = request(method, site_url(server, PUBLIC), auth=auth)
        assert_blocked(response)
        [item] = evidence.recent()
        assert (item.kind, item.method, item.blocked) == ("webdav", method, True)

    def test_webdav_works_on_manage_host(self, server):
        configure()
        response = request(
            "PROPFIND", site_url(server, MANAGE), auth=MANAGER, headers={"Depth": "0"}
        )
        assert response.status_code == 207
        assert "multistatus" in response.text

    def test_xmlrpc_is_blocked_on_public_host(self, server):
        configure()
        body = (
            "<?xml version='1.0'?><methodCall><methodName>getId</methodName>"
            "<params></params></methodCall>"
        )
        headers = {"Content-Type": "text/xml"}
        response = request(
            "POST", site_url(server, PUBLIC), auth=MANAGER, data=body, headers=headers
        )
        assert_blocked(response)
        response = request(
            "POST", site_url(server, MANAGE), auth=MANAGER, data=body, headers=headers
        )
        assert response.status_code == 200
        assert "<string>plone</string>" in response.text


class TestReportModeAndEscapeHatch:
    def test_report_mode_answers_and_records_the_user(self, server):
        configure(mode="report")
        response = request("GET", site_url(server, PUBLIC, "manage_main"), auth=MANAGER)
        assert response.status_code == 200
        [item] = evidence.recent()
        assert item.to_dict() | {"when": None} == {
            "when": None,
            "host": PUBLIC,
            "client_ip": "127.0.0.1",
            "user": "manager",
            "method": "GET",
            "path": "/VirtualHostBase/http/www.example.com:80/plone/"
            "VirtualHostRoot/manage_main",
            "kind": "zmi",
            "site": "/plone",
            "blocked": False,
        }

    def test_report_mode_records_anonymous_probes(self, server):
        configure(mode="report")
        response = request("GET", site_url(server, PUBLIC, "manage_main"))
        assert response.status_code in (302, 401)
        [item] = evidence.recent()
        assert (item.user, item.blocked) == ("Anonymous User", False)

    def test_root_requests_are_recorded_for_the_root(self, server):
        configure(mode="report")
        request("GET", root_url(server, PUBLIC, "manage_main"), auth=ROOT_MANAGER)
        [item] = evidence.recent()
        assert (item.site, item.user, item.host) == ("", SITE_OWNER_NAME, PUBLIC)

    def test_blocked_requests_are_recorded_without_user(self, server):
        configure()
        request("GET", site_url(server, PUBLIC, "manage_main"), auth=MANAGER)
        [item] = evidence.recent()
        assert (item.user, item.blocked, item.host) == ("", True, PUBLIC)

    @pytest.mark.parametrize("value", ["off", "OFF", "0", "false"])
    def test_environment_variable_switches_blocking_off(
        self, server, monkeypatch, value
    ):
        configure()
        monkeypatch.setenv("SECURITYBP_ZMI_GUARD", value)
        response = request("GET", site_url(server, PUBLIC, "manage_main"), auth=MANAGER)
        assert response.status_code == 200
        root = request(
            "GET", root_url(server, PUBLIC, "manage_main"), auth=ROOT_MANAGER
        )
        assert root.status_code == 200
        assert (
            api.portal.get_registry_record("collective.securitybp.zmi_mode") == "block"
        )
        assert [(i.user, i.blocked) for i in evidence.recent()] == [
            (SITE_OWNER_NAME, False),
            ("manager", False),
        ]

    def test_other_values_of_the_variable_do_not_switch_off(self, server, monkeypatch):
        configure()
        monkeypatch.setenv("SECURITYBP_ZMI_GUARD", "on")
        response = request("GET", site_url(server, PUBLIC, "manage_main"), auth=MANAGER)
        assert_blocked(response)


class TestClientAddress:
    @pytest.mark.parametrize(
        "proxies,forwarded_for,expected",
        [
            # No trusted proxy: the header of any client is ignored.
            ((), "203.0.113.7", "127.0.0.1"),
            # The test client connects from 127.0.0.1, a trusted proxy.
            (("127.0.0.1",), "203.0.113.7", "203.0.113.7"),
            (("127.0.0.1",), None, "127.0.0.1"),
            # A chain through two trusted proxies; what the client put in
            # front of its own address is not believed.
            (
                ("127.0.0.0/8", "10.0.0.0/8"),
                "198.51.100.9, 203.0.113.7, 10.1.2.3",
                "203.0.113.7",
            ),
            # A spoofed header from a client that is not a trusted proxy.
            (("10.0.0.0/8",), "203.0.113.7", "127.0.0.1"),
            # Garbage in the header stops the walk at the last good hop.
            (("127.0.0.1",), "203.0.113.7, not-an-ip", "127.0.0.1"),
        ],
    )
    def test_client_ip_in_evidence(self, server, proxies, forwarded_for, expected):
        configure(proxies=proxies)
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        request("GET", site_url(server, PUBLIC, "manage_main"), headers=headers)
        [item] = evidence.recent()
        assert item.client_ip == expected


class TestRobustness:
    def test_failure_lets_the_request_through_and_is_logged_once(
        self, server, monkeypatch, caplog
    ):
        configure()

        def broken(app, names):
            raise RuntimeError("broken settings")

        monkeypatch.setattr(guard, "config_for", broken)
        monkeypatch.setattr(guard, "_failure_logged", False)
        with caplog.at_level(logging.ERROR, logger="collective.securitybp"):
            for _ in range(2):
                response = request(
                    "GET", site_url(server, PUBLIC, "manage_main"), auth=MANAGER
                )
                assert response.status_code == 200
        messages = [
            r.getMessage() for r in caplog.records if "ZMI guard" in r.getMessage()
        ]
        assert len(messages) == 1
        assert "let the request through" in messages[0]

    def test_subscriber_never_raises(self):
        class Event:
            request = object()  # no environ at all

        guard.on_pub_start(Event())

    def test_nothing_happens_without_settings(self, server):
        api.portal.set_registry_record("collective.securitybp.zmi_mode", "block")
        registry = api.portal.get_tool("portal_registry")
        prefix = "collective.securitybp.zmi_"
        for name in list(registry.records.keys(prefix, prefix + "\uffff")):
            del registry.records[name]
        transaction.commit()
        response = request("GET", site_url(server, PUBLIC, "manage_main"), auth=MANAGER)
        assert response.status_code == 200
        assert evidence.recent() == []


@pytest.mark.parametrize(
    "method,path,content_type,kind",
    [
        ("GET", "/plone/front-page", "", None),
        ("GET", "/plone/@@manage-portlets", "", None),
        ("GET", "/plone/manage-content-rules", "", None),
        ("GET", "/plone/++api++/@controlpanels", "", None),
        ("GET", "/plone/management-plan", "", None),
        ("GET", "/plone/help_page", "", None),
        ("GET", "/plone/++resource++plone-logo.svg", "", None),
        (
            "GET",
            "/VirtualHostBase/https/manage_x.example.com:443/plone/VirtualHostRoot/",
            "",
            None,
        ),
        ("POST", "/plone/@login", "application/json", None),
        ("PUT", "/plone/doc", "application/json", None),
        ("DELETE", "/plone/doc", "", None),
        ("OPTIONS", "/plone", "", None),
        ("GET", "/plone/manage", "", "zmi"),
        ("GET", "/plone/folder/manage_main", "", "zmi"),
        ("GET", "/plone//./manage_main", "", "zmi"),
        ("GET", "/plone/++view++manage_interfaces", "", "zmi"),
        ("GET", "/Control_Panel/Database", "", "zmi"),
        (
            "GET",
            "/VirtualHostBase/https/www.example.com:443/plone/VirtualHostRoot/"
            "_vh_site/manage_main",
            "",
            "zmi",
        ),
        ("PROPFIND", "/plone", "", "webdav"),
        ("POST", "/plone", "text/xml; charset=utf-8", "xmlrpc"),
    ],
)
def test_request_kind(method, path, content_type, kind):
    assert guard.request_kind(method, path, content_type) == kind
