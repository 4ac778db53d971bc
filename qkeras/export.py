"""Export a Keras model with quantum layers as a SavedModel that TensorFlow Serving loads.

With ``portable=True`` (the default) every quantum layer is rebuilt on the pure-TensorFlow
``"statevector"`` backend with the same weights, so the SavedModel holds only core
TensorFlow ops: it loads with ``tf.saved_model.load`` in a process that never imports
TensorFlow Quantum, and in stock TensorFlow Serving.

By default the exported graph is not XLA-compiled (``xla=False``): stock TF Serving runs
XLA:CPU only with ``--xla_cpu_compilation_enabled=true``. Pass ``xla=True`` when the
server allows it.

Example:
    >>> import tempfile, numpy as np
    >>> from qkeras import keras
    >>> from qkeras.layers import QuantumDense
    >>> model = keras.Sequential([keras.Input((2,), name="x"), QuantumDense(2, name="q")])
    >>> path = for_serving(model, tempfile.mkdtemp(), "demo")
    >>> path.parts[-2:]
    ('demo', '1')
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

import tensorflow as tf
import tf_keras as keras

from qkeras.errors import ExportError
from qkeras.layers import QuantumLayer

log = logging.getLogger(__name__)

__all__ = ["portable_model", "saved_model", "for_serving", "graph_ops", "serving_function"]


def _portable_layer(layer, xla: bool):
    if isinstance(layer, keras.Model):
        return portable_model(layer, xla=xla, _check=False)
    if not isinstance(layer, QuantumLayer):
        return layer.__class__.from_config(layer.get_config())
    if layer.repetitions is not None or layer.noise is not None:
        raise ExportError(
            f"Layer {layer.name!r} samples (repetitions={layer.repetitions}) or is noisy "
            f"(noise={layer.noise!r}); a portable export computes exact expectations on the "
            "statevector backend and would change its outputs. Export with portable=False, "
            "or rebuild the layer without repetitions and noise for serving.")
    config = {**layer.get_config(), "backend": "statevector", "differentiator": None,
              "jit_compile": xla}
    return layer.__class__.from_config(config)


def portable_model(model: keras.Model, *, xla: bool = False, _check: bool = True,
                   ) -> keras.Model:
    """Returns a copy of ``model`` whose quantum layers run on the statevector backend.

    Args:
        model: A Sequential or functional Keras model (subclassed models cannot be cloned).
        xla: XLA-compile the statevector simulation.

    Returns:
        A new model with the same weights.

    Raises:
        ExportError: For a subclassed model, or a sampled or noisy quantum layer.

    Example:
        >>> from qkeras.layers import QuantumDense
        >>> model = keras.Sequential([keras.Input((2,)), QuantumDense(2)])
        >>> portable_model(model).layers[0].backend
        'statevector'
    """
    if _check and not (isinstance(model, keras.Sequential) or model._is_graph_network):
        raise ExportError(
            f"Model {model.name!r} is a subclassed model, which Keras cannot clone; build it "
            "with keras.Sequential or the functional API to export it portably.")
    clone = keras.models.clone_model(
        model, clone_function=lambda layer: _portable_layer(layer, xla))
    clone.set_weights(model.get_weights())
    return clone


def serving_function(model: keras.Model, signature: Mapping[str, tf.TensorSpec] | None = None):
    """The ``serving_default`` function of ``model``: named float inputs in, named outputs out.

    Args:
        model: A Keras model with fixed input shapes (but the batch).
        signature: Input name -> ``tf.TensorSpec``; default: the model's inputs as float32.

    Returns:
        A ``tf.function`` with that input signature returning ``{output name: tensor}``.

    Raises:
        ExportError: If an input has an unknown dimension besides the batch.

    Example:
        >>> model = keras.Sequential([keras.Input((3,), name="x"), keras.layers.Dense(2, name="y")])
        >>> serve = serving_function(model)
        >>> {k: tuple(v.shape) for k, v in serve(tf.zeros((4, 3))).items()}
        {'y': (4, 2)}
    """
    if signature is None:
        signature = {}
        for tensor, name in zip(model.inputs, model.input_names):
            if tensor.shape[1:].num_elements() is None:
                raise ExportError(f"Input {name!r} has shape {tensor.shape}: a serving "
                                  "signature needs every dimension but the batch fixed.")
            signature[name] = tf.TensorSpec(tensor.shape, tf.float32, name=name)
    names = list(signature)

    @tf.function(input_signature=[signature[n] for n in names])
    def serve(*inputs):
        outputs = model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return dict(zip(model.output_names, outputs))

    return serve


def _write_atomically(module: tf.Module, serve, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        tf.saved_model.save(module, str(staging), signatures={"serving_default": serve},
                            options=tf.saved_model.SaveOptions(
                                experimental_custom_gradients=False))
        os.rename(staging, target)  # fails rather than replace a non-empty directory
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def saved_model(model: keras.Model, export_dir: str | os.PathLike, *, portable: bool = True,
                signature: Mapping[str, tf.TensorSpec] | None = None, xla: bool = False,
                ) -> Path:
    """Writes ``model`` as a SavedModel with a ``serving_default`` signature.

    The signature takes each model input by its Keras name (float32, fixed feature
    dimensions, dynamic batch) and returns each output by its Keras name. The directory
    is written elsewhere first and renamed into place, so it is complete or absent.

    Args:
        model: The Keras model.
        export_dir: Target directory; must not exist yet (or be empty).
        portable: Rebuild quantum layers on the statevector backend (no TFQ ops).
        signature: Input name -> ``tf.TensorSpec``, to override the inferred signature.
        xla: XLA-compile the statevector simulation in the exported graph.

    Returns:
        The export directory.

    Raises:
        ExportError: If ``export_dir`` holds files, or the model cannot be exported
            portably.

    Example:
        >>> import tempfile
        >>> from qkeras.layers import QuantumDense
        >>> model = keras.Sequential([keras.Input((2,), name="x"), QuantumDense(2, name="q")])
        >>> path = saved_model(model, tempfile.mkdtemp() + "/m")
        >>> sorted(tf.saved_model.load(str(path)).signatures)
        ['serving_default']
    """
    target = Path(export_dir)
    if target.exists():
        if any(target.iterdir()):
            raise ExportError(f"{target} already exists and is not empty; choose a new "
                              "directory (exports never overwrite).")
        target.rmdir()
    if portable:
        model = portable_model(model, xla=xla)
    module = tf.Module()
    module.model = model
    serve = serving_function(model, signature)
    _write_atomically(module, serve, target)
    log.info("exported %s to %s (portable=%s)", model.name, target, portable)
    return target


def for_serving(model: keras.Model, base_dir: str | os.PathLike, name: str,
                version: int | None = None, **kwargs) -> Path:
    """Writes ``model`` into TensorFlow Serving's ``<base>/<name>/<version>/`` layout.

    Args:
        model: The Keras model.
        base_dir: The model base directory a server watches.
        name: The model name.
        version: A positive integer; ``None`` takes the next after the highest present.
        **kwargs: Passed to :func:`saved_model` (``portable``, ``signature``, ``xla``).

    Returns:
        The version directory.

    Raises:
        ExportError: If the version exists already (versions are never overwritten) or is
            not a positive integer.

    Example:
        >>> import tempfile
        >>> from qkeras.layers import QuantumDense
        >>> model = keras.Sequential([keras.Input((2,)), QuantumDense(2)])
        >>> base = tempfile.mkdtemp()
        >>> [for_serving(model, base, "q").name for _ in range(2)]
        ['1', '2']
    """
    root = Path(base_dir) / name
    if version is None:
        present = [int(p.name) for p in root.glob("*") if p.name.isdigit()]
        version = max(present, default=0) + 1
    if not isinstance(version, int) or version < 1:
        raise ExportError(f"version must be a positive integer; got {version!r}.")
    target = root / str(version)
    if target.exists():
        raise ExportError(f"{target} exists: TF Serving versions are never overwritten; "
                          "export a new version (leave version=None for the next one).")
    return saved_model(model, target, **kwargs)


def graph_ops(export_dir: str | os.PathLike) -> set[str]:
    """Returns every op type in a SavedModel's graph and its function library.

    Example:
        >>> import tempfile
        >>> from qkeras.layers import QuantumDense
        >>> model = keras.Sequential([keras.Input((2,)), QuantumDense(2)])
        >>> ops = graph_ops(saved_model(model, tempfile.mkdtemp() + "/m"))
        >>> [op for op in ops if op.startswith("Tfq")]
        []
    """
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((Path(export_dir) / "saved_model.pb").read_bytes())
    ops = set()
    for meta in proto.meta_graphs:
        ops.update(node.op for node in meta.graph_def.node)
        for function in meta.graph_def.library.function:
            ops.update(node.op for node in function.node_def)
    return ops
