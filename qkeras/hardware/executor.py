r"""Sampled expectations on a hardware sampler, one vendor job per batch.

TensorFlow Quantum's own sampled-expectation op for a ``cirq.Sampler`` submits one job
per circuit and per observable. :func:`batched_expectation_op` has the same signature but
groups the whole batch: rows that share a program become one parameter sweep, the
observables' Pauli terms are grouped into qubit-wise commuting measurement settings, and
everything goes to the sampler in **one** ``run_batch`` call. TFQ's parameter-shift
differentiator calls the op once with all shifted circuits of a batch, so a training step
is two vendor jobs (forward and gradient).

An estimate of a Pauli term :math:`c\,P_S` is :math:`c` times the mean over shots of
:math:`\prod_{q \in S} (-1)^{b_q}`; with readout mitigation each factor
:math:`(-1)^{b_q}` becomes :math:`v_q[b_q]`, :math:`v_q = (1, -1) A_q^{-1}` for the
qubit's confusion matrix :math:`A_q` (:mod:`qkeras.hardware.mitigation`).

Example:
    >>> import tensorflow as tf
    >>> from qkeras.circuits import CircuitSpec
    >>> from qkeras.hardware import sampler
    >>> spec = CircuitSpec.build(2, "angle", "hardware_efficient", 1)
    >>> run = HardwareExecutor(spec, sampler=sampler("rigetti:4q-pyqvm", seed=0),
    ...                        repetitions=200)
    >>> run(tf.zeros((3, 6))).shape.as_list()
    [3, 2]
"""

from __future__ import annotations

import logging

import cirq
import numpy as np
import tensorflow as tf
import tensorflow_quantum as tfq

from qkeras.circuits.spec import CircuitSpec
from qkeras.errors import ConfigurationError, QKerasError

log = logging.getLogger(__name__)

__all__ = ["HardwareExecutor", "batched_expectation_op", "measurement_settings"]

_KEY = "m"


def measurement_settings(observables) -> tuple[list[dict], list[list], np.ndarray]:
    """Groups the Pauli terms of ``observables`` into qubit-wise commuting settings.

    Args:
        observables: ``cirq.PauliSum`` objects.

    Returns:
        ``(settings, plan, constants)``: settings ``{qubit: pauli}``, each measurable at
        once; for each setting the ``(observable index, term)`` pairs it estimates (each
        term once); and each observable's identity part.

    Example:
        >>> q = cirq.LineQubit.range(2)
        >>> settings, plan, _ = measurement_settings([
        ...     cirq.PauliSum.from_pauli_strings(cirq.Z(q[0])),
        ...     cirq.PauliSum.from_pauli_strings(cirq.Z(q[1])),
        ...     cirq.PauliSum.from_pauli_strings(cirq.X(q[0]))])
        >>> len(settings), [len(p) for p in plan]
        (2, [2, 1])
    """
    settings: list[dict] = []
    plan: list[list] = []
    constants = np.zeros(len(observables))
    for j, observable in enumerate(observables):
        for term in observable:
            paulis = dict(term.items())
            if not paulis:
                constants[j] += float(np.real(term.coefficient))
                continue
            for index, setting in enumerate(settings):
                if all(setting.get(q, p) == p for q, p in paulis.items()):
                    setting.update(paulis)
                    plan[index].append((j, term))
                    break
            else:
                settings.append(dict(paulis))
                plan.append([(j, term)])
    return settings, plan, constants


def _term_value(term: cirq.PauliString, bits: np.ndarray, qubits: list, mitigator) -> float:
    factors = np.ones(bits.shape[0])
    for q in term.qubits:
        column = bits[:, qubits.index(q)]
        if mitigator is None:
            factors *= 1 - 2 * column.astype(np.float64)
        else:
            factors *= mitigator.weights(q)[column]
    return float(np.real(term.coefficient) * factors.mean())


class _Batch:
    """The jobs of one op call, grouped as (program, observables, shots) -> sweep."""

    def __init__(self):
        self.groups: dict = {}

    def add(self, row: int, program: cirq.Circuit, program_key: bytes, observables: list,
            observables_key: tuple, shots: int, resolver: cirq.ParamResolver):
        key = (program_key, observables_key, shots)
        if key not in self.groups:
            settings, plan, constants = measurement_settings(observables)
            self.groups[key] = {"program": program, "shots": shots, "rows": [],
                                "resolvers": [], "settings": settings, "plan": plan,
                                "constants": constants}
        self.groups[key]["rows"].append(row)
        self.groups[key]["resolvers"].append(resolver)

    def circuits(self):
        for group in self.groups.values():
            program = group["program"]
            for setting, terms in zip(group["settings"], group["plan"]):
                qubits = sorted(set(program.all_qubits()) | set(setting))
                rotations = cirq.PauliString(setting).to_z_basis_ops()
                yield group, terms, qubits, program + cirq.Circuit(
                    rotations, cirq.measure(*qubits, key=_KEY))


def _expectations(sampler, programs, names, values, sums, samples, mitigator):
    batch = _Batch()
    out = np.zeros((len(programs), sums.shape[1]), np.float32)
    parsed: dict = {}

    def parse(blob):
        if blob not in parsed:
            parsed[blob] = tfq.from_tensor(tf.constant([blob]))[0]
        return parsed[blob]

    for row, blob in enumerate(programs):
        program = parse(blob)
        if not program.all_qubits():
            continue  # TFQ's parameter shift pads with empty programs (weight 0)
        used = {str(s) for s in cirq.parameter_names(program)}
        resolver = cirq.ParamResolver({n: float(v) for n, v in zip(names, values[row])
                                       if n in used})
        observables = [parse(b) for b in sums[row]]
        batch.add(row, program, blob, observables, tuple(sums[row]), int(max(samples[row])),
                  resolver)
    jobs = list(batch.circuits())
    if not jobs:
        return out
    results = sampler.run_batch([circuit for _, _, _, circuit in jobs],
                                [group["resolvers"] for group, _, _, _ in jobs],
                                repetitions=[group["shots"] for group, _, _, _ in jobs])
    for group in batch.groups.values():
        out[group["rows"]] += group["constants"].astype(np.float32)
    for (group, terms, qubits, _), per_row in zip(jobs, results):
        for row, result in zip(group["rows"], per_row):
            bits = result.measurements[_KEY]
            for j, term in terms:
                out[row, j] += _term_value(term, bits, qubits, mitigator)
    return out


def batched_expectation_op(sampler: cirq.Sampler, mitigator=None):
    """Returns a sampled-expectation op on ``sampler`` with TFQ's signature, batched.

    Args:
        sampler: Any ``cirq.Sampler``; one ``run_batch`` call per op call.
        mitigator: A :class:`~qkeras.hardware.mitigation.ReadoutMitigator`, or ``None``.

    Returns:
        ``op(programs, symbol_names, symbol_values, pauli_sums, num_samples)`` returning
        ``(batch, n_ops)`` float32 expectations, usable as ``sampled_op`` of a TFQ
        differentiator.

    Example:
        >>> q = cirq.LineQubit(0)
        >>> op = batched_expectation_op(cirq.Simulator(seed=1))
        >>> op(tfq.convert_to_tensor([cirq.Circuit(cirq.X(q))]), tf.constant(["a"]),
        ...    tf.zeros((1, 1)), tfq.convert_to_tensor([[cirq.Z(q)]]),
        ...    tf.constant([[10]])).numpy()
        array([[-1.]], dtype=float32)
    """

    failures: list[Exception] = []

    def compute(programs, symbol_names, symbol_values, pauli_sums, num_samples):
        names = [n.decode() for n in symbol_names.numpy()]
        try:
            return _expectations(sampler, list(programs.numpy()), names,
                                 symbol_values.numpy(), pauli_sums.numpy(),
                                 num_samples.numpy(), mitigator)
        except QKerasError as err:  # kept, so eager callers get it, not tf's UnknownError
            failures.append(err)
            raise

    def op(programs, symbol_names, symbol_values, pauli_sums, num_samples):
        try:
            out = tf.py_function(compute, [programs, symbol_names, symbol_values, pauli_sums,
                                           num_samples], tf.float32)
        except tf.errors.UnknownError:
            if failures:
                raise failures.pop() from None
            raise
        out.set_shape([programs.shape[0], pauli_sums.shape[1]])
        return out

    return op


class HardwareExecutor:
    """Executes a :class:`CircuitSpec` on a hardware sampler (sampled, parameter shift).

    Args:
        spec: What to execute.
        sampler: A ``cirq.Sampler`` (a qkeras hardware sampler places the circuit first,
            which logs its routed depth).
        differentiator: ``None`` or ``"parameter_shift"`` (see
            :func:`qkeras.backends.tfq.make_differentiator`); adjoint is refused.
        repetitions: Shots per measurement setting and parameter set (required).
        noise: Must be ``None``: the device brings its own.
        mitigate_readout: Calibrate each qubit's readout confusion matrix on the device
            (two circuits, ``repetitions`` shots each) and invert it.

    Raises:
        ConfigurationError: Without repetitions, with noise, or with adjoint.
    """

    mode = "sampled"

    def __init__(self, spec: CircuitSpec, *, sampler: cirq.Sampler, differentiator=None,
                 repetitions: int | None = None, noise=None, mitigate_readout: bool = False):
        from qkeras.backends.tfq import make_differentiator

        name = getattr(sampler, "spec", type(sampler).__name__)
        if not isinstance(repetitions, int) or isinstance(repetitions, bool) or repetitions < 1:
            raise ConfigurationError(
                f"backend={name!r} samples the device; set repetitions to the shots per "
                f"expectation (e.g. repetitions=1000); got {repetitions!r}.")
        if noise is not None:
            raise ConfigurationError(
                f"backend={name!r} runs on a device, which brings its own noise; drop "
                "noise=..., or simulate the device with backend='tfq' and "
                "noise=qkeras.noise.from_device(...).")
        self.spec, self.sampler, self.repetitions, self.name = spec, sampler, repetitions, name
        self.differentiator = make_differentiator(differentiator, exact=False)
        self.placement = None
        if hasattr(sampler, "place"):
            self.placement = sampler.place(spec.circuit + cirq.Circuit(
                cirq.measure(*spec.qubits, key=_KEY)))
            log.info("%s: routed depth %d, %d two-qubit gates", name, self.placement.depth,
                     self.placement.two_qubit_gates)
        mitigator = None
        if mitigate_readout:
            from qkeras.hardware.mitigation import ReadoutMitigator

            mitigator = ReadoutMitigator.calibrate(sampler, spec.qubits, repetitions=repetitions)
        self.mitigator = mitigator
        self._program = tfq.convert_to_tensor([spec.circuit])
        self._operators = tfq.convert_to_tensor([list(spec.observables)])
        self._names = tf.constant([str(s) for s in spec.symbols])
        self._samples = tf.fill([1, len(spec.observables)], repetitions)
        self._op = self.differentiator.generate_differentiable_op(
            sampled_op=batched_expectation_op(sampler, mitigator))

    def __call__(self, symbol_values: tf.Tensor) -> tf.Tensor:
        """Returns expectations ``(batch, n_observables)`` for values ``(batch, n_symbols)``."""
        batch = tf.shape(symbol_values)[0]
        return self._op(tf.tile(self._program, [batch]), self._names, symbol_values,
                        tf.tile(self._operators, [batch, 1]), tf.tile(self._samples, [batch, 1]))
