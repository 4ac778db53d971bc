"""Micro-batching: concurrent requests share model calls and get their own rows back.

Reference: each request's answer is compared with the Keras model on that request's
input alone; model calls are counted by the batch-size histogram.
"""

import asyncio
import concurrent.futures

import numpy as np
import pytest

from qkeras.errors import ConfigurationError, ServingError
from qkeras.serve import MicroBatcher, ModelRepository, ServeMetrics, ServeOptions, create_app

from .conftest import predict_concurrently


def _calls(metrics: ServeMetrics) -> tuple[float, float]:
    """(model calls, rows) from the batch-size histogram."""
    count = rows = 0.0
    for family in metrics.registry.collect():
        if family.name == "qkeras_serve_batch_size":
            for sample in family.samples:
                if sample.name.endswith("_count"):
                    count += sample.value
                elif sample.name.endswith("_sum"):
                    rows += sample.value
    return count, rows


@pytest.mark.parametrize("batching", [True, False])
def test_concurrent_requests_merge_into_fewer_model_calls(model_base, digit_model, batching):
    model, x, _ = digit_model
    repo = ModelRepository(model_base, poll_seconds=0)
    repo.scan()
    metrics = ServeMetrics()
    app = create_app(repo, ServeOptions(batching=batching, batch_window_ms=50, max_batch=64),
                     metrics=metrics)
    sizes = [1, 2, 1, 3, 1, 1, 2, 1] * 4  # 32 requests, 48 rows, each its own images
    starts = np.cumsum([0, *sizes[:-1]])
    bodies = [{"instances": x[s:s + n].tolist()} for s, n in zip(starts, sizes)]
    replies = asyncio.run(predict_concurrently(app, bodies))
    assert [r.status_code for r in replies] == [200] * len(bodies)
    want = model.predict(x[:sum(sizes)], verbose=0)
    for reply, s, n in zip(replies, starts, sizes):
        np.testing.assert_allclose(reply.json()["predictions"], want[s:s + n], atol=1e-5)
    calls, rows = _calls(metrics)
    assert rows == sum(sizes)
    if batching:
        assert calls < len(bodies) / 4, f"{calls} model calls for {len(bodies)} requests"
    else:
        assert calls == len(bodies)


def test_batches_respect_max_batch_and_a_large_request_runs_alone():
    seen = []

    def run(inputs):
        seen.append(len(inputs["x"]))
        return {"y": inputs["x"] + 1}

    async def main():
        batcher = MicroBatcher(run, window_ms=30, max_batch=4)
        requests = [np.full((n, 1), i, np.float32) for i, n in enumerate([1, 1, 1, 1, 1, 6])]
        out = await asyncio.gather(*(batcher.submit({"x": r}) for r in requests))
        await batcher.close()
        return requests, out

    requests, out = asyncio.run(main())
    for request, answer in zip(requests, out):
        np.testing.assert_array_equal(answer["y"], request + 1)
    assert max(seen) == 6 and all(n <= 4 for n in seen if n != 6)
    assert sum(seen) == 11 and len(seen) <= 3


def test_a_failing_batch_fails_each_of_its_requests_and_close_refuses_new_ones():
    def run(inputs):
        raise ServingError("boom from the model")

    async def main():
        batcher = MicroBatcher(run, window_ms=5)
        results = await asyncio.gather(*(batcher.submit({"x": np.zeros((1, 1))})
                                         for _ in range(3)), return_exceptions=True)
        await batcher.close()
        with pytest.raises(ServingError, match="shutting down"):
            await batcher.submit({"x": np.zeros((1, 1))})
        return results

    results = asyncio.run(main())
    assert all(isinstance(r, ServingError) and "boom" in str(r) for r in results)


def test_close_answers_queued_requests_first():
    async def main():
        batcher = MicroBatcher(lambda inputs: {"y": inputs["x"] * 3}, window_ms=1000)
        pending = asyncio.ensure_future(batcher.submit({"x": np.ones((1, 1))}))
        await asyncio.sleep(0)  # let the request reach the queue
        await batcher.close()  # must not wait out the 1 s window, and must answer it
        return await pending

    assert asyncio.run(main())["y"].tolist() == [[3.0]]


def test_batcher_arguments_are_checked():
    with pytest.raises(ConfigurationError, match="max_batch >= 1"):
        MicroBatcher(lambda x: x, max_batch=0)


def test_the_window_timer_ends_a_batch_under_uvloop():
    """uvicorn runs on uvloop, whose timers differ from asyncio's (no ``when()``, ms
    ticks): a batch whose window runs out must still go, or its requests would wait
    forever. ``in_flight`` claims more requests are coming, so only the timer ends it."""
    uvloop = pytest.importorskip("uvloop")
    calls = []

    def run(inputs):
        calls.append(len(inputs["x"]))
        return {"y": inputs["x"] + 1}

    async def main():
        batcher = MicroBatcher(run, window_ms=0.5, in_flight=lambda: 1000)
        answers = [await asyncio.wait_for(batcher.submit({"x": np.full((1, 1), i)}), 5)
                   for i in range(50)]
        await batcher.close()
        return [float(a["y"][0, 0]) for a in answers]

    assert uvloop.run(main()) == [i + 1.0 for i in range(50)]
    assert calls == [1] * 50


def test_a_stopped_worker_fails_its_queued_requests_instead_of_leaving_them_waiting():
    async def main():
        batcher = MicroBatcher(lambda inputs: {"y": inputs["x"]}, window_ms=1000,
                               in_flight=lambda: 1000)
        pending = [asyncio.ensure_future(batcher.submit({"x": np.ones((1, 1))}))
                   for _ in range(3)]
        await asyncio.sleep(0.01)  # the worker is collecting: the window is 1 s
        batcher._worker.cancel()  # what an unexpected fault inside the worker does too
        results = await asyncio.gather(*pending, return_exceptions=True)
        again = await asyncio.wait_for(batcher.submit({"x": np.full((1, 1), 7.0)}), 5)
        return results, again

    results, again = asyncio.run(main())
    assert all(isinstance(r, ServingError) and "retry" in str(r) for r in results)
    assert again["y"].tolist() == [[7.0]]  # the next request starts a new worker


def test_batches_are_padded_to_the_allowed_sizes_and_padding_rows_are_dropped():
    seen = []

    def run(inputs):
        seen.append(inputs["x"].copy())
        return {"y": inputs["x"] * 10}

    async def main():
        batcher = MicroBatcher(run, window_ms=30, max_batch=8, batch_sizes=(1, 4, 8))
        requests = [np.full((n, 1), i, np.float32) for i, n in enumerate([1, 2])]
        out = await asyncio.gather(*(batcher.submit({"x": r}) for r in requests))
        big = await batcher.submit({"x": np.arange(9, dtype=np.float32)[:, None]})
        await batcher.close()
        return requests, out, big

    requests, out, big = asyncio.run(main())
    for request, answer in zip(requests, out):
        np.testing.assert_array_equal(answer["y"], request * 10)
    # 3 rows padded to 4 with a copy of the last row; 9 rows (> max_batch) run alone.
    assert seen[0][:, 0].tolist() == [0, 1, 1, 1]
    assert len(seen[1]) == 9 and big["y"].shape == (9, 1)


def test_allowed_batch_sizes_are_checked():
    from qkeras.serve.batching import check_batch_sizes, default_batch_sizes

    assert default_batch_sizes(64) == (1, 2, 4, 8, 16, 32, 64)
    assert default_batch_sizes(1) == (1,)
    for bad in ([], [0, 64], [8, 4, 64], [8, 32]):
        with pytest.raises(ConfigurationError, match="end with the maximum batch"):
            check_batch_sizes(bad, 64)
    with pytest.raises(ConfigurationError, match="end with the maximum batch"):
        MicroBatcher(lambda x: x, max_batch=8, batch_sizes=(1, 4))


@pytest.mark.parametrize("in_flight, queued, pipelined", [(32, 16, True), (8, 4, False)])
def test_half_of_many_requests_in_flight_start_a_batch_without_waiting(in_flight, queued,
                                                                       pipelined):
    """With many requests in flight, half of them make a batch at once (the model runs it
    while the event loop reads the rest); with few, the batch waits for the others (here
    they never come, so the 0.3 s window ends it)."""
    from qkeras.serve.batching import PIPELINE_REQUESTS

    assert (queued >= PIPELINE_REQUESTS) == pipelined
    calls = []

    async def main():
        loop = asyncio.get_running_loop()
        batcher = MicroBatcher(lambda inputs: calls.append(loop.time()) or inputs,
                               window_ms=300, in_flight=lambda: in_flight)
        start = loop.time()
        await asyncio.gather(*(batcher.submit({"x": np.ones((1, 1))}) for _ in range(queued)))
        await batcher.close()
        return calls[0] - start

    waited = asyncio.run(main())
    assert len(calls) == 1
    assert (waited < 0.25) if pipelined else (waited >= 0.29), waited


def test_a_model_with_xla_code_is_padded_by_default_and_others_are_not(tmp_path, digit_model):
    from qkeras.export import for_serving
    from qkeras.serve import Servable

    for xla in (False, True):
        for_serving(digit_model[0], tmp_path / str(xla), "digits", xla=xla)
    plain = Servable.from_saved_model(tmp_path / "False" / "digits" / "1", "digits", 1)
    xla = Servable.from_saved_model(tmp_path / "True" / "digits" / "1", "digits", 1)
    assert (plain.xla_compiled, xla.xla_compiled) == (False, True)
    x = digit_model[1][:3]
    for options, want in [(ServeOptions(max_batch=16), (None, (1, 2, 4, 8, 16))),
                          (ServeOptions(max_batch=16, batch_sizes=None), (None, None)),
                          (ServeOptions(max_batch=8, batch_sizes=(2, 8)), ((2, 8), (2, 8)))]:
        for servable, sizes in zip((plain, xla), want):
            repo = ModelRepository(poll_seconds=0)
            repo.add(servable)
            app = create_app(repo, options)
            replies = asyncio.run(predict_concurrently(app, [{"instances": x.tolist()}]))
            assert replies[0].status_code == 200, replies[0].text
            np.testing.assert_allclose(replies[0].json()["predictions"],
                                       digit_model[0].predict(x, verbose=0), atol=1e-5)
            (batcher,) = app.state.server.batchers.values()
            assert batcher.batch_sizes == sizes


def test_an_xla_model_is_warmed_up_at_each_allowed_size_before_it_serves(tmp_path,
                                                                         digit_model):
    from fastapi.testclient import TestClient

    from qkeras.export import for_serving

    for_serving(digit_model[0], tmp_path / "base", "digits", xla=True)
    for_serving(digit_model[0], tmp_path / "plain", "digits", xla=False)
    for base, warm in [("base", (1, 2, 4, 8)), ("plain", ())]:
        for warm_up in (True, False):
            repo = ModelRepository(tmp_path / base, poll_seconds=0)
            repo.scan()
            servable = repo.get("digits")
            app = create_app(repo, ServeOptions(max_batch=8, warm_up=warm_up))
            assert servable.warmed_up == ()
            with TestClient(app) as client:  # startup runs the warm-up
                assert servable.warmed_up == (warm if warm_up else ())
                assert client.get("/v2/health/ready").status_code == 200
    # A version found by the polling thread is warmed up before it is published.
    repo = ModelRepository(tmp_path / "base", poll_seconds=0)
    create_app(repo, ServeOptions(max_batch=4))
    repo.scan()
    assert repo.get("digits").warmed_up == (1, 2, 4)


class _InlineExecutor(concurrent.futures.Executor):
    """Runs each call in the thread that submits it: a model call that ``enqueue`` starts
    has run by the time ``enqueue`` returns."""

    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:
            future.set_exception(err)
        return future


@pytest.mark.parametrize("connections, batches", [(32, [16, 16]), (None, [32])])
def test_an_early_start_runs_the_model_inside_the_read_that_queued_its_request(connections,
                                                                             batches):
    """32 clients' requests arrive in one pass of the event loop (here: 32 ``enqueue``
    calls in one step, each request counted in flight as it is queued, as the server
    counts it when it is read). With 32 open connections, the 16th request starts a batch
    at once, inside its own ``enqueue``: the model runs it while the loop reads the other
    16, which make the next batch. Without the connection count nothing tells the batcher
    that more requests are coming: all 32 are queued when its worker runs, one batch."""
    calls, in_flight = [], [0]

    def run(inputs):
        calls.append(len(inputs["x"]))
        return {"y": inputs["x"] * 2}

    async def main():
        batcher = MicroBatcher(run, window_ms=300, executor=_InlineExecutor(),
                               in_flight=lambda: in_flight[0],
                               connections=None if connections is None else lambda: 32)
        futures, started_by = [], None
        for i in range(32):
            in_flight[0] += 1
            futures.append(batcher.enqueue({"x": np.full((1, 1), i, np.float32)}))
            if calls and started_by is None:
                started_by = i + 1
        answers = await asyncio.wait_for(asyncio.gather(*futures), 5)
        await batcher.close()
        return started_by, [float(a["y"][0, 0]) for a in answers]

    started_by, answers = asyncio.run(main())
    assert calls == batches
    assert started_by == (16 if connections else None)
    assert answers == [2.0 * i for i in range(32)]


def test_a_full_batch_starts_at_once_and_the_rest_waits_for_the_model():
    """``max_batch`` rows queued start a batch inside ``enqueue``; requests queued while
    that batch runs make the next one, and a model error of one batch reaches only its
    own requests."""
    calls = []

    def run(inputs):
        calls.append(inputs["x"][:, 0].tolist())
        if -1.0 in inputs["x"]:
            raise ValueError("bad row")
        return {"y": inputs["x"]}

    async def main():
        batcher = MicroBatcher(run, window_ms=300, max_batch=4, executor=_InlineExecutor(),
                               in_flight=lambda: 1000)
        first = [batcher.enqueue({"x": np.full((1, 1), v, np.float32)})
                 for v in (0, 1, 2, -1)]
        assert calls == [[0, 1, 2, -1]]  # started by the 4th enqueue, before any await
        second = [batcher.enqueue({"x": np.full((1, 1), v, np.float32)})
                  for v in (5, 6, 7, 8)]
        assert len(calls) == 1  # the model is busy: these wait for the worker
        results = await asyncio.gather(*first, *second, return_exceptions=True)
        await batcher.close()
        return results

    results = asyncio.run(main())
    assert calls == [[0, 1, 2, -1], [5, 6, 7, 8]]
    assert all(isinstance(r, ValueError) for r in results[:4])
    assert [float(r["y"][0, 0]) for r in results[4:]] == [5.0, 6.0, 7.0, 8.0]
