"""Fine-tuning through a hardware route with parameter shift, and what it costs."""

import numpy as np
import pytest
import tensorflow as tf

from qkeras import hardware
from qkeras.errors import HardwareError
from qkeras.layers import QuantumDense
from tests.contracts import cirq_expectations
from tests.hardware.conftest import ROUTES

X = np.array([[0.2, -0.4], [1.0, 0.5]], np.float32)
Y = np.array([[0.9, -0.9], [0.9, -0.9]], np.float32)
START = np.array([2.0, 0.5, -1.0, 0.3], np.float32)


def _exact_loss(spec, weights):
    """Reference loss from cirq.Simulator (no shot noise)."""
    return float(np.mean((cirq_expectations(spec, X, weights) - Y) ** 2))


@pytest.mark.slow
@pytest.mark.parametrize("route", list(ROUTES))
def test_one_parameter_shift_step_reduces_the_loss(route):
    options = {} if route.startswith("google") else {"seed": 2}
    sampler = hardware.sampler(route, **options)
    layer = QuantumDense(2, backend=sampler, repetitions=1000,
                         differentiator="parameter_shift")
    layer.build(X.shape)
    layer.kernel.assign(START)
    before = _exact_loss(layer.spec, START)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean((layer(X) - Y) ** 2)
    gradient = tape.gradient(loss, layer.kernel)
    assert sampler.jobs_submitted == 2  # one forward job, one job for every shifted circuit
    after = _exact_loss(layer.spec, START - 0.3 * gradient.numpy())
    print(f"{route}: loss {before:.4f} -> {after:.4f}")
    assert after < before - 0.02
    # The cost estimate counts exactly what was run.
    per_sample, _ = hardware.cost.layer_cost(layer)
    assert sampler.circuits_run == per_sample * len(X)


def test_cost_estimate_of_a_model_and_its_summary():
    from qkeras import keras

    layer = QuantumDense(2, backend="rigetti:4q-pyqvm", repetitions=500)
    model = keras.Sequential([keras.Input((2,)), layer, keras.layers.Dense(1)])
    cost = hardware.estimate_cost(model, n_samples=100, epochs=3, batch_size=25)
    # 1 measurement setting x (1 forward + 2 x 6 symbol occurrences) circuits per sample
    assert (cost.circuits_per_epoch, cost.shots_per_epoch, cost.jobs_per_epoch) == \
        (1300, 650_000, 8)
    assert cost.total_shots == 1_950_000
    assert "rigetti:4q-pyqvm" in str(cost) and "650,000 shots" in str(cost)
    inference = hardware.estimate_cost(model, n_samples=100, training=False)
    assert inference.circuits_per_epoch == 100


def test_shot_budget_refuses_a_job_before_submitting():
    sampler = hardware.sampler("rigetti:4q-pyqvm", shot_budget=1500)
    layer = QuantumDense(2, backend=sampler, repetitions=1000)
    layer(X[:1])
    with pytest.raises(HardwareError, match="shot budget of 1500 are left; nothing was submitted"):
        layer(X[:1])
    assert sampler.jobs_submitted == 1 and sampler.shots_used == 1000


def test_cost_estimate_checks_its_arguments():
    from qkeras.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="n_samples must be a positive integer"):
        hardware.estimate_cost(QuantumDense(1), n_samples=0)
