"""Configuration checks: Zope settings, plone.protect, plone.session,
keyrings and content settings, each firing and quiet on a real site."""

from App.config import getConfiguration
from collective.securitybp.audit import AuditContext
from collective.securitybp.audit import run_check
from collective.securitybp.checks import configuration as conf
from datetime import datetime
from datetime import timezone
from plone import api
from plone.app.testing import setRoles
from plone.app.testing import TEST_USER_ID
from plone.protect.auto import ProtectTransform
from plone.registry.interfaces import IRegistry
from plone.transformchain.interfaces import ITransform
from Products.PluggableAuthService.interfaces.plugins import ICredentialsUpdatePlugin
from zope.component import getGlobalSiteManager
from zope.component import getUtility
from zope.interface import Interface
import os
import pytest
import subprocess
import sys


def run(check, portal):
    context = AuditContext(
        site=portal, root=portal.getPhysicalRoot(), now=datetime.now(timezone.utc)
    )
    return [f.as_data() for f in run_check(check, context)]


def keys(findings):
    return [(f["check_id"], f["severity"], f["subject"]) for f in findings]


@pytest.fixture
def config(monkeypatch):
    """The real Zope configuration, with settings a test changes restored."""
    configuration = getConfiguration()
    for name, value in (
        ("debug_mode", False),
        ("verbose_security", False),
        ("security_policy_implementation", "C"),
        ("enable_xmlrpc", False),
    ):
        monkeypatch.setattr(configuration, name, value, raising=False)
    return configuration


@pytest.fixture
def manager(portal):
    setRoles(portal, TEST_USER_ID, ["Manager"])
    return portal


class TestZopeSettings:
    def test_quiet_in_a_production_configuration(self, portal, config, monkeypatch):
        monkeypatch.delenv("PURE_PYTHON", raising=False)
        monkeypatch.delenv("PLONE_CSRF_DISABLED", raising=False)
        monkeypatch.delenv("PLONE_X_FRAME_OPTIONS", raising=False)
        for check in (
            conf.DebugMode(),
            conf.VerboseSecurity(),
            conf.PythonSecurityPolicy(),
            conf.CSRFProtectionOff(),
            conf.FrameOptionsEmptied(),
            conf.XMLRPCEnabled(),
        ):
            assert run(check, portal) == [], check.id

    def test_debug_mode(self, portal, config):
        config.debug_mode = True
        [finding] = run(conf.DebugMode(), portal)
        assert keys([finding]) == [("SBP-CONF-001", "high", "debug-mode")]
        assert "error pages can show tracebacks" in finding["detail"]

    def test_verbose_security(self, portal, config):
        config.verbose_security = True
        [finding] = run(conf.VerboseSecurity(), portal)
        assert keys([finding]) == [("SBP-CONF-002", "medium", "verbose-security")]
        assert finding["detail"].startswith("verbose-security is on: Unauthorized")

    def test_python_security_policy(self, portal, config, monkeypatch):
        monkeypatch.delenv("PURE_PYTHON", raising=False)
        assert run(conf.PythonSecurityPolicy(), portal) == []
        monkeypatch.setenv("PURE_PYTHON", "1")
        assert len(run(conf.PythonSecurityPolicy(), portal)) == 1
        monkeypatch.delenv("PURE_PYTHON")
        config.security_policy_implementation = "PYTHON"
        [finding] = run(conf.PythonSecurityPolicy(), portal)
        assert keys([finding]) == [
            ("SBP-CONF-003", "info", "security-policy-implementation")
        ]
        assert "Python implementation of its security policy" in finding["detail"]

    def test_xmlrpc(self, portal, config):
        config.enable_xmlrpc = True
        [finding] = run(conf.XMLRPCEnabled(), portal)
        assert keys([finding]) == [("SBP-CONF-006", "low", "enable-xmlrpc")]
        assert finding["detail"].startswith("enable-xmlrpc is on: Zope answers")


class TestCSRF:
    check = conf.CSRFProtectionOff()

    @pytest.mark.parametrize("value", ["true", "1", "Yes"])
    def test_environment_variable(self, portal, monkeypatch, value):
        monkeypatch.setenv("PLONE_CSRF_DISABLED", value)
        [finding] = run(self.check, portal)
        assert keys([finding]) == [("SBP-CONF-004", "critical", "PLONE_CSRF_DISABLED")]
        assert (
            f"Inspected: process {os.getpid()}, the one serving" in (finding["detail"])
        )

    def test_false_value_is_quiet(self, portal, monkeypatch):
        monkeypatch.setenv("PLONE_CSRF_DISABLED", "false")
        assert run(self.check, portal) == []

    def test_transform_not_registered(self, portal, monkeypatch):
        monkeypatch.delenv("PLONE_CSRF_DISABLED", raising=False)
        registry = getGlobalSiteManager()

        def no_transform(published, request):
            return None

        registry.registerAdapter(
            no_transform, (Interface, Interface), ITransform, name=conf.CSRF_TRANSFORM
        )
        try:
            [finding] = run(self.check, portal)
        finally:
            registry.unregisterAdapter(
                no_transform,
                (Interface, Interface),
                ITransform,
                name=conf.CSRF_TRANSFORM,
            )
            registry.registerAdapter(
                ProtectTransform,
                (Interface, Interface),
                ITransform,
                name=conf.CSRF_TRANSFORM,
            )
        assert keys([finding]) == [
            ("SBP-CONF-004", "critical", "plone.protect.autocsrf")
        ]
        assert finding["detail"] == (
            "The transform plone.protect.autocsrf of plone.protect is not "
            "registered, so forms are not protected against CSRF automatically."
        )
        assert run(self.check, portal) == []


class TestFrameOptions:
    check = conf.FrameOptionsEmptied()

    @pytest.mark.parametrize("value", ["", "  "])
    def test_emptied(self, portal, monkeypatch, value):
        monkeypatch.setenv("PLONE_X_FRAME_OPTIONS", value)
        [finding] = run(self.check, portal)
        assert keys([finding]) == [("SBP-CONF-005", "medium", "PLONE_X_FRAME_OPTIONS")]
        assert finding["reference"] == "set HTTP Security Headers"

    def test_deny_is_quiet(self, portal, monkeypatch):
        monkeypatch.setenv("PLONE_X_FRAME_OPTIONS", "DENY")
        assert run(self.check, portal) == []


class TestSession:
    def test_insecure_cookie_on_https(self, portal):
        portal.REQUEST.setServerURL("https", "www.example.org", "443")
        assert portal.REQUEST["SERVER_URL"] == "https://www.example.org:443"
        # The default header settings send HSTS for a year: medium.
        [finding] = run(conf.SessionCookieNotSecure(), portal)
        assert keys([finding]) == [
            ("SBP-CONF-007", "medium", "/plone/acl_users/session")
        ]
        assert finding["links"] == [
            {
                "title": "Properties of the session plugin",
                "url": "/acl_users/session/manage_propertiesForm",
            }
        ]
        portal.acl_users.session.manage_changeProperties(secure=True)
        assert run(conf.SessionCookieNotSecure(), portal) == []

    def test_insecure_cookie_without_hsts_is_high(self, portal):
        set_record(portal, "collective.securitybp.headers_hsts_enabled", False)
        portal.REQUEST.setServerURL("https", "www.example.org", "443")
        [finding] = run(conf.SessionCookieNotSecure(), portal)
        assert keys([finding]) == [("SBP-CONF-007", "high", "/plone/acl_users/session")]

    def test_insecure_cookie_over_http_is_not_reported(self, portal):
        assert portal.REQUEST["SERVER_URL"].startswith("http://")
        assert not portal.acl_users.session.secure
        assert run(conf.SessionCookieNotSecure(), portal) == []

    def test_long_timeout(self, portal):
        assert run(conf.SessionTimeoutLong(), portal) == []  # 2 hours
        portal.acl_users.session.manage_changeProperties(timeout=43200)
        assert run(conf.SessionTimeoutLong(), portal) == []
        portal.acl_users.session.manage_changeProperties(timeout=7 * 24 * 3600)
        [finding] = run(conf.SessionTimeoutLong(), portal)
        assert keys([finding]) == [("SBP-CONF-008", "low", "/plone/acl_users/session")]
        assert finding["detail"] == (
            "A login session stays valid for 168 hours: a stolen or forgotten "
            "session can be used that long."
        )

    def test_per_user_keyring(self, portal):
        [finding] = run(conf.NoPerUserKeyring(), portal)
        assert keys([finding]) == [("SBP-CONF-009", "low", "/plone/acl_users/session")]
        portal.acl_users.session.per_user_keyring = True
        assert run(conf.NoPerUserKeyring(), portal) == []

    def test_deactivated_session_plugin_is_not_checked(self, portal):
        plugins = portal.acl_users.plugins
        plugins.deactivatePlugin(ICredentialsUpdatePlugin, "session")
        assert run(conf.NoPerUserKeyring(), portal) == []


@pytest.fixture
def distribution_login():
    """plone.distribution's REST services of the Zope root, as a Plone 6
    instance loads them (the test layer does not)."""
    from plone.testing import zca
    from zope.configuration import xmlconfig
    import plone.distribution.services.auth
    import plone.rest

    zca.pushGlobalRegistry()
    try:
        context = xmlconfig.file("meta.zcml", package=plone.rest)
        xmlconfig.file(
            "configure.zcml", package=plone.distribution.services.auth, context=context
        )
        yield
    finally:
        zca.popGlobalRegistry()


class TestRootCookie:
    check = conf.RootCookieStoresPassword()

    def test_quiet_when_not_updating_credentials(self, portal, app):
        app.acl_users.plugins.deactivatePlugin(
            ICredentialsUpdatePlugin, "credentials_cookie_auth"
        )
        assert run(self.check, portal) == []

    def test_root_login_service(self, portal, app, distribution_login):
        # plone.distribution's POST /@login of the Zope root calls the
        # plugin directly: the plugin must be gone, not just inactive.
        assert conf.root_login_service(app) is not None
        app.acl_users.plugins.deactivatePlugin(
            ICredentialsUpdatePlugin, "credentials_cookie_auth"
        )
        [finding] = run(self.check, portal)
        assert keys([finding]) == [("SBP-CONF-010", "medium", "/@login")]
        assert "whether or not that plugin is active" in finding["detail"]
        app.acl_users.manage_delObjects(["credentials_cookie_auth"])
        assert run(self.check, portal) == []

    def test_fires_when_active(self, portal, app):
        # plone.testing's Zope root PAS updates credentials with a cookie.
        active = app.acl_users.plugins.listPlugins(ICredentialsUpdatePlugin)
        assert "credentials_cookie_auth" in dict(active)
        findings = run(self.check, portal)
        assert keys(findings)[0] == (
            "SBP-CONF-010",
            "medium",
            "/acl_users/credentials_cookie_auth",
        )
        assert "only encoded, in the __ac cookie" in findings[0]["detail"]


def log_in(portal, user_id, when):
    """Record a login as Plone's login form does (the member property)."""
    from DateTime import DateTime

    member = api.user.get(userid=user_id)
    member.setMemberProperties({"login_time": DateTime(when)})


class TestKeyrings:
    check = conf.KeyringsNeverRotated()

    def test_quiet_on_a_fresh_site_nobody_logged_in_to(self, portal, app):
        from plone.keyring.interfaces import IKeyManager

        assert getUtility(IKeyManager)["_system"].last_rotation == 0
        assert run(self.check, portal) == []

    def test_fires_when_a_login_did_not_rotate_them(self, portal, app):
        log_in(portal, TEST_USER_ID, "2026-11-20 10:00 UTC")
        [finding] = run(self.check, portal)
        assert keys([finding]) == [("SBP-CONF-011", "low", "/plone")]
        assert "The keyrings _system, _forms, _anon of /plone" in finding["detail"]

    def test_quiet_when_rotated_at_the_login(self, portal, app):
        from plone.keyring.interfaces import IKeyManager

        log_in(portal, TEST_USER_ID, "2026-11-20 10:00 UTC")
        getUtility(IKeyManager).rotate(ring=None)  # now, after the login
        assert run(self.check, portal) == []

    def test_followed_every_ring_rotates(self, functional):
        # The script commits, as zconsole needs: a layer that allows it.
        from plone.keyring.interfaces import IKeyManager
        from plone.keyring.keymanager import KeyManager
        from zope.component.hooks import setSite

        portal, app = functional["portal"], functional["app"]
        setSite(portal)

        app._key_manager = KeyManager()
        log_in(portal, TEST_USER_ID, "2026-11-20 10:00 UTC")
        findings = run(self.check, portal)
        assert keys(findings) == [
            ("SBP-CONF-011", "low", "/plone"),
            ("SBP-CONF-011", "low", "/"),
        ]
        old = {name: list(ring) for name, ring in getUtility(IKeyManager).items()}
        [command] = findings[0]["commands"]
        assert " run " in command and command.endswith("\nEOF")
        # The script the command feeds zconsole, run as zconsole runs it
        # (the command itself runs against a real instance in test_cli).
        body = command.split("<<'EOF'\n", 1)[1].rsplit("EOF", 1)[0]
        exec(compile(body, "rotate_keyrings.py", "exec"), {"app": app})  # noqa: S102
        assert run(self.check, portal) == []
        for name, ring in getUtility(IKeyManager).items():
            assert not set(ring) & set(old[name]), name


def set_record(portal, name, value):
    getUtility(IRegistry)[name] = value


class TestHTMLFiltering:
    check = conf.UnsafeHTMLFiltering()

    def test_plone_default_allows_iframe_low(self, portal):
        [finding] = run(self.check, portal)
        assert keys([finding]) == [("SBP-CONF-012", "low", "plone.valid_tags")]
        assert "cannot run script here" in finding["detail"]

    @pytest.mark.parametrize("tag", ["script", "object", "embed", "form"])
    def test_a_script_tag_is_high(self, portal, tag):
        registry = getUtility(IRegistry)
        set_record(portal, "plone.valid_tags", registry["plone.valid_tags"] + [tag])
        [finding] = run(self.check, portal)
        assert keys([finding]) == [("SBP-CONF-012", "high", "plone.valid_tags")]

    def test_quiet_without_active_content(self, portal):
        tags = getUtility(IRegistry)["plone.valid_tags"]
        set_record(portal, "plone.valid_tags", [t for t in tags if t != "iframe"])
        assert run(self.check, portal) == []

    def test_every_setting(self, portal):
        registry = getUtility(IRegistry)
        set_record(portal, "plone.disable_filtering", True)
        set_record(
            portal,
            "plone.valid_tags",
            registry["plone.valid_tags"] + ["script", "form"],
        )
        set_record(portal, "plone.custom_attributes", ["style", "onClick", "onload"])
        findings = run(self.check, portal)
        assert keys(findings) == [
            ("SBP-CONF-012", "high", "plone.disable_filtering"),
            ("SBP-CONF-012", "high", "plone.valid_tags"),
            ("SBP-CONF-012", "high", "plone.custom_attributes"),
        ]
        assert "the tags form, iframe, script in" in findings[1]["detail"]
        assert "attributes onclick, onload:" in findings[2]["detail"]


class TestSelfRegistration:
    check = conf.SelfRegistrationWithoutValidation()

    def test_fires_with_password_choice(self, manager):
        set_record(manager, "plone.enable_self_reg", True)
        set_record(manager, "plone.enable_user_pwd_choice", True)
        [finding] = run(self.check, manager)
        assert keys([finding]) == [
            ("SBP-CONF-013", "medium", "plone.enable_user_pwd_choice")
        ]
        assert finding["links"][0]["url"].endswith("@@security-controlpanel")

    def test_quiet_with_email_validation(self, manager):
        set_record(manager, "plone.enable_self_reg", True)
        assert run(self.check, manager) == []

    def test_quiet_without_self_registration(self, manager):
        set_record(manager, "plone.enable_user_pwd_choice", True)
        assert run(self.check, manager) == []


class TestComments:
    check = conf.AnonymousCommentsWithoutCaptcha()

    @pytest.fixture
    def discussion(self, portal):
        from plone.app.discussion.interfaces import IDiscussionSettings

        getUtility(IRegistry).registerInterface(IDiscussionSettings)
        set_record(portal, conf.DISCUSSION + "globally_enabled", True)
        set_record(portal, conf.DISCUSSION + "anonymous_comments", True)
        return portal

    def test_quiet_without_plone_app_discussion(self, portal):
        assert run(self.check, portal) == []

    def test_fires_without_captcha(self, discussion):
        [finding] = run(self.check, discussion)
        assert keys([finding]) == [("SBP-CONF-014", "low", "plone.app.discussion")]
        assert finding["detail"] == (
            "Anonymous users may post comments and no captcha is configured, "
            "so robots can post spam in bulk."
        )

    def test_quiet_with_captcha(self, discussion):
        from plone.registry import field
        from plone.registry import Record

        # The vocabulary offers only installed captchas: store the record as
        # a captcha package's setup would find it.
        registry = getUtility(IRegistry)
        registry.records[conf.DISCUSSION + "captcha"] = Record(
            field.TextLine(title="Captcha"), "recaptcha"
        )
        assert run(self.check, discussion) == []
        set_record(discussion, conf.DISCUSSION + "captcha", "disabled")
        assert len(run(self.check, discussion)) == 1

    def test_quiet_for_members_only(self, discussion):
        set_record(discussion, conf.DISCUSSION + "anonymous_comments", False)
        assert run(self.check, discussion) == []


class TestThroughTheWebCode:
    check = conf.ThroughTheWebCode()

    def test_quiet_on_a_fresh_site(self, portal):
        assert run(self.check, portal) == []

    def test_zope_default_root_page_is_not_reported(self, portal, app):
        from OFS.Application import DEFAULT_ROOT_TEMPLATE
        from Products.PageTemplates.ZopePageTemplate import manage_addPageTemplate

        manage_addPageTemplate(app, "index_html", text=DEFAULT_ROOT_TEMPLATE)
        assert run(self.check, portal) == []

    def test_changed_root_page_is_reported(self, portal, app):
        from Products.PageTemplates.ZopePageTemplate import manage_addPageTemplate

        manage_addPageTemplate(app, "index_html", text="<p tal:content='python:1'/>")
        [finding] = run(self.check, portal)
        assert finding["detail"] == (
            "1 objects hold code or templates edited through the web: "
            "/index_html (Page Template)."
        )

    def test_inventory(self, portal, app):
        from OFS.Folder import manage_addFolder
        from Products.PageTemplates.ZopePageTemplate import manage_addPageTemplate
        from Products.PythonScripts.PythonScript import manage_addPythonScript

        manage_addPythonScript(app, "cleanup")
        manage_addFolder(app, "tools")
        manage_addPythonScript(app.tools, "report")
        manage_addPythonScript(portal, "site_script")
        manage_addPageTemplate(portal.portal_skins.custom, "main_template", "<p/>")
        [finding] = run(self.check, portal)
        assert keys([finding]) == [("SBP-CONF-015", "medium", "")]
        assert finding["detail"] == (
            "4 objects hold code or templates edited through the web: "
            "/cleanup (Script (Python)), "
            "/plone/portal_skins/custom/main_template (Page Template), "
            "/plone/site_script (Script (Python)), "
            "/tools/report (Script (Python))."
        )
        assert finding["reference"] == "Use dedicated Unix user accounts"


class TestUnpublishedContent:
    check = conf.UnpublishedContentVisible()

    @pytest.fixture
    def site(self, manager):
        manager.portal_workflow.setDefaultChain("simple_publication_workflow")
        for id in ("private", "pending", "published", "open-private", "open-pending"):
            api.content.create(container=manager, type="Document", id=id)
        for id in ("pending", "open-pending"):
            api.content.transition(obj=manager[id], transition="submit")
        api.content.transition(obj=manager["published"], transition="publish")
        return manager

    def expose(self, obj):
        for permission in ("View", "Access contents information"):
            obj.manage_permission(permission, ["Anonymous", "Manager"], acquire=0)
        obj.reindexObjectSecurity()

    def test_quiet_when_workflow_is_respected(self, site):
        assert api.content.get_state(site["published"]) == "published"
        assert run(self.check, site) == []

    def test_fires_for_exposed_items(self, site):
        self.expose(site["open-private"])
        self.expose(site["open-pending"])
        [finding] = run(self.check, site)
        assert keys([finding]) == [("SBP-CONF-016", "high", "")]
        assert finding["detail"] == (
            "2 items in an unpublished workflow state can be seen by Anonymous: "
            "/plone/open-pending (pending), /plone/open-private (private)."
        )

    def test_lists_twenty_and_the_total(self, site):
        for number in range(22):
            item = api.content.create(
                container=site, type="Document", id=f"leak-{number:02d}"
            )
            self.expose(item)
        [finding] = run(self.check, site)
        detail = finding["detail"]
        assert detail.startswith("22 items in an unpublished workflow state")
        assert detail.count(" (private)") == 20
        assert detail.endswith(" … (+2 more).")

    def test_states_come_from_the_workflows(self, site):
        states = conf.unpublished_states(site)
        assert {"private", "pending", "internal"} <= set(states)
        assert "published" not in states
        assert "internally_published" in states  # Members only


def started(proc, timeout=10):
    """Wait until ``proc`` runs its program (its environment is empty before)."""
    from pathlib import Path
    import time

    deadline = time.monotonic() + timeout
    while not Path(f"/proc/{proc.pid}/cmdline").read_bytes():
        assert time.monotonic() < deadline, "the process did not start"
        time.sleep(0.01)


class TestServingEnvironment:
    """Environment variables are read from the process that serves the site."""

    @pytest.fixture
    def server(self):
        """A real process started with its own environment."""
        env = {"PATH": os.environ["PATH"], "PLONE_CSRF_DISABLED": "true"}
        env["PLONE_X_FRAME_OPTIONS"] = ""
        proc = subprocess.Popen(["sleep", "120"], env=env)
        started(proc)
        yield proc
        proc.kill()
        proc.wait()

    def context_for(self, portal, process):
        from collective.securitybp.processinfo import InstallationLayout

        context = AuditContext(
            site=portal, root=portal.getPhysicalRoot(), now=datetime.now(timezone.utc)
        )
        context._shared["process.layout"] = InstallationLayout(process=process)
        return context

    def fired(self, check, context):
        return [
            (f.check_id, f.severity.label, f.subject) for f in run_check(check, context)
        ]

    def test_reads_the_serving_process(self, portal, server, monkeypatch):
        from collective.securitybp.processinfo import ProcessIdentity

        # This process says nothing; the serving process disables CSRF.
        monkeypatch.delenv("PLONE_CSRF_DISABLED", raising=False)
        monkeypatch.delenv("PLONE_X_FRAME_OPTIONS", raising=False)
        context = self.context_for(portal, ProcessIdentity.from_proc(server.pid))
        assert self.fired(conf.CSRFProtectionOff(), context) == [
            ("SBP-CONF-004", "critical", "PLONE_CSRF_DISABLED")
        ]
        [finding] = conf.CSRFProtectionOff().run(context)
        assert (
            f"Inspected: process {server.pid}, the running instance"
            in (finding.to_dict()["detail"])
        )
        assert self.fired(conf.FrameOptionsEmptied(), context) == [
            ("SBP-CONF-005", "medium", "PLONE_X_FRAME_OPTIONS")
        ]
        [frames] = conf.FrameOptionsEmptied().run(context)
        assert f"Inspected: process {server.pid}" in frames.to_dict()["detail"]
        assert self.fired(conf.ServingEnvironmentUnknown(), context) == []

    def test_not_its_own_environment(self, portal, monkeypatch):
        from collective.securitybp.processinfo import ProcessIdentity

        quiet = subprocess.Popen(["sleep", "120"], env={"PATH": os.environ["PATH"]})
        try:
            started(quiet)
            monkeypatch.setenv("PLONE_CSRF_DISABLED", "true")
            context = self.context_for(portal, ProcessIdentity.from_proc(quiet.pid))
            assert self.fired(conf.CSRFProtectionOff(), context) == []
        finally:
            quiet.kill()
            quiet.wait()

    def test_says_when_it_cannot_read_it(self, portal):
        from collective.securitybp.processinfo import DAEMON
        from collective.securitybp.processinfo import ProcessIdentity

        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()  # its /proc entry is gone: nothing to read
        identity = ProcessIdentity(gone.pid, 65534, 65534, origin=DAEMON)
        context = self.context_for(portal, identity)
        assert self.fired(conf.ServingEnvironmentUnknown(), context) == [
            ("SBP-CONF-017", "info", "environment")
        ]
        [finding] = conf.ServingEnvironmentUnknown().run(context)
        assert finding.cause == ""

    def test_follows_from_the_process_not_found(self, portal):
        context = self.context_for(portal, None)
        [finding] = conf.ServingEnvironmentUnknown().run(context)
        assert (finding.check_id, finding.severity.label) == ("SBP-CONF-017", "info")
        assert finding.cause == "SBP-PROC-010|"

    def test_this_process_serving_is_complete(self, portal):
        # The report page: the serving process is this one.
        assert run(conf.ServingEnvironmentUnknown(), portal) == []
