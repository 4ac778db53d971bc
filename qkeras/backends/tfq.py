"""The ``"tfq"`` backend: TensorFlow Quantum's qsim ops, exact, sampled or noisy.

The circuit and observables are serialised once; each call tiles them to the batch and
feeds the symbol values as a tensor, so no Python runs per batch.

=========================  ===============================  =============================
mode                       when                             TFQ op
=========================  ===============================  =============================
exact                      no noise, ``repetitions=None``   ``tfq.get_expectation_op()``
sampled                    no noise, ``repetitions=r``      ``get_sampled_expectation_op``
noisy (trajectories)       ``noise`` given                  ``tfq.noise.expectation``
=========================  ===============================  =============================

Example:
    >>> import tensorflow as tf
    >>> from qkeras.circuits import CircuitSpec
    >>> spec = CircuitSpec.build(2, "angle", "hardware_efficient", 1)
    >>> run = TFQExecutor(spec)
    >>> run(tf.zeros((3, 6))).shape.as_list()
    [3, 2]
"""

from __future__ import annotations

import copy
import importlib
import logging
from collections.abc import Mapping

import tensorflow as tf
import tensorflow_quantum as tfq

from qkeras.circuits import noise as noise_lib
from qkeras.circuits.spec import CircuitSpec
from qkeras.errors import ConfigurationError, UnsupportedGateError, unknown_name

log = logging.getLogger(__name__)

__all__ = ["TFQExecutor", "DIFFERENTIATORS", "make_differentiator", "differentiator_config"]

DIFFERENTIATORS = {
    "adjoint": tfq.differentiators.Adjoint,
    "parameter_shift": tfq.differentiators.ParameterShift,
    "finite_difference": tfq.differentiators.ForwardDifference,
    "central_difference": tfq.differentiators.CentralDifference,
}
_NAMES = {cls: name for name, cls in DIFFERENTIATORS.items()}
_FD_OPTIONS = ("error_order", "grid_spacing")

#: Trajectories per expectation when ``noise`` is given without ``repetitions``.
DEFAULT_NOISY_REPETITIONS = 1000


def make_differentiator(value, *, exact: bool) -> tfq.differentiators.Differentiator:
    """Returns a fresh differentiator instance for one op.

    Args:
        value: ``None`` (adjoint when ``exact``, else parameter shift), a name from
            :data:`DIFFERENTIATORS`, a mapping ``{"name": ..., **options}`` (e.g.
            ``grid_spacing`` for the difference methods), or a
            ``tfq.differentiators.Differentiator`` (copied, since TFQ binds an instance
            to the one op it differentiates).
        exact: Whether expectations are exact (adjoint needs exact state vectors).

    Returns:
        A differentiator not yet bound to any op.

    Raises:
        ConfigurationError: For an unknown name, bad options, or ``"adjoint"`` with
            sampled or noisy execution.

    Example:
        >>> type(make_differentiator(None, exact=False)).__name__
        'ParameterShift'
    """
    if value is None:
        value = "adjoint" if exact else "parameter_shift"
    if isinstance(value, tfq.differentiators.Differentiator):
        instance = copy.copy(value)
        for attribute in ("expectation_op", "expectation_fn"):
            instance.__dict__.pop(attribute, None)
    else:
        options = dict(value) if isinstance(value, Mapping) else {"name": value}
        name = options.pop("name", None)
        if "class_name" in options:
            module, _, qualname = options.pop("class_name").rpartition(".")
            instance = getattr(importlib.import_module(module), qualname)(**options)
        elif name not in DIFFERENTIATORS:
            raise unknown_name("differentiator", name, DIFFERENTIATORS)
        else:
            try:
                instance = DIFFERENTIATORS[name](**options)
            except (TypeError, ValueError) as err:
                raise ConfigurationError(f"Bad options for differentiator {name!r}: {err}") \
                    from err
    if not exact and isinstance(instance, tfq.differentiators.Adjoint):
        raise ConfigurationError(
            "The adjoint differentiator needs exact state vectors; with repetitions or "
            "noise use differentiator='parameter_shift' (or leave it None).")
    return instance


def differentiator_config(instance: tfq.differentiators.Differentiator) -> str | dict:
    """Returns the JSON-able form of a differentiator, which :func:`make_differentiator` reads.

    Example:
        >>> differentiator_config(tfq.differentiators.CentralDifference(grid_spacing=0.01))
        {'name': 'central_difference', 'error_order': 2, 'grid_spacing': 0.01}
    """
    name = _NAMES.get(type(instance))
    if name is None:
        cls = type(instance)
        return {"class_name": f"{cls.__module__}.{cls.__qualname__}"}
    if name == "finite_difference":
        return {"name": name, **{k: getattr(instance, k) for k in _FD_OPTIONS}}
    if name == "central_difference":  # TFQ keeps only the stencil: read the options off it
        shifts = instance.perturbations.numpy()
        order = len(shifts)
        return {"name": name, "error_order": order,
                "grid_spacing": float(f"{shifts.max() / (order // 2):.7g}")}  # float32 stencil
    return name


class TFQExecutor:
    """Executes a :class:`CircuitSpec` with TensorFlow Quantum.

    Args:
        spec: What to execute.
        differentiator: See :func:`make_differentiator`.
        repetitions: Shots per expectation (sampled), or trajectories (noisy).
        noise: A ``"name:strength"`` string or ``cirq.NoiseModel``; see
            :mod:`qkeras.circuits.noise`.

    Raises:
        ConfigurationError: For bad options.
        UnsupportedGateError: If TFQ cannot serialise the circuit.

    Example:
        >>> spec = CircuitSpec.build(1, "angle", "hardware_efficient", 1)
        >>> TFQExecutor(spec, repetitions=100).mode
        'sampled'
    """

    def __init__(self, spec: CircuitSpec, *, differentiator=None, repetitions: int | None =
                 None, noise=None):
        if repetitions is not None and (not isinstance(repetitions, int) or repetitions < 1):
            raise ConfigurationError(
                f"repetitions must be a positive integer or None; got {repetitions!r}.")
        if noise is not None and repetitions is None:
            repetitions = DEFAULT_NOISY_REPETITIONS
            log.info("noise given without repetitions: using %d trajectories", repetitions)
        self.spec, self.repetitions, self.name = spec, repetitions, "tfq"
        self.mode = "noisy" if noise is not None else "sampled" if repetitions else "exact"
        self.differentiator = make_differentiator(differentiator, exact=self.mode == "exact")
        circuit = noise_lib.apply(spec.circuit, noise)
        try:
            self._program = tfq.convert_to_tensor([circuit])
            self._operators = tfq.convert_to_tensor([list(spec.observables)])
        except (ValueError, TypeError) as err:
            raise UnsupportedGateError(
                f"TensorFlow Quantum cannot run this circuit: {err}. Gate exponents must be "
                "constants or coefficient * symbol; decompose other gates with "
                "cirq.decompose, or use backend='statevector'.") from err
        self._names = tf.constant([str(s) for s in spec.symbols])
        if self.mode == "exact":
            self._op = self.differentiator.generate_differentiable_op(
                analytic_op=tfq.get_expectation_op())
        else:
            sampled = {"sampled": tfq.get_sampled_expectation_op(),
                       "noisy": tfq.noise.expectation}[self.mode]
            self._op = self.differentiator.generate_differentiable_op(sampled_op=sampled)
            self._samples = tf.fill([1, len(spec.observables)], repetitions)

    def __call__(self, symbol_values: tf.Tensor) -> tf.Tensor:
        """Returns expectations ``(batch, n_observables)`` for values ``(batch, n_symbols)``."""
        batch = tf.shape(symbol_values)[0]
        programs = tf.tile(self._program, [batch])
        operators = tf.tile(self._operators, [batch, 1])
        if self.mode == "exact":
            return self._op(programs, self._names, symbol_values, operators)
        samples = tf.tile(self._samples, [batch, 1])
        return self._op(programs, self._names, symbol_values, operators, samples)
