"""What a notebook user does and sees in JupyterLab, through Playwright (sync API).

Selectors are JupyterLab 4's and ipywidgets 8's public DOM classes: ``.jp-CodeCell``,
``.jp-InputPrompt`` (``[ ]:``, ``[*]:``, ``[3]:``), ``.jp-OutputArea-output``, the
``#jp-main-statusbar`` kernel status (``Python 3 (ipykernel) | Idle``), the Run menu's
``runmenu:run-all`` command, and the widgets' ``.widget-hprogress`` / ``.progress-bar``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat

STDERR = "application/vnd.jupyter.stderr"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# one JS function reads the state of every code cell at once (one round trip per poll)
_CELLS_JS = """() => Array.from(document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-CodeCell')).map(c => {
  const outputs = Array.from(c.querySelectorAll('.jp-OutputArea-output'));
  return {
    source: c.querySelector('.jp-InputArea-editor').textContent,
    prompt: c.querySelector('.jp-InputPrompt').textContent.trim(),
    n_outputs: outputs.length,
    stderr: outputs.filter(o => o.getAttribute('data-mime-type') === 'STDERR_MIME')
                   .map(o => o.textContent),
    text: c.querySelector('.jp-Cell-outputArea').innerText,
  };
})""".replace("STDERR_MIME", STDERR)


def write_notebook(path: Path, cells: list[str], kernel: str = "python3") -> Path:
    """A new notebook of code cells (no outputs), with the kernel named in its metadata."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, path)
    return path


def cleared_copy(source: Path, target: Path, replace: dict[str, str] | None = None) -> Path:
    """Copy a notebook without its stored outputs (what is shown is what this run produced)."""
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.outputs = []
        cell.execution_count = None
        for old, new in (replace or {}).items():
            cell.source = cell.source.replace(old, new)
    nbformat.write(nb, target)
    return target


class Notebook:
    """One notebook open in JupyterLab."""

    def __init__(self, page, server, name: str):
        self.page = page
        self.server = server
        self.name = name

    # ---------------------------------------------------------------- opening, running
    def open(self, timeout: float = 90) -> Notebook:
        self.page.goto(self.server.lab_url(self.name))
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell",
                                    timeout=timeout * 1000)
        tabs = self.page.locator("#jp-main-dock-panel .lm-TabBar-tab").all_inner_texts()
        assert [t.strip() for t in tabs] == [self.name], f"open tabs: {tabs}"
        self.wait_kernel_idle(timeout)
        # a wider notebook, as a user with a small screen would do: hide the file browser
        if self.page.locator(".jp-FileBrowser").is_visible():
            self.page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
            self.page.keyboard.press("Control+b")
            self.page.wait_for_selector(".jp-FileBrowser", state="hidden")
        return self

    def kernel_status(self) -> str:
        text = self.page.locator("#jp-main-statusbar").inner_text()
        match = re.search(r"\|\s*(\w+)", text)
        return match.group(1) if match else text

    def wait_kernel_idle(self, timeout: float = 60) -> None:
        self.page.wait_for_function(
            "() => /\\|\\s*Idle/.test(document.querySelector('#jp-main-statusbar').textContent)",
            timeout=timeout * 1000)

    def run_all(self) -> None:
        """Run > Run All Cells, through the menu bar."""
        self.page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click()
        self.page.locator("li.lm-Menu-item[data-command='runmenu:run-all']").click()
        self.page.wait_for_selector(".lm-Menu", state="detached")

    def cells(self) -> list[dict]:
        return self.page.evaluate(_CELLS_JS)

    def wait_all_executed(self, timeout: float) -> list[dict]:
        """Until every code cell shows an execution count and the kernel is idle."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            cells = self.cells()
            if all(re.fullmatch(r"\[\d+\]:", c["prompt"]) for c in cells) and \
                    self.kernel_status() == "Idle":
                return cells
            time.sleep(0.5)
        raise AssertionError(f"the notebook did not finish in {timeout:.0f} s: prompts "
                             f"{[c['prompt'] for c in self.cells()]}")

    # ---------------------------------------------------------------- reading cells
    def cell(self, contains: str):
        """The code cell whose source contains ``contains`` (a Playwright locator)."""
        editor = self.page.locator(".jp-InputArea-editor", has_text=contains)
        return self.panel().locator(".jp-Notebook .jp-CodeCell").filter(has=editor)

    def panel(self):
        """The notebook shown (the current tab's panel)."""
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")

    def problems(self) -> list[str]:
        """What a user would read as an error: stderr or error outputs, broken widgets."""
        found = []
        for c in self.cells():
            found += [f"stderr in cell {c['source'][:40]!r}: {s[:300]}" for s in c["stderr"]]
            for marker in ("Traceback", "Error displaying widget", "Model not found"):
                if marker in c["text"]:
                    found.append(f"{marker!r} in cell {c['source'][:40]!r}")
        errors = self.panel().locator(".jp-OutputArea-output[data-mime-type="
                                      "'application/vnd.jupyter.error']")
        found += [f"error output: {t[:300]}" for t in errors.all_inner_texts()]
        return found

    def screenshot(self, locator, path: Path) -> Path:
        """A picture of one element as the user sees it (scrolled to the top of the notebook).

        Elements inside the notebook's scrolling panel are clipped to the window, so the
        window is made tall enough for the element first.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        viewport = self.page.viewport_size
        locator.evaluate("e => e.scrollIntoView({block: 'start'})")
        box = locator.bounding_box()
        needed = int(box["y"] + box["height"] + 40)
        if needed > viewport["height"]:
            self.page.set_viewport_size({"width": viewport["width"], "height": needed})
            locator.evaluate("e => e.scrollIntoView({block: 'start'})")
        try:
            locator.screenshot(path=str(path), animations="disabled")
        finally:
            self.page.set_viewport_size(viewport)
        return path
