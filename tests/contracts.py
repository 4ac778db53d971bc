"""Shared test helpers: the layer contract every qkeras layer must meet, and references."""

from __future__ import annotations

import json

import cirq
import numpy as np
import tensorflow as tf
import tf_keras as keras

from qkeras.circuits import feature_values


def cirq_expectations(spec, features, weights):
    """Independent reference: cirq.Simulator on the resolved circuit, per sample (float64)."""
    out = []
    data = (feature_values(spec.encoding, features, entanglement=spec.entanglement)
            if spec.encoding else np.asarray(features, np.float64))
    qubit_map = {q: i for i, q in enumerate(spec.qubits)}
    for row in data:
        resolver = dict(zip(spec.data_symbols, row)) | dict(zip(spec.weight_symbols, weights))
        state = cirq.final_state_vector(spec.circuit, param_resolver=resolver,
                                        qubit_order=spec.qubits, dtype=np.complex128)
        out.append([o.expectation_from_state_vector(state, qubit_map).real
                    for o in spec.observables])
    return np.array(out)


def assert_saved_model_round_trip(model, x, tmp_path, formats=("keras", "h5", "tf")):
    """Saves ``model`` in each format and checks the reloaded one predicts identically."""
    want = model.predict(x, verbose=0)
    for fmt in formats:
        path = str(tmp_path / f"model_{fmt}") + ("" if fmt == "tf" else f".{fmt}")
        # TFQ's ops carry tf.custom_gradient closures that SavedModel cannot serialise;
        # the layer is rebuilt from its config on load, so nothing is lost without them.
        extra = ({"options": tf.saved_model.SaveOptions(experimental_custom_gradients=False)}
                 if fmt == "tf" else {})
        model.save(path, save_format=fmt if fmt != "keras" else None, **extra)
        got = keras.models.load_model(path).predict(x, verbose=0)
        np.testing.assert_array_equal(got, want, err_msg=f"format {fmt}")


def assert_layer_contract(cls, init_kwargs, x, expected_shape, tmp_path):
    """Shape, plain-JSON config, from_config equality and save/reload of a layer."""
    layer = cls(**init_kwargs)
    assert tuple(layer(x).shape) == expected_shape
    config = json.loads(json.dumps(layer.get_config()))
    assert cls.from_config(config).get_config() == layer.get_config()
    model = keras.Sequential([keras.Input(x.shape[1:]), cls(**init_kwargs)])
    assert_saved_model_round_trip(model, x, tmp_path)
