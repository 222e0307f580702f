"""The ops page (``/ops``) in a real headless browser, against the real processes.

Debian's ``chromium`` through its ``chromedriver`` (installed by ``ensure_chromium`` in
scripts/lib.sh, which scripts/test calls), driven by selenium with both paths given, so Selenium
Manager downloads nothing. The stack is the API (gunicorn), the engine, a worker and the
sandbox; the campaign is paced (one message every 0.3 s, 150 contacts: 45 s), so it runs long
enough to be watched on a loaded machine.

The browser logs in through the page's form with the keyboard, reads the running campaign's
sent count twice (the later read larger), pauses it with the keyboard and sees PAUSADA, resumes
it, and checks the phone-sized viewport (390 x 844) has no sideways scroll. Screenshots go to
``var/test-output/`` (docs/OPS.md).
"""

from __future__ import annotations

import datetime
import time
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.actors.campaigns import make_list, sandbox_count, setup_company, start_campaign
from tests.actors.conftest import make_stack
from tests.conftest import PASSWORD
from tests.processes import dies_with_pytest, wait_for
from zapx.alerts import Condition, raise_alert
from zapx.db import Campaign, CampaignShipping, db

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
OUTPUT = Path(__file__).resolve().parents[2] / "var" / "test-output"
#: Longest wait for the page to show a change (s): the page polls every 3 s.
SEEN_S = 15


@pytest.fixture(scope="module")
def ops_stack(process_env, tmp_path_factory, broker):
    started = make_stack(
        process_env,
        tmp_path_factory.mktemp("ops"),
        names=("sandbox", "engine", "worker", "api"),
        API_WORKERS="2",
    )
    yield started
    started.stop()


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # the tests may run as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1400",
        "--lang=en-US",
    ):
        options.add_argument(arg)
    service = Service(CHROMEDRIVER, popen_kw={"preexec_fn": dies_with_pytest()})
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _row(driver, campaign_id: int):
    return driver.find_element(By.CSS_SELECTOR, f'tr[data-key="campaign-{campaign_id}"]')


def _cell(driver, campaign_id: int, field: str) -> str:
    return _row(driver, campaign_id).find_element(By.CSS_SELECTOR, f'[data-field="{field}"]').text


def _until(driver, what: str, predicate, timeout_s: float = SEEN_S):
    return WebDriverWait(driver, timeout_s, poll_frequency=0.2).until(
        lambda d: predicate(d), message=what
    )


def _retried(driver, what: str, read):
    """``read(driver)``, again while the page's redraw (every 3 s, or after a command) replaces
    the elements it holds between finding one and using it: a read or a click on the old
    element raises, and the click then never happened."""

    def attempt(d):
        try:
            return [read(d)]
        except (StaleElementReferenceException, NoSuchElementException):
            return None

    return _until(driver, what, attempt)[0]


def _text(driver, selector: str) -> str:
    return _retried(driver, selector, lambda d: d.find_element(By.CSS_SELECTOR, selector).text)


def _button(driver, campaign_id: int, action: str, use):
    """``use(button)`` on the campaign row's ``action`` button, found again after a redraw."""
    selector = f'button[data-action="{action}"]'
    return _retried(
        driver,
        f"the {action} button",
        lambda d: use(_row(d, campaign_id).find_element(By.CSS_SELECTOR, selector)),
    )


def _sent(driver, campaign_id: int) -> int | None:
    try:
        return int(_cell(driver, campaign_id, "sent-count"))
    except Exception:  # noqa: BLE001 - not drawn yet, or redrawn between the two reads
        return None


def _status(driver, campaign_id: int) -> str | None:
    try:
        return _cell(driver, campaign_id, "status")
    except Exception:  # noqa: BLE001
        return None


def _finished_with_errors(company_id: int, whatsapp_id: int) -> int:
    """An earlier campaign of the company, finished a minute ago with 3 of its 10 sends refused
    (Cloud error 131026), and the error-rate alert it raised."""
    now = datetime.datetime.now(datetime.UTC)
    with db.connection_context(), db.atomic():
        old = Campaign.create(
            company=company_id,
            name="Old list",
            status="FINALIZADA",
            whatsapp=whatsapp_id,
            started_at=now - datetime.timedelta(minutes=3),
            completed_at=now - datetime.timedelta(minutes=1),
            total=10,
        )
        CampaignShipping.insert_many(
            [
                {
                    "campaign": old.id,
                    "company_id": company_id,
                    "contact_id": i,
                    "number": f"5511988{i:06d}",
                    "status": "failed" if i < 3 else "sent",
                    "error": "400 131026: Message undeliverable" if i < 3 else None,
                }
                for i in range(10)
            ]
        ).execute()
        raise_alert(
            Condition(
                "campaign_error_rate",
                f"campaign:{old.id}",
                company_id,
                "warning",
                "campaign Old list: 3 of 10 sends failed",
                value=0.3,
                threshold=0.2,
            )
        )
    return old.id


def _active_id(driver) -> str:
    return driver.execute_script("return document.activeElement.id")


def test_watch_a_campaign_pause_it_and_read_it_on_a_phone(
    client, account, ops_stack, browser, tmp_path
):
    setup = setup_company(client, account, ops_stack.sandbox, "acme", messageInterval=0.3, jitter=0)
    acct = setup["account"]
    _finished_with_errors(acct.company_id, setup["whatsapp_id"])
    campaign_id = start_campaign(
        client, acct, make_list(acct.company_id, 150), setup["whatsapp_id"]
    )

    # Log in with the keyboard only: type, Tab to the next field, Enter submits.
    browser.get(ops_stack.api + "/ops")
    _until(browser, "the login form", lambda d: _active_id(d) == "email")
    email = browser.find_element(By.ID, "email")
    assert browser.find_element(By.CSS_SELECTOR, 'label[for="email"]').text == "E-mail"
    assert browser.find_element(By.CSS_SELECTOR, 'label[for="password"]').text == "Password"
    email.send_keys(acct.email, Keys.TAB)
    assert _active_id(browser) == "password"
    browser.switch_to.active_element.send_keys("not-the-password", Keys.ENTER)
    refused = _until(browser, "the refusal", lambda d: d.find_element(By.ID, "login-error").text)
    assert "password" in refused.lower() and _active_id(browser) == "password"
    password = browser.find_element(By.ID, "password")
    password.clear()
    password.send_keys(PASSWORD, Keys.ENTER)

    first = _until(browser, "the campaign's sent count", lambda d: _sent(d, campaign_id))
    assert _status(browser, campaign_id) == "EM_ANDAMENTO"
    later = _until(
        browser,
        f"a sent count above {first}",
        lambda d: (n := _sent(d, campaign_id)) is not None and n > first and n,
    )
    assert later > first
    summary = browser.find_element(By.ID, "summary")
    assert summary.get_attribute("aria-live") == "polite" and "1 running" in _text(
        browser, "#summary"
    )
    connection = _text(browser, f'tr[data-key="whatsapp-{setup["whatsapp_id"]}"]')
    assert "CONNECTED" in connection and "closed" in connection
    assert "delivery" in _text(browser, "#queues")
    errors = _text(browser, '#errors tr[data-key="error-131026"]')
    assert "131026" in errors and "3" in errors and "Message undeliverable" in errors
    alert = _text(browser, "#alerts")
    assert "campaign_error_rate" in alert and "3 of 10 sends failed" in alert
    # A token the API refuses: the page gets a new one with the session cookie and goes on.
    browser.execute_script("sessionStorage.setItem('zapx.ops.token', 'not-a-token')")
    _until(
        browser,
        "a new token after the refusal",
        lambda d: (
            d.execute_script("return sessionStorage.getItem('zapx.ops.token')").count(".") == 2
        ),
    )
    # One read can land between a redraw's removal and insertion of the row: wait for it.
    _until(browser, "the board after the new token", lambda d: _sent(d, campaign_id) is not None)
    assert not browser.find_element(By.ID, "board").get_attribute("hidden")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(OUTPUT / "ops-running.png"))

    # Pause with the keyboard: focus the row's button, press Space.
    # (The focus then stays on it across redraws: the page moves it to the new button.)
    label = _button(
        browser,
        campaign_id,
        "pause",
        lambda b: browser.execute_script(
            "arguments[0].focus(); return arguments[0].getAttribute('aria-label')", b
        ),
    )
    assert label == "Pause campaign Black Friday"
    ring = browser.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert ring == "solid"  # the focus is visible
    _retried(
        browser, "Space on the focus", lambda d: d.switch_to.active_element.send_keys(Keys.SPACE)
    )
    _until(browser, "PAUSADA on the page", lambda d: _status(d, campaign_id) == "PAUSADA")
    with db.connection_context():
        assert Campaign.get_by_id(campaign_id).status == "PAUSADA"
    assert "paused by a user" in _text(browser, f'tr[data-key="campaign-{campaign_id}"]')
    # The focus stays on the row's button across the redraws: it now resumes.
    focused = _retried(
        browser, "the focus", lambda d: d.switch_to.active_element.get_attribute("data-action")
    )
    assert focused == "resume"
    assert "Paused Black Friday." in _text(browser, "#notice")
    stopped = sandbox_count(ops_stack.sandbox)
    time.sleep(1.0)
    assert sandbox_count(ops_stack.sandbox) <= stopped + 1  # at most the message on the wire
    browser.save_screenshot(str(OUTPUT / "ops-paused.png"))

    # A phone: 390 x 844 CSS pixels, no sideways scroll, the controls still there.
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True},
    )
    _until(browser, "the phone layout", lambda d: d.execute_script("return innerWidth") == 390)
    widths = browser.execute_script("return [document.documentElement.scrollWidth, innerWidth]")
    assert widths[0] <= widths[1], f"scrollWidth {widths[0]} > innerWidth {widths[1]}"
    shown, width = _button(
        browser, campaign_id, "resume", lambda b: (b.is_displayed(), b.size["width"])
    )
    assert shown and width >= 44
    browser.save_screenshot(str(OUTPUT / "ops-phone.png"))

    # Resume it by clicking, on the phone.
    _button(browser, campaign_id, "resume", lambda b: b.click())
    _until(browser, "EM_ANDAMENTO again", lambda d: _status(d, campaign_id) == "EM_ANDAMENTO")
    wait_for(lambda: sandbox_count(ops_stack.sandbox) > stopped + 1, timeout_s=10, what="sends")
    for name in ("ops-running.png", "ops-paused.png", "ops-phone.png"):
        assert (OUTPUT / name).stat().st_size > 10_000
