"""The models a server holds: TF Serving's ``<base>/<name>/<version>/`` layout, hot-reloaded.

:class:`ModelRepository` scans a base directory the way TensorFlow Serving's file-system
source does. A *model* is a directory whose children include version directories (names
that are positive integers) holding a ``saved_model.pb``. The base directory may be one
model's directory itself (TF Serving's ``--model_base_path``) or a folder of them.

The version policy is TF Serving's: ``"latest"`` serves the highest version only,
``"all"`` every version. A background thread polls the directory every ``poll_seconds``;
a new version is loaded in that thread (requests keep going to the loaded ones), then the
model table is replaced in one assignment, so a request sees either the old table or the
new one, never a partial one. A version that fails to load is reported in the status
with its error and retried only when its directory changes.

Example:
    >>> import tempfile
    >>> from qkeras import keras
    >>> from qkeras.export import for_serving
    >>> base = tempfile.mkdtemp()
    >>> model = keras.Sequential([keras.Input((2,), name="x"), keras.layers.Dense(1)])
    >>> _ = for_serving(model, base, "demo")
    >>> repo = ModelRepository(base)
    >>> repo.scan()
    [('demo', 1)]
    >>> repo.get("demo").version
    1
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from qkeras.errors import ConfigurationError, ServingError
from qkeras.serve.servable import Servable

__all__ = ["ModelRepository", "VERSION_POLICIES"]

log = logging.getLogger(__name__)

VERSION_POLICIES = ("latest", "all")


def _versions(model_dir: Path) -> dict[int, Path]:
    found = {}
    for child in model_dir.iterdir() if model_dir.is_dir() else ():
        if child.name.isdigit() and int(child.name) > 0 and (child / "saved_model.pb").is_file():
            found[int(child.name)] = child
    return found


def _stamp(path: Path) -> float:
    try:
        return (path / "saved_model.pb").stat().st_mtime
    except OSError:
        return 0.0


class ModelRepository:
    """Loads, lists and hot-reloads the models under a base directory.

    Args:
        base_dir: A model base directory, or ``None`` for models added with :meth:`add`.
        model_names: Serve only these names (default every model found). When
            ``base_dir`` is one model's directory, the first name renames it.
        version_policy: ``"latest"`` or ``"all"``.
        poll_seconds: Interval of the background scan (:meth:`start`); ``0`` disables it.
        labels: Model name -> {label: version}, TF Serving's version labels.
        on_load: Called with each newly loaded :class:`Servable` (for metrics).

    Raises:
        ConfigurationError: Unknown version policy, negative interval, or a base
            directory that does not exist.
    """

    def __init__(self, base_dir: str | os.PathLike | None = None, *,
                 model_names: Sequence[str] = (), version_policy: str = "latest",
                 poll_seconds: float = 2.0, labels: Mapping[str, Mapping[str, int]] | None = None,
                 on_load: Callable[[Servable], None] | None = None) -> None:
        if version_policy not in VERSION_POLICIES:
            raise ConfigurationError(f"version_policy must be one of {VERSION_POLICIES}; got "
                                     f"{version_policy!r}.")
        if poll_seconds < 0:
            raise ConfigurationError(f"poll_seconds must be >= 0; got {poll_seconds}.")
        self.base_dir = Path(base_dir) if base_dir is not None else None
        if self.base_dir is not None and not self.base_dir.is_dir():
            raise ConfigurationError(f"Model base directory {self.base_dir} does not exist; "
                                     "export a model into it with qkeras.export.for_serving "
                                     "or `qkeras export MODEL DIR --name NAME`.")
        self.model_names = tuple(model_names)
        self.version_policy, self.poll_seconds = version_policy, poll_seconds
        self.labels = {k: dict(v) for k, v in (labels or {}).items()}
        self.on_load = on_load
        self._table: dict[str, dict[int, Servable]] = {}
        self._static: dict[str, dict[int, Servable]] = {}
        self._failed: dict[tuple[str, int], tuple[float, str]] = {}
        self._scan_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # Discovery --------------------------------------------------------------------------

    def _model_dirs(self) -> dict[str, Path]:
        if self.base_dir is None:
            return {}
        if _versions(self.base_dir):  # the base is one model's directory
            name = self.model_names[0] if self.model_names else self.base_dir.name
            return {name: self.base_dir}
        dirs = {p.name: p for p in sorted(self.base_dir.iterdir()) if p.is_dir()
                and not p.name.startswith(".") and _versions(p)}
        if self.model_names:
            dirs = {k: v for k, v in dirs.items() if k in self.model_names}
        return dirs

    def _wanted(self, versions: dict[int, Path]) -> dict[int, Path]:
        if self.version_policy == "latest" and versions:
            top = max(versions)
            return {top: versions[top]}
        return versions

    def scan(self) -> list[tuple[str, int]]:
        """Scans the base directory once; loads new versions and drops removed ones.

        Returns:
            The ``(name, version)`` pairs loaded by this scan.
        """
        with self._scan_lock:
            current = self._table
            table: dict[str, dict[int, Servable]] = {k: dict(v) for k, v in self._static.items()}
            loaded = []
            for name, model_dir in self._model_dirs().items():
                entry = table.setdefault(name, {})
                for version, path in sorted(self._wanted(_versions(model_dir)).items()):
                    old = current.get(name, {}).get(version)
                    if old is not None:
                        entry[version] = old
                        continue
                    servable = self._load(name, version, path)
                    if servable is not None:
                        entry[version] = servable
                        loaded.append((name, version))
            self._table = table  # one assignment: readers see the old or the new table
        return loaded

    def _load(self, name: str, version: int, path: Path) -> Servable | None:
        stamp = _stamp(path)
        failed = self._failed.get((name, version))
        if failed and failed[0] == stamp:
            return None
        try:
            servable = Servable.from_saved_model(path, name, version)
        except Exception as err:  # noqa: BLE001  (any load failure is reported in status)
            message = f"{type(err).__name__}: {str(err).splitlines()[0][:300] if str(err) else ''}"
            self._failed[(name, version)] = (stamp, message)
            log.error("cannot load model %s version %d from %s: %s", name, version, path,
                      message)
            return None
        self._failed.pop((name, version), None)
        log.info("loaded model %s version %d in %.2f s", name, version, servable.load_seconds)
        if self.on_load is not None:
            self.on_load(servable)
        return servable

    def add(self, servable: Servable) -> None:
        """Serves a model that does not come from the base directory (a zoo or Keras model)."""
        with self._scan_lock:
            self._static.setdefault(servable.name, {})[servable.version] = servable
            table = {k: dict(v) for k, v in self._table.items()}
            table.setdefault(servable.name, {})[servable.version] = servable
            self._table = table
        if self.on_load is not None:
            self.on_load(servable)

    # Background polling ------------------------------------------------------------------

    def start(self) -> None:
        """Starts the polling thread (if ``poll_seconds > 0`` and a base dir is set)."""
        if self._thread is not None or not self.poll_seconds or self.base_dir is None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, name="qkeras-serve-poll",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops the polling thread and waits for a scan in progress to finish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.scan()
            except OSError as err:  # the directory vanished for a while: keep serving
                log.warning("scanning %s failed: %s", self.base_dir, err)

    # Look-ups ------------------------------------------------------------------------------

    def names(self) -> list[str]:
        """Names of the models with at least one loaded version."""
        return sorted(k for k, v in self._table.items() if v)

    def versions(self, name: str) -> dict[int, Servable]:
        """Loaded versions of a model (empty if none)."""
        return dict(self._table.get(name, {}))

    def get(self, name: str, version: int | None = None, label: str | None = None,
            ) -> Servable:
        """Returns the servable for a request: a version, a label, or the highest version.

        Raises:
            ServingError: ``NOT_FOUND`` with TensorFlow Serving's message.
        """
        versions = self._table.get(name, {})
        if label is not None:
            if label not in self.labels.get(name, {}):
                raise ServingError(f"Unrecognized servable version label: {label}",
                                   "INVALID_ARGUMENT")
            version = self.labels[name][label]
        if version is not None:
            if version not in versions:
                raise ServingError(f"Servable not found for request: Specific({name}, "
                                   f"{version})", "NOT_FOUND")
            return versions[version]
        if not versions:
            raise ServingError(f"Servable not found for request: Latest({name})", "NOT_FOUND")
        return versions[max(versions)]

    def status(self, name: str, version: int | None = None) -> list[dict]:
        """TF Serving's ``model_version_status`` list for a model (or one version).

        Raises:
            ServingError: ``NOT_FOUND`` when the model (or version) is unknown.
        """
        rows = {v: ("AVAILABLE", "OK", "") for v in self._table.get(name, {})}
        for (model, v), (_, message) in self._failed.items():
            if model == name and v not in rows:
                rows[v] = ("END", "UNKNOWN", message)
        if version is not None:
            rows = {v: r for v, r in rows.items() if v == version}
        if not rows:
            what = f"Specific({name}, {version})" if version is not None else f"Latest({name})"
            raise ServingError(f"Could not find any versions of model {name}" if version is None
                               else f"Servable not found for request: {what}", "NOT_FOUND")
        return [{"version": str(v), "state": state,
                 "status": {"error_code": code, "error_message": message}}
                for v, (state, code, message) in sorted(rows.items(), reverse=True)]

    @property
    def ready(self) -> bool:
        """Whether every model served has at least one loaded version."""
        return bool(self._table) and all(self._table.values())

    def wait_for(self, name: str, version: int, timeout: float = 60.0) -> Servable:
        """Blocks until a version is loaded (for scripts and tests), else raises.

        Raises:
            ServingError: ``DEADLINE_EXCEEDED`` after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if version in self._table.get(name, {}):
                return self._table[name][version]
            self._stop.wait(0.05)
        raise ServingError(f"Model {name} version {version} did not load within {timeout} s.",
                           "DEADLINE_EXCEEDED")
