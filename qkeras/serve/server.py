"""Assembles and runs a server: the models from a base directory, Keras files and the zoo,
under uvicorn with graceful shutdown.

On SIGTERM or SIGINT uvicorn stops accepting connections, lets the requests in flight
finish (up to ``graceful_seconds``), then the application's shutdown answers the queued
batches and stops the polling thread.

Example:
    >>> repo = build_repository()
    >>> repo.names()
    []
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from qkeras.errors import ConfigurationError
from qkeras.serve.card import ServingCard, read_card
from qkeras.serve.repository import ModelRepository
from qkeras.serve.servable import Servable

__all__ = ["build_repository", "zoo_servable", "keras_servable", "tensorflow_threads",
           "make_server", "run", "run_workers"]

log = logging.getLogger(__name__)


def zoo_servable(name: str, version: str | None = None) -> Servable:
    """Loads a zoo model (downloaded and sha256-checked) as version 1 of ``name``, with its
    entry's classes and input spec as the serving card.

    Raises:
        ZooError: Unknown model or unreachable weights (see :func:`qkeras.zoo.load`).

    Example:
        >>> zoo_servable("no-such-model")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qkeras.errors.ZooError: Unknown zoo model 'no-such-model'...
    """
    from qkeras import zoo

    entry = zoo.info(name, version)
    model = zoo.load(name, entry.version)
    return Servable.from_keras(model, name, 1, card=ServingCard(entry.classes, entry.inputs))


def keras_servable(path: str | os.PathLike, name: str | None = None) -> Servable:
    """Loads a ``.keras`` (or ``.h5``) model as version 1; a ``qkeras.json`` card beside it
    is used for classification.

    Raises:
        ConfigurationError: Keras cannot load the file.

    Example:
        >>> keras_servable("missing.keras")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qkeras.errors.ConfigurationError: Cannot load the Keras model missing.keras...
    """
    import qkeras.layers  # noqa: F401  (register the layers with Keras)
    import qkeras.models  # noqa: F401
    from qkeras import keras

    path = Path(path)
    try:
        model = keras.models.load_model(path, compile=False)
    except (OSError, ValueError) as err:
        raise ConfigurationError(f"Cannot load the Keras model {path}: "
                                 f"{str(err).splitlines()[0][:200]}") from err
    return Servable.from_keras(model, name or path.stem.replace("_", "-"), 1,
                               card=read_card(path.parent))


def build_repository(base_dir: str | os.PathLike | None = None, *,
                     model_name: str | None = None, zoo: Sequence[str] = (),
                     version_policy: str = "latest", poll_seconds: float = 2.0,
                     labels: Mapping[str, int] | None = None) -> ModelRepository:
    """The repository ``qkeras serve`` serves.

    Args:
        base_dir: A base directory (``<base>/<name>/<version>/``), one model's directory
            (``<name>/<version>/``), or a ``.keras`` file.
        model_name: Serve only this model of ``base_dir`` (or name the single model).
        zoo: Zoo model names to serve as well.
        version_policy: ``"latest"`` or ``"all"``.
        poll_seconds: Hot-reload interval (0 for none).
        labels: Version labels of ``model_name`` (``{"stable": 1}``).

    Returns:
        The repository, scanned once.

    Raises:
        ConfigurationError: Nothing to serve under ``base_dir``, labels without a
            model name, or a label pointing at a version that is not there.
    """
    keras_file = base_dir is not None and Path(base_dir).suffix in (".keras", ".h5")
    if labels and not model_name:
        raise ConfigurationError("Version labels need --model-name: name the model they "
                                 "label.")
    repo = ModelRepository(None if keras_file else base_dir,
                           model_names=[model_name] if model_name else (),
                           version_policy=version_policy, poll_seconds=poll_seconds,
                           labels={model_name: dict(labels)} if labels else None)
    if keras_file:
        repo.add(keras_servable(base_dir, model_name))
    for name in zoo:
        repo.add(zoo_servable(name))
    repo.scan()
    if base_dir is not None and not repo.names():
        raise ConfigurationError(
            f"No model to serve under {base_dir}" + (f" named {model_name!r}" if model_name
                                                     else "") +
            ": expected <base>/<name>/<version>/saved_model.pb. Export one with "
            "`qkeras export MODEL BASE --name NAME`.")
    return repo


def tensorflow_threads(intra_op: int = 0, inter_op: int = 0) -> None:
    """Sets TensorFlow's thread pools, as TF Serving's ``--tensorflow_intra_op_parallelism``
    and ``--tensorflow_inter_op_parallelism`` do; 0 leaves TensorFlow's choice.

    Call it before the first model loads. On a machine with few cores, one thread each
    stops TensorFlow's idle pool threads from spinning on the cores the HTTP event loop
    needs (``scripts/bench/serve.py`` measures both settings).

    Raises:
        ConfigurationError: A negative count, or TensorFlow already started with other
            settings.

    Example:
        >>> tensorflow_threads(0, 0)  # TensorFlow's defaults: nothing to change
        >>> tensorflow_threads(-1)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qkeras.errors.ConfigurationError: TensorFlow thread counts must be >= 0 ...
    """
    if intra_op < 0 or inter_op < 0:
        raise ConfigurationError(f"TensorFlow thread counts must be >= 0 (0: TensorFlow "
                                 f"chooses); got intra-op {intra_op}, inter-op {inter_op}.")
    if not intra_op and not inter_op:
        return
    import tensorflow as tf

    threading = tf.config.threading
    if (threading.get_intra_op_parallelism_threads(),
            threading.get_inter_op_parallelism_threads()) == (intra_op, inter_op):
        return
    try:
        threading.set_intra_op_parallelism_threads(intra_op)
        threading.set_inter_op_parallelism_threads(inter_op)
    except RuntimeError as err:
        raise ConfigurationError("TensorFlow has started already, so its thread pools are "
                                 "fixed; set the thread counts before loading a model (or "
                                 "use TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS).") from err


def make_server(app, *, host: str = "127.0.0.1", port: int = 8501,
                graceful_seconds: float = 30.0, log_level: str = "warning"):
    """The ``uvicorn.Server`` that :func:`run` runs: the app under
    :class:`~qkeras.serve.protocol.HttpProtocol`, lifespan on, no access log of uvicorn's
    own, graceful shutdown, and exit status 0 after a requested SIGTERM.

    Args: as :func:`run`.

    Example:
        >>> server = make_server(lambda scope, receive, send: None, port=8600)
        >>> server.config.port, server.config.http.__name__
        (8600, 'HttpProtocol')
    """
    import signal

    import uvicorn

    from qkeras.serve.protocol import HttpProtocol

    class _Server(uvicorn.Server):
        def handle_exit(self, sig, frame) -> None:
            super().handle_exit(sig, frame)
            captured = getattr(self, "_captured_signals", None)
            if sig == signal.SIGTERM and captured and captured[-1] == sig:
                captured.pop()  # a requested stop that drained cleanly exits with status 0

    config = uvicorn.Config(app, host=host, port=port, access_log=False, log_level=log_level,
                            timeout_graceful_shutdown=graceful_seconds, lifespan="on",
                            server_header=False, http=HttpProtocol)
    server = _Server(config)
    watch = getattr(app, "watch_connections", None)
    if watch is not None:  # the micro-batchers count the open connections
        watch(server.server_state.connections)
    return server


def run(app, *, host: str = "127.0.0.1", port: int = 8501, graceful_seconds: float = 30.0,
        log_level: str = "warning") -> None:
    """Serves ``app`` with uvicorn until SIGTERM/SIGINT, then shuts down gracefully.

    Args:
        app: From :func:`qkeras.serve.create_app`.
        host: Interface to bind (``0.0.0.0`` in a container).
        port: TCP port (TF Serving's REST port is 8501).
        graceful_seconds: How long requests in flight may take to finish on shutdown.
        log_level: uvicorn's own log level (access lines come from ``qkeras.serve.access``).

    Example:
        >>> from qkeras.serve import create_app
        >>> run(create_app(build_repository("models")), port=8501)  # doctest: +SKIP
    """
    make_server(app, host=host, port=port, graceful_seconds=graceful_seconds,
                log_level=log_level).run()


def run_workers(app_factory: str, workers: int, *, environ: Mapping[str, str] | None = None,
                host: str = "127.0.0.1", port: int = 8501, graceful_seconds: float = 30.0,
                log_level: str = "warning") -> int:
    """Serves with ``workers`` processes on one port, until SIGTERM/SIGINT.

    One Python process runs its event loop and the Python part of its model calls under
    one GIL, so it uses little more than one core however many the machine has; worker
    processes use more. Each worker calls ``app_factory`` to build its own application
    (its own copy of the models) and serves it as :func:`run` does, on a listening socket
    of its own bound with ``SO_REUSEPORT``, so the kernel spreads new connections evenly
    over the workers (with one socket shared by all, as ``uvicorn --workers`` does, the
    worker that wakes first takes a burst of connections). This process supervises: a
    worker that dies is replaced, a worker whose application cannot start stops the
    server, and SIGTERM or SIGINT stops every worker gracefully. The metrics are shared
    through prometheus-client's multiprocess directory (a fresh temporary one, removed at
    the end, unless ``PROMETHEUS_MULTIPROC_DIR`` is set: that one must be empty at the
    start, as prometheus-client requires), so ``/metrics`` counts every worker's
    requests whichever worker answers it.

    Args:
        app_factory: ``"module:function"``: a function of no arguments that returns the
            ASGI application, called in each worker (``qkeras serve`` passes its settings
            in ``environ``).
        workers: Worker processes (2 or more).
        environ: Environment variables for the workers (set in this process's
            environment, which they inherit).
        host: Interface to bind.
        port: TCP port.
        graceful_seconds: How long each worker lets requests in flight finish on shutdown.
        log_level: uvicorn's own log level.

    Returns:
        0 after a requested stop; 3 (uvicorn's startup failure) if a worker could not
        start its application (the worker logs why).

    Raises:
        ConfigurationError: ``workers < 2``, no ``SO_REUSEPORT`` on this system, or the
            port cannot be bound.

    Example:
        >>> run_workers("qkeras.cli:serve_worker_app", 4, port=8501)  # doctest: +SKIP
        0
    """
    import multiprocessing
    import shutil
    import signal
    import socket
    import tempfile
    import threading

    if workers < 2:
        raise ConfigurationError(f"run_workers needs 2 or more workers; got {workers} (one "
                                 "process: qkeras.serve.run).")
    if not hasattr(socket, "SO_REUSEPORT"):
        raise ConfigurationError("Worker processes need SO_REUSEPORT (Linux, macOS, BSD); "
                                 "run one process, or several behind a load balancer.")
    holder = _reuse_port_socket(host, port)  # bound, not listening: the port stays ours
    port = holder.getsockname()[1]  # the one the system chose for port 0
    own_dir = None
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        own_dir = tempfile.mkdtemp(prefix="qkeras-serve-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = own_dir
    os.environ.update(environ or {})
    # Each worker's TensorFlow would otherwise reserve a whole GPU's memory for itself.
    os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
    spawn = multiprocessing.get_context("spawn")
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGTERM, signal.SIGINT)}

    def start(index: int):
        process = spawn.Process(target=_worker_main, name=f"qkeras-serve-worker-{index}",
                                args=(app_factory, host, port, graceful_seconds, log_level,
                                      os.getpid()))
        process.start()
        log.info("started worker process %d (pid %d)", index, process.pid)
        return process

    failed = []
    try:
        processes = [start(i) for i in range(workers)]
        while not stop.wait(0.5):
            for index, process in enumerate(processes):
                if process.exitcode is None:
                    continue
                if process.exitcode == _STARTUP_FAILURE:
                    failed.append(process.pid)
                    stop.set()
                    break
                log.warning("worker process %d (pid %d) exited with status %s; starting "
                            "another", index, process.pid, process.exitcode)
                processes[index] = start(index)
        for process in processes:
            if process.exitcode is None:
                os.kill(process.pid, signal.SIGTERM)  # each drains its requests, then exits
        for process in processes:
            process.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        holder.close()
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)
            del os.environ["PROMETHEUS_MULTIPROC_DIR"]
    if failed:
        log.error("worker process %s could not start its application (see its error "
                  "above); the server stopped", ", ".join(map(str, failed)))
        return _STARTUP_FAILURE
    return 0


#: Exit status of a worker whose application could not start (uvicorn's own).
_STARTUP_FAILURE = 3


def _reuse_port_socket(host: str, port: int):
    """A TCP socket bound to ``host:port`` with ``SO_REUSEPORT`` (not yet listening)."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise ConfigurationError(f"Cannot listen on {host}:{port}: {err.strerror}; pick a "
                                 "free port.") from err
    return sock


def _worker_main(app_factory: str, host: str, port: int, graceful_seconds: float,
                 log_level: str, supervisor: int) -> None:
    """One worker of :func:`run_workers`: builds the application, then serves it on a
    ``SO_REUSEPORT`` socket of its own; exits with status 3 if the application cannot
    be built."""
    import importlib
    import signal
    import sys

    os.setpgrp()  # a terminal's Ctrl-C reaches the supervisor only, which stops us once
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # until uvicorn takes the signals over
    _stop_with_parent(supervisor)
    module, _, name = app_factory.partition(":")
    try:
        app = getattr(importlib.import_module(module), name)()
    except Exception as err:  # noqa: BLE001  (any failure to build the app stops the server)
        log.error("qkeras serve worker %d could not build its application: %s", os.getpid(),
                  err)
        sys.exit(_STARTUP_FAILURE)
    sock = _reuse_port_socket(host, port)
    sock.listen(2048)
    make_server(app, host=host, port=port, graceful_seconds=graceful_seconds,
                log_level=log_level).run(sockets=[sock])


def _stop_with_parent(supervisor: int) -> None:
    """Has Linux send this process SIGTERM when its parent, the ``supervisor`` process,
    dies, even by SIGKILL, so that no orphaned worker keeps the port; elsewhere, nothing."""
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover  (a libc without prctl)
        return
    if os.getppid() != supervisor:  # pragma: no cover  (it died before the call)
        os.kill(os.getpid(), signal.SIGTERM)
