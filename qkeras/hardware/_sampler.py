"""The base class of qkeras' vendor samplers: batching, shot budget, bounded retries.

A :class:`HardwareSampler` is a ``cirq.Sampler``: ``run_sweep`` runs one program over a
sweep, and ``run_batch`` runs many programs, each with its sweep, as **one** vendor job
(TensorFlow Quantum's issue #724 measured a 200x slow-down from one job per sample).
Subclasses implement :meth:`HardwareSampler._submit`, which receives every program of a
batch at once.

Example:
    >>> import cirq
    >>> class Echo(HardwareSampler):
    ...     vendor, device = "test", "echo"
    ...     def _submit(self, programs, sweeps, repetitions):
    ...         return [[cirq.ResultDict(params=p, records={}) for p in s] for s in sweeps]
    >>> sampler = Echo(shot_budget=150)
    >>> q = cirq.LineQubit(0)
    >>> len(sampler.run_batch([cirq.Circuit(cirq.measure(q))], repetitions=100))
    1
    >>> sampler.jobs_submitted, sampler.shots_used
    (1, 100)
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Callable, Sequence

import cirq

from qkeras.errors import ConfigurationError, HardwareError

log = logging.getLogger(__name__)

__all__ = ["HardwareSampler", "submit_with_retries"]


def submit_with_retries(submit: Callable[[], object], *, vendor: str, retries: int = 2,
                        backoff_s: float = 1.0, retry_on: tuple = (ConnectionError,
                                                                   TimeoutError)):
    """Calls ``submit()``; retries transient failures at most ``retries`` times.

    Args:
        submit: Submits a job and waits for its result.
        vendor: Named in the error.
        retries: How many times a transient failure (``retry_on``) is retried.
        backoff_s: Seconds to wait before the first retry; doubled each time.
        retry_on: Exception types deemed transient.

    Returns:
        What ``submit`` returns.

    Raises:
        HardwareError: After the last failed try, with the vendor's job id when the
            exception carries one (a ``job_id`` attribute).

    Example:
        >>> calls = []
        >>> def flaky():
        ...     calls.append(1)
        ...     if len(calls) < 2:
        ...         raise ConnectionError("reset by peer")
        ...     return "done"
        >>> submit_with_retries(flaky, vendor="ibm", backoff_s=0.0), len(calls)
        ('done', 2)
    """
    attempt = 0
    while True:
        try:
            return submit()
        except HardwareError:
            raise
        except retry_on as err:
            job_id = getattr(err, "job_id", None)
            if attempt >= retries:
                raise HardwareError(
                    f"{vendor} job failed after {attempt + 1} tries"
                    f"{f' (job id {job_id})' if job_id else ''}: {type(err).__name__}: "
                    f"{err}. Check the vendor's status page and the job in its console; "
                    "raise `retries` if the failures are transient.") from err
            wait = backoff_s * 2 ** attempt
            log.warning("%s job failed (%s%s); retry %d of %d in %.1f s", vendor,
                        type(err).__name__, f", job id {job_id}" if job_id else "",
                        attempt + 1, retries, wait)
            time.sleep(wait)
            attempt += 1


class HardwareSampler(cirq.Sampler, abc.ABC):
    """A ``cirq.Sampler`` that sends every batch to its vendor as one job.

    Args:
        shot_budget: Most shots this sampler may submit in its lifetime; a batch that
            would exceed it raises before anything is submitted. ``None``: no limit.
        retries: Transient failures retried per job.
        timeout_s: Seconds to wait for one job's result.

    Attributes:
        jobs_submitted: Jobs sent so far.
        circuits_run: Circuits sent so far (one per parameter set).
        shots_used: Shots sent so far (repetitions times parameter sets).
    """

    vendor = "?"
    device = "?"

    def __init__(self, *, shot_budget: int | None = None, retries: int = 2,
                 timeout_s: float = 3600.0):
        if shot_budget is not None and (not isinstance(shot_budget, int) or shot_budget < 1):
            raise ConfigurationError(
                f"shot_budget must be a positive integer or None; got {shot_budget!r}.")
        if not isinstance(retries, int) or retries < 0:
            raise ConfigurationError(f"retries must be an integer >= 0; got {retries!r}.")
        self.shot_budget, self.retries, self.timeout_s = shot_budget, retries, timeout_s
        self.jobs_submitted = 0
        self.circuits_run = 0
        self.shots_used = 0

    @property
    def spec(self) -> str:
        """The ``"vendor:device"`` string :func:`qkeras.hardware.sampler` rebuilds this from."""
        return f"{self.vendor}:{self.device}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.spec!r}>"

    @abc.abstractmethod
    def _submit(self, programs: list[cirq.AbstractCircuit], sweeps: list[list[cirq.ParamResolver]],
                repetitions: list[int]) -> list[list[cirq.Result]]:
        """Runs all ``programs`` (each over its resolvers) as one job; one list per program."""

    def _charge(self, sweeps: list[list], repetitions: list[int]) -> int:
        shots = sum(len(s) * r for s, r in zip(sweeps, repetitions))
        if self.shot_budget is not None and self.shots_used + shots > self.shot_budget:
            raise HardwareError(
                f"This {self.spec} job needs {shots} shots but only "
                f"{self.shot_budget - self.shots_used} of the shot budget of "
                f"{self.shot_budget} are left; nothing was submitted. Raise shot_budget, or "
                "lower repetitions, the batch size or the number of steps "
                "(qkeras.hardware.estimate_cost shows the cost of a run).")
        return shots

    def run_batch(self, programs: Sequence[cirq.AbstractCircuit], params_list=None,
                  repetitions: int | Sequence[int] = 1) -> list[list[cirq.Result]]:
        """Runs every program over its sweep in one vendor job.

        Args:
            programs: Circuits with measurements.
            params_list: One sweepable per program (``None``: no parameters).
            repetitions: Shots per parameter set, one number or one per program.

        Returns:
            For each program, one ``cirq.Result`` per parameter set of its sweep.

        Raises:
            HardwareError: If the shot budget would be exceeded, or the job fails.
        """
        programs = list(programs)
        if params_list is None:
            params_list = [None] * len(programs)
        if isinstance(repetitions, int):
            repetitions = [repetitions] * len(programs)
        if not (len(programs) == len(params_list) == len(repetitions)):
            raise ConfigurationError(
                f"run_batch needs as many sweeps and repetitions as programs; got "
                f"{len(programs)} programs, {len(params_list)} sweeps and "
                f"{len(repetitions)} repetitions.")
        sweeps = [list(cirq.to_resolvers(p)) for p in params_list]
        if not programs:
            return []
        shots = self._charge(sweeps, list(repetitions))
        log.info("submitting 1 %s job: %d circuits, %d shots", self.spec,
                 sum(len(s) for s in sweeps), shots)
        results = self._submit(programs, sweeps, list(repetitions))
        self.jobs_submitted += 1
        self.circuits_run += sum(len(s) for s in sweeps)
        self.shots_used += shots
        return results

    def run_sweep(self, program: cirq.AbstractCircuit, params=None,
                  repetitions: int = 1) -> list[cirq.Result]:
        """Runs one program over a sweep (one job); see :meth:`run_batch`."""
        return self.run_batch([program], [params], repetitions)[0]
