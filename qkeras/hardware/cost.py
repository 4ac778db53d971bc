"""What a run on hardware costs: circuits, shots and jobs per epoch, before submitting.

A layer sends, per sample, one circuit per measurement setting of its observables
(qubit-wise commuting groups of Pauli terms) for the forward pass. Training with
parameter shift adds, per sample and per setting, two circuits for every occurrence of a
symbol in a gate (TFQ shifts each occurrence separately; data symbols included, since the
gradient also flows to the inputs). Each batch is one job for the forward pass and one for
the gradient.

Example:
    >>> from qkeras.layers import QuantumDense
    >>> layer = QuantumDense(2, backend="ibm:fake_manila", repetitions=1000)
    >>> cost = estimate_cost(layer, n_samples=64, epochs=2, batch_size=16)
    >>> cost.circuits_per_epoch, cost.shots_per_epoch, cost.jobs_per_epoch
    (832, 832000, 8)
"""

from __future__ import annotations

import dataclasses
import math

import cirq

from qkeras.errors import ConfigurationError

__all__ = ["CostEstimate", "estimate_cost", "layer_cost"]


@dataclasses.dataclass(frozen=True)
class CostEstimate:
    """Circuits, shots and jobs of a run; ``str()`` gives a one-paragraph summary."""

    circuits_per_epoch: int
    shots_per_epoch: int
    jobs_per_epoch: int
    epochs: int
    backends: tuple

    @property
    def total_shots(self) -> int:
        """Shots over all epochs."""
        return self.shots_per_epoch * self.epochs

    def __str__(self) -> str:
        return (f"Hardware cost on {', '.join(self.backends) or 'no hardware layer'}: "
                f"{self.circuits_per_epoch:,} circuits, {self.shots_per_epoch:,} shots and "
                f"{self.jobs_per_epoch:,} jobs per epoch; {self.total_shots:,} shots over "
                f"{self.epochs} epoch(s).")


def layer_cost(layer, *, training: bool = True) -> tuple[int, int]:
    """Returns ``(circuits per sample, repetitions)`` of one quantum layer.

    Example:
        >>> from qkeras.layers import QuantumDense
        >>> layer_cost(QuantumDense(2, backend="ibm:fake_manila", repetitions=10))
        (13, 10)
    """
    from qkeras.hardware.executor import measurement_settings

    settings, _, _ = measurement_settings(layer.observables)
    occurrences = sum(len(cirq.parameter_names(op)) for op in layer.circuit.all_operations())
    per_setting = 1 + (2 * occurrences if training else 0)
    return len(settings) * per_setting, int(layer.repetitions or 0)


def _hardware_layers(model_or_layer) -> list:
    layers = getattr(model_or_layer, "layers", None)
    candidates = [model_or_layer] if layers is None else list(model_or_layer.layers)
    found = []
    for layer in candidates:
        if getattr(layer, "layers", None) is not None and layer is not model_or_layer:
            found += _hardware_layers(layer)
        elif getattr(getattr(layer, "_executor", None), "mode", None) == "sampled" and \
                type(layer._executor).__name__ == "HardwareExecutor":
            found.append(layer)
    return found


def estimate_cost(model_or_layer, n_samples: int, *, epochs: int = 1, batch_size: int = 32,
                  training: bool = True) -> CostEstimate:
    """Estimates what running ``model_or_layer`` on its hardware backends costs.

    Args:
        model_or_layer: A Keras model or a qkeras quantum layer.
        n_samples: Samples per epoch.
        epochs: Number of epochs.
        batch_size: Samples per batch (one forward job, and one gradient job when training,
            per batch and hardware layer).
        training: Count the parameter-shift circuits of the gradient.

    Returns:
        A :class:`CostEstimate`.

    Raises:
        ConfigurationError: For non-positive sizes.
    """
    for name, value in (("n_samples", n_samples), ("epochs", epochs),
                        ("batch_size", batch_size)):
        if not isinstance(value, int) or value < 1:
            raise ConfigurationError(f"{name} must be a positive integer; got {value!r}.")
    circuits = shots = jobs = 0
    backends = []
    batches = math.ceil(n_samples / batch_size)
    for layer in _hardware_layers(model_or_layer):
        per_sample, repetitions = layer_cost(layer, training=training)
        circuits += per_sample * n_samples
        shots += per_sample * n_samples * repetitions
        jobs += batches * (2 if training else 1)
        backends.append(layer.executed_on)
    return CostEstimate(circuits, shots, jobs, epochs, tuple(dict.fromkeys(backends)))
