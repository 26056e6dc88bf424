"""Project defaults from ``pyproject.toml``: the ``[tool.nbautoml]`` table.

A course or a team sets the search defaults once, next to its notebooks::

    [tool.nbautoml]
    time_budget = 30
    seed = 0
    jobs = 1
    search_dir = "runs"     # relative to the pyproject.toml

The nearest ``pyproject.toml`` from the working directory upwards is read (up
to a folder with ``.git``). ``%load_ext nbautoml`` applies it to the magics'
defaults (``%config AutoMLMagics.*`` set in an IPython config still wins, and
so does ``%config`` later), and ``nbautoml run`` to its options (a command
line option still wins).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .exceptions import ConfigError, closest

#: the keys of [tool.nbautoml]: the options of a search shared by the magics and ``nbautoml run``
KEYS = ("time_budget", "max_evals", "early_stop", "trial_timeout", "memory_limit", "task", "metric", "cv",
        "models", "exclude", "seed", "jobs", "prefer", "ensemble", "backend", "search_dir",
        "decision_threshold")
#: keys only the magics read
MAGIC_KEYS = ("name", "widgets")


@dataclass
class ProjectDefaults:
    """The ``[tool.nbautoml]`` table of a ``pyproject.toml`` (empty without one)."""

    values: dict = field(default_factory=dict)
    path: Path | None = None

    def describe(self, key: str) -> str:
        """Where a value comes from, for messages: ``pyproject.toml [tool.nbautoml] seed``."""
        return f"{self.path} [tool.nbautoml] {key}"


def find_pyproject(start: str | Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` from ``start`` (the working directory) upwards, stopping at a
    folder that holds ``.git``; None when there is none."""
    folder = Path(start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / "pyproject.toml").is_file():
            return candidate / "pyproject.toml"
        if (candidate / ".git").exists():
            return None
    return None


def project_defaults(start: str | Path | None = None) -> ProjectDefaults:
    """Read ``[tool.nbautoml]`` of the nearest ``pyproject.toml``.

    Keys may be written with dashes (``time-budget``); ``models`` and ``exclude``
    may be a list or a comma-separated string; a relative ``search_dir`` is taken
    from the ``pyproject.toml``'s folder.

    Raises
    ------
    ConfigError
        For a file that is not valid TOML, a table that is not a table, or an
        unknown key (naming the file and the keys there are).
    """
    import tomllib

    path = find_pyproject(start)
    if path is None:
        return ProjectDefaults()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path} is not valid TOML ({err}); fix it or remove its [tool.nbautoml] table.",
                          code="bad_pyproject") from err
    table = document.get("tool", {}).get("nbautoml", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.nbautoml] must be a table of options, e.g. time_budget = 30.",
                          code="bad_pyproject")
    values = {}
    for key, value in table.items():
        name = str(key).replace("-", "_")
        if name not in KEYS + MAGIC_KEYS:
            hint = closest(name, KEYS + MAGIC_KEYS)
            raise ConfigError(f"{path} [tool.nbautoml] has an unknown option {key!r}."
                              + (f" Did you mean {hint[0]!r}?" if hint else "")
                              + f" The options: {', '.join(KEYS + MAGIC_KEYS)}.", code="bad_pyproject")
        if name in ("models", "exclude") and isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if name == "search_dir" and isinstance(value, str) and not Path(value).expanduser().is_absolute():
            value = str(path.parent / value)
        values[name] = value
    return ProjectDefaults(values, path)
