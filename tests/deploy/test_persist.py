"""Saving and loading: round trips, model card, integrity, pickle refusal, allowlist, versions, atomicity."""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest

import nbautoml
from nbautoml import persist
from nbautoml.persist import (
    ArtifactError,
    EnvironmentMismatchError,
    IntegrityError,
    LoadedModel,
    UnsafeLoadWarning,
    UntrustedArtifactError,
    VersionMismatchWarning,
)
from tests.deploy.helpers import SENTINEL_ENV, Payload, SentinelTransformer, members, write_artifact

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_construct(monkeypatch):
    """Fail the test if skops is asked to build anything."""
    import skops.io

    def refuse(*args, **kwargs):
        raise AssertionError("skops.io.loads was called on a file that should have been refused")

    monkeypatch.setattr(skops.io, "loads", refuse)


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", ["titanic", "house", "CTG"])
def test_round_trip_predicts_identically_and_mirrors_automl(fitted, tmp_path, name):
    fit = fitted(name)
    result = fit.result
    path = nbautoml.save(result, tmp_path / "model")
    assert path.name == "model.nbautoml" and path.is_file()
    model = nbautoml.load(path)
    assert isinstance(model, LoadedModel)
    X = fit.X
    np.testing.assert_array_equal(model.predict(X), result.predict(X))
    if result.task_ != "regression":
        np.testing.assert_array_equal(model.predict_proba(X), result.predict_proba(X))
        np.testing.assert_array_equal(model.classes_, result.classes_)
    assert model.score(fit.frame) == pytest.approx(result.score(fit.frame))
    for attr in ("task_", "target_", "metric_", "greater_is_better_", "best_score_", "best_score_std_",
                 "best_config_", "metric_note_", "preference_"):
        assert getattr(model, attr) == getattr(result, attr), attr
    assert list(model.feature_names_in_) == list(result.feature_names_in_)
    assert model.plan_.used == result.plan_.used
    assert model.best_pipeline is model.best_pipeline_
    assert (model.reference_profile_ is None) == (getattr(result, "reference_profile_", None) is None)
    assert result.target_ in repr(model) and "<table>" in model._repr_html_()


def test_the_skops_schema_is_written_on_one_line_and_skops_is_left_as_it_was(fitted, monkeypatch):
    """skops indents its schema.json, and an indent runs json's pure-Python encoder (1.9 of
    3.4 s for titanic's ensemble): the model's schema is written compact and reads back."""
    import threading

    import skops.io
    import skops.io._persist as writer

    result = fitted("titanic").result
    pipeline = persist._fitted_pipeline(result)
    data = persist._skops_dumps(pipeline)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        schema = zf.read("schema.json").decode()
    assert "\n" not in schema and json.loads(schema)["protocol"] >= 1
    assert writer.json is json  # skops' own json again, for every other caller
    X = fitted("titanic").X
    rebuilt = skops.io.loads(data, trusted=skops.io.get_untrusted_types(data=data))
    np.testing.assert_allclose(rebuilt.predict_proba(X), pipeline.predict_proba(X), rtol=0, atol=1e-12)

    def refuse(obj, save_context):
        raise RuntimeError("cannot save this")

    with monkeypatch.context() as patch, pytest.raises(RuntimeError, match="cannot save this"):
        patch.setattr(writer, "get_state", refuse)  # a failing save undoes the swap too
        persist._skops_dumps(pipeline)
    assert writer.json is json
    threads = [threading.Thread(target=persist._skops_dumps, args=(pipeline,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert writer.json is json

def test_a_saved_model_keeps_why_its_metric_and_its_pipeline_were_chosen(tmp_path):
    """The metric note (D-11: balanced_accuracy on a 200:5:5 target) and the preference note survive a
    save and a load: card, attributes, summary, repr; a card saved before they were kept still loads."""
    import html
    import warnings

    import pandas as pd

    from nbautoml import AutoML

    rng = np.random.default_rng(0)
    y = np.array(["a"] * 200 + ["b"] * 5 + ["c"] * 5)
    df = pd.DataFrame({"x1": rng.normal(size=len(y)) + 3 * (y == "b"),
                       "x2": rng.normal(size=len(y)) + 3 * (y == "c"), "y": y})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = AutoML(max_evals=2, time_budget=None, models=["logistic_regression"], n_jobs=1, ensemble=False,
                        seed=0, search_dir=tmp_path / "runs").fit(df, target="y")
    note = "chosen by metric='auto': classes 200:5:5; accuracy would reward predicting the majority"
    assert result.metric_ == "balanced_accuracy" and result.metric_note_ == note and result.preference_
    path = nbautoml.save(result, tmp_path / "imbalanced")
    card = nbautoml.read_card(path)
    assert card["metric"]["note"] == note
    assert card["search"]["preference"] == result.preference_ and card["search"]["prefer"] == "accurate"
    model = nbautoml.load(path)
    assert model.metric_note_ == note and model.summary()["metric_note"] == note
    assert f"  Metric: balanced_accuracy ({note})" in repr(model).splitlines()
    assert html.escape(note) in model._repr_html_()
    assert model.preference_ == result.preference_ and model.summary()["preference"] == result.preference_
    assert "Preference" not in repr(model)  # as on AutoML: shown when prefer is not "accurate" or it traded
    fast = LoadedModel(model.best_pipeline_, dict(card, search=dict(card["search"], prefer="fast")))
    assert f"  Preference (fast): {result.preference_}" in repr(fast).splitlines()
    again = nbautoml.load(nbautoml.save(model, tmp_path / "again"))  # a loaded model saved again keeps them
    assert again.metric_note_ == note and again.preference_ == result.preference_
    old_card, parts = members(path)  # a card written before the notes were kept
    del old_card["metric"]["note"]
    for key in ("prefer", "preference", "traded"):
        del old_card["search"][key]
    write_artifact(tmp_path / "old.nbautoml", old_card, parts)
    old = nbautoml.load(tmp_path / "old.nbautoml")
    assert old.metric_note_ is None and old.preference_ is None and old.metric_ == "balanced_accuracy"
    assert "Metric:" not in repr(old) and old.summary()["metric_note"] is None


def test_model_card_contents(fitted, titanic_artifact):
    result = fitted("titanic").result
    path, data = titanic_artifact
    with zipfile.ZipFile(path) as zf:  # plain JSON inside a plain zip, readable without nbautoml
        card = json.loads(zf.read("card.json"))
        model_bytes = zf.read("model.skops")
    assert card == nbautoml.read_card(path)
    assert card["format"] == "nbautoml-model" and card["task"] == "binary" and card["target"] == "Survived"
    assert card["classes"] == [0, 1]
    assert card["metric"]["name"] == result.metric_
    assert card["metric"]["cv_score"] == pytest.approx(result.best_score_)
    assert card["metric"]["cv_std"] == pytest.approx(result.best_score_std_)
    assert card["model"]["config"] == result.best_config_
    assert card["training_data"]["rows"] == result.data_fingerprint_["rows"] == 891
    assert card["training_data"]["sha256"] == result.data_fingerprint_["sha256"]
    assert card["search"]["seed"] == 0 and card["search"]["max_evals"] == 1
    env = card["environment"]
    assert env["nbautoml"] == nbautoml.__version__
    assert {"python", "scikit-learn", "skops", "numpy"} <= set(env)
    assert card["model_sha256"] == hashlib.sha256(model_bytes).hexdigest()
    assert card["files"]["model.skops"]["size"] == len(model_bytes)
    columns = {c["name"]: c for c in card["input_schema"]["columns"]}
    assert set(columns) == set(result.plan_.used)
    assert columns["Sex"]["role"] == "categorical" and columns["Sex"]["categories"] == ["female", "male"]
    assert columns["Age"]["role"] == "numeric" and columns["Age"]["min"] == pytest.approx(0.42)
    assert columns["Age"]["max"] == 80 and columns["Name"]["role"] == "text"
    assert "T" in card["created"]
    if getattr(result, "reference_profile_", None) is not None:
        assert card["reference_profile"] == "reference_profile.json"
        assert "reference_profile.json" in card["files"]


def test_bare_pipeline_saves_and_loads(tmp_path):
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    pipe = LogisticRegression(max_iter=500).fit(X, y)
    model = nbautoml.load(nbautoml.save(pipe, tmp_path / "iris.nbautoml"))
    np.testing.assert_array_equal(model.predict(X), pipe.predict(X))
    assert model.task_ == "multiclass" and model.target_ is None
    with pytest.raises(nbautoml.exceptions.DataError, match="sepal width") as info:
        model.predict(X.drop(columns=["sepal width (cm)"]))
    assert info.value.code == "missing_columns"


def test_a_file_without_a_manifest_needs_verify_false_or_its_sha256(tmp_path, monkeypatch):
    """S-08: no card (a bare skops file, or an artifact whose card.json was taken out) and no registry
    record: nothing can show the file was swapped, so it loads only with verify=False or a known SHA-256."""
    import skops.io as sio
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    X, y = load_iris(return_X_y=True, as_frame=True)
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    bare = tmp_path / "forest.skops"
    sio.dump(forest, bare)
    stripped = tmp_path / "stripped.nbautoml"  # a saved artifact without its card.json
    _card, parts = members(nbautoml.save(forest, tmp_path / "forest.nbautoml"))
    with zipfile.ZipFile(stripped, "w") as zf:
        for name, blob in parts.items():
            zf.writestr(name, blob)
    built = []
    with monkeypatch.context() as patch:
        patch.setattr(persist, "_construct", lambda *a, **k: built.append(a) or forest)
        for path, why in [(bare, "bare skops file"), (stripped, "manifest .* is missing")]:
            with pytest.raises(ArtifactError, match=rf"{why}.*integrity cannot be verified.*verify=False") as info:
                nbautoml.load(path)
            assert info.value.code == "integrity_unverified" and str(path) in str(info.value)
            with pytest.raises(IntegrityError, match="SHA-256 mismatch"):
                nbautoml.load(path, sha256="0" * 64)
    assert built == []  # nothing was built from a refused file
    for path in (bare, stripped):
        with pytest.warns(UserWarning, match="without a model card: its integrity and library versions cannot "
                                             r"be checked \(loaded with verify=False\)"):
            model = nbautoml.load(path, verify=False)
        np.testing.assert_array_equal(model.predict(X), forest.predict(X))
    with pytest.warns(UserWarning, match="without a model card: its library versions cannot be checked"):
        model = nbautoml.load(bare, sha256=hashlib.sha256(bare.read_bytes()).hexdigest())
    np.testing.assert_array_equal(model.predict(X), forest.predict(X))


# --------------------------------------------------------------------------- integrity


def test_flipped_byte_anywhere_is_refused_before_deserialising(titanic_artifact, tmp_path, no_construct):
    _path, data = titanic_artifact
    rng = np.random.default_rng(0)
    positions = sorted({0, 5, 40, len(data) // 2, len(data) - 1, len(data) - 30, len(data) - 90,
                        *rng.integers(0, len(data), 12).tolist()})
    for pos in positions:
        bad = bytearray(data)
        bad[pos] ^= 0x01
        target = tmp_path / f"flip{pos}.nbautoml"
        target.write_bytes(bytes(bad))
        with pytest.raises(ArtifactError) as info:
            nbautoml.load(target)
        assert info.value.code in ("artifact_corrupt", "not_an_artifact"), (pos, str(info.value))
        assert str(target) in str(info.value)


def test_flip_inside_model_reports_sha256_mismatch(titanic_artifact, tmp_path, no_construct):
    _path, data = titanic_artifact
    with zipfile.ZipFile(_path) as zf:
        info = zf.getinfo("model.skops")
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.file_size // 2
    bad = bytearray(data)
    bad[offset] ^= 0xFF
    (tmp_path / "m.nbautoml").write_bytes(bytes(bad))
    with pytest.raises(IntegrityError, match="SHA-256 mismatch") as err:
        nbautoml.load(tmp_path / "m.nbautoml")
    assert err.value.code == "artifact_corrupt" and "modified" in str(err.value)


def test_swapped_model_with_rebuilt_zip_is_refused_by_the_card(titanic_artifact, tmp_path, no_construct):
    """A forger rebuilds a valid zip and trailer but keeps the card: the member hash betrays it."""
    import skops.io as sio
    from sklearn.dummy import DummyClassifier

    card, parts = members(titanic_artifact[0])
    parts["model.skops"] = sio.dumps(DummyClassifier().fit([[0], [1]], [0, 1]))
    write_artifact(tmp_path / "swap.nbautoml", card, parts, fix_hashes=False)
    with pytest.raises(IntegrityError, match="does not match the card"):
        nbautoml.load(tmp_path / "swap.nbautoml")


@pytest.fixture
def no_unpacking(monkeypatch):
    """Fail the test if a zip member larger than 1 MiB once unpacked is opened."""
    original = zipfile.ZipFile.open

    def guarded(self, name, mode="r", *args, **kwargs):
        if mode == "r":
            info = name if isinstance(name, zipfile.ZipInfo) else self.getinfo(name)
            assert info.file_size <= 2**20, f"{info.filename} ({info.file_size:,} bytes) was unpacked"
        return original(self, name, mode, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", guarded)


def test_a_json_part_that_inflates_too_far_is_refused_unread(titanic_artifact, tmp_path, no_unpacking):
    card, parts = members(titanic_artifact[0])
    parts["reference_profile.json"] = b" " * (persist._MAX_JSON_BYTES + 1) + b"{}"  # ~70 kB deflated
    target = tmp_path / "bomb.nbautoml"
    write_artifact(target, card, parts, compression=zipfile.ZIP_DEFLATED)
    assert target.stat().st_size < 2 * len(titanic_artifact[1])
    for read in (nbautoml.load, nbautoml.read_card):
        with pytest.raises(IntegrityError, match=rf"reference_profile.json declares "
                                                 rf"{persist._MAX_JSON_BYTES + 3:,} bytes.*zip bomb") as info:
            read(target)
        assert info.value.details["member"] == "reference_profile.json"


def test_parts_that_inflate_past_a_multiple_of_the_file_size_are_refused_unread(titanic_artifact, tmp_path,
                                                                                no_unpacking, monkeypatch):
    monkeypatch.setattr(persist, "_MIN_INFLATE_CAP", 0)  # the cap is then 200 x the file's size
    card, parts = members(titanic_artifact[0])
    padding = bytes(persist._MAX_INFLATE_RATIO * 2 * len(titanic_artifact[1]))
    target = tmp_path / "padded.nbautoml"
    write_artifact(target, card, {**parts, "padding.bin": padding}, compression=zipfile.ZIP_DEFLATED)
    with pytest.raises(IntegrityError, match=rf"its parts declare .* once unpacked.*the largest, padding.bin, "
                                             rf"{len(padding):,}\).*zip bomb") as info:
        nbautoml.load(target)
    assert info.value.details == {"path": str(target), "member": "padding.bin", "size": len(padding)}


def test_an_array_header_declaring_a_huge_shape_is_an_artifact_error(titanic_artifact, tmp_path):
    import io

    from numpy.lib import format as npy

    card, parts = members(titanic_artifact[0])
    source, forged, done = zipfile.ZipFile(io.BytesIO(parts["model.skops"])), io.BytesIO(), False
    with zipfile.ZipFile(forged, "w") as zf:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename.endswith(".npy") and not done:
                stream = io.BytesIO(data)
                v1 = npy.read_magic(stream) == (1, 0)
                shape, fortran, dtype = (npy.read_array_header_1_0 if v1 else npy.read_array_header_2_0)(stream)
                if not dtype.hasobject and shape:  # the first numeric array now declares 2**44 rows
                    header = io.BytesIO()
                    (npy.write_array_header_1_0 if v1 else npy.write_array_header_2_0)(header, {
                        "descr": npy.dtype_to_descr(dtype), "fortran_order": fortran, "shape": (2**44, *shape[1:])})
                    data, done = header.getvalue() + data[stream.tell():], True
            zf.writestr(info.filename, data)
    assert done
    write_artifact(tmp_path / "huge.nbautoml", card, {**parts, "model.skops": forged.getvalue()})
    with pytest.raises(ArtifactError, match="declares arrays too large to be a genuine model") as info:
        nbautoml.load(tmp_path / "huge.nbautoml")
    assert info.value.code == "arrays_too_large" and "model.skops" in str(info.value)


def test_truncated_file_is_refused(titanic_artifact, tmp_path, no_construct):
    path, data = titanic_artifact
    with zipfile.ZipFile(path) as zf:  # a cut right after the (zip) model part ends on its end record
        info = zf.getinfo("model.skops")
    model_end = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size
    for size in sorted({100, len(data) // 4, len(data) // 2, model_end, len(data) - 22, len(data) - 1}):
        target = tmp_path / f"cut{size}.nbautoml"
        target.write_bytes(data[:size])
        with pytest.raises(IntegrityError, match="truncated or damaged.*not fully written") as info:
            nbautoml.load(target)
        assert info.value.code == "artifact_corrupt" and f"{size:,} bytes" in str(info.value)


def test_empty_missing_and_directory_paths_have_distinct_errors(tmp_path, monkeypatch):
    (tmp_path / "empty.nbautoml").write_bytes(b"")
    with pytest.raises(IntegrityError, match="empty"):
        nbautoml.load(tmp_path / "empty.nbautoml")
    with pytest.raises(ArtifactError, match="No model file") as info:
        nbautoml.load(tmp_path / "nope.nbautoml")
    assert info.value.code == "file_not_found"
    with pytest.raises(ArtifactError, match="is a directory") as info:
        nbautoml.load(tmp_path)
    assert info.value.code == "not_an_artifact"
    home = tmp_path / "home"
    monkeypatch.setenv("NBAUTOML_HOME", str(home))
    with pytest.raises(ArtifactError, match="no model registry at .* Give the path") as info:
        nbautoml.load("churn@production")  # read as a registry reference: no registry exists
    assert info.value.code == "file_not_found" and not home.exists()  # looking created none
    (tmp_path / "text.nbautoml").write_text("hello")
    with pytest.raises(ArtifactError, match="not an nbautoml artifact"):
        nbautoml.load(tmp_path / "text.nbautoml")


# --------------------------------------------------------------------------- pickles


@pytest.mark.parametrize("suffix,writer", [
    (".nbautoml", "pickle"), (".skops", "pickle"), (".pkl", "pickle"), (".joblib", "joblib-zlib"),
])
def test_pickle_payload_is_never_run_by_default(tmp_path, suffix, writer):
    sentinel = tmp_path / "PWNED"
    path = tmp_path / f"model{suffix}"
    if writer == "pickle":
        path.write_bytes(pickle.dumps(Payload(sentinel), protocol=4))
    else:
        joblib.dump(Payload(sentinel), path, compress=3)
    with pytest.raises(ArtifactError, match="not loaded") as info:
        nbautoml.load(path)
    assert info.value.code == "pickle_refused"
    assert "allow_pickle=True" in str(info.value) and "runs" in str(info.value)
    with pytest.raises(ArtifactError, match="allow_pickle=True") as info:
        nbautoml.load(path, format="pickle")
    assert not sentinel.exists()
    # the explicit opt-in does unpickle: the payload runs (so the checks above can fail)
    with pytest.warns(UnsafeLoadWarning), pytest.raises(nbautoml.exceptions.ConfigError):
        nbautoml.load(path, format="pickle", allow_pickle=True, verify=False)
    assert sentinel.exists()


@pytest.mark.parametrize("writer", ["pickle", "joblib-zlib"])
def test_opt_in_pickle_whose_hash_is_on_no_record_is_refused_unless_overridden(tmp_path, writer):
    """S-12: allow_pickle=True alone does not unpickle a file on no record; its SHA-256 or verify=False does."""
    sentinel = tmp_path / "PWNED"
    path = tmp_path / "model.pkl"
    if writer == "pickle":
        path.write_bytes(pickle.dumps(Payload(sentinel), protocol=4))
    else:
        joblib.dump(Payload(sentinel), path, compress=3)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    for format in ("pickle", "joblib"):
        with pytest.raises(ArtifactError, match=r"was not unpickled: allow_pickle=True is not enough .*SHA-256 "
                                                rf"\({digest[:16]}…\) is on no record.*sha256=.*verify=False") as info:
            nbautoml.load(path, format=format, allow_pickle=True)
        assert info.value.code == "pickle_unverified" and info.value.details["sha256"] == digest
        with pytest.raises(IntegrityError, match="not the expected file: SHA-256 mismatch"):
            nbautoml.load(path, format=format, allow_pickle=True, sha256="0" * 64)
        with pytest.raises(ArtifactError, match="needs allow_pickle=True"):  # the SHA-256 alone is not an opt-in
            nbautoml.load(path, format=format, sha256=digest, verify=False)
    assert not sentinel.exists()
    with pytest.warns(UnsafeLoadWarning), pytest.raises(nbautoml.exceptions.ConfigError):
        nbautoml.load(path, format="pickle", allow_pickle=True, sha256=digest)  # the recorded hash: unpickled
    assert sentinel.exists()


def test_explicit_pickle_of_a_pipeline_loads(tmp_path):
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    pipe = LogisticRegression(max_iter=500).fit(X, y)
    joblib.dump(pipe, tmp_path / "lr.joblib")
    with pytest.warns(UnsafeLoadWarning, match="runs the code"):
        model = nbautoml.load(tmp_path / "lr.joblib", format="joblib", allow_pickle=True, verify=False)
    np.testing.assert_array_equal(model.predict(X), pipe.predict(X))


# --------------------------------------------------------------------------- allowlist


def _sentinel_pipeline():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X, y = load_iris(return_X_y=True, as_frame=True)
    return make_pipeline(SentinelTransformer(), LogisticRegression(max_iter=500)).fit(X, y), X


def test_untrusted_type_is_refused_and_named(tmp_path, monkeypatch, capsys):
    import skops.io as sio

    sentinel = tmp_path / "CONSTRUCTED"
    monkeypatch.setenv(SENTINEL_ENV, str(sentinel))
    pipe, X = _sentinel_pipeline()
    name = "tests.deploy.helpers.SentinelTransformer"
    with pytest.warns(UserWarning, match="outside nbautoml's allowlist"):
        path = nbautoml.save(pipe, tmp_path / "custom")
    sio.dump(pipe, tmp_path / "custom.skops")
    for target in (path, tmp_path / "custom.skops"):
        with pytest.raises(UntrustedArtifactError) as info:
            nbautoml.load(target, verify=target.suffix == ".nbautoml")
        assert info.value.code == "untrusted_types"
        assert info.value.details["types"] == [name]
        assert name in str(info.value) and "trusted=" in str(info.value)
    assert not sentinel.exists()
    # the command line names its own option, not load()'s argument
    from nbautoml.cli import main

    X.to_csv(tmp_path / "rows.csv", index=False)
    command = ["predict", str(path), str(tmp_path / "rows.csv"), "--out", str(tmp_path / "p.csv")]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert f"If you trust the file's source and have reviewed these types, add --trusted {name}." in err, err
    assert "trusted=[" not in err and not sentinel.exists()
    assert main([*command, "--trusted", name, "--quiet"]) == 0 and sentinel.exists()
    sentinel.unlink()
    model = nbautoml.load(path, trusted=[name])  # after review, the user can trust it
    assert sentinel.exists()
    np.testing.assert_array_equal(model.predict(X), pipe.predict(X))


def test_skops_default_trusted_types_outside_the_allowlist_are_refused(tmp_path):
    """skops trusts every sklearn estimator by default; nbautoml trusts only its search space's types."""
    from sklearn.datasets import load_iris
    from sklearn.neighbors import NearestCentroid

    X, y = load_iris(return_X_y=True, as_frame=True)
    with pytest.warns(UserWarning, match="NearestCentroid"):
        path = nbautoml.save(NearestCentroid().fit(X, y), tmp_path / "nc")
    with pytest.raises(UntrustedArtifactError, match="NearestCentroid"):
        nbautoml.load(path)


def test_allowlist_covers_every_family_of_the_search_space():
    """S-14: every family (preprocessing variants, ensembles) saves with no type outside the allowlist."""
    import warnings

    import pandas as pd
    import skops.io as sio
    from threadpoolctl import threadpool_limits

    from nbautoml.engine.data import plan_columns
    from nbautoml.engine.ensemble import build_ensemble
    from nbautoml.engine.space import FAMILIES, build_pipeline, pre_params
    from nbautoml.neighbor_trees import neighbor_models, trees_left_out

    rng = np.random.default_rng(0)
    n = 60
    words = np.array(["red", "blue", "green", "cat", "dog", "fish", "sun"])
    X = pd.DataFrame({
        "a": rng.normal(size=n), "b": rng.integers(0, 5, n).astype(float),
        "c": rng.choice(["x", "y", "z"], n),
        "d": pd.date_range("2020-01-01", periods=n, freq="37h").astype(str),
        "t": [" ".join(rng.choice(words, 5)) for _ in range(n)],
        # numbers stored as text, "?" for a missing one: read by NumbersFromText
        "s": [f"{v:.2f}" if v > -1 else "?" for v in rng.normal(size=n)],
    })
    plan = plan_columns(X)
    assert [c.role for c in plan.columns] == ["numeric", "numeric", "categorical", "datetime", "text", "numeric"]
    targets = {"binary": rng.choice(["no", "yes"], n), "multiclass": rng.integers(0, 3, n),
               "regression": rng.normal(size=n)}
    small = {"n_estimators": 5, "max_iter": 20}  # same fitted types, a fraction of the time
    seen = set()
    for task, y in targets.items():
        for family, spec in FAMILIES.items():
            if task not in spec.tasks:
                continue
            pre = {p.name: p.default for p in pre_params(spec, True, True)}
            variants = [{}]
            if family in ("ridge", "hist_gradient_boosting"):  # scaled / dense-only preprocessing paths
                other = "ordinal" if pre.get("cat_encoding") == "onehot" else "onehot"
                variants += [{"cat_encoding": other, "select_percentile": 50, "scaler": "robust"},
                             {"scaler": "minmax"}]
            if spec.splines:  # numbers through B-splines (SplineTransformer, scipy BSplines)
                variants.append({"splines": True})
            params = {p.name: small.get(p.name, p.default) for p in spec.params}
            for variant in variants:
                config = {"family": family, "params": params, "pre": {**pre, **variant}}
                pipe = build_pipeline(config, plan, task, random_state=0)
                if family == "mlp":  # a regressor is fitted on the standardized target
                    key = "model__regressor__max_iter" if task == "regression" else "model__max_iter"
                    pipe.set_params(**{key: 20})
                with warnings.catch_warnings(), threadpool_limits(1):  # OpenMP threads only slow tiny fits
                    warnings.simplefilter("ignore")
                    pipe.fit(X, y)
                with trees_left_out(pipe):  # as nbautoml.save writes it
                    seen |= persist._types_in_skops(sio.dumps(pipe))
        # on a few dense columns k-NN keeps a KDTree (the text above makes the features sparse)
        dense = X[["a", "b"]]
        knn = build_pipeline({"family": "knn", "params": {}, "pre": {}}, plan_columns(dense), task).fit(dense, y)
        assert [m._fit_method for m in neighbor_models(knn)] == ["kd_tree"]
        with trees_left_out(knn):
            seen |= persist._types_in_skops(sio.dumps(knn))
        # AutoML(ensemble=...) wraps fitted pipelines in a soft-voting step
        members = [(f, build_pipeline({"family": f, "params": {}, "pre": {}}, plan, task), 1)
                   for f in ("ridge", "decision_tree")]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            seen |= persist._types_in_skops(sio.dumps(build_ensemble(members, task).fit(X, y)))
    outside = seen - persist.ALLOWED_TYPES
    assert not outside, f"types produced by the search space but not in the allowlist: {sorted(outside)}"
    roots = {t.split(".")[0] for t in persist.ALLOWED_TYPES}
    assert roots <= {"builtins", "numpy", "scipy", "sklearn", "nbautoml"}


def test_a_knn_model_on_few_columns_is_saved_without_its_tree_and_predicts_the_same(datasets_dir, tmp_path):
    """glass (9 numbers): k-NN keeps a KDTree, whose node indices scikit-learn reads back unchecked.
    A model `nbautoml run` saved could not be loaded by `nbautoml predict` (KDTree and
    EuclideanDistance64 are not on the allowlist); now the file holds the training points and
    the loader builds the same tree."""
    import pandas as pd

    from nbautoml.cli import main
    from nbautoml.neighbor_trees import neighbor_models

    frame = pd.read_csv(datasets_dir / "glass.csv")
    X = frame.drop(columns=["Type"])
    result = nbautoml.AutoML(max_evals=2, models=["knn"], n_jobs=1, seed=0, ensemble=False).fit(frame, target="Type")
    fitted = neighbor_models(result.best_pipeline_)
    assert [(m._fit_method, type(m._tree).__name__) for m in fitted] == [("kd_tree", "KDTree")]
    path = tmp_path / "knn.nbautoml"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "types outside nbautoml's allowlist" warning
        nbautoml.save(result, path)
    assert type(fitted[0]._tree).__name__ == "KDTree"  # the model in memory keeps its tree
    card, parts = members(path)
    types = persist._types_in_skops(parts["model.skops"])
    assert not {t for t in types if "tree" in t.lower() or "dist_metrics" in t}, sorted(types)
    loaded = nbautoml.load(path)  # nothing to trust
    rebuilt = neighbor_models(loaded.best_pipeline_)
    assert [(m._fit_method, type(m._tree).__name__) for m in rebuilt] == [("kd_tree", "KDTree")]
    np.testing.assert_array_equal(rebuilt[0]._tree.get_arrays()[1], fitted[0]._tree.get_arrays()[1])
    np.testing.assert_array_equal(loaded.predict_proba(X), result.predict_proba(X))
    frame.to_csv(tmp_path / "glass.csv", index=False)
    assert main(["predict", str(path), str(tmp_path / "glass.csv"), "--out", str(tmp_path / "p.csv"), "--quiet"]) == 0
    assert (pd.read_csv(tmp_path / "p.csv")["predicted Type"] == result.predict(X)).all()


def test_a_knn_model_whose_saved_search_method_is_unknown_is_refused(tmp_path):
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline

    from nbautoml.neighbor_trees import TREE_METHOD

    rng = np.random.default_rng(0)
    pipe = make_pipeline(KNeighborsClassifier(algorithm="brute")).fit(rng.normal(size=(40, 3)), rng.integers(0, 2, 40))
    setattr(pipe[-1], TREE_METHOD, "mystery")  # what a forged file could say
    path = tmp_path / "forged.nbautoml"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nbautoml.save(pipe, path)
    with pytest.raises(ArtifactError, match="damaged or forged: a k-NN model names the search method 'mystery'") as info:
        nbautoml.load(path)
    assert info.value.code == "damaged_model"


# --------------------------------------------------------------------------- versions


def _with_environment(source, target, **changes):
    card, parts = members(source)
    card["environment"] = dict(card["environment"], **changes)
    write_artifact(target, card, parts)


def test_other_sklearn_minor_version_is_refused_unless_allowed(titanic_artifact, tmp_path):
    path = tmp_path / "old.nbautoml"
    _with_environment(titanic_artifact[0], path, **{"scikit-learn": "1.5.2"})
    with pytest.raises(EnvironmentMismatchError) as info:
        nbautoml.load(path)
    message = str(info.value)
    assert info.value.code == "environment_mismatch"
    assert "1.5.2" in message and persist.versions()["scikit-learn"] in message
    assert "scikit-learn==1.5.2" in message and "allow_version_mismatch=True" in message
    assert "retrain" in message
    with pytest.warns(VersionMismatchWarning, match="1.5.2"):
        model = nbautoml.load(path, allow_version_mismatch=True)
    assert model.task_ == "binary"


def test_patch_version_and_python_difference_only_warn(titanic_artifact, tmp_path):
    major, minor, *_ = persist.versions()["scikit-learn"].split(".")
    path = tmp_path / "patch.nbautoml"
    _with_environment(titanic_artifact[0], path, **{"scikit-learn": f"{major}.{minor}.99", "python": "3.99.0"})
    with pytest.warns(VersionMismatchWarning, match="3.99.0"):
        nbautoml.load(path)


OLD_PATH, NEW_PATH = "sklearn.linear_model.logistic", "sklearn.linear_model._logistic"  # moved in 0.22


def _renamed_skops(blob: bytes) -> bytes:
    """The skops bytes with LogisticRegression's module path as scikit-learn 0.21 had it."""
    import io

    source, renamed = zipfile.ZipFile(io.BytesIO(blob)), io.BytesIO()
    with zipfile.ZipFile(renamed, "w") as zf:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "schema.json":
                assert f'"{NEW_PATH}"'.encode() in data
                data = data.replace(f'"{NEW_PATH}"'.encode(), f'"{OLD_PATH}"'.encode())
            zf.writestr(info.filename, data)
    return renamed.getvalue()


def test_a_module_that_no_longer_exists_is_named_with_both_versions(titanic_artifact, tmp_path, no_construct):
    """S-16: a skops dump whose type path was renamed: refused before anything is built, naming the
    module, the saved and installed scikit-learn versions and the fixes; no version flag helps."""
    installed = persist.versions()["scikit-learn"]
    card, parts = members(titanic_artifact[0])
    parts["model.skops"] = _renamed_skops(parts["model.skops"])
    old = tmp_path / "old.nbautoml"
    write_artifact(old, dict(card, environment=dict(card["environment"], **{"scikit-learn": "0.21.3"})), parts)
    for allow in (False, True):
        with pytest.raises(EnvironmentMismatchError) as info:
            nbautoml.load(old, allow_version_mismatch=allow)
        message = str(info.value)
        assert info.value.code == "module_not_found", message
        assert (f"this model was saved with scikit-learn 0.21.3; module '{OLD_PATH}' no longer exists in "
                f"scikit-learn {installed} (installed), so its LogisticRegression cannot be rebuilt") in message
        assert "pip install 'scikit-learn==0.21.3'" in message and "retrain the model here" in message
        assert info.value.details["module"] == OLD_PATH and info.value.details["saved"] == "0.21.3"
    edited = tmp_path / "edited.nbautoml"  # the same scikit-learn as installed: the file was edited
    write_artifact(edited, card, parts)
    with pytest.raises(EnvironmentMismatchError, match=rf"saved with scikit-learn {installed}; module "
                                                       rf"'{OLD_PATH}' no longer exists.*it was edited"):
        nbautoml.load(edited)


@pytest.mark.filterwarnings("ignore::nbautoml.persist.UnsafeLoadWarning")
def test_a_module_that_no_longer_exists_in_a_bare_skops_file_or_a_pickle_is_named(tmp_path):
    """S-16 without a card: the saved scikit-learn version is read from the file (skops schema, pickle
    opcodes) without building anything; ModuleNotFoundError inside the unpickling is wrapped the same way."""
    import skops.io as sio
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    installed = persist.versions()["scikit-learn"]
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    bare = tmp_path / "lr.skops"
    bare.write_bytes(_renamed_skops(sio.dumps(model)))
    pickled = tmp_path / "lr.pkl"  # protocol 2 names classes as "module\nname\n" (GLOBAL)
    blob = pickle.dumps(model, protocol=2)
    assert f"c{NEW_PATH}\n".encode() in blob
    pickled.write_bytes(blob.replace(f"c{NEW_PATH}\n".encode(), f"c{OLD_PATH}\n".encode()))
    expected = (f"this model was saved with scikit-learn {installed}; module '{OLD_PATH}' no longer exists in "
                f"scikit-learn {installed} (installed)")
    for path, kwargs in [(bare, {}), (pickled, {"format": "pickle", "allow_pickle": True})]:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        with pytest.raises(EnvironmentMismatchError) as info:
            nbautoml.load(path, sha256=digest, **kwargs)
        assert info.value.code == "module_not_found" and expected in str(info.value), str(info.value)
        assert "pip install 'scikit-learn==" in str(info.value) and "retrain" in str(info.value)
    # a module of a package that is not one of the model's libraries: named, with what to install
    gone = pickled.read_bytes().replace(f"c{OLD_PATH}\n".encode(), b"cnbautoml_gone.old_code\n")
    pickled.write_bytes(gone)
    with pytest.raises(ArtifactError, match=r"needs the module 'nbautoml_gone',.*Install the code that "
                                            r"defines it \(the package 'nbautoml_gone'\)") as info:
        nbautoml.load(pickled, format="pickle", allow_pickle=True, sha256=hashlib.sha256(gone).hexdigest())
    assert info.value.code == "module_not_found"


# --------------------------------------------------------------------------- atomic writes


def _temps(directory: Path) -> list[Path]:
    return sorted(directory.glob(".*.tmp"))


def test_disk_full_mid_write_keeps_the_old_artifact(titanic_artifact, tmp_path, monkeypatch, fitted):
    path = tmp_path / "model.nbautoml"
    path.write_bytes(titanic_artifact[1])
    real_write = os.write
    calls = {"n": 0}

    def write_then_fail(fd, data):
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, bytes(data)[: len(data) // 2])  # a short write first

    monkeypatch.setattr(os, "write", write_then_fail)
    with pytest.raises(ArtifactError, match="no space left") as info:
        nbautoml.save(fitted("house").result, path)
    monkeypatch.setattr(os, "write", real_write)
    assert info.value.code == "save_failed" and calls["n"] == 2
    assert path.read_bytes() == titanic_artifact[1]
    assert _temps(tmp_path) == []
    nbautoml.load(path)


def test_permission_denied_on_replace_leaves_nothing(titanic_artifact, tmp_path, monkeypatch, fitted):
    def deny(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "replace", deny)
    with pytest.raises(ArtifactError, match="permission was denied.*directory you can write") as info:
        nbautoml.save(fitted("titanic").result, tmp_path / "new.nbautoml")
    assert info.value.code == "save_failed"
    assert list(tmp_path.iterdir()) == []


def test_process_killed_mid_save_keeps_old_artifact_and_next_save_cleans_up(tmp_path):
    """A real crash (os._exit before the rename): old file intact; the orphan temp is removed later."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    path = nbautoml.save(LogisticRegression(max_iter=500).fit(X, y), tmp_path / "iris.nbautoml")
    before = path.read_bytes()
    child = f"""
import os
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier
import nbautoml
X, y = load_iris(return_X_y=True, as_frame=True)
os.fsync = lambda fd: os._exit(137)  # die after the bytes are written, before the rename
nbautoml.save(DecisionTreeClassifier().fit(X, y), {str(path)!r})
"""
    done = subprocess.run([sys.executable, "-c", child], cwd=REPO, capture_output=True, timeout=120)
    assert done.returncode == 137, done.stderr.decode()[-2000:]
    assert path.read_bytes() == before
    assert len(_temps(tmp_path)) == 1  # the dead process's partial file
    nbautoml.save(LogisticRegression(max_iter=500).fit(X, y), path)
    assert _temps(tmp_path) == []
    nbautoml.load(path)


# --------------------------------------------------------------------------- schema enforcement


def test_predict_enforces_the_training_schema(titanic_artifact, fitted):
    from nbautoml.exceptions import DataError

    model = nbautoml.load(titanic_artifact[0])
    X = fitted("titanic").X.head(20)
    expected = model.predict(X)
    with pytest.raises(DataError, match="Fare") as info:
        model.predict(X.drop(columns=["Fare"]))
    assert info.value.code == "missing_columns" and info.value.details["columns"] == ["Fare"]
    assert "renamed" not in str(info.value)
    with pytest.raises(DataError, match=r"lacks 1 column.*: Fare\. The data has 'fare': renamed from 'Fare'\?"):
        model.predict(X.rename(columns={"Fare": "fare"}))
    # another table altogether: said so, with both sets of columns
    used = model.schema_["columns"]
    with pytest.raises(DataError, match=rf"The data has none of the {len(used)} columns the model needs "
                       rf"\({used[0]['name']}, .*\); its 2 columns are species, petal_width\. Is it the data "
                       r"for this model\?") as info:
        model.predict(X.head(3)[[]].assign(species="setosa", petal_width=0.2))
    assert info.value.code == "missing_columns" and len(info.value.details["columns"]) == len(used)
    for predict in (model.predict, model.predict_proba, fitted("titanic").result.predict):
        with pytest.raises(DataError, match=r"no rows \(\d+ columns, 0 rows\): nothing to predict") as info:
            predict(X.head(0))
        assert info.value.code == "no_rows"
    with pytest.warns(UserWarning, match="Ignoring 1 column.*color") as record:
        model.predict(X.assign(color="red"))
        model.predict(X.assign(color="blue"))  # said once
    assert len([w for w in record if "Ignoring" in str(w.message)]) == 1
    np.testing.assert_array_equal(model.predict(X[X.columns[::-1]]), expected)  # order does not matter
    as_text = X.assign(Age=X["Age"].map(lambda v: "" if np.isnan(v) else str(v)),
                       Fare=X["Fare"].astype(str))
    np.testing.assert_array_equal(model.predict(as_text), expected)
    assert set(model.last_input_report_.coerced) == {"Age", "Fare"}
    with pytest.raises(DataError, match="'Age' must be numeric.*'old'") as info:
        model.predict(X.assign(Age=["old"] + [30] * (len(X) - 1)))
    assert info.value.code == "bad_dtype" and info.value.details["columns"] == ["Age"]
    import pandas as pd

    with pytest.raises(DataError, match="'Fare' holds dates"):
        model.predict(X.assign(Fare=pd.Timestamp("2020-01-01")))
    odd = X.assign(Sex="unknown", Embarked="Mars")
    assert len(model.predict(odd)) == len(X)
    assert model.last_input_report_.unseen == {"Sex": len(X), "Embarked": len(X)}
    records = X.head(3).replace({np.nan: None}).to_dict("records")
    np.testing.assert_array_equal(model.predict(records), expected[:3])
