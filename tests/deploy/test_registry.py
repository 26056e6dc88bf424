"""The local model registry: versions, stages, history, references, names, concurrency."""

from __future__ import annotations

import multiprocessing
import sqlite3
import sys

import numpy as np
import pytest

import nbautoml
from nbautoml import persist
from nbautoml.persist import IntegrityError
from nbautoml.registry import Registry, RegistryError, project_dir
from tests.deploy.helpers import members, register_many, write_artifact


def test_project_dir_follows_nbautoml_home(tmp_path, monkeypatch):
    assert project_dir() == tmp_path / "nbautoml_home"  # set by the tests' conftest
    monkeypatch.delenv("NBAUTOML_HOME")
    assert str(project_dir()) == ".nbautoml"
    assert Registry().db_path == project_dir() / "registry.sqlite"


def test_register_stage_and_load_by_reference(fitted, titanic_artifact, tmp_path):
    fit = fitted("titanic")
    registry = Registry()
    first = registry.register(fit.result, "titanic", stage="production", reason="first model")
    second = nbautoml.save(titanic_artifact[0], "registry:titanic")  # a path registers too
    third = nbautoml.register(nbautoml.load(titanic_artifact[0]), "titanic", stage="staging")
    assert (first.version, second.version, third.version) == (1, 2, 3)
    assert first.path == registry.root / "models" / "titanic" / "v1.nbautoml" and first.path.is_file()
    assert first.stages == ("production",) and first.ref == "titanic@1"
    X = fit.X.head(50)
    expected = fit.result.predict(X)
    for ref, version in [("titanic", 3), ("titanic@latest", 3), ("titanic@2", 2), ("titanic@v1", 1),
                         ("titanic@production", 1), ("titanic@staging", 3)]:
        model = registry.load(ref)
        assert model.registry_ref_ == f"titanic@{version}"
        assert model.card["registry"] == {"name": "titanic", "version": version}
        np.testing.assert_array_equal(model.predict(X), expected)
    assert nbautoml.load("registry:titanic@production").registry_ref_ == "titanic@1"
    # a bare reference, as serve and monitor take it, when no file has that name
    assert nbautoml.load("titanic@production").registry_ref_ == "titanic@1"
    assert nbautoml.load("titanic").registry_ref_ == "titanic@3"
    with pytest.raises(nbautoml.persist.ArtifactError, match="No model file at 'titanc@2'.*Did you mean 'titanic'"):
        nbautoml.load("titanc@2")
    with pytest.raises(RegistryError, match=r"no version in stage 'prod'\. Did you mean titanic@production\?"):
        nbautoml.load("titanic@prod")

    registry.set_stage("titanic", 2, "production", reason="better on the May batch")
    registry.set_stage("titanic", 1, "production", reason="rollback: v2 failed checks")
    history = registry.history("titanic")
    rows = history[["stage", "version", "previous_version"]].astype(object)
    assert rows.where(rows.notna(), None).values.tolist() == [
        ["production", 1, None], ["staging", 3, None], ["production", 2, 1], ["production", 1, 2]]
    assert history["reason"].tolist()[-1] == "rollback: v2 failed checks"
    assert registry.get("titanic@production").version == 1

    versions = registry.versions("titanic")
    assert versions["version"].tolist() == [1, 2, 3]
    assert versions["stages"].tolist() == ["production", "", "staging"]
    assert versions["score"].tolist() == pytest.approx([fit.result.best_score_] * 3)
    listing = registry.list()
    assert listing.loc[0, "name"] == "titanic" and listing.loc[0, "latest"] == 3
    assert "production=v1" in listing.loc[0, "stages"]
    compared = registry.compare("titanic", 1, "staging").set_index("field")
    assert list(compared.columns) == ["v1", "v3", "same"]
    assert compared.loc["cv_score", "same"] and compared.loc["config", "same"]

    with pytest.raises(RegistryError, match=r"no version in stage 'canary'\. Current stages: \{'staging': 3, "
                       r"'production': 1\}\. Its latest version is titanic@3; set "
                       r"the stage with nbautoml\.Registry\(\)\.set_stage\('titanic', 3, 'canary'\)\.$") as info:
        registry.load("titanic@canary")
    assert info.value.code == "stage_not_set"
    with pytest.raises(RegistryError, match="versions are 1, 2, 3") as info:
        registry.load("titanic@7")
    assert info.value.code == "version_not_found"
    with pytest.raises(RegistryError, match="Did you mean 'titanic'") as info:
        registry.load("titanik")
    assert info.value.code == "model_not_found"
    with pytest.raises(RegistryError, match="version_not_found|versions are"):
        registry.set_stage("titanic", 9, "production")


def test_stage_history_is_append_only_and_stores_text_literally(fitted):
    registry = Registry()
    registry.register(fitted("titanic").result, "m")
    evil = "x'); DROP TABLE versions; --"
    registry.set_stage("m", 1, "production", reason=evil)
    assert registry.history("m")["reason"].tolist() == [evil]
    assert registry.versions("m")["version"].tolist() == [1]
    with sqlite3.connect(registry.db_path) as conn:
        for statement in ("UPDATE stage_events SET reason = 'edited'", "DELETE FROM stage_events"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(statement)
    assert registry.history("m")["reason"].tolist() == [evil]


@pytest.mark.parametrize("name", ["../escape", "a/b", "/etc/passwd", "a\\b", "..", "x\x00y", "", ".hidden",
                                  "x@y", "two words", "x'; DROP TABLE versions;--"])
def test_names_that_could_escape_the_registry_are_refused(titanic_artifact, tmp_path, name):
    registry = Registry(tmp_path / "reg")
    with pytest.raises(RegistryError, match="Invalid model name") as info:
        registry.register(titanic_artifact[0], name)
    assert info.value.code == "bad_name"
    with pytest.raises(RegistryError):
        registry.load(name)
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["reg"])
    assert not (tmp_path / "reg" / "models").exists()


def test_a_replaced_artifact_is_refused_by_the_registry_hash(fitted, titanic_artifact):
    registry = Registry()
    registry.register(fitted("titanic").result, "t")
    entry = registry.register(fitted("titanic").result, "t")
    # a perfectly valid artifact, but not the one registered as v2
    entry.path.write_bytes(registry.get("t@1").path.read_bytes())
    with pytest.raises(IntegrityError, match="not the expected file"):
        registry.load("t@2")
    registry.load("t@1")


def test_a_rewritten_artifact_that_agrees_with_its_own_card_is_refused_by_the_registry(fitted, tmp_path,
                                                                                       monkeypatch):
    """S-08: a swapped model with the card's hash fields (and the trailer) edited to match passes every check
    of its own; loaded by reference or by its path in the registry, the registry's SHA-256 refuses it."""
    import hashlib

    import skops.io as sio
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    registry = Registry()
    entry = registry.register(fitted("titanic").result, "t", stage="production")
    card, parts = members(entry.path)
    X, y = load_iris(return_X_y=True, as_frame=True)  # an allowlisted model: it would load
    parts["model.skops"] = sio.dumps(LogisticRegression(max_iter=500).fit(X, y))
    write_artifact(entry.path, card, parts)
    forged = hashlib.sha256(parts["model.skops"]).hexdigest()
    copy = tmp_path / "copy.nbautoml"
    copy.write_bytes(entry.path.read_bytes())
    assert nbautoml.read_card(copy)["model_sha256"] == forged  # consistent: the card cannot tell
    built = []
    monkeypatch.setattr(persist, "_construct", lambda *a, **k: built.append(a))
    for load in (lambda: registry.load("t@production"), lambda: nbautoml.load("t@1")):
        with pytest.raises(IntegrityError, match="not the expected file: SHA-256 mismatch"):
            load()
    for path in (entry.path, str(entry.path), registry.root / "models" / "t" / ".." / "t" / "v1.nbautoml"):
        with pytest.raises(IntegrityError, match=r"is t@1 of the registry .*, but not the file that was "
                                                 r"registered: SHA-256 mismatch with the registry's record") as info:
            nbautoml.load(path)
        assert info.value.code == "artifact_corrupt" and info.value.details["registry_ref"] == "t@1"
    with pytest.raises(IntegrityError, match="t@1 of the registry"):
        nbautoml.load(entry.path, verify=False)  # verify=False never overrides a failed check
    with pytest.raises(IntegrityError, match="t@1 of the registry"):
        registry.register(entry.path, "copy")  # registering the file loads it first
    for call in (lambda: nbautoml.read_card(entry.path),  # the card of a forged file is not shown either
                 lambda: nbautoml.write_api("registry:t@1", tmp_path / "api")):  # nor is it deployed
        with pytest.raises(IntegrityError, match="t@1 of the registry"):
            call()
    assert not (tmp_path / "api" / "model.nbautoml").exists()
    assert built == []


def test_a_file_in_the_registry_layout_without_a_record_loads_as_any_file(fitted, tmp_path):
    """Only the registry's own record is enforced: another project's copy of the layout loads as a file."""
    from nbautoml.registry import recorded_file

    source = Registry(tmp_path / "other")
    entry = source.register(fitted("titanic").result, "t")
    assert recorded_file(entry.path).sha256 == entry.sha256
    nbautoml.load(entry.path)
    (tmp_path / "other" / "registry.sqlite").unlink()  # no database: no record, no registry created
    assert recorded_file(entry.path) is None
    assert nbautoml.load(entry.path).task_ == "binary" and not (tmp_path / "other" / "registry.sqlite").exists()


def test_two_processes_registering_the_same_name_get_distinct_versions(tmp_path, monkeypatch):
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    artifact = nbautoml.save(LogisticRegression(max_iter=500).fit(X, y), tmp_path / "iris.nbautoml")
    root = tmp_path / "shared"
    # two fresh interpreters, as two notebooks are: a forked child inherits the test process's
    # threads and locks, and hung in about one full test run in four (not under spawn)
    context = multiprocessing.get_context("spawn")
    # under pytest-xdist (make test) the test process's __main__ is execnet's, which has no
    # __spec__ at all, and spawn reads it (AttributeError); None is what ``python -c`` has
    monkeypatch.setattr(sys.modules["__main__"], "__spec__", getattr(sys.modules["__main__"], "__spec__", None),
                        raising=False)
    barrier, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=register_many, args=(str(root), str(artifact), "race", 5, barrier, results))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    got = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert sorted(v for versions in got for v in versions) == list(range(1, 11))
    assert all(versions == sorted(versions) for versions in got)
    registry = Registry(root)
    assert registry.integrity_check() == "ok"
    assert registry.versions("race")["version"].tolist() == list(range(1, 11))
    for version in range(1, 11):
        assert registry.load(f"race@{version}").registry_ref_ == f"race@{version}"  # files match their hashes
    assert sorted(p.name for p in (root / "models" / "race").iterdir()) == sorted(
        f"v{i}.nbautoml" for i in range(1, 11))


def test_register_never_overwrites_a_model_file_the_database_does_not_list(tmp_path):
    import shutil

    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True, as_frame=True)
    registry = Registry(tmp_path / "reg")
    first = registry.register(LogisticRegression(max_iter=500).fit(X, y), "m")
    shutil.copy(registry.db_path, tmp_path / "backup.sqlite")  # a backup holding v1 only
    second = registry.register(LogisticRegression(max_iter=500, C=0.5).fit(X, y), "m")
    files = {p: p.read_bytes() for p in (first.path, second.path)}

    for db in registry.root.glob("registry.sqlite*"):  # e.g. a sync tool or `git clean` removes it
        db.unlink()
    with pytest.raises(RegistryError, match="v1.nbautoml' already exists.*no record.*deleted or replaced"
                                            ".*restore registry.sqlite from a backup.*, or move") as info:
        registry.register(DecisionTreeClassifier().fit(X, y), "m")
    assert info.value.code == "unrecorded_artifact" and info.value.details["path"] == str(first.path)

    shutil.copy(tmp_path / "backup.sqlite", registry.db_path)  # an older copy of the database
    with pytest.raises(RegistryError, match="v2.nbautoml' already exists.*only up to version 1 of 'm'") as info:
        registry.register(DecisionTreeClassifier().fit(X, y), "m")
    assert info.value.code == "unrecorded_artifact"
    assert {p: p.read_bytes() for p in files} == files  # nothing was overwritten
    assert registry.versions("m")["version"].tolist() == [1]

    second.path.rename(tmp_path / "v2-moved-away.nbautoml")  # the fix the message gives
    assert registry.register(DecisionTreeClassifier().fit(X, y), "m").version == 2


def test_backup_copies_a_consistent_registry_that_loads_and_refuses_a_changed_file(tmp_path, monkeypatch):
    """Registry.backup: SQLite's online backup of the database and the monitoring history, and
    the model files it records, each checked against its SHA-256 (audit P-08: no backup existed,
    though the error for a lost database tells the user to restore one)."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    monkeypatch.setenv("NBAUTOML_HOME", str(tmp_path / "reg"))  # the registry and the monitoring history
    registry = Registry()
    registry.register(LogisticRegression(max_iter=500).fit(X, y), "m")
    searched = nbautoml.AutoML(max_evals=1, time_budget=None, n_jobs=1, ensemble=False, models=["logistic_regression"],
                               search_dir=tmp_path / "runs").fit(X.assign(species=y), target="species")
    registry.register(searched, "m", stage="production", reason="r")  # has a monitoring profile
    nbautoml.monitor(registry.load("m@production"), X)
    assert (registry.root / "monitor.sqlite").exists()
    summary = registry.backup(tmp_path / "backup")
    assert summary["versions"] == 2 and summary["integrity_check"] == "ok" and summary["bytes"] > 0
    copy = Registry(tmp_path / "backup")
    assert copy.versions("m")["version"].tolist() == [1, 2]
    assert np.array_equal(copy.load("m@production").predict(X), registry.load("m@2").predict(X))
    assert (tmp_path / "backup" / "monitor.sqlite").exists()

    with pytest.raises(RegistryError, match="not an empty directory.*never overwrites") as info:
        registry.backup(tmp_path / "backup")
    assert info.value.code == "backup_exists"
    path = registry.get("m@1").path
    path.write_bytes(path.read_bytes()[:-1] + b"x")  # changed after it was registered
    with pytest.raises(RegistryError, match="does not match its recorded SHA-256") as info:
        registry.backup(tmp_path / "second")
    assert info.value.code == "artifact_mismatch"
    assert not (tmp_path / "second").exists() and not list(tmp_path.glob(".nbautoml-backup-*"))


def test_a_registry_locked_by_another_program_is_a_short_error_after_the_timeout(tmp_path):
    """RELIABILITY P-06: a writer that holds the lock (another notebook, a DB browser) makes a
    register wait ``timeout`` seconds, then fail with ``registry_busy``; nothing is half written."""
    import time

    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    registry = Registry(tmp_path / "reg", timeout=0.5)
    registry.register(model, "iris")
    holder = sqlite3.connect(registry.db_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.perf_counter()
        with pytest.raises(RegistryError, match="stayed locked for 0.5 s by another program. Close it") as info:
            registry.register(model, "iris")
        assert info.value.code == "registry_busy" and 0.4 < time.perf_counter() - started < 5
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert registry.versions("iris")["version"].tolist() == [1]
    assert sorted(p.name for p in (tmp_path / "reg" / "models" / "iris").iterdir()) == ["v1.nbautoml"]
    assert registry.register(model, "iris").version == 2  # the lock gone, it works again
