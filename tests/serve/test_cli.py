"""``qkeras serve`` arguments and the repository it builds (the server itself runs in
tests/serve/test_live.py)."""

import numpy as np
import pytest
from fastapi.testclient import TestClient

from qkeras.cli import main
from qkeras.errors import ConfigurationError
from qkeras.serve import build_repository, create_app, write_card
from qkeras.zoo import InputSpec

from .conftest import DIGIT_CLASSES, png_bytes


@pytest.mark.parametrize("argv, message", [
    (["serve"], "Give MODEL_BASE_DIR or --zoo NAME"),
    (["serve", "x", "--label", "stable"], "--label must be LABEL=VERSION"),
    (["serve", "x", "--api-key-env", "QKERAS_TEST_NO_SUCH_VAR"], "is not set"),
])
def test_bad_serve_arguments_exit_2_with_a_message(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_build_repository_refuses_what_it_cannot_serve(tmp_path, model_base):
    with pytest.raises(ConfigurationError, match="need --model-name"):
        build_repository(model_base, labels={"stable": 1})
    with pytest.raises(ConfigurationError, match="No model to serve under .* named 'x'"):
        build_repository(model_base, model_name="x", poll_seconds=0)
    with pytest.raises(ConfigurationError, match="Cannot load the Keras model"):
        build_repository(tmp_path / "absent.keras")


def test_a_keras_file_is_served_with_the_card_beside_it(tmp_path, digit_model):
    model, x, _ = digit_model
    image = np.floor(x[:1] * 255) / 255  # what the 8-bit PNG of png_bytes carries
    model.save(tmp_path / "digit_net.keras")
    write_card(tmp_path, classes=DIGIT_CLASSES,
               inputs=InputSpec((8, 8, 1), "float32", (0.0, 1.0), "digit"))
    repo = build_repository(tmp_path / "digit_net.keras", poll_seconds=0)
    assert repo.names() == ["digit-net"]
    with TestClient(create_app(repo)) as client:
        reply = client.post("/v1/models/digit-net:classify?explain=grad_cam",
                            content=png_bytes(x[0]), headers={"content-type": "image/png"})
    body = reply.json()
    assert reply.status_code == 200 and body["grad_cam"].startswith("data:image/png")
    np.testing.assert_allclose(body["probabilities"], model.predict(image, verbose=0)[0],
                               atol=1e-4)


def test_tensorflow_threads_are_checked_and_fixed_once_tensorflow_runs():
    import tensorflow as tf

    from qkeras.serve.server import tensorflow_threads

    tf.constant(1.0) + 1.0  # TensorFlow has started in this process
    current = (tf.config.threading.get_intra_op_parallelism_threads(),
               tf.config.threading.get_inter_op_parallelism_threads())
    tensorflow_threads(*current)  # asking for what is set already is fine
    with pytest.raises(ConfigurationError, match="before loading a model"):
        tensorflow_threads(current[0] + 3, current[1] + 3)
    with pytest.raises(ConfigurationError, match=">= 0"):
        tensorflow_threads(0, -2)


@pytest.mark.parametrize("value, message", [
    ("8,x", "--batch-sizes must be auto, none or comma-separated integers"),
    ("8,16", "end with the maximum batch (64)"),
])
def test_bad_batch_sizes_exit_2_with_a_message(tmp_path, value, message, capsys):
    assert main(["serve", str(tmp_path), "--batch-sizes", value]) == 2
    assert message in capsys.readouterr().err
