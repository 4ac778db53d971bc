"""Tests of qkeras.medical.explain.

References: closed forms on linear models, the completeness axiom of integrated gradients,
and models trained on images whose label is set by a planted bright marker at a random
place: a faithful attribution must put its mass on the marker, and not on a box of the same
size elsewhere.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import tf_keras as keras

from qkeras.errors import ConfigurationError, InputError
from qkeras.medical import explain

SIZE, MARKER = 32, 6


def _marker_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noise in [0, 0.4]; label 1 iff a 6x6 square of value 1 sits at a random place."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 0.4, (n, SIZE, SIZE, 1)).astype(np.float32)
    y = rng.integers(0, 2, n)
    boxes = np.zeros((n, 4), int)
    for i in range(n):
        r, c = rng.integers(0, SIZE - MARKER, 2)
        boxes[i] = r, c, r + MARKER, c + MARKER
        if y[i]:
            x[i, r:r + MARKER, c:c + MARKER] = 1.0
    return x, y, boxes


def _features() -> list[keras.layers.Layer]:
    return [keras.Input((SIZE, SIZE, 1)),
            keras.layers.Conv2D(8, 3, activation="relu", padding="same"),
            keras.layers.MaxPool2D(),
            keras.layers.Conv2D(16, 3, activation="relu", padding="same", name="last_conv"),
            keras.layers.GlobalMaxPool2D()]


def _train(model: keras.Model, epochs: int) -> keras.Model:
    x, y, _ = _marker_images(800, seed=0)
    model.compile(keras.optimizers.Adam(1e-2), "binary_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    xt, yt, _ = _marker_images(200, seed=1)
    assert model.evaluate(xt, yt, verbose=0)[1] > 0.95  # it learned the marker
    return model


@pytest.fixture(scope="module")
def cnn() -> keras.Model:
    keras.utils.set_random_seed(0)
    return _train(keras.Sequential([*_features(), keras.layers.Dense(1, activation="sigmoid")]),
                  epochs=4)


@pytest.fixture(scope="module")
def positives() -> tuple[np.ndarray, np.ndarray]:
    x, y, boxes = _marker_images(200, seed=1)
    keep = np.flatnonzero(y == 1)[:6]
    return x[keep], boxes[keep]


def _mass_inside(maps: np.ndarray, boxes: np.ndarray, pad: int) -> np.ndarray:
    """Fraction of each map's positive mass inside its box grown by ``pad`` pixels."""
    fractions = []
    for m, (r0, c0, r1, c1) in zip(np.maximum(maps, 0), boxes, strict=True):
        fractions.append(m[max(r0 - pad, 0):r1 + pad, max(c0 - pad, 0):c1 + pad].sum() / m.sum())
    return np.array(fractions)


def _assert_on_marker(maps: np.ndarray, boxes: np.ndarray, pad: int, least: float) -> None:
    inside = _mass_inside(maps, boxes, pad)
    # The padded box covers at most 10% of the image; the mass there must dominate.
    assert np.all(inside > least), inside
    # Control: the same-size box of another image's marker holds little of the mass.
    elsewhere = np.roll(boxes, 1, axis=0)
    far = np.abs(elsewhere[:, :2] - boxes[:, :2]).max(axis=1) > MARKER + 2 * pad
    assert np.all(_mass_inside(maps, elsewhere, pad)[far] < 0.1)


def test_grad_cam_occlusion_and_ig_point_at_the_marker(cnn, positives):
    x, boxes = positives
    _assert_on_marker(explain.grad_cam(cnn, x), boxes, pad=2, least=0.8)
    _assert_on_marker(explain.grad_cam(cnn, x, guided=True), boxes, pad=2, least=0.8)
    _assert_on_marker(explain.occlusion_sensitivity(cnn, x, patch_size=6, stride=2), boxes,
                      pad=2, least=0.8)
    ig = explain.integrated_gradients(cnn, x, steps=32)
    _assert_on_marker(np.abs(ig).sum(-1), boxes, pad=0, least=0.6)
    # Completeness: attributions sum to F(x) - F(baseline) (trapezoid error only).
    gain = cnn(x).numpy()[:, 0] - cnn(np.zeros_like(x)).numpy()[:, 0]
    np.testing.assert_allclose(ig.reshape(len(x), -1).sum(axis=1), gain, atol=0.02)


def _linear_cnn(weight: float) -> keras.Model:
    """score = weight * mean(x): a 1x1 identity convolution, average pooling, a scale."""
    model = keras.Sequential([keras.Input((6, 8, 1)),
                              keras.layers.Conv2D(1, 1, use_bias=False, name="conv"),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(1, use_bias=False)])
    model.set_weights([np.ones((1, 1, 1, 1), np.float32), np.full((1, 1), weight, np.float32)])
    return model


def test_grad_cam_closed_form_on_a_linear_model():
    # d score / d A = w / (H W) everywhere, so cam = ReLU(w / (H W) * x), scaled: x / max x.
    x = np.random.default_rng(0).uniform(0.1, 1, (2, 6, 8, 1)).astype(np.float32)
    cams = explain.grad_cam(_linear_cnn(2.0), x)
    np.testing.assert_allclose(cams, x[..., 0] / x.max(axis=(1, 2, 3))[:, None, None],
                               rtol=1e-5)
    assert not explain.grad_cam(_linear_cnn(-2.0), x).any()  # negative evidence: ReLU -> 0


def test_occlusion_closed_form_on_a_linear_model():
    # Non-overlapping 2x2 patches filled with 0.25: drop = w * sum_patch(x - 0.25) / (H W).
    x = np.random.default_rng(1).uniform(0, 1, (1, 6, 8, 1)).astype(np.float32)
    drops = explain.occlusion_sensitivity(_linear_cnn(3.0), x, patch_size=2, stride=2,
                                          fill=0.25)
    patch_sums = (x[0, :, :, 0] - 0.25).reshape(3, 2, 4, 2).sum(axis=(1, 3))
    want = np.kron(3.0 * patch_sums / 48, np.ones((2, 2)))
    np.testing.assert_allclose(drops[0], want, rtol=1e-4, atol=1e-6)


def test_integrated_gradients_closed_form_on_a_linear_model():
    # For F(x) = w . x, IG = w * (x - baseline) exactly (the trapezoid rule is exact).
    rng = np.random.default_rng(2)
    w = rng.normal(size=(12, 1)).astype(np.float32)
    model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(1, use_bias=False)])
    model.set_weights([w])
    x, base = rng.normal(size=(3, 12)).astype(np.float32), rng.normal(size=12)
    ig = explain.integrated_gradients(model, x, baseline=base, steps=3, batch_size=2)
    np.testing.assert_allclose(ig, w[:, 0] * (x - base.astype(np.float32)), rtol=1e-5,
                               atol=1e-6)


def test_hybrid_model_explanations_through_the_quantum_layer(positives):
    layers = pytest.importorskip("qkeras.layers", reason="qkeras.layers is not available")
    if not hasattr(layers, "QuantumDense"):
        pytest.skip("qkeras.layers.QuantumDense does not exist yet")
    keras.utils.set_random_seed(0)
    hybrid = _train(keras.Sequential([
        *_features(), keras.layers.Dense(4, activation="tanh"),
        layers.QuantumDense(qubits=4, encoding="angle", ansatz="hardware_efficient", layers=1),
        keras.layers.Dense(1, activation="sigmoid")]), epochs=5)
    x, boxes = positives
    # Measured: 0.70 of the Grad-CAM mass (vs 0.97 without the quantum layer) on a box
    # covering 10% of the image; occlusion and IG put over 0.95 there.
    _assert_on_marker(explain.grad_cam(hybrid, x, layer="last_conv"), boxes, pad=2, least=0.5)
    _assert_on_marker(explain.occlusion_sensitivity(hybrid, x, patch_size=6, stride=2), boxes,
                      pad=2, least=0.8)
    ig = explain.integrated_gradients(hybrid, x, steps=32)
    _assert_on_marker(np.abs(ig).sum(-1), boxes, pad=0, least=0.6)
    gain = hybrid(x).numpy()[:, 0] - hybrid(np.zeros_like(x)).numpy()[:, 0]
    np.testing.assert_allclose(ig.reshape(len(x), -1).sum(axis=1), gain, atol=0.02)


def test_overlays_are_pngs_with_the_heat_where_the_map_is_high(tmp_path):
    images = np.full((2, 16, 16, 1), 0.5, np.float32)
    heat = np.zeros((2, 8, 8))
    heat[:, :2, :2] = 1.0  # hot top-left corner, cold elsewhere
    paths = explain.save_overlays(images, heat, tmp_path / "gradcam", prefix="gradcam")
    assert [p.name for p in paths] == ["gradcam_0000.png", "gradcam_0001.png"]
    assert sorted(p.name for p in (tmp_path / "gradcam").iterdir()) == [p.name for p in paths]
    overlay = cv2.imread(str(paths[0]))  # BGR
    assert overlay.shape == (16, 16, 3)
    hot, cold = overlay[0, 0].astype(int), overlay[15, 15].astype(int)
    assert hot[2] > hot[0] + 40 and cold[0] > cold[2] + 40  # jet: red hot, blue cold
    rgb = explain.save_overlays(np.zeros((1, 4, 4, 3)), np.zeros((1, 4, 4)), tmp_path,
                                names=["case.png"])
    assert cv2.imread(str(rgb[0])).shape == (4, 4, 3)


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda m: explain.grad_cam(m, np.zeros((6, 8, 1))), InputError, r"\(N, H, W, C\)"),
    (lambda m: explain.grad_cam(m, np.full((1, 6, 8, 1), np.nan)), InputError, "NaN"),
    (lambda m: explain.grad_cam(m, np.zeros((1, 6, 8, 1)), layer="nope"), ConfigurationError,
     "no layer 'nope'"),
    (lambda m: explain.occlusion_sensitivity(m, np.zeros((1, 6, 8, 1)), patch_size=7),
     ConfigurationError, "patch_size"),
    (lambda m: explain.integrated_gradients(m, np.zeros((1, 6, 8, 1)), steps=0),
     ConfigurationError, "steps"),
    (lambda m: explain.save_overlays(np.zeros((2, 4, 4)), np.zeros((1, 4, 4)), "."),
     InputError, "one heat map"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(_linear_cnn(1.0))


def test_grad_cam_needs_a_4d_layer():
    dense = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    with pytest.raises(ConfigurationError, match="no layer with a 4-D output"):
        explain.grad_cam(dense, np.zeros((1, 4, 1, 1)))
