"""Audit P-09: a search store on a network filesystem is refused at open, with a clear message.

The mount table is a fake ``/proc/self/mountinfo`` naming an NFS mount inside tmp_path.
"""

import pytest

from nbautoml import AutoML
from nbautoml.engine import filesystems
from nbautoml.engine.filesystems import filesystem_of
from nbautoml.engine.store import RunStore
from nbautoml.exceptions import ConfigError


@pytest.fixture
def fake_mounts(tmp_path, monkeypatch):
    """A mount table: the root on ext4, ``tmp_path/nfs share`` on NFS 4 (its space escaped as
    ``\\040``, as the kernel writes it) and ``tmp_path/nfs share/local`` on tmpfs over it."""
    nfs = tmp_path / "nfs share"
    nfs.mkdir()
    escaped = str(nfs).replace(" ", "\\040")
    table = tmp_path / "mountinfo"
    table.write_text(
        "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
        f"90 22 0:51 /export {escaped} rw,relatime shared:40 - nfs4 fileserver:/export rw,vers=4.2\n"
        f"91 90 0:52 / {escaped}/local rw,relatime shared:41 - tmpfs tmpfs rw\n"
    )
    monkeypatch.setattr(filesystems, "MOUNTINFO", str(table))
    return nfs


def test_the_filesystem_of_a_path_is_its_deepest_mount(fake_mounts, tmp_path):
    assert filesystem_of(fake_mounts / "runs" / "new") == ("nfs4", str(fake_mounts))
    assert filesystem_of(fake_mounts / "local" / "runs") == ("tmpfs", f"{fake_mounts}/local")
    assert filesystem_of(tmp_path / "elsewhere") == ("ext4", "/")
    (tmp_path / "link").symlink_to(fake_mounts)
    assert filesystem_of(tmp_path / "link" / "runs") == ("nfs4", str(fake_mounts))  # through a symlink


def test_a_search_store_on_nfs_is_refused_before_anything_is_written(fake_mounts, tmp_path):
    """The store was opened in WAL mode wherever it was."""
    with pytest.raises(ConfigError, match=r"is on a nfs4 filesystem \(mounted at .*nfs share'\), a network "
                                          r"filesystem.*could be corrupted.*search_dir=.*NBAUTOML_HOME") as info:
        RunStore(fake_mounts / "run")
    assert info.value.code == "network_filesystem" and info.value.details["fstype"] == "nfs4"
    assert not (fake_mounts / "run").exists()
    RunStore(fake_mounts / "local" / "run").close()  # a local filesystem mounted inside it is fine
    RunStore(tmp_path / "run").close()


def test_automl_refuses_a_search_dir_on_nfs_before_reading_the_data(fake_mounts):
    with pytest.raises(ConfigError, match=r"search_dir='.*nfs share/runs' is on a nfs4 filesystem") as info:
        AutoML(max_evals=1, time_budget=None, search_dir=fake_mounts / "runs").fit("no such file.csv",
                                                                                 target="Survived")
    assert info.value.code == "network_filesystem"
    assert not (fake_mounts / "runs").exists()


def test_a_registry_on_nfs_is_refused_before_anything_is_written(fake_mounts, tmp_path):
    """The registry is SQLite in WAL mode too; it was created on the share without a word."""
    from nbautoml.registry import Registry

    with pytest.raises(ConfigError, match=r"registry directory '.*nfs share/reg' is on a nfs4 filesystem"
                                          r".*Registry\.backup") as info:
        Registry(fake_mounts / "reg").list()
    assert info.value.code == "network_filesystem"
    assert not (fake_mounts / "reg").exists()
    Registry(tmp_path / "reg").list()  # a local one opens
