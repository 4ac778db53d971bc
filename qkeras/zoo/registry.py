"""The registry of zoo entries: filled at import from :mod:`qkeras.zoo.presets`.

Example:
    >>> from qkeras.zoo import registry
    >>> isinstance(registry.entries(), list)
    True
"""

from __future__ import annotations

import difflib

from qkeras.errors import ZooError
from qkeras.zoo.entry import ZooEntry

__all__ = ["register", "unregister", "get", "entries", "names"]

_ENTRIES: dict[tuple[str, str], ZooEntry] = {}


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def register(entry: ZooEntry) -> ZooEntry:
    """Adds an entry; a second entry with the same name and version is refused.

    Raises:
        ZooError: For a duplicate, or something that is not a :class:`ZooEntry`.

    Example:
        >>> register("x")
        Traceback (most recent call last):
        ...
        qkeras.errors.ZooError: register() takes a ZooEntry; got str.
    """
    if not isinstance(entry, ZooEntry):
        raise ZooError(f"register() takes a ZooEntry; got {type(entry).__name__}.")
    if entry.key in _ENTRIES:
        raise ZooError(f"Zoo entry {entry.name!r} version {entry.version} is registered "
                       "already; release a new version instead of replacing one.")
    _ENTRIES[entry.key] = entry
    return entry


def unregister(name: str, version: str) -> None:
    """Removes an entry (for tests and local experiments; released entries stay).

    Raises:
        ZooError: If it is not registered.

    Example:
        >>> unregister("no-such-model", "1.0.0")
        Traceback (most recent call last):
        ...
        qkeras.errors.ZooError: Zoo entry 'no-such-model' version 1.0.0 is not registered.
    """
    if _ENTRIES.pop((name, version), None) is None:
        raise ZooError(f"Zoo entry {name!r} version {version} is not registered.")


def names() -> list[str]:
    """Returns the registered names, sorted.

    Example:
        >>> names() == sorted(set(names()))
        True
    """
    return sorted({name for name, _ in _ENTRIES})


def entries() -> list[ZooEntry]:
    """Returns the newest version of every registered model, sorted by name.

    Example:
        >>> [e.name for e in entries()] == names()
        True
    """
    return [get(name) for name in names()]


def get(name: str, version: str | None = None) -> ZooEntry:
    """Returns an entry, by default the newest version.

    Raises:
        ZooError: For an unknown name (listing the close matches) or version.

    Example:
        >>> get("qcnn-chest-xary")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qkeras.errors.ZooError: Unknown zoo model 'qcnn-chest-xary'...
    """
    versions = sorted((v for n, v in _ENTRIES if n == name), key=_version_key)
    if not versions:
        known = names()
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        listed = ", ".join(map(repr, known)) if known else "none (no model is released yet)"
        raise ZooError(f"Unknown zoo model {name!r}.{hint} Available: {listed}. "
                       "See `qkeras zoo list`.")
    if version is None:
        return _ENTRIES[(name, versions[-1])]
    if (name, version) not in _ENTRIES:
        raise ZooError(f"Zoo model {name!r} has no version {version!r}; released: "
                       f"{', '.join(versions)}.")
    return _ENTRIES[(name, version)]
