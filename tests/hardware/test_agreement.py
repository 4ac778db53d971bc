"""Each vendor's offline route against the simulation that models it (4 standard errors).

References are independent of the samplers: ``cirq.DensityMatrixSimulator`` on the
layer's circuit (noiseless routes) or on the circuit the device runs, with the device
noise model of ``qkeras.noise.from_device`` (the noisy fake IBM backend).
"""

import numpy as np
import pytest

from qkeras import hardware, noise
from qkeras.layers import QuantumDense
from tests.hardware.conftest import ROUTES, SHOTS, resolvers, within_standard_errors, z_expectations

X = np.array([[0.2, -0.4], [1.0, 0.5], [-0.8, 1.3]], np.float32)


def _layer(route, weights):
    sampler = hardware.sampler(route, seed=5) if not route.startswith("google") else \
        hardware.sampler(route)
    layer = QuantumDense(2, layers=2, backend=sampler, repetitions=SHOTS)
    layer.build(X.shape)
    layer.kernel.assign(weights)
    return layer, sampler


def _references(layer, sampler, weights, noisy, x=None):
    spec = layer.spec
    x = X if x is None else x
    placed = layer._executor.placement
    model = noise.from_device(sampler) if noisy else None
    out = []
    for resolver in resolvers(spec, x, weights):
        if noisy:
            circuit = placed.circuit.with_noise(model)
            values = z_expectations(circuit, "c0", resolver)
        else:
            import cirq

            circuit = spec.circuit + cirq.Circuit(cirq.measure(*spec.qubits, key="m"))
            values = z_expectations(circuit, "m", resolver)
        out.append(values)
    return np.array(out)


@pytest.mark.slow
@pytest.mark.parametrize("route", list(ROUTES))
def test_trained_layer_agrees_with_the_route_simulation(route, trained_weights):
    layer, sampler = _layer(route, trained_weights)
    got = layer(X).numpy()
    assert sampler.jobs_submitted == 1  # the whole batch in one job
    want = _references(layer, sampler, trained_weights, ROUTES[route])
    deviation = within_standard_errors(got, want, SHOTS)
    print(f"{route}: max deviation {deviation:.2f} standard errors")
    assert deviation < 4
    # The comparison can fail: a layer whose weights are off by 0.3 is rejected.
    wrong = _references(layer, sampler, trained_weights + 0.3, ROUTES[route])
    assert within_standard_errors(got, wrong, SHOTS) > 4


@pytest.mark.slow
def test_device_noise_model_predicts_readout_bias_near_basis_states():
    """Near |00> and |11> the readout asymmetry dominates: the device-noise model must
    predict it, and the noiseless simulation must be rejected."""
    basis = np.array([[0.0, 0.0], [np.pi, 0.0]], np.float32)
    weights = np.zeros(8, np.float32)
    layer, sampler = _layer("ibm:fake_manila", weights)
    got = layer(basis).numpy()
    noisy = _references(layer, sampler, weights, noisy=True, x=basis)
    exact = _references(layer, sampler, weights, noisy=False, x=basis)
    print(f"ibm:fake_manila near basis states: {within_standard_errors(got, noisy, SHOTS):.2f} "
          f"SE from the device-noise model, {within_standard_errors(got, exact, SHOTS):.1f} SE "
          "from the noiseless simulation")
    assert within_standard_errors(got, noisy, SHOTS) < 4
    assert within_standard_errors(got, exact, SHOTS) > 4
