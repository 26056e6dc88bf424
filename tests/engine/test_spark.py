"""backend="spark": trials run as Spark tasks on a local[2] master (issue 7)."""

import re
import shutil
import threading
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("pyspark", reason="pip install 'nbautoml[spark]'")
if shutil.which("java") is None:
    pytest.skip("Spark needs a Java runtime", allow_module_level=True)

from hyperopt import hp  # noqa: E402

from nbautoml import AutoML  # noqa: E402
from nbautoml.engine.store import RunStore  # noqa: E402
from nbautoml.exceptions import SearchFailedError  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FAULTY = "tests.engine.faulty"


@pytest.mark.slow
def test_spark_backend_runs_a_small_search(datasets_dir):
    df = pd.read_csv(datasets_dir / "blood.csv")
    events = []
    result = AutoML(backend="spark", n_jobs=2, max_evals=4, time_budget=None, seed=0,
                    models=["logistic_regression", "decision_tree"],
                    callbacks=[events.append]).fit(df, target="Class")
    assert len(result.trials_) == 4
    assert {t.status for t in result.trials_} == {"ok"}
    assert 0.6 < result.best_score_ < 0.9
    assert result.predict(df.head(5)).shape == (5,)
    kinds = [e.kind for e in events]
    assert kinds.count("trial_finished") == 4 and kinds[-1] == "search_finished"
    assert len(RunStore(result.run_dir_).trials()) == 4
    # the local session the search created is stopped: no JVM threads left in this process,
    # beside which later local searches would fork their workers
    from pyspark.sql import SparkSession

    assert SparkSession.getActiveSession() is None
    assert not [t.name for t in threading.enumerate() if "serve_forever" in t.name]
    # a session the user created (their cluster) is theirs: used, and left running
    # (its executors import the test's estimators: tests/ is on their path)
    user_session = (SparkSession.builder.master("local[2]").appName("users")
                    .config("spark.executorEnv.PYTHONPATH", str(ROOT)).getOrCreate())
    try:
        again = AutoML(backend="spark", n_jobs=2, max_evals=2, time_budget=None, seed=0,
                       models=["logistic_regression"]).fit(df, target="Class")
        assert len(again.trials_) == 2
        assert SparkSession.getActiveSession() is user_session
        assert user_session.sparkContext.appName == "users"
        # a trial whose folds say it cannot end within trial_timeout is stopped then, as locally
        sleeper = {"family": f"{FAULTY}:Sleeper", "params": {"seconds": 1.0}}
        slow = AutoML(backend="spark", n_jobs=1, space=hp.choice("family", [sleeper]), warm_start=[sleeper],
                      max_evals=1, time_budget=None, trial_timeout=4, cv=5, ensemble=False)
        with pytest.raises(SearchFailedError):
            slow.fit(df, target="Class")
        [trial] = RunStore(slow.run_dir_).trials()
        assert trial.status == "timeout", trial.error
        assert re.fullmatch(r"stopped after fold 2 of 5 \(2\.\d s\): at that pace its 5 folds would take "
                            r"\d\.\d s and end \d\.\d s after trial_timeout=4s", trial.error), trial.error
        assert trial.wall_time < 3.5
    finally:
        user_session.stop()


@pytest.mark.slow  # starts a Spark session (19 s on 2 cores), as the search above does
def test_a_spark_dataframe_is_collected_only_if_it_fits_in_memory(datasets_dir, monkeypatch):
    from pyspark.sql import SparkSession

    from nbautoml.engine import frames
    from nbautoml.exceptions import DataError

    df = pd.read_csv(datasets_dir / "blood.csv")
    session = SparkSession.builder.master("local[1]").appName("collect").getOrCreate()
    try:
        sdf = session.createDataFrame(df)
        pd.testing.assert_frame_equal(frames.as_pandas(sdf), df, check_dtype=False)
        monkeypatch.setattr(frames, "free_memory", lambda: 50_000)  # 748 x 5 cells need 89,760 bytes
        with pytest.raises(DataError, match=r"748 rows x 5 columns.*df\.sample\(fraction=0\.28, seed=0\)") as info:
            AutoML(max_evals=2, time_budget=None).fit(sdf, target="Class")
        assert info.value.code == "too_big_to_collect"
    finally:
        session.stop()
