"""The guard's settings and its proxy rules page in a real headless Chromium."""

from collective.securitybp.settings import clear_cache
import os
import pytest
import shutil
import transaction


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
PASSWORD = "a long test passphrase 42"

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    if os.environ.get("CI"):
        raise RuntimeError("Chromium is missing: `make test` installs it.")
    pytest.skip(
        "Debian's chromium and chromium-driver are not installed",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402
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
        "--window-size=1280,1600",
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
    transaction.commit()
    clear_cache()
    browser.delete_all_cookies()
    return f"http://{functional['host']}:{functional['port']}/{portal.getId()}"


def login(browser, url):
    browser.get(url + "/login")
    browser.find_element(By.NAME, "__ac_name").send_keys("siteadmin")
    browser.find_element(By.NAME, "__ac_password").send_keys(PASSWORD)
    browser.find_element(
        By.CSS_SELECTOR,
        "#login-form button[type=submit], #login-form input[type=submit]",
    ).click()
    WebDriverWait(browser, 30).until(lambda b: b.get_cookie("__ac") is not None)


def click(browser, element):
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def open_guard_settings(browser, url):
    browser.get(url + "/@@securitybp-controlpanel")
    tab = browser.find_element(By.PARTIAL_LINK_TEXT, "Management interface")
    click(browser, tab)
    mode = browser.find_element(By.ID, "form-widgets-zmi_mode")
    WebDriverWait(browser, 10).until(lambda b: mode.is_displayed())
    return Select(mode)


def save(browser):
    click(browser, browser.find_element(By.ID, "form-buttons-save"))


def test_site_administrator_sets_up_the_guard(browser, site):
    login(browser, site)

    # Block mode without a manage host is refused, with the reason.
    open_guard_settings(browser, site).select_by_value("block")
    save(browser)
    assert "Block mode needs at least one manage host" in browser.page_source

    # With a manage host it is saved.
    mode = open_guard_settings(browser, site)
    hosts = browser.find_element(By.ID, "form-widgets-zmi_manage_hosts")
    hosts.clear()
    hosts.send_keys("manage.example.com")
    mode.select_by_value("block")
    save(browser)
    assert "Changes saved" in browser.page_source

    # From the report to the proxy rules, which follow the settings.
    browser.get(site + "/@@security-report")
    click(browser, browser.find_element(By.ID, "securitybp-proxy-rules-link"))
    WebDriverWait(browser, 30).until(
        lambda b: b.find_elements(By.ID, "securitybp-guard-mode")
    )
    assert browser.find_element(By.ID, "securitybp-guard-mode").text == "block"
    assert browser.find_element(By.ID, "securitybp-guard-hosts").text == (
        "manage.example.com"
    )
    manage = browser.find_element(By.ID, "securitybp-rules-manage-nginx").text
    assert "server_name manage.example.com;" in manage
    download = browser.find_element(By.ID, "securitybp-proxy-rules-download")
    assert download.get_attribute("href") == (
        site + "/@@securitybp-proxy-rules?format=text"
    )
