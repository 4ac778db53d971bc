r"""Readout-error mitigation by confusion-matrix inversion (tensored, one matrix per qubit).

Qubit :math:`q`'s confusion matrix is

.. math:: A_q = \begin{pmatrix} 1 - p_q(1|0) & p_q(0|1) \\ p_q(1|0) & 1 - p_q(0|1)
          \end{pmatrix},

measured with two calibration circuits (all qubits in :math:`|0\rangle`, all in
:math:`|1\rangle`) sent as one job. With independent readout errors the measured
distribution is :math:`(\bigotimes_q A_q) p`, so a Z-string's mitigated expectation is the
mean over shots of :math:`\prod_q v_q[b_q]` with :math:`v_q = (1, -1) A_q^{-1}`: no
:math:`2^n` vector is ever built.

Example:
    >>> import cirq
    >>> q = cirq.LineQubit(0)
    >>> mitigator = ReadoutMitigator({q: (0.02, 0.06)})
    >>> np.round(mitigator.weights(q), 4)
    array([ 1.0435, -1.1304])
"""

from __future__ import annotations

import dataclasses

import cirq
import numpy as np

from qkeras.errors import HardwareError

__all__ = ["ReadoutMitigator"]


@dataclasses.dataclass(frozen=True)
class ReadoutMitigator:
    """Per-qubit readout errors ``{qubit: (p(1|0), p(0|1))}`` and their inversion."""

    errors: dict

    @classmethod
    def calibrate(cls, sampler: cirq.Sampler, qubits, *, repetitions: int = 1000
                  ) -> ReadoutMitigator:
        """Measures each qubit's readout errors on ``sampler`` (one ``run_batch`` call).

        Raises:
            HardwareError: If a qubit's matrix is singular (``p(1|0) + p(0|1) >= 1``).

        Example:
            >>> q = cirq.LineQubit.range(2)
            >>> m = ReadoutMitigator.calibrate(cirq.Simulator(seed=0), q, repetitions=100)
            >>> m.errors[q[0]]
            (0.0, 0.0)
        """
        qubits = list(qubits)
        zeros = cirq.Circuit(cirq.measure(*qubits, key="m"))
        ones = cirq.Circuit(cirq.X.on_each(*qubits), cirq.measure(*qubits, key="m"))
        results = sampler.run_batch([zeros, ones], repetitions=repetitions)
        flip_up = results[0][0].measurements["m"].mean(axis=0)
        flip_down = 1 - results[1][0].measurements["m"].mean(axis=0)
        errors = {q: (float(u), float(d)) for q, u, d in zip(qubits, flip_up, flip_down)}
        bad = [str(q) for q, (u, d) in errors.items() if u + d >= 0.95]
        if bad:
            raise HardwareError(f"Readout of {', '.join(bad)} is too noisy to invert "
                                "(p(1|0) + p(0|1) >= 0.95); choose other qubits.")
        return cls(errors)

    def matrix(self, qubit) -> np.ndarray:
        """Returns :math:`A_q` (columns: prepared 0, 1; rows: read 0, 1)."""
        up, down = self.errors[qubit]
        return np.array([[1 - up, down], [up, 1 - down]])

    def weights(self, qubit) -> np.ndarray:
        """Returns :math:`v_q = (1, -1) A_q^{-1}`, the mitigated value of reading 0 and 1."""
        if qubit not in self.errors:
            return np.array([1.0, -1.0])
        return np.array([1.0, -1.0]) @ np.linalg.inv(self.matrix(qubit))

    def expectation_z(self, bits: np.ndarray, columns) -> float:
        """Mitigated expectation of the Z-string on ``columns`` of ``bits`` (shots, qubits).

        ``columns`` maps a qubit to its column.

        Example:
            >>> q = cirq.LineQubit(0)
            >>> bits = np.array([[0]] * 94 + [[1]] * 6)
            >>> round(ReadoutMitigator({q: (0.06, 0.0)}).expectation_z(bits, {q: 0}), 6)
            1.0
        """
        factors = np.ones(bits.shape[0])
        for qubit, column in columns.items():
            factors *= self.weights(qubit)[bits[:, column]]
        return float(factors.mean())
