"""A JupyterLab server and a headless Chromium for the end-to-end tests.

The server runs as a user would run it: from the project's Python, in its own process group,
not as a child of pytest. nbautoml's front-end detection (``nbautoml.render.panel``) looks for
a headless notebook runner (pytest, nbclient, ...) among the kernel's ancestors and would
otherwise show the HTML fallback instead of the widget panel. A shell starts the server in
the background and exits, so the server's parent is init; ``stop()`` kills the server's
process group and every process it started (kernels run in sessions of their own), then
removes the temporary directories.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

CHROMIUM = os.environ.get("NBAUTOML_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# JupyterLab user settings: no news or update checks (no network here), every cell attached to
# the DOM (windowing off) so the tests can read cells outside the viewport.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def temp_base() -> str | None:
    """Where temp dirs go: under $NBAUTOML_E2E_TMPDIR (.ci/e2e.sh removes it) or $TMPDIR."""
    return os.environ.get("NBAUTOML_E2E_TMPDIR") or None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """``jupyter lab`` on 127.0.0.1, a free port and a random token, rooted in a temp dir."""

    def __init__(self, python: str = sys.executable, startup_timeout: float = 90.0):
        self.python = python
        self.startup_timeout = startup_timeout
        # no runner name (pytest, nbclient, ...) in the paths: see the module docstring
        self.home = Path(tempfile.mkdtemp(prefix="nbautoml-lab-", dir=temp_base()))
        self.root = self.home / "work"
        self.root.mkdir()
        self.log_path = self.home / "jupyter.log"
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.pid: int | None = None
        self.pgid: int | None = None

    # ---------------------------------------------------------------- start / stop
    def environment(self) -> dict:
        env = dict(os.environ)
        env.pop("NBAUTOML_WIDGETS", None)  # let nbautoml detect the front end
        env.pop("PYTEST_CURRENT_TEST", None)
        for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR",
                     "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR", "NBAUTOML_HOME"):
            path = self.home / name.lower()
            path.mkdir(exist_ok=True)
            env[name] = str(path)
        for relative, settings in LAB_SETTINGS.items():
            target = self.home / "jupyterlab_settings_dir" / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(settings))
        return env

    def command(self) -> list[str]:
        root_user = ["--allow-root"] if os.geteuid() == 0 else []  # CI runs as root
        return [
            self.python, "-m", "jupyterlab", "--no-browser", *root_user,
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]

    def start(self) -> LabServer:
        # sh starts the server in the background and exits: the server is reparented to init
        # and keeps sh's process group (start_new_session), which stop() kills
        launcher = subprocess.Popen(
            ["/bin/sh", "-c", 'cd "$1"; shift; "$@" >"$LOG" 2>&1 </dev/null & echo $!', "sh",
             str(self.root), *self.command()],
            env={**self.environment(), "LOG": str(self.log_path)},
            stdout=subprocess.PIPE, text=True, start_new_session=True)
        out, _ = launcher.communicate(timeout=30)
        self.pgid = launcher.pid
        self.pid = int(out.strip())
        self._record_group()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if not self._alive():
                log = self.log_tail()
                self.stop()
                raise RuntimeError(f"jupyter lab exited at start:\n{log}")
            try:
                status = self.api("status")
                if "started" in status:
                    return self
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.5)
        log = self.log_tail()
        self.stop()
        raise RuntimeError(f"jupyter lab did not answer /api/status in {self.startup_timeout:.0f} "
                           f"s:\n{log}")

    def _group_file(self) -> Path | None:
        """Where .ci/e2e.sh finds the process groups to kill if pytest itself is killed."""
        directory = os.environ.get("NBAUTOML_E2E_PIDDIR")
        return Path(directory) / f"jupyter-{self.pgid}.pgid" if directory else None

    def _record_group(self) -> None:
        path = self._group_file()
        if path is not None:
            path.write_text(f"{self.pgid}\n")

    def _alive(self) -> bool:
        try:
            return psutil.Process(self.pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def _tree(self) -> list[psutil.Process]:
        """The server, its descendants (kernels, their workers) and its process group."""
        procs = {}
        try:
            server = psutil.Process(self.pid)
            procs[server.pid] = server
            for child in server.children(recursive=True):
                procs[child.pid] = child
        except psutil.NoSuchProcess:
            pass
        for proc in psutil.process_iter():
            try:
                if self.pgid is not None and os.getpgid(proc.pid) == self.pgid:
                    procs[proc.pid] = proc
            except (ProcessLookupError, psutil.Error, OSError):
                pass
        return list(procs.values())

    def stop(self) -> None:
        """Stop the server (it shuts its kernels down), kill what is left, remove the temp dirs."""
        if self.pid is not None:
            procs = self._tree()
            try:
                os.killpg(self.pgid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            _, alive = psutil.wait_procs(procs, timeout=15)
            for proc in alive:
                try:
                    proc.kill()
                except psutil.NoSuchProcess:
                    pass
            psutil.wait_procs(alive, timeout=5)
            self.pid = None
            path = self._group_file()
            if path is not None:
                path.unlink(missing_ok=True)
        shutil.rmtree(self.home, ignore_errors=True)

    # ---------------------------------------------------------------- helpers
    def api(self, path: str, timeout: float = 5.0):
        request = urllib.request.Request(f"{self.url}/api/{path}",
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read().decode())

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def lab_url(self, notebook: str, workspace: str | None = None) -> str:
        """The notebook's page; in a workspace of its own, reset (no tabs from earlier tests)."""
        workspace = workspace or f"e2e-{secrets.token_hex(4)}"
        return f"{self.url}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={self.token}"


def launch_browser(playwright, user_data_dir: Path, viewport=(1400, 1000)):
    """Headless Debian Chromium (never a downloaded build) with a fresh profile."""
    if not Path(CHROMIUM).exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing: apt-get install -y chromium "
                                "(or run .ci/e2e.sh)")
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        viewport={"width": viewport[0], "height": viewport[1]}, device_scale_factor=1)
