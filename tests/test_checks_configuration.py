"""Configuration checks: Zope settings, plone.protect, plone.session,
keyrings and content settings, each firing and quiet on a real site."""

from App.config import getConfiguration
from collective.securitybp.audit import AuditContext
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
import pytest


def run(check, portal):
    context = AuditContext(
        site=portal, root=portal.getPhysicalRoot(), now=datetime.now(timezone.utc)
    )
    return [f.to_dict() for f in check.run(context)]


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
        assert run(conf.DebugMode(), portal) == [
            {
                "check_id": "SBP-CONF-001",
                "area": "configuration",
                "area_title": "Configuration",
                "severity": "high",
                "title": "Zope runs in debug mode",
                "detail": (
                    "The instance runs with debug-mode on: error pages can show "
                    "tracebacks and internals, templates are re-read from disk "
                    "and the login cookie is sent without its Secure flag."
                ),
                "remediation": (
                    "Set 'debug-mode off' in zope.conf (and debug_mode = false "
                    "in the [app] section of the WSGI ini file, if set there), "
                    "then restart. Use debug mode only on a development machine."
                ),
                "reference": "Lock down access to your Management components",
                "subject": "debug-mode",
            }
        ]

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
        assert finding["title"] == "CSRF protection is off"
        assert finding["detail"] == (
            f"The environment variable PLONE_CSRF_DISABLED is '{value}': "
            "plone.protect does not check any request for a CSRF token, so a "
            "page on another site can make a logged-in user change this one."
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
        assert run(conf.SessionCookieNotSecure(), portal) == [
            {
                "check_id": "SBP-CONF-007",
                "area": "configuration",
                "area_title": "Configuration",
                "severity": "high",
                "title": "Login cookie not limited to HTTPS",
                "detail": (
                    "This site is served over HTTPS (https://www.example.org:443) "
                    "but plone.session sets its login cookie without the "
                    "Secure flag, so a browser also sends it over plain HTTP."
                ),
                "remediation": (
                    "In the management interface open /plone/acl_users/session, "
                    "tab Properties, tick 'secure' and save (or set it in a "
                    "setup step). Debug mode also drops the flag: keep it off."
                ),
                "reference": "Provide a dedicated manage domain",
                "subject": "/plone/acl_users/session",
            }
        ]
        portal.acl_users.session.manage_changeProperties(secure=True)
        assert run(conf.SessionCookieNotSecure(), portal) == []

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


class TestRootCookie:
    check = conf.RootCookieStoresPassword()

    def test_quiet_when_not_updating_credentials(self, portal, app):
        app.acl_users.plugins.deactivatePlugin(
            ICredentialsUpdatePlugin, "credentials_cookie_auth"
        )
        assert run(self.check, portal) == []

    def test_fires_when_active(self, portal, app):
        # plone.testing's Zope root PAS updates credentials with a cookie.
        active = app.acl_users.plugins.listPlugins(ICredentialsUpdatePlugin)
        assert "credentials_cookie_auth" in dict(active)
        assert run(self.check, portal) == [
            {
                "check_id": "SBP-CONF-010",
                "area": "configuration",
                "area_title": "Configuration",
                "severity": "medium",
                "title": "Zope root cookie stores the password",
                "detail": (
                    "The cookie plugin /acl_users/credentials_cookie_auth at the "
                    "Zope root stores the login name and the password, only "
                    "base64-encoded, in the __ac cookie of every Zope Manager "
                    "who logs in there."
                ),
                "remediation": (
                    "In /acl_users/plugins (Credentials Update Plugins) "
                    "deactivate /acl_users/credentials_cookie_auth, or use HTTP "
                    "basic authentication over HTTPS on a dedicated manage "
                    "domain for the Zope root."
                ),
                "reference": "'Zope Manager' User should not be used for daily work",
                "subject": "/acl_users/credentials_cookie_auth",
            }
        ]


class TestKeyrings:
    check = conf.KeyringsNeverRotated()

    def test_fresh_site_was_never_rotated(self, portal, app):
        findings = run(self.check, portal)
        assert keys(findings)[0] == ("SBP-CONF-011", "low", "/plone")
        assert findings[0]["detail"] == (
            "The keyrings _system, _forms, _anon of /plone were never rotated: "
            "they still hold the secrets made when it was created."
        )

    def test_quiet_after_rotation(self, portal, app):
        from plone.keyring.interfaces import IKeyManager
        from plone.keyring.keymanager import KeyManager

        getUtility(IKeyManager).rotate(ring=None)
        app._key_manager = KeyManager()
        assert keys(run(self.check, portal)) == [("SBP-CONF-011", "low", "/")]
        app._key_manager.rotate(ring=None)
        assert run(self.check, portal) == []


def set_record(portal, name, value):
    getUtility(IRegistry)[name] = value


class TestHTMLFiltering:
    check = conf.UnsafeHTMLFiltering()

    def test_plone_default_allows_iframe(self, portal):
        [finding] = run(self.check, portal)
        assert keys([finding]) == [("SBP-CONF-012", "high", "plone.valid_tags")]
        assert finding["detail"] == (
            "HTML filtering keeps the tags iframe in rich text: editors can "
            "embed scripts, other sites or forms in pages."
        )

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
        assert findings[2]["detail"] == (
            "HTML filtering keeps the event handler attributes onclick, onload: "
            "they run JavaScript."
        )


class TestSelfRegistration:
    check = conf.SelfRegistrationWithoutValidation()

    def test_fires_with_password_choice(self, manager):
        set_record(manager, "plone.enable_self_reg", True)
        set_record(manager, "plone.enable_user_pwd_choice", True)
        assert run(self.check, manager) == [
            {
                "check_id": "SBP-CONF-013",
                "area": "configuration",
                "area_title": "Configuration",
                "severity": "medium",
                "title": "Self-registration without e-mail validation",
                "detail": (
                    "Anybody can create an account and chooses its password in "
                    "the form, so the e-mail address is never confirmed."
                ),
                "remediation": (
                    "In Site Setup > Security, untick 'Let users select their "
                    "own passwords' (users then get an e-mail to set it), or "
                    "untick 'Enable self-registration' if nobody needs it."
                ),
                "reference": "Work with the lowest amount of privileges necessary",
                "subject": "plone.enable_user_pwd_choice",
            }
        ]

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
