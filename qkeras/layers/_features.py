"""In-graph feature maps: input features -> values of a spec's data symbols."""

from __future__ import annotations

import math

import tensorflow as tf

from qkeras.circuits import encodings
from qkeras.circuits.spec import CircuitSpec

_EPS = 1e-12


def _iqp(x: tf.Tensor, spec: CircuitSpec) -> tf.Tensor:
    pairs = encodings.iqp_pairs(spec.n_features, spec.entanglement)
    if not pairs:
        return x
    left = tf.gather(x, [i for i, _ in pairs], axis=1)
    right = tf.gather(x, [j for _, j in pairs], axis=1)
    # ZPow/ZZPow(2φ/π) are periodic in φ with period π: reducing φ is exact, and keeps
    # the float32 phase error of large products (up to ~20 rad) out of the simulation.
    return tf.concat([x, tf.math.floormod((math.pi - left) * (math.pi - right), math.pi)],
                     axis=1)


def _amplitude(x: tf.Tensor, spec: CircuitSpec) -> tf.Tensor:
    n = len(spec.qubits)
    x = x * tf.math.rsqrt(tf.reduce_sum(tf.square(x), axis=1, keepdims=True) + _EPS)
    angles = []
    for k in range(n):
        blocks = tf.reshape(x, [-1, 2**k, 2, 2 ** (n - k - 1)])
        if k < n - 1:
            norms = tf.sqrt(tf.reduce_sum(tf.square(blocks), axis=3) + _EPS)
            left, right = norms[:, :, 0], norms[:, :, 1]
        else:
            left, right = blocks[:, :, 0, 0], blocks[:, :, 1, 0]
        angles.append(2.0 * tf.math.atan2(right, left))
    return tf.concat(angles, axis=1)


_MAPS = {"iqp": _iqp, "amplitude": _amplitude}


def data_values(x: tf.Tensor, spec: CircuitSpec) -> tf.Tensor:
    """Returns the data-symbol values ``(batch, len(spec.data_symbols))`` for features ``x``.

    The TensorFlow twin of :func:`qkeras.circuits.feature_values`; differentiable.
    """
    feature_map = _MAPS.get(spec.encoding)
    return feature_map(x, spec) if feature_map else x
