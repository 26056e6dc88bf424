"""Serving latency of ``nbautoml serve`` for a titanic model, plus artifact size and load time.

Starts ``python -m nbautoml serve MODEL`` on 127.0.0.1 (a separate process, as in
production), sends N requests of one record each over one keep-alive connection,
and prints p50/p90/p99 latency in milliseconds.

Usage::

    .venv/bin/python benchmarks/serve_latency.py                  # fits and saves a titanic model first
    .venv/bin/python benchmarks/serve_latency.py --model m.nbautoml --requests 1000
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("NBAUTOML_DATASETS", REPO.parent / "shared" / "datasets")) / "titanic.csv"


def fit_titanic(directory: Path, budget: float) -> Path:
    import nbautoml

    frame = pd.read_csv(DATA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = nbautoml.AutoML(time_budget=budget, seed=0, search_dir=directory / "runs").fit(
            frame, target="Survived")
    print(f"fitted: {result.summary()['best_pipeline']} ({result.metric_} {result.best_score_:.4f})")
    return nbautoml.save(result, directory / "titanic")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a saved titanic .nbautoml (default: fit one)")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--budget", type=float, default=20.0, help="search seconds when fitting")
    args = parser.parse_args(argv)

    import nbautoml

    work = Path(tempfile.mkdtemp(prefix="nbautoml-serve-bench-"))
    path = Path(args.model) if args.model else fit_titanic(work, args.budget)

    loads = []
    for _ in range(5):
        started = time.perf_counter()
        model = nbautoml.load(path)
        loads.append(time.perf_counter() - started)
    card = nbautoml.read_card(path)
    parts = ", ".join(f"{name} {meta['size'] / 1e6:.2f} MB" for name, meta in card["files"].items())
    print(f"artifact: {path.stat().st_size / 1e6:.2f} MB ({parts}); model: {card['model']['description']}")
    print(f"load: median {statistics.median(loads) * 1000:.0f} ms of 5 (first {loads[0] * 1000:.0f} ms)")

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "nbautoml", "serve", str(path), "--port", str(port)],
                              env=dict(os.environ, PYTHONPATH=str(REPO)), stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the server did not start: "
                                     + server.stderr.read().decode()[-2000:]) from None
                time.sleep(0.1)
        frame = pd.read_csv(DATA).drop(columns=["Survived"])
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        latencies = []
        with httpx.Client(base_url=url, timeout=30) as client:
            for i in range(20):  # warm-up
                client.post("/predict", json={"records": [records[i]]}).raise_for_status()
            for i in range(args.requests):
                body = {"records": [records[i % len(records)]]}
                started = time.perf_counter()
                answer = client.post("/predict", json=body)
                latencies.append(time.perf_counter() - started)
                answer.raise_for_status()
        ms = np.asarray(latencies) * 1000
        print(f"{args.requests} requests, 1 record each, one keep-alive connection, server and client on "
              f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}):")
        print(f"latency ms: p50 {np.percentile(ms, 50):.1f}  p90 {np.percentile(ms, 90):.1f}  "
              f"p99 {np.percentile(ms, 99):.1f}  max {ms.max():.1f}  mean {ms.mean():.1f}  "
              f"({args.requests / ms.sum() * 1000:.0f} requests/s)")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    del model
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
