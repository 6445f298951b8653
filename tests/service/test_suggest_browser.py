"""The search box's typeahead in a real browser (Debian's chromium, headless, as test_browser.py):
suggestions appear as one types pinyin, the keyboard moves through them, Enter searches the chosen one."""

from __future__ import annotations

import pytest

from shopmatch.service.process import ServiceProcess as Server
from tests.service.test_browser import offline_page


@pytest.fixture
def page(service_index):
    server = Server(service_index, token="t").start()
    try:
        with offline_page(server.url) as page:
            yield page
    finally:
        server.stop()


def test_typeahead_with_the_keyboard(page):
    page.locator("#q").press_sequentially("lany", delay=20)
    page.wait_for_selector("#suggestions:not([hidden]) .suggestion")
    assert page.get_attribute("#q", "aria-expanded") == "true"
    texts = page.locator("#suggestions .suggestion span:first-child").all_inner_texts()
    assert "蓝牙耳机" in texts
    for _ in range(texts.index("蓝牙耳机") + 1):
        page.press("#q", "ArrowDown")
    assert page.locator('#suggestions [aria-selected="true"]').inner_text().startswith("蓝牙耳机")
    page.press("#q", "Enter")
    page.wait_for_function("() => document.getElementById('summary').textContent.includes('蓝牙耳机')")
    assert page.locator("#suggestions").is_hidden() and page.input_value("#q") == "蓝牙耳机"
    assert "蓝牙" in page.locator("#results .result .title").first.inner_text()

    page.fill("#q", "")
    page.locator("#q").press_sequentially("usb", delay=20)
    page.wait_for_selector("#suggestions:not([hidden]) .suggestion")
    page.press("#q", "Escape")
    assert page.locator("#suggestions").is_hidden() and page.get_attribute("#q", "aria-expanded") == "false"

    # a pinyin query is searched as the Chinese it stands for, and the page says so
    page.fill("#q", "lanya erji")
    page.press("#q", "Enter")
    page.wait_for_function("() => document.getElementById('summary').textContent.includes('pinyin')")
    assert "蓝牙" in page.locator("#results .result .title").first.inner_text()
