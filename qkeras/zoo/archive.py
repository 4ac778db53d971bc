"""Safe, atomic extraction of released archives (``.tar``, ``.tar.gz``/``.tgz``, ``.zip``).

Every member is checked before anything is written: an absolute path, a ``..`` that
leaves the target, a symbolic or hard link that points outside it (or through another
link in the archive), and a device or FIFO raise :class:`~qkeras.errors.ArchiveError`
naming the member. Tar files are then extracted with Python's ``filter="data"`` as a
second line of defence. Extraction goes into a temporary folder beside the target, which
is renamed into place only when every member was written; on any error nothing is left
at the target and the temporary folder is removed.

Example:
    >>> import io, tarfile, tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with tarfile.open(folder / "m.tar.gz", "w:gz") as tar:
    ...     info = tarfile.TarInfo("model/weights.txt")
    ...     info.size = 3
    ...     tar.addfile(info, io.BytesIO(b"abc"))
    >>> out = extract(folder / "m.tar.gz", folder / "m")
    >>> (out / "model" / "weights.txt").read_text()
    'abc'
"""

from __future__ import annotations

import logging
import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from qkeras.errors import ArchiveError

__all__ = ["SUFFIXES", "is_archive", "stem", "extract"]

log = logging.getLogger(__name__)

SUFFIXES = (".tar", ".tar.gz", ".tgz", ".zip")


def is_archive(name: str | os.PathLike) -> bool:
    """Whether a file name ends with one of :data:`SUFFIXES`.

    Example:
        >>> is_archive("m-1.0.0.tar.gz"), is_archive("m-1.0.0.keras")
        (True, False)
    """
    return str(name).lower().endswith(SUFFIXES)


def stem(name: str | os.PathLike) -> str:
    """The file name without its archive suffix (``m.tar.gz`` -> ``m``).

    Raises:
        ArchiveError: If the name has no archive suffix.

    Example:
        >>> stem("weights/m-1.0.0.tar.gz"), stem("m.zip")
        ('m-1.0.0', 'm')
    """
    base = Path(name).name
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if base.lower().endswith(suffix):
            return base[: -len(suffix)]
    raise ArchiveError(f"{base!r} is not an archive; its name must end with one of "
                       f"{', '.join(SUFFIXES)}.")


def _unsafe(member: str, why: str) -> ArchiveError:
    return ArchiveError(f"Unsafe archive member {member!r}: {why}. Nothing was extracted; "
                        "re-download the archive (zoo.download(..., force=True)) and, if "
                        "it is still refused, report it to the model's publisher.")


def _walk(member: str, parts: list[str], path: str, links: set[str], *,
          last_may_be_link: bool = False) -> list[str]:
    """Resolves ``path`` from ``parts`` (a folder inside the target), refusing escapes."""
    if path.startswith(("/", "\\")) or PureWindowsPath(path).drive:
        raise _unsafe(member, f"absolute path {path!r}")
    parts = list(parts)
    components = [c for c in PurePosixPath(path.replace("\\", "/")).parts if c != "."]
    for index, component in enumerate(components):
        if component == "..":
            if not parts:
                raise _unsafe(member, f"{path!r} leaves the target folder")
            parts.pop()
            continue
        parts.append(component)
        is_last = index == len(components) - 1
        if "/".join(parts) in links and not (is_last and last_may_be_link):
            raise _unsafe(member, f"{path!r} passes through the link {'/'.join(parts)!r}")
    return parts


def _check_tar(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members = tar.getmembers()
    links = {"/".join(_walk(m.name, [], m.name, set())) for m in members if m.issym()}
    for member in members:
        name = member.name
        own = _walk(name, [], name, links, last_may_be_link=member.issym())
        if not own and not member.isdir():
            raise _unsafe(name, "it names the target folder itself")
        if member.issym():
            _walk(name, own[:-1], member.linkname, links)
        elif member.islnk():
            _walk(name, [], member.linkname, links)
        elif member.ischr() or member.isblk() or member.isfifo():
            raise _unsafe(name, "a device or FIFO")
        elif not (member.isfile() or member.isdir()):
            raise _unsafe(name, f"an unsupported member type {member.type!r}")
    return members


def _extract_tar(archive: Path, into: Path) -> None:
    with tarfile.open(archive) as tar:
        members = _check_tar(tar)
        if hasattr(tarfile, "data_filter"):
            tar.extractall(into, members=members, filter="data")
        else:  # Python < 3.10.12 / 3.11.4: our checks above, and no special mode bits
            for member in members:
                member.mode &= 0o755
            tar.extractall(into, members=members)  # noqa: S202


def _extract_zip(archive: Path, into: Path) -> None:
    with zipfile.ZipFile(archive) as handle:
        members = handle.infolist()
        for member in members:  # zipfile writes links as plain files: paths suffice
            _walk(member.filename, [], member.filename, set())
        handle.extractall(into, members=members)


def extract(archive_path: str | os.PathLike, target_dir: str | os.PathLike) -> Path:
    """Extracts an archive into ``target_dir``, atomically and refusing unsafe members.

    An existing ``target_dir`` is a previous extraction: it is returned as it is.

    Args:
        archive_path: A ``.tar``, ``.tar.gz``/``.tgz`` or ``.zip`` file.
        target_dir: The folder to create (its parent is created if needed).

    Returns:
        ``target_dir``, holding the archive's members.

    Raises:
        ArchiveError: For an unsafe member (absolute, ``..`` escaping the target, a link
            pointing outside it, a device or FIFO), an unreadable archive, or an
            unsupported suffix. Nothing is left at ``target_dir`` then.

    Example:
        >>> import tempfile, zipfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> with zipfile.ZipFile(folder / "bad.zip", "w") as handle:
        ...     handle.writestr("../evil.txt", "x")
        >>> extract(folder / "bad.zip", folder / "bad")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qkeras.errors.ArchiveError: Unsafe archive member '../evil.txt': ...
        >>> sorted(p.name for p in folder.iterdir())
        ['bad.zip']
    """
    archive, target = Path(archive_path), Path(target_dir)
    if target.is_dir():
        log.debug("already extracted: %s", target)
        return target
    stem(archive)  # refuses a name without an archive suffix
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        if archive.name.lower().endswith(".zip"):
            _extract_zip(archive, temp)
        else:
            _extract_tar(archive, temp)
        os.chmod(temp, 0o755)  # mkdtemp makes 0700
        try:
            os.replace(temp, target)
        except OSError:
            if not target.is_dir():
                raise
            log.debug("%s was extracted concurrently; keeping that copy", target)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as err:
        raise ArchiveError(f"Cannot extract {archive.name}: {err}. The archive is corrupt "
                           "or unsafe; re-download it (force=True) or report it.") from err
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    log.info("extracted %s into %s", archive.name, target)
    return target
