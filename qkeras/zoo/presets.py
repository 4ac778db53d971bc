"""The released zoo models, registered at import from ``qkeras/zoo/released.json``.

The file ships inside the package, so an installed qkeras knows its models without this
repository; each record was built by :func:`qkeras.zoo.release.entry_from_folder` from a
model's ``zoo/<name>/recipe.yaml`` and the ``metrics.json`` its training run wrote (no
figure is typed by hand). Release a model with ``python scripts/zoo/release.py
zoo/<name>``; see ``zoo/README.md``.

Example:
    >>> all(entry.sha256 for entry in RELEASED)
    True
"""

from __future__ import annotations

from qkeras.zoo.entry import ZooEntry
from qkeras.zoo.registry import register
from qkeras.zoo.release import read_released

__all__ = ["RELEASED"]

#: The released entries, in registry-file order (by name, then version).
RELEASED: tuple[ZooEntry, ...] = tuple(read_released())

for _entry in RELEASED:
    register(_entry)
