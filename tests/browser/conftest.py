"""The chat widget in a real headless Chromium (Debian's chromium + chromedriver: `make browser`),
against the same real service the integration tests use."""
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from tests.integration.conftest import server, trained_model  # noqa: F401  (the session service)

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture
def browser() -> Iterator["object"]:
    """A fresh Chromium per test: its own profile, so its own localStorage and conversation."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Chromium is not installed: run `make browser`")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="cskh-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-dev-shm-usage", "--no-first-run", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1280,900", "--lang=vi-VN"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": "vi-VN,vi"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def screenshots() -> "Path | None":
    """Set CSKH_SCREENSHOTS=/some/dir to keep screenshots of the open widget."""
    folder = os.environ.get("CSKH_SCREENSHOTS")
    if not folder:
        return None
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder)
