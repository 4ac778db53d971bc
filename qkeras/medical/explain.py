"""Explanations of image classifiers, hybrid quantum-classical ones included.

* :func:`grad_cam`: Grad-CAM (Selvaraju et al., arXiv:1610.02391) on a convolutional layer.
  The gradients and the channel weighting come from tf-explain's ``GradCAM`` (it builds its
  gradient model with ``tf.keras``, which is tf_keras once qkeras is imported); we add the
  ReLU of the paper, upsampling to the input size and per-image scaling to [0, 1]. The
  gradient of the output reaches the convolutional layer through any quantum layer after
  it, because qkeras quantum layers take classical tensors and are differentiable.
* :func:`occlusion_sensitivity`: the drop of the class score when a patch is covered.
  Implemented here with batched model calls, because tf-explain's version fills patches
  with 127.5 (it assumes 0-255 inputs; our images are in [0, 1]), scores ``1 - p`` rather
  than the drop from the unoccluded score, and swaps height and width when resizing maps
  of non-square images.
* :func:`integrated_gradients` (Sundararajan et al., arXiv:1703.01365), end to end from
  the output to the input pixels, through quantum layers. Implemented here with
  ``tf.GradientTape``, because tf-explain's version returns the path-averaged gradient
  without multiplying by ``input - baseline`` (so its attributions do not sum to
  ``F(x) - F(baseline)``), fixes the baseline at zero and pushes every path point of
  every image through the model in one batch. Ours satisfies completeness up to the
  trapezoid rule's error in ``steps``.
* :func:`save_overlays` writes PNG heat-map overlays atomically.

Example:
    >>> import numpy as np
    >>> from qkeras.medical import explain
    >>> model = explain._tiny_cnn()
    >>> images = np.zeros((2, 8, 8, 1), np.float32)
    >>> explain.grad_cam(model, images).shape
    (2, 8, 8)
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf
import tf_keras as keras
from tf_explain.core.grad_cam import GradCAM

from qkeras._files import atomic_write
from qkeras.errors import ConfigurationError, InputError

__all__ = ["grad_cam", "occlusion_sensitivity", "integrated_gradients", "save_overlays"]

log = logging.getLogger(__name__)


def _tiny_cnn() -> keras.Model:
    """A fixed-weight 8x8 CNN for the doctests."""
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, padding="same", name="conv"),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid")])


def _images(images: np.ndarray | tf.Tensor, rank: int | None = 4) -> np.ndarray:
    array = np.asarray(images, np.float32)
    if (rank is not None and array.ndim != rank) or array.ndim < 2 or len(array) == 0:
        raise InputError(f"Expected a non-empty batch of images (N, H, W, C); got shape "
                         f"{array.shape}. Add a batch axis with x[None] for one image.")
    if not np.all(np.isfinite(array)):
        raise InputError("The images contain NaN or infinite values.")
    return array


def _scores(model: keras.Model, x: tf.Tensor, class_index: int) -> tf.Tensor:
    out = model(x, training=False)
    out = tf.reshape(out, (tf.shape(out)[0], -1))
    return out[:, class_index]


def _last_conv_layer(model: keras.Model) -> str:
    for layer in reversed(model.layers):
        if len(getattr(getattr(layer, "output", None), "shape", ())) == 4:
            return layer.name
    raise ConfigurationError(
        f"Model {model.name!r} has no layer with a 4-D output (batch, H, W, channels) to take "
        "Grad-CAM on. Pass layer= the name of a convolutional layer, or use "
        "integrated_gradients, which needs none."
    )


def grad_cam(model: keras.Model, images: np.ndarray, *, layer: str | None = None,
             class_index: int = 0, guided: bool = False) -> np.ndarray:
    """Grad-CAM maps of ``images`` for one output of ``model``.

    ``cam = ReLU(sum_k w_k A_k)`` with ``w_k`` the spatial mean of ``d score / d A_k``
    over the feature maps ``A_k`` of ``layer``; upsampled bilinearly to the input size and
    divided by its maximum (an all-zero map stays zero).

    Args:
        model: A Keras model (Sequential or functional) with image input.
        images: ``(N, H, W, C)`` float images, as the model takes them.
        layer: Name of a top-level layer with 4-D output; default the last such layer.
        class_index: Output column to explain (0 for a one-unit sigmoid output).
        guided: Keep only positive gradients where the activation is positive (the
            "guided" weighting tf-explain offers) instead of the paper's plain gradients.

    Returns:
        ``(N, H, W)`` float32 maps in [0, 1].

    Raises:
        InputError: Bad image batch.
        ConfigurationError: No layer with 4-D output, or ``layer`` unknown.

    Example:
        >>> cams = grad_cam(_tiny_cnn(), np.ones((1, 8, 8, 1), np.float32), layer="conv")
        >>> cams.shape, float(cams.min()) >= 0.0, float(cams.max()) <= 1.0
        ((1, 8, 8), True, True)
    """
    x = _images(images)
    name = layer or _last_conv_layer(model)
    try:
        model.get_layer(name)
    except ValueError as err:
        raise ConfigurationError(f"Model {model.name!r} has no layer {name!r}.") from err
    outputs, grads = GradCAM.get_gradients_and_filters(model, x, name, class_index, guided)
    cams = tf.nn.relu(tf.stack(GradCAM.generate_ponderated_output(outputs, grads)))
    cams = tf.image.resize(cams[..., None], x.shape[1:3], method="bilinear")[..., 0].numpy()
    peak = cams.reshape(len(cams), -1).max(axis=1)
    return (cams / np.where(peak > 0, peak, 1.0)[:, None, None]).astype(np.float32)


def occlusion_sensitivity(model: keras.Model, images: np.ndarray, *, patch_size: int = 4,
                          stride: int | None = None, class_index: int = 0,
                          fill: float | str = "mean", batch_size: int = 256) -> np.ndarray:
    """How much the class score drops when each region is covered by a patch.

    Every ``patch_size`` square on a grid of step ``stride`` (default ``patch_size // 2``;
    the last row and column of patches touch the border) is set to ``fill``; each pixel's
    value is the mean, over the patches covering it, of ``score(image) - score(occluded)``.

    Args:
        model: A Keras model with image input.
        images: ``(N, H, W, C)`` float images.
        patch_size: Side of the square patch in pixels.
        stride: Step between patches.
        class_index: Output column to explain.
        fill: Patch value, or ``"mean"`` for each image's mean.
        batch_size: Occluded images per model call.

    Returns:
        ``(N, H, W)`` float32 score drops (positive: the region supports the class).

    Example:
        >>> drops = occlusion_sensitivity(_tiny_cnn(), np.ones((1, 8, 8, 1), np.float32))
        >>> drops.shape
        (1, 8, 8)
    """
    x = _images(images)
    height, width = x.shape[1:3]
    stride = stride or max(1, patch_size // 2)
    if not 1 <= patch_size <= min(height, width) or stride < 1:
        raise ConfigurationError(f"patch_size must be in [1, {min(height, width)}] and stride "
                                 f">= 1; got {patch_size} and {stride}.")
    rows = sorted({*range(0, height - patch_size + 1, stride), height - patch_size})
    cols = sorted({*range(0, width - patch_size + 1, stride), width - patch_size})
    corners = [(r, c) for r in rows for c in cols]
    maps = np.zeros((len(x), height, width), np.float32)
    for n, image in enumerate(x):
        value = float(image.mean()) if fill == "mean" else float(fill)
        occluded = np.repeat(image[None], len(corners), axis=0)
        for k, (r, c) in enumerate(corners):
            occluded[k, r:r + patch_size, c:c + patch_size] = value
        base = float(_scores(model, image[None], class_index)[0])
        scores = np.concatenate([_scores(model, occluded[i:i + batch_size], class_index).numpy()
                                 for i in range(0, len(occluded), batch_size)])
        total, count = np.zeros((height, width)), np.zeros((height, width))
        for (r, c), score in zip(corners, scores, strict=True):
            total[r:r + patch_size, c:c + patch_size] += base - score
            count[r:r + patch_size, c:c + patch_size] += 1
        maps[n] = total / count
    return maps


def integrated_gradients(model: keras.Model, inputs: np.ndarray, *,
                         baseline: np.ndarray | float = 0.0, steps: int = 32,
                         class_index: int = 0, batch_size: int = 64) -> np.ndarray:
    """Integrated gradients of one output with respect to the model's inputs.

    ``IG_i(x) = (x_i - x'_i) * integral_0^1 dF(x' + a (x - x')) / dx_i da``, the integral by
    the trapezoid rule on ``steps`` intervals. The attributions of one input sum to
    ``F(x) - F(x')`` up to that rule's error (completeness). Works for any differentiable
    model, through quantum layers too, and for any input shape (images or feature vectors).

    Args:
        model: A Keras model.
        inputs: ``(N, ...)`` float inputs.
        baseline: ``x'``: a number, or an array broadcastable to one input.
        steps: Trapezoid intervals along the path (>= 1).
        class_index: Output column to explain.
        batch_size: Path points per gradient call.

    Returns:
        Float32 attributions, the shape of ``inputs``.

    Example:
        >>> w = np.array([[1.0], [-2.0]], np.float32)
        >>> linear = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
        >>> linear.set_weights([w])
        >>> integrated_gradients(linear, np.array([[3.0, 1.0]], np.float32), steps=4).tolist()
        [[3.0, -2.0]]
    """
    x = _images(inputs, rank=None)
    if steps < 1:
        raise ConfigurationError(f"steps must be >= 1; got {steps}.")
    base = np.broadcast_to(np.asarray(baseline, np.float32), x.shape[1:])
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float32)
    weights = np.full(steps + 1, 1.0 / steps, np.float32)
    weights[[0, -1]] /= 2.0
    result = np.zeros_like(x)
    for n, point in enumerate(x):
        path = base[None] + alphas.reshape(-1, *[1] * point.ndim) * (point - base)[None]
        grads = []
        for i in range(0, len(path), batch_size):
            chunk = tf.constant(path[i:i + batch_size])
            with tf.GradientTape() as tape:
                tape.watch(chunk)
                score = tf.reduce_sum(_scores(model, chunk, class_index))
            grads.append(tape.gradient(score, chunk).numpy())
        mean_grad = np.tensordot(weights, np.concatenate(grads), axes=1)
        result[n] = (point - base) * mean_grad
    return result


def _overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float, colormap: int) -> np.ndarray:
    grey = np.squeeze(image)
    grey = grey @ np.array([0.299, 0.587, 0.114], np.float32) if grey.ndim == 3 else grey
    grey = (np.clip(grey, 0.0, 1.0) * 255).astype(np.uint8)
    heat = np.maximum(np.squeeze(heatmap).astype(np.float32), 0.0)
    heat = cv2.resize(heat, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_LINEAR)
    heat = heat / heat.max() if heat.max() > 0 else heat
    colour = cv2.applyColorMap((heat * 255).astype(np.uint8), colormap)
    return cv2.addWeighted(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), 1.0 - alpha, colour, alpha, 0)


def save_overlays(images: np.ndarray, heatmaps: np.ndarray, directory: str | os.PathLike, *,
                  prefix: str = "overlay", names: Sequence[str] | None = None,
                  alpha: float = 0.45, colormap: int = cv2.COLORMAP_JET) -> list[Path]:
    """Writes one PNG per image: the grey image under its heat map, blended.

    The positive part of each heat map is scaled to [0, 1] (a map with no positive value
    shows the image only). For integrated gradients pass ``np.abs(attr).sum(-1)``. Files
    are written atomically; names are ``<prefix>_<index>.png`` unless ``names`` is given
    (keep identifiers out of file names).

    Args:
        images: ``(N, H, W[, C])`` images in [0, 1].
        heatmaps: ``(N, h, w[, 1])`` maps; resized to the images.
        directory: Output folder (created).
        prefix: File-name prefix.
        names: File names (without folder), one per image.
        alpha: Weight of the heat map in the blend.
        colormap: An OpenCV colour map.

    Returns:
        The paths written.

    Example:
        >>> import tempfile
        >>> paths = save_overlays(np.zeros((2, 8, 8, 1)), np.ones((2, 4, 4)), tempfile.mkdtemp())
        >>> [p.name for p in paths]
        ['overlay_0000.png', 'overlay_0001.png']
    """
    if len(images) != len(heatmaps) or (names is not None and len(names) != len(images)):
        raise InputError(f"save_overlays needs one heat map (and name) per image; got "
                         f"{len(images)} images and {len(heatmaps)} maps.")
    directory = Path(directory)
    paths = []
    for i, (image, heatmap) in enumerate(zip(images, heatmaps, strict=True)):
        ok, png = cv2.imencode(".png", _overlay(np.asarray(image, np.float32),
                                                np.asarray(heatmap), alpha, colormap))
        if not ok:  # pragma: no cover - OpenCV fails only on invalid arrays
            raise InputError(f"Could not encode overlay {i} as PNG.")
        name = names[i] if names is not None else f"{prefix}_{i:04d}.png"
        paths.append(atomic_write(directory / name, png.tobytes()))
    log.info("wrote %d overlay(s) to %s", len(paths), directory)
    return paths
