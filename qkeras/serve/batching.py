"""Micro-batching: concurrent requests to one model merged into one model call.

A :class:`MicroBatcher` owns a queue and one worker task on the server's event loop. The
worker takes the first waiting request, keeps collecting for ``window_ms`` or until
``max_batch`` rows are queued, and stops waiting early when every request the server
has in flight is already queued (``in_flight``: waiting longer could not grow the batch,
so a lone client pays no window), then concatenates the inputs along the batch axis, runs the
model once in a worker thread, and hands each request its own rows of the outputs. A
request larger than ``max_batch`` runs alone. A failing batch fails every request in it
with the same error. :meth:`close` stops taking requests and finishes the queued ones.

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
from collections.abc import Callable, Mapping
from concurrent.futures import Executor

import numpy as np

from qkeras.errors import ConfigurationError, ServingError

__all__ = ["MicroBatcher"]

log = logging.getLogger(__name__)

Inputs = Mapping[str, np.ndarray]
Outputs = dict[str, np.ndarray]


class MicroBatcher:
    """Merges concurrent ``submit`` calls into batched calls of ``run``.

    Args:
        run: ``run(inputs) -> outputs``: name -> array with the batch on axis 0.
        window_ms: How long to wait for more requests after the first one arrives.
        max_batch: Most rows in one call.
        executor: Where ``run`` runs (default the event loop's thread pool).
        on_batch: Called with the rows of every call (for the batch-size histogram).
        in_flight: Returns how many requests the server is handling now; ``None`` waits
            out the whole window.

    Raises:
        ConfigurationError: ``window_ms < 0`` or ``max_batch < 1``.
    """

    def __init__(self, run: Callable[[Inputs], Outputs], *, window_ms: float = 2.0,
                 max_batch: int = 64, executor: Executor | None = None,
                 on_batch: Callable[[int], None] | None = None,
                 in_flight: Callable[[], int] | None = None) -> None:
        if window_ms < 0 or max_batch < 1:
            raise ConfigurationError(f"window_ms must be >= 0 and max_batch >= 1; got "
                                     f"{window_ms} and {max_batch}.")
        self.run, self.window, self.max_batch = run, window_ms / 1e3, int(max_batch)
        self.executor, self.on_batch, self.in_flight = executor, on_batch, in_flight
        self._queue: collections.deque = collections.deque()
        self._rows = 0
        self._current: list = []  # the batch being run
        self._wakeup: asyncio.Future | None = None  # the worker waits on it
        self._collecting = False  # True: only a request that makes the batch ready wakes it
        self._worker: asyncio.Task | None = None
        self._closed = False

    async def submit(self, inputs: Inputs) -> Outputs:
        """Queues one request and returns its outputs (its rows only).

        Raises:
            ServingError: ``UNAVAILABLE`` after :meth:`close`; or the model's error.
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
        if not self._collecting or self._ready():
            self._wake()
        return await future

    def _ready(self) -> bool:
        """Whether waiting longer cannot grow the batch: it is full, or every request the
        server is handling is already queued."""
        return (self._rows >= self.max_batch or self._closed or (
            self.in_flight is not None and self.in_flight() <= len(self._queue)))

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
        # One wake-up starts a batch and one ends its window (full, everybody queued, or
        # the timer), not one per request.
        loop = asyncio.get_running_loop()
        while True:
            while not self._queue:
                if self._closed:
                    return
                await self._sleep(loop)
            if not self._ready() and self.window > 0:
                self._collecting = True
                expired = []
                timer = loop.call_later(self.window, self._expire, expired)
                try:
                    while not expired and not self._ready():
                        await self._sleep(loop)
                finally:
                    self._collecting = False
                    timer.cancel()
            self._current = self._take()
            await self._execute(loop, self._current)
            self._current = []

    def _take(self) -> list:
        batch = [self._queue.popleft()]
        rows = batch[0][1]
        while self._queue and rows + self._queue[0][1] <= self.max_batch:
            item = self._queue.popleft()
            batch.append(item)
            rows += item[1]
        self._rows -= rows
        return batch

    async def _execute(self, loop, batch: list) -> None:
        batch = [item for item in batch if not item[2].cancelled()]
        if not batch:
            return
        sizes = [rows for _, rows, _ in batch]
        try:
            merged = {k: np.concatenate([item[0][k] for item in batch])
                      for k in batch[0][0]} if len(batch) > 1 else batch[0][0]
            outputs = await loop.run_in_executor(self.executor, self.run, merged)
        except Exception as err:  # every request of the batch gets the model's error
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(err)
            return
        if self.on_batch is not None:
            self.on_batch(sum(sizes))
        start = 0
        for (_, _, future), stop in zip(batch, np.cumsum(sizes)):
            if not future.done():
                future.set_result({k: v[start:stop] for k, v in outputs.items()})
            start = stop

    async def close(self) -> None:
        """Stops accepting requests and waits until the queued ones are answered."""
        self._closed = True
        if self._worker is not None:
            self._wake()
            await self._worker
