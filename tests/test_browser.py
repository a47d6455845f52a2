"""The report in a real headless Chromium, clicked as a person would."""

from pathlib import Path
import os
import pytest
import shutil
import transaction


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
PASSWORD = "a long test passphrase 42"
SCREENSHOTS = Path(__file__).parent.parent / "var" / "screenshots"

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    if os.environ.get("CI"):
        raise RuntimeError(
            "Chromium is missing: `make test` installs Debian's chromium and "
            "chromium-driver; run it as root or install them."
        )
    pytest.skip(
        "Debian's chromium and chromium-driver are not installed "
        "(`make test` installs them)",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(
        service=Service(executable_path=CHROMEDRIVER), options=options
    )
    driver.set_page_load_timeout(60)
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


def login(browser, url, user):
    browser.get(url + "/login")
    browser.find_element(By.NAME, "__ac_name").send_keys(user)
    browser.find_element(By.NAME, "__ac_password").send_keys(PASSWORD)
    browser.find_element(
        By.CSS_SELECTOR,
        "#login-form button[type=submit], #login-form input[type=submit]",
    ).click()
    WebDriverWait(browser, 30).until(lambda b: b.get_cookie("__ac") is not None)


def click(browser, element):
    """Scroll the element to the middle of the window, then click it."""
    # Bootstrap scrolls smoothly: scroll at once, or the click lands too early.
    browser.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element
    )
    element.click()


def medium_count(browser):
    badge = browser.find_element(
        By.CSS_SELECTOR, '#securitybp-summary [data-severity="medium"]'
    )
    return int(badge.text.split(":")[1])


def screenshot(browser, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def test_site_administrator_acknowledges_a_finding(browser, site):
    login(browser, site, "siteadmin")
    browser.get(site + "/@@security-report")
    score = browser.find_element(By.ID, "securitybp-score").text
    mediums = medium_count(browser)
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
    assert medium_count(browser) == mediums - 1
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
    assert medium_count(browser) == mediums


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
