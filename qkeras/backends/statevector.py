r"""A statevector simulator in core TensorFlow ops: differentiable, XLA-compiled, portable.

:class:`StatevectorSimulator` evolves ``(batch, 2**n)`` complex64 states through a
parameterised ``cirq.Circuit`` using only core TensorFlow ops, so

1. a model that uses it saves as a SavedModel with no TensorFlow Quantum custom ops,
   which loads in stock TensorFlow Serving;
2. it runs on a GPU;
3. it is faster than TFQ's qsim (``python scripts/bench/backends.py``; on the 2-core
   development machine, 20x forward and 8x forward+gradient at 8 qubits, still ahead at
   16).

All Python work happens once, in ``__init__``:

* ``_gates`` turns each operation into gate matrices that are affine in per-sample
  complex *features*: for a ``cirq.EigenGate`` at exponent :math:`t`, the phases
  :math:`e^{i\pi t(\lambda_k + s)}` of ``gate._eigen_components()`` (exact, global phase
  included); ``PhasedXPowGate``, ``PhasedXZGate`` and ``FSimGate`` are products of
  eigen gates; ``cirq.ControlledGate`` adds controls to any of them; constant gates are
  ``cirq.unitary``. Parameters are any sympy expressions of the symbols (``_symbolic``).
* ``_fusion`` merges consecutive gates into blocks on at most :func:`fused_qubits`
  qubits, tracking which entries of each block are zero, one or symbol-dependent.
* ``_assemble`` computes every block's per-sample matrix from the symbol values in a
  few vectorised ops (no per-gate ops, no gathers).
* ``_kernel`` applies the blocks to the state, reshaped to at most 8 dimensions, skipping
  structural zeros; its gradient is the adjoint method (a few states of memory however
  deep the circuit), one ``tf.custom_gradient``.
* ``_pauli`` measures real-weighted Pauli sums with bit-flips and parity signs.

:meth:`~StatevectorSimulator.expectation` and :meth:`~StatevectorSimulator.state` are
``tf.function``\ s with input signature ``(None, len(symbols))`` float32 over that graph
code: no Python side effects, no variables, dynamic batch; XLA recompiles once per new
batch size.

Example:
    >>> import cirq, sympy, tensorflow as tf
    >>> q = cirq.LineQubit.range(2)
    >>> x = sympy.Symbol("x")
    >>> sim = StatevectorSimulator(cirq.Circuit(cirq.rx(x)(q[0]), cirq.CNOT(*q)), [x],
    ...                            [cirq.Z(q[0]), cirq.Z(q[0]) * cirq.Z(q[1])])
    >>> sim.expectation(tf.constant([[0.0], [3.14159265]])).numpy().round(4)
    array([[ 1.,  1.],
           [-1.,  1.]], dtype=float32)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import cirq
import sympy
import tensorflow as tf

from qkeras import config
from qkeras.backends import _fusion, _gates, _kernel
from qkeras.backends._assemble import MatrixAssembly
from qkeras.backends._pauli import PauliMeasurement, as_pauli_sum
from qkeras.backends._unitary import FeatureTable
from qkeras.errors import ConfigurationError, InputError, ResourceError

__all__ = ["StatevectorSimulator", "SUPPORTED_GATES"]

log = logging.getLogger(__name__)

SUPPORTED_GATES = _gates.SUPPORTED_GATES

#: Most qubits a fused block acts on (``None``: by register size, see ``fused_qubits``).
FUSED_QUBITS: int | None = None


def fused_qubits(n_qubits: int) -> int:
    """Most qubits per fused block for an ``n_qubits`` register.

    Small registers are bound by per-op overhead and the cost of multiplying gate
    matrices, so only single-qubit gates are fused; from 10 qubits on, memory passes
    dominate and two-qubit blocks (one pass for a CNOT and its neighbouring rotations)
    win (``scripts/bench/backends.py``).

    Example:
        >>> fused_qubits(4), fused_qubits(16)
        (1, 2)
    """
    if FUSED_QUBITS is not None:
        return FUSED_QUBITS
    return 1 if n_qubits < 10 else 2


def _as_symbols(symbols: Sequence[sympy.Symbol | str]) -> list[sympy.Symbol]:
    if isinstance(symbols, str | sympy.Symbol):
        raise ConfigurationError(f"symbols must be a sequence of sympy.Symbol; got {symbols!r}. "
                                 "Wrap a single symbol in a list.")
    out = []
    for symbol in symbols:
        if isinstance(symbol, str):
            symbol = sympy.Symbol(symbol)
        if not isinstance(symbol, sympy.Symbol):
            raise ConfigurationError(f"symbols must be sympy.Symbol or str; got {symbol!r}.")
        out.append(symbol)
    names = [s.name for s in out]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigurationError(f"symbols must be distinct; {repeated} appear more than once.")
    return out


def _register(circuit: cirq.AbstractCircuit, observables: Sequence[cirq.PauliSum],
              qubits: Sequence[cirq.Qid] | None) -> list[cirq.Qid]:
    used = set(circuit.all_qubits()).union(*(o.qubits for o in observables))
    if qubits is None:
        return sorted(used)
    qubits = list(qubits)
    if len(set(qubits)) != len(qubits):
        raise ConfigurationError(f"qubits must be distinct; got {qubits}.")
    missing = sorted(set(circuit.all_qubits()) - set(qubits))
    if missing:
        raise ConfigurationError(f"The circuit acts on {missing}, which are not in `qubits`; "
                                 "add them or leave `qubits` out to use all of them.")
    return qubits


class StatevectorSimulator:
    """Exact expectations and states of a parameterised circuit, in core TensorFlow ops.

    Args:
        circuit: The circuit. Gates may carry sympy expressions of ``symbols``.
        symbols: The symbols, in the column order of ``symbol_values``.
        observables: Pauli sums or strings with real coefficients.
        qubits: The register, qubit 0 the most significant bit of an amplitude's index
            (as ``cirq.final_state_vector(circuit, qubit_order=qubits)``). Defaults to the
            sorted qubits of the circuit and the observables.
        jit_compile: Compile :meth:`expectation` and :meth:`state` with XLA (several times
            faster). A SavedModel keeps XLA's must-compile mark on these functions, so a
            server without the XLA JIT needs a simulator built with ``False``.

    Symbols may also be given as names (``str``); they keep the order given (``w2``
    before ``w10`` if so listed; nothing is sorted). Symbols the circuit does not use are
    allowed (their gradient is zero). Identity gates are dropped and terminal
    measurements ignored.

    Raises:
        ConfigurationError: For a symbol of the circuit missing from ``symbols``, repeated
            symbols or qubits, or a circuit/observable qubit outside ``qubits``.
        InputError: For an observable that is not a real-weighted Pauli sum.
        UnsupportedGateError: For a gate this simulator does not implement
            (see :data:`SUPPORTED_GATES`); measurements are ignored if terminal.
        ResourceError: If the register has more than ``qkeras.config.max_qubits()`` qubits.

    Example:
        >>> import cirq, sympy, tensorflow as tf
        >>> q = cirq.LineQubit.range(3)
        >>> w = sympy.symbols("w0:2")
        >>> circuit = cirq.Circuit(cirq.ry(w[0])(q[0]), cirq.CNOT(q[0], q[1]),
        ...                        cirq.rz(2 * w[1] - 0.5)(q[2]))
        >>> sim = StatevectorSimulator(circuit, w, [cirq.Z(q[1])], jit_compile=False)
        >>> sim.state(tf.zeros([4, 2])).shape
        TensorShape([4, 8])
    """

    def __init__(self, circuit: cirq.Circuit, symbols: Sequence[sympy.Symbol],
                 observables: Sequence[cirq.PauliSum | cirq.PauliString], *,
                 qubits: Sequence[cirq.Qid] | None = None, jit_compile: bool = True):
        if not isinstance(circuit, cirq.AbstractCircuit):
            raise ConfigurationError(f"circuit must be a cirq.Circuit; got "
                                     f"{type(circuit).__name__}.")
        self.circuit = circuit
        self.symbols = _as_symbols(symbols)
        self.observables = [as_pauli_sum(o, i) for i, o in enumerate(observables)]
        self.qubits = _register(circuit, self.observables, qubits)
        self.n_qubits = len(self.qubits)
        self.jit_compile = bool(jit_compile)
        limit = config.max_qubits()
        if self.n_qubits > limit:
            raise ResourceError(
                f"The statevector simulator holds 2**{self.n_qubits} amplitudes per sample, "
                f"more than this machine allows ({limit} qubits, QKERAS_MAX_QUBITS). Use fewer "
                "qubits or raise QKERAS_MAX_QUBITS if you know the memory is there.")
        missing = sorted(cirq.parameter_names(circuit) - {s.name for s in self.symbols})
        if missing:
            raise ConfigurationError(f"The circuit uses symbols {missing} that are not in "
                                     "`symbols`; pass every symbol of the circuit.")
        self._features = FeatureTable(self.symbols)
        ops = _gates.parse(circuit, self.qubits, self._features)
        self._blocks = _fusion.fuse(ops, max_qubits=fused_qubits(self.n_qubits))
        self._assembly = MatrixAssembly(self._blocks, self._features)
        self._measure = PauliMeasurement(self.observables, self.qubits)
        log.debug("statevector: %d qubits, %d gates fused into %d blocks", self.n_qubits,
                  len(ops), len(self._blocks))
        signature = [tf.TensorSpec([None, len(self.symbols)], tf.float32)]
        self._state = tf.function(self._evolve, input_signature=signature,
                                  jit_compile=self.jit_compile, autograph=False)
        self._expectation = tf.function(lambda v: self._measure(self._evolve(v)),
                                        input_signature=signature,
                                        jit_compile=self.jit_compile, autograph=False)

    def _evolve(self, symbol_values: tf.Tensor) -> tf.Tensor:
        groups = self._assembly(symbol_values)
        return _kernel.evolve(self._blocks, self.n_qubits, groups, self._assembly.slots,
                              tf.shape(symbol_values)[0])

    def _check(self, symbol_values: tf.Tensor) -> tf.Tensor:
        values = tf.convert_to_tensor(symbol_values)
        if not (values.dtype.is_floating or values.dtype.is_integer):
            raise InputError(f"symbol_values must be real numbers; got dtype {values.dtype.name}.")
        width = len(self.symbols)
        shape = values.shape
        if shape.rank is not None and (shape.rank != 2 or shape[1] not in (None, width)):
            names = ", ".join(s.name for s in self.symbols[:8]) + (", ..." if width > 8 else "")
            raise InputError(f"symbol_values must have shape (batch, {width}), one column per "
                             f"symbol ({names}); got {shape}.")
        return tf.cast(values, tf.float32)

    def expectation(self, symbol_values: tf.Tensor) -> tf.Tensor:
        """Expectations of the observables.

        Args:
            symbol_values: ``(batch, len(symbols))`` real values, cast to float32.

        Returns:
            ``(batch, len(observables))`` float32, the real parts of
            :math:`\\langle\\psi|O|\\psi\\rangle`. Differentiable with ``tf.GradientTape``.

        Raises:
            InputError: If ``symbol_values`` does not have shape ``(batch, len(symbols))``.

        Example:
            >>> import cirq, sympy, tensorflow as tf
            >>> q, a = cirq.LineQubit(0), sympy.Symbol("a")
            >>> sim = StatevectorSimulator(cirq.Circuit(cirq.ry(a)(q)), [a], [cirq.X(q)])
            >>> sim.expectation([[3.14159265 / 2]]).numpy().round(4)
            array([[1.]], dtype=float32)
        """
        return self._expectation(self._check(symbol_values))

    def state(self, symbol_values: tf.Tensor) -> tf.Tensor:
        """Final state vectors, ordered as ``cirq.final_state_vector(qubit_order=qubits)``.

        Args:
            symbol_values: ``(batch, len(symbols))`` real values, cast to float32.

        Returns:
            ``(batch, 2**n_qubits)`` complex64.

        Raises:
            InputError: If ``symbol_values`` does not have shape ``(batch, len(symbols))``.

        Example:
            >>> import cirq, tensorflow as tf
            >>> q = cirq.LineQubit.range(2)
            >>> sim = StatevectorSimulator(cirq.Circuit(cirq.X(q[1])), [], [], qubits=q)
            >>> sim.state(tf.zeros([1, 0])).numpy().real
            array([[0., 1., 0., 0.]], dtype=float32)
        """
        return self._state(self._check(symbol_values))
