"""User-only files: the config, the journal and the logs are created 0600 in 0700 dirs."""

from __future__ import annotations

import os
from logging.handlers import RotatingFileHandler
from pathlib import Path


def private_dir(path: Path, *, tighten: bool = False) -> Path:
    """Create ``path`` (and parents) user-only (0700); ``tighten`` also fixes an existing one.

    Only LiveDesk's own directories are tightened, never a shared parent such as /tmp.
    """
    existed = path.exists()
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if (tighten or not existed) and path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def private_file(path: Path) -> Path:
    """Make sure ``path`` exists and is user-only (0600), in a user-only parent directory.

    SQLite creates its ``-wal`` and ``-shm`` files with the database file's permissions.
    """
    private_dir(path.parent)
    fd = os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, 0o600)
    os.close(fd)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return path


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A rotating log whose every file (the first and each one after a rollover) is 0600."""

    def _open(self):
        private_file(Path(self.baseFilename))
        return super()._open()
