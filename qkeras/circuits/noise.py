r"""Noise models: Cirq noise models built from a named channel and a strength.

A noise specification is either a ``cirq.NoiseModel`` or a string ``"name:strength"``:

=========================  ==============================================================
``depolarizing:p``         ``cirq.depolarize(p)`` on every qubit after every moment
``amplitude_damping:γ``    ``cirq.amplitude_damp(γ)`` likewise
``phase_damping:γ``        ``cirq.phase_damp(γ)`` likewise
``bit_flip:p``             ``cirq.bit_flip(p)`` likewise
``readout:p``              a symmetric readout error with flip probability ``p``
=========================  ==============================================================

A symmetric readout error multiplies every measured Pauli factor by :math:`1 - 2p`. A
depolarising channel of strength :math:`q` multiplies X, Y and Z by :math:`1 - 4q/3`, so
``readout:p`` is modelled exactly, for the expectation value of any Pauli observable, by
``cirq.depolarize(1.5 * p)`` on every qubit at the end of the circuit.

Example:
    >>> import cirq
    >>> circuit = cirq.Circuit(cirq.X(cirq.LineQubit(0)))
    >>> noisy = apply(circuit, "bit_flip:0.1")
    >>> len(list(noisy.all_operations()))
    2
"""

from __future__ import annotations

import cirq

from qkeras.errors import ConfigurationError, unknown_name

__all__ = ["CHANNELS", "parse", "apply", "to_config"]

CHANNELS = {
    "depolarizing": cirq.depolarize,
    "amplitude_damping": cirq.amplitude_damp,
    "phase_damping": cirq.phase_damp,
    "bit_flip": cirq.bit_flip,
    "readout": None,
}


def parse(spec: str) -> tuple[str, float]:
    """Splits and checks a ``"name:strength"`` noise specification.

    Args:
        spec: E.g. ``"depolarizing:0.01"``.

    Returns:
        The channel name and its strength.

    Raises:
        ConfigurationError: For an unknown name or a strength outside ``[0, 1]``
            (``[0, 0.5]`` for readout).

    Example:
        >>> parse("amplitude_damping:0.05")
        ('amplitude_damping', 0.05)
    """
    name, _, value = str(spec).partition(":")
    name = name.strip().lower()
    if name not in CHANNELS:
        raise unknown_name("noise channel", name, CHANNELS)
    try:
        strength = float(value)
    except ValueError:
        raise ConfigurationError(
            f"Noise {spec!r} needs a strength after the colon, e.g. '{name}:0.01'.") from None
    upper = 0.5 if name == "readout" else 1.0
    if not 0.0 <= strength <= upper:
        raise ConfigurationError(
            f"Noise strength of {name!r} must be in [0, {upper}]; got {strength}.")
    return name, strength


def apply(circuit: cirq.Circuit, noise: str | cirq.NoiseModel | None) -> cirq.Circuit:
    """Returns ``circuit`` with the noise channels of ``noise`` inserted.

    Args:
        circuit: A (possibly parameterised) circuit.
        noise: ``None``, a ``"name:strength"`` string, or a ``cirq.NoiseModel``.

    Returns:
        A new circuit; ``circuit`` itself when ``noise`` is ``None``.

    Raises:
        ConfigurationError: If ``noise`` is neither a string nor a ``cirq.NoiseModel``.

    Example:
        >>> q = cirq.LineQubit(0)
        >>> noisy = apply(cirq.Circuit(cirq.X(q)), "readout:0.02")
        >>> str(noisy[-1].operations[0])
        'depolarize(p=0.03)(q(0))'
    """
    if noise is None:
        return circuit
    if isinstance(noise, cirq.NoiseModel):
        return circuit.with_noise(noise)
    if not isinstance(noise, str):
        raise ConfigurationError(
            f"noise must be None, a 'name:strength' string or a cirq.NoiseModel; "
            f"got {type(noise).__name__}.")
    name, strength = parse(noise)
    if name == "readout":
        qubits = sorted(circuit.all_qubits())
        return circuit + cirq.Moment(cirq.depolarize(1.5 * strength).on_each(*qubits))
    return circuit.with_noise(CHANNELS[name](strength))


def to_config(noise: str | cirq.NoiseModel | None) -> str | dict | None:
    """Returns a JSON-able form of a noise specification (``cirq.to_json`` for models).

    Example:
        >>> to_config("depolarizing:0.01")
        'depolarizing:0.01'
    """
    if noise is None or isinstance(noise, str):
        return noise
    return {"cirq_json": cirq.to_json(noise)}


def from_config(config: str | dict | None) -> str | cirq.NoiseModel | None:
    """Inverts :func:`to_config`.

    Example:
        >>> from_config(to_config(cirq.ConstantQubitNoiseModel(cirq.bit_flip(0.1))))
        cirq.ConstantQubitNoiseModel(cirq.bit_flip(p=0.1))
    """
    if isinstance(config, dict):
        return cirq.read_json(json_text=config["cirq_json"])
    return config
