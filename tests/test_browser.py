"""End to end, in a real browser: organisation staff at work in the admin.

Runs headless Chromium (Debian's package) through Playwright with the system browser.
Without a browser it is skipped with the reason, except in CI, where .ci/run installs one.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager

import pytest

from organisations.staff import create_organisation_staff

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _browser_or_skip():
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "Playwright is not installed (make test installs it)"
    if reason is None and not os.path.exists(CHROMIUM):
        reason = f"no Chromium at {CHROMIUM}: apt-get install chromium, or set CHROMIUM_PATH"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser test: {reason}")
        pytest.skip(reason)
    return sync_playwright


@pytest.fixture
def open_page():
    """Opens a page in headless Chromium. Use it after the test's own database work: inside
    Playwright's event loop the ORM would open a connection of its own that outlives the test
    and keeps the test database from being dropped."""
    sync_playwright = _browser_or_skip()

    @contextmanager
    def opened():
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page()
            page.set_default_timeout(15_000)
            try:
                yield page
            finally:
                browser.close()

    return opened


def test_organisation_staff_add_a_phone_and_see_its_config(
    live_server, open_page, tenant_a, tenant_b
):
    create_organisation_staff(tenant_a.organisation, "alice", "Alice-Passw0rd-123")
    with open_page() as page:
        listing, config = _add_phone_and_preview(page, live_server.url)

    assert "account.1.user_name = 4001" in config
    assert "account.1.display_name = Meeting room" in config
    assert "meeting-room-secret" not in config  # masked until revealed
    assert "80:5e:c0:12:34:56" in listing
    assert "80:5e:c0:aa:aa:01" in listing
    assert "00:15:65:bb:bb:01" not in listing  # organisation B's phone does not exist here


def _add_phone_and_preview(page, url: str) -> tuple[str, str]:
    """Log in as organisation staff, add a phone with an account, open its preview; return
    the phone list's text and the MAC file as the preview shows it."""
    page.goto(f"{url}/admin/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "Alice-Passw0rd-123")
    page.click("input[type=submit]")
    page.goto(f"{url}/admin/devices/device/add/")
    page.fill("#id_mac", "80:5E:C0:12:34:56")
    page.select_option("#id_model", "T54W")
    page.fill("#id_label", "Meeting room")
    page.click("#sip_accounts-group .add-row a")
    page.fill("#id_sip_accounts-0-index", "1")
    page.fill("#id_sip_accounts-0-user_name", "4001")
    page.fill("#id_sip_accounts-0-password", "meeting-room-secret")
    page.fill("#id_sip_accounts-0-display_name", "Meeting room")
    page.click("input[name=_continue]")
    page.click("text=Preview what the phone gets")
    config = page.inner_text("#mac-file")
    page.goto(f"{url}/admin/devices/device/")
    return page.inner_text("#result_list"), config
