"""qkeras.export: portable SavedModels that load and predict without TensorFlow Quantum."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from qkeras import export, keras
from qkeras.errors import ExportError
from qkeras.layers import QuantumCircuit, QuantumDense


@pytest.fixture(scope="module")
def trained():
    """A hybrid model trained two epochs on the demo's real data."""
    from qkeras.demo import load_data

    (x, y), _, (x_test, _) = load_data()
    model = keras.Sequential([
        keras.Input((30,), name="features"), keras.layers.Dense(4, name="encoder"),
        # On TFQ, so that the portable export really has something to convert.
        QuantumDense(4, "angle", "strongly_entangling", layers=2, name="quantum",
                     backend="tfq"),
        QuantumDense(4, "iqp", "hardware_efficient", layers=1, name="quantum_iqp",
                     backend="tfq"),
        keras.layers.Dense(1, activation="sigmoid", name="risk"),
    ])
    model.compile(keras.optimizers.Adam(0.02), "binary_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    return model, x_test[:16]


def test_portable_export_loads_where_tensorflow_quantum_cannot_be_imported(trained, tmp_path):
    model, x = trained
    path = export.saved_model(model, tmp_path / "export")
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "want.npy", model.predict(x, verbose=0))
    script = textwrap.dedent(f"""
        import sys
        sys.modules["tensorflow_quantum"] = None   # any import of TFQ now fails
        import numpy as np, tensorflow as tf
        try:
            import tensorflow_quantum
            raise SystemExit("tensorflow_quantum imported")
        except ImportError:
            pass
        loaded = tf.saved_model.load({str(path)!r})
        serve = loaded.signatures["serving_default"]
        out = serve(features=tf.constant(np.load({str(tmp_path / 'x.npy')!r})))
        np.testing.assert_allclose(out["risk"].numpy(), np.load({str(tmp_path / 'want.npy')!r}),
                                   atol=1e-5)
        assert not [m for m in sys.modules if m.startswith(("qkeras", "cirq"))]
        print("portable ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "portable ok" in result.stdout


def test_no_tfq_op_anywhere_in_the_graph(trained, tmp_path):
    ops = export.graph_ops(export.saved_model(trained[0], tmp_path / "m"))
    assert ops, "the graph was read"
    assert not [op for op in ops if op.startswith("Tfq")]
    non_portable = export.graph_ops(export.saved_model(trained[0], tmp_path / "tfq",
                                                       portable=False))
    assert any(op.startswith("Tfq") for op in non_portable)  # the check can fail


def test_signature_has_named_input_fixed_features_dynamic_batch(trained, tmp_path):
    loaded = tf.saved_model.load(str(export.saved_model(trained[0], tmp_path / "m")))
    serve = loaded.signatures["serving_default"]
    (name, spec), = serve.structured_input_signature[1].items()
    assert name == "features" and spec.shape.as_list() == [None, 30]
    assert list(serve.structured_outputs) == ["risk"]
    for batch in (1, 7):
        assert serve(features=tf.zeros((batch, 30)))["risk"].shape == (batch, 1)


def test_xla_export_matches(trained, tmp_path):
    model, x = trained
    loaded = tf.saved_model.load(str(export.saved_model(model, tmp_path / "m", xla=True)))
    out = loaded.signatures["serving_default"](features=tf.constant(x))["risk"]
    np.testing.assert_allclose(out.numpy(), model.predict(x, verbose=0), atol=1e-5)


def test_for_serving_layout_and_no_overwrite(trained, tmp_path):
    model = trained[0]
    first = export.for_serving(model, tmp_path, "breast")
    second = export.for_serving(model, tmp_path, "breast")
    assert (first.name, second.name) == ("1", "2")
    assert (second / "saved_model.pb").is_file()
    with pytest.raises(ExportError, match="never overwritten"):
        export.for_serving(model, tmp_path, "breast", version=1)
    with pytest.raises(ExportError, match="positive integer"):
        export.for_serving(model, tmp_path, "breast", version=0)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("x")
    with pytest.raises(ExportError, match="not empty"):
        export.saved_model(model, tmp_path / "busy")
    assert not [p for p in tmp_path.rglob(".*")], "no staging directory left behind"


def test_sampled_layer_cannot_be_exported_portably(tmp_path):
    model = keras.Sequential([keras.Input((2,)), QuantumDense(2, repetitions=100, name="s")])
    with pytest.raises(ExportError, match="'s' samples \\(repetitions=100\\)"):
        export.saved_model(model, tmp_path / "m")
    assert not (tmp_path / "m").exists() and not list(tmp_path.iterdir())
    noisy = keras.Sequential([keras.Input((2,)), QuantumDense(2, noise="bit_flip:0.1")])
    with pytest.raises(ExportError, match="noisy"):
        export.saved_model(noisy, tmp_path / "n")


def test_subclassed_model_is_refused(tmp_path):
    class Custom(keras.Model):
        def __init__(self):
            super().__init__()
            self.q = QuantumDense(2)

        def call(self, x):
            return self.q(x)

    model = Custom()
    model(np.zeros((1, 2), np.float32))
    with pytest.raises(ExportError, match="subclassed"):
        export.saved_model(model, tmp_path / "m")


def test_nested_model_and_user_circuit_are_made_portable(tmp_path):
    import cirq
    import sympy

    q = cirq.LineQubit.range(2)
    x0, x1, w = sympy.symbols("x0 x1 w")
    inner = keras.Sequential([keras.Input((2,)), QuantumCircuit(
        cirq.Circuit(cirq.rx(x0)(q[0]), cirq.ry(x1)(q[1]), cirq.CZ(*q), cirq.rx(w)(q[1])),
        [x0, x1], [w])], name="inner")
    inputs = keras.Input((2,), name="x")
    model = keras.Model(inputs, keras.layers.Dense(1, name="y")(inner(inputs)))
    portable = export.portable_model(model)
    assert portable.get_layer("inner").layers[0].backend == "statevector"
    data = np.random.default_rng(0).uniform(-1, 1, (5, 2)).astype(np.float32)
    np.testing.assert_allclose(portable.predict(data, verbose=0),
                               model.predict(data, verbose=0), atol=1e-5)
    path = export.saved_model(model, tmp_path / "m", signature={
        "x": tf.TensorSpec([None, 2], tf.float32, name="x")})
    out = tf.saved_model.load(str(path)).signatures["serving_default"](x=tf.constant(data))
    np.testing.assert_allclose(out["y"].numpy(), model.predict(data, verbose=0), atol=1e-5)


def test_cli_export(trained, tmp_path, capsys):
    from qkeras import cli

    model_file = tmp_path / "model.keras"
    trained[0].save(model_file)
    assert cli.main(["export", str(model_file), str(tmp_path / "serving"), "--name",
                     "breast"]) == 0
    assert "serving/breast/1" in capsys.readouterr().out
    assert not [op for op in export.graph_ops(tmp_path / "serving" / "breast" / "1")
                if op.startswith("Tfq")]
    assert cli.main(["export", str(tmp_path / "missing.keras"), str(tmp_path / "x")]) == 2
    assert "cannot load" in capsys.readouterr().err
