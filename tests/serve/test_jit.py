"""``qkeras serve --jit``: a plain export compiled whole with XLA when it loads."""

from __future__ import annotations

import asyncio
import logging

import numpy as np
import pytest
import tensorflow as tf

from qkeras.serve import ModelRepository, Servable, ServeOptions, create_app

from .conftest import predict_concurrently


@pytest.fixture(scope="module")
def plain_export(digit_model, tmp_path_factory):
    from qkeras.export import for_serving

    base = tmp_path_factory.mktemp("jit") / "base"
    for_serving(digit_model[0], base, "digits", xla=False)
    return base


class _Mixed(tf.Module):
    """Three signatures: one XLA compiles, one with a string op XLA has no kernel for,
    and one whose output XLA does not reproduce (a stateful random op)."""

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)], autograph=False)
    def affine(self, x):
        return {"y": 2 * x + 1}

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)], autograph=False)
    def text(self, x):
        return {"y": tf.strings.to_number(tf.strings.as_string(x))}

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)], autograph=False)
    def noisy(self, x):
        return {"y": x + tf.random.uniform(tf.shape(x))}


def test_a_plain_export_compiled_whole_answers_as_the_keras_model(plain_export, digit_model):
    model, x, _ = digit_model
    servable = Servable.from_saved_model(plain_export / "digits" / "1", "digits", 1)
    graph = servable.signatures["serving_default"].function
    assert not servable.xla_compiled and not servable.jit_tried
    assert servable.jit_compile() == ["serving_default"]
    assert servable.xla_compiled and servable.jit_tried
    compiled = servable.signatures["serving_default"].function
    assert compiled is not graph
    assert compiled.function_def.attr["_XlaMustCompile"].b  # the whole graph is one cluster
    for rows in (1, 3, 8):
        np.testing.assert_allclose(servable.predict({"image": x[:rows]})["probs"],
                                   model.predict(x[:rows], verbose=0), atol=1e-5)


def test_signatures_xla_cannot_compile_or_reproduce_keep_their_graph(tmp_path, caplog):
    module = _Mixed()
    tf.saved_model.save(module, str(tmp_path / "1"), signatures={
        "serving_default": module.affine, "text": module.text, "noisy": module.noisy})
    servable = Servable.from_saved_model(tmp_path / "1", "mixed", 1)
    graphs = {k: s.function for k, s in servable.signatures.items()}
    with caplog.at_level(logging.WARNING, "qkeras.serve.servable"):
        assert servable.jit_compile() == ["serving_default"]
    assert servable.xla_compiled
    for name in ("text", "noisy"):
        assert servable.signatures[name].function is graphs[name]
    warnings = "\n".join(r.getMessage() for r in caplog.records)
    assert "signature text: XLA cannot compile it" in warnings and "AsString" in warnings
    assert "signature noisy: compiled by XLA, output 'y' differs" in warnings
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(servable.predict({"x": x})["y"], 3 * x)
    np.testing.assert_array_equal(servable.predict({"x": x}, "text")["y"], x)


def test_a_model_xla_cannot_compile_at_all_is_served_uncompiled(tmp_path):
    module = _Mixed()
    tf.saved_model.save(module, str(tmp_path / "1"), signatures={"serving_default": module.text})
    servable = Servable.from_saved_model(tmp_path / "1", "text", 1)
    assert servable.jit_compile() == []
    assert not servable.xla_compiled and servable.jit_tried


@pytest.mark.parametrize("jit", [True, False])
def test_the_server_compiles_a_plain_export_before_it_serves(plain_export, digit_model, jit):
    from fastapi.testclient import TestClient

    model, x, _ = digit_model
    repo = ModelRepository(plain_export, poll_seconds=0)
    repo.scan()
    servable = repo.get("digits")
    app = create_app(repo, ServeOptions(max_batch=8, jit=jit))
    with TestClient(app):  # startup compiles, then warms up each allowed batch size
        assert servable.xla_compiled is jit
        assert servable.warmed_up == ((1, 2, 4, 8) if jit else ())
        replies = asyncio.run(predict_concurrently(app, [{"instances": x[i:i + 1].tolist()}
                                                for i in range(5)]))
    for i, reply in enumerate(replies):
        assert reply.status_code == 200, reply.text
        np.testing.assert_allclose(reply.json()["predictions"],
                                   model.predict(x[i:i + 1], verbose=0), atol=1e-5)
    (batcher,) = app.state.server.batchers.values()
    assert batcher.batch_sizes == ((1, 2, 4, 8) if jit else None)


@pytest.mark.parametrize("jit", [True, False])
def test_without_batching_a_compiled_model_runs_each_request_padded(plain_export, digit_model,
                                                                    monkeypatch, jit):
    from fastapi.testclient import TestClient

    model, x, _ = digit_model
    repo = ModelRepository(plain_export, poll_seconds=0)
    repo.scan()
    servable = repo.get("digits")
    app = create_app(repo, ServeOptions(batching=False, max_batch=8, jit=jit))
    run, rows_run = servable.predict, []

    def spy(inputs, signature=None):
        rows_run.append(len(inputs["image"]))
        return run(inputs, signature)

    with TestClient(app) as client:  # compiled: warmed up at the sizes requests pad to
        assert servable.warmed_up == ((1, 2, 4, 8) if jit else ())
        monkeypatch.setattr(servable, "predict", spy)
        for rows in (3, 5, 8, 11):
            reply = client.post("/v1/models/digits:predict",
                                json={"instances": x[:rows].tolist()})
            assert reply.status_code == 200, reply.text
            np.testing.assert_allclose(reply.json()["predictions"],
                                       model.predict(x[:rows], verbose=0), atol=1e-5)
    # 11 rows is more than the largest allowed size: it runs as it is, as in a batcher.
    assert rows_run == ([4, 8, 8, 11] if jit else [3, 5, 8, 11])


def test_a_hot_loaded_version_is_compiled_before_it_is_published(plain_export):
    repo = ModelRepository(plain_export, poll_seconds=0)
    create_app(repo, ServeOptions(max_batch=4, jit=True))
    repo.scan()  # what the polling thread does: on_load compiles and warms up
    servable = repo.get("digits")
    assert servable.xla_compiled and servable.warmed_up == (1, 2, 4)


def test_serve_takes_jit_from_the_command_line():
    from qkeras.cli import build_parser

    assert build_parser().parse_args(["serve", "models", "--jit"]).jit is True
    assert build_parser().parse_args(["serve", "models"]).jit is False
