"""Which filesystem a directory is on, to keep SQLite stores off network filesystems.

The search store uses SQLite in WAL mode, which needs working file locks and a
shared-memory file (``-shm``) mapped by every connection. Network filesystems
(NFS, SMB/CIFS, sshfs, object-store mounts, ...) do not provide them reliably:
SQLite says WAL "does not work over a network filesystem" (https://www.sqlite.org/wal.html)
and lists broken locks there as a way to corrupt a database
(https://www.sqlite.org/howtocorrupt.html). Python's ``os.statvfs`` does not give the
filesystem type; on Linux the mount table ``/proc/self/mountinfo`` does. Elsewhere the
type is unknown and nothing is refused.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..exceptions import ConfigError

#: the mount table read on Linux (``proc(5)``)
MOUNTINFO = "/proc/self/mountinfo"

#: filesystem types (as ``mountinfo`` names them) a store is refused on: network and
#: cluster filesystems, and FUSE mounts of remote or object storage
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "9p", "ceph", "glusterfs", "lustre",
    "gpfs", "beegfs", "davfs", "fuse.sshfs", "sshfs", "fuse.glusterfs", "fuse.ceph-fuse", "fuse.s3fs",
    "fuse.gcsfuse", "fuse.goofys", "fuse.rclone", "fuse.juicefs", "fuse.davfs", "fuse.mountpoint-s3",
    "fuse.blobfuse", "fuse.blobfuse2",
})


def _unescape(field: str) -> str:
    """A mountinfo path: spaces, tabs, newlines and backslashes are written as octal (``\\040``)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def filesystem_of(path: str | os.PathLike, mountinfo: str | None = None) -> tuple[str, str] | None:
    """The type and mount point of the filesystem holding ``path`` (which need not exist yet).

    Parameters
    ----------
    path : str or path-like
    mountinfo : str, optional
        The mount table to read; default :data:`MOUNTINFO`.

    Returns
    -------
    (fstype, mount_point) or None
        None when the mount table cannot be read (not Linux).
    """
    try:
        with open(mountinfo or MOUNTINFO, encoding="utf-8", errors="replace") as table:
            lines = table.read().splitlines()
    except OSError:
        return None
    target = os.path.realpath(os.fspath(path))  # symlinks followed, missing parts kept as given
    best = None
    for line in lines:
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 5 or not tail:
            continue
        mount_point = _unescape(fields[4])
        inside = (target == mount_point or mount_point == "/"
                  or target.startswith(mount_point.rstrip("/") + "/"))
        # the deepest mount point holding the path; at the same one, the last mounted (on top)
        if inside and (best is None or len(mount_point) >= len(best[1])):
            best = (tail[0], mount_point)
    return best


def check_local_filesystem(path: str | os.PathLike, what: str | None = None, fix: str | None = None) -> None:
    """Refuse ``path`` when it is on a network filesystem (see :data:`NETWORK_FILESYSTEMS`).

    Parameters
    ----------
    path : str or path-like
    what : str, optional
        How the message names ``path``; default "The search directory '<path>'".
    fix : str, optional
        How to keep it on a local disk; default the search directory's options.

    Raises
    ------
    ConfigError
        ``code="network_filesystem"``, naming the filesystem, its mount point and the fix.
    """
    found = filesystem_of(path)
    if found is None or found[0].lower() not in NETWORK_FILESYSTEMS:
        return
    fstype, mount_point = found
    raise ConfigError(
        f"{what or f'The search directory {str(Path(path))!r}'} is on a {fstype} filesystem (mounted at {mount_point!r}), a network "
        "filesystem. nbautoml keeps searches and the model registry in SQLite with a write-ahead log, which needs file locks "
        "and shared memory that network filesystems do not provide reliably: the store could be "
        "corrupted. " + (fix or "Keep it on a local disk: pass search_dir= (--search-dir on the command "
                         "line) or set NBAUTOML_HOME to a local directory, e.g. under /tmp; copy the "
                         "directory elsewhere after the search if needed."),
        code="network_filesystem", path=str(path), fstype=fstype, mount_point=mount_point)
