"""The report in a real headless Chromium, clicked as a person would."""

from chromium import click
from chromium import login
from chromium import new_driver
from chromium import PASSWORD
from pathlib import Path
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait
import pytest
import transaction


SCREENSHOTS = Path(__file__).parent.parent / "var" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    driver = new_driver()
    yield driver
    driver.quit()


@pytest.fixture
def site(functional, browser):
    portal = functional["portal"]
    portal.acl_users.userFolderAddUser(
        "siteadmin", PASSWORD, ["Site Administrator"], []
    )
    portal.acl_users.userFolderAddUser("editor", PASSWORD, ["Editor"], [])
    transaction.commit()
    browser.delete_all_cookies()
    return f"http://{functional['host']}:{functional['port']}/{portal.getId()}"


def low_count(browser):
    badge = browser.find_element(
        By.CSS_SELECTOR, '#securitybp-summary [data-severity="low"]'
    )
    return int(badge.text.split(":")[1])


def screenshot(browser, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def test_site_administrator_acknowledges_a_finding(browser, site):
    login(browser, site, "siteadmin")
    browser.get(site + "/@@security-report")
    score = browser.find_element(By.ID, "securitybp-score").text
    lows = low_count(browser)
    finding = browser.find_element(
        By.CSS_SELECTOR, 'article[data-check-id="SBP-PRIV-002"]'
    )
    click(browser, finding.find_element(By.TAG_NAME, "summary"))
    finding.find_element(By.NAME, "reason").send_keys("Kept until the migration")
    click(
        browser,
        finding.find_element(By.CSS_SELECTOR, "form.securitybp-acknowledge button"),
    )
    WebDriverWait(browser, 30).until(
        EC.presence_of_element_located((By.ID, "securitybp-acknowledged"))
    )
    screenshot(browser, "acknowledged")
    assert low_count(browser) == lows - 1
    raised = browser.find_element(By.ID, "securitybp-score").text
    assert float(raised.split("/")[0]) > float(score.split("/")[0])
    section = browser.find_element(By.ID, "securitybp-acknowledged")
    assert "Kept until the migration" in section.text
    assert "siteadmin" in section.text
    status = browser.find_element(By.CSS_SELECTOR, ".portalMessage, .alert-info")
    assert "Acknowledged SBP-PRIV-002" in status.text

    click(
        browser,
        section.find_element(By.CSS_SELECTOR, "form.securitybp-withdraw button"),
    )
    WebDriverWait(browser, 30).until(
        EC.presence_of_element_located(
            (By.CSS_SELECTOR, '#area-privileges article[data-check-id="SBP-PRIV-002"]')
        )
    )
    assert browser.find_elements(By.ID, "securitybp-acknowledged") == []
    assert browser.find_element(By.ID, "securitybp-score").text == score
    assert low_count(browser) == lows


def test_acknowledging_without_reason_is_refused(browser, site):
    login(browser, site, "siteadmin")
    browser.get(site + "/@@security-report")
    finding = browser.find_element(
        By.CSS_SELECTOR, 'article[data-check-id="SBP-PRIV-002"]'
    )
    click(browser, finding.find_element(By.TAG_NAME, "summary"))
    # The browser itself refuses an empty required field: nothing is sent.
    click(
        browser,
        finding.find_element(By.CSS_SELECTOR, "form.securitybp-acknowledge button"),
    )
    assert browser.find_element(By.NAME, "reason").get_attribute("validationMessage")
    assert browser.find_elements(By.ID, "securitybp-acknowledged") == []


def test_editor_sees_no_report(browser, site):
    login(browser, site, "editor")
    browser.get(site + "/@@security-report")
    assert "SBP-" not in browser.page_source
    assert browser.find_elements(By.ID, "securitybp-summary") == []


def test_control_panel_in_site_setup_links_to_report(browser, site):
    login(browser, site, "siteadmin")
    browser.get(site + "/@@overview-controlpanel")
    links = [
        link
        for link in browser.find_elements(
            By.PARTIAL_LINK_TEXT, "Security best practices"
        )
        if link.is_displayed()
    ]
    assert links, "no visible 'Security best practices' entry in Site Setup"
    click(browser, links[-1])
    WebDriverWait(browser, 30).until(EC.url_contains("@@securitybp-controlpanel"))
    click(browser, browser.find_element(By.ID, "securitybp-report-link"))
    WebDriverWait(browser, 30).until(EC.url_contains("@@security-report"))
    screenshot(browser, "report")
    assert browser.find_element(By.ID, "securitybp-grade").text in "ABCDF"
