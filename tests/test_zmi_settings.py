"""The guard's settings in the control panel and over REST, the proxy rules
page, and the rules themselves."""

from collective.securitybp.settings import clear_cache
from collective.securitybp.zmi import evidence
from collective.securitybp.zmi import guard
from collective.securitybp.zmi.rules import ZMI_PATH_REGEX
from datetime import datetime
from datetime import timezone
from plone import api
import json
import lxml.html
import pytest
import re
import requests
import transaction


PASSWORD = "a long test passphrase 42"
DENIED_ROLES = ["Anonymous", "Member", "Editor"]
JSON = {"Accept": "application/json", "Content-Type": "application/json"}


@pytest.fixture
def server(functional):
    portal = functional["portal"]
    for role in ["Member", "Editor", "Manager", "Site Administrator"]:
        user_id = role.lower().replace(" ", "")
        portal.acl_users.userFolderAddUser(user_id, PASSWORD, [role], [])
    transaction.commit()
    clear_cache()
    evidence.clear()
    yield f"http://{functional['host']}:{functional['port']}/plone"
    evidence.clear()


def session_for(role):
    session = requests.Session()
    if role != "Anonymous":
        session.auth = (role.lower().replace(" ", ""), PASSWORD)
    return session


def guard_settings(session, server):
    data = session.get(
        f"{server}/@controlpanels/securitybp", headers=JSON, timeout=60
    ).json()["data"]
    return {
        "mode": data["zmi_mode"]["token"],
        "hosts": data["zmi_manage_hosts"],
        "proxies": data["zmi_trusted_proxies"],
        "status": data["zmi_blocked_status"]["token"],
    }


DEFAULTS = {
    "mode": "report",
    "hosts": [],
    "proxies": ["127.0.0.0/8", "::1/128"],
    "status": "404",
}


class TestControlPanelForm:
    def submit(self, session, server, **changes):
        """Submit the control panel with every current value, plus ``changes``."""
        url = f"{server}/@@securitybp-controlpanel"
        page = lxml.html.fromstring(session.get(url, timeout=60).text)
        [form] = [f for f in page.forms if f.get("id") == "securitybp-controlpanel"]
        values = [(k, v) for k, v in form.form_values() if k not in changes]
        for name, value in changes.items():
            values.append((name, value))
        values.append(("form.buttons.save", "Save"))
        return session.post(url, data=values, timeout=60)

    def test_fieldset_and_fields_are_shown(self, server):
        html = (
            session_for("Site Administrator")
            .get(f"{server}/@@securitybp-controlpanel", timeout=60)
            .text
        )
        assert "Management interface" in html
        for name in (
            "zmi_mode",
            "zmi_manage_hosts",
            "zmi_trusted_proxies",
            "zmi_blocked_status",
        ):
            assert f"form.widgets.{name}" in html

    def test_saves_valid_settings(self, server):
        session = session_for("Site Administrator")
        response = self.submit(
            session,
            server,
            **{
                "form.widgets.zmi_manage_hosts": "manage.example.com\nlocalhost",
                "form.widgets.zmi_trusted_proxies": "127.0.0.1\n10.0.0.0/8",
                "form.widgets.zmi_mode:list": "block",
                "form.widgets.zmi_blocked_status:list": "403",
            },
        )
        assert response.status_code == 200
        assert "Changes saved" in response.text
        assert guard_settings(session, server) == {
            "mode": "block",
            "hosts": ["manage.example.com", "localhost"],
            "proxies": ["127.0.0.1", "10.0.0.0/8"],
            "status": "403",
        }

    def test_refuses_block_mode_without_manage_hosts(self, server):
        session = session_for("Site Administrator")
        response = self.submit(
            session, server, **{"form.widgets.zmi_mode:list": "block"}
        )
        assert "There were some errors" in response.text
        assert "Block mode needs at least one manage host" in response.text
        assert "you would lock yourself out" in response.text
        assert guard_settings(session, server) == DEFAULTS

    @pytest.mark.parametrize(
        "field,value,message",
        [
            (
                "zmi_manage_hosts",
                "https://manage.example.com/",
                "'https://manage.example.com/' is not a host name",
            ),
            (
                "zmi_manage_hosts",
                "manage.example.com:8443",
                "'manage.example.com:8443' is not a host name",
            ),
            (
                "zmi_trusted_proxies",
                "10.0.0.300",
                "'10.0.0.300' is not an IP address or network",
            ),
            (
                "zmi_trusted_proxies",
                "proxy.example.com",
                "'proxy.example.com' is not an IP address or network",
            ),
        ],
    )
    def test_refuses_bad_entries(self, server, field, value, message):
        session = session_for("Manager")
        response = self.submit(session, server, **{f"form.widgets.{field}": value})
        assert "There were some errors" in response.text
        assert message in response.text
        assert guard_settings(session, server) == DEFAULTS


class TestREST:
    def patch(self, session, server, data):
        return session.patch(
            f"{server}/@controlpanels/securitybp",
            data=json.dumps(data),
            headers=JSON,
            timeout=60,
        )

    def test_refuses_block_mode_without_manage_hosts(self, server):
        session = session_for("Manager")
        response = self.patch(session, server, {"zmi_mode": "block"})
        assert response.status_code == 400
        assert "Block mode needs at least one manage host" in response.text
        assert guard_settings(session, server) == DEFAULTS

    def test_block_mode_with_manage_hosts(self, server):
        session = session_for("Manager")
        response = self.patch(
            session,
            server,
            {"zmi_mode": "block", "zmi_manage_hosts": ["manage.example.com"]},
        )
        assert response.status_code == 204
        assert guard_settings(session, server)["mode"] == "block"
        # Emptying the list afterwards is refused too, and changes nothing.
        response = self.patch(session, server, {"zmi_manage_hosts": []})
        assert response.status_code == 400
        assert "Block mode needs at least one manage host" in response.text
        assert guard_settings(session, server)["hosts"] == ["manage.example.com"]

    @pytest.mark.parametrize(
        "data,message",
        [
            ({"zmi_manage_hosts": ["manage.example.com/manage"]}, "is not a host name"),
            (
                {"zmi_trusted_proxies": ["10.0.0.0/33"]},
                "is not an IP address or network",
            ),
            ({"zmi_blocked_status": "500"}, ""),
            ({"zmi_mode": "off"}, ""),
        ],
    )
    def test_refuses_bad_values(self, server, data, message):
        session = session_for("Manager")
        response = self.patch(session, server, data)
        assert response.status_code == 400
        assert message in response.text
        assert guard_settings(session, server) == DEFAULTS

    @pytest.mark.parametrize("role", DENIED_ROLES)
    def test_others_cannot_change_it(self, server, role):
        response = self.patch(session_for(role), server, {"zmi_blocked_status": "403"})
        assert response.status_code in (401, 403)
        assert guard_settings(session_for("Manager"), server) == DEFAULTS


class TestProxyRulesPage:
    def configure(self):
        api.portal.set_registry_record(
            "collective.securitybp.zmi_manage_hosts",
            ["manage.example.com", "localhost"],
        )
        api.portal.set_registry_record(
            "collective.securitybp.zmi_trusted_proxies", ["127.0.0.1"]
        )
        api.portal.set_registry_record(
            "collective.securitybp.zmi_blocked_status", "403"
        )
        api.portal.set_registry_record("collective.securitybp.zmi_mode", "block")
        transaction.commit()

    @pytest.mark.parametrize("role", DENIED_ROLES)
    @pytest.mark.parametrize("query", ["", "?format=text"])
    def test_denied(self, server, role, query):
        response = session_for(role).get(
            f"{server}/@@securitybp-proxy-rules{query}",
            allow_redirects=False,
            timeout=60,
        )
        assert response.status_code in (302, 401, 403)
        assert "VirtualHostBase" not in response.text

    @pytest.mark.parametrize("role", ["Manager", "Site Administrator"])
    def test_linked_from_the_report(self, server, role):
        html = session_for(role).get(f"{server}/@@security-report", timeout=60).text
        link = lxml.html.fromstring(html).get_element_by_id(
            "securitybp-proxy-rules-link"
        )
        assert link.get("href") == f"{server}/@@securitybp-proxy-rules"

    def test_page_shows_state_evidence_and_rules(self, server):
        self.configure()
        evidence.record(
            when=datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
            host="www.example.com",
            client_ip="203.0.113.7",
            method="GET",
            path="/manage_main",
            kind="zmi",
            site="/plone",
            blocked=True,
        )
        response = session_for("Site Administrator").get(
            f"{server}/@@securitybp-proxy-rules", timeout=60
        )
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store"
        page = lxml.html.fromstring(response.text)
        assert page.get_element_by_id("securitybp-guard-mode").text_content() == "block"
        hosts = page.get_element_by_id("securitybp-guard-hosts").text_content().split()
        assert hosts == ["localhost", "manage.example.com"]
        [row] = page.find_class("securitybp-zmi-request")
        cells = [" ".join(c.text_content().split()) for c in row.findall("td")]
        assert cells == [
            "2030-01-02 03:04:05",
            "www.example.com",
            "1",
            "203.0.113.7 (1)",
            "anonymous",
            "GET /manage_main (zmi)",
            "blocked",
        ]
        assert row.get("data-kind") == "zmi"
        nginx = page.get_element_by_id("securitybp-rules-nginx").text_content()
        assert "return 403;" in nginx
        manage = page.get_element_by_id("securitybp-rules-manage-nginx").text_content()
        assert "server_name manage.example.com;" in manage
        ssh = page.get_element_by_id("securitybp-rules-ssh").text_content()
        assert "close every other tab" in ssh
        assert "close the tunnel" in ssh

    def test_text_download(self, server):
        self.configure()
        response = session_for("Manager").get(
            f"{server}/@@securitybp-proxy-rules?format=text", timeout=60
        )
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert response.headers["Content-Disposition"] == (
            'attachment; filename="securitybp-proxy-rules.txt"'
        )
        text = response.text
        for heading in (
            "nginx",
            "Apache 2.4",
            "HAProxy",
            "Dedicated manage host with TLS (nginx)",
            "Dedicated manage host with TLS (Apache 2.4)",
            "SSH",
        ):
            assert f"# ===== {heading} =====" in text
        assert 'RewriteRule "^" "-" [R=403,L]' in text
        assert "http-request deny deny_status 403" in text
        assert "Order deny,allow" not in text
        assert "Require ip 192.0.2.0/24" in text
        assert "localhost must be one of the manage hosts" in text
        assert "<" not in text.split("<VirtualHost", 1)[0]  # no HTML


# The generated patterns block what the guard blocks, and nothing else.
PATHS = [
    "/plone/manage",
    "/plone/manage_main",
    "/manage_main/",
    "/plone/folder/manage_workspace",
    "/plone/@@manage_interfaces",
    "/plone/++view++manage_interfaces",
    "/manage_addProduct/PageTemplates/manage_addPageTemplateForm",
    "/Control_Panel/Database/main",
    "/misc_/OFSP/dtmldoc.gif",
    "/p_/zopelogo_jpg",
    "/++resource++zmi/zmi_base.css",
    "/++resource++logo/favicon/favicon.ico",
    "/plone",
    "/plone/front-page",
    "/plone/@@manage-portlets",
    "/plone/manage-viewlets",
    "/plone/@@overview-controlpanel",
    "/plone/++api++/@controlpanels",
    "/plone/management",
    "/plone/my-manage_page",
    "/plone/++resource++plone-logo.svg",
    "/plone/help_/p_x",
    "/plone/manageProperties",
    "/plone/manager",
    "/plone/manage-content-rules",
]


@pytest.mark.parametrize("path", PATHS)
def test_patterns_agree_with_the_guard(path):
    by_rules = re.search(ZMI_PATH_REGEX, path) is not None
    by_guard = any(guard.is_zmi_name(name) for name in path.split("/"))
    assert by_rules == by_guard


# The query patterns refuse every query that Zope turns into a form directive.
QUERIES = [
    "manage_main:method=1",
    ":action=manage_main",
    "manage_main:default_method=1",
    ":default_action=manage_main",
    "manage_main%3Amethod=1",
    "manage_main%3A%6Dethod=1",
    "%3A%61ction=manage_main",
    "a=1&manage_main:method:list=1",
    "x:int=1&:method=manage_main",
    "SearchableText=manage_main:method",
    "portal_type:list=Document",
    "portal_type%3Alist=Document&Subject%3Alist=caf%C3%A9",
    "b_start:int=20",
    "q=a%3Amethod",
]


@pytest.mark.parametrize("query", QUERIES)
def test_query_patterns_agree_with_zope(query):
    from collective.securitybp.zmi.rules import DIRECTIVE_QUERY_REGEX
    from collective.securitybp.zmi.rules import ENCODED_DIRECTIVE_REGEX
    from io import BytesIO
    from ZPublisher.HTTPRequest import HTTPRequest
    from ZPublisher.HTTPResponse import HTTPResponse

    environ = {
        "REQUEST_METHOD": "GET",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "PATH_INFO": "/plone",
        "QUERY_STRING": query,
    }
    request = HTTPRequest(BytesIO(), environ, HTTPResponse())
    request.processInputs()
    zope_adds_a_name = request.other.get("PATH_INFO", "/plone") != "/plone"
    refused = any(
        re.search(pattern, query)
        for pattern in (DIRECTIVE_QUERY_REGEX, ENCODED_DIRECTIVE_REGEX)
    )
    assert refused == zope_adds_a_name
