"""Backends: how a :class:`~qkeras.circuits.CircuitSpec` is executed.

An executor is built once per layer from a spec and options, and is then called with
symbol values ``(batch, n_symbols)`` to give expectations ``(batch, n_observables)``.

Example:
    >>> from qkeras import backends
    >>> sorted(backends.BACKENDS)
    ['auto', 'statevector', 'tfq']
"""

from __future__ import annotations

from qkeras.circuits.spec import CircuitSpec
from qkeras.errors import ConfigurationError, unknown_name

__all__ = ["AUTO_STATEVECTOR_MAX_QUBITS", "BACKENDS", "StatevectorExecutor", "make_executor",
           "resolve_backend"]

BACKENDS = ("auto", "tfq", "statevector")

#: ``backend="auto"`` runs exact expectations on the statevector backend up to this many
#: qubits and on TFQ above; ``scripts/bench/backends.py`` measured the crossover
#: (docs/performance.md).
AUTO_STATEVECTOR_MAX_QUBITS = 12


def _is_hardware(backend) -> bool:
    """A ``"vendor:device"`` string or a ``cirq.Sampler`` (checked without importing cirq)."""
    if isinstance(backend, str):
        return ":" in backend
    return any(cls.__name__ == "Sampler" and cls.__module__.startswith("cirq")
               for cls in type(backend).__mro__)


def resolve_backend(backend: str, spec: CircuitSpec, *, differentiator=None,
                    repetitions=None, noise=None) -> str:
    """Returns the backend a layer runs on: ``backend`` itself, or what ``"auto"`` picks.

    A hardware backend (a ``"vendor:device"`` string or a ``cirq.Sampler``, see
    :mod:`qkeras.hardware`) resolves to ``"hardware"``.

    ``"auto"`` picks ``"statevector"`` for exact expectations (no repetitions, no noise,
    no differentiator other than adjoint) on at most :data:`AUTO_STATEVECTOR_MAX_QUBITS`
    qubits whose gates each act on at most two qubits, else ``"tfq"``. Gates on three or
    more qubits (the multi-controlled rotations of amplitude encoding) take the
    statevector backend seconds to build (measured: 12.6 s for a 6-qubit amplitude
    encoding, against 0.2 s on TFQ), which outweighs its faster steady state for most
    jobs.

    Example:
        >>> spec = CircuitSpec.build(8, "angle", "hardware_efficient", 2)
        >>> resolve_backend("auto", spec), resolve_backend("auto", spec, repetitions=100)
        ('statevector', 'tfq')
    """
    if _is_hardware(backend):
        return "hardware"
    if backend != "auto":
        return backend
    exact = repetitions is None and noise is None and differentiator in (None, "adjoint")
    small = len(spec.qubits) <= AUTO_STATEVECTOR_MAX_QUBITS
    local = all(len(op.qubits) <= 2 for op in spec.circuit.all_operations())
    return "statevector" if exact and small and local else "tfq"


class StatevectorExecutor:
    """Executes a spec on :class:`~qkeras.backends.statevector.StatevectorSimulator`.

    Gradients are exact (the simulator's adjoint method), so there is no differentiator;
    sampling and noise are not simulated here.
    """

    differentiator = None
    mode = "exact"
    name = "statevector"

    def __init__(self, spec: CircuitSpec, *, differentiator=None, repetitions=None,
                 noise=None, jit_compile: bool = True):
        from qkeras.backends.statevector import StatevectorSimulator

        if differentiator not in (None, "adjoint"):
            raise ConfigurationError(
                f"backend='statevector' computes exact gradients itself; differentiator="
                f"{differentiator!r} applies to backend='tfq' only. Leave it None.")
        if repetitions is not None or noise is not None:
            raise ConfigurationError(
                "backend='statevector' computes exact, noiseless expectations; for "
                "repetitions or noise use backend='tfq'.")
        self.simulator = StatevectorSimulator(spec.circuit, spec.symbols, spec.observables,
                                              qubits=spec.qubits, jit_compile=jit_compile)

    def __call__(self, symbol_values):
        return self.simulator.expectation(symbol_values)


def make_executor(backend: str, spec: CircuitSpec, **options):
    """Builds the executor of ``spec`` on a named backend.

    Args:
        backend: A name from :data:`BACKENDS`, a ``"vendor:device"`` string or a
            ``cirq.Sampler`` (:mod:`qkeras.hardware`).
        spec: What to execute.
        **options: ``differentiator``, ``repetitions``, ``noise``; ``jit_compile`` for
            the statevector backend; ``mitigate_readout`` for hardware.

    Returns:
        A callable ``symbol_values -> expectations``.

    Raises:
        ConfigurationError: For an unknown backend or bad options.

    Example:
        >>> spec = CircuitSpec.build(1, "angle", "hardware_efficient", 1)
        >>> type(make_executor("tfq", spec)).__name__
        'TFQExecutor'
    """
    jit_compile = options.pop("jit_compile", True)
    mitigate_readout = options.pop("mitigate_readout", False)
    if _is_hardware(backend):
        from qkeras.hardware import sampler as make_sampler
        from qkeras.hardware.executor import HardwareExecutor

        sampler = make_sampler(backend) if isinstance(backend, str) else backend
        return HardwareExecutor(spec, sampler=sampler, mitigate_readout=mitigate_readout,
                                **options)
    if mitigate_readout:
        raise ConfigurationError("mitigate_readout applies to hardware backends only "
                                 "('vendor:device' strings or samplers).")
    backend = resolve_backend(backend, spec, **options)
    if backend == "tfq":
        from qkeras.backends.tfq import TFQExecutor

        return TFQExecutor(spec, **options)
    if backend == "statevector":
        return StatevectorExecutor(spec, jit_compile=jit_compile, **options)
    raise unknown_name("backend", backend, BACKENDS)
