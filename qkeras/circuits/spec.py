"""``CircuitSpec``: the one description of what a quantum layer executes.

A spec holds the circuit, its qubits, the ordered data and weight symbols, the
observables, and how input features map to data-symbol values. It is built either from
option names (:meth:`CircuitSpec.build`) or from a user's circuit
(:meth:`CircuitSpec.from_circuit`); both check everything up front.

Example:
    >>> spec = CircuitSpec.build(3, encoding="angle", ansatz="hardware_efficient", layers=2)
    >>> spec.n_features, len(spec.weight_symbols), len(spec.observables)
    (3, 12, 3)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import cirq
import sympy

from qkeras import config
from qkeras.circuits import ansatze, encodings
from qkeras.errors import ConfigurationError, ResourceError, unknown_name

__all__ = ["CircuitSpec", "default_observables", "observables_to_config",
           "observables_from_config"]

Observable = cirq.PauliSum | cirq.PauliString
_PAULIS = {"x": cirq.X, "y": cirq.Y, "z": cirq.Z}


def default_observables(qubits: Sequence[cirq.Qid], pauli: str = "z") -> list[cirq.PauliSum]:
    """Returns one single-qubit Pauli observable per qubit (Z by default).

    Example:
        >>> [str(o) for o in default_observables(cirq.LineQubit.range(2))]
        ['1.000*Z(q(0))', '1.000*Z(q(1))']
    """
    if pauli.lower() not in _PAULIS:
        raise unknown_name("observable", pauli, ["X", "Y", "Z"])
    return [cirq.PauliSum.from_pauli_strings(_PAULIS[pauli.lower()](q)) for q in qubits]


def _as_pauli_sums(observables, qubits) -> list[cirq.PauliSum]:
    if observables is None:
        return default_observables(qubits)
    if isinstance(observables, str):
        return default_observables(qubits, observables)
    if isinstance(observables, (cirq.PauliString, cirq.PauliSum)):
        observables = [observables]
    result = []
    for obs in observables:
        if isinstance(obs, cirq.PauliString):
            obs = cirq.PauliSum.from_pauli_strings(obs)
        if not isinstance(obs, cirq.PauliSum):
            raise ConfigurationError(
                "observables must be None, 'X'/'Y'/'Z' (one per qubit) or cirq.PauliString/"
                f"cirq.PauliSum objects; got {type(obs).__name__}.")
        result.append(obs)
    if not result:
        raise ConfigurationError("observables must not be empty; leave it None for Z on "
                                 "each qubit.")
    return result


def observables_to_config(observables: Sequence[cirq.PauliSum]) -> list[str]:
    """Serialises observables with ``cirq.to_json``.

    Example:
        >>> obs = default_observables(cirq.LineQubit.range(1))
        >>> observables_from_config(observables_to_config(obs)) == obs
        True
    """
    return [cirq.to_json(o) for o in observables]


def observables_from_config(value: Sequence[str]) -> list[cirq.PauliSum]:
    """Inverts :func:`observables_to_config`."""
    return [cirq.read_json(json_text=v) for v in value]


def _check_size(n_qubits: int) -> None:
    limit = config.max_qubits()
    if n_qubits > limit:
        raise ResourceError(
            f"{n_qubits} qubits need a state of 2**{n_qubits} amplitudes, more than this "
            f"machine's memory holds (limit {limit} qubits). Use fewer qubits, or set "
            "QKERAS_MAX_QUBITS if you know the memory is there.")


def _qubits(qubits: int | Sequence[cirq.Qid]) -> list[cirq.Qid]:
    if isinstance(qubits, int):
        if qubits < 1:
            raise ConfigurationError(f"qubits must be a positive integer; got {qubits}.")
        return cirq.LineQubit.range(qubits)
    qubits = list(qubits)
    if not qubits or not all(isinstance(q, cirq.Qid) for q in qubits):
        raise ConfigurationError("qubits must be a positive integer or a list of cirq qubits.")
    return qubits


def _rename(circuit: cirq.Circuit, symbols, start: int, prefix: str):
    renamed = [sympy.Symbol(f"{prefix}{start + i}") for i in range(len(symbols))]
    return cirq.resolve_parameters(circuit, dict(zip(symbols, renamed))), renamed


@dataclasses.dataclass(frozen=True)
class CircuitSpec:
    """What a quantum layer executes.

    Attributes:
        circuit: The parameterised circuit.
        qubits: Its qubits, in state-vector order.
        data_symbols: Symbols resolved from the input features, in order.
        weight_symbols: Symbols resolved from the layer's weights, in order.
        observables: One ``cirq.PauliSum`` per output.
        n_features: Number of input features.
        encoding: The named encoding whose feature map turns features into data-symbol
            values, or ``None`` for the identity (one feature per data symbol).
        entanglement: IQP pair pattern (only used by ``encoding="iqp"``).
    """

    circuit: cirq.Circuit
    qubits: tuple
    data_symbols: tuple
    weight_symbols: tuple
    observables: tuple
    n_features: int
    encoding: str | None = None
    entanglement: str = "full"

    @classmethod
    def build(cls, qubits: int | Sequence[cirq.Qid], encoding: str = "angle",
              ansatz: str = "hardware_efficient", layers: int = 1, observables=None, *,
              reupload: bool = False, encoding_options: Mapping | None = None,
              ansatz_options: Mapping | None = None) -> CircuitSpec:
        """Builds a spec from named parts.

        Args:
            qubits: Number of qubits (``cirq.LineQubit.range``) or the qubits themselves.
            encoding: A name from :data:`qkeras.circuits.encodings.ENCODINGS`.
            ansatz: A name from :data:`qkeras.circuits.ansatze.ANSATZE`.
            layers: Ansatz layers (and data re-uploads, with ``reupload``).
            observables: ``None`` (Z on each qubit), ``"X"``/``"Y"``/``"Z"``, or cirq Pauli
                strings/sums.
            reupload: Data re-uploading (Pérez-Salinas et al., Quantum 4, 226 (2020)):
                the encoding is applied again before every ansatz layer.
            encoding_options: Keyword options of the encoding (e.g. ``rotation``, ``reps``).
            ansatz_options: Keyword options of the ansatz (e.g. ``pattern``).

        Returns:
            The spec.

        Raises:
            ConfigurationError: For unknown names or bad options.
            ResourceError: If the register is too large for this machine's memory.

        Example:
            >>> spec = CircuitSpec.build(2, "dense_angle", "strongly_entangling", 1)
            >>> spec.n_features, [str(s) for s in spec.weight_symbols][:2]
            (4, ['w0', 'w1'])
        """
        qubit_list = _qubits(qubits)
        _check_size(len(qubit_list))
        if encoding not in encodings.ENCODINGS:
            raise unknown_name("encoding", encoding, encodings.ENCODINGS)
        if ansatz not in ansatze.ANSATZE:
            raise unknown_name("ansatz", ansatz, ansatze.ANSATZE)
        enc_opts, ans_opts = dict(encoding_options or {}), dict(ansatz_options or {})
        try:
            enc_circuit, data = encodings.ENCODINGS[encoding][0](qubit_list, **enc_opts)
            build_ansatz = ansatze.ANSATZE[ansatz][0]
            if reupload:
                circuit, weights = cirq.Circuit(), []
                for _ in range(layers if isinstance(layers, int) and layers > 0 else 0):
                    block, names = build_ansatz(qubit_list, 1, **ans_opts)
                    block, names = _rename(block, names, len(weights), "w")
                    circuit += enc_circuit + block
                    weights += names
                ansatze._check_layers(layers)
            else:
                block, weights = build_ansatz(qubit_list, layers, **ans_opts)
                circuit = enc_circuit + block
        except TypeError as err:
            raise ConfigurationError(f"Bad option for encoding {encoding!r} or ansatz "
                                     f"{ansatz!r}: {err}") from err
        return cls(circuit=circuit, qubits=tuple(qubit_list), data_symbols=tuple(data),
                   weight_symbols=tuple(weights),
                   observables=tuple(_as_pauli_sums(observables, qubit_list)),
                   n_features=encodings.feature_count(encoding, len(qubit_list)),
                   encoding=encoding, entanglement=enc_opts.get("entanglement", "full"))

    @classmethod
    def from_circuit(cls, circuit: cirq.Circuit, data_symbols: Sequence, weight_symbols:
                     Sequence, observables=None) -> CircuitSpec:
        """Builds a spec from a user's circuit; every data symbol takes one feature.

        Args:
            circuit: A parameterised ``cirq.Circuit``.
            data_symbols: Symbols (or names) resolved from the input, in feature order.
            weight_symbols: Symbols (or names) that become trainable weights, in order.
            observables: As in :meth:`build`.

        Returns:
            The spec.

        Raises:
            ConfigurationError: If the symbols do not match the circuit's exactly.

        Example:
            >>> q = cirq.LineQubit(0)
            >>> x, w = sympy.symbols("x w")
            >>> spec = CircuitSpec.from_circuit(cirq.Circuit(cirq.rx(x)(q), cirq.ry(w)(q)),
            ...                                 [x], [w])
            >>> spec.n_features
            1
        """
        if not isinstance(circuit, cirq.Circuit):
            raise ConfigurationError(f"circuit must be a cirq.Circuit; got "
                                     f"{type(circuit).__name__}.")
        data = [sympy.Symbol(s) if isinstance(s, str) else s for s in data_symbols]
        weights = [sympy.Symbol(s) if isinstance(s, str) else s for s in weight_symbols]
        given = data + weights
        if len(set(given)) != len(given):
            raise ConfigurationError("data_symbols and weight_symbols must be distinct.")
        used = cirq.parameter_symbols(circuit)
        missing, unused = used - set(given), set(given) - used
        if missing or unused:
            raise ConfigurationError(
                "The circuit's symbols must be exactly data_symbols + weight_symbols: "
                f"undeclared {sorted(map(str, missing))}, unused {sorted(map(str, unused))}.")
        obs = _as_pauli_sums(observables, sorted(circuit.all_qubits()))
        qubits = sorted(circuit.all_qubits().union(*(o.qubits for o in obs)))
        _check_size(len(qubits))
        return cls(circuit=circuit, qubits=tuple(qubits), data_symbols=tuple(data),
                   weight_symbols=tuple(weights), observables=tuple(obs),
                   n_features=len(data))

    @property
    def symbols(self) -> tuple:
        """Data symbols followed by weight symbols: the order values are fed in."""
        return self.data_symbols + self.weight_symbols

    def __repr__(self) -> str:
        return (f"CircuitSpec(qubits={len(self.qubits)}, features={self.n_features}, "
                f"weights={len(self.weight_symbols)}, observables={len(self.observables)}, "
                f"encoding={self.encoding!r})")


def circuit_to_config(circuit: cirq.Circuit) -> dict:
    """JSON-able form of a circuit for a layer config (``cirq.to_json``).

    Example:
        >>> import json
        >>> c = cirq.Circuit(cirq.X(cirq.LineQubit(0)))
        >>> circuit_from_config(json.loads(json.dumps(circuit_to_config(c)))) == c
        True
    """
    return {"cirq_json": cirq.to_json(circuit)}


def circuit_from_config(value: Mapping) -> cirq.Circuit:
    """Inverts :func:`circuit_to_config`."""
    return cirq.read_json(json_text=value["cirq_json"])
