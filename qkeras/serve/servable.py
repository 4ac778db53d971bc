"""One loaded model version: its signatures, a thread-safe ``predict`` and its card.

A :class:`Servable` wraps either a SavedModel (``tf.saved_model.load``; every signature,
read from the graph: input and output names, dtypes and shapes) or a Keras model (one
``serving_default`` signature built from the model's inputs and outputs, as
:func:`qkeras.export.saved_model` writes it). Both answer ``predict(inputs, signature)``
with NumPy arrays.

Example:
    >>> import numpy as np
    >>> from qkeras import keras
    >>> model = keras.Sequential([keras.Input((2,), name="x"), keras.layers.Dense(1, name="y")])
    >>> servable = Servable.from_keras(model, "demo")
    >>> servable.signatures["serving_default"].inputs["x"].shape
    (None, 2)
    >>> servable.predict({"x": np.zeros((3, 2), np.float32)})["y"].shape
    (3, 1)
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from qkeras.errors import ServingError
from qkeras.export import serving_function
from qkeras.serve.card import ServingCard, read_card

__all__ = ["TensorInfo", "Signature", "Servable", "DEFAULT_SIGNATURE"]

log = logging.getLogger(__name__)

DEFAULT_SIGNATURE = "serving_default"


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """A named tensor of a signature: NumPy dtype and shape (``None`` for unknown sizes)."""

    name: str
    dtype: np.dtype
    shape: tuple | None

    @classmethod
    def from_spec(cls, name: str, spec: tf.TensorSpec) -> TensorInfo:
        """Builds the info of a ``tf.TensorSpec``."""
        rank = spec.shape.rank
        return cls(name, np.dtype(spec.dtype.as_numpy_dtype),
                   None if rank is None else tuple(spec.shape.as_list()))

    @property
    def tf_dtype(self) -> str:
        """TensorFlow's enum name, e.g. ``"DT_FLOAT"``."""
        from tensorflow.core.framework import types_pb2

        return types_pb2.DataType.Name(tf.as_dtype(self.dtype).as_datatype_enum)


@dataclasses.dataclass(frozen=True)
class Signature:
    """A callable signature: ordered inputs and outputs, and the function to run."""

    name: str
    inputs: Mapping[str, TensorInfo]
    outputs: Mapping[str, TensorInfo]
    function: Callable = dataclasses.field(repr=False, compare=False)


def _xla_compiled(function) -> bool:
    """Whether a concrete function calls a function marked for XLA (``jit_compile=True``)."""
    library = function.graph.as_graph_def().library.function
    return any(f.attr["_XlaMustCompile"].b for f in library if "_XlaMustCompile" in f.attr)


_BOILERPLATE = ("Graph execution error:", "Exception originated from", "Detected at node",
                "<stack traces unavailable>")
_FUNCTION_NODE = re.compile(r"^(\{\{function_node [^}]*\}\}\s*)+")


def _error_line(message: str) -> str:
    r"""The line of a TensorFlow error message that says what went wrong, not the "Graph
    execution error:" header or a stack trace (the first line is often one of those).

    Example:
        >>> _error_line("Graph execution error:\n\n  File x\n{{function_node f}} boom\n")
        'boom'
    """
    for line in message.splitlines():
        if line.strip() and not line[0].isspace() and not line.startswith(_BOILERPLATE):
            return _FUNCTION_NODE.sub("", line)[:500]
    return message.strip().splitlines()[0][:500] if message.strip() else "model error"


def _fixed_numeric(sig: Signature) -> bool:
    """Whether every input of ``sig`` is numeric with known sizes besides the batch."""
    return all(info.shape is not None and None not in info.shape[1:]
               and np.issubdtype(info.dtype, np.number) for info in sig.inputs.values())


def _zeros(sig: Signature, rows: int) -> dict[str, np.ndarray]:
    return {k: np.zeros((rows, *info.shape[1:]), info.dtype) for k, info in sig.inputs.items()}


def _compile_signature(sig: Signature, what: str):
    """``sig``'s function compiled whole by XLA, or ``None`` (logged) if XLA cannot compile
    it or its outputs on zeros differ from the graph's."""
    function = sig.function
    specs = {k: tf.TensorSpec(info.shape, tf.as_dtype(info.dtype))
             for k, info in sig.inputs.items()}
    inputs = {k: tf.constant(v) for k, v in _zeros(sig, 1).items()}
    try:
        compiled = tf.function(lambda **kwargs: function(**kwargs), jit_compile=True,
                               autograph=False).get_concrete_function(**specs)
        want, got = function(**inputs), compiled(**inputs)
    except (tf.errors.OpError, ValueError, TypeError) as err:
        log.warning("%s, signature %s: XLA cannot compile it (%s); it runs uncompiled",
                    what, sig.name, _error_line(getattr(err, "message", None) or str(err)))
        return None
    for name in want:
        a, b = np.asarray(want[name]), np.asarray(got[name])
        if a.shape != b.shape or (np.issubdtype(a.dtype, np.number)
                                  and not np.allclose(a, b, rtol=1e-4, atol=1e-5)):
            log.warning("%s, signature %s: compiled by XLA, output %r differs from the "
                        "graph's on zeros; it runs uncompiled", what, sig.name, name)
            return None
    return compiled


class Servable:
    """A model version ready to serve.

    Args:
        name: Model name.
        version: Positive integer version.
        signatures: Signature name -> :class:`Signature`.
        path: Where it was loaded from, if anywhere.
        card: Classes and input spec for image classification, if known.
        keras_model: The Keras model (for Grad-CAM), if at hand.
        load_seconds: How long loading took.
        xla_compiled: Whether a signature runs XLA-compiled code (which compiles once per
            new input shape).
    """

    def __init__(self, name: str, version: int, signatures: Mapping[str, Signature], *,
                 path: Path | None = None, card: ServingCard | None = None,
                 keras_model=None, load_seconds: float = 0.0, platform: str = "",
                 xla_compiled: bool = False) -> None:
        self.name, self.version, self.signatures = name, int(version), dict(signatures)
        self.xla_compiled = bool(xla_compiled)
        self.warmed_up: tuple[int, ...] = ()  # batch sizes run by warm_up
        self.jit_tried = False  # jit_compile has run
        self.path, self.card, self.load_seconds = path, card, load_seconds
        self.platform = platform
        self._keras_model = keras_model
        self._explain_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Servable({self.name!r}, version={self.version})"

    def signature(self, name: str | None = None) -> Signature:
        """Returns a signature; ``None`` or ``""`` means ``serving_default``.

        Raises:
            ServingError: For an unknown signature name (TF Serving's message).
        """
        key = name or DEFAULT_SIGNATURE
        if key not in self.signatures:
            raise ServingError(f"Serving signature name: \"{key}\" not found in signature def",
                               "INVALID_ARGUMENT")
        return self.signatures[key]

    def predict(self, inputs: Mapping[str, np.ndarray], signature: str | None = None,
                ) -> dict[str, np.ndarray]:
        """Runs one signature on NumPy inputs (already validated) and returns NumPy outputs."""
        sig = self.signature(signature)
        tensors = {k: tf.convert_to_tensor(v) for k, v in inputs.items()}
        try:
            out = sig.function(**tensors)
        except (tf.errors.InvalidArgumentError, ValueError, TypeError) as err:
            message = getattr(err, "message", None) or str(err)
            raise ServingError(_error_line(message), "INVALID_ARGUMENT") from err
        return {k: np.asarray(v) for k, v in out.items()}

    def jit_compile(self) -> list[str]:
        """XLA-compiles every signature whole, for models exported without ``xla=True``.

        A portable export runs its graph op by op by default (what stock TF Serving runs);
        compiled whole, the simulation's hundreds of small ops run as a few fused loops, as
        in an export with ``xla=True``: 2-5x faster per call on CPU at 8 qubits (the
        model-alone line of ``scripts/bench/serve.py`` with and without ``--jit``). Each
        signature is compiled, run once on zeros at batch 1 and checked against the
        uncompiled graph; one that XLA cannot compile (TFQ's custom ops, say), or whose
        outputs differ, keeps its graph, with a warning. Signatures with inputs of unknown
        size (besides the batch) or non-numeric types are left as they are. After this the
        model compiles once per new batch size, like an export with ``xla=True``
        (:attr:`xla_compiled` becomes true when any signature was compiled, so that batches
        are padded to allowed sizes and warmed up).

        Returns:
            The names of the compiled signatures.

        Example:
            >>> from qkeras import keras
            >>> model = keras.Sequential([keras.Input((2,), name="x"), keras.layers.Dense(1)])
            >>> servable = Servable.from_keras(model, "demo")
            >>> servable.xla_compiled, servable.jit_compile(), servable.xla_compiled
            (False, ['serving_default'], True)
        """
        self.jit_tried, compiled = True, []
        for key, sig in sorted(self.signatures.items()):
            if not _fixed_numeric(sig):
                continue
            function = _compile_signature(sig, f"{self.name} version {self.version}")
            if function is not None:
                self.signatures[key] = dataclasses.replace(sig, function=function)
                compiled.append(key)
        if compiled:
            self.xla_compiled = True
            self.warmed_up = ()
        return compiled

    def warm_up(self, batch_sizes: Sequence[int]) -> float:
        """Runs every signature once per batch size on zeros, so that XLA compiles now.

        An XLA-compiled model compiles once per input shape; warming it up before it
        serves (as TF Serving's warm-up records do) keeps that out of the requests.
        Signatures with inputs of unknown size (besides the batch) or non-numeric types
        are skipped; a failing run is logged, never raised.

        Args:
            batch_sizes: The batch sizes to run.

        Returns:
            Seconds spent.

        Example:
            >>> import numpy as np
            >>> from qkeras import keras
            >>> model = keras.Sequential([keras.Input((2,), name="x"), keras.layers.Dense(1)])
            >>> servable = Servable.from_keras(model, "demo")
            >>> seconds = servable.warm_up([1, 4])
            >>> servable.warmed_up
            (1, 4)
        """
        start = time.perf_counter()
        runnable = [sig for sig in self.signatures.values() if _fixed_numeric(sig)]
        for size in batch_sizes:
            for sig in runnable:
                try:
                    self.predict(_zeros(sig, size), sig.name)
                except Exception as err:  # noqa: BLE001  (warm-up must not stop serving)
                    log.warning("warm-up of %s version %d, signature %s, batch %d failed: %s",
                                self.name, self.version, sig.name, size, err)
        self.warmed_up = tuple(int(size) for size in batch_sizes)
        seconds = time.perf_counter() - start
        log.info("warmed up model %s version %d for batch sizes %s in %.2f s", self.name,
                 self.version, list(self.warmed_up), seconds)
        return seconds

    def explain_model(self):
        """The Keras model for Grad-CAM (loaded from the card on first use), or ``None``."""
        with self._explain_lock:
            if self._keras_model is None and self.card and self.card.explain_path:
                import qkeras.layers  # noqa: F401  (register the layers with Keras)
                from qkeras import keras

                self._keras_model = keras.models.load_model(self.card.explain_path,
                                                            compile=False)
            return self._keras_model

    @classmethod
    def from_saved_model(cls, path: str | Path, name: str, version: int) -> Servable:
        """Loads a SavedModel version directory with all its signatures (and card)."""
        start = time.perf_counter()
        loaded = tf.saved_model.load(str(path))
        signatures = {}
        for key, fn in loaded.signatures.items():
            specs = fn.structured_input_signature[1]
            outputs = fn.structured_outputs
            signatures[key] = Signature(
                key, {k: TensorInfo.from_spec(k, s) for k, s in sorted(specs.items())},
                {k: TensorInfo.from_spec(k, s) for k, s in sorted(outputs.items())}, fn)
        servable = cls(name, version, signatures, path=Path(path), card=read_card(path),
                       load_seconds=time.perf_counter() - start,
                       platform="tensorflow_savedmodel",
                       xla_compiled=any(_xla_compiled(fn) for fn in loaded.signatures.values()))
        servable._module = loaded  # keeps the variables alive
        return servable

    @classmethod
    def from_keras(cls, model, name: str, version: int = 1, *,
                   card: ServingCard | None = None) -> Servable:
        """Wraps a Keras model: ``serving_default`` takes its inputs by their Keras names."""
        start = time.perf_counter()
        serve = serving_function(model)
        specs = {spec.name: spec for spec in serve.input_signature}
        names = list(specs)

        def call(**kwargs):
            return serve(*[kwargs[n] for n in names])

        concrete = serve.get_concrete_function()
        outputs = {k: TensorInfo.from_spec(k, tf.TensorSpec(v.shape, v.dtype))
                   for k, v in sorted(concrete.structured_outputs.items())}
        signature = Signature(DEFAULT_SIGNATURE,
                              {k: TensorInfo.from_spec(k, specs[k]) for k in sorted(names)},
                              outputs, call)
        return cls(name, version, {DEFAULT_SIGNATURE: signature}, card=card,
                   keras_model=model, load_seconds=time.perf_counter() - start,
                   platform="keras", xla_compiled=_xla_compiled(concrete))
