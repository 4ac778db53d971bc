"""Benchmark: the pure-TF statevector backend against TFQ's qsim (adjoint gradient).

Circuit: angle encoding ``rx(x_i)`` on each of n qubits, then a 4-layer hardware-efficient
ansatz (``ry(w)``, ``rz(w)`` on each qubit, then a CNOT chain); observables ``Z_i``.
Batch 64. For each n it times, in one process after a warm-up, the median of repeated

* forward: expectations from symbol values (a tensor, so no Python runs per call);
* forward + gradient: the same inside ``tf.GradientTape``, then the gradient with
  respect to every symbol value (TFQ: ``tfq.differentiators.Adjoint()``);

for ``StatevectorSimulator`` with XLA (``jit_compile=True``, the default), without XLA
(``--no-eager-column`` drops that column), and for ``tfq.layers.Expectation``; ratios are
TFQ time / statevector time (> 1: the statevector backend is faster). Each call is
wrapped in a ``tf.function`` so both sides run as graphs; compile times are not counted.

Usage::

    python scripts/bench/backends.py            # n = 4, 8, 12, 16
    python scripts/bench/backends.py --quick    # n = 4, 8, fewer repeats
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import cirq  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_quantum as tfq  # noqa: E402

from qkeras import circuits  # noqa: E402
from qkeras.backends.statevector import StatevectorSimulator  # noqa: E402


def build(n_qubits: int, layers: int):
    """The benchmark circuit, its symbols (data then weights) and observables."""
    qubits = cirq.LineQubit.range(n_qubits)
    encoding, data = circuits.angle(qubits, rotation="x")
    ansatz, weights = circuits.hardware_efficient(qubits, layers=layers)
    return encoding + ansatz, data + weights, [cirq.Z(q) for q in qubits]


def median_ms(fn, values, *, repeats: int, budget_s: float) -> float:
    """Median wall time of ``fn(values)`` in ms after a warm-up (which also compiles).

    Runs ``repeats`` times, or as many as fit in ``budget_s`` but at least three.
    """
    for _ in range(2):
        _block(fn(values))
    times, start = [], time.perf_counter()
    while len(times) < 3 or (len(times) < repeats and time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        _block(fn(values))
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def _block(out):
    for t in tf.nest.flatten(out):
        t.numpy()


def _with_gradient(expectation):
    @tf.function
    def run(values):
        with tf.GradientTape() as tape:
            tape.watch(values)
            out = expectation(values)
        return out, tape.gradient(out, values)

    return run


def runners(n_qubits: int, layers: int, batch: int, *, eager_column: bool):
    """Forward and forward+gradient functions per backend, and the symbol values."""
    circuit, symbols, observables = build(n_qubits, layers)
    rng = np.random.default_rng(0)
    values = tf.constant(rng.uniform(-np.pi, np.pi, (batch, len(symbols))), tf.float32)
    out = {}
    sims = {"sv": True, "sv-nojit": False} if eager_column else {"sv": True}
    for name, jit in sims.items():
        sim = StatevectorSimulator(circuit, symbols, observables, jit_compile=jit)
        out[name] = (tf.function(sim.expectation), _with_gradient(sim.expectation))
    layer = tfq.layers.Expectation(differentiator=tfq.differentiators.Adjoint())
    programs = tfq.convert_to_tensor([circuit] * batch)
    operators = tfq.convert_to_tensor([observables] * batch)
    names = [str(s) for s in symbols]

    def tfq_expectation(v):
        return layer(programs, symbol_names=names, symbol_values=v, operators=operators)

    out["tfq"] = (tf.function(tfq_expectation), _with_gradient(tfq_expectation))
    return out, values


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 4, 8 and fewer repeats")
    parser.add_argument("--qubits", type=int, nargs="+", help="sizes to run (default 4 8 12 16)")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--no-eager-column", action="store_true",
                        help="skip the jit_compile=False column")
    args = parser.parse_args(argv)
    sizes = args.qubits or ([4, 8] if args.quick else [4, 8, 12, 16])
    repeats = args.repeats or (5 if args.quick else 15)
    budget = 0.5 if args.quick else 3.0
    device = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    print(f"device: {device} ({platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs); TF {tf.__version__}, TFQ {tfq.__version__}; "
          f"batch {args.batch}, {args.layers} layers; median ms, ratio = tfq / sv")
    header = ("n", "sv fwd", "tfq fwd", "ratio", "sv grad", "tfq grad", "ratio",
              "nojit fwd", "nojit grad")
    print("".join(f"{h:>11}" for h in header))
    for n in sizes:
        fns, values = runners(n, args.layers, args.batch,
                              eager_column=not args.no_eager_column)
        ms = {(name, kind): median_ms(fn, values, repeats=repeats, budget_s=budget)
              for name, pair in fns.items() for kind, fn in zip(("fwd", "grad"), pair)}
        row = [n, ms["sv", "fwd"], ms["tfq", "fwd"], ms["tfq", "fwd"] / ms["sv", "fwd"],
               ms["sv", "grad"], ms["tfq", "grad"], ms["tfq", "grad"] / ms["sv", "grad"],
               ms.get(("sv-nojit", "fwd"), float("nan")),
               ms.get(("sv-nojit", "grad"), float("nan"))]
        print(f"{row[0]:>11}" + "".join(f"{v:>11.2f}" for v in row[1:]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
