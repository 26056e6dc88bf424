"""nbautoml.atomic on its own: what a failed write leaves behind."""

from __future__ import annotations

import errno
import os

import pytest

from nbautoml.atomic import atomic_file, atomic_write
from nbautoml.exceptions import ArtifactError


def test_an_error_in_the_block_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    path = atomic_write(tmp_path / "predictions.csv", b"id,prediction\n1,0\n")
    with pytest.raises(KeyError):
        with atomic_file(path, "the predictions") as handle:
            handle.write(b"id,prediction\n1,")
            raise KeyError("a row the block could not read")  # not a save error: raised as it is
    assert path.read_bytes() == b"id,prediction\n1,0\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["predictions.csv"]


def test_a_failed_replace_names_what_was_written_and_why(tmp_path, monkeypatch):
    def deny(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "replace", deny)
    with pytest.raises(ArtifactError, match=r"Could not save the figure to .*roc\.png.*permission was denied") as info:
        atomic_write(tmp_path / "figures" / "roc.png", b"\x89PNG", what="the figure")
    assert info.value.code == "save_failed" and info.value.details["errno"] == errno.EACCES
    assert list((tmp_path / "figures").iterdir()) == []
