"""``/.well-known/security.txt`` and SBP-CONF-018 over a real WSGI server."""

from datetime import date
from datetime import timedelta
from plone.base.interfaces import IPloneSiteRoot
from Products.Five.browser import BrowserView
from Products.SiteAccess.VirtualHostMonster import manage_addVirtualHostMonster
from zope.component import getGlobalSiteManager
from zope.interface import implementer
from zope.interface import Interface
from zope.publisher.interfaces import IPublishTraverse
from zope.publisher.interfaces.browser import IDefaultBrowserLayer
import pytest
import requests
import transaction


PASSWORD = "a long test passphrase 42"
PATH = "/.well-known/security.txt"
CHECK = "SBP-CONF-018"
PREFIX = "collective.securitybp.securitytxt_"


@pytest.fixture
def server(functional):
    portal = functional["portal"]
    portal.acl_users.userFolderAddUser("siteadmin", PASSWORD, ["Manager"], [])
    transaction.commit()
    root = f"http://{functional['host']}:{functional['port']}"
    return {"root": root, "url": f"{root}/{portal.getId()}", "portal": portal}


def configure(portal, **values):
    registry = portal.portal_registry
    for name, value in values.items():
        registry[PREFIX + name] = value
    transaction.commit()


def get(url, **kwargs):
    return requests.get(url, allow_redirects=False, timeout=60, **kwargs)


def contact_findings(server):
    report = get(
        server["url"] + "/@@security-report.json", auth=("siteadmin", PASSWORD)
    ).json()
    return [f for f in report["findings"] if f["check_id"] == CHECK]


def test_nothing_configured_nothing_served(server):
    assert get(server["url"] + PATH).status_code == 404
    [finding] = contact_findings(server)
    assert (finding["severity"], finding["subject"]) == ("low", PATH)
    assert "publishes no security contact" in finding["detail"]


def test_configured_contact_is_served_and_passes(server):
    expires = date.today() + timedelta(days=200)
    configure(
        server["portal"],
        contact=["mailto:security@example.org", "https://example.org/report"],
        expires=expires,
        policy="https://example.org/policy",
        acknowledgments="https://example.org/thanks",
        languages="en, de",
    )
    response = get(server["url"] + PATH)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    lines = response.text.splitlines()
    assert lines[:2] == [
        "Contact: mailto:security@example.org",
        "Contact: https://example.org/report",
    ]
    assert f"Expires: {expires.isoformat()}T23:59:59Z" in lines
    assert "Preferred-Languages: en, de" in lines
    assert f"Canonical: {server['url']}{PATH}" in lines
    assert contact_findings(server) == []


def test_virtual_host_root_serves_it_at_the_host_root(server):
    app = server["portal"].getPhysicalRoot()
    if "virtual_hosting" not in app.objectIds():
        manage_addVirtualHostMonster(app)
    configure(
        server["portal"],
        contact=["mailto:security@example.org"],
        expires=date.today() + timedelta(days=90),
    )
    url = (
        f"{server['root']}/VirtualHostBase/https/www.example.org:443/plone/"
        f"VirtualHostRoot{PATH}"
    )
    response = get(url)
    assert response.status_code == 200
    assert f"Canonical: https://www.example.org{PATH}" in response.text.splitlines()


@pytest.mark.parametrize(
    "days,severity,phrase",
    [(10, "low", "expires on"), (-1, "medium", "expired on")],
)
def test_expiry(server, days, severity, phrase):
    configure(
        server["portal"],
        contact=["mailto:security@example.org"],
        expires=date.today() + timedelta(days=days),
    )
    assert get(server["url"] + PATH).status_code == 200
    [finding] = contact_findings(server)
    assert (finding["check_id"], finding["severity"], finding["subject"]) == (
        CHECK,
        severity,
        PATH,
    )
    assert phrase in finding["detail"]


class OtherPage(BrowserView):
    """security.txt of another add-on."""

    __roles__ = None

    def __call__(self):
        self.request.response.setHeader("Content-Type", "text/plain")
        return "Contact: https://other.example/report\nExpires: 2020-01-01T00:00:00Z\n"


@implementer(IPublishTraverse)
class OtherWellKnown(BrowserView):
    """Another add-on's .well-known."""

    def publishTraverse(self, request, name):
        return OtherPage(self.context, request)


@pytest.fixture
def other_addon():
    registry = getGlobalSiteManager()
    required = (IPloneSiteRoot, IDefaultBrowserLayer)
    registry.registerAdapter(OtherWellKnown, required, Interface, ".well-known")
    yield
    registry.unregisterAdapter(OtherWellKnown, required, Interface, ".well-known")


def test_another_addon_serves_it_and_is_only_checked(server, other_addon):
    configure(
        server["portal"],
        contact=["mailto:security@example.org"],
        expires=date.today() + timedelta(days=200),
    )
    response = get(server["url"] + PATH)
    assert response.status_code == 200
    assert response.text.startswith("Contact: https://other.example/report")
    [finding] = contact_findings(server)
    assert (finding["severity"], finding["subject"]) == ("medium", PATH)
    assert "Another add-on serves" in finding["remediation"]


@pytest.mark.parametrize(
    "change,phrase",
    [
        ({"securitytxt_contact": ["http://example.org/report"]}, "is not a contact"),
        ({"securitytxt_contact": ["mailto:security@example.org"]}, "Enter the date"),
        ({"securitytxt_languages": "en; de"}, "language tags"),
    ],
)
def test_control_panel_refuses_what_cannot_be_published(server, change, phrase):
    response = requests.patch(
        server["url"] + "/@controlpanels/securitybp",
        json=change,
        headers={"Accept": "application/json"},
        auth=("siteadmin", PASSWORD),
        timeout=60,
    )
    assert response.status_code == 400
    assert phrase in response.text
    assert get(server["url"] + PATH).status_code == 404
