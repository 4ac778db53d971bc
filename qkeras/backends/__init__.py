"""Backends: how a :class:`~qkeras.circuits.CircuitSpec` is executed.

An executor is built once per layer from a spec and options, and is then called with
symbol values ``(batch, n_symbols)`` to give expectations ``(batch, n_observables)``.

Example:
    >>> from qkeras import backends
    >>> sorted(backends.BACKENDS)
    ['tfq']
"""

from __future__ import annotations

from qkeras.circuits.spec import CircuitSpec
from qkeras.errors import unknown_name

__all__ = ["BACKENDS", "make_executor"]

BACKENDS = ("tfq",)


def make_executor(backend: str, spec: CircuitSpec, **options):
    """Builds the executor of ``spec`` on a named backend.

    Args:
        backend: A name from :data:`BACKENDS`.
        spec: What to execute.
        **options: ``differentiator``, ``repetitions``, ``noise``.

    Returns:
        A callable ``symbol_values -> expectations``.

    Raises:
        ConfigurationError: For an unknown backend or bad options.

    Example:
        >>> spec = CircuitSpec.build(1, "angle", "hardware_efficient", 1)
        >>> type(make_executor("tfq", spec)).__name__
        'TFQExecutor'
    """
    if backend == "tfq":
        from qkeras.backends.tfq import TFQExecutor

        return TFQExecutor(spec, **options)
    raise unknown_name("backend", backend, BACKENDS)
