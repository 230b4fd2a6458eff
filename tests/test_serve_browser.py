"""`transgan serve`'s page in a real headless browser: the system Chromium driven by
Selenium through the system chromedriver (nothing is downloaded at test time). It opens the
page served on 127.0.0.1, draws a grid, moves the walk's slider and finds the images."""

from __future__ import annotations

import shutil
import socket
import time
from pathlib import Path

import pytest
import torch

import transgan
from transgan.snapshot import save_snapshot

pytest.importorskip("gradio", reason="the serve extra (gradio) is not installed")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM and DRIVER),
        reason="no system Chromium + chromedriver (apt-get install chromium chromium-driver; "
        ".ci/run installs them)",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def page_url(tmp_path_factory):
    from transgan.sharing.page import serve
    from transgan.sharing.sampler import Sampler

    torch.manual_seed(0)
    gan = transgan.create_model("transgan_tiny", g_dim=32, g_depths=(1, 1, 1), g_num_heads=2)
    path = Path(tmp_path_factory.mktemp("serve")) / "network-snapshot-000001.safetensors"
    save_snapshot(path, gan.generator, gan.config, {})
    port = _free_port()
    app = serve(Sampler.from_snapshot(path, torch.device("cpu")), "127.0.0.1", port, block=False)
    yield f"http://127.0.0.1:{port}/"
    app.close()


@pytest.fixture(scope="module")
def browser():
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1600"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def _wait(condition, timeout: float = 60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError("timed out waiting for the page")


def _image_src(driver, elem_id: str) -> str | None:
    """The src of the loaded image inside the component ``elem_id`` (None until loaded)."""
    return driver.execute_script(
        "const img = document.querySelector('#' + arguments[0] + ' img');"
        "return img && img.complete && img.naturalWidth > 0 ? img.src : null;",
        elem_id,
    )


def test_page_draws_a_grid_and_follows_the_slider(page_url: str, browser) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.get(page_url)
    button = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#grid-draw"))[0]
    assert "TransGAN sampler" in browser.title
    button.click()
    grid_src = _wait(lambda: _image_src(browser, "grid-image"))
    assert grid_src

    tab = _wait(
        lambda: [
            b
            for b in browser.find_elements(By.CSS_SELECTOR, "button[role=tab]")
            if b.text.strip() == "Interpolation"
        ]
    )[0]
    tab.click()
    first = _wait(lambda: _image_src(browser, "walk-image"))  # the page draws t = 0 on load
    slider = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#walk-t input[type=range]"))
    ActionChains(browser).click_and_hold(slider[0]).move_by_offset(80, 0).release().perform()
    moved = _wait(lambda: (src := _image_src(browser, "walk-image")) and src != first and src)
    assert moved != first
    value = float(slider[0].get_attribute("value"))
    assert 0 < value <= 1


def test_a_bad_seed_gets_a_message_on_the_page(page_url: str, browser) -> None:
    from selenium.webdriver.common.by import By

    browser.get(page_url)
    box = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "#grid-seed input"))[0]
    box.clear()
    box.send_keys("-5")
    browser.find_element(By.CSS_SELECTOR, "#grid-draw").click()
    text = _wait(lambda: "seed must be a whole number" in browser.page_source and "found")
    assert text
    assert "Traceback" not in browser.page_source
