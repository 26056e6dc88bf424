"""``%automl_save``, ``%automl_load`` and ``%automl_history``."""

from __future__ import annotations

import keyword
from pathlib import Path

from IPython.core.error import UsageError

from ..exceptions import NbAutoMLError
from ..render.text import shown_path
from .parsing import closest_hint
from .results import Table

#: the columns of ``%automl_history``
HISTORY_COLUMNS = ["variable", "search", "target", "task", "metric", "best_score", "trials", "status",
                   "created"]


def save(magics, args):
    """Save a result with :func:`nbautoml.save` (``registry:NAME`` registers a version)."""
    from pathlib import Path

    from .. import save as save_model

    result = magics.result(args.name, search=False)
    path = args.path or args.name
    registry = path.startswith("registry:")
    if args.path and not registry and Path(path).is_dir():  # "%automl_save titanic models/": models/titanic.nbautoml
        path = str(Path(path) / (args.name or magics.default_name()))
    if args.stage is not None and not registry:
        raise UsageError(
            f"--stage is for the registry: %automl_save {args.name} registry:NAME --stage "
            f"{args.stage}. A file has no stages."
        )
    saved = save_model(result, path, stage=args.stage) if registry else save_model(result, path)
    if registry:
        stages = f" (stage {', '.join(saved.stages)})" if saved.stages else ""
        print(
            f"Registered {args.name!r} as {saved.ref}{stages} in {shown_path(saved.path)}. "
            f"Load it with %automl_load {saved.ref}"
        )
    else:
        print(f"Saved {args.name!r} to {saved or path}")
    return None


def load(magics, args):
    """Load a saved file or a registry reference into a variable of the notebook; return the
    model too, so ``model = %automl_load PATH`` binds it (a bare call shows its card)."""
    from ..persist import UntrustedArtifactError
    from .models import load_reference, registered_names

    text = args.path.strip("'\"")
    try:
        model = load_reference(text, sha256=args.sha256, verify=not args.no_verify, trusted=args.trusted)
    except NbAutoMLError as err:
        retold = err.for_option("--trusted") if isinstance(err, UntrustedArtifactError) else None
        if retold is not None:
            raise UsageError(str(retold)) from None
        if getattr(err, "code", None) != "integrity_unverified":
            raise
        raise UsageError(f"{err} Here: %automl_load {text} --sha256 HEX, or --no-verify for a file "
                         "from a source you trust.") from None
    if model is None:
        registered = registered_names()
        listing = (
            f" Registered models: {', '.join(registered[:20])}."
            if registered
            else " The registry is empty (%automl_save NAME registry:NAME adds a model)."
        )
        raise UsageError(
            f"No file or directory at {text!r} (relative to {Path.cwd()}), and no registered "
            f"model of that name.{_file_hint(text) or closest_hint(text, registered)}{listing}"
        )
    ref = getattr(model, "registry_ref_", None)
    name = args.name or default_variable(Path(ref.split("@")[0] if ref else text))
    note = ""
    if not args.name:
        name, note = _free_variable(magics.shell.user_ns, name, "v" + ref.split("@")[1] if ref else "loaded")
    magics.shell.user_ns[name] = model
    source = f"{ref} from the registry" if ref else repr(str(getattr(model, "path_", text)))
    print(f"Loaded {source} into `{name}`{note}")
    return model


def _free_variable(namespace: dict, name: str, suffix: str) -> tuple[str, str]:
    """``name``, or ``name_suffix`` when ``name`` holds something other than a loaded model
    (a search result, the user's data), which a load must not replace silently."""
    from ..persist import LoadedModel

    held = namespace.get(name)
    if held is None or isinstance(held, LoadedModel):
        return name, ""
    free, n = f"{name}_{suffix}", 2
    while free in namespace and not isinstance(namespace[free], LoadedModel):
        free, n = f"{name}_{suffix}_{n}", n + 1
    return free, f" (`{name}` already holds your {type(held).__name__} object; --name NAME chooses the variable)"


def _file_hint(text: str) -> str:
    path = Path(text)
    candidates = (
        sorted(str(p) for p in path.parent.glob(path.name + "*")) if path.parent.exists() else []
    )
    return f" Did you mean {candidates[0]!r}?" if candidates else ""


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
        {k: r[k] for k in HISTORY_COLUMNS}
        for r in kernel.values()
    ]
    frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
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
