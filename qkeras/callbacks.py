"""Keras callbacks for quantum models.

Example:
    >>> from qkeras.callbacks import QuantumTensorBoard
    >>> QuantumTensorBoard("runs/demo").log_dir
    'runs/demo'
"""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf
import tf_keras as keras

from qkeras.errors import InputError
from qkeras.layers import QuantumLayer

log = logging.getLogger(__name__)

__all__ = ["QuantumTensorBoard", "quantum_layers"]


def quantum_layers(model: keras.Model) -> list[QuantumLayer]:
    """Returns every qkeras quantum layer inside ``model``, nested models included.

    Example:
        >>> from qkeras.layers import QuantumDense
        >>> model = keras.Sequential([keras.Input((2,)), QuantumDense(2, name="q")])
        >>> [layer.name for layer in quantum_layers(model)]
        ['q']
    """
    return [m for m in model.submodules if isinstance(m, QuantumLayer)]


class QuantumTensorBoard(keras.callbacks.TensorBoard):
    """TensorBoard plus what a quantum model needs watched.

    Besides everything ``keras.callbacks.TensorBoard`` writes, at the end of every epoch
    this writes, for each quantum layer:

    * ``circuits/<layer>``: the circuit diagram (text tab);
    * ``gradients/<layer>/mean`` and ``gradients/<layer>/variance``: the mean and the
      variance of the loss gradient with respect to the layer's weights, on
      ``gradient_data``, and their histogram. A variance that shrinks towards zero as
      qubits or layers grow is the barren-plateau signal (McClean et al., Nat. Commun. 9,
      4812 (2018)).

    The same statistics are kept in :attr:`gradient_stats` for use in code.

    Args:
        log_dir: Where to write the logs.
        gradient_data: ``(x, y)`` on which the gradient statistics are computed (a fixed
            sample of the training data; the first ``gradient_samples`` rows are used).
            Without it, only the circuits are written (and a warning is logged).
        gradient_samples: Rows of ``gradient_data`` to use.
        **kwargs: Arguments of ``keras.callbacks.TensorBoard``.

    Raises:
        InputError: If ``gradient_data`` is not a pair of arrays with equal length.

    Example:
        >>> import numpy as np
        >>> from qkeras.layers import QuantumDense
        >>> model = keras.Sequential([keras.Input((2,)), QuantumDense(2, name="q")])
        >>> model.compile("adam", "mse")
        >>> x, y = np.zeros((4, 2), np.float32), np.zeros((4, 2), np.float32)
        >>> import tempfile
        >>> board = QuantumTensorBoard(tempfile.mkdtemp(), gradient_data=(x, y))
        >>> _ = model.fit(x, y, epochs=1, verbose=0, callbacks=[board])
        >>> sorted(board.gradient_stats["q"][0])
        ['epoch', 'mean', 'variance']
    """

    def __init__(self, log_dir: str = "logs", *, gradient_data=None,
                 gradient_samples: int = 256, **kwargs):
        super().__init__(log_dir=log_dir, **kwargs)
        if gradient_data is not None:
            if len(gradient_data) != 2 or len(gradient_data[0]) != len(gradient_data[1]):
                raise InputError("gradient_data must be a pair (x, y) of equal length.")
            x, y = gradient_data
            gradient_data = (x[:gradient_samples], y[:gradient_samples])
        self.gradient_data = gradient_data
        self.gradient_stats: dict[str, list[dict]] = {}

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if self.gradient_data is None:
            log.warning("QuantumTensorBoard: no gradient_data given, so gradient statistics "
                        "are not written; pass gradient_data=(x_sample, y_sample).")

    def _gradients(self, layers: list[QuantumLayer]) -> list[np.ndarray]:
        x, y = (tf.convert_to_tensor(v) for v in self.gradient_data)
        with tf.GradientTape() as tape:
            prediction = self.model(x, training=False)
            loss = self.model.compute_loss(x=x, y=y, y_pred=prediction)
        grads = tape.gradient(loss, [layer.kernel for layer in layers])
        return [np.zeros(layer.kernel.shape) if g is None else g.numpy()
                for layer, g in zip(layers, grads)]

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        layers = quantum_layers(self.model)
        grads = self._gradients(layers) if self.gradient_data is not None and layers else None
        with self._train_writer.as_default():
            for i, layer in enumerate(layers):
                diagram = "\n".join("    " + line for line in str(layer.circuit).splitlines())
                tf.summary.text(f"circuits/{layer.name}", diagram, step=epoch)
                if grads is None:
                    continue
                stats = {"epoch": epoch, "mean": float(np.mean(grads[i])),
                         "variance": float(np.var(grads[i]))}
                self.gradient_stats.setdefault(layer.name, []).append(stats)
                tf.summary.scalar(f"gradients/{layer.name}/mean", stats["mean"], step=epoch)
                tf.summary.scalar(f"gradients/{layer.name}/variance", stats["variance"],
                                  step=epoch)
                tf.summary.histogram(f"gradients/{layer.name}", grads[i], step=epoch)
        self._train_writer.flush()
