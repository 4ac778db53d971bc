"""Rigetti: Cirq circuits as Quil programs on a pyquil ``QuantumComputer``.

A circuit is routed onto the processor's qubit topology with ``cirq.RouteCQC``, rewritten
in Rigetti-native gates and translated to Quil (:mod:`qkeras.hardware._quil`) with its
symbols in a ``theta`` memory region. On a QCS processor (``"rigetti:Ankaa-3"``) each
program is compiled once by quilc and all its parameter sets go in one
``execute_with_memory_map_batch`` request.

Offline, ``"rigetti:<n>q-pyqvm"`` / ``"rigetti:9q-square-pyqvm"`` run on pyquil's
``PyQVM``. ``PyQVM`` has no classical memory for gate parameters, so each parameter set
is substituted into the program. When every measurement is terminal (always, for
circuits from qkeras layers), the program's gates run once on the ``PyQVM``'s own
wavefunction simulator and the shots are drawn from it with the ``PyQVM``'s random state;
``PyQVM.execute`` would re-simulate the whole program once per shot.

Example:
    >>> import cirq
    >>> sampler = RigettiSampler("9q-square-pyqvm", seed=1)
    >>> q = cirq.LineQubit.range(2)
    >>> result = sampler.run(cirq.Circuit(cirq.X(q[0]), cirq.CNOT(*q),
    ...                                   cirq.measure(*q, key="m")), repetitions=4)
    >>> result.measurements["m"].tolist()
    [[1, 1], [1, 1], [1, 1], [1, 1]]
"""

from __future__ import annotations

import logging

import cirq
import networkx as nx
import numpy as np

from qkeras.errors import HardwareError
from qkeras.hardware import credentials
from qkeras.hardware._quil import native, to_quil
from qkeras.hardware._sampler import HardwareSampler, submit_with_retries
from qkeras.hardware.placement import Placement, summarise

log = logging.getLogger(__name__)

__all__ = ["RigettiSampler"]


class RigettiSampler(HardwareSampler):
    """A ``cirq.Sampler`` on a Rigetti processor or pyquil's PyQVM.

    Args:
        device: A name ``pyquil.get_qc`` knows: ``"9q-square-pyqvm"``, ``"4q-pyqvm"``
            (offline) or a QCS processor such as ``"Ankaa-3"`` (needs QCS credentials).
        seed: Seeds the PyQVM's random state (offline only).
        **options: :class:`HardwareSampler`'s ``shot_budget``, ``retries``, ``timeout_s``.

    Raises:
        CredentialsError: For a QCS processor without QCS settings.
    """

    vendor = "rigetti"

    def __init__(self, device: str = "9q-square-pyqvm", *, seed: int | None = None,
                 **options):
        super().__init__(**options)
        from pyquil import get_qc
        from pyquil.pyqvm import PyQVM

        self.device = device
        self.offline = device.endswith("-pyqvm")
        if not self.offline and not device.endswith("-qvm"):
            credentials.rigetti_settings()
        self.qc = submit_with_retries(lambda: get_qc(device), vendor="Rigetti QCS",
                                      retries=self.retries)
        topology = self.qc.quantum_processor.qubit_topology()
        if self.offline:
            self.qc.qam = PyQVM(n_qubits=max(topology.nodes) + 1, seed=seed)
        self._graph = nx.relabel_nodes(topology, {n: cirq.LineQubit(n) for n in topology})
        self._placed: dict = {}
        self._executables: dict = {}

    def place(self, circuit: cirq.AbstractCircuit) -> Placement:
        """Routes ``circuit`` onto the topology in native gates; ``native`` is the Quil."""
        frozen = circuit.freeze()
        if frozen in self._placed:
            return self._placed[frozen]
        if not circuit.are_all_measurements_terminal():
            raise HardwareError("Only terminal measurements can be sent to a Rigetti "
                                "processor; move the measurements to the end.")
        body = cirq.Circuit(op for op in circuit.all_operations() if not cirq.is_measurement(op))
        measurements = [op for op in circuit.all_operations() if cirq.is_measurement(op)]
        idle = [q for q in sorted(circuit.all_qubits()) if q not in body.all_qubits()]
        body += cirq.Circuit(cirq.I(q) for q in idle)
        routed, initial, swaps = cirq.RouteCQC(self._graph).route_circuit(body)
        final = {q: swaps.get(p, p) for q, p in initial.items()}
        routed += cirq.Circuit(cirq.Moment(
            op.with_qubits(*[final[q] for q in op.qubits]) for op in measurements))
        routed = cirq.Circuit(op for op in routed.all_operations()
                              if not isinstance(op.gate, cirq.IdentityGate))
        circuit_native = native(routed)
        program, _, _ = to_quil(circuit_native)
        placement = summarise(self.spec, circuit_native, initial, self._graph.edges, program)
        self._placed[frozen] = placement
        return placement

    # Offline: PyQVM ---------------------------------------------------------------------
    def _sample_pyqvm(self, circuit: cirq.Circuit, resolver, shots: int) -> dict:
        from pyquil.quilbase import Gate

        resolved = cirq.resolve_parameters(circuit, resolver)
        program, regions, _ = to_quil(resolved)
        qvm = self.qc.qam
        qvm.wf_simulator.reset()
        measured = {}
        for instruction in program.instructions:
            if isinstance(instruction, Gate):
                qvm.wf_simulator.do_gate(instruction)
        bits = np.asarray(qvm.wf_simulator.sample_bitstrings(shots), np.int8)
        for op in resolved.all_operations():
            if cirq.is_measurement(op):
                key = cirq.measurement_key_name(op)
                columns = [q.x for q in op.qubits]
                measured[key] = np.concatenate(
                    [measured.get(key, np.zeros((shots, 0), np.int8)), bits[:, columns]], axis=1)
        return measured

    # QCS: one compile per program, one batch request per program ------------------------
    def _run_qcs(self, circuit: cirq.Circuit, sweep, shots: int) -> list[dict]:
        program, regions, names = to_quil(circuit)
        program.wrap_in_numshots_loop(shots)
        key = (program.out(), shots)
        if key not in self._executables:
            self._executables[key] = self.qc.compile(program)
        executable = self._executables[key]
        maps = [{"theta": [float(r.value_of(n)) for n in names]} if names else {}
                for r in sweep]
        handles = self.qc.qam.execute_with_memory_map_batch(executable, maps)
        out = []
        for handle in handles:
            try:
                data = self.qc.qam.get_result(handle).get_register_map()
            except Exception as err:  # a failed or timed-out QCS job
                job = getattr(handle, "job_id", "unknown")
                raise HardwareError(
                    f"Rigetti QCS job {job} on {self.device} failed: {type(err).__name__}: "
                    f"{credentials.redact(str(err))}. Check the job in the QCS console.") \
                    from None
            out.append({k: np.asarray(data[r], np.int8) for k, r in regions.items()})
        return out

    def _submit(self, programs, sweeps, repetitions):
        results = []
        for program, sweep, shots in zip(programs, sweeps, repetitions):
            placed = self.place(program).circuit
            if self.offline:
                records = [self._sample_pyqvm(placed, r, shots) for r in sweep]
            else:
                records = submit_with_retries(lambda p=placed, s=sweep, n=shots:
                                              self._run_qcs(p, s, n),
                                              vendor="Rigetti QCS", retries=self.retries)
            results.append([cirq.ResultDict(params=r, measurements=m)
                            for r, m in zip(sweep, records)])
        return results
