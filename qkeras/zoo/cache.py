"""Fetching zoo weights into the cache: sha256-verified, atomic, with offline fallbacks.

Sources, in order: the cache (``qkeras.config.home() / "zoo" / name / version``), the
mirror ``$QKERAS_ZOO_URL/<name>/<file>`` (``file://`` or ``http(s)://``), the entry's
release URL, and, when those cannot be reached, the released file in this repository's
``zoo/<name>/`` folder. A download streams into a temporary file beside its target while
its sha256 and size are computed; only a file whose digest and size match the entry is
moved into place (``os.replace``), so a corrupt or truncated download raises
:class:`~qkeras.errors.ChecksumError` and leaves nothing in the cache. A released archive
(``.tar``, ``.tar.gz``/``.tgz``, ``.zip``) is fetched and verified the same way; the client
then extracts it with :func:`qkeras.zoo.archive.extract`, which refuses members that
escape the target folder.

Example:
    >>> cache_dir().name
    'zoo'
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from qkeras import config
from qkeras.errors import ChecksumError, ZooError
from qkeras.zoo.entry import ZooEntry, repository_zoo

__all__ = ["cache_dir", "cached_path", "sha256_of", "sources", "fetch"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


class _Unreachable(Exception):
    """A source that cannot be reached or does not hold the file: try the next one."""


def cache_dir() -> Path:
    """The zoo cache: ``qkeras.config.home() / "zoo"`` (``$QKERAS_HOME`` overrides).

    Example:
        >>> cache_dir() == config.home() / "zoo"
        True
    """
    return config.home() / "zoo"


def cached_path(entry: ZooEntry) -> Path:
    """Where ``entry``'s file lives in the cache: ``cache_dir()/<name>/<version>/<file>``.

    Example:
        >>> cached_path.__annotations__["return"]
        'Path'
    """
    return cache_dir() / entry.name / entry.version / entry.file


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in chunks.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "f"
        >>> _ = path.write_bytes(b"abc")
        >>> sha256_of(path)[:16]
        'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _redact(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))


def sources(entry: ZooEntry) -> list[str]:
    """The URLs tried for ``entry``, in order (mirror first, then the release URL).

    Example:
        >>> import types
        >>> from unittest import mock
        >>> with mock.patch.dict(os.environ, {"QKERAS_ZOO_URL": "http://mirror.example/z/"}):
        ...     sources(types.SimpleNamespace(name="m", file="m.keras", url=""))
        ['http://mirror.example/z/m/m.keras']
    """
    urls = []
    mirror = config.zoo_url()
    if mirror:
        urls.append(f"{mirror.rstrip('/')}/{entry.name}/{entry.file}")
    if entry.url:
        urls.append(entry.url)
    return urls


def _download(url: str, target: Path, entry: ZooEntry, timeout: float) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part",
                                    dir=target.parent)
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(handle, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
                    announced = response.headers.get("Content-Length")
                    while chunk := response.read(_CHUNK):
                        digest.update(chunk)
                        size += len(chunk)
                        out.write(chunk)
                if announced is not None and announced.isdigit() and int(announced) != size:
                    raise http.client.IncompleteRead(b"", int(announced) - size)
            except http.client.IncompleteRead as err:
                raise ChecksumError(
                    f"Download of {entry.name} {entry.version} from {_redact(url)} was "
                    f"truncated ({size + len(err.partial)} bytes received); nothing was "
                    "cached. Try again.") from err
            except (urllib.error.URLError, OSError, ValueError) as err:
                raise _Unreachable(f"{_redact(url)}: {err}") from err
        if entry.size and size != entry.size:
            raise ChecksumError(
                f"Download of {entry.name} {entry.version} from {_redact(url)} has {size} "
                f"bytes; the release has {entry.size} (truncated or wrong file). Nothing "
                "was cached; try again or check QKERAS_ZOO_URL.")
        if digest.hexdigest() != entry.sha256:
            raise ChecksumError(
                f"Download of {entry.name} {entry.version} from {_redact(url)} has sha256 "
                f"{digest.hexdigest()}; expected {entry.sha256}. The file is corrupt or was "
                "tampered with; nothing was cached.")
        os.chmod(temp, 0o644)  # mkstemp makes 0600
        os.replace(temp, target)
    finally:
        Path(temp).unlink(missing_ok=True)


def fetch(entry: ZooEntry, *, force: bool = False, timeout: float = 60.0) -> Path:
    """Returns a verified local copy of ``entry``'s file, downloading it if needed.

    Args:
        entry: What to fetch.
        force: Download again even when the cache holds a verified copy.
        timeout: Socket timeout per source, in seconds.

    Returns:
        The cached file, or the repository's copy when no source could be reached.

    Raises:
        ChecksumError: A downloaded or repository file does not match the entry.
        ZooError: No source could be reached and there is no local copy.

    Example:
        >>> import hashlib, tempfile
        >>> from unittest import mock
        >>> from qkeras.zoo.entry import InputSpec
        >>> folder = Path(tempfile.mkdtemp())
        >>> data = b"weights"
        >>> _ = (folder / "m.keras").write_bytes(data)
        >>> entry = ZooEntry("m", "1.0.0", "generation", (), InputSpec((1,), "float32",
        ...     (0, 1), "none"), "", "", {}, "", "", "m.keras", hashlib.sha256(data).hexdigest(),
        ...     len(data), (folder / "m.keras").as_uri(), "", "", {"1.0.0": "first"})
        >>> with mock.patch.dict(os.environ, {"QKERAS_HOME": str(folder / "home")}):
        ...     fetch(entry).relative_to(folder).as_posix()
        'home/zoo/m/1.0.0/m.keras'
    """
    target = cached_path(entry)
    if target.is_file() and not force:
        if sha256_of(target) == entry.sha256:
            log.debug("zoo cache hit: %s", target)
            return target
        log.warning("cached %s does not match its sha256; fetching it again", target)
        target.unlink()
    unreachable = []
    for url in sources(entry):
        try:
            _download(url, target, entry, timeout)
        except _Unreachable as err:
            log.info("zoo source unreachable: %s", err)
            unreachable.append(str(err))
            continue
        log.info("downloaded %s %s from %s", entry.name, entry.version, _redact(url))
        return target
    local = repository_zoo() / entry.name / entry.file
    if local.is_file():
        if sha256_of(local) != entry.sha256:
            raise ChecksumError(f"{local} does not match the sha256 of {entry.name} "
                                f"{entry.version}; restore it from version control.")
        log.info("offline: using the repository's copy %s", local)
        return local
    tried = "; ".join(unreachable) if unreachable else "no URL (set QKERAS_ZOO_URL)"
    raise ZooError(f"Cannot get {entry.name} {entry.version}: not cached at {target}, "
                   f"sources unreachable ({tried}), and no copy in {local.parent}. Connect "
                   "to the network, or point QKERAS_ZOO_URL at a mirror (file:// or "
                   "http(s)://).")
