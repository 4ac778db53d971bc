"""Quantum hardware: one ``cirq.Sampler`` per vendor, usable by every qkeras layer.

``sampler("vendor:device")`` returns a :class:`~qkeras.hardware._sampler.HardwareSampler`;
a quantum layer takes it, or the string, as ``backend=`` with ``repetitions`` (shots per
expectation). Every sampler implements ``run_batch`` as one vendor job per batch, and the
layer sends a whole batch of samples (and, when training, all parameter-shift circuits of
the batch) in one ``run_batch`` call.

=======================================  =============================================
``"ibm:fake_manila"`` (any ``fake_*``)   offline: qiskit-aer with the fake backend's noise
``"ibm:ibm_brisbane"``                   IBM Quantum (``QISKIT_IBM_TOKEN``)
``"google:virtual_rainbow"``             offline: cirq_google's virtual engine
``"google:rainbow"``                     Google Quantum Engine (``GOOGLE_CLOUD_PROJECT``)
``"rigetti:9q-square-pyqvm"``            offline: pyquil's PyQVM (also ``<n>q-pyqvm``)
``"rigetti:Ankaa-3"``                    Rigetti QCS (``~/.qcs`` settings)
=======================================  =============================================

Example:
    >>> from qkeras import hardware
    >>> hardware.sampler("ibm:fake_manila")
    <IBMSampler 'ibm:fake_manila'>
    >>> from qkeras.layers import QuantumDense
    >>> layer = QuantumDense(2, backend="ibm:fake_manila", repetitions=100)
    >>> layer.executed_on
    'ibm:fake_manila'
"""

from __future__ import annotations

from qkeras.errors import ConfigurationError, unknown_name
from qkeras.hardware._sampler import HardwareSampler
from qkeras.hardware.cost import CostEstimate, estimate_cost
from qkeras.hardware.placement import Placement, place

__all__ = ["sampler", "VENDORS", "HardwareSampler", "estimate_cost", "CostEstimate", "place",
           "Placement", "is_hardware_backend"]

VENDORS = ("google", "ibm", "rigetti")


def is_hardware_backend(backend) -> bool:
    """Whether ``backend`` names or is a hardware sampler (``"vendor:device"`` or a sampler).

    Example:
        >>> is_hardware_backend("ibm:fake_manila"), is_hardware_backend("tfq")
        (True, False)
    """
    import cirq

    return isinstance(backend, cirq.Sampler) or (isinstance(backend, str) and ":" in backend)


def sampler(spec: str, **options) -> HardwareSampler:
    """Returns the sampler of ``"vendor:device"``.

    Args:
        spec: ``"ibm:<backend>"``, ``"google:<processor>"`` or ``"rigetti:<device>"`` (see
            the table above).
        **options: ``shot_budget``, ``retries``, ``timeout_s`` for every vendor; ``seed``
            for the IBM and Rigetti offline routes; ``optimization_level`` for IBM.

    Returns:
        A ``cirq.Sampler`` whose ``run_batch`` is one vendor job.

    Raises:
        ConfigurationError: For a malformed spec or an unknown vendor.
        CredentialsError: For a real device without credentials, naming the variable to set.

    Example:
        >>> sampler("rigetti:9q-square-pyqvm").spec
        'rigetti:9q-square-pyqvm'
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise ConfigurationError(
            f"A hardware backend is named 'vendor:device', e.g. 'ibm:fake_manila'; got "
            f"{spec!r}.")
    vendor, _, device = spec.partition(":")
    vendor = vendor.strip().lower()
    if not device:
        raise ConfigurationError(f"Hardware backend {spec!r} names no device; e.g. "
                                 f"'{vendor}:<device>'.")
    if vendor == "ibm":
        from qkeras.hardware.ibm import IBMSampler

        return IBMSampler(device, **options)
    if vendor == "google":
        from qkeras.hardware.google import GoogleSampler

        return GoogleSampler(device, **options)
    if vendor == "rigetti":
        from qkeras.hardware.rigetti import RigettiSampler

        return RigettiSampler(device, **options)
    raise unknown_name("hardware vendor", vendor, VENDORS)
