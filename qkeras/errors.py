"""Errors raised by qkeras.

Every user-facing failure raises a subclass of :class:`QKerasError`. Each subclass also
inherits the builtin exception it replaces, so ``except ValueError`` keeps working. A
message says what was wrong, names the offending value or shape (never patient data or a
credential) and says how to fix it.

Example:
    >>> from qkeras import errors
    >>> try:
    ...     raise errors.unknown_name("encoding", "angel", ["angle", "iqp"])
    ... except errors.QKerasError as err:
    ...     print(err)
    Unknown encoding 'angel'. Did you mean 'angle'? Choices: 'angle', 'iqp'.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "QKerasError",
    "InputError",
    "ConfigurationError",
    "ResourceError",
    "EnvironmentSetupError",
    "BackendError",
    "UnsupportedGateError",
    "ExportError",
    "CredentialsError",
    "HardwareError",
    "DataError",
    "DicomError",
    "DeidentificationError",
    "ChecksumError",
    "ZooError",
    "ArchiveError",
    "ServingError",
    "unknown_name",
]


class QKerasError(Exception):
    """Base class of every error qkeras raises on purpose."""


class InputError(QKerasError, ValueError):
    """A tensor or array given to qkeras has the wrong shape, dtype or values (NaN, inf)."""


class ConfigurationError(QKerasError, ValueError):
    """A constructor argument or option is invalid (unknown name, bad size, bad combination)."""


class ResourceError(QKerasError, MemoryError):
    """The request needs more memory or compute than this machine offers."""


class EnvironmentSetupError(QKerasError, ImportError):
    """The Python environment is set up in a way qkeras cannot work with."""


class BackendError(QKerasError, RuntimeError):
    """A backend could not execute a circuit."""


class UnsupportedGateError(BackendError, ValueError):
    """A backend does not implement a gate found in the circuit."""


class ExportError(QKerasError, ValueError):
    """A model cannot be exported as asked."""


class CredentialsError(QKerasError, PermissionError):
    """A vendor credential is missing or rejected."""


class HardwareError(QKerasError, RuntimeError):
    """A quantum-hardware job failed or timed out."""


class DataError(QKerasError, ValueError):
    """A data set or file is missing, malformed or inconsistent."""


class DicomError(DataError):
    """A DICOM file cannot be read as an image."""


class DeidentificationError(QKerasError, ValueError):
    """De-identification cannot be carried out as asked."""


class ChecksumError(QKerasError, OSError):
    """A downloaded or cached file does not match its expected checksum."""


class ZooError(QKerasError, LookupError):
    """A model-zoo entry is unknown or cannot be loaded."""


class ArchiveError(ZooError):
    """A released archive is unsafe (a member escapes its folder) or cannot be extracted."""


class ServingError(QKerasError, ValueError):
    """A model server cannot answer a request as asked (unknown model, bad request body).

    ``code`` is the gRPC status name TensorFlow Serving would report (``"NOT_FOUND"``,
    ``"INVALID_ARGUMENT"`` ...); the server turns it into the HTTP status TF Serving uses.
    """

    def __init__(self, message: str, code: str = "INVALID_ARGUMENT") -> None:
        super().__init__(message)
        self.code = code


def unknown_name(kind: str, name: object, choices: Iterable[str]) -> ConfigurationError:
    """Builds the error for an unknown option name, listing the close matches.

    Args:
        kind: What the name names, e.g. ``"encoding"``.
        name: The name the user gave.
        choices: The accepted names.

    Returns:
        A :class:`ConfigurationError` to raise.

    Example:
        >>> str(unknown_name("ansatz", "hea", ["hardware_efficient"]))
        "Unknown ansatz 'hea'. Choices: 'hardware_efficient'."
    """
    choices = sorted(choices)
    close = difflib.get_close_matches(str(name), choices, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    listed = ", ".join(repr(c) for c in choices)
    return ConfigurationError(f"Unknown {kind} {name!r}.{hint} Choices: {listed}.")
