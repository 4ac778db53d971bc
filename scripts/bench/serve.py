"""Bounded load test of ``qkeras serve`` on localhost, with and without micro-batching.

Builds Dense(8) -> QuantumDense(8 qubits, angle, hardware-efficient, 4 layers) -> Dense(1),
exports it portably with ``qkeras.export.for_serving`` and starts one ``qkeras serve`` with
micro-batching and one without (separate processes, access log off, the same TensorFlow
thread settings), side by side. For each concurrency level, each server gets a fixed number
of single-row ``:predict`` requests over persistent HTTP/1.1 connections (one per
concurrent client), in ``--rounds`` interleaved rounds so that a change in the machine's
speed during the run affects both alike. Throughput is the median over rounds; p50/p99
latency are over all requests of the level; a failure is any status but 200 or a broken
connection. "loop us" and "other us" are the server's CPU per request (median round), read
from /proc: its main thread, which runs the HTTP event loop, and all its other threads
(model calls and TensorFlow's pools). "start us" is the mean time from a batch being
taken to its model thread starting the call (median round), from the server's
``qkeras_serve_batch_start_delay_seconds`` metric: the wait the hand-off shortens. "rows"
is the mean number of rows per model call (median round), from
``qkeras_serve_batch_size``.
``--fastapi-path`` adds a batching server with CORS on, where ``:predict`` goes through
FastAPI's routes instead of the lean path; ``--asgi-path`` adds one with
``--no-fast-path``, where it goes through ASGI instead of the HTTP protocol's fast path;
``--no-handoff-server`` adds one with ``--no-handoff``, whose event loop does not wait
for the model thread to take each batch. ``--no-batching-threads 4 8`` adds servers
without batching with that many model threads (``--threads``; the default is 2), and a
ratio line against the fastest server without batching. ``--workers N`` runs every
server with N worker processes (``qkeras serve --workers``); the CPU columns then add up
the main threads, and the other threads, of all of them.

The load comes from ``h2load`` (C++; Debian package ``nghttp2-client``) or else ``hey``
(Go; Debian package ``hey``), whichever is on PATH first: both cost the shared CPU less
than a Python client would, h2load least. Otherwise a small asyncio client in this
process sends it. The table names the client. For scale, the model alone is timed in this
process (``Servable.predict`` at batch 1 and 32): the part micro-batching can save. Stock
TensorFlow Serving is measured the same way on the same export when
``tensorflow_model_server`` is on PATH; otherwise the table says so.

With ``--xla`` the model is exported with ``xla=True``: its simulation is XLA-compiled, and
both servers pad batches to powers of two (``--batch-sizes auto``) so that XLA compiles
once per allowed size. With ``--jit`` the export stays plain (what stock TF Serving runs)
and both servers run ``qkeras serve --jit``, which compiles it whole with XLA at load; the
model-alone line then times the compiled call too.

Usage: ``python scripts/bench/serve.py [--xla] [--requests 4000] [--concurrency 1 8 32]``
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

PATH = "/v1/models/bench:predict"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _export(base: str, qubits: int, layers: int, xla: bool = False) -> np.ndarray:
    import qkeras as qk

    keras = qk.keras
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((16,), name="x"), keras.layers.Dense(qubits),
        qk.layers.QuantumDense(qubits, "angle", "hardware_efficient", layers),
        keras.layers.Dense(1, name="y"),
    ])
    qk.export.for_serving(model, base, "bench", xla=xla)
    return np.random.default_rng(0).normal(size=(1, 16)).astype(np.float32)


def _model_alone(base: str, jit: bool = False) -> dict[int, float]:
    from qkeras.serve import Servable

    servable = Servable.from_saved_model(f"{base}/bench/1", "bench", 1)
    if jit:
        servable.jit_compile()
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


def _wait_ready(url: str, process: subprocess.Popen, timeout: float = 240.0) -> None:
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


def _h2load(port: int, body_file: str, requests: int, concurrency: int):
    """(seconds, latencies in s, failures) of one run, sent by ``h2load`` over HTTP/1.1
    (one request in flight per connection: h2load does not pipeline a POST body)."""
    with tempfile.NamedTemporaryFile("r", suffix=".tsv") as log:
        command = ["h2load", "--h1", "-n", str(requests), "-c", str(concurrency), "-d",
                   body_file, "-H", "content-type: application/json",
                   f"--log-file={log.name}", f"http://127.0.0.1:{port}{PATH}"]
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, text=True, check=True)
        wall = time.perf_counter() - start
        rows = [line.split("\t") for line in log.read().splitlines() if line.strip()]
    starts = [int(r[0]) for r in rows]
    ends = [int(r[0]) + int(r[2]) for r in rows]
    latencies = [int(r[2]) / 1e6 for r in rows]
    failures = requests - len(rows) + sum(r[1] != "200" for r in rows)
    seconds = (max(ends) - min(starts)) / 1e6 if rows else wall
    return seconds, latencies, failures


def _hey(port: int, body_file: str, requests: int, concurrency: int):
    """(seconds, latencies in s, failures) of one run, sent by ``hey`` (``requests`` a
    multiple of ``concurrency``: each of hey's workers sends ``requests // concurrency``)."""
    command = ["hey", "-n", str(requests), "-c", str(concurrency), "-m", "POST", "-T",
               "application/json", "-D", body_file, "-o", "csv",
               f"http://127.0.0.1:{port}{PATH}"]
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - start
    rows = list(csv.DictReader(io.StringIO(out)))
    latencies = [float(r["response-time"]) for r in rows]
    ends = [float(r["offset"]) + float(r["response-time"]) for r in rows]
    failures = requests - len(rows) + sum(r["status-code"] != "200" for r in rows)
    if len(rows) > requests:
        raise SystemExit(f"hey answered {len(rows)} requests, {requests} expected")
    return (max(ends) if ends else wall), latencies, failures


async def _client(port: int, body: bytes, todo: list, latencies: list,
                  failures: list) -> None:
    request = (f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
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


def _asyncio_client(port: int, body: bytes, requests: int, concurrency: int):
    """(seconds, latencies in s, failures) of one run, sent from this process."""
    async def level():
        todo, latencies, failures = list(range(requests)), [], []
        start = time.perf_counter()
        await asyncio.gather(*(_client(port, body, todo, latencies, failures)
                               for _ in range(concurrency)))
        return time.perf_counter() - start, latencies, len(failures)

    return asyncio.run(level())


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (a server's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                if entry.isdigit() and int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _thread_cpu(pid: int) -> tuple[float, float] | None:
    """CPU seconds so far of a server's main threads (its event loops) and of all its
    other threads (model calls, TensorFlow's pools), over the process and its worker
    processes (``--workers``); ``None`` without Linux's /proc."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    main = other = 0.0
    try:
        for process in [pid, *_children(pid)]:
            for tid in os.listdir(f"/proc/{process}/task"):
                with open(f"/proc/{process}/task/{tid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                seconds = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
                if tid == str(process):
                    main += seconds
                else:
                    other += seconds
    except OSError:
        return None
    return main, other


_BATCH_FAMILIES = ("qkeras_serve_batch_start_delay_seconds", "qkeras_serve_batch_size")


def _batch_totals(port: int) -> dict[str, tuple[float, float]] | None:
    """(sum, count) so far of the start-delay and batch-size histograms, by family name,
    from the server's ``/metrics``; ``None`` for a server without them."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
            text = reply.read().decode()
    except OSError:
        return None
    from prometheus_client.parser import text_string_to_metric_families

    totals = {family.name: tuple(sum(s.value for s in family.samples
                                     if s.name.endswith(suffix))
                                 for suffix in ("_sum", "_count"))
              for family in text_string_to_metric_families(text)
              if family.name in _BATCH_FAMILIES}
    return totals if len(totals) == len(_BATCH_FAMILIES) else None


def _mean_between(before: dict | None, after: dict | None, family: str) -> float | None:
    """The mean of one histogram's observations between two :func:`_batch_totals`."""
    if before is None or after is None or after[family][1] == before[family][1]:
        return None
    return ((after[family][0] - before[family][0])
            / (after[family][1] - before[family][1]))


def _start(command: list[str], port: int, ready: str) -> subprocess.Popen:
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_ready(f"http://127.0.0.1:{port}{ready}", process)
    except BaseException:
        process.kill()
        raise
    return process


def main(argv=None) -> None:
    """Prints the load-test table. Example: ``python scripts/bench/serve.py``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000,
                        help="requests per server, level and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--qubits", type=int, default=8)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--window-ms", type=float, default=2.0)
    parser.add_argument("--xla", action="store_true",
                        help="export with xla=True (XLA-compiled simulation; both servers "
                        "then pad batches to powers of two, --batch-sizes auto)")
    parser.add_argument("--jit", action="store_true",
                        help="serve with qkeras serve --jit (the export compiled whole with "
                        "XLA at load)")
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes of every server (qkeras serve --workers)")
    parser.add_argument("--no-batching-threads", type=int, nargs="+", default=[],
                        metavar="N", help="also run a server without batching with "
                        "--threads N (the default server has 2), for each N")
    parser.add_argument("--tf-threads", type=int, default=1,
                        help="--intra-op-threads and --inter-op-threads of both servers "
                        "(0: TensorFlow's default)")
    parser.add_argument("--fastapi-path", action="store_true",
                        help="also run a batching server with CORS on, where :predict goes "
                        "through FastAPI's routes instead of the lean path")
    parser.add_argument("--asgi-path", action="store_true",
                        help="also run a batching server with --no-fast-path, where "
                        ":predict goes through ASGI instead of the protocol's fast path")
    parser.add_argument("--no-handoff-server", action="store_true",
                        help="also run a batching server with --no-handoff, whose event loop "
                        "does not wait for the model thread to take each batch")
    parser.add_argument("--client", choices=["auto", "h2load", "hey", "asyncio"],
                        default="auto", help="load client (auto: the first installed)")
    args = parser.parse_args(argv)
    client = args.client
    if client == "auto":
        client = next((c for c in ("h2load", "hey") if shutil.which(c)), "asyncio")
    servers: dict[str, tuple[int, list[str], str]] = {}
    with tempfile.TemporaryDirectory() as base:
        sample = _export(base, args.qubits, args.layers, args.xla)
        alone = _model_alone(base, args.jit)
        body = json.dumps({"instances": sample.tolist()}).encode()
        body_file = os.path.join(base, "body.json")
        with open(body_file, "wb") as handle:
            handle.write(body)
        common = ["--intra-op-threads", str(args.tf_threads),  # flags of every server
                  "--inter-op-threads", str(args.tf_threads), *(["--jit"] if args.jit else []),
                  "--workers", str(args.workers)]
        variants = [(f"qkeras serve, micro-batching ({args.window_ms:g} ms)",
                     ["--batch-window-ms", str(args.window_ms)]),
                    ("qkeras serve, no batching", ["--no-batching"])]
        variants += [(f"no batching, --threads {n}", ["--no-batching", "--threads", str(n)])
                     for n in args.no_batching_threads]
        if args.fastapi_path:
            variants.append(("micro-batching, FastAPI path (CORS on)",
                             ["--batch-window-ms", str(args.window_ms),
                              "--cors-origin", "http://bench.invalid"]))
        if args.asgi_path:
            variants.append(("micro-batching, ASGI path (--no-fast-path)",
                             ["--batch-window-ms", str(args.window_ms), "--no-fast-path"]))
        if args.no_handoff_server:
            variants.append(("micro-batching, no hand-off (--no-handoff)",
                             ["--batch-window-ms", str(args.window_ms), "--no-handoff"]))
        for label, extra in variants:
            port = _free_port()
            servers[label] = (port, [sys.executable, "-m", "qkeras.cli", "serve", base,
                                     "--port", str(port), "--no-access-log",
                                     "--poll-seconds", "0", *common, *extra],
                              "/v2/health/ready")
        tf_serving = shutil.which("tensorflow_model_server")
        if tf_serving:
            port = _free_port()
            servers["stock TensorFlow Serving"] = (
                port, [tf_serving, f"--rest_api_port={port}", f"--port={_free_port()}",
                       "--model_name=bench", f"--model_base_path={base}/bench"],
                "/v1/models/bench")
        processes = {}
        results: dict[str, dict[int, dict]] = {label: {} for label in servers}
        try:
            for label, (port, command, ready) in servers.items():
                processes[label] = _start(command, port, ready)

            def send(port, requests, concurrency):
                if client == "asyncio":
                    return _asyncio_client(port, body, requests, concurrency)
                run = _h2load if client == "h2load" else _hey
                return run(port, body_file, requests, concurrency)

            for port, _, _ in servers.values():  # warm-up: every batch shape
                for concurrency in args.concurrency:
                    send(port, max(300, concurrency * 20), concurrency)
            for concurrency in args.concurrency:
                runs = {label: [] for label in servers}
                requests = max(1, args.requests // concurrency) * concurrency
                for _ in range(args.rounds):
                    for label, (port, _, _) in servers.items():
                        totals_before = _batch_totals(port)
                        before = _thread_cpu(processes[label].pid)
                        sent = send(port, requests, concurrency)
                        after = _thread_cpu(processes[label].pid)
                        totals_after = _batch_totals(port)
                        cpu = (None if before is None or after is None else
                               tuple((a - b) / requests * 1e6 for a, b in zip(after, before)))
                        delay = _mean_between(totals_before, totals_after, _BATCH_FAMILIES[0])
                        rows = _mean_between(totals_before, totals_after, _BATCH_FAMILIES[1])
                        runs[label].append((*sent, cpu, None if delay is None else delay * 1e6,
                                            rows))
                for label, level in runs.items():
                    ms = np.concatenate([np.asarray(run[1]) for run in level]) * 1e3
                    cpu = [run[3] for run in level if run[3] is not None]
                    delays = [run[4] for run in level if run[4] is not None]
                    rows = [run[5] for run in level if run[5] is not None]
                    results[label][concurrency] = {
                        "cpu": tuple(statistics.median(c[i] for c in cpu) for i in (0, 1))
                        if cpu else (float("nan"), float("nan")),
                        "rounds": [len(run[1]) / run[0] for run in level],
                        "start": statistics.median(delays) if delays else float("nan"),
                        "rows": statistics.median(rows) if rows else float("nan"),
                        "throughput": statistics.median(len(run[1]) / run[0]
                                                        for run in level),
                        "p50": float(np.percentile(ms, 50)),
                        "p99": float(np.percentile(ms, 99)),
                        "failed": sum(run[2] for run in level)}
        finally:
            for process in processes.values():
                process.send_signal(signal.SIGTERM)
            for process in processes.values():
                process.wait(60)
    load = (os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan"))
    who = client if client != "asyncio" else "asyncio (in this process)"
    print(f"load test: {args.requests} single-row :predict requests per server, level and "
          f"round, {args.rounds} interleaved rounds; {args.qubits} qubits x {args.layers} "
          f"layers (portable export{', XLA' if args.xla else ''}"
          f"{', served with --jit' if args.jit else ''}"
          f"{f', {args.workers} worker processes each' if args.workers > 1 else ''}); "
          f"{os.cpu_count()} CPU "
          f"cores, client and servers on one machine; client: {who}; "
          f"TensorFlow threads {args.tf_threads or 'default'}; load average at the end "
          f"{load:.2f}")
    print(f"{'server':<40}{'conc.':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'failed':>8}"
          f"{'loop us':>9}{'other us':>9}{'start us':>9}{'rows':>7}")
    for label, levels in results.items():
        for concurrency, r in levels.items():
            start = "-" if r["start"] != r["start"] else f"{r['start']:.0f}"  # NaN: no batches
            rows = "-" if r["rows"] != r["rows"] else f"{r['rows']:.1f}"
            print(f"{label:<40}{concurrency:>6}{r['throughput']:>9.0f}{r['p50']:>9.2f}"
                  f"{r['p99']:>9.2f}{r['failed']:>8}{r['cpu'][0]:>9.0f}{r['cpu'][1]:>9.0f}"
                  f"{start:>9}{rows:>7}")
    batched, plain = results[next(iter(servers))], results["qkeras serve, no batching"]
    top = max(args.concurrency)
    paired = [b / p for b, p in zip(batched[top]["rounds"], plain[top]["rounds"])]
    print(f"micro-batching / no batching at concurrency {top}: "
          f"{batched[top]['throughput'] / plain[top]['throughput']:.2f}x throughput "
          f"(round by round: {', '.join(f'{r:.2f}x' for r in paired)})")
    if args.no_batching_threads:
        fastest = max((label for label in results if "no batching" in label),
                      key=lambda label: results[label][top]["throughput"])
        print(f"micro-batching / the fastest server without batching ({fastest}) at "
              f"concurrency {top}: "
              f"{batched[top]['throughput'] / results[fastest][top]['throughput']:.2f}x")
    jit = ", compiled as --jit" if args.jit else ""
    print(f"model alone (Servable.predict, no HTTP{jit}): {alone[1]:.2f} ms per call at "
          f"batch 1, {alone[32]:.2f} ms at batch 32")
    if not tf_serving:
        print("stock TensorFlow Serving: not measured (tensorflow_model_server is not "
              "installed; it ships from TF Serving's own apt repository or the "
              "tensorflow/serving Docker image, see deploy/Dockerfile.tf-serving)")


if __name__ == "__main__":
    main()
