"""Batched vs one-call-per-sample execution on each offline hardware route.

For each route, runs a 2-qubit QuantumDense circuit (with measurement) for N parameter
sets: once as one ``run_batch`` call (what qkeras layers do: one vendor job), and as N
``run_sweep`` calls with one parameter set each (one job per sample, what TFQ's own
sampled op does). Prints seconds and the speed-up.

    python scripts/bench/hardware.py --samples 32 --shots 1000
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import cirq  # noqa: E402
import numpy as np  # noqa: E402

from qkeras import hardware  # noqa: E402
from qkeras.circuits import CircuitSpec  # noqa: E402

ROUTES = ("ibm:fake_manila", "google:virtual_rainbow", "rigetti:4q-pyqvm")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--shots", type=int, default=1000)
    parser.add_argument("--routes", nargs="*", default=list(ROUTES))
    args = parser.parse_args(argv)
    spec = CircuitSpec.build(2, "angle", "hardware_efficient", 2)
    circuit = spec.circuit + cirq.Circuit(cirq.measure(*spec.qubits, key="m"))
    rng = np.random.default_rng(0)
    values = rng.uniform(-np.pi, np.pi, (args.samples, len(spec.symbols)))
    resolvers = [cirq.ParamResolver(dict(zip(map(str, spec.symbols), row))) for row in values]
    ratios = {}
    print(f"{args.samples} parameter sets x {args.shots} shots")
    for route in args.routes:
        sampler = hardware.sampler(route)
        sampler.run_batch([circuit], [resolvers[:1]], repetitions=args.shots)  # warm-up
        start = time.perf_counter()
        sampler.run_batch([circuit], [resolvers], repetitions=args.shots)
        batched = time.perf_counter() - start
        start = time.perf_counter()
        for resolver in resolvers:
            sampler.run_sweep(circuit, resolver, repetitions=args.shots)
        single = time.perf_counter() - start
        ratios[route] = single / batched
        print(f"{route:26s} batched {batched:7.3f} s (1 job)   one call per sample "
              f"{single:7.3f} s ({args.samples} jobs)   speed-up {ratios[route]:6.1f}x")
    return ratios


if __name__ == "__main__":
    main()
