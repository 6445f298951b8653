"""The web page in a real browser: Playwright drives Debian's chromium (headless) against a server
on loopback. Search, apply a facet, open an explanation, search in Chinese, check that a
product title holding markup renders as text and that an image that cannot load gives way to a
placeholder. Screenshots go to test-artifacts/.

CI installs chromium (.ci/run); elsewhere the test is skipped when no chromium is installed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import httpx
import pytest

from shopmatch.service.process import ServiceProcess as Server
from tests.service.conftest import HOSTILE_TITLE

if TYPE_CHECKING:
    from playwright.sync_api import Page

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("no chromium installed (apt-get install chromium; CI installs it)", allow_module_level=True)


@contextmanager
def offline_page(url: str) -> Iterator[Page]:
    """A headless chromium page on ``url`` that may fetch nothing else; page errors (and Content
    Security Policy violations) fail the test when the page is closed."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "CI must install Debian's chromium (see .ci/run)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(url) else route.abort())
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on(
            "console", lambda m: m.type == "error" and "Content Security Policy" in m.text and errors.append(m.text)
        )
        page.goto(url + "/")
        yield page
        assert not errors, errors
        browser.close()


@pytest.fixture
def page(service_index):
    server = Server(service_index, token="t").start()
    broken = {"id": "img-broken", "title": "Qwxyz lantern", "image": server.url + "/static/no-such-image.png"}
    added = httpx.post(server.url + "/products", json={"products": [broken]}, headers={"Authorization": "Bearer t"})
    assert added.status_code == 200, added.text
    try:
        with offline_page(server.url) as page:
            yield page
    finally:
        server.stop()


def search(page, query: str) -> None:
    page.fill("#q", query)
    page.press("#q", "Enter")
    page.wait_for_function("q => document.getElementById('summary').textContent.includes(q)", arg=query)


def test_search_facet_explanation_chinese_and_markup(page):
    ARTIFACTS.mkdir(exist_ok=True)
    search(page, "usb cable")
    results = page.locator("#results .result")
    assert results.count() == 10
    assert (
        "usb" in results.first.locator(".title").inner_text().lower() or "cable" in page.inner_text("#results").lower()
    )

    # the suggested categories (category intent): one click filters the results to one of them
    suggested = page.locator("#facets fieldset.facet:has(legend:text-is('Suggested category')) button")
    assert suggested.count() >= 1
    suggested.first.click()
    page.wait_for_selector("#facets p.crumbs")
    assert "category=" in page.url
    page.click("#facets button.clear")
    page.wait_for_function("() => !document.querySelector('#facets p.crumbs')")

    # a brand facet: every result then has that brand, and the box stays checked
    brand = results.first.locator(".brand").inner_text()  # the top result's brand
    page.locator(f'#facets input[data-facet=brand][data-value="{brand}"]').check()
    page.wait_for_function(
        "b => [...document.querySelectorAll('#results .brand')].every(e => e.textContent === b)", arg=brand
    )
    assert page.locator("#facets input[data-facet=brand]:checked").get_attribute("data-value") == brand
    assert f"brand={brand}" in page.url  # the filter is in the address (back button, sharing)
    page.screenshot(path=str(ARTIFACTS / "service-page.png"), full_page=True)

    # the explanation panel of the first result
    page.locator("#results .why").first.click()
    page.wait_for_selector("#explain-content table.places")
    assert page.locator("#explain-panel").is_visible()
    assert page.locator("#explain-content table.places tbody tr").count() >= 2  # lexical, dense
    assert page.locator("#explain-content mark").count() >= 1  # highlighted query terms
    page.screenshot(path=str(ARTIFACTS / "service-explanation.png"))
    page.click("#explain-close")
    assert not page.locator("#explain-panel").is_visible()

    # a misspelled query: "Showing results for … Search instead for …", whose link searches as typed
    page.fill("#q", "kitchn skillet")
    page.press("#q", "Enter")
    page.wait_for_selector("#correction:not([hidden])")
    assert page.inner_text("#correction") == "Showing results for kitchen skillet. Search instead for kitchn skillet."
    page.click("#search-instead")
    page.wait_for_selector("#correction[hidden]", state="attached")
    assert "spelling=false" in page.url and "kitchn skillet" in page.inner_text("#summary")

    # Chinese
    search(page, "蓝牙耳机")
    assert "蓝牙" in page.locator("#results .result .title").first.inner_text()

    # markup in product text is shown as text, never run
    search(page, "evil mug")
    title = page.locator("#results .result .title").first
    assert title.inner_text() == HOSTILE_TITLE
    assert page.locator("#results script, #results img[src=x]").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#results .brand").first.inner_text() == "<b>Bold</b>"

    # a query with markup is shown as text too
    search(page, "<img src=x onerror=window.__pwned=3>")
    assert page.evaluate("window.__pwned") is None

    # an image that cannot load (a 404 from the server) gives way to the placeholder, no broken icon
    search(page, "qwxyz lantern")
    result = page.locator('#results .result[data-id="img-broken"]')
    result.locator(".no-image").wait_for(state="visible")
    assert result.locator("img").count() == 0
    assert result.locator(".no-image").inner_text() == "Q"
    page.screenshot(path=str(ARTIFACTS / "service-broken-image.png"))

    # phone width: one column, nothing wider than the screen
    page.set_viewport_size({"width": 390, "height": 844})
    search(page, "usb cable")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(ARTIFACTS / "service-phone.png"), full_page=True)

    # the API reference lists /openapi.json with nothing but the service's own files (offline)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(urljoin(page.url, "/docs"))
    page.wait_for_selector("#endpoints article.endpoint")
    listed = page.locator("#endpoints article.endpoint h2").all_inner_texts()
    assert {"GET /search", "POST /products", "DELETE /products/{product_id}"} <= {" ".join(t.split()) for t in listed}
    page.screenshot(path=str(ARTIFACTS / "service-api-docs.png"))
