"""The guard's settings and its proxy rules page in a real headless Chromium."""

from chromium import click
from chromium import login
from chromium import new_driver
from chromium import PASSWORD
from collective.securitybp.settings import clear_cache
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select
from selenium.webdriver.support.ui import WebDriverWait
import pytest
import transaction


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
    transaction.commit()
    clear_cache()
    browser.delete_all_cookies()
    return f"http://{functional['host']}:{functional['port']}/{portal.getId()}"


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
    login(browser, site, "siteadmin")

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
