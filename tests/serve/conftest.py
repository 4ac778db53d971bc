"""Fixtures of the serving tests: a small hybrid model trained on real data, exported."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest

from qkeras import keras

# Starlette asks for httpx2 in its TestClient; httpx is what FastAPI documents today.
# Imported once here with that warning silenced; the test modules then get the cached one.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import fastapi.testclient  # noqa: F401

DIGIT_CLASSES = [str(i) for i in range(10)]


def digits():
    """scikit-learn's 8x8 handwritten digits (1,797 real scans, shipped with the package),
    scaled to [0, 1] with a channel axis."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.images / 16.0).astype(np.float32)[..., None], data.target


def build_digit_model(seed: int = 0) -> keras.Model:
    from qkeras.layers import QuantumDense

    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((8, 8, 1), name="image"),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv"),
        keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
        keras.layers.Dense(8, activation="tanh", name="encoder"),
        QuantumDense(8, "angle", "hardware_efficient", layers=1, name="quantum"),
        keras.layers.Dense(10, activation="softmax", name="probs"),
    ])


async def predict_concurrently(app, bodies, name: str = "digits"):
    """Sends the ``:predict`` bodies to an ASGI app all at once; their responses, in order."""
    import asyncio

    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await asyncio.gather(*(client.post(f"/v1/models/{name}:predict", json=b)
                                      for b in bodies))


def png_bytes(image: np.ndarray, scale: int = 1) -> bytes:
    """A [0, 1] grey image as 8-bit PNG bytes, optionally upscaled."""
    from PIL import Image

    pixels = (np.clip(np.squeeze(image), 0, 1) * 255).astype(np.uint8)
    picture = Image.fromarray(pixels)
    if scale > 1:
        picture = picture.resize((pixels.shape[1] * scale, pixels.shape[0] * scale),
                                 Image.NEAREST)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def digit_model():
    """The hybrid model fitted on the first 1,500 digits; returns (model, x_test, y_test)."""
    x, y = digits()
    model = build_digit_model()
    model.compile(keras.optimizers.Adam(0.02), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x[:1500], y[:1500], epochs=8, batch_size=32, verbose=0)  # ~80% held out
    return model, x[1500:], y[1500:]


@pytest.fixture(scope="session")
def model_base(digit_model, tmp_path_factory):
    """A TF Serving base directory with digits/1 (portable SavedModel, card, Keras copy)."""
    from qkeras.export import for_serving
    from qkeras.serve import write_card
    from qkeras.zoo.entry import InputSpec

    base = tmp_path_factory.mktemp("models")
    version = for_serving(digit_model[0], base, "digits")
    write_card(version, classes=DIGIT_CLASSES,
               inputs=InputSpec((8, 8, 1), "float32", (0.0, 1.0), "handwritten digit",
                                "grey, scaled to [0, 1]"),
               model=digit_model[0])
    return base
