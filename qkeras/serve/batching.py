"""Micro-batching: concurrent requests to one model merged into one model call.

A :class:`MicroBatcher` owns a queue and one worker task on the server's event loop. The
worker takes the first waiting request, keeps collecting for ``window_ms`` or until
``max_batch`` rows are queued, and stops waiting early when waiting longer would not
help (``in_flight``, the requests the server is handling):

* every request in flight is already queued: the batch cannot grow, so a lone client pays
  no window;
* at least half of the requests that may come soon, and at least ``PIPELINE_REQUESTS``,
  are queued (an early start): the model runs this batch while the event loop reads the
  rest, which then make the next batch, so the model and the event loop work at the
  same time instead of waiting for each other. The requests that may come soon are those
  in flight or, with ``connections``, one for each open client connection, whichever is
  more.

An early start happens at once, inside the read that queued the request; the other two
wait until the event loop has handled the reads of its current pass, so requests that
arrive together join one batch. The difference matters: with a full batch's worth of
clients, their requests all arrive in one pass once they have their answers. Were an
early start to wait for the end of the pass too, every request would join one batch
and the model and the event loop would take turns, each idle while the other works: at
concurrency 32 in ``scripts/bench/serve.py`` a model call then held 30 rows on average
(its "rows" column). Started at once, the requests settle into two halves of 16 that
take turns, one in the model while the event loop answers and reads the other.

It then concatenates the inputs along the batch axis, pads them to the next of
``batch_sizes`` if given (copies of the last row, whose outputs are dropped: an
XLA-compiled model then compiles once per allowed size, not once per batch size, like TF
Serving's ``allowed_batch_sizes``), runs the model once in a worker thread, and hands
each request its own rows of the outputs. A request larger than ``max_batch`` runs alone,
unpadded. A failing batch fails every request in it with the same error. :meth:`close`
stops taking requests and finishes the queued ones.

With ``handoff`` (what ``qkeras serve`` does), the batcher has a worker thread of its own
and, while other requests are in flight, the event loop waits, at most
``HANDOFF_SECONDS``, until that thread has taken the batch. A thread needs the GIL to
start running Python, and a busy event loop holds it until it next waits for I/O: at
concurrency 32 in ``scripts/bench/serve.py`` a batch waited 0.3-1.0 ms on average for its
thread to start without the hand-off, and 0.07-0.18 ms with it (its "start us" column,
from ``on_start``). Waiting hands the GIL over at once; the loop gets it back when the
model call enters TensorFlow's C++ code, which releases it. The loop is held for the
thread's wake-up and the Python part of the call (TensorFlow's own call path), whatever
the model's run time, and the thread is its own, so it is never busy with other work
when a batch comes. When the batch holds every request in flight (a lone client), the
loop has nothing else to do and goes on at once: waiting then only added to the latency.

Example:
    >>> import asyncio, numpy as np
    >>> calls = []
    >>> def double(inputs):
    ...     calls.append(len(inputs["x"]))
    ...     return {"y": inputs["x"] * 2}
    >>> async def main():
    ...     batcher = MicroBatcher(double, window_ms=20, max_batch=8)
    ...     rows = [{"x": np.full((1, 2), i, np.float32)} for i in range(4)]
    ...     out = await asyncio.gather(*(batcher.submit(r) for r in rows))
    ...     await batcher.close()
    ...     return [float(o["y"][0, 0]) for o in out]
    >>> asyncio.run(main()), calls
    ([0.0, 2.0, 4.0, 6.0], [4])
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor

import numpy as np

from qkeras.errors import ConfigurationError, ServingError

__all__ = ["MicroBatcher", "PIPELINE_REQUESTS", "HANDOFF_SECONDS", "default_batch_sizes",
           "check_batch_sizes", "pad_rows"]

log = logging.getLogger(__name__)

Inputs = Mapping[str, np.ndarray]
Outputs = dict[str, np.ndarray]

#: Fewest queued requests that start a batch while others are still in flight.
PIPELINE_REQUESTS = 8
#: Longest the event loop waits for the worker thread to take a batch (``handoff``).
HANDOFF_SECONDS = 0.002


def default_batch_sizes(max_batch: int) -> tuple[int, ...]:
    """Powers of two below ``max_batch``, then ``max_batch``: at most half a batch is padding.

    Example:
        >>> default_batch_sizes(64), default_batch_sizes(48)
        ((1, 2, 4, 8, 16, 32, 64), (1, 2, 4, 8, 16, 32, 48))
    """
    if max_batch < 1:
        raise ConfigurationError(f"max_batch must be >= 1; got {max_batch}.")
    return tuple(1 << k for k in range(max_batch.bit_length()) if 1 << k < max_batch) + (
        max_batch,)


def check_batch_sizes(batch_sizes: Sequence[int], max_batch: int) -> tuple[int, ...]:
    """Returns ``batch_sizes`` as a tuple if they increase from 1 or more to ``max_batch``.

    Raises:
        ConfigurationError: Otherwise (TF Serving's rule for ``allowed_batch_sizes``).

    Example:
        >>> check_batch_sizes([4, 16, 32], 32)
        (4, 16, 32)
    """
    sizes = tuple(int(b) for b in batch_sizes)
    if (not sizes or sizes[0] < 1 or sizes[-1] != max_batch
            or any(a >= b for a, b in zip(sizes, sizes[1:]))):
        raise ConfigurationError(
            f"Allowed batch sizes must increase from 1 or more and end with the maximum "
            f"batch ({max_batch}), as TF Serving's allowed_batch_sizes; got {list(sizes)}.")
    return sizes


def pad_rows(inputs: Inputs, rows: int, batch_sizes: Sequence[int]) -> Inputs:
    """``inputs`` (``rows`` rows each) grown to the next of ``batch_sizes`` with copies of
    the last row; unchanged if ``rows`` is an allowed size or larger than all of them.

    Example:
        >>> padded = pad_rows({"x": np.arange(3.0).reshape(3, 1)}, 3, (1, 2, 4, 8))
        >>> padded["x"].ravel().tolist()
        [0.0, 1.0, 2.0, 2.0]
    """
    target = next((size for size in batch_sizes if size >= rows), rows)
    if target == rows:
        return inputs
    return {k: np.concatenate([v, np.repeat(v[-1:], target - rows, axis=0)])
            for k, v in inputs.items()}


def _half(queued: int, coming: int) -> bool:
    """Whether ``queued`` requests are enough for a batch that starts before the other
    requests of ``coming`` are queued: ``PIPELINE_REQUESTS`` or more, and half of them."""
    return queued >= PIPELINE_REQUESTS and 2 * queued >= coming


class MicroBatcher:
    """Merges concurrent ``submit`` calls into batched calls of ``run``.

    Args:
        run: ``run(inputs) -> outputs``: name -> array with the batch on axis 0.
        window_ms: How long to wait for more requests after the first one arrives.
        max_batch: Most rows in one call.
        executor: Where ``run`` runs (default the event loop's thread pool).
        on_batch: Called with the rows of every call (for the batch-size histogram).
        on_start: Called with the seconds from taking each batch to its call starting on
            the worker thread (the wait the hand-off shortens).
        in_flight: Returns how many requests the server is handling now; ``None`` waits
            out the whole window.
        connections: Returns how many client connections are open (each may send a
            request soon): an early start then waits for half of them, not only of the
            requests in flight (see the module's text). ``None``: in flight only.
        batch_sizes: Allowed numbers of rows per call, increasing, the last one
            ``max_batch``; a batch is padded to the next one. ``None``: no padding.
        handoff: Run ``run`` on a worker thread of the batcher's own (``executor`` is then
            not used) and, while ``in_flight`` counts more requests than the batch holds,
            wait until it has taken each batch (see the module's text).

    Raises:
        ConfigurationError: ``window_ms < 0``, ``max_batch < 1`` or bad ``batch_sizes``.
    """

    def __init__(self, run: Callable[[Inputs], Outputs], *, window_ms: float = 2.0,
                 max_batch: int = 64, executor: Executor | None = None,
                 on_batch: Callable[[int], None] | None = None,
                 in_flight: Callable[[], int] | None = None,
                 batch_sizes: Sequence[int] | None = None, handoff: bool = False,
                 on_start: Callable[[float], None] | None = None,
                 connections: Callable[[], int] | None = None) -> None:
        if window_ms < 0 or max_batch < 1:
            raise ConfigurationError(f"window_ms must be >= 0 and max_batch >= 1; got "
                                     f"{window_ms} and {max_batch}.")
        self.batch_sizes = None if batch_sizes is None else check_batch_sizes(batch_sizes,
                                                                              max_batch)
        self.run, self.window, self.max_batch = run, window_ms / 1e3, int(max_batch)
        self.executor, self.on_batch, self.in_flight = executor, on_batch, in_flight
        self.handoff, self.on_start = bool(handoff), on_start
        self.connections = connections
        if self.handoff:
            self.executor = ThreadPoolExecutor(1, thread_name_prefix="qkeras-batch")
        self._queue: collections.deque = collections.deque()
        self._rows = 0
        self._current: list = []  # the batch being run
        self._started: asyncio.Future | None = None  # its model call, started by enqueue
        self._running = False  # True from a batch's start until its requests have answers
        self._wakeup: asyncio.Future | None = None  # the worker waits on it
        self._collecting = False  # True: only a request that makes the batch ready wakes it
        self._worker: asyncio.Task | None = None
        self._closed = False

    async def submit(self, inputs: Inputs) -> Outputs:
        """Queues one request and returns its outputs (its rows only).

        Raises:
            ServingError: ``UNAVAILABLE`` after :meth:`close`; or the model's error.
        """
        return await self.enqueue(inputs)

    def enqueue(self, inputs: Inputs) -> asyncio.Future:
        """Queues one request without waiting: :meth:`submit` for callers that take a
        callback (the HTTP protocol's fast path) instead of awaiting.

        Returns:
            A future of the request's outputs (its rows only), or of the model's error.

        Raises:
            ServingError: ``UNAVAILABLE`` after :meth:`close`.

        Example:
            >>> import asyncio, numpy as np
            >>> async def main():
            ...     batcher = MicroBatcher(lambda inputs: {"y": inputs["x"] + 1})
            ...     future = batcher.enqueue({"x": np.zeros((1, 2))})
            ...     future.add_done_callback(lambda f: print(f.result()["y"]))
            ...     await future
            ...     await batcher.close()
            >>> asyncio.run(main())
            [[1. 1.]]
        """
        if self._closed:
            raise ServingError("The server is shutting down; retry on another replica.",
                               "UNAVAILABLE")
        loop = asyncio.get_running_loop()
        if self._worker is None:
            self._worker = loop.create_task(self._work(), name="qkeras-microbatcher")
        rows = len(next(iter(inputs.values())))
        future = loop.create_future()
        self._queue.append((inputs, rows, future))
        self._rows += rows
        if not self._running and self._early():
            self._start_now(loop)
        elif not self._collecting or self._ready():
            self._wake()
        return future

    def _ready(self) -> bool:
        """Whether to stop waiting: the batch is full, every request the server is handling
        is queued, or enough of them are for a pipelined batch (see the module's text)."""
        if self._rows >= self.max_batch or self._closed:
            return True
        if self.in_flight is None:
            return False
        queued, busy = len(self._queue), self.in_flight()
        return busy <= queued or _half(queued, busy)

    def _early(self) -> bool:
        """Whether to start the batch at once: it is full, or enough requests are queued
        for an early start while more may still come (see the module's text)."""
        if self._rows >= self.max_batch:
            return True
        queued = len(self._queue)
        if self.in_flight is None or queued < PIPELINE_REQUESTS:
            return False
        coming = self.in_flight()
        if self.connections is not None:
            coming = max(coming, self.connections())
        return coming > queued and _half(queued, coming)

    def _begin(self, loop) -> None:
        """Takes the next batch and starts its model call."""
        self._running = True
        self._current = self._take()
        self._started = self._launch(loop, self._current)

    def _start_now(self, loop) -> None:
        """Starts a batch's model call in this step, ending the worker's wait."""
        self._collecting = False
        self._begin(loop)
        self._wake()

    def _expire(self, flag: list) -> None:
        flag.append(True)
        self._wake()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def _sleep(self, loop) -> None:
        self._wakeup = loop.create_future()
        await self._wakeup

    async def _work(self) -> None:
        try:
            await self._collect_and_run()
        except BaseException as err:  # never leave a request waiting on a dead worker
            self._started, self._running = None, False
            for _, _, future in [*self._current, *self._queue]:
                if not future.done():
                    future.set_exception(ServingError(
                        "The server's batching worker stopped; retry the request.",
                        "UNAVAILABLE"))
            self._queue.clear()
            self._rows, self._worker, self._current = 0, None, []
            if isinstance(err, asyncio.CancelledError):
                raise
            log.exception("the micro-batcher stopped")

    async def _collect_and_run(self) -> None:
        # One wake-up starts a batch and one ends its window (full, everybody queued, an
        # early start in enqueue, or the timer), not one per request.
        loop = asyncio.get_running_loop()
        while True:
            while not self._queue and self._started is None:
                if self._closed:
                    return
                await self._sleep(loop)
            if self._started is None and not self._ready() and self.window > 0:
                self._collecting = True
                expired = []
                timer = loop.call_later(self.window, self._expire, expired)
                try:
                    while not expired and self._started is None and not self._ready():
                        await self._sleep(loop)
                finally:
                    self._collecting = False
                    timer.cancel()
            if self._started is None:
                self._begin(loop)
            started, self._started = self._started, None
            await self._finish(self._current, started)
            self._current, self._running = [], False

    def _take(self) -> list:
        batch = [self._queue.popleft()]
        rows = batch[0][1]
        while self._queue and rows + self._queue[0][1] <= self.max_batch:
            item = self._queue.popleft()
            batch.append(item)
            rows += item[1]
        self._rows -= rows
        return batch

    def _launch(self, loop, batch: list) -> asyncio.Future | None:
        """Starts the model call of ``batch`` (its cancelled requests dropped, in place);
        returns a future of its outputs, or of the error merging the inputs; ``None`` if
        no request is left."""
        batch[:] = [item for item in batch if not item[2].cancelled()]
        if not batch:
            return None
        try:
            merged = {k: np.concatenate([item[0][k] for item in batch])
                      for k in batch[0][0]} if len(batch) > 1 else batch[0][0]
            if self.batch_sizes is not None:
                merged = pad_rows(merged, sum(item[1] for item in batch), self.batch_sizes)
            return self._run(loop, merged, len(batch))
        except Exception as err:  # every request of the batch gets this error
            failed = loop.create_future()
            failed.set_exception(err)
            return failed

    async def _finish(self, batch: list, started: asyncio.Future | None) -> None:
        """Waits for the model call ``started`` and hands each request of ``batch`` its
        rows of the outputs, or the call's error."""
        if started is None:
            return
        try:
            outputs = await started
        except Exception as err:  # every request of the batch gets the model's error
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(err)
            return
        start = 0
        for _, rows, future in batch:
            stop = start + rows
            if not future.done():
                future.set_result({k: v[start:stop] for k, v in outputs.items()})
            start = stop
        if self.on_batch is not None:
            self.on_batch(start)

    def _run(self, loop, inputs: Inputs, requests: int) -> asyncio.Future:
        """``run(inputs)`` on the worker thread, reporting its start delay to ``on_start``;
        with ``handoff``, returns once the thread has taken the call (or after
        ``HANDOFF_SECONDS``), unless the ``requests`` of this batch are all the server is
        handling: then the loop has nothing else to do and lets the thread have the GIL
        anyway."""
        taken_at, taken = time.perf_counter(), threading.Event()
        run, on_start = self.run, self.on_start

        def call():
            delay = time.perf_counter() - taken_at
            taken.set()
            if on_start is not None:
                on_start(delay)
            return run(inputs)

        future = loop.run_in_executor(self.executor, call)
        if self.handoff and (self.in_flight is None or self.in_flight() > requests):
            taken.wait(HANDOFF_SECONDS)
        return future

    async def close(self) -> None:
        """Stops accepting requests and waits until the queued ones are answered."""
        self._closed = True
        if self._worker is not None:
            self._wake()
            await self._worker
        if self.handoff:
            self.executor.shutdown(wait=False)  # idle: the last batch has been answered
