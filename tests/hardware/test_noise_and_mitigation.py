"""Device noise models and readout mitigation against closed forms and the vendors' data."""

import cirq
import numpy as np
import pytest

from qkeras import noise
from qkeras.hardware.mitigation import ReadoutMitigator
from qkeras.hardware.noise import DeviceNoiseModel

Q = cirq.LineQubit.range(2)


def test_ibm_model_reads_the_backend_calibration():
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    backend = FakeManilaV2()
    model = noise.from_device(backend)
    props = {p.name: p.value for p in backend.properties().qubits[1]}
    assert model.readout[Q[1]] == (props["prob_meas1_prep0"], props["prob_meas0_prep1"])
    assert model.one_qubit[Q[1]] == pytest.approx(1.5 * backend.target["sx"][(1,)].error)
    assert model.two_qubit[frozenset(Q)] == pytest.approx(
        1.25 * backend.target["cx"][(0, 1)].error)


def test_readout_channel_flips_populations_as_calibrated():
    """Closed form: P(read 0 | prepared 1) = p(0|1), P(read 1 | prepared 0) = p(1|0)."""
    model = DeviceNoiseModel("toy", {}, {}, {Q[0]: (0.02, 0.07), Q[1]: (0.05, 0.01)})
    circuit = cirq.Circuit(cirq.X(Q[0]), cirq.I(Q[1])).with_noise(model)  # channel at the end
    rho = cirq.DensityMatrixSimulator().simulate(circuit, qubit_order=Q).final_density_matrix
    probabilities = np.real(np.diag(rho)).reshape(2, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), [0.07, 0.93], atol=1e-6)
    np.testing.assert_allclose(probabilities.sum(axis=0), [0.95, 0.05], atol=1e-6)


def test_gate_noise_is_depolarising_with_the_pauli_error():
    """Closed form: depolarize(e) scales <Z> by 1 - 4e/3; virtual Z gates add nothing."""
    model = DeviceNoiseModel("toy", {Q[0]: 0.03}, {}, {})
    circuit = cirq.Circuit(cirq.X(Q[0]), cirq.Z(Q[0])).with_noise(model)
    rho = cirq.DensityMatrixSimulator().simulate(circuit).final_density_matrix
    z = cirq.Z(Q[0]).expectation_from_density_matrix(rho, {Q[0]: 0}).real
    assert z == pytest.approx(-(1 - 4 * 0.03 / 3), abs=1e-6)


def test_layout_maps_logical_qubits_to_calibrated_ones():
    model = DeviceNoiseModel("toy", {}, {}, {cirq.GridQubit(5, 0): (0.0, 0.3)})
    mapped = model.with_layout({Q[0]: cirq.GridQubit(5, 0)})
    channel = next(op for op in cirq.Circuit(cirq.X(Q[0])).with_noise(mapped).all_operations()
                   if isinstance(op.gate, cirq.GeneralizedAmplitudeDampingChannel))
    assert channel.gate.gamma == pytest.approx(0.3)


def test_google_and_rigetti_models_come_from_their_calibrations():
    import cirq_google

    google = noise.from_device("google:virtual_rainbow")
    calibration = cirq_google.engine.load_median_device_calibration("rainbow")
    p0 = calibration["single_qubit_p00_error"][(cirq.GridQubit(5, 0),)][0]
    assert google.readout[cirq.GridQubit(5, 0)][0] == pytest.approx(p0)
    rigetti = noise.from_device("rigetti:4q-pyqvm")
    assert set(rigetti.readout) == set(cirq.LineQubit.range(4))
    assert all(0 < e < 0.1 for e in rigetti.two_qubit.values())


def test_from_device_with_a_circuit_uses_the_placement():
    circuit = cirq.Circuit(cirq.CNOT(*Q), cirq.measure(*Q, key="m"))
    model = noise.from_device("google:virtual_rainbow", circuit=circuit)
    assert set(model.layout) == set(Q)
    assert all(isinstance(q, cirq.GridQubit) for q in model.layout.values())


class _Device(cirq.Sampler):
    """cirq's density-matrix simulator on the circuit with the noise model inserted."""

    def __init__(self, model, seed):
        self.model, self.simulator = model, cirq.DensityMatrixSimulator(seed=seed)

    def run_sweep(self, program, params, repetitions=1):
        return self.simulator.run_sweep(program.with_noise(self.model), params, repetitions)


def test_readout_mitigation_recovers_the_ideal_expectation():
    """Reference: the ideal <Z> (-1 after X, +1 otherwise); shots from cirq's simulator
    with a calibrated readout error, 4 standard errors."""
    errors = {Q[0]: (0.03, 0.08), Q[1]: (0.06, 0.02)}
    device = _Device(DeviceNoiseModel("toy", {}, {}, errors), seed=4)
    shots = 20000
    mitigator = ReadoutMitigator.calibrate(device, Q, repetitions=shots)
    for q in Q:
        for got, want in zip(mitigator.errors[q], errors[q]):
            assert abs(got - want) < 4 * np.sqrt(want * (1 - want) / shots)
    bits = device.run(cirq.Circuit(cirq.X(Q[0]), cirq.measure(*Q, key="m")),
                      repetitions=shots).measurements["m"]
    raw = [np.mean(1 - 2 * bits[:, i]) for i in range(2)]
    mitigated = [mitigator.expectation_z(bits, {q: i}) for i, q in enumerate(Q)]
    se = 2 * np.sqrt(0.08 * 0.92 / shots) / (1 - 0.11)  # binomial noise, rescaled
    assert abs(mitigated[0] + 1) < 4 * se and abs(mitigated[1] - 1) < 4 * se
    assert abs(raw[0] + 1) > 4 * se  # without mitigation the bias is visible


@pytest.mark.slow
def test_mitigated_layer_on_the_noisy_fake_backend():
    """Mitigated <Z> at |00> on the noisy IBM fake backend is within 4 standard errors of
    the device model without readout error; unmitigated it is not."""
    from qkeras.layers import QuantumDense

    shots = 8000
    x = np.zeros((1, 2), np.float32)
    layers = {m: QuantumDense(2, backend="ibm:fake_manila", repetitions=shots,
                              initializer="zeros", mitigate_readout=m) for m in (False, True)}
    placed = layers[True]._executor.placement
    model = noise.from_device("ibm:fake_manila")
    gates_only = DeviceNoiseModel(model.name, model.one_qubit, model.two_qubit, {})
    body = cirq.resolve_parameters(placed.circuit,
                                   {s: 0.0 for s in cirq.parameter_names(placed.circuit)})
    measured = [op for op in body.all_operations() if cirq.is_measurement(op)][0].qubits
    body = cirq.drop_terminal_measurements(body).with_noise(gates_only)[:-1]
    qubits = sorted(body.all_qubits() | set(measured))
    rho = cirq.DensityMatrixSimulator(dtype=np.complex128).simulate(
        body, qubit_order=qubits).final_density_matrix
    index = {q: i for i, q in enumerate(qubits)}
    want = np.array([cirq.Z(q).expectation_from_density_matrix(rho, index).real
                     for q in measured])
    flips = np.array([sum(model.readout[q]) for q in measured])
    mitigated = layers[True](x).numpy()[0]
    raw = layers[False](x).numpy()[0]
    # binomial noise of the data and of the calibration, through the inversion
    ones = (1 - raw) / 2
    se = 2 * np.sqrt(2 * ones * (1 - ones) / shots) / (1 - flips)
    assert np.all(np.abs(mitigated - want) < 4 * se)
    assert np.any(np.abs(raw - want) > 4 * se)
