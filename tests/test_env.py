"""import qkeras: Keras routing, configuration and error helpers."""

import os
import subprocess
import sys

import pytest

from qkeras import config, errors
from tests.conftest import REPO


def _run(code, **env):
    environment = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=environment, cwd=REPO, timeout=300)


def test_import_routes_tf_keras_to_tf_keras():
    result = _run("import qkeras as qk, tensorflow as tf, tf_keras\n"
                  "assert tf.keras.layers.Layer is tf_keras.layers.Layer\n"
                  "assert qk.keras is tf_keras\nimport os\n"
                  "print(os.environ['TF_USE_LEGACY_KERAS'])")
    assert result.returncode == 0, result.stderr[-1500:]
    assert result.stdout.strip() == "1"


def test_keras3_already_resolved_is_a_clear_error():
    result = _run("import tensorflow as tf\ntf.keras.layers.Dense\n"
                  "try:\n    import qkeras\n"
                  "except ImportError as err:\n    print(type(err).__name__, err)\n")
    expected = "EnvironmentSetupError tf.keras already resolved to Keras 3"
    assert expected in result.stdout, result.stderr[-1500:]
    assert "TF_USE_LEGACY_KERAS=1" in result.stdout


def test_legacy_keras_switched_off_is_a_clear_error():
    result = _run("import qkeras", TF_USE_LEGACY_KERAS="0")
    assert result.returncode != 0
    assert "TF_USE_LEGACY_KERAS is set to '0'" in result.stderr


def test_circuits_do_not_import_tensorflow():
    """qkeras.circuits is pure Cirq: none of its modules imports TensorFlow."""
    import ast

    for path in (REPO / "qkeras" / "circuits").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names]
        names += [node.module or "" for node in ast.walk(tree)
                  if isinstance(node, ast.ImportFrom)]
        assert not [n for n in names if n.split(".")[0] in ("tensorflow", "tf_keras",
                                                             "tensorflow_quantum")], path


def test_unknown_attribute_and_dir():
    import qkeras

    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        qkeras.nothing  # noqa: B018
    assert "layers" in dir(qkeras) and qkeras.layers.QuantumDense


def test_max_qubits_env(monkeypatch):
    monkeypatch.setenv("QKERAS_MAX_QUBITS", "abc")
    with pytest.raises(errors.ConfigurationError, match="positive integer; got 'abc'"):
        config.max_qubits()
    monkeypatch.delenv("QKERAS_MAX_QUBITS")
    assert 2 ** config.max_qubits() * config.BYTES_PER_AMPLITUDE <= \
        config.physical_memory_bytes()


def test_home_and_zoo_url(monkeypatch, tmp_path):
    monkeypatch.setenv("QKERAS_HOME", str(tmp_path))
    assert config.home() == tmp_path
    monkeypatch.delenv("QKERAS_HOME")
    assert config.home().parts[-2:] == (".keras", "qkeras")
    monkeypatch.setenv("QKERAS_ZOO_URL", "file:///mirror")
    assert config.zoo_url() == "file:///mirror"


def test_errors_inherit_builtins():
    assert issubclass(errors.InputError, ValueError)
    assert issubclass(errors.ResourceError, MemoryError)
    assert issubclass(errors.EnvironmentSetupError, ImportError)
    assert issubclass(errors.ChecksumError, OSError)
    assert str(errors.unknown_name("x", "zzz", ["a"])) == "Unknown x 'zzz'. Choices: 'a'."
