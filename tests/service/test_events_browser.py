"""A click on a result in the web page (a real chromium, as in test_browser.py) reaches the event
log: the service runs with ``--events DIR --public-clicks`` and the page has no token."""

from __future__ import annotations

import time

import pytest

from shopmatch.events import read_events
from shopmatch.service.events_log import EventsLog
from shopmatch.service.process import ServiceProcess as Server
from tests.service.test_browser import offline_page, search


@pytest.fixture
def shop(service_index, tmp_path):
    events = tmp_path / "events"
    server = Server(service_index, "--events", str(events), "--public-clicks", token="t").start()
    try:
        with offline_page(server.url) as page:
            yield page, events
    finally:
        server.stop()


def _clicks(events) -> tuple[list, list]:
    impressions, clicks = [], []
    for path in EventsLog(events).files() if events.exists() else []:
        log = read_events(path)
        impressions += log.impressions
        clicks += log.interactions
    return impressions, clicks


def test_a_click_on_a_result_reaches_the_event_log(shop):
    page, events = shop
    search(page, "usb cable")
    page.click("#next")  # page 2: positions go on from 11
    page.wait_for_function("() => document.getElementById('page-label').textContent === 'Page 2'")
    second = page.locator("#results .result").nth(1)
    product_id = second.get_attribute("data-id")
    with page.expect_response(lambda r: r.url.endswith("/events") and r.request.method == "POST") as posted:
        second.locator(".title").click()
    assert posted.value.ok, (posted.value.status, posted.value.text())  # acknowledged: durable in the log
    deadline = time.monotonic() + 15
    impressions, clicks = _clicks(events)
    while not clicks and time.monotonic() < deadline:
        time.sleep(0.1)
        impressions, clicks = _clicks(events)
    assert len(clicks) == 1, clicks
    (clicked,) = clicks
    shown = impressions[-1]  # the page-2 search the click came from
    assert (clicked.type, clicked.product_id, clicked.position) == ("click", product_id, 12)
    assert clicked.search_id == shown.search_id and shown.position_of(product_id) == 12
    assert clicked.event_id and len(impressions) == 2

    page.locator("#results .why").first.click()  # the explanation button is not a click on the product
    page.wait_for_selector("#explain-content table.places")
    time.sleep(0.5)
    assert len(_clicks(events)[1]) == 1
