"""``%automl_save``, ``%automl_load`` and ``%automl_history``."""

from __future__ import annotations

import keyword
from pathlib import Path

from IPython.core.error import UsageError

from .results import Table


def save(magics, args):
    """Save a result with :func:`nbautoml.save`."""
    from .. import save as save_model

    result = magics.result(args.name, search=False)
    path = save_model(result, args.path or args.name)
    print(f"Saved {args.name!r} to {path or args.path or args.name}")


def load(magics, args):
    """Load a model with :func:`nbautoml.load` into a variable of the notebook."""
    from .. import load as load_model

    path = Path(args.path.strip("'\""))
    if not path.exists():
        candidates = (
            sorted(str(p) for p in path.parent.glob(path.name + "*"))
            if path.parent.exists()
            else []
        )
        hint = f" Did you mean {candidates[0]!r}?" if candidates else ""
        raise UsageError(f"No file or directory at {str(path)!r} (relative to {Path.cwd()}).{hint}")
    name = args.name or default_variable(path)
    magics.shell.user_ns[name] = load_model(path)
    print(f"Loaded {str(path)!r} into `{name}`")


def default_variable(path: Path) -> str:
    """The file's stem when it is a valid variable name, else ``model``."""
    stem = path.name.split(".")[0]
    return stem if stem.isidentifier() and not keyword.iskeyword(stem) else "model"


def history(magics, args):
    """The searches of this kernel and of the search directory, newest first."""
    import pandas as pd

    from ..engine.store import list_runs

    kernel = {str(Path(r["path"]).resolve()): r for r in magics.searches}
    rows = []
    for run in list_runs(magics.search_base()):
        mine = kernel.pop(str(Path(run["path"]).resolve()), None)
        rows.append(
            {
                "variable": mine["variable"] if mine else "",
                "search": run["name"],
                "target": run["target"],
                "task": run["task"],
                "metric": run["metric"],
                "best_score": run["best_score"],
                "trials": run["trials"],
                "status": run["status"],
                "created": run["created"],
            }
        )
    rows += [
        {
            k: r[k]
            for k in (
                "variable",
                "search",
                "target",
                "task",
                "metric",
                "best_score",
                "trials",
                "status",
                "created",
            )
        }
        for r in kernel.values()
    ]
    columns = [
        "variable",
        "search",
        "target",
        "task",
        "metric",
        "best_score",
        "trials",
        "status",
        "created",
    ]
    frame = pd.DataFrame(rows, columns=columns)
    if len(frame):
        frame = frame.sort_values("created", ascending=False, kind="stable")
        frame["created"] = pd.to_datetime(frame["created"], unit="s").dt.strftime(
            "%Y-%m-%d %H:%M:%S"
        )
    if args.top:
        frame = frame.head(args.top)
    caption = (
        f"Searches in {magics.search_base()} (variable: bound in this kernel). "
        "Continue one with %%automl --resume SEARCH."
    )
    if not len(frame):
        caption = (
            f"No searches yet in {magics.search_base()} or in this kernel. Run %%automl first."
        )
    return Table(frame, caption)
