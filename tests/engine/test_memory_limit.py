"""Audit F-06: a trial allocating far more than the per-trial memory limit is recorded with status
``memory``, the notebook's process keeps its memory, and the search goes on."""

import resource
import time

import pytest
from hyperopt import hp

from nbautoml import AutoML
from nbautoml.engine.limits import MemoryLimit, limit_supported
from nbautoml.engine.store import RunStore

FAULTY = "tests.engine.faulty"

pytestmark = pytest.mark.skipif(not limit_supported(), reason="only Linux enforces RLIMIT_AS")


@pytest.mark.parametrize("steps", [False, True], ids=["one-block", "64MB-steps"])
def test_a_trial_over_the_memory_limit_is_recorded_as_memory_and_the_search_goes_on(titanic, steps):
    """There was no memory limit: a 2 GB trial took 2 GB (and one larger than the machine's memory
    got the worker killed by the OOM killer, or the notebook's kernel). Limit 512 MB, hog 2 GB."""
    hog = {"family": f"{FAULTY}:MemoryHog", "params": {"mb": 2048, "steps": steps}}
    prior = {"family": f"{FAULTY}:Prior", "params": {"tag": hp.choice("tag", [0, 1])}}
    kernel_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    started = time.perf_counter()
    result = AutoML(space=hp.choice("family", [prior]), warm_start=[hog], max_evals=3, time_budget=None,
                    cv=2, n_jobs=1, ensemble=False, memory_limit=512).fit(titanic.head(300), target="Survived")
    assert time.perf_counter() - started < 10
    hogged, *others = result.trials_
    assert hogged.status == "memory", (hogged.status, hogged.error)
    assert hogged.error.startswith("exceeded the 512 MB per-trial limit (memory_limit=512; MemoryError")
    assert [t.status for t in others] == ["ok", "ok"] and result.best_trial_ in others
    assert RunStore(result.run_dir_).trials()[0].status == "memory"
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - kernel_peak
    assert grown < 200 * 1024, f"the notebook's process peak grew by {grown / 1024:.0f} MB"
    assert result.summary()["statuses"]["memory"] == 1


def test_the_limit_is_lifted_after_the_block_and_counts_from_what_the_process_maps():
    before = resource.getrlimit(resource.RLIMIT_AS)
    with MemoryLimit(256):
        with pytest.raises(MemoryError):
            bytearray(512 * 2**20)
        small = bytearray(64 * 2**20)  # what the process mapped before the block does not count
    assert resource.getrlimit(resource.RLIMIT_AS) == before
    del small
    with MemoryLimit(None):
        assert resource.getrlimit(resource.RLIMIT_AS) == before


def test_memory_limit_must_be_positive(titanic):
    from nbautoml.exceptions import ConfigError

    with pytest.raises(ConfigError, match=r"'memory_limit' parameter of AutoML must be a number > 0"):
        AutoML(memory_limit=0).fit(titanic, target="Survived")
