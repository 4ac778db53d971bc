"""Google Quantum AI: Cirq circuits on a ``cirq_google`` engine processor.

A circuit is rewritten in ``rx``/``rz``/``CZ`` (:func:`qkeras.hardware._lower.to_cz`),
routed onto the processor's qubit graph with ``cirq.RouteCQC`` (SWAPs inserted where the
layout needs them), merged into the processor's gate set with
``cirq.optimize_for_target_gateset`` (constant single-qubit gates become ``PhasedXZ``,
symbolic rotations stay symbolic) and validated against the device. A batch goes to the
processor's sampler as one ``run_batch`` call (one engine batch job).

``"google:virtual_<processor>"`` (``virtual_rainbow``, ``virtual_weber``) runs offline on
the virtual engine that ``cirq_google`` builds from the processor's published device
specification and gate set; ``"google:<processor>"`` runs on the Quantum Engine.

Example:
    >>> import cirq
    >>> sampler = GoogleSampler("virtual_rainbow")
    >>> q = cirq.LineQubit.range(2)
    >>> placed = sampler.place(cirq.Circuit(cirq.H(q[0]), cirq.CNOT(*q)))
    >>> placed.two_qubit_gates, sorted(type(k).__name__ for k in placed.layout.values())
    (1, ['GridQubit', 'GridQubit'])
"""

from __future__ import annotations

import logging
import warnings

import cirq

from qkeras.errors import HardwareError, unknown_name
from qkeras.hardware import credentials
from qkeras.hardware._lower import to_cz
from qkeras.hardware._sampler import HardwareSampler, submit_with_retries
from qkeras.hardware.placement import Placement, summarise

log = logging.getLogger(__name__)

__all__ = ["GoogleSampler", "VIRTUAL_PROCESSORS"]

VIRTUAL_PROCESSORS = ("rainbow", "weber")


def _split_measurements(circuit: cirq.Circuit) -> tuple[cirq.Circuit, list[cirq.Operation]]:
    if not circuit.are_all_measurements_terminal():
        raise HardwareError("Only terminal measurements can be routed onto a Google device; "
                            "move the measurements to the end of the circuit.")
    body = [op for op in circuit.all_operations() if not cirq.is_measurement(op)]
    final = [op for op in circuit.all_operations() if cirq.is_measurement(op)]
    return cirq.Circuit(body), final


class GoogleSampler(HardwareSampler):
    """A ``cirq.Sampler`` on a Google processor, with placement.

    Args:
        processor: ``"virtual_rainbow"`` (offline virtual engine) or a Quantum Engine
            processor id such as ``"rainbow"`` (needs ``GOOGLE_CLOUD_PROJECT``).
        **options: :class:`HardwareSampler`'s ``shot_budget``, ``retries``, ``timeout_s``.

    Raises:
        CredentialsError: For a real processor without a project or credentials.
        ConfigurationError: For an unknown virtual processor.

    Example:
        >>> import cirq
        >>> q = cirq.LineQubit(0)
        >>> result = GoogleSampler("virtual_weber").run(
        ...     cirq.Circuit(cirq.X(q), cirq.measure(q, key="m")), repetitions=5)
        >>> result.measurements["m"].ravel().tolist()
        [1, 1, 1, 1, 1]
    """

    vendor = "google"

    def __init__(self, processor: str = "virtual_rainbow", **options):
        super().__init__(**options)
        import cirq_google

        self.device = processor
        self.virtual = processor.startswith("virtual_")
        name = processor.removeprefix("virtual_")
        if self.virtual:
            if name not in VIRTUAL_PROCESSORS:
                raise unknown_name("virtual Google processor", processor,
                                   [f"virtual_{p}" for p in VIRTUAL_PROCESSORS])
            engine = cirq_google.engine.create_noiseless_virtual_engine_from_latest_templates()
        else:
            project = credentials.google_project()
            engine = submit_with_retries(lambda: cirq_google.get_engine(project),
                                         vendor="Google Quantum Engine", retries=self.retries)
        self.processor_id = name
        self.processor = engine.get_processor(name)
        self.device_spec = self.processor.get_device()
        self._sampler = self.processor.get_sampler()
        self._graph = self.device_spec.metadata.nx_graph
        self._gateset = cirq.CZTargetGateset(additional_gates=[cirq.XPowGate, cirq.ZPowGate])
        self._placed: dict = {}

    def place(self, circuit: cirq.AbstractCircuit) -> Placement:
        """Routes ``circuit`` onto the processor and converts it to its gate set."""
        frozen = circuit.freeze()
        if frozen in self._placed:
            return self._placed[frozen]
        body, measurements = _split_measurements(to_cz(circuit))
        qubits = sorted(circuit.all_qubits())
        if len(body.all_qubits()) < len(qubits):  # idle qubits must be placed too
            body = body + cirq.Circuit(cirq.I(q) for q in qubits if q not in body.all_qubits())
        routed, initial, swaps = cirq.RouteCQC(self._graph).route_circuit(body)
        final = {q: swaps.get(p, p) for q, p in initial.items()}
        routed = routed + cirq.Circuit(cirq.Moment(
            op.with_qubits(*[final[q] for q in op.qubits]) for op in measurements))
        with warnings.catch_warnings():  # cirq's own CircuitOperation default, not ours
            warnings.filterwarnings("ignore", "In cirq 1.6 the default value of "
                                    "`use_repetition_ids`", FutureWarning)
            native = cirq.optimize_for_target_gateset(routed, gateset=self._gateset)
        native = cirq.drop_empty_moments(cirq.Circuit(
            op for op in native.all_operations() if not isinstance(op.gate, cirq.IdentityGate)))
        self.device_spec.validate_circuit(native)
        placement = summarise(self.spec, native, initial, self._graph.edges)
        self._placed[frozen] = placement
        return placement

    def _submit(self, programs, sweeps, repetitions):
        placed = [self.place(p).circuit for p in programs]
        try:
            return submit_with_retries(
                lambda: self._sampler.run_batch(placed, [cirq.ListSweep(s) for s in sweeps],
                                                repetitions=repetitions),
                vendor="Google Quantum Engine", retries=self.retries)
        except (RuntimeError, TimeoutError) as err:
            if isinstance(err, HardwareError):
                raise
            job = getattr(err, "job_id", None) or "unknown"
            raise HardwareError(
                f"Google Quantum Engine job {job} on {self.processor_id} failed: "
                f"{type(err).__name__}: {credentials.redact(str(err))}. Inspect it in the "
                "Cloud console (Quantum Engine > Jobs).") from None
