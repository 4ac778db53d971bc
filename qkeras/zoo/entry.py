"""What a released zoo model is: frozen, validated records (data only, no behaviour).

A :class:`ZooEntry` carries everything a user needs to judge and reproduce a model: its
input, preprocessing, training data and split, the metrics the recipe measured on the test
split (read from ``zoo/<name>/metrics.json`` by :func:`measured`, never typed by hand),
licence and attribution, the weights file with its sha256, and a changelog.

Example:
    >>> spec = InputSpec(shape=(28, 28, 1), dtype="float32", value_range=(0.0, 1.0),
    ...                  modality="chest X-ray")
    >>> spec.shape
    (28, 28, 1)
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
from collections.abc import Mapping
from pathlib import Path

from qkeras.errors import ConfigurationError, ZooError
from qkeras.zoo.archive import SUFFIXES as _ARCHIVES

__all__ = ["InputSpec", "Metric", "ZooEntry", "measured", "measured_threshold",
           "repository_zoo", "TASKS"]

TASKS = ("binary-classification", "multiclass-classification", "generation")
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def repository_zoo() -> Path:
    """The ``zoo/`` folder of this source checkout (absent in an installed wheel).

    Example:
        >>> repository_zoo().name
        'zoo'
    """
    return Path(__file__).resolve().parents[2] / "zoo"


@dataclasses.dataclass(frozen=True)
class InputSpec:
    """The input a model expects (MONAI's ``network_data_format``).

    Attributes:
        shape: One sample's shape, e.g. ``(28, 28, 1)``.
        dtype: NumPy dtype name.
        value_range: ``(low, high)`` of the values.
        modality: Imaging modality, e.g. ``"chest X-ray"``.
        preprocessing: What to do to raw data first, in words.
    """

    shape: tuple
    dtype: str
    value_range: tuple
    modality: str
    preprocessing: str = ""


@dataclasses.dataclass(frozen=True)
class Metric:
    """A measured metric with its confidence interval.

    Example:
        >>> str(Metric(0.85, 0.82, 0.88, 0.95))
        '0.850 (95% CI 0.820-0.880)'
    """

    value: float
    low: float
    high: float
    confidence: float

    def __str__(self) -> str:
        if self.confidence >= 1.0:  # computed exactly, not estimated from a sample
            return f"{self.value:.4f} (exact)"
        return f"{self.value:.3f} ({self.confidence:.0%} CI {self.low:.3f}-{self.high:.3f})"


def _report(name: str, root: str | Path | None) -> tuple[dict, Path]:
    path = Path(root if root is not None else repository_zoo()) / name / "metrics.json"
    try:
        return json.loads(path.read_text())["model"]["report"], path
    except (OSError, KeyError, TypeError, ValueError) as err:
        raise ZooError(f"Cannot read the measured metrics of {name!r} from {path}: {err}. "
                       f"Run scripts/zoo/train.py zoo/{name}/recipe.yaml to produce them.") \
            from err


def measured_threshold(name: str, *, root: str | Path | None = None) -> float | None:
    """Reads the operating threshold the recipe used from ``<root>/<name>/metrics.json``.

    Example:
        >>> measured_threshold("no-such-model")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qkeras.errors.ZooError: Cannot read the measured metrics of 'no-such-model'...
    """
    report, _ = _report(name, root)
    return report.get("threshold")


def measured(name: str, *, root: str | Path | None = None) -> Mapping[str, Metric]:
    """Reads the test-split metrics a recipe wrote to ``<root>/<name>/metrics.json``.

    Args:
        name: The zoo name.
        root: Folder of the zoo (default :func:`repository_zoo`).

    Returns:
        Read-only mapping metric name -> :class:`Metric`, from
        ``metrics.json["model"]["report"]["metrics"]``.

    Raises:
        ZooError: If the file is missing or malformed.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp()) / "m"
        >>> folder.mkdir()
        >>> _ = (folder / "metrics.json").write_text(json.dumps({"model": {"report": {
        ...     "metrics": {"auroc": {"value": 0.9, "low": 0.8, "high": 0.95,
        ...                           "confidence": 0.95}}}}}))
        >>> str(measured("m", root=folder.parent)["auroc"])
        '0.900 (95% CI 0.800-0.950)'
    """
    report, path = _report(name, root)
    try:
        out = {k: Metric(float(v["value"]), float(v["low"]), float(v["high"]),
                         float(v["confidence"])) for k, v in report["metrics"].items()
               if v.get("value") is not None}
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ZooError(f"Malformed metrics in {path}: {err}. Produce the file with "
                       f"scripts/zoo/train.py zoo/{name}/recipe.yaml.") from err
    return types.MappingProxyType(out)


@dataclasses.dataclass(frozen=True)
class ZooEntry:
    """One released version of a zoo model.

    Attributes:
        name: Kebab-case name, e.g. ``"qcnn-pneumoniamnist"``.
        version: ``MAJOR.MINOR.PATCH``.
        task: One of :data:`TASKS`.
        classes: Class names in label order.
        inputs: The expected input.
        data: Training data, e.g. ``"PneumoniaMNIST (MedMNIST v2), official split"``.
        split: Which split the metrics are on and its size.
        metrics: Test-split metrics (:func:`measured`).
        licence: Licence of the weights.
        attribution: Whom to cite (data and methods).
        file: File name of the weights: a ``.keras`` model, or an archive
            (:data:`qkeras.zoo.archive.SUFFIXES`) holding one ``.keras`` file or a
            SavedModel folder.
        sha256: Hex sha256 of ``file``.
        size: Size of ``file`` in bytes.
        url: Release URL of ``file`` (``https://`` or ``file://``), or ``""``.
        recipe: Repository path of the recipe that trained it.
        intended_use: What it is for and not for.
        changelog: Version -> what changed.
        num_params: Parameters of the model.
        threshold: Operating threshold of a binary model's score (the recipe's, from
            :func:`measured_threshold`); ``None`` for multi-class (highest score).
        loader: The recipe's ``data`` section (how :func:`qkeras.zoo.data.load_splits`
            reads the test split; e.g. the duplicate removal of an image tree), so that
            :func:`qkeras.zoo.evaluate` measures on the same images.
        seed: The recipe's seed (it seeds the bootstrap of the metrics).

    Raises:
        ConfigurationError: For a bad name, version, task, sha256, file, size or
            changelog (all problems in one message).

    Example:
        >>> ZooEntry("Bad_Name", "1.0", "generation", (), InputSpec((1,), "float32", (0, 1),
        ...          "none"), "", "", {}, "", "", "m.keras", "0" * 64, 1, "", "", "",
        ...          {"1.0": "first"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qkeras.errors.ConfigurationError: Invalid zoo entry 'Bad_Name': name must be kebab-case...
    """

    name: str
    version: str
    task: str
    classes: tuple
    inputs: InputSpec
    data: str
    split: str
    metrics: Mapping[str, Metric]
    licence: str
    attribution: str
    file: str
    sha256: str
    size: int
    url: str
    recipe: str
    intended_use: str
    changelog: Mapping[str, str]
    num_params: int = 0
    threshold: float | None = 0.5
    loader: Mapping = dataclasses.field(default_factory=dict)
    seed: int = 0

    def __post_init__(self):
        problems = []
        if not _NAME.match(self.name):
            problems.append(f"name must be kebab-case (got {self.name!r})")
        if not _VERSION.match(self.version):
            problems.append(f"version must be MAJOR.MINOR.PATCH (got {self.version!r})")
        if self.task not in TASKS:
            problems.append(f"task must be one of {TASKS} (got {self.task!r})")
        if not _SHA256.match(self.sha256):
            problems.append("sha256 must be 64 lower-case hex digits")
        if not isinstance(self.size, int) or self.size < 1:
            problems.append(f"size must be the file's size in bytes (got {self.size!r})")
        if not self.file.endswith((".keras", *_ARCHIVES)) or "/" in self.file:
            problems.append("file must be a bare .keras file name or an archive's ("
                            + ", ".join(_ARCHIVES) + f"; got {self.file!r})")
        if self.version not in self.changelog:
            problems.append(f"changelog must say what version {self.version} changed")
        if problems:
            raise ConfigurationError(f"Invalid zoo entry {self.name!r}: "
                                     + "; ".join(problems) + ".")
        object.__setattr__(self, "classes", tuple(self.classes))
        object.__setattr__(self, "metrics", types.MappingProxyType(dict(self.metrics)))
        object.__setattr__(self, "changelog", types.MappingProxyType(dict(self.changelog)))
        object.__setattr__(self, "loader", types.MappingProxyType(dict(self.loader)))

    @property
    def key(self) -> tuple[str, str]:
        """``(name, version)``."""
        return self.name, self.version

    def to_dict(self) -> dict:
        """The entry as plain JSON-ready values."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["inputs"] = dataclasses.asdict(self.inputs)
        out["metrics"] = {k: dataclasses.asdict(m) for k, m in self.metrics.items()}
        out["changelog"] = dict(self.changelog)
        out["loader"] = dict(self.loader)
        return out
