"""Overhead of QuantumDense over raw TensorFlow Quantum on the same circuit.

Circuit: angle encoding (rx) + hardware-efficient ansatz (ry, rz, CNOT chain), 8 qubits,
4 layers, Z on every qubit, batch 64. Three ways to run it, timed in one process,
interleaved round by round, each inside a ``tf.function``:

* ``qkeras``: ``QuantumDense`` on a float tensor (features resolved in-graph);
* ``tfq.Expectation``: ``tfq.layers.Expectation`` given the circuit and fed the same
  symbol values (features concatenated with the weights), what a TFQ user writes for
  classical data; it tiles the circuit to the batch, as any layer with a dynamic batch
  must. This is the reference of the goal;
* ``tfq.Exp.pretiled``: the same with the circuits and operators tiled once, outside
  the timing, for one fixed batch size (a lower bound no dynamic-batch layer reaches);
* ``tfq.PQC``: ``tfq.layers.PQC`` on input circuits whose encoding was resolved in
  Python beforehand (that conversion is not timed, so this flatters PQC).

Forward, and forward + gradient w.r.t. the weights (adjoint), minimum and median over rounds. The
ratio (of medians) is qkeras / reference: 1.00 means no overhead. Goal: at most 1.10.

Usage: ``python scripts/bench/layers.py [--qubits 8] [--layers 4] [--batch 64]
[--rounds 30]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cirq  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_quantum as tfq  # noqa: E402

import qkeras as qk  # noqa: E402


def _contenders(qubits: int, layers: int, batch: int):
    layer = qk.layers.QuantumDense(qubits, "angle", "hardware_efficient", layers)
    x = tf.constant(np.random.default_rng(0).uniform(-1, 1, (batch, qubits)), tf.float32)
    layer(x)
    spec = layer.spec
    expectation = tfq.layers.Expectation(differentiator=tfq.differentiators.Adjoint())
    programs = tfq.convert_to_tensor([spec.circuit] * batch)
    names = [str(s) for s in spec.symbols]
    operators = tfq.convert_to_tensor([list(spec.observables)] * batch)

    encoding, data_symbols = qk.circuits.angle(spec.qubits)
    inputs = tfq.convert_to_tensor([
        cirq.resolve_parameters(encoding, dict(zip(data_symbols, row))) for row in x.numpy()])
    ansatz, _ = qk.circuits.hardware_efficient(spec.qubits, layers)
    pqc = tfq.layers.PQC(ansatz, list(spec.observables),
                         differentiator=tfq.differentiators.Adjoint())
    pqc(inputs)
    pqc.set_weights([layer.kernel.numpy()])

    def ours():
        return layer(x), layer.kernel

    def raw():
        values = tf.concat([x, tf.tile(layer.kernel[None], [batch, 1])], axis=1)
        return expectation(spec.circuit, symbol_names=names, symbol_values=values,
                           operators=list(spec.observables)), layer.kernel

    def raw_pretiled():
        values = tf.concat([x, tf.tile(layer.kernel[None], [batch, 1])], axis=1)
        return expectation(programs, symbol_names=names, symbol_values=values,
                           operators=operators), layer.kernel

    def pqc_run():
        return pqc(inputs), pqc.trainable_weights[0]

    return {"qkeras": ours, "tfq.Expectation": raw, "tfq.Exp.pretiled": raw_pretiled,
            "tfq.PQC": pqc_run}


def _timed(fn, gradient: bool):
    @tf.function
    def forward():
        return fn()[0]

    @tf.function
    def backward():
        with tf.GradientTape() as tape:
            out, weights = fn()
            loss = tf.reduce_sum(out)
        return tape.gradient(loss, weights)

    step = backward if gradient else forward
    step()  # trace and warm up

    def once() -> float:
        start = time.perf_counter()
        result = step()
        _ = result.numpy()
        return (time.perf_counter() - start) * 1e3

    return once


def main(argv=None) -> None:
    """Prints the timing table. Example: ``python scripts/bench/layers.py --rounds 5``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qubits", type=int, default=8)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    contenders = _contenders(args.qubits, args.layers, args.batch)
    print(f"QuantumDense vs raw TFQ: {args.qubits} qubits, {args.layers} layers, batch "
          f"{args.batch}, median of {args.rounds} interleaved rounds, "
          f"{os.cpu_count()} CPU cores")
    print(f"{'mode':<18}{'contender':<19}{'min ms':>8}{'median ms':>10}{'qkeras/this':>13}")
    for gradient in (False, True):
        runners = {name: _timed(fn, gradient) for name, fn in contenders.items()}
        times = {name: [] for name in runners}
        for _ in range(args.rounds):
            for name, once in runners.items():
                times[name].append(once())
        ours = statistics.median(times["qkeras"])
        mode = "forward+gradient" if gradient else "forward"
        for name, values in times.items():
            median = statistics.median(values)
            print(f"{mode:<18}{name:<19}{min(values):>8.2f}{median:>10.2f}"
                  f"{ours / median:>13.2f}")


if __name__ == "__main__":
    main()
