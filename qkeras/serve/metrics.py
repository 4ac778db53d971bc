"""Prometheus metrics of a model server, in a registry of its own (not the global one).

===========================================  ==============================================
``qkeras_serve_requests_total``              counter, by ``model, version, endpoint, status``
``qkeras_serve_request_duration_seconds``    histogram, same labels
``qkeras_serve_batch_size``                  histogram of rows per model call, by ``model, version``
``qkeras_serve_batch_start_delay_seconds``   histogram: from taking a batch to its model call
                                             starting on the model thread, same labels
``qkeras_serve_model_load_seconds``          gauge, by ``model, version``
``qkeras_serve_models_loaded``               gauge: loaded versions
===========================================  ==============================================

With ``qkeras serve --workers N``, each worker process records into files of its own in
``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode) and ``/metrics``,
whichever worker answers it, reports the sum over all of them: counters and histograms
add up, the gauges are the value most recently set (every worker loads the same models).
In one process, the two request series are counted in plain Python numbers and rendered
by a custom collector when Prometheus scrapes (the same text as prometheus-client's own
Counter and Histogram, at a fraction of their cost per request on the event loop).

Example:
    >>> metrics = ServeMetrics()
    >>> metrics.observe_request("m", "1", "predict", 200, 0.002)
    >>> b"qkeras_serve_requests_total" in metrics.exposition()
    True
"""

from __future__ import annotations

import bisect
import itertools
import os
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

__all__ = ["ServeMetrics", "CONTENT_TYPE"]

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1,
                    0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_DELAY_BUCKETS = (0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1)
_REQUEST_LABELS = ("model", "version", "endpoint", "status")
_REQUESTS = ("qkeras_serve_requests", "HTTP requests answered.")
_LATENCY = ("qkeras_serve_request_duration_seconds", "Time from request to response.")


def _label_values(key: tuple) -> list[str]:
    """The label values of a request series' key ``(model, version, endpoint, status)``."""
    return [*key[:3], str(key[3])]


class _RequestSeries:
    """The request counter and latency histogram as prometheus-client's own metrics, which
    its multiprocess mode writes to files (``qkeras serve --workers``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(*_REQUESTS, _REQUEST_LABELS, registry=registry)
        self.latency = Histogram(*_LATENCY, _REQUEST_LABELS, buckets=_LATENCY_BUCKETS,
                                 registry=registry)
        self._children: dict[tuple, tuple] = {}  # by label set

    def observe(self, key: tuple, seconds: float) -> None:
        children = self._children.get(key)
        if children is None:  # labels() costs a lock and a tuple check: once per series
            labels = _label_values(key)
            children = self._children[key] = (self.requests.labels(*labels),
                                               self.latency.labels(*labels))
        children[0].inc()
        children[1].observe(seconds)


class _RequestTally(Collector):
    """The request counter and latency histogram of one process, counted in plain Python
    numbers and exported through prometheus-client's custom-collector interface.

    prometheus-client's ``Counter`` and ``Histogram`` take a lock for every increment and
    find a value's bucket in a Python loop; at a few microseconds per request on the event
    loop, that was a tenth of the loop's work per request with micro-batching at
    concurrency 32 (``python scripts/bench/serve.py``). Here a request costs one bisection
    and two additions, and :meth:`collect` builds the same families (names, labels,
    buckets, ``_created``) when Prometheus scrapes. Requests are observed on one thread,
    the event loop's; a scrape on another thread reads a copy of each series.

    Example:
        >>> registry = CollectorRegistry()
        >>> tally = _RequestTally()
        >>> registry.register(tally)
        >>> tally.observe(("m", "1", "predict", 200), 0.0015)
        >>> registry.get_sample_value("qkeras_serve_request_duration_seconds_bucket",
        ...     {"model": "m", "version": "1", "endpoint": "predict", "status": "200",
        ...      "le": "0.002"})
        1.0
    """

    def __init__(self) -> None:
        self._bounds = tuple(float(b) for b in _LATENCY_BUCKETS)
        self._les = [floatToGoString(b) for b in (*self._bounds, float("inf"))]
        # label set -> (creation time, [count per bucket..., sum])
        self._series: dict[tuple, tuple[float, list]] = {}

    def observe(self, key: tuple, seconds: float) -> None:
        """Counts one request of the label set ``key`` that took ``seconds``."""
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = (time.time(), [0.0] * (len(self._bounds) + 2))
        counts = series[1]
        counts[bisect.bisect_left(self._bounds, seconds)] += 1.0  # the first bound >= seconds
        counts[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        """The counter and histogram families, as prometheus-client's own would render."""
        requests = CounterMetricFamily(*_REQUESTS, labels=_REQUEST_LABELS)
        latency = HistogramMetricFamily(*_LATENCY, labels=_REQUEST_LABELS)
        for key, (created, counts) in list(self._series.items()):
            counts = list(counts)  # a copy: the loop counts on
            labels = _label_values(key)
            cumulative = list(itertools.accumulate(counts[:-1]))
            requests.add_metric(labels, cumulative[-1], created=created)
            latency.add_metric(labels, list(zip(self._les, cumulative)), counts[-1])
            latency.samples.append(Sample(_LATENCY[0] + "_created",
                                          dict(zip(_REQUEST_LABELS, labels)), created))
        yield requests
        yield latency


class ServeMetrics:
    """The server's metrics and their text exposition.

    Args:
        registry: Where to register (default: a new :class:`CollectorRegistry`).

    Attributes:
        multiprocess_dir: ``PROMETHEUS_MULTIPROC_DIR``, where every worker process of one
            server records (:func:`qkeras.serve.server.run_workers` sets it before the
            workers start, as prometheus-client reads it when first imported); ``None``:
            the metrics are this process's only.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.multiprocess_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self._loaded_count: Callable[[], int] | None = None
        if self.multiprocess_dir is None:
            self._requests: _RequestTally | _RequestSeries = _RequestTally()
            self.registry.register(self._requests)
        else:
            self._requests = _RequestSeries(self.registry)
        self.batch_size = Histogram("qkeras_serve_batch_size", "Rows per model call.",
                                    ("model", "version"), buckets=_BATCH_BUCKETS,
                                    registry=self.registry)
        self.start_delay = Histogram(
            "qkeras_serve_batch_start_delay_seconds",
            "Time from taking a batch to its model call starting on the model thread.",
            ("model", "version"), buckets=_DELAY_BUCKETS, registry=self.registry)
        self.load_seconds = Gauge("qkeras_serve_model_load_seconds",
                                  "Time it took to load a model version.",
                                  ("model", "version"), registry=self.registry,
                                  multiprocess_mode="mostrecent")
        self.loaded = Gauge("qkeras_serve_models_loaded", "Model versions being served.",
                            registry=self.registry, multiprocess_mode="mostrecent")

    def observe_request(self, model: str, version: str, endpoint: str, status: int,
                        seconds: float) -> None:
        """Counts one answered request and its latency."""
        self._requests.observe((model, version, endpoint, status), seconds)

    def observe_batch(self, model: str, version: str, rows: int) -> None:
        """Records the rows of one model call."""
        self.batch_size.labels(model, version).observe(rows)

    def start_delay_observer(self, model: str, version: str) -> Callable[[float], None]:
        """``observe(seconds)`` of how long a batch of one version waited for its model
        thread to start the call (the label lookup done once, not per batch)."""
        return self.start_delay.labels(model, version).observe

    def observe_load(self, model: str, version: str, seconds: float) -> None:
        """Records how long a version took to load."""
        self.load_seconds.labels(model, version).set(seconds)

    def track_loaded(self, count: Callable[[], int]) -> None:
        """Reports ``count()`` as ``qkeras_serve_models_loaded`` at every scrape."""
        self._loaded_count = count
        if self.multiprocess_dir is None:
            self.loaded.set_function(count)

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text exposition format: this process's registry, or
        with a multiprocess directory, the sum over every worker process."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        if self._loaded_count is not None:  # files hold values set, not functions
            self.loaded.set(self._loaded_count())
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.multiprocess_dir)
        return generate_latest(registry)
