"""Bounded load test of ``qkeras serve`` on localhost, with and without micro-batching.

Builds Dense(8) -> QuantumDense(8 qubits, angle, hardware-efficient, 4 layers) -> Dense(1),
exports it portably with ``qkeras.export.for_serving`` and starts ``qkeras serve`` on it
(a separate process, access log off) once with micro-batching and once without. For each
concurrency level a fixed number of single-row ``:predict`` requests is sent over
persistent HTTP/1.1 connections (one per concurrent client) by a small asyncio client in
this process; it reports throughput, p50/p99 latency and failed requests (any status but
200, or a broken connection). For scale, it also times the model alone in this process
(``Servable.predict`` on the export, batch 1 and batch 32): the part batching can save.
Stock TensorFlow Serving is measured the same way on the same export when
``tensorflow_model_server`` is on PATH; otherwise the table says so.

Usage: ``python scripts/bench/serve.py [--requests 2000] [--concurrency 1 8 32]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _export(base: str, qubits: int, layers: int) -> np.ndarray:
    import qkeras as qk

    keras = qk.keras
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((16,), name="x"), keras.layers.Dense(qubits),
        qk.layers.QuantumDense(qubits, "angle", "hardware_efficient", layers),
        keras.layers.Dense(1, name="y"),
    ])
    qk.export.for_serving(model, base, "bench")
    return np.random.default_rng(0).normal(size=(1, 16)).astype(np.float32)


def _model_alone(base: str) -> dict[int, float]:
    from qkeras.serve import Servable

    servable = Servable.from_saved_model(f"{base}/bench/1", "bench", 1)
    out = {}
    for rows in (1, 32):
        inputs = {"x": np.zeros((rows, 16), np.float32)}
        for _ in range(50):
            servable.predict(inputs)
        start = time.perf_counter()
        for _ in range(500):
            servable.predict(inputs)
        out[rows] = (time.perf_counter() - start) / 500 * 1e3
    return out


def _wait_ready(url: str, process: subprocess.Popen, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} not ready after {timeout} s")


async def _client(port: int, path: str, body: bytes, todo: list, latencies: list,
                  failures: list) -> None:
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
               f"\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while todo:
            todo.pop()
            start = time.perf_counter()
            try:
                writer.write(request)
                status = int((await reader.readline()).split()[1])
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
            except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as err:
                failures.append(repr(err))
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            latencies.append(time.perf_counter() - start)
            if status != 200:
                failures.append(status)
    finally:
        writer.close()


async def _level(port: int, path: str, body: bytes, requests: int, concurrency: int):
    todo, latencies, failures = list(range(requests)), [], []
    start = time.perf_counter()
    await asyncio.gather(*(_client(port, path, body, todo, latencies, failures)
                           for _ in range(concurrency)))
    seconds = time.perf_counter() - start
    ms = np.array(latencies) * 1e3
    return {"throughput": requests / seconds, "p50": float(np.percentile(ms, 50)),
            "p99": float(np.percentile(ms, 99)), "failed": len(failures)}


def _measure(command: list[str], port: int, path: str, ready: str, body: bytes,
             args) -> dict:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_ready(f"http://127.0.0.1:{port}{ready}", process)
        asyncio.run(_level(port, path, body, 300, 8))  # warm-up: traces the batch shapes
        return {c: asyncio.run(_level(port, path, body, args.requests, c))
                for c in args.concurrency}
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


def main(argv=None) -> None:
    """Prints the load-test table. Example: ``python scripts/bench/serve.py``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--qubits", type=int, default=8)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--window-ms", type=float, default=2.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as base:
        sample = _export(base, args.qubits, args.layers)
        alone = _model_alone(base)
        body = json.dumps({"instances": sample.tolist()}).encode()
        rows = {}
        for label, extra in ((f"qkeras serve, micro-batching ({args.window_ms:g} ms)",
                              ["--batch-window-ms", str(args.window_ms)]),
                             ("qkeras serve, no batching", ["--no-batching"])):
            port = _free_port()
            command = [sys.executable, "-m", "qkeras.cli", "serve", base, "--port", str(port),
                       "--no-access-log", "--poll-seconds", "0", *extra]
            rows[label] = _measure(command, port, "/v1/models/bench:predict",
                                   "/v2/health/ready", body, args)
        tf_serving = shutil.which("tensorflow_model_server")
        if tf_serving:
            port = _free_port()
            command = [tf_serving, f"--rest_api_port={port}", f"--port={_free_port()}",
                       "--model_name=bench", f"--model_base_path={base}/bench"]
            rows["stock TensorFlow Serving"] = _measure(
                command, port, "/v1/models/bench:predict", "/v1/models/bench", body, args)
    print(f"load test: {args.requests} single-row :predict requests per level, "
          f"{args.qubits} qubits x {args.layers} layers (portable export), "
          f"{os.cpu_count()} CPU cores, client and server on one machine")
    print(f"{'server':<40}{'conc.':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'failed':>8}")
    for label, levels in rows.items():
        for concurrency, r in levels.items():
            print(f"{label:<40}{concurrency:>6}{r['throughput']:>9.0f}{r['p50']:>9.2f}"
                  f"{r['p99']:>9.2f}{r['failed']:>8}")
    print(f"model alone (Servable.predict, no HTTP): {alone[1]:.2f} ms per call at batch 1, "
          f"{alone[32]:.2f} ms at batch 32")
    if not tf_serving:
        print("stock TensorFlow Serving: not measured (tensorflow_model_server is not "
              "installed; it ships from TF Serving's own apt repository or the "
              "tensorflow/serving Docker image, see deploy/Dockerfile.tf-serving)")


if __name__ == "__main__":
    main()
