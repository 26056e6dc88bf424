"""A local model registry: versions, stages and their history in one SQLite file.

Layout (the project directory is shared with the monitoring history)::

    $NBAUTOML_HOME/            (default ./.nbautoml; see project_dir())
      registry.sqlite          versions and stage history (SQLite, WAL)
      models/NAME/v1.nbautoml  the artifacts (see nbautoml.persist)
      models/NAME/v2.nbautoml

Each ``register`` adds version N+1 of a name with its model card; N is taken
inside a write transaction, so two processes registering the same name at once
get distinct versions. The artifact is written atomically before its row is
committed, so a crash leaves at most an orphan file, never a row pointing at a
partial file. A file the database does not list is never overwritten:
``register`` refuses with ``unrecorded_artifact`` (e.g. after the database was
deleted). Loading checks the file against the SHA-256 recorded at
registration, so a replaced or edited file is refused. ``Registry.backup(dir)``
copies the database (SQLite's online backup), the monitoring history and the
recorded model files, each checked.

Stages (``production``, ``staging``, ...) point at one version of a name at a
time. Every change is appended to ``stage_events`` (time, version, previous
version, reason, user); the table refuses UPDATE and DELETE, so the history is
a faithful record for promotion and rollback.

A retraining policy (:mod:`nbautoml.policy`) is stored per name in the
append-only ``policies`` table (created on first use).

References: ``"name"`` (latest version), ``"name@3"`` or ``"name@v3"``,
``"name@production"`` (the version the stage points at), ``"name@latest"``.

Examples
--------
>>> reg = nbautoml.registry.Registry()                          # doctest: +SKIP
>>> reg.register(result, "titanic", stage="production", reason="first model")  # doctest: +SKIP
ModelVersion(titanic@1)
>>> model = reg.load("titanic@production")                      # doctest: +SKIP
"""

from __future__ import annotations

import getpass
import json
import os
import re
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .exceptions import NbAutoMLError

DB_NAME = "registry.sqlite"
SCHEMA_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_STAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


_ANY = object()  # set_stage(expected=...) not given


class RegistryError(NbAutoMLError):
    """A registry operation failed (bad name, unknown version, busy database, ...)."""

    code = "registry_error"


def project_dir() -> Path:
    """The project directory shared by the registry and the monitoring history.

    ``$NBAUTOML_HOME`` when set, else ``./.nbautoml``.
    """
    return Path(os.environ.get("NBAUTOML_HOME", ".nbautoml"))


def check_name(name: str, kind: str = "model name") -> str:
    """Refuse names that could escape the registry directory or confuse references."""
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise RegistryError(
            f"Invalid {kind} {name!r}: use 1-128 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit (no '/', '\\\\', '..', '@', spaces or control characters).", code="bad_name")
    return name


def _check_stage(stage: str) -> str:
    if not isinstance(stage, str) or not _STAGE.match(stage) or stage.lower() == "latest":
        raise RegistryError(f"Invalid stage {stage!r}: use a word such as 'production' or 'staging' "
                            "(letters, digits, '_' or '-', starting with a letter; not 'latest').",
                            code="bad_stage")
    return stage


def parse_ref(ref: str) -> tuple[str, int | str | None]:
    """Split ``"name@version|stage"`` into ``(name, version int | stage str | None)``."""
    if not isinstance(ref, str):
        raise RegistryError(f"A model reference is a string such as 'titanic@production'; got {ref!r}.",
                            code="bad_name")
    name, sep, which = ref.partition("@")
    check_name(name)
    if not sep:
        return name, None
    if re.fullmatch(r"v?\d+", which):
        return name, int(which.lstrip("v"))
    if which == "latest":
        return name, None
    return name, _check_stage(which)


@dataclass
class ModelVersion:
    """One registered version: ``name``, ``version``, artifact ``path``, ``sha256``, ``created``."""

    name: str
    version: int
    path: Path
    sha256: str
    size: int
    created: float
    stages: tuple = ()

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def __fspath__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        stages = f", stages={list(self.stages)}" if self.stages else ""
        return f"ModelVersion({self.ref}{stages})"


class Registry:
    """The model registry of a project directory.

    Parameters
    ----------
    path : str or Path, optional
        The project directory (default :func:`project_dir`). The database is
        ``path/registry.sqlite`` and artifacts go under ``path/models``.
    timeout : float, default=30
        Seconds to wait for another process's write before giving up.
    """

    def __init__(self, path=None, timeout: float = 30.0):
        self.root = Path(path) if path is not None else project_dir()
        self.db_path = self.root / DB_NAME
        self.timeout = timeout
        self._filesystem_checked = False

    def __repr__(self) -> str:
        return f"Registry({str(self.root)!r})"

    # ------------------------------------------------------------ database
    @contextmanager
    def _connect(self, write: bool = False):
        """A short-lived connection; ``write`` holds the write lock (BEGIN IMMEDIATE) until commit."""
        if not self._filesystem_checked:  # once per Registry: SQLite's locks fail on network filesystems
            from .engine.filesystems import check_local_filesystem

            check_local_filesystem(self.root, what=f"The registry directory {str(self.root)!r}",
                                   fix="Keep the registry on a local disk: Registry(path) or NBAUTOML_HOME "
                                       "pointing to a local directory; Registry.backup(path) copies it "
                                       "anywhere, a network share included.")
            self._filesystem_checked = True
        self.root.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.db_path, timeout=self.timeout, isolation_level=None)
        try:
            conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                with _exclusive_file_lock(self.root / ".init.lock", self.timeout):
                    # one process at a time: two processes switching a new database to WAL
                    # at once deadlocked until the busy timeout (about one run in four)
                    if conn.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                        self._init(conn)
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as err:
            if "locked" in str(err) or "busy" in str(err):
                raise RegistryError(f"The registry {str(self.db_path)!r} stayed locked for {self.timeout:g} s "
                                    "by another program. Close it (or the other notebook's long operation) "
                                    "and retry.", code="registry_busy") from err
            raise RegistryError(f"The registry {str(self.db_path)!r} cannot be used: {err}.",
                                code="registry_error") from err
        finally:
            conn.close()

    def _init(self, conn) -> None:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = conn.execute("PRAGMA user_version").fetchone()[0]
            if found > SCHEMA_VERSION:
                raise RegistryError(f"The registry {str(self.db_path)!r} was made by a newer nbautoml "
                                    f"(schema {found}); upgrade nbautoml.", code="registry_too_new")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS versions (name TEXT NOT NULL, version INTEGER NOT NULL, "
                "path TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, created REAL NOT NULL, "
                "task TEXT, metric TEXT, score REAL, score_std REAL, model TEXT, card TEXT NOT NULL, "
                "PRIMARY KEY (name, version))")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS stage_events (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "time REAL NOT NULL, name TEXT NOT NULL, stage TEXT NOT NULL, version INTEGER, "
                "previous_version INTEGER, reason TEXT NOT NULL DEFAULT '', user TEXT)")
            conn.execute("CREATE INDEX IF NOT EXISTS stage_events_name ON stage_events(name, stage, id)")
            for action in ("UPDATE", "DELETE"):
                conn.execute(
                    f"CREATE TRIGGER IF NOT EXISTS stage_events_no_{action.lower()} BEFORE {action} "
                    "ON stage_events BEGIN SELECT RAISE(ABORT, 'stage_events is append-only'); END")
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # ------------------------------------------------------------ writing
    def register(self, model, name: str, *, stage: str | None = None, reason: str = "",
                 card_extra: dict | None = None) -> ModelVersion:
        """Add a new version of ``name``.

        Parameters
        ----------
        model : AutoML, LoadedModel, Pipeline, or path of an ``.nbautoml`` file
        name : str
            Letters, digits, '.', '_' and '-' only.
        stage : str, optional
            Also point this stage (e.g. "production") at the new version.
        reason : str, default=""
            Stored with the stage change.
        card_extra : dict, optional
            More fields for the model card (e.g. ``{"retrain": {...}}``); they
            cannot replace the card's own fields.

        Returns
        -------
        ModelVersion
        """
        from . import persist
        from .atomic import atomic_write

        check_name(name)
        if stage is not None:
            _check_stage(stage)
        if isinstance(model, (str, Path)):
            model = persist.load(model)
        prepared = persist._prepare(model)  # the slow part (skops), outside the lock
        folder = self.root / "models" / name
        with self._connect(write=True) as conn:
            version = conn.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM versions WHERE name = ?",
                                   (name,)).fetchone()[0]
            extra = {k: v for k, v in (card_extra or {}).items() if k not in prepared.card}
            extra["registry"] = {"name": name, "version": version}
            data, card = persist._assemble(prepared, extra)
            target = folder / f"v{version}{persist.SUFFIX}"
            if target.exists():
                raise self._unrecorded_file(conn, name, version, target)
            atomic_write(target, data)
            metric = card.get("metric") or {}
            created = time.time()
            conn.execute(
                "INSERT INTO versions (name, version, path, sha256, size, created, task, metric, score, "
                "score_std, model, card) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, version, str(target.relative_to(self.root)), persist._sha256(data), len(data), created,
                 card.get("task"), metric.get("name"), metric.get("cv_score"), metric.get("cv_std"),
                 (card.get("model") or {}).get("description"), json.dumps(card)))
            if stage is not None:
                self._append_stage(conn, name, stage, version, reason)
        return self.get(f"{name}@{version}")

    def _unrecorded_file(self, conn, name: str, version: int, target: Path) -> RegistryError:
        """The error for a model file the database does not list (``register`` never overwrites it)."""
        recorded = conn.execute("SELECT COUNT(*) FROM versions").fetchone()[0]
        if recorded == 0:
            why = ("The registry database records no model at all, so it was probably deleted or replaced "
                   "(a sync tool, a cleanup or a copy from elsewhere) while the model files stayed.")
        else:
            known = f"only up to version {version - 1}" if version > 1 else "no version"
            why = (f"The database records {known} of {name!r}: it was probably replaced by an older copy, or "
                   "an earlier register stopped before recording the file.")
        return RegistryError(
            f"Cannot register {name}@{version}: the model file {str(target)!r} already exists but the registry "
            f"{str(self.db_path)!r} has no record of it, and it is never overwritten. {why} Fix: restore "
            f"{DB_NAME} from a backup (Registry.backup makes one), or move the model files it does not list out of "
            f"{str(target.parent)!r}, then register again.",
            code="unrecorded_artifact", path=str(target))

    def _append_stage(self, conn, name, stage, version, reason) -> None:
        previous = self._stage_version(conn, name, stage)
        conn.execute("INSERT INTO stage_events (time, name, stage, version, previous_version, reason, user) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (time.time(), name, stage, version, previous, str(reason or ""), _user()))

    def set_stage(self, name: str, version: int | None, stage: str, reason: str = "",
                  expected=_ANY) -> None:
        """Point ``stage`` of ``name`` at ``version`` (None clears the stage); recorded with ``reason``.

        ``expected`` (a version, or None for "no version yet") makes the change
        conditional: when the stage points elsewhere at the time of the write,
        nothing changes and a :class:`RegistryError` (``stage_moved``) is raised.
        Retraining uses it so a challenger compared with version N never
        replaces a version N+1 another process promoted meanwhile.
        """
        check_name(name)
        _check_stage(stage)
        with self._connect(write=True) as conn:
            if version is not None:
                version = self._existing_version(conn, name, int(version))
            if expected is not _ANY:
                current = self._stage_version(conn, name, stage)
                if current != expected:
                    raise RegistryError(
                        f"{name!r} {stage} is now version {current}, not {expected} as expected: another "
                        "process changed it. Nothing was changed; compare with the new version and retry.",
                        code="stage_moved", current=current, expected=expected)
            self._append_stage(conn, name, stage, version, reason)

    # ------------------------------------------------------------ policies
    def set_policy(self, name: str, policy: dict | None, reason: str = "") -> None:
        """Store the retraining policy of ``name`` (a JSON-able dict; None removes it).

        Policies are appended to the ``policies`` table, never updated, so
        :meth:`policy_history` shows every change. See :mod:`nbautoml.policy`.
        """
        check_name(name)
        text = None if policy is None else json.dumps(policy, sort_keys=True)
        with self._connect(write=True) as conn:
            if not conn.execute("SELECT 1 FROM versions WHERE name = ?", (name,)).fetchone():
                self._raise_unknown(conn, name, "version")
            _create_policies(conn)
            conn.execute("INSERT INTO policies (time, name, policy, reason, user) VALUES (?, ?, ?, ?, ?)",
                         (time.time(), name, text, str(reason or ""), _user()))

    def policy(self, name: str) -> dict | None:
        """The retraining policy stored for ``name``, or None."""
        check_name(name)
        with self._connect() as conn:
            if not _has_table(conn, "policies"):
                return None
            row = conn.execute("SELECT policy FROM policies WHERE name = ? ORDER BY id DESC LIMIT 1",
                               (name,)).fetchone()
        return None if row is None or row[0] is None else json.loads(row[0])

    def policy_history(self, name: str):
        """Every policy change of ``name``, oldest first: time, policy (dict or None), reason, user."""
        import pandas as pd

        check_name(name)
        with self._connect() as conn:
            rows = [] if not _has_table(conn, "policies") else conn.execute(
                "SELECT id, time, policy, reason, user FROM policies WHERE name = ? ORDER BY id",
                (name,)).fetchall()
        frame = pd.DataFrame(rows, columns=["id", "time", "policy", "reason", "user"])
        frame["time"] = pd.to_datetime(frame["time"], unit="s")
        frame["policy"] = [None if p is None else json.loads(p) for p in frame["policy"]]
        return frame

    # ------------------------------------------------------------ reading
    @staticmethod
    def _stage_version(conn, name, stage):
        row = conn.execute("SELECT version FROM stage_events WHERE name = ? AND stage = ? ORDER BY id DESC "
                           "LIMIT 1", (name, stage)).fetchone()
        return None if row is None else row[0]

    def _stages(self, conn, name) -> dict[str, int]:
        rows = conn.execute(
            "SELECT stage, version FROM stage_events WHERE id IN (SELECT MAX(id) FROM stage_events "
            "WHERE name = ? GROUP BY stage)", (name,)).fetchall()
        return {stage: version for stage, version in rows if version is not None}

    def _existing_version(self, conn, name, version: int) -> int:
        row = conn.execute("SELECT version FROM versions WHERE name = ? AND version = ?",
                           (name, version)).fetchone()
        if row is None:
            self._raise_unknown(conn, name, f"version {version}")
        return version

    def _raise_unknown(self, conn, name, what):
        known = [v for (v,) in conn.execute("SELECT version FROM versions WHERE name = ? ORDER BY version",
                                            (name,))]
        if not known:
            names = [n for (n,) in conn.execute("SELECT DISTINCT name FROM versions ORDER BY name")]
            from .exceptions import closest

            hint = closest(name, names)
            raise RegistryError(f"No model named {name!r} in the registry {str(self.root)!r}."
                                + (f" Did you mean {hint[0]!r}?" if hint else "")
                                + (f" Registered: {', '.join(names[:20])}." if names else
                                   " It is empty: nbautoml.register(result, name) adds a model."),
                                code="model_not_found")
        raise RegistryError(f"{name!r} has no {what}; its versions are {', '.join(map(str, known))}.",
                            code="version_not_found")

    def _resolve(self, conn, ref: str) -> tuple[str, int]:
        name, which = parse_ref(ref)
        if which is None:
            row = conn.execute("SELECT MAX(version) FROM versions WHERE name = ?", (name,)).fetchone()
            if row[0] is None:
                self._raise_unknown(conn, name, "version")
            return name, row[0]
        if isinstance(which, int):
            return name, self._existing_version(conn, name, which)
        if not conn.execute("SELECT 1 FROM versions WHERE name = ?", (name,)).fetchone():
            self._raise_unknown(conn, name, "version")
        version = self._stage_version(conn, name, which)
        if version is None:
            stages = self._stages(conn, name)
            from .exceptions import closest

            hint = closest(which, stages)
            raise RegistryError(f"{name!r} has no version in stage {which!r}."
                                + (f" Did you mean {name}@{hint[0]}?" if hint else "")
                                + (f" Current stages: {stages}." if stages else "")
                                + self._set_stage_hint(conn, name, which),
                                code="stage_not_set")
        return name, version

    @staticmethod
    def _set_stage_hint(conn, name: str, stage: str) -> str:
        """How to point ``stage`` of ``name`` at its latest version, in Python and in a notebook."""
        latest = conn.execute("SELECT MAX(version) FROM versions WHERE name = ?", (name,)).fetchone()[0]
        promote = f" (or %automl_promote {name}@{latest} in a notebook)" if stage == "production" else ""
        return (f" Its latest version is {name}@{latest}; set the stage with "
                f"nbautoml.Registry().set_stage({name!r}, {latest}, {stage!r}){promote}.")

    def get(self, ref: str) -> ModelVersion:
        """The registered version a reference points at (nothing is loaded)."""
        with self._connect() as conn:
            name, version = self._resolve(conn, ref)
            row = conn.execute("SELECT path, sha256, size, created FROM versions WHERE name = ? AND "
                               "version = ?", (name, version)).fetchone()
            stages = tuple(s for s, v in self._stages(conn, name).items() if v == version)
        return ModelVersion(name, version, self.root / row[0], row[1], row[2], row[3], stages)

    def card(self, ref: str) -> dict:
        """The model card recorded at registration."""
        with self._connect() as conn:
            name, version = self._resolve(conn, ref)
            (card,) = conn.execute("SELECT card FROM versions WHERE name = ? AND version = ?",
                                   (name, version)).fetchone()
        return json.loads(card)

    def load(self, ref: str, trusted=None, allow_version_mismatch: bool = False, sha256: str | None = None):
        """Load ``name``, ``name@VERSION`` or ``name@STAGE`` after checking the file's recorded SHA-256.

        ``sha256``: the hash the version ``ref`` resolves to must have been registered with
        (a stage may since point at another version); ``IntegrityError`` (``sha256_mismatch``)
        otherwise.

        Returns
        -------
        LoadedModel
            With ``registry_ref_`` set to ``"name@version"``.
        """
        from . import persist

        entry = self.get(ref)
        expected = None if sha256 is None else sha256.strip().lower()
        if expected is not None and entry.sha256 != expected:
            raise persist.IntegrityError(
                f"{ref} is {entry.ref}, whose registered SHA-256 is {entry.sha256[:16]}…, not the "
                f"{expected[:16]}… expected (sha256= / --sha256): the reference now points at another "
                f"version than the one you expected. Load that version by name ({entry.name}@VERSION), "
                "or drop the hash to load what it points at now.",
                code="sha256_mismatch", expected=expected, actual=entry.sha256, ref=entry.ref)
        model = persist.load(entry.path, trusted=trusted, allow_version_mismatch=allow_version_mismatch,
                             sha256=entry.sha256)
        model.registry_ref_ = entry.ref
        return model

    def list(self, name: str | None = None):
        """One row per model name (latest version, count, stages); with ``name``, its versions."""
        import pandas as pd

        if name is not None:
            return self.versions(name)
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT v.name, v.version, c.n, v.task, v.metric, v.score, v.model, v.created FROM versions v "
                "JOIN (SELECT name, MAX(version) AS latest, COUNT(*) AS n FROM versions GROUP BY name) c "
                "ON v.name = c.name AND v.version = c.latest ORDER BY v.name").fetchall()
            stages = {r[0]: self._stages(conn, r[0]) for r in rows}
        frame = pd.DataFrame(rows, columns=["name", "latest", "versions", "task", "metric", "score", "model",
                                            "created"])
        frame["stages"] = [", ".join(f"{s}=v{v}" for s, v in sorted(stages[n].items())) for n in frame["name"]]
        frame["created"] = pd.to_datetime(frame["created"], unit="s")
        return frame

    def versions(self, name: str):
        """The versions of ``name``: version, created, metric, score ± std, model, stages, sha256, path."""
        import pandas as pd

        check_name(name)
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT version, created, task, metric, score, score_std, model, sha256, size, path "
                "FROM versions WHERE name = ? ORDER BY version", (name,)).fetchall()
            if not rows:
                self._raise_unknown(conn, name, "version")
            stages = self._stages(conn, name)
        frame = pd.DataFrame(rows, columns=["version", "created", "task", "metric", "score", "score_std",
                                            "model", "sha256", "size", "path"])
        frame["created"] = pd.to_datetime(frame["created"], unit="s")
        frame["stages"] = [", ".join(s for s, v in sorted(stages.items()) if v == version)
                           for version in frame["version"]]
        return frame

    def history(self, name: str):
        """Every stage change of ``name``, oldest first: time, stage, version, previous_version, reason, user."""
        import pandas as pd

        check_name(name)
        with self._connect() as conn:
            rows = conn.execute("SELECT id, time, stage, version, previous_version, reason, user FROM "
                                "stage_events WHERE name = ? ORDER BY id", (name,)).fetchall()
        frame = pd.DataFrame(rows, columns=["id", "time", "stage", "version", "previous_version", "reason",
                                            "user"])
        frame["time"] = pd.to_datetime(frame["time"], unit="s")
        for column in ("version", "previous_version"):  # None: stage cleared / first assignment
            frame[column] = frame[column].astype("Int64")
        return frame

    def compare(self, name: str, v1, v2):
        """Side-by-side cards of two versions: metric, scores, model, config, data, inputs, versions.

        ``v1``/``v2`` are version numbers or stage names. Returns a DataFrame
        with one row per field and a ``same`` column.
        """
        import pandas as pd

        cards = [self.card(f"{name}@{v}") for v in (v1, v2)]
        labels = [f"v{c.get('registry', {}).get('version', v)}" for c, v in zip(cards, (v1, v2))]

        def facts(card):
            metric = card.get("metric") or {}
            model = card.get("model") or {}
            schema = (card.get("input_schema") or {}).get("columns", [])
            data = card.get("training_data") or {}
            env = card.get("environment") or {}
            out = {"task": card.get("task"), "target": card.get("target"), "metric": metric.get("name"),
                   "metric_note": metric.get("note"),
                   "cv_score": metric.get("cv_score"), "cv_std": metric.get("cv_std"),
                   "holdout_score": metric.get("holdout_score"), "validation": metric.get("validation"),
                   "model": model.get("description"), "family": model.get("family"),
                   "config": json.dumps(model.get("config"), sort_keys=True),
                   "inputs": ", ".join(c["name"] for c in schema),
                   "training_rows": data.get("rows"), "training_sha256": data.get("sha256"),
                   "created": card.get("created"), "model_sha256": card.get("model_sha256")}
            out.update({f"version:{k}": v for k, v in env.items()})
            return out

        left, right = facts(cards[0]), facts(cards[1])
        fields = list(dict.fromkeys([*left, *right]))
        return pd.DataFrame({"field": fields, labels[0]: [left.get(f) for f in fields],
                             labels[1]: [right.get(f) for f in fields],
                             "same": [left.get(f) == right.get(f) for f in fields]})

    def backup(self, destination) -> dict:
        """Copy the registry to a new directory: a consistent snapshot of the database, the model
        files it records and the monitoring history, each checked after copying.

        The database is copied with SQLite's online backup, so registering, promoting or
        monitoring in another process may go on meanwhile. Only the files the snapshot records
        are copied (a file is complete before its row is committed). ``Registry(destination)``
        opens the copy; to restore, replace the project directory with it.

        Parameters
        ----------
        destination : str or Path
            A directory that does not exist yet (or is empty).

        Returns
        -------
        dict
            ``path``, ``versions`` (model files copied), ``bytes`` (their size) and
            ``integrity_check`` (of the copied database: ``"ok"``).
        """
        import shutil
        import tempfile

        from . import persist
        from .monitor.history import FILENAME as HISTORY

        destination = Path(destination)
        if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
            raise RegistryError(f"Cannot back up to {str(destination)!r}: it exists and is not an empty directory. "
                                "Give a new directory; a backup never overwrites files.", code="backup_exists",
                                path=str(destination))
        if not self.db_path.exists():
            raise RegistryError(f"There is no registry at {str(self.root)!r} to back up.", code="no_registry")
        destination.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".nbautoml-backup-", dir=destination.parent))
        try:
            with self._connect() as conn:  # the integrity check also makes sure the schema is current
                if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                    raise RegistryError(f"The registry {str(self.db_path)!r} fails SQLite's integrity check; "
                                        "it is not backed up as it is.", code="registry_corrupt")
            for name in (DB_NAME, HISTORY):
                if (self.root / name).exists():
                    source = sqlite3.connect(self.root / name, timeout=self.timeout)
                    copy = sqlite3.connect(staging / name)
                    try:
                        source.backup(copy)
                    finally:
                        copy.close()
                        source.close()
            copy = sqlite3.connect(staging / DB_NAME)
            try:
                rows = copy.execute("SELECT path, sha256, size FROM versions ORDER BY name, version").fetchall()
                check = copy.execute("PRAGMA integrity_check").fetchone()[0]
            finally:
                copy.close()
            total = 0
            for relative, sha256, size in rows:
                target = staging / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.root / relative, target)
                data = target.read_bytes()
                if len(data) != size or persist._sha256(data) != sha256:
                    raise RegistryError(f"{str(self.root / relative)!r} does not match its recorded SHA-256 and "
                                        "size: it was changed after it was registered; the backup stops here.",
                                        code="artifact_mismatch", path=str(self.root / relative))
                total += size
            if destination.exists():
                destination.rmdir()
            staging.rename(destination)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return {"path": str(destination), "versions": len(rows), "bytes": total, "integrity_check": check}

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` ("ok" when the database is sound)."""
        with self._connect() as conn:
            return conn.execute("PRAGMA integrity_check").fetchone()[0]


_VERSION_FILE = re.compile(r"^v(\d+)\.nbautoml$")


def recorded_file(path) -> ModelVersion | None:
    """The registry's record of a model file that lies in a registry's ``models`` directory.

    A file at ``ROOT/models/NAME/vN.nbautoml`` next to ``ROOT/registry.sqlite``
    is that registry's NAME@N; loading it by path must match the SHA-256
    recorded for it, as loading it by reference does. The registry is only
    read (never created).

    Returns
    -------
    ModelVersion or None
        None when the file is not in a registry's layout, or the registry has
        no record of it.
    """
    path = Path(path).resolve()
    match = _VERSION_FILE.match(path.name)
    if match is None or path.parent.parent.name != "models":
        return None
    root = path.parent.parent.parent
    if not (root / DB_NAME).is_file() or not _NAME.match(path.parent.name):
        return None
    registry = Registry(root)
    name, version = path.parent.name, int(match.group(1))
    with registry._connect() as conn:
        row = conn.execute("SELECT path, sha256, size, created FROM versions WHERE name = ? AND version = ?",
                           (name, version)).fetchone()
    if row is None or (root / row[0]).resolve() != path:
        return None
    return ModelVersion(name, version, path, row[1], row[2], row[3])


def _has_table(conn, table: str) -> bool:
    return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        (table,)).fetchone() is not None


def _create_policies(conn) -> None:
    """The append-only ``policies`` table, added on first use (older registries lack it)."""
    conn.execute("CREATE TABLE IF NOT EXISTS policies (id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT "
                 "NULL, name TEXT NOT NULL, policy TEXT, reason TEXT NOT NULL DEFAULT '', user TEXT)")
    for action in ("UPDATE", "DELETE"):
        conn.execute(f"CREATE TRIGGER IF NOT EXISTS policies_no_{action.lower()} BEFORE {action} ON policies "
                     "BEGIN SELECT RAISE(ABORT, 'policies is append-only'); END")


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return None


def register(model, name: str, *, stage: str | None = None, reason: str = "", registry=None) -> ModelVersion:
    """Register ``model`` as a new version of ``name`` in the project's registry.

    Same as ``Registry(registry).register(model, name, stage=stage, reason=reason)``;
    ``nbautoml.save(model, "registry:NAME")`` does the same.
    """
    return Registry(registry).register(model, name, stage=stage, reason=reason)


__all__ = ["ModelVersion", "Registry", "RegistryError", "check_name", "parse_ref", "project_dir", "recorded_file",
           "register"]


@contextmanager
def _exclusive_file_lock(path: Path, timeout: float):
    """An OS-level lock on ``path`` (``fcntl.flock``) for one process at a time; a no-op without fcntl."""
    try:
        import fcntl
    except ImportError:  # Windows: SQLite's own locking only
        yield
        return
    with open(path, "a+b") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise RegistryError(f"The registry {str(path.parent)!r} is being created by another "
                                        f"program and stayed locked for {timeout:g} s; retry.",
                                        code="registry_busy") from None
                time.sleep(0.02)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
