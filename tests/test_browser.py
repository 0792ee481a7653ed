"""End to end, in a real browser: organisation staff at work in the admin, and the phone list
as it looks on a 1366 px laptop.

Runs headless Chromium (Debian's package) through Playwright with the system browser.
Without a browser it is skipped with the reason, except in CI, where .ci/run installs one.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from typing import Any

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
    def opened(viewport: dict[str, int] | None = None, locale: str = "en-GB"):
        """`locale`: the browser's language, which it asks for in Accept-Language."""
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport=viewport, locale=locale)
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
    page.click("details:has(#mac-file) summary")  # the file as the phone gets it
    config = page.inner_text("#mac-file")
    page.goto(f"{url}/admin/devices/device/")
    return page.inner_text("#result_list"), config


def test_organisation_staff_add_move_and_remove_line_keys(live_server, open_page, tenant_a):
    from devices.models import KeyType, LineKey

    create_organisation_staff(tenant_a.organisation, "alice", "Alice-Passw0rd-123")
    device = tenant_a.device  # a T54W
    LineKey.objects.create(device=device, position=3, type=KeyType.BLF, value="1003")
    LineKey.objects.create(device=device, position=4, type=KeyType.SPEED_DIAL, value="112")
    LineKey.objects.create(device=device, position=5, type=KeyType.DTMF, value="#1")
    url = live_server.url
    with open_page() as page:
        page.goto(f"{url}/admin/login/")
        page.fill("#id_username", "alice")
        page.fill("#id_password", "Alice-Passw0rd-123")
        page.click("input[type=submit]")
        page.goto(f"{url}/admin/devices/device/{device.pk}/change/")
        limits = page.inner_text(".field-model_limits")
        page.click("#line_keys-0 button[title='Move this key down']")  # BLF 3 <-> speed dial 4
        page.check("#id_line_keys-2-DELETE")  # the DTMF key
        page.click("#line_keys-group .add-row a")
        page.fill("#id_line_keys-3-position", "10")
        page.select_option("#id_line_keys-3-type", str(KeyType.INTERCOM))
        page.fill("#id_line_keys-3-value", "1010")
        page.fill("#id_line_keys-3-label", "Warehouse")
        page.click("input[name=_continue]")
        saved = page.inner_text("#content") if page.is_visible(".errornote") else ""
        page.goto(f"{url}/admin/devices/device/{device.pk}/config/")
        preview = page.inner_text("#mac-file-layers")

    assert saved == ""
    assert "A T54W has line keys 1 to 27 over 3 pages" in limits
    keys = {key.position: (key.type, key.value) for key in LineKey.objects.filter(device=device)}
    assert keys == {3: (KeyType.SPEED_DIAL, "112"), 4: (KeyType.BLF, "1003"), 10: (14, "1010")}
    assert "linekey.10.label = Warehouse" in preview
    assert "linekey.5.type = 0" in preview


# --- the phone list at 1366 px (issue 18) -----------------------------------------------------

LAPTOP = {"width": 1366, "height": 768}
ROW_HEIGHT = 40  # px: one line of text and the row's padding


def _fill_a_page_with_awkward_phones() -> None:
    """The demo data and a page of phones with the widest cells a phone list meets: long
    labels, IPv6 addresses, long firmware, another model than configured, failed RPS pushes."""
    from datetime import timedelta
    from io import StringIO

    from django.core.management import call_command
    from django.utils import timezone

    from devices.models import Device
    from organisations.models import Organisation
    from rps.models import RpsDeviceState

    Status = RpsDeviceState.Status
    from tests.factories import make_device, user_agent

    # The widest badges: "Registered", "Other owner", "Failed".
    RPS_STATES = [Status.REGISTERED, Status.OWNED_BY_OTHER, Status.FAILED]
    call_command("loaddemo", stdout=StringIO())
    demo = Organisation.objects.get(slug="demo")
    now = timezone.now()
    for n in range(110):
        device = make_device(
            demo,
            f"805ec0f{n:05x}",
            model="T58W",
            label=f"Meeting room {n} on the third floor, beside the coffee machine, east wing",
            last_seen_at=now - timedelta(minutes=7 * n) if n % 5 else None,
            last_seen_ip=f"2001:db8:85a3:1234:5678:8a2e:370:{n:x}",
            last_firmware="150.86.254.1234567",
            last_user_agent=user_agent(f"805ec0f{n:05x}", "T46U", "150.86.254.1234567"),
        )
        RpsDeviceState.objects.create(
            mac=device.mac,
            device=device,
            organisation=demo,
            status=RPS_STATES[n % len(RPS_STATES)],
            last_error="RPS refused the phone: the MAC is registered to another server " * 2,
        )
    assert Device.objects.count() > 100  # more than a page


def _measure_phone_list(page, url: str, username: str, password: str) -> dict[str, Any]:
    page.goto(f"{url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.goto(f"{url}/admin/devices/device/")
    return page.evaluate(
        """() => ({
            viewport: document.documentElement.clientWidth,
            table: document.querySelector('#result_list').getBoundingClientRect().right,
            tallest: Math.max(...[...document.querySelectorAll('#result_list tbody tr')]
                .map(row => row.getBoundingClientRect().height)),
            rows: document.querySelectorAll('#result_list tbody tr').length,
            organisation: document.querySelectorAll('th.column-organisation_column').length,
            language: document.documentElement.lang,
            headers: [...document.querySelectorAll('#result_list thead th')]
                .map(th => th.textContent.trim()),
        })"""
    )


@pytest.mark.parametrize(
    ("locale", "language", "last_seen"),
    [("en-GB", "en-gb", "Last seen"), ("nl-NL", "nl", "Laatst gezien")],
    ids=["english", "dutch"],  # Dutch words are longer: the table must fit in both
)
@pytest.mark.parametrize(
    ("username", "password", "organisation_column"),
    [("admin", "admin", 1), ("demo-admin", "demo-admin-password", 0)],
    ids=["provider", "organisation-staff"],
)
def test_the_phone_list_fits_a_1366_px_laptop_one_line_a_row(
    live_server, open_page, username, password, organisation_column, locale, language, last_seen
):
    _fill_a_page_with_awkward_phones()
    with open_page(LAPTOP, locale=locale) as page:
        shown = _measure_phone_list(page, live_server.url, username, password)

    assert shown["language"] == language
    assert last_seen in shown["headers"], shown["headers"]
    assert shown["rows"] == 100  # a full page
    assert shown["organisation"] == organisation_column
    assert shown["table"] <= shown["viewport"], shown
    assert shown["tallest"] <= ROW_HEIGHT, shown
