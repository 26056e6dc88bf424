"""End-to-end fixtures: a JupyterLab server and headless Chromium, started once per session.

The tests here are marked ``e2e`` and skipped unless ``--e2e`` is given (when pytest starts in
or below tests/e2e) or ``NBAUTOML_E2E=1`` is set: they need JupyterLab, Playwright and
/usr/bin/chromium, and take minutes. ``make test-e2e`` (``.ci/e2e.sh``) installs those and
runs them.

Screenshots go to ``$NBAUTOML_E2E_SCREENSHOTS`` (default ``build/e2e``);
``NBAUTOML_E2E_SCREENSHOTS=docs/screenshots make test-e2e`` refreshes the committed ones.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.conftest import REPO

E2E_ENV = "NBAUTOML_E2E"


def pytest_addoption(parser):
    parser.addoption("--e2e", action="store_true", default=False,
                     help="run the end-to-end tests (JupyterLab + headless Chromium)")


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: end-to-end test in JupyterLab / a notebook runner "
                                       "(skipped unless --e2e or NBAUTOML_E2E=1)")


def e2e_enabled(config) -> bool:
    flag = os.environ.get(E2E_ENV, "").strip().lower() in ("1", "true", "yes", "on")
    return flag or bool(config.getoption("e2e", default=False))


def pytest_collection_modifyitems(config, items):
    if e2e_enabled(config):
        return
    skip = pytest.mark.skip(reason=f"end-to-end test: give --e2e or set {E2E_ENV}=1 "
                                   "(make test-e2e)")
    for item in items:
        if item.get_closest_marker("e2e") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    path = Path(os.environ.get("NBAUTOML_E2E_SCREENSHOTS", REPO / "build" / "e2e"))
    if not path.is_absolute():
        path = REPO / path
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def lab_server():
    """JupyterLab on 127.0.0.1 (free port, token), rooted in a temp dir; stopped and removed
    after the session."""
    from .lab import LabServer

    server = LabServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser_context():
    pytest.importorskip("playwright", reason="pip install playwright (make test-e2e does)")
    from playwright.sync_api import sync_playwright

    from .lab import launch_browser, temp_base

    profile = Path(tempfile.mkdtemp(prefix="nbautoml-chromium-", dir=temp_base()))
    playwright = sync_playwright().start()
    try:
        context = launch_browser(playwright, profile)
        try:
            yield context
        finally:
            context.close()
    finally:
        playwright.stop()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser_context):
    """A new browser tab; JavaScript exceptions on the page are collected in ``page.js_errors``."""
    tab = browser_context.new_page()
    tab.set_default_timeout(30_000)
    tab.js_errors = []
    tab.on("pageerror", lambda error: tab.js_errors.append(str(error)))
    try:
        yield tab
    finally:
        tab.close()
