"""Atomic file writes shared by the package (downloads, reports, zoo releases, cards)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, *, mode: int | None = None) -> Iterator[BinaryIO]:
    """Opens a temporary file beside ``path`` that replaces ``path`` only on success.

    The temporary file lives in the destination folder (so :func:`os.replace` is atomic on
    POSIX and Windows); it is flushed and fsynced before the rename, and removed if the
    ``with`` block raises. A reader therefore sees either the old file or the whole new one.

    Args:
        path: The destination file; its parent folders are created.
        mode: Permission bits of the new file (e.g. ``0o644`` for released files anyone
            may read); default: the temporary file's private ``0o600``.

    Yields:
        A binary file object to write to.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "a" / "b.txt"
        >>> with atomic_open(target) as handle:
        ...     _ = handle.write(b"hello")
        >>> target.read_bytes()
        b'hello'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(path: str | os.PathLike, data: bytes | str, *,
                 mode: int | None = None) -> Path:
    """Writes ``data`` to ``path`` atomically (see :func:`atomic_open`).

    Args:
        path: The destination file.
        data: Bytes, or text (written as UTF-8).
        mode: Permission bits of the new file (see :func:`atomic_open`).

    Returns:
        The destination as a :class:`~pathlib.Path`.

    Example:
        >>> import tempfile
        >>> atomic_write(Path(tempfile.mkdtemp()) / "r.md", "# report").read_text()
        '# report'
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    with atomic_open(path, mode=mode) as handle:
        handle.write(data)
    return Path(path)
