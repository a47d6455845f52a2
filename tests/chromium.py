"""Shared helpers for the tests that drive Debian's headless Chromium.

Import this module before selenium: on a machine without Chromium it skips
the importing test module, except under CI (``CI`` set), where a missing
browser is an error, because ``make test`` installs it.
"""

import os
import pytest
import shutil


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
PASSWORD = "a long test passphrase 42"
FLAGS = (
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
)

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
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def new_driver(console_log=False, init_script=None, flags=()):
    """Start headless Chromium with this machine's flags.

    :param console_log: keep the browser console for ``get_log("browser")``.
    :param init_script: JavaScript to run in every new document first.
    :param flags: more command line flags.
    """
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, *flags):
        options.add_argument(flag)
    if console_log:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(
        service=Service(executable_path=CHROMEDRIVER), options=options
    )
    driver.set_page_load_timeout(60)
    if init_script:
        driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument", {"source": init_script}
        )
    return driver


def login(browser, url, user, password=PASSWORD):
    """Log in through Plone's login form, as a person does."""
    browser.get(url + "/login")
    browser.find_element(By.NAME, "__ac_name").send_keys(user)
    browser.find_element(By.NAME, "__ac_password").send_keys(password)
    browser.find_element(
        By.CSS_SELECTOR,
        "#login-form button[type=submit], #login-form input[type=submit]",
    ).click()
    WebDriverWait(browser, 30).until(lambda b: b.get_cookie("__ac") is not None)


def click(browser, element):
    """Scroll the element to the middle of the window, then click it."""
    # Bootstrap scrolls smoothly: scroll at once, or the click lands too early.
    browser.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});",
        element,
    )
    element.click()
