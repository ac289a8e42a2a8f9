"""Permissions of the state directory: 0700 for the directory, 0600 for the files tagpilot writes in it.

The state directory holds what no other local user should read: the SQLite database (object status,
webhook deliveries, the metadata cache), git workspaces with checked-out repositories, the credential
helper, and `daemon.json`, which tells any reader where the daemon's API listens. It is created 0700
whatever the umask; one that already exists with looser permissions (created by an older tagpilot, or
by hand) is tightened, with a warning, because a silent chmod of a directory the user chose would
surprise and a loose one would leak. Files are created 0600 from the start (`os.open` with a mode,
never create-then-chmod), so there is no moment when they are readable by others.

No SQLite here: the git client and the daemon use these helpers without opening the database.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("tagpilot.store")

DIR_MODE = 0o700
FILE_MODE = 0o600
_SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def secure_dir(directory: str | os.PathLike[str]) -> Path:
    """Create `directory` (and missing parents, with the usual mode) 0700, or tighten it to 0700.

    An existing directory that group or others can access is tightened and a warning says so; one
    owned by another user cannot be, and a warning says that instead (tagpilot still runs: refusing
    would break setups that share a state directory on purpose, e.g. a group-owned volume).
    """
    path = Path(directory)
    created = False
    if not path.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):  # another process made it first: treat as existing
            path.mkdir(mode=DIR_MODE)
            created = True
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        try:
            path.chmod(DIR_MODE)
        except OSError as exc:
            log.warning("state directory %s is accessible by other users (mode %04o) and could not be "
                        "tightened to 0700: %s; run `chmod 700 %s`", path, mode, exc.strerror or exc, path)
        else:
            if not created:  # mkdir's mode met a umask that keeps group bits: nothing to warn about
                log.warning("state directory %s was accessible by other users (mode %04o): tightened to 0700",
                            path, mode)
    return path


def secure_file(path: str | os.PathLike[str]) -> None:
    """Tighten an existing file to 0600 (with a warning when it was looser); a missing file is fine."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        try:
            os.chmod(path, FILE_MODE)
        except OSError as exc:
            log.warning("state file %s is readable by other users (mode %04o) and could not be tightened: %s",
                        path, mode, exc.strerror or exc)
        else:
            log.warning("state file %s was readable by other users (mode %04o): tightened to 0600", path, mode)


def prepare_database(db_path: str | os.PathLike[str]) -> None:
    """Before SQLite opens `db_path`: the directory 0700, the database file created 0600 (SQLite gives
    its -wal and -shm files the database file's mode), and existing files of a looser mode tightened."""
    path = Path(db_path)
    secure_dir(path.parent)
    for suffix in _SQLITE_SUFFIXES:
        secure_file(f"{path}{suffix}")
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def write_private(path: str | os.PathLike[str], text: str) -> None:
    """Replace `path` atomically with `text`, mode 0600 (a temporary file beside it, then rename)."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # a stale temporary file of another mode: O_CREAT kept its mode
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            fd = -1
            handle.write(text)
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
