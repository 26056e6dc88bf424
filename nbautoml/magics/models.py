"""Models named on a magic's line: a variable, a saved file, or a registry reference.

``%automl_monitor``, ``%automl_deploy``, ``%automl_export`` and ``%automl_load``
accept the same NAME forms; :func:`find_model` turns one into a fitted model
(a search result, or a :class:`~nbautoml.persist.LoadedModel`).
"""

from __future__ import annotations

from pathlib import Path

from IPython.core.error import UsageError

from .parsing import closest_hint


def find_model(magics, name: str, purpose: str):
    """The fitted model ``name`` refers to.

    Parameters
    ----------
    name : str
        A variable of the notebook holding a fitted search result or loaded
        model; else the path of a saved model (``.nbautoml`` may be left out);
        else a registry reference (``titanic``, ``titanic@3``,
        ``titanic@production`` or ``registry:titanic@3``).
    purpose : str
        The magic, for the messages (e.g. ``"%automl_monitor"``).

    Raises
    ------
    UsageError
        When nothing matches: lists the models in the notebook and the registry.
    """
    text = name.strip()
    value = magics.shell.user_ns.get(text) if text.isidentifier() else None
    if value is not None and getattr(value, "best_pipeline_", None) is not None:
        return value
    model = load_reference(text)  # also when the variable holds something else
    if model is not None:
        return model
    if value is not None:
        what = (
            "a search result without a fitted model (no trial succeeded, or it was never fitted)"
            if hasattr(value, "leaderboard_display")
            else f"a {type(value).__name__}, not a model"
        )
        raise UsageError(
            f"Cannot run {purpose}: {text!r} is {what}. Give a fitted search result, a model "
            "loaded with %automl_load, a .nbautoml file or a registry reference (name@stage)."
        )
    raise UsageError(f"Cannot run {purpose}: {not_found(magics, text)}")


def load_reference(text: str, sha256: str | None = None, verify: bool = True, trusted=None):
    """Load a saved file or a registry reference; None when ``text`` names neither.

    ``sha256``, ``verify`` and ``trusted`` go to :func:`nbautoml.load` for a file. A registry
    reference is checked against the registry's record, and with ``sha256`` the
    record must be that hash too (a stage may since point at another version).
    Errors of a file or registry entry that exists (damaged file, unknown version
    or stage, another hash) are raised as they are (``NbAutoMLError``).
    """
    from .. import persist

    if text.startswith("registry:"):
        return persist.load(text, sha256=sha256, verify=verify, trusted=trusted)
    for path in _paths(text):
        if path.is_file():
            return persist.load(path, sha256=sha256, verify=verify, trusted=trusted)
    if not _registry_like(text):
        return None
    from ..registry import Registry, RegistryError

    registry = Registry()
    if not registry.db_path.exists():
        return None
    try:
        if not verify:
            registry.get(text)  # a reference that resolves: refuse the flag (else: not found, below)
            raise UsageError(f"--no-verify is for a file; {text} is a registry reference, which is "
                             "always checked against the registry's record. Drop --no-verify.")
        return registry.load(text, sha256=sha256, trusted=trusted)
    except RegistryError as err:
        if err.code == "model_not_found" and "@" not in text:
            return None
        raise


def _paths(text: str) -> list[Path]:
    from ..persist import SUFFIX

    path = Path(text)
    return [path] if path.suffix else [path, path.with_name(path.name + SUFFIX)]


def _registry_like(text: str) -> bool:
    from ..registry import RegistryError, parse_ref

    try:
        parse_ref(text)
    except RegistryError:
        return False
    return True


def models_in_namespace(magics) -> list[str]:
    """Variables of the notebook holding a fitted model."""
    names = []
    for key, value in list(magics.shell.user_ns.items()):
        if key.startswith("_"):
            continue
        try:
            if getattr(value, "best_pipeline_", None) is not None:
                names.append(key)
        except Exception:  # noqa: S112 - an odd object in the namespace is simply not a model
            continue
    return names


def registered_names() -> list[str]:
    """The model names of the project's registry (none when there is no registry yet)."""
    from ..registry import Registry

    registry = Registry()
    if not registry.db_path.exists():
        return []
    return [str(n) for n in registry.list()["name"]]


def not_found(magics, text: str) -> str:
    """Why ``text`` names no model, and the models there are."""
    variables, registered = models_in_namespace(magics), registered_names()
    hint = closest_hint(text.split("@")[0], variables + registered)
    known = []
    if variables:
        known.append(f"Models in the notebook: {', '.join(variables)}.")
    if registered:
        known.append(f"Registered models: {', '.join(registered[:20])}.")
    listing = " ".join(known) or "There is no model in the notebook nor in the registry yet."
    return (
        f"no variable, file or registered model named {text!r} (files are relative to "
        f"{Path.cwd()}).{hint} {listing}"
    )
