"""How batches reach the model: the batcher's own thread takes each batch while the event
loop waits (hand-off), and a model's runtime error names what went wrong.

References: the event loop's own progress (a ticking coroutine), the Keras model, and the
assertion message the model's graph was built with.
"""

import asyncio
import threading

import numpy as np
import pytest
import tensorflow as tf

from qkeras.errors import ServingError
from qkeras.serve import (
    MicroBatcher,
    ModelRepository,
    Servable,
    ServeMetrics,
    ServeOptions,
    create_app,
)


def _ticks_seen_by_the_model(handoff: bool, batches: int = 20):
    """For each batch, how far the event loop got between taking the batch and the model
    thread starting it (a coroutine ticks once per loop step)."""
    ticks, gaps, threads, delays = [0], [], set(), []

    def run(inputs):
        gaps.append(ticks[0] - int(inputs["taken"][0, 0]))
        threads.add(threading.current_thread().name)
        return {"y": inputs["x"] * 2}

    async def main():
        batcher = MicroBatcher(run, window_ms=0, max_batch=1, handoff=handoff,
                               on_start=delays.append)
        stop = asyncio.Event()

        async def tick():
            while not stop.is_set():
                ticks[0] += 1
                await asyncio.sleep(0)

        ticker = asyncio.create_task(tick())
        await asyncio.sleep(0)
        for i in range(batches):
            # The batch is taken in the step that resumes the batcher after this submit.
            taken = np.full((1, 1), ticks[0] + 1, np.int64)
            out = await batcher.submit({"x": np.full((1, 1), i, np.float32), "taken": taken})
            assert float(out["y"][0, 0]) == 2 * i
        stop.set()
        await ticker
        await batcher.close()
        return batcher

    batcher = asyncio.run(main())
    assert len(delays) == batches and all(0 <= d < 5 for d in delays)  # one per batch
    return gaps, threads, batcher


def test_with_handoff_the_batchers_own_thread_starts_each_batch_before_the_loop_goes_on():
    gaps, threads, batcher = _ticks_seen_by_the_model(handoff=True)
    # The loop waits in the step that took the batch: the model starts in that step.
    # (Without the hand-off the loop usually takes steps first: on an idle machine,
    # handoff=False gives gaps of 1 or more for most batches.)
    assert sum(g <= 0 for g in gaps) >= 15, gaps
    assert len(threads) == 1 and threads.pop().startswith("qkeras-batch")
    with pytest.raises(RuntimeError):  # close() shut the batcher's thread down
        batcher.executor.submit(print)


def test_a_batch_of_every_request_in_flight_does_not_hold_the_loop():
    from qkeras.serve import batching

    waits = []

    class Event(threading.Event):
        def wait(self, timeout=None):  # (threading.Thread.start waits on one too)
            if timeout == batching.HANDOFF_SECONDS:
                waits.append(timeout)
            return super().wait(timeout)

    async def main(busy):
        batcher = MicroBatcher(lambda x: {"y": x["x"] * 2}, window_ms=0, handoff=True,
                               in_flight=lambda: busy)
        out = await batcher.submit({"x": np.ones((1, 1))})
        await batcher.close()
        return float(out["y"][0, 0])

    original, batching.threading.Event = batching.threading.Event, Event
    try:
        alone = asyncio.run(main(busy=1)), len(waits)  # the batch is all there is
        crowded = asyncio.run(main(busy=5)), len(waits)  # four more requests are in flight
    finally:
        batching.threading.Event = original
    assert alone == (2.0, 0) and crowded == (2.0, 1)


def test_without_handoff_batches_run_on_the_given_executor():
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="shared") as shared:
        def main():
            batcher = MicroBatcher(lambda x: {"y": x["x"] + 1}, executor=shared)

            async def go():
                out = await batcher.submit({"x": np.ones((1, 1))})
                await batcher.close()
                return out

            return batcher, asyncio.run(go())

        batcher, out = main()
        assert batcher.executor is shared and float(out["y"][0, 0]) == 2.0
        assert shared.submit(lambda: 1).result() == 1  # close() left the shared pool alone


@pytest.mark.parametrize("handoff", [True, False])
def test_the_server_answers_waves_of_requests_alike_with_or_without_handoff(
        model_base, digit_model, handoff):
    import httpx

    model, x, _ = digit_model
    repo = ModelRepository(model_base, poll_seconds=0)
    repo.scan()
    metrics = ServeMetrics()
    app = create_app(repo, ServeOptions(batch_window_ms=30, handoff=handoff), metrics=metrics)

    async def main():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            replies = []
            for wave in range(3):
                replies += await asyncio.gather(*(client.post(
                    "/v1/models/digits:predict", json={"instances": x[i:i + 1].tolist()})
                    for i in range(wave * 6, wave * 6 + 6)))
            return replies

    replies = asyncio.run(main())
    assert [r.status_code for r in replies] == [200] * 18
    np.testing.assert_allclose([r.json()["predictions"][0] for r in replies],
                               model.predict(x[:18], verbose=0), atol=1e-5)
    (batcher,) = app.state.server.batchers.values()
    assert (batcher.executor is not app.state.server.executor) is handoff
    # Every model call reports how long it waited for its thread, by model and version.
    samples = {s.name: s.value for family in metrics.registry.collect()
               for s in family.samples if s.labels.get("model") == "digits"}
    calls = samples["qkeras_serve_batch_size_count"]
    assert 3 <= calls <= 18
    assert samples["qkeras_serve_batch_start_delay_seconds_count"] == calls
    assert 0 <= samples["qkeras_serve_batch_start_delay_seconds_sum"] < calls * 5


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """A SavedModel whose graph refuses inputs of 10 or more while it runs."""

    class Guarded(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")],
                     autograph=False)
        def serve(self, x):
            with tf.control_dependencies([tf.debugging.assert_less(
                    x, 10.0, message="x must stay below 10")]):
                return {"y": x * 2.0}

    path = tmp_path_factory.mktemp("guarded") / "1"
    module = Guarded()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return Servable.from_saved_model(path, "guarded", 1)


def test_a_runtime_error_of_the_model_is_a_400_that_names_the_failed_check(guarded):
    from fastapi.testclient import TestClient

    with pytest.raises(ServingError, match=r"^assertion failed: \[x must stay below 10\]") \
            as caught:
        guarded.predict({"x": np.full((1, 2), 12.0, np.float32)})
    assert caught.value.code == "INVALID_ARGUMENT"
    repo = ModelRepository(poll_seconds=0)
    repo.add(guarded)
    with TestClient(create_app(repo)) as client:
        bad = client.post("/v1/models/guarded:predict", json={"instances": [[11.0, 1.0]]})
        good = client.post("/v1/models/guarded:predict", json={"instances": [[1.0, 2.0]]})
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("assertion failed: [x must stay below 10]")
    assert good.json() == {"predictions": [[2.0, 4.0]]}
