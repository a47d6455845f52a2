"""A day of site administration in Chromium on the public host, with the
management guard in block mode: everything Plone offers works, the
management interface is not there."""

from chromium import click
from chromium import login
from chromium import new_driver
from collective.securitybp.settings import clear_cache
from collective.securitybp.testing import GUARD_PASSWORD
from collective.securitybp.testing import GUARD_PUBLIC
from collective.securitybp.zmi import evidence
from plone import api
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait
from zope.component.hooks import setSite
import pytest
import transaction


@pytest.fixture(scope="module")
def browser():
    # The public host name resolves to this machine, as DNS would send it to
    # the server.
    driver = new_driver(flags=(f"--host-resolver-rules=MAP {GUARD_PUBLIC} 127.0.0.1",))
    yield driver
    driver.quit()


@pytest.fixture
def public_site(guard_functional, browser):
    """The site ``plone`` served for the public host by Zope's virtual host
    monster (``www.example.com/plone``): the guard sees that host."""
    app, portal = guard_functional["app"], guard_functional["portal"]
    setSite(portal)
    app.virtual_hosting.set_map(f"{GUARD_PUBLIC}/plone")
    # Plone writes the footer portlet assignments of this bare test site the
    # first time it renders them, which plone.protect would then question
    # on a GET page ("Confirming User Action"): render them once here.
    with api.env.adopt_roles(["Manager"]):
        portal.restrictedTraverse("@@usergroup-userprefs")()
    transaction.commit()
    clear_cache()
    evidence.clear()
    browser.delete_all_cookies()
    yield f"http://{GUARD_PUBLIC}:{guard_functional['port']}"
    evidence.clear()


def wait_for(browser, css):
    return WebDriverWait(browser, 30).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, css))
    )


def heading(browser):
    return wait_for(browser, "h1").text


def test_site_administration_works_in_block_mode(browser, public_site):
    login(browser, public_site, "manager", GUARD_PASSWORD)

    # Add a page through the add form.
    browser.get(public_site + "/++add++Document")
    wait_for(browser, "#form-widgets-IDublinCore-title").send_keys("Guarded page")
    click(browser, browser.find_element(By.ID, "form-buttons-save"))
    WebDriverWait(browser, 30).until(EC.url_contains("/guarded-page"))
    assert heading(browser) == "Guarded page"

    # Folder contents lists it; delete it from there.
    browser.get(public_site + "/folder_contents")
    row = wait_for(browser, 'tr[data-id="guarded-page"]')
    click(browser, row.find_element(By.CSS_SELECTOR, "input[type=checkbox]"))
    click(browser, wait_for(browser, "#btn-delete"))
    # The popover asks "Are you certain ...?": Yes.
    confirm = WebDriverWait(browser, 30).until(
        lambda b: [
            e
            for e in b.find_elements(By.CSS_SELECTOR, "button.applyBtn")
            if e.is_displayed()
        ]
    )[0]
    click(browser, confirm)
    WebDriverWait(browser, 30).until(
        lambda b: not b.find_elements(By.CSS_SELECTOR, 'tr[data-id="guarded-page"]')
    )

    # Site Setup, Users and Groups, the security report.
    browser.get(public_site + "/@@overview-controlpanel")
    assert "Site Setup" in heading(browser)
    browser.get(public_site + "/@@usergroup-userprefs")
    assert "Users" in heading(browser)
    click(browser, wait_for(browser, "button[name='form.button.FindAll']"))
    WebDriverWait(browser, 30).until(lambda b: "manager" in b.page_source)
    assert "Confirming" not in heading(browser)
    browser.get(public_site + "/@@security-report")
    wait_for(browser, "#securitybp-score")

    # Nothing of it was management; the ZMI itself is not there.
    assert evidence.recent() == []
    browser.get(public_site + "/manage_main")
    assert "manage_main" not in browser.title
    assert browser.find_elements(By.CSS_SELECTOR, "#portal-column-content")
    assert [e.blocked for e in evidence.recent()] == [True]
