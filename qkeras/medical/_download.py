"""Checksummed, atomic downloads into a cache folder (``http(s)://`` and ``file://``)."""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from qkeras._files import atomic_open
from qkeras.errors import ChecksumError, DataError

log = logging.getLogger(__name__)

T = TypeVar("T")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Digests:
    """The md5, sha256 and size in bytes of one file."""

    md5: str
    sha256: str
    size: int


def file_digests(path: str | os.PathLike) -> Digests:
    """Returns the digests of a file, read in chunks.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "x"
        >>> _ = path.write_bytes(b"abc")
        >>> file_digests(path).md5
        '900150983cd24fb0d6963f7d28e17f72'
    """
    md5, sha256, size = hashlib.md5(), hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            md5.update(chunk)
            sha256.update(chunk)
            size += len(chunk)
    return Digests(md5.hexdigest(), sha256.hexdigest(), size)


def redact(url: str) -> str:
    """Drops any ``user:password@`` part of a URL, for messages and logs.

    Example:
        >>> redact("http://me:secret@mirror.example/x.npz")
        'http://mirror.example/x.npz'
    """
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def download(url: str, dest: str | os.PathLike, *, verify: Callable[[Digests], T],
             timeout: float = 60.0) -> T:
    """Downloads ``url`` to ``dest`` if ``verify`` accepts its digests; else leaves nothing.

    The body is streamed to a temporary file beside ``dest`` while its md5 and sha256 are
    computed; ``verify`` then sees the digests and raises :class:`ChecksumError` to reject
    the file. Only an accepted file is renamed onto ``dest`` (atomically), so an interrupted,
    truncated or corrupt download never lands in the cache.

    Args:
        url: ``http://``, ``https://`` or ``file://`` URL.
        dest: Where the verified file goes.
        verify: Called with the :class:`Digests`; its return value is returned.
        timeout: Socket timeout in seconds.

    Returns:
        What ``verify`` returned.

    Raises:
        DataError: If the URL cannot be fetched (network down, HTTP error, missing file).
        ChecksumError: If fewer bytes arrive than announced, or ``verify`` rejects them.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "src.bin").write_bytes(b"abc")
        >>> download((folder / "src.bin").as_uri(), folder / "dst.bin",
        ...          verify=lambda d: d.size)
        3
    """
    dest = Path(dest)
    shown = redact(url)
    request = urllib.request.Request(url, headers={"User-Agent": "qkeras"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, \
                atomic_open(dest) as handle:
            expected = response.headers.get("Content-Length")
            md5, sha256, size = hashlib.md5(), hashlib.sha256(), 0
            while chunk := response.read(_CHUNK):
                handle.write(chunk)
                md5.update(chunk)
                sha256.update(chunk)
                size += len(chunk)
            if expected is not None and int(expected) != size:
                raise ChecksumError(
                    f"Download of {shown} was truncated: got {size} of {expected} bytes. "
                    "Nothing was written to the cache; try again or use another mirror."
                )
            result = verify(Digests(md5.hexdigest(), sha256.hexdigest(), size))
    except http.client.IncompleteRead as err:
        raise ChecksumError(
            f"Download of {shown} was truncated ({len(err.partial)} bytes in the last read). "
            "Nothing was written to the cache; try again or use another mirror."
        ) from err
    except urllib.error.HTTPError as err:
        raise DataError(
            f"Download of {shown} failed: HTTP {err.code} {err.reason}. Check the URL or "
            "mirror, or pass the path of a local copy instead."
        ) from err
    except (urllib.error.URLError, TimeoutError, ConnectionError) as err:
        reason = getattr(err, "reason", err)
        raise DataError(
            f"Could not download {shown}: {reason}. Without network access, pass the path "
            "of a local copy, or a mirror (file:// or http://)."
        ) from err
    log.info("downloaded %s (%d bytes) to %s", shown, size, dest)
    return result
