r"""Device noise: a Cirq noise model built from a processor's calibration.

:class:`DeviceNoiseModel` holds, per physical qubit and coupled pair, the Pauli error of
one- and two-qubit gates and the readout errors, and inserts

- after each non-virtual one-qubit gate on qubit :math:`q`: ``cirq.depolarize(e_q)``;
- after each two-qubit gate on :math:`(a, b)`: ``cirq.depolarize(e_{ab}, n_qubits=2)``
  (pairs without a calibrated gate, which the device would reach by SWAPs, take the
  mean two-qubit error);
- before each measurement, or at the end of a circuit without measurements (TFQ measures
  implicitly), the readout channel: a generalised amplitude damping with
  :math:`\gamma = p(1|0) + p(0|1)`, :math:`p = p(0|1)/\gamma`, which flips
  :math:`|0\rangle \to |1\rangle` with :math:`p(1|0)` and :math:`|1\rangle \to |0\rangle`
  with :math:`p(0|1)`, as the readout does.

Z rotations are virtual (frame changes) on all three vendors' devices and get no error.
A reported average gate infidelity :math:`r` (IBM, pyquil) is a Pauli error
:math:`e = r (d + 1)/d`: :math:`1.5 r` for one qubit, :math:`1.25 r` for two.

The model acts on the circuit it is given: on a :class:`~qkeras.hardware.Placement`'s
``circuit`` it charges the device's own gates on the device's own qubits; on a layer's
logical circuit, ``layout`` maps logical to physical qubits (default: the placement the
sampler chose, when built from a sampler and a circuit).

Example:
    >>> import cirq
    >>> model = from_device("ibm:fake_manila")
    >>> q = cirq.LineQubit.range(2)
    >>> noisy = cirq.Circuit(cirq.X(q[0]), cirq.measure(*q, key="m")).with_noise(model)
    >>> sorted({type(op.gate).__name__ for op in noisy.all_operations()})
    ['DepolarizingChannel', 'GeneralizedAmplitudeDampingChannel', 'MeasurementGate', '_PauliX']
"""

from __future__ import annotations

import dataclasses
import logging

import cirq
import numpy as np

from qkeras.errors import ConfigurationError

log = logging.getLogger(__name__)

__all__ = ["DeviceNoiseModel", "from_device", "from_qiskit_backend", "from_google_calibration",
           "from_pyquil_noise_model"]


def _readout_channel(up: float, down: float):
    gamma = up + down
    if gamma <= 0:
        return None
    return cirq.generalized_amplitude_damp(p=down / gamma, gamma=min(gamma, 1.0))


@dataclasses.dataclass(frozen=True, eq=False)
class DeviceNoiseModel(cirq.NoiseModel):
    """Per-qubit and per-pair gate and readout errors of a device (see the module docs).

    Attributes:
        name: The device, for messages.
        one_qubit: ``{physical qubit: Pauli error of a one-qubit gate}``.
        two_qubit: ``{frozenset({a, b}): Pauli error of the two-qubit gate}``.
        readout: ``{physical qubit: (p(1|0), p(0|1))}``.
        layout: ``{logical qubit: physical qubit}`` for circuits on logical qubits.
    """

    name: str
    one_qubit: dict
    two_qubit: dict
    readout: dict
    layout: dict = dataclasses.field(default_factory=dict)

    def with_layout(self, layout: dict) -> DeviceNoiseModel:
        """Returns this model applied to logical qubits placed as ``layout``."""
        return dataclasses.replace(self, layout=dict(layout))

    def _physical(self, qubit):
        return self.layout.get(qubit, qubit)

    def _gate_noise(self, op: cirq.Operation) -> list[cirq.Operation]:
        if cirq.is_measurement(op) or isinstance(op.gate, (cirq.ZPowGate, cirq.IdentityGate)):
            return []
        physical = [self._physical(q) for q in op.qubits]
        if len(physical) == 1:
            error = self.one_qubit.get(physical[0], _mean(self.one_qubit))
            return [cirq.depolarize(error).on(*op.qubits)] if error > 0 else []
        if len(physical) == 2:
            error = self.two_qubit.get(frozenset(physical), _mean(self.two_qubit))
            return [cirq.depolarize(error, n_qubits=2).on(*op.qubits)] if error > 0 else []
        return []

    def _readout_ops(self, qubits) -> list[cirq.Operation]:
        ops = []
        for qubit in qubits:
            default = tuple(np.mean(list(self.readout.values()), axis=0)) if self.readout \
                else (0.0, 0.0)
            channel = _readout_channel(*self.readout.get(self._physical(qubit), default))
            if channel is not None:
                ops.append(channel.on(qubit))
        return ops

    def noisy_moment(self, moment, system_qubits):
        """The moment with its readout channels before and its gate noise after."""
        out = []
        measured = [q for op in moment if cirq.is_measurement(op) for q in op.qubits]
        if measured:
            out.append(cirq.Moment(self._readout_ops(measured)))
        out.append(moment)
        after = [noise for op in moment for noise in self._gate_noise(op)]
        if after:
            out.append(cirq.Moment(after))
        return out

    def noisy_moments(self, moments, system_qubits):
        """Every moment's noise; a circuit without measurements gets readout at its end."""
        moments = list(moments)
        out = [op_tree for moment in moments for op_tree in
               self.noisy_moment(moment, system_qubits)]
        if not any(cirq.is_measurement(op) for moment in moments for op in moment):
            out.append(cirq.Moment(self._readout_ops(system_qubits)))
        return out


def _mean(errors: dict) -> float:
    return float(np.mean(list(errors.values()))) if errors else 0.0


def from_qiskit_backend(backend) -> DeviceNoiseModel:
    """Builds the model from a Qiskit ``BackendV2``'s ``target`` (and ``properties()``).

    Qubit ``i`` is ``cirq.LineQubit(i)``. Readout uses the asymmetric
    ``prob_meas1_prep0``/``prob_meas0_prep1`` when the backend reports them, else the
    target's symmetric measurement error.

    Example:
        >>> from qkeras.hardware.ibm import fake_backend
        >>> model = from_qiskit_backend(fake_backend("fake_manila"))
        >>> round(model.readout[cirq.LineQubit(0)][1], 4)
        0.0548
    """
    target = backend.target
    one, two, readout = {}, {}, {}
    for name in ("sx", "x"):
        for qargs, props in (target[name].items() if name in target else []):
            if props is not None and props.error is not None:
                q = cirq.LineQubit(qargs[0])
                one[q] = max(one.get(q, 0.0), 1.5 * props.error)
    for name in ("ecr", "cx", "cz"):
        for qargs, props in (target[name].items() if name in target else []):
            if props is not None and props.error is not None:
                pair = frozenset(cirq.LineQubit(i) for i in qargs)
                two[pair] = max(two.get(pair, 0.0), 1.25 * props.error)
    properties = backend.properties() if hasattr(backend, "properties") else None
    for qargs, props in (target["measure"].items() if "measure" in target else []):
        q, error = cirq.LineQubit(qargs[0]), (props.error if props else None) or 0.0
        readout[q] = (error, error)
        if properties is not None:
            values = {p.name: p.value for p in properties.qubits[qargs[0]]}
            if "prob_meas1_prep0" in values and "prob_meas0_prep1" in values:
                readout[q] = (values["prob_meas1_prep0"], values["prob_meas0_prep1"])
    return DeviceNoiseModel(f"ibm:{backend.name}", one, two, readout)


def from_google_calibration(processor_id: str, calibration=None) -> DeviceNoiseModel:
    """Builds the model from a Google processor's calibration.

    Args:
        processor_id: ``"rainbow"`` or ``"weber"``.
        calibration: A ``cirq_google.Calibration``; default the median calibration that
            cirq_google ships for the processor (offline).

    Two-qubit errors are those of the processor's calibrated two-qubit gate
    (√iSWAP or Sycamore), the closest measured figure for its CZ.

    Example:
        >>> model = from_google_calibration("rainbow")
        >>> 0 < model.readout[cirq.GridQubit(5, 0)][1] < 0.1
        True
    """
    import cirq_google

    if calibration is None:
        calibration = cirq_google.engine.load_median_device_calibration(processor_id)
    properties = cirq_google.engine.noise_properties_from_calibration(calibration)
    one, two = {}, {}
    for op_id, error in properties.gate_pauli_errors.items():
        if op_id.gate_type is cirq.PhasedXZGate and len(op_id.qubits) == 1:
            one[op_id.qubits[0]] = float(error)
        elif len(op_id.qubits) == 2:
            pair = frozenset(op_id.qubits)
            two[pair] = max(two.get(pair, 0.0), float(error))
    readout = {q: (float(e[0]), float(e[1])) for q, e in properties.readout_errors.items()}
    return DeviceNoiseModel(f"google:{processor_id}", one, two, readout)


def from_pyquil_noise_model(noise_model, name: str = "rigetti") -> DeviceNoiseModel:
    r"""Builds the model from a pyquil ``NoiseModel`` (Kraus maps and assignment matrices).

    A gate's Pauli error is one minus the process fidelity of its Kraus map
    :math:`\{K_k\}` to the ideal gate :math:`U`: :math:`e = 1 - \sum_k
    |\mathrm{tr}(U^\dagger K_k)|^2 / d^2`; qubit ``i`` is ``cirq.LineQubit(i)``.

    Example:
        >>> from pyquil.gates import CZ, RX
        >>> from pyquil.noise import _decoherence_noise_model
        >>> pyquil_model = _decoherence_noise_model([RX(np.pi / 2, 0), CZ(0, 1)])
        >>> model = from_pyquil_noise_model(pyquil_model)
        >>> sorted(q.x for q in model.readout)
        [0, 1]
    """
    from pyquil.simulation.matrices import QUANTUM_GATES

    one, two = {}, {}
    for kraus in noise_model.gates:
        ideal = np.asarray(QUANTUM_GATES[kraus.gate](*kraus.params) if kraus.params
                           else QUANTUM_GATES[kraus.gate])
        dimension = ideal.shape[0]
        process_fidelity = sum(abs(np.trace(ideal.conj().T @ np.asarray(k))) ** 2
                               for k in kraus.kraus_ops) / dimension ** 2
        error = float(max(0.0, 1.0 - process_fidelity))
        qubits = [cirq.LineQubit(int(t)) for t in kraus.targets]
        table = one if len(qubits) == 1 else two
        key = qubits[0] if len(qubits) == 1 else frozenset(qubits)
        table[key] = max(table.get(key, 0.0), error)
    readout = {cirq.LineQubit(int(q)): (float(m[1, 0]), float(m[0, 1]))
               for q, m in noise_model.assignment_probs.items()}
    return DeviceNoiseModel(name, one, two, readout)


def _rigetti_default(device: str, sampler) -> DeviceNoiseModel:
    from pyquil.gates import CZ, RX
    from pyquil.noise import _decoherence_noise_model

    topology = sampler.qc.quantum_processor.qubit_topology()
    gates = [RX(a, q) for q in topology.nodes for a in (np.pi / 2, -np.pi / 2, np.pi)]
    gates += [CZ(a, b) for a, b in topology.edges]
    return from_pyquil_noise_model(_decoherence_noise_model(gates), f"rigetti:{device}")


def from_device(device, *, circuit: cirq.AbstractCircuit | None = None) -> DeviceNoiseModel:
    """Builds a Cirq noise model of a device from its calibration.

    Args:
        device: ``"ibm:<backend>"`` (e.g. ``"ibm:fake_manila"``: the fake backend's
            calibration), ``"google:<processor>"`` / ``"google:virtual_<processor>"``
            (the median calibration cirq_google ships), ``"rigetti:<device>"`` (pyquil's
            decoherence model on the device's native gates, T1 = T2 = 30 µs), a qkeras
            hardware sampler, a Qiskit ``BackendV2`` or a pyquil ``NoiseModel``.
        circuit: A layer's logical circuit: the model then maps its qubits to the
            physical qubits the device's placement gives them.

    Returns:
        A :class:`DeviceNoiseModel`.

    Raises:
        ConfigurationError: For something that is not a device.

    Example:
        >>> model = from_device("google:virtual_rainbow")
        >>> model.name
        'google:rainbow'
    """
    from qkeras.hardware import sampler as make_sampler
    from qkeras.hardware._sampler import HardwareSampler

    if isinstance(device, str) and device.partition(":")[0].strip().lower() == "google":
        processor = device.partition(":")[2].removeprefix("virtual_")
        model = from_google_calibration(processor)
        if circuit is None:
            return model
        device = f"google:virtual_{processor}"  # the placement needs no engine access
    hardware = make_sampler(device) if isinstance(device, str) else device
    if isinstance(hardware, HardwareSampler):
        model = _from_sampler(hardware)
        if circuit is not None:
            model = model.with_layout(hardware.place(circuit).layout)
        return model
    if hasattr(device, "target"):
        return from_qiskit_backend(device)
    if hasattr(device, "assignment_probs"):
        return from_pyquil_noise_model(device)
    raise ConfigurationError(
        f"from_device takes 'vendor:device', a qkeras hardware sampler, a Qiskit backend or "
        f"a pyquil NoiseModel; got {type(device).__name__}.")


def _from_sampler(hardware) -> DeviceNoiseModel:
    if hardware.vendor == "ibm":
        return from_qiskit_backend(hardware.backend)
    if hardware.vendor == "google":
        return from_google_calibration(hardware.processor_id)
    return _rigetti_default(hardware.device, hardware)
