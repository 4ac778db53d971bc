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
           "make_server", "run"]

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
    return _Server(config)


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
