"""Test helpers for deploy tests: an untrusted transformer, an artifact writer, process workers.

They live in an importable module so skops can name the type and spawned
processes can import the workers.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import zipfile
from pathlib import Path

from sklearn.base import BaseEstimator, TransformerMixin

SENTINEL_ENV = "NBAUTOML_TEST_SENTINEL"


class SentinelTransformer(TransformerMixin, BaseEstimator):
    """Passes data through; constructing it from a file touches $NBAUTOML_TEST_SENTINEL.

    It stands for any type outside nbautoml's allowlist whose code would run at load time.
    """

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        return X

    def __setstate__(self, state):
        target = os.environ.get(SENTINEL_ENV)
        if target:
            Path(target).touch()
        self.__dict__.update(state)


class Payload:
    """A pickle payload: unpickling it creates the file at ``path``."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def members(path) -> tuple[dict, dict]:
    """(card, {member: bytes}) of an artifact, read without any check."""
    with zipfile.ZipFile(path) as zf:
        card = json.loads(zf.read("card.json"))
        return card, {name: zf.read(name) for name in zf.namelist() if name != "card.json"}


def write_artifact(path, card: dict, parts: dict, fix_hashes: bool = True,
                   compression: int = zipfile.ZIP_STORED) -> None:
    """Write an artifact in nbautoml's layout (card + parts + trailer), as a forger would."""
    if fix_hashes:
        card = dict(card, files={n: {"sha256": hashlib.sha256(b).hexdigest(), "size": len(b)}
                                 for n, b in parts.items()})
        card["model_sha256"] = card["files"]["model.skops"]["sha256"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as zf:
        zf.writestr("card.json", json.dumps(card))
        for name, blob in parts.items():
            zf.writestr(name, blob)
    body = buffer.getvalue()
    hashed = body[:-22]
    comment = (f"nbautoml-artifact v1 sha256={hashlib.sha256(hashed).hexdigest()} "
               f"size={len(hashed)}").encode()
    Path(path).write_bytes(body[:-2] + len(comment).to_bytes(2, "little") + comment)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def register_many(root: str, artifact: str, name: str, count: int, barrier, results) -> None:
    """Process worker: register ``artifact`` as ``name`` ``count`` times, after the barrier."""
    from nbautoml.persist import load
    from nbautoml.registry import Registry

    model = load(artifact)
    registry = Registry(root)
    barrier.wait(timeout=120)
    versions = [registry.register(model, name, reason=f"pid {os.getpid()}").version for _ in range(count)]
    results.put(versions)


class ServerThread:
    """A real uvicorn server on 127.0.0.1 in a background thread (``with ServerThread(app) as url:``)."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = None

    def __enter__(self) -> str:
        import threading
        import time

        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=15)
