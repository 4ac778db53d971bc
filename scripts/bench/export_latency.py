"""Single-sample predict latency of an exported portable SavedModel (no TFQ ops).

Builds Dense(8) -> QuantumDense(8 qubits, angle, hardware-efficient, 4 layers) ->
Dense(1), exports it with ``qkeras.export.saved_model`` (portable: statevector backend),
loads it with ``tf.saved_model.load`` and calls ``serving_default`` on one sample
1000 times after a warm-up: p50 and p99 in milliseconds, for the export without XLA
(what stock TF Serving runs by default on CPU) and with ``xla=True``. Reference in the
same run: the Keras model's ``__call__`` on the TFQ backend for one sample.

Usage: ``python scripts/bench/export_latency.py [--calls 1000] [--qubits 8]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import qkeras as qk  # noqa: E402


def _latencies(fn, calls: int) -> np.ndarray:
    for _ in range(50):
        fn()
    out = np.empty(calls)
    for i in range(calls):
        start = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - start) * 1e3
    return out


def main(argv=None) -> None:
    """Prints p50/p99 latencies. Example: ``python scripts/bench/export_latency.py``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--qubits", type=int, default=8)
    parser.add_argument("--layers", type=int, default=4)
    args = parser.parse_args(argv)
    keras = qk.keras
    model = keras.Sequential([
        keras.Input((16,), name="x"), keras.layers.Dense(args.qubits),
        qk.layers.QuantumDense(args.qubits, "angle", "hardware_efficient", args.layers,
                               backend="tfq"),
        keras.layers.Dense(1, name="y"),
    ])
    sample = tf.constant(np.random.default_rng(0).normal(size=(1, 16)), tf.float32)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, xla in (("SavedModel, no XLA", False), ("SavedModel, xla=True", True)):
            path = qk.export.saved_model(model, f"{tmp}/{int(xla)}", xla=xla)
            serve = tf.saved_model.load(str(path)).signatures["serving_default"]
            rows[label] = _latencies(lambda s=serve: s(x=sample)["y"].numpy(), args.calls)
    rows["Keras model, TFQ backend"] = _latencies(lambda: model(sample).numpy(), args.calls)
    print(f"single-sample latency, {args.qubits} qubits, {args.layers} layers, "
          f"{args.calls} calls, {os.cpu_count()} CPU cores, device "
          f"{'GPU' if tf.config.list_physical_devices('GPU') else 'CPU'}")
    print(f"{'path':<28}{'p50 ms':>9}{'p99 ms':>9}")
    for label, values in rows.items():
        print(f"{label:<28}{np.percentile(values, 50):>9.3f}{np.percentile(values, 99):>9.3f}")


if __name__ == "__main__":
    main()
