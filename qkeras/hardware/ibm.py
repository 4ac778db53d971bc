"""IBM Quantum: Cirq circuits on qiskit-ibm-runtime's ``SamplerV2``.

A Cirq circuit is lowered (:mod:`qkeras.hardware._lower`), mapped gate by gate to a
parameterised Qiskit circuit (symbols become ``qiskit.circuit.Parameter``), transpiled
once per program to the backend's ISA (basis gates, coupling map, layout) and sent with
all its parameter sets as one PUB; every program of a batch goes into one
``SamplerV2.run`` call, i.e. one job (inside a runtime ``Batch`` on a real backend).
Results come back through the classical bits, so the layout chosen by the transpiler is
undone: bit ``i`` of key ``k`` is the ``i``-th qubit measured under ``k`` in the Cirq
circuit.

Offline, ``"ibm:fake_<name>"`` runs the same path on a fake backend of
``qiskit_ibm_runtime.fake_provider`` (local mode: qiskit-aer with the backend's noise).

Example:
    >>> import cirq
    >>> q = cirq.LineQubit.range(2)
    >>> circuit = cirq.Circuit(cirq.X(q[0]), cirq.CNOT(*q), cirq.measure(*q, key="m"))
    >>> to_qiskit(circuit)[0].count_ops()["cx"]
    1
"""

from __future__ import annotations

import logging

import cirq
import numpy as np

from qkeras.errors import HardwareError
from qkeras.hardware import credentials
from qkeras.hardware._lower import linear_terms, lower
from qkeras.hardware._sampler import HardwareSampler, submit_with_retries

log = logging.getLogger(__name__)

__all__ = ["IBMSampler", "to_qiskit", "fake_backend", "isa_to_cirq"]

_ONE_QUBIT = {"rx": "rx", "ry": "ry", "rz": "rz", "h": "h"}
_TWO_QUBIT = {"cz": "cz", "cx": "cx", "swap": "swap", "cphase": "cp", "rxx": "rxx",
              "ryy": "ryy", "rzz": "rzz"}


def fake_backend(name: str):
    """Returns the fake backend ``name`` (``"fake_manila"``) of qiskit-ibm-runtime.

    Raises:
        ConfigurationError: For an unknown name, listing close matches.

    Example:
        >>> fake_backend("fake_manila").num_qubits
        5
    """
    from qiskit_ibm_runtime import fake_provider

    stem = "Fake" + "".join(part.capitalize() for part in name.split("_")[1:])
    for attribute in (f"{stem}V2", stem):
        cls = getattr(fake_provider, attribute, None)
        if cls is not None:
            return cls()
    known = sorted(f"fake_{n[4:].removesuffix('V2').lower()}" for n in dir(fake_provider)
                   if n.startswith("Fake") and n[4:5].isupper())
    from qkeras.errors import unknown_name

    raise unknown_name("IBM fake backend", name, known)


def _parameter(angle, parameters: dict):
    from qiskit.circuit import Parameter

    constant, coefficients = linear_terms(angle)
    value = constant
    for name, coefficient in coefficients.items():
        if name not in parameters:
            parameters[name] = Parameter(name)
        value = value + coefficient * parameters[name]
    return value


def to_qiskit(circuit: cirq.AbstractCircuit, qubits=None):
    """Translates a Cirq circuit to a parameterised Qiskit circuit.

    Args:
        circuit: A Cirq circuit, possibly with symbols and measurements.
        qubits: The qubit order (virtual qubit ``i`` is ``qubits[i]``); default sorted.

    Returns:
        ``(quantum_circuit, keys)``: the Qiskit circuit and, per measurement key, the name
        of its classical register.

    Raises:
        UnsupportedGateError: For a gate with no translation.

    Example:
        >>> import sympy
        >>> q = cirq.LineQubit(0)
        >>> qc, keys = to_qiskit(cirq.Circuit(cirq.ry(sympy.Symbol("w"))(q), cirq.measure(q)))
        >>> [p.name for p in qc.parameters], keys
        (['w'], {'q(0)': 'c0'})
    """
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    qubits = list(qubits or sorted(circuit.all_qubits()))
    index = {q: i for i, q in enumerate(qubits)}
    instructions = lower(circuit)
    keys: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for inst in instructions:
        if inst.name == "measure":
            keys.setdefault(inst.key, f"c{len(keys)}")
            sizes[inst.key] = sizes.get(inst.key, 0) + len(inst.qubits)
    registers = {key: ClassicalRegister(sizes[key], name) for key, name in keys.items()}
    qc = QuantumCircuit(QuantumRegister(len(qubits), "q"), *registers.values())
    parameters: dict = {}
    filled = dict.fromkeys(keys, 0)
    for inst in instructions:
        wires = [index[q] for q in inst.qubits]
        if inst.name == "measure":
            start = filled[inst.key]
            for offset, wire in enumerate(wires):
                qc.measure(wire, registers[inst.key][start + offset])
            filled[inst.key] += len(wires)
            continue
        method = getattr(qc, _ONE_QUBIT.get(inst.name) or _TWO_QUBIT[inst.name])
        if inst.angle is None:
            method(*wires)
        else:
            method(_parameter(inst.angle, parameters), *wires)
    return qc, keys


def _sympy_angle(value):
    """A Qiskit angle as a float, or as a sympy expression when it holds parameters."""
    import sympy

    if getattr(value, "parameters", None):
        return sympy.sympify(str(value))
    return float(value)


def isa_to_cirq(isa_circuit) -> cirq.Circuit:
    """Translates a transpiled (ISA) Qiskit circuit back to Cirq on ``cirq.LineQubit(physical)``.

    Measurements keep one key per classical register. Used to simulate what the device
    runs, with :func:`qkeras.noise.from_device`.

    Example:
        >>> from qiskit import QuantumCircuit
        >>> qc = QuantumCircuit(1, 1); _ = qc.sx(0); _ = qc.measure(0, 0)
        >>> print(isa_to_cirq(qc))
        0: ───X^0.5───M('c')───
    """
    from qiskit.quantum_info import Operator

    ops = []
    qubit_of = {bit: cirq.LineQubit(isa_circuit.find_bit(bit).index) for bit in isa_circuit.qubits}
    for item in isa_circuit.data:
        name, qubits = item.operation.name, [qubit_of[q] for q in item.qubits]
        if name == "measure":
            register, bit = isa_circuit.find_bit(item.clbits[0]).registers[0]
            ops.append(cirq.measure(*qubits, key=f"{register.name}#{bit}"))
        elif name in ("barrier", "delay", "id"):
            continue
        elif name == "rz":
            ops.append(cirq.rz(_sympy_angle(item.operation.params[0])).on(*qubits))
        elif name == "sx":
            ops.append(cirq.XPowGate(exponent=0.5).on(*qubits))
        elif name == "x":
            ops.append(cirq.X(*qubits))
        elif name == "cx":
            ops.append(cirq.CNOT(*qubits))
        elif name == "cz":
            ops.append(cirq.CZ(*qubits))
        else:
            matrix = Operator(item.operation).data
            if len(qubits) == 2:  # Qiskit orders a matrix's qubits little-endian
                matrix = matrix.reshape(2, 2, 2, 2).transpose(1, 0, 3, 2).reshape(4, 4)
            ops.append(cirq.MatrixGate(matrix, name=name).on(*qubits))
    circuit = cirq.Circuit(ops)
    return _merge_keys(circuit)


def _merge_keys(circuit: cirq.Circuit) -> cirq.Circuit:
    """Replaces per-bit measurement keys ``reg#i`` by one measurement per register."""
    measured: dict[str, list] = {}
    body = []
    for op in circuit.all_operations():
        if cirq.is_measurement(op):
            register, _, bit = cirq.measurement_key_name(op).partition("#")
            measured.setdefault(register, []).append((int(bit), op.qubits[0]))
        else:
            body.append(op)
    final = [cirq.measure(*[q for _, q in sorted(pairs)], key=key)
             for key, pairs in measured.items()]
    return cirq.Circuit(body, cirq.Moment(final) if final else [])


class IBMSampler(HardwareSampler):
    """A ``cirq.Sampler`` on an IBM Quantum backend (or a fake one, offline).

    Args:
        backend: ``"fake_manila"``-style names run locally on the fake backend; other names
            (``"ibm_brisbane"``) are looked up with ``QiskitRuntimeService``, using the
            credentials of :func:`qkeras.hardware.credentials.ibm_account`. A Qiskit
            ``BackendV2`` is used as given.
        optimization_level: Of Qiskit's preset pass manager.
        seed: Seeds the transpiler and, in local mode, the simulator (job ``k`` uses
            ``seed + k``).
        **options: :class:`HardwareSampler`'s ``shot_budget``, ``retries``, ``timeout_s``.

    Raises:
        CredentialsError: For a real backend without credentials.

    Example:
        >>> import cirq
        >>> sampler = IBMSampler("fake_manila", seed=3)
        >>> q = cirq.LineQubit(0)
        >>> result = sampler.run(cirq.Circuit(cirq.X(q), cirq.measure(q, key="m")),
        ...                      repetitions=50)
        >>> result.measurements["m"].shape
        (50, 1)
    """

    vendor = "ibm"

    def __init__(self, backend="fake_manila", *, optimization_level: int = 1,
                 seed: int | None = None, **options):
        super().__init__(**options)
        self.optimization_level, self.seed = optimization_level, seed
        self._service = None
        if isinstance(backend, str):
            if backend.startswith("fake_"):
                self.backend = fake_backend(backend)
            else:
                self.backend = self._real_backend(backend)
        else:
            self.backend = backend
        self.device = backend if isinstance(backend, str) else self.backend.name
        self.local = self._service is None
        self._layouts: dict[tuple, list[int]] = {}
        self._compiled: dict = {}
        self._session = None

    def _real_backend(self, name: str):
        from qiskit_ibm_runtime import QiskitRuntimeService

        account = credentials.ibm_account()
        try:
            self._service = submit_with_retries(lambda: QiskitRuntimeService(**account),
                                                vendor="IBM Quantum", retries=self.retries)
            return self._service.backend(name)
        except HardwareError:
            raise
        except Exception as err:  # the vendor's own errors: re-raised without the token
            raise HardwareError(
                f"IBM Quantum could not open backend {name!r}: "
                f"{credentials.redact(str(err))}. Check the name with "
                "QiskitRuntimeService().backends() and your instance's access.") from None

    # Placement --------------------------------------------------------------------------
    def transpile(self, circuit: cirq.AbstractCircuit):
        """Returns ``(isa_circuit, keys, qubits)``: ``circuit`` on the backend's ISA.

        The first circuit on a set of qubits fixes their layout; later circuits on the
        same qubits reuse it, so calibration and layer circuits use the same physical
        qubits.
        """
        from qiskit.transpiler import generate_preset_pass_manager

        frozen = circuit.freeze()
        if frozen in self._compiled:
            return self._compiled[frozen]
        qubits = tuple(sorted(circuit.all_qubits()))
        qc, keys = to_qiskit(circuit, qubits)
        layout = self._layouts.get(qubits)
        manager = generate_preset_pass_manager(
            backend=self.backend, optimization_level=self.optimization_level,
            seed_transpiler=self.seed, initial_layout=layout)
        isa = manager.run(qc)
        if layout is None and isa.layout is not None:
            self._layouts[qubits] = isa.layout.initial_index_layout(filter_ancillas=True)
        self._compiled[frozen] = (isa, keys, qubits)
        return self._compiled[frozen]

    def place(self, circuit: cirq.AbstractCircuit):
        """Returns the :class:`~qkeras.hardware.placement.Placement` of ``circuit``.

        ``circuit`` is the transpiled ISA circuit on ``cirq.LineQubit(physical index)``;
        ``native`` is the Qiskit ISA circuit.
        """
        from qkeras.hardware.placement import summarise

        isa, _, qubits = self.transpile(circuit)
        initial = isa.layout.initial_index_layout(filter_ancillas=True) if isa.layout else \
            list(range(len(qubits)))
        layout = {q: cirq.LineQubit(initial[i]) for i, q in enumerate(qubits)}
        coupling = [(cirq.LineQubit(a), cirq.LineQubit(b))
                    for a, b in (self.backend.coupling_map or [])]
        return summarise(self.spec, isa_to_cirq(isa), layout, coupling, isa)

    # Execution --------------------------------------------------------------------------
    def _pubs(self, programs, sweeps, repetitions):
        pubs, layout = [], []
        for program, sweep, shots in zip(programs, sweeps, repetitions):
            isa, keys, _ = self.transpile(program)
            names = [p.name for p in isa.parameters]
            if names:
                values = np.array([[float(r.value_of(n)) for n in names] for r in sweep])
                pubs.append((isa, values, shots))
                layout.append((keys, [len(sweep)]))
            else:
                pubs.extend((isa, None, shots) for _ in sweep)
                layout.append((keys, [1] * len(sweep)))
        return pubs, layout

    def _mode(self):
        if self.local:
            return self.backend
        if self._session is None:
            from qiskit_ibm_runtime import Batch

            self._session = Batch(backend=self.backend)
        return self._session

    def _submit(self, programs, sweeps, repetitions):
        from qiskit_ibm_runtime import SamplerV2

        pubs, layout = self._pubs(programs, sweeps, repetitions)
        options = {}
        if self.local and self.seed is not None:
            options = {"simulator": {"seed_simulator": self.seed + self.jobs_submitted}}
        sampler = SamplerV2(mode=self._mode(), options=options)
        job = submit_with_retries(lambda: sampler.run(pubs), vendor="IBM Quantum",
                                  retries=self.retries)
        try:
            result = job.result() if self.local else job.result(timeout=self.timeout_s)
        except Exception as err:  # a failed or timed-out vendor job
            raise HardwareError(
                f"IBM Quantum job {job.job_id()} on {self.device} failed: "
                f"{type(err).__name__}: {credentials.redact(str(err))}. Inspect it with "
                f"QiskitRuntimeService().job({job.job_id()!r}).") from None
        return self._results(result, layout, sweeps)

    @staticmethod
    def _results(result, layout, sweeps):
        out, index = [], 0
        for (keys, counts), sweep in zip(layout, sweeps):
            per_set = []
            for count in counts:
                data = result[index].data
                index += 1
                arrays = {key: np.asarray(getattr(data, reg).to_bool_array(order="little"),
                                          np.int8).reshape(count, -1, getattr(data, reg).num_bits)
                          for key, reg in keys.items()}
                per_set.extend({k: a[i] for k, a in arrays.items()} for i in range(count))
            out.append([cirq.ResultDict(params=r, measurements=m)
                        for r, m in zip(sweep, per_set)])
        return out

    def close(self) -> None:
        """Closes the runtime ``Batch`` (real backends); a no-op offline."""
        if self._session is not None:
            self._session.close()
            self._session = None

