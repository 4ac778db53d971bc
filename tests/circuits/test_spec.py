"""CircuitSpec and noise: construction, validation and serialisation."""

import json

import cirq
import pytest
import sympy

from qkeras.circuits import noise
from qkeras.circuits.spec import (
    CircuitSpec,
    circuit_from_config,
    circuit_to_config,
    default_observables,
    observables_from_config,
    observables_to_config,
)
from qkeras.errors import ConfigurationError, ResourceError


def test_build_orders_data_then_weights():
    spec = CircuitSpec.build(2, "iqp", "strongly_entangling", 2)
    assert [str(s) for s in spec.symbols][:4] == ["x0", "x1", "x0_1", "w0"]
    assert spec.n_features == 2 and len(spec.weight_symbols) == 12
    assert "features=2" in repr(spec)


def test_reupload_repeats_encoding_with_fresh_weights():
    spec = CircuitSpec.build(2, "angle", "hardware_efficient", 3, reupload=True)
    rx_count = sum(1 for op in spec.circuit.all_operations()
                   if isinstance(op.gate, cirq.Rx))
    assert rx_count == 6
    assert [str(s) for s in spec.weight_symbols] == [f"w{i}" for i in range(12)]
    assert cirq.parameter_symbols(spec.circuit) == set(spec.symbols)


def test_build_errors():
    with pytest.raises(ConfigurationError, match="Did you mean 'amplitude'"):
        CircuitSpec.build(2, "amplitud")
    with pytest.raises(ConfigurationError, match="Unknown ansatz"):
        CircuitSpec.build(2, "angle", "qcnn")
    with pytest.raises(ConfigurationError, match="positive integer"):
        CircuitSpec.build(0)
    with pytest.raises(ConfigurationError, match="list of cirq qubits"):
        CircuitSpec.build(["a"])
    with pytest.raises(ConfigurationError, match="Bad option"):
        CircuitSpec.build(2, encoding_options={"bogus": 1})
    with pytest.raises(ConfigurationError, match="layers must be"):
        CircuitSpec.build(2, layers=0, reupload=True)
    with pytest.raises(ConfigurationError, match="observables must not be empty"):
        CircuitSpec.build(2, observables=[])
    with pytest.raises(ConfigurationError, match="cirq.PauliSum objects; got int"):
        CircuitSpec.build(2, observables=[3])


def test_too_many_qubits_is_a_resource_error(monkeypatch):
    monkeypatch.setenv("QKERAS_MAX_QUBITS", "4")
    with pytest.raises(ResourceError, match="5 qubits need a state of 2\\*\\*5"):
        CircuitSpec.build(5)


def test_from_circuit_checks_symbols():
    q = cirq.LineQubit.range(2)
    x, w, v = sympy.symbols("x w v")
    circuit = cirq.Circuit(cirq.rx(x)(q[0]), cirq.ry(w)(q[1]))
    spec = CircuitSpec.from_circuit(circuit, ["x"], [w], observables=cirq.Z(q[0]) * cirq.Z(q[1]))
    assert spec.qubits == tuple(q) and len(spec.observables) == 1
    with pytest.raises(ConfigurationError, match="undeclared \\['w'\\], unused \\['v'\\]"):
        CircuitSpec.from_circuit(circuit, [x], [v])
    with pytest.raises(ConfigurationError, match="distinct"):
        CircuitSpec.from_circuit(circuit, [x, w], [w])
    with pytest.raises(ConfigurationError, match="must be a cirq.Circuit"):
        CircuitSpec.from_circuit("H 0", [x], [w])


def test_observable_and_circuit_configs_round_trip_through_json():
    qubits = cirq.LineQubit.range(2)
    obs = [0.5 * cirq.X(qubits[0]) * cirq.Z(qubits[1]) + cirq.Y(qubits[1])]
    text = json.dumps(observables_to_config(obs))
    assert observables_from_config(json.loads(text)) == obs
    circuit = CircuitSpec.build(2, "iqp").circuit
    assert circuit_from_config(json.loads(json.dumps(circuit_to_config(circuit)))) == circuit
    assert [str(o) for o in default_observables(qubits, "X")] == ["1.000*X(q(0))",
                                                                 "1.000*X(q(1))"]
    with pytest.raises(ConfigurationError, match="Unknown observable"):
        default_observables(qubits, "W")


@pytest.mark.parametrize("spec,message", [
    ("depolarising:0.1", "Did you mean 'depolarizing'"),
    ("bit_flip", "needs a strength"),
    ("bit_flip:1.5", "must be in \\[0, 1.0\\]"),
    ("readout:0.6", "must be in \\[0, 0.5\\]"),
])
def test_noise_parse_errors(spec, message):
    with pytest.raises(ConfigurationError, match=message):
        noise.parse(spec)


def test_noise_apply_inserts_channels():
    q = cirq.LineQubit.range(2)
    circuit = cirq.Circuit(cirq.H(q[0]), cirq.CNOT(*q))
    noisy = noise.apply(circuit, "amplitude_damping:0.1")
    channels = [op for op in noisy.all_operations()
                if isinstance(op.gate, cirq.AmplitudeDampingChannel)]
    assert len(channels) == 4  # one per qubit per moment
    assert noise.apply(circuit, None) is circuit
    model = cirq.ConstantQubitNoiseModel(cirq.phase_damp(0.2))
    assert noise.from_config(json.loads(json.dumps(noise.to_config(model)))) == model
    with pytest.raises(ConfigurationError, match="got int"):
        noise.apply(circuit, 3)


def test_readout_noise_scales_every_pauli_by_one_minus_two_p():
    """Reference: symmetric readout error p multiplies each measured Pauli by 1 - 2p."""
    q = cirq.LineQubit.range(2)
    circuit = cirq.Circuit(cirq.ry(0.7)(q[0]), cirq.rx(1.3)(q[1]), cirq.CNOT(*q))
    p = 0.1
    noisy = noise.apply(circuit, f"readout:{p}")
    rho = cirq.DensityMatrixSimulator().simulate(noisy).final_density_matrix
    psi = cirq.final_state_vector(circuit)
    for obs in [cirq.Z(q[0]), cirq.X(q[1]), cirq.Z(q[0]) * cirq.Y(q[1])]:
        ideal = obs.expectation_from_state_vector(psi, {q[0]: 0, q[1]: 1}).real
        got = obs.expectation_from_density_matrix(rho, {q[0]: 0, q[1]: 1}).real
        assert got == pytest.approx((1 - 2 * p) ** len(obs) * ideal, abs=1e-5)
