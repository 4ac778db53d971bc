"""Noise models: named channels (:mod:`qkeras.circuits.noise`) and device calibrations.

``qkeras.noise.from_device`` builds a Cirq noise model from a quantum processor's
calibration (:mod:`qkeras.hardware.noise`); it is imported on first use, so
``import qkeras`` does not import Qiskit or pyquil.

Example:
    >>> from qkeras import noise
    >>> noise.parse("depolarizing:0.01")
    ('depolarizing', 0.01)
"""

from __future__ import annotations

from qkeras.circuits.noise import CHANNELS, apply, from_config, parse, to_config

__all__ = ["CHANNELS", "apply", "parse", "to_config", "from_config", "from_device"]


def from_device(device, **options):
    """Builds a Cirq noise model of a device; see :func:`qkeras.hardware.noise.from_device`.

    Example:
        >>> type(from_device("ibm:fake_manila")).__name__
        'DeviceNoiseModel'
    """
    from qkeras.hardware.noise import from_device as build

    return build(device, **options)


def __getattr__(name):
    if name == "DeviceNoiseModel":
        from qkeras.hardware.noise import DeviceNoiseModel

        return DeviceNoiseModel
    raise AttributeError(f"module 'qkeras.noise' has no attribute {name!r}")
