"""Settings read from the environment, in one place.

Settings come from function arguments first, then from these environment variables:

========================  ==============================================================
``QKERAS_HOME``           Cache root (zoo downloads). Default ``~/.keras/qkeras``.
``QKERAS_ZOO_URL``        Mirror of the model zoo (``file://`` or ``http(s)://``).
``QKERAS_MEDMNIST_URL``   Mirror of the MedMNIST files (``qkeras.medical.datasets``).
``QKERAS_MAX_QUBITS``     Largest register a simulator layer accepts. Default: what one
                          state vector and its working copies fit in this machine's memory.
========================  ==============================================================

Example:
    >>> import os
    >>> from qkeras import config
    >>> os.environ["QKERAS_MAX_QUBITS"] = "20"
    >>> config.max_qubits()
    20
    >>> del os.environ["QKERAS_MAX_QUBITS"]
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from qkeras.errors import ConfigurationError

__all__ = ["home", "zoo_url", "max_qubits", "physical_memory_bytes", "ENV_VARS"]

ENV_VARS = ("QKERAS_HOME", "QKERAS_ZOO_URL", "QKERAS_MEDMNIST_URL", "QKERAS_MAX_QUBITS")

#: Bytes of memory a simulator needs per amplitude: complex64 state plus working copies
#: (the gate application and the adjoint pass each hold a few states at once).
BYTES_PER_AMPLITUDE = 8 * 4


def home() -> Path:
    """Returns the qkeras cache root.

    Returns:
        ``$QKERAS_HOME`` if set, else ``~/.keras/qkeras``.

    Example:
        >>> isinstance(home(), Path)
        True
    """
    value = os.environ.get("QKERAS_HOME")
    return Path(value).expanduser() if value else Path.home() / ".keras" / "qkeras"


def zoo_url() -> str | None:
    """Returns the zoo mirror URL from ``QKERAS_ZOO_URL``, or ``None``.

    Example:
        >>> os.environ.pop("QKERAS_ZOO_URL", None) and None
        >>> zoo_url() is None
        True
    """
    return os.environ.get("QKERAS_ZOO_URL") or None


def physical_memory_bytes() -> int:
    """Returns this machine's physical memory in bytes.

    Example:
        >>> physical_memory_bytes() > 2**20
        True
    """
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def max_qubits() -> int:
    """Returns the largest number of qubits a simulator layer accepts.

    One sample's state vector needs ``2**n`` amplitudes; with its working copies that is
    ``32 * 2**n`` bytes, which must fit in physical memory.

    Returns:
        ``$QKERAS_MAX_QUBITS`` if set, else ``floor(log2(memory / 32))``.

    Raises:
        ConfigurationError: If ``QKERAS_MAX_QUBITS`` is not a positive integer.

    Example:
        >>> 20 <= max_qubits() <= 40
        True
    """
    value = os.environ.get("QKERAS_MAX_QUBITS")
    if value is not None:
        try:
            limit = int(value)
        except ValueError:
            limit = 0
        if limit < 1:
            raise ConfigurationError(
                f"QKERAS_MAX_QUBITS must be a positive integer; got {value!r}. "
                "Unset it to use the limit this machine's memory allows."
            )
        return limit
    return int(math.floor(math.log2(physical_memory_bytes() / BYTES_PER_AMPLITUDE)))
