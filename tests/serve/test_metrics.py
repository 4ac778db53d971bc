"""The request metrics of one process (a tally exported by a custom collector) render as
prometheus-client's own Counter and Histogram would, in both exposition formats."""

from __future__ import annotations

import random
import re

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from qkeras.serve.metrics import _LATENCY_BUCKETS, ServeMetrics, _RequestSeries, _RequestTally


def _request_lines(text: bytes) -> list[str]:
    """The request series' lines, each ``_created`` timestamp replaced (they differ by the
    microseconds between creating the two series)."""
    return [re.sub(r"\} \S+$", "} T", line) if "_created" in line else line
            for line in text.decode().splitlines() if "qkeras_serve_request" in line]


@pytest.mark.parametrize("render", [generate_latest, generate_openmetrics])
def test_tally_renders_as_prometheus_clients_counter_and_histogram(render):
    metrics, registry = ServeMetrics(), CollectorRegistry()
    library = _RequestSeries(registry)
    rng = random.Random(0)
    # Values on every bucket bound (a bound belongs to its own bucket), below the first
    # and above the last, and in between; several label sets, created in turn.
    values = [*_LATENCY_BUCKETS, 0.0, 20.0] + [rng.random() * 0.03 for _ in range(500)]
    for i, seconds in enumerate(values):
        key = ("m", str(1 + i % 2), "predict", (200, 400, 503)[i % 3])
        metrics.observe_request(*key, seconds)
        library.observe(key, seconds)
    metrics.observe_request("", "", "health", 200, 0.0001)
    library.observe(("", "", "health", 200), 0.0001)
    ours = _request_lines(render(metrics.registry))
    assert ours == _request_lines(render(registry))
    assert any('le="0.002"' in line for line in ours)


def test_tally_counts_each_value_in_the_first_bucket_that_holds_it():
    registry, tally = CollectorRegistry(), _RequestTally()
    registry.register(tally)
    for seconds in (0.001, 0.0010001, 0.002, 11.0):
        tally.observe(("m", "1", "predict", 200), seconds)
    labels = {"model": "m", "version": "1", "endpoint": "predict", "status": "200"}

    def bucket(le: str) -> float:
        return registry.get_sample_value("qkeras_serve_request_duration_seconds_bucket",
                                         {**labels, "le": le})

    assert (bucket("0.0005"), bucket("0.001"), bucket("0.002"), bucket("10.0"),
            bucket("+Inf")) == (0.0, 1.0, 3.0, 3.0, 4.0)
    assert registry.get_sample_value("qkeras_serve_requests_total", labels) == 4.0
    assert registry.get_sample_value("qkeras_serve_request_duration_seconds_sum",
                                     labels) == pytest.approx(11.0040001)


def test_multiprocess_mode_keeps_prometheus_clients_metrics(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert isinstance(ServeMetrics()._requests, _RequestSeries)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    assert isinstance(ServeMetrics()._requests, _RequestTally)
