"""Fixtures for the console's tests: a real `simgate emulator serve` on 127.0.0.1 and
Debian's chromium, driven headless through Debian's chromium-driver (Selenium; never a
downloaded browser). Each browser test gets a folder of screenshots under
`artifacts/console/<test>/` and fails on any console error or any request that leaves
127.0.0.1 (the console must work offline)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.console.support import Emulator
from tests.emulator import live

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "console"
CHROMIUM = Path(os.environ.get("SIMGATE_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("SIMGATE_CHROMEDRIVER", "/usr/bin/chromedriver"))
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,900",
)
T = TypeVar("T")


LEFTOVER_MARKS = ("sgco-chromium-profile", "sgco-chromedriver", "sgco-console")
"""Every process these tests start carries one of these in its command line (the
browser's profile folder, the emulator's database folder)."""


def kill_leftovers() -> list[int]:
    """Kill processes a crashed earlier run of these tests left behind (by their marks,
    one pid at a time, never this process or its parents)."""
    mine = {os.getpid(), os.getppid()}
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "pytest" in argv or argv[0].endswith("pytest"):
            continue  # a test run itself, never one of the processes it started
        if any(mark in arg for arg in argv for mark in LEFTOVER_MARKS):
            with contextlib.suppress(OSError):
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
    return killed


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """`simgate emulator serve` (embedded broker) on free ports, for the module."""
    kill_leftovers()
    folder = tmp_path_factory.mktemp("sgco-console")
    proc, info = live.start(folder / "emulator.db")
    client = Emulator(info)
    try:
        yield client
    finally:
        client.close()
        live.stop(proc)


def _need_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if not missing:
        return
    why = f"the console's browser tests need Debian's chromium and chromium-driver: {missing}"
    if os.environ.get("CI") == "true":
        pytest.fail(why + " (CI must run them: scripts/test installs both as root)")
    pytest.skip(why)


@pytest.fixture(scope="module")
def driver(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless chromium with an empty profile, logged in with the API's credentials
    (HTTP Basic, which the browser then keeps for the emulator's origin)."""
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download
    profile = tmp_path_factory.mktemp("sgco-chromium-profile")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver_log = tmp_path_factory.mktemp("sgco-chromedriver") / "chromedriver.log"
    service = Service(str(CHROMEDRIVER), log_output=str(driver_log))
    browser = webdriver.Chrome(options=options, service=service)
    try:
        browser.set_page_load_timeout(30)
        # Log in as a person does: HTTP Basic, once. The browser's auth cache then
        # answers for every later page, fetch, event stream and download.
        token, secret = emulator.auth
        browser.get(emulator.base.replace("://", f"://{token}:{secret}@", 1) + "/")
        browser.get("about:blank")
        yield browser
    finally:
        browser.quit()


class Ui:
    """The browser on the console, with the few moves the tests make."""

    def __init__(self, driver: Any, emulator: Emulator, folder: Path) -> None:
        self.driver = driver
        self.emulator = emulator
        self.folder = folder
        self.expected: list[str] = []

    def expect_error(self, text: str) -> None:
        """A console error containing `text` is what the test provokes (a 4xx page)."""
        self.expected.append(text)

    def open(self, path: str) -> None:
        """Load a page and wait until it is complete."""
        self.driver.get(self.emulator.base + path)
        self.wait(lambda: self.driver.execute_script("return document.readyState") == "complete")

    def el(self, element_id: str) -> Any:
        """The element with this id."""
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.ID, element_id)

    def all(self, css: str) -> list[Any]:
        """Elements matching a CSS selector."""
        from selenium.webdriver.common.by import By

        found: list[Any] = self.driver.find_elements(By.CSS_SELECTOR, css)
        return found

    def text(self, element_id: str) -> str:
        """The visible text of an element."""
        return str(self.el(element_id).text)

    def click(self, element_id: str) -> None:
        """Click an element that leads to another page; wait until that page is complete."""
        self.driver.execute_script("window.sgcoLeaving = true")
        self.el(element_id).click()
        self.wait(
            lambda: self.driver.execute_script(
                "return !window.sgcoLeaving && document.readyState === 'complete'"
            )
        )

    def confirm(self) -> str:
        """On a confirmation page: its question; then say yes."""
        question = self.text("confirm-question")
        self.click("confirm")
        return question

    def wait(self, condition: Callable[[], T | None], timeout: float = 15.0) -> T:
        """Poll `condition` until it gives a true value."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = condition()
            except Exception:  # an element swapped out mid-read: look again
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {condition}")
            time.sleep(0.05)

    def shot(self, name: str) -> Path:
        """A screenshot of the whole page, `<folder>/<name>.png`, and a small copy of its
        top for the docs, `<folder>/small/<name>.png` (docs/console.md shows some)."""
        metrics = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        width, height = min(int(size["width"]), 1280), int(size["height"])
        path = self.folder / f"{name}.png"
        path.write_bytes(self._capture(width, min(height, 2400), 1.0))
        small = self.folder / "small" / f"{name}.png"
        small.parent.mkdir(exist_ok=True)
        small.write_bytes(self._capture(width, min(height, 1000), 0.6))
        return path

    def _capture(self, width: int, height: int, scale: float) -> bytes:
        clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": scale}
        data = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {"format": "png", "clip": clip, "captureBeyondViewport": True},
        )["data"]
        return base64.b64decode(data)

    def problems(self) -> list[str]:
        """Console errors, and requests to anything but the emulator, since last asked."""
        found = [
            f"console {entry['level']}: {entry['message']}"
            for entry in self.driver.get_log("browser")
            if entry["level"] in ("SEVERE", "ERROR")
            and not any(text in entry["message"] for text in self.expected)
        ]
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") != "Network.requestWillBeSent":
                continue
            url = str(message["params"]["request"]["url"])
            if re.match(r"(https?|wss?)://", url) and not url.startswith(self.emulator.base):
                found.append(f"request left the emulator: {url}")
        return found


@pytest.fixture
def ui(driver: Any, emulator: Emulator, request: pytest.FixtureRequest) -> Iterator[Ui]:
    """The browser for one test; its screenshots go to `artifacts/console/<test>/`; the
    test fails on console errors or requests that leave 127.0.0.1."""
    folder = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    driver.get("about:blank")
    driver.get_log("browser")
    driver.get_log("performance")
    session = Ui(driver, emulator, folder)
    yield session
    driver.get("about:blank")  # close the page's event stream before the next test
    problems = session.problems()
    assert not problems, "\n".join(problems)
