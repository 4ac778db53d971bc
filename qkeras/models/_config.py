"""Nested Keras objects in model configs, as plain JSON values."""

from __future__ import annotations

import json

import tf_keras as keras


def serialize_layer(layer: keras.layers.Layer) -> dict:
    """``keras.saving.serialize_keras_object`` with tuples made lists (as JSON reads back),
    so that ``from_config(get_config())`` reproduces ``get_config()`` exactly."""
    return json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))


def deserialize_layer(config: dict) -> keras.layers.Layer:
    """Inverts :func:`serialize_layer`."""
    return keras.saving.deserialize_keras_object(dict(config))
