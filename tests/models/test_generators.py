"""Quantum generators against cirq.Simulator's Born probabilities and finite differences.

References: ``|cirq.final_state_vector|**2``; ``scipy.linalg.hadamard`` for the
Walsh-Hadamard signs; central finite differences of the cirq probabilities for gradients.
"""

from __future__ import annotations

import cirq
import numpy as np
import pytest
import scipy.linalg
import tensorflow as tf

from qkeras import keras
from qkeras.errors import ConfigurationError
from qkeras.models import PatchQuantumGenerator, QuantumGenerator
from qkeras.models.generators import walsh_hadamard_matrix
from tests.contracts import assert_layer_contract


def born(generator, weights, latent=()):
    resolver = dict(zip(generator.weight_symbols, weights)) | dict(
        zip(generator.data_symbols, latent))
    state = cirq.final_state_vector(generator.circuit, param_resolver=resolver,
                                    qubit_order=generator.qubits, dtype=np.complex128)
    return np.abs(state) ** 2


def test_walsh_hadamard_signs():
    for n in (1, 2, 3):
        want = scipy.linalg.hadamard(2**n)[:, 1:] / 2**n
        np.testing.assert_array_equal(walsh_hadamard_matrix(n), want)


@pytest.mark.parametrize("initial,layers", [("hadamard", 1), ("zero", 3)])
def test_probabilities_match_cirq(initial, layers):
    gen = QuantumGenerator(3, layers, initial=initial,
                           initializer=keras.initializers.RandomUniform(-2, 2, seed=1))
    got = gen.probabilities().numpy()
    np.testing.assert_allclose(got, born(gen, gen.kernel.numpy()), atol=1e-5)
    assert got.sum() == pytest.approx(1.0, abs=1e-6)


def test_latent_probabilities_and_gradients_match_cirq():
    gen = QuantumGenerator(2, 1, initial="zero", latent=True,
                           initializer=keras.initializers.RandomUniform(-2, 2, seed=2))
    z = np.array([0.3, 1.1], np.float32)
    gen.build((None, 2))
    weights = gen.kernel.numpy().astype(np.float64)
    np.testing.assert_allclose(gen.probabilities(z).numpy(), born(gen, weights, z), atol=1e-5)
    with tf.GradientTape() as tape:
        target = gen.probabilities(z)[2]
    got = tape.gradient(target, gen.kernel).numpy()
    eps, want = 1e-4, []
    for k in range(len(weights)):
        step = np.eye(len(weights))[k] * eps
        want.append((born(gen, weights + step, z)[2] - born(gen, weights - step, z)[2])
                    / (2 * eps))
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_sample_follows_the_probabilities():
    gen = QuantumGenerator(2, 1, initializer=keras.initializers.RandomUniform(-1, 1, seed=3))
    draws = gen.sample(20000, seed=0)
    freq = np.bincount(draws, minlength=4) / len(draws)
    np.testing.assert_allclose(freq, born(gen, gen.kernel.numpy()), atol=0.015)


def test_generator_contract(tmp_path):
    assert_layer_contract(QuantumGenerator, {"qubits": 2, "layers": 1, "latent": True},
                          np.array([[0.1, 0.2], [0.3, 0.4]], np.float32), (2, 4), tmp_path)


def test_patch_generator_matches_cirq():
    gen = PatchQuantumGenerator((2, 4), patches=2, qubits=3, ancillas=1, layers=2,
                                initializer=keras.initializers.RandomUniform(0, 3, seed=4))
    z = np.random.default_rng(5).uniform(0, np.pi / 2, (3, 3)).astype(np.float32)
    got = gen(z).numpy()
    for b in range(3):
        pixels = []
        for sub in gen.generators:
            p = born(sub, sub.kernel.numpy(), z[b])
            kept = p[0::2]  # ancilla (last qubit, least significant bit) in |0>
            pixels.append(kept / kept.max())
        np.testing.assert_allclose(got[b], np.concatenate(pixels).reshape(2, 4), atol=1e-4)
    # Seeded initializers are re-seeded per patch, so the patches start different.
    assert not np.allclose(gen.generators[0].kernel.numpy(), gen.generators[1].kernel.numpy())


def test_patch_generator_contract(tmp_path):
    z = np.random.default_rng(6).uniform(0, 1, (2, 3)).astype(np.float32)
    assert_layer_contract(PatchQuantumGenerator, {"image_shape": (2, 4), "patches": 2,
                                                  "qubits": 3, "ancillas": 1, "layers": 1,
                                                  "initializer": "glorot_uniform"},
                          z, (2, 2, 4), tmp_path)


def test_generator_errors():
    with pytest.raises(ConfigurationError, match="make 32 pixels; image_shape"):
        PatchQuantumGenerator((8, 8), patches=2, qubits=5, ancillas=1)
    with pytest.raises(ConfigurationError, match="ancillas < qubits"):
        PatchQuantumGenerator((1, 1), patches=1, qubits=1, ancillas=1)
    with pytest.raises(ConfigurationError, match="Unknown initial state 'plus'"):
        QuantumGenerator(2, initial="plus")
    with pytest.raises(ConfigurationError, match="qubits must be a positive integer"):
        QuantumGenerator(0)
    with pytest.raises(ConfigurationError, match="layers must be an integer >= 0"):
        QuantumGenerator(2, layers=-1)
