"""Routes ``tf.keras`` to tf_keras (Keras 2) before TensorFlow resolves it."""

from __future__ import annotations

import os
import sys

from qkeras.errors import EnvironmentSetupError

_FIX = (
    "Start a fresh Python process and import qkeras before anything touches tf.keras, "
    "or set TF_USE_LEGACY_KERAS=1 in the environment before starting Python."
)


def use_legacy_keras() -> None:
    """Sets ``TF_USE_LEGACY_KERAS=1`` (unless set) and checks ``tf.keras`` is tf_keras.

    When TensorFlow is not imported yet, nothing else is needed: it reads the variable
    when ``tf.keras`` is first touched. When it is, ``tf.keras`` is resolved and checked.

    Raises:
        EnvironmentSetupError: If ``TF_USE_LEGACY_KERAS`` is set to a false value, or
            ``tf.keras`` already resolved to Keras 3 in this process.

    Example:
        >>> use_legacy_keras()
        >>> os.environ["TF_USE_LEGACY_KERAS"]
        '1'
    """
    value = os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
    if value not in ("1", "true", "True"):
        raise EnvironmentSetupError(
            f"TF_USE_LEGACY_KERAS is set to {value!r}, which routes tf.keras to Keras 3; "
            "TensorFlow Quantum layers are Keras 2 layers and cannot live in a Keras 3 "
            "model. Unset it or set TF_USE_LEGACY_KERAS=1."
        )
    if "tensorflow" not in sys.modules:
        return  # TensorFlow will read the variable when it resolves tf.keras
    import tensorflow as tf
    import tf_keras

    if tf.keras.layers.Layer is not tf_keras.layers.Layer:
        raise EnvironmentSetupError(
            "tf.keras already resolved to Keras 3 in this process (something imported "
            "TensorFlow and touched tf.keras before qkeras). " + _FIX
        )
