"""qGAN training on real targets: a log-normal (Zoufal et al.) and handwritten digits.

References: the relative entropy of the untrained generator to the same target (a short
qGAN run must cut it markedly), and for the patch GAN the MMD of uniform noise and of the
untrained generator against held-out real digits (scikit-learn's copy of the UCI optical
handwritten digits, 8x8). PNG grids are read back with Pillow.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from sklearn.datasets import load_digits

from qkeras import keras
from qkeras.errors import ConfigurationError, InputError
from qkeras.models import (
    DistributionQGAN,
    PatchQuantumGenerator,
    QuantumGAN,
    QuantumGenerator,
    lognormal,
    median_bandwidth,
    mmd,
    relative_entropy,
    save_image_grid,
)


def test_distribution_qgan_learns_a_lognormal(record_property):
    values, target = lognormal(3)
    generator = QuantumGenerator(3, layers=2,
                                 initializer=keras.initializers.RandomUniform(-0.1, 0.1, seed=1))
    gan = DistributionQGAN(generator, bin_values=values, target=target)
    before = gan.relative_entropy()
    assert before == pytest.approx(relative_entropy(gan.probabilities().numpy(), target))
    gan.compile(keras.optimizers.Adam(0.01, beta_1=0.7, amsgrad=True),
                keras.optimizers.Adam(0.01, beta_1=0.7, amsgrad=True))
    samples = np.random.default_rng(0).choice(values, size=2000, p=target)
    history = gan.fit(samples, batch_size=100, epochs=30, verbose=0)
    after = gan.relative_entropy()
    record_property("lognormal_relative_entropy_before", before)
    record_property("lognormal_relative_entropy_after", after)
    assert after < 0.4 * before, f"relative entropy {before:.3f} -> {after:.3f}"
    assert history.history["relative_entropy"][-1] == pytest.approx(after, abs=0.05)


def test_distribution_qgan_round_trips(tmp_path):
    values, target = lognormal(2, high=3.0)
    gan = DistributionQGAN(QuantumGenerator(2), bin_values=values, target=target)
    gan.compile("adam", "adam")
    gan.fit(np.random.default_rng(1).choice(values, 32, p=target), batch_size=16, verbose=0)
    config = json.loads(json.dumps(gan.get_config()))
    assert DistributionQGAN.from_config(config).get_config() == gan.get_config()
    gan.save(tmp_path / "qgan.keras")
    loaded = keras.models.load_model(tmp_path / "qgan.keras")
    np.testing.assert_array_equal(loaded.probabilities().numpy(), gan.probabilities().numpy())
    np.testing.assert_array_equal(loaded(values).numpy(), gan(values).numpy())


def digits_zero():
    digits = load_digits()
    images = (digits.images[digits.target == 0] / 16.0).astype(np.float32)
    order = np.random.default_rng(0).permutation(len(images))
    return images[order[:120]], images[order[120:]]


def test_patch_qgan_on_digits_beats_untrained_and_noise(tmp_path, record_property):
    """Huang et al.'s patch qGAN (4 sub-generators, 5 qubits, 1 ancilla) on real '0' digits."""
    train, held_out = digits_zero()
    bandwidth = median_bandwidth(held_out)
    generator = PatchQuantumGenerator((8, 8), patches=4, qubits=5, ancillas=1, layers=6,
                                      initializer=keras.initializers.RandomUniform(0, np.pi,
                                                                                   seed=2))
    gan = QuantumGAN(generator, seed=0)
    untrained = mmd(gan.generate(64), held_out, bandwidth=bandwidth)
    noise = mmd(np.random.default_rng(3).uniform(0, 1, (64, 8, 8)), held_out,
                bandwidth=bandwidth)
    gan.compile(keras.optimizers.SGD(0.01), keras.optimizers.SGD(0.3))
    gan.fit(train, batch_size=4, epochs=8, verbose=0)
    samples = gan.generate(64)
    trained = mmd(samples, held_out, bandwidth=bandwidth)
    real = mmd(train[:64], held_out, bandwidth=bandwidth)  # what real digits reach
    for key, value in {"untrained": untrained, "noise": noise, "trained": trained,
                       "real_train_images": real}.items():
        record_property(f"digits_mmd_{key}", value)
    assert trained < 0.8 * untrained and trained < 0.8 * noise, (trained, untrained, noise)
    path = save_image_grid(samples[:16], tmp_path / "grid" / "samples.png", columns=8,
                           scale=3, padding=1)
    with Image.open(path) as image:
        assert image.size == ((8 * 9 + 1) * 3, (2 * 9 + 1) * 3)
        assert np.asarray(image).max() > 0
    assert [p.name for p in path.parent.iterdir()] == ["samples.png"]  # no temp file left


def test_quantum_gan_round_trips(tmp_path):
    gan = QuantumGAN(PatchQuantumGenerator((2, 4), patches=2, qubits=3, ancillas=1, layers=1))
    gan.compile(keras.optimizers.SGD(0.01), keras.optimizers.SGD(0.1))
    gan.fit(np.random.default_rng(4).uniform(0, 1, (8, 2, 4)).astype(np.float32),
            batch_size=4, verbose=0)
    config = json.loads(json.dumps(gan.get_config()))
    assert QuantumGAN.from_config(config).get_config() == gan.get_config()
    gan.save(tmp_path / "gan.keras")
    loaded = keras.models.load_model(tmp_path / "gan.keras")
    np.testing.assert_array_equal(loaded.generate(5), gan.generate(5))
    fake = gan.generate(3)
    np.testing.assert_array_equal(loaded.discriminator(fake).numpy(),
                                  gan.discriminator(fake).numpy())


def test_gan_errors():
    with pytest.raises(ConfigurationError, match="latent=False"):
        DistributionQGAN(QuantumGenerator(2, latent=True))
    with pytest.raises(ConfigurationError, match="need 4 entries"):
        DistributionQGAN(QuantumGenerator(2), bin_values=[0, 1, 2])
    with pytest.raises(ConfigurationError, match="must be a Keras layer"):
        QuantumGAN("generator", latent_dim=2)
    with pytest.raises(ConfigurationError, match="latent_dim must be given"):
        QuantumGAN(keras.layers.Dense(2))
    with pytest.raises(ConfigurationError, match="No target"):
        DistributionQGAN(QuantumGenerator(1)).relative_entropy()
    gan = QuantumGAN(PatchQuantumGenerator((1, 2), patches=1, qubits=2, ancillas=1, layers=1))
    with pytest.raises(InputError, match="n >= 1"):
        gan.generate(0)
