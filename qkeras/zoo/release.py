"""Releasing a trained zoo model: its registry record, built from what training wrote.

A release is the folder ``zoo/<name>/`` (recipe, weights, ``metrics.json``, card) plus
one record in ``qkeras/zoo/released.json``, the registry that ships inside the package
(so an installed qkeras knows its models without this repository). Nothing in a record
is typed by hand: :func:`entry_from_folder` reads the recipe and ``metrics.json``, and
:func:`add_release` validates the entry, checks the weights' sha256, and rewrites the
registry file atomically. ``python scripts/zoo/release.py zoo/<name>`` runs both.

Example:
    >>> RELEASED_FILE.name
    'released.json'
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from qkeras._files import atomic_write
from qkeras.errors import ChecksumError, ZooError
from qkeras.zoo.entry import InputSpec, Metric, ZooEntry, repository_zoo

__all__ = ["RELEASED_FILE", "entry_from_folder", "entry_from_record", "read_released",
           "add_release"]

#: The registry file shipped with the package.
RELEASED_FILE = Path(__file__).with_name("released.json")


def entry_from_record(record: Mapping) -> ZooEntry:
    """Builds a :class:`ZooEntry` from its JSON record (``ZooEntry.to_dict()``).

    Raises:
        ZooError: For a malformed record.

    Example:
        >>> entry_from_record({"name": "m"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qkeras.errors.ZooError: Malformed zoo record 'm': ...
    """
    try:
        fields = dict(record)
        inputs = dict(fields.pop("inputs"))
        inputs["shape"] = tuple(inputs["shape"])
        inputs["value_range"] = tuple(inputs["value_range"])
        fields["inputs"] = InputSpec(**inputs)
        fields["metrics"] = {k: Metric(**v) for k, v in fields["metrics"].items()}
        fields["classes"] = tuple(fields["classes"])
        return ZooEntry(**fields)
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise ZooError(f"Malformed zoo record {record.get('name')!r}: {err!r}. Rebuild it "
                       "with scripts/zoo/release.py.") from err


def read_released(path: str | os.PathLike | None = None) -> list[ZooEntry]:
    """Reads the registry file (default :data:`RELEASED_FILE`); missing means none.

    Example:
        >>> read_released("/no/such/released.json")
        []
    """
    path = Path(path) if path is not None else RELEASED_FILE
    try:
        records = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as err:
        raise ZooError(f"Cannot read the zoo registry {path}: {err}. Restore it from "
                       "version control.") from err
    return [entry_from_record(r) for r in records]


def _metrics(report: Mapping) -> dict[str, Metric]:
    return {k: Metric(float(v["value"]), float(v["low"]), float(v["high"]),
                      float(v.get("confidence", 0.95)))
            for k, v in report["metrics"].items() if v.get("value") is not None
            and v.get("low") is not None}


def entry_from_folder(folder: str | os.PathLike, *, url: str = "",
                      changelog: Mapping[str, str] | None = None) -> ZooEntry:
    """Builds the entry of the model trained into ``folder`` (``zoo/<name>/``).

    Args:
        folder: Holds ``recipe.yaml``, ``metrics.json`` and the weights it names.
        url: Release URL of the weights, or ``""`` when the file is released in this
            repository only (then the cache, a ``QKERAS_ZOO_URL`` mirror or the checkout).
        changelog: Version -> change (default: "First release." for the version).

    Raises:
        ZooError: For missing or inconsistent files.
        ChecksumError: If the weights do not match ``metrics.json``.

    Example:
        >>> entry_from_folder("/no/such/folder")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qkeras.errors.ZooError: Cannot release /no/such/folder: ...
    """
    from qkeras.zoo.cache import sha256_of
    from qkeras.zoo.recipes import load_recipe

    folder = Path(folder)
    try:
        summary = json.loads((folder / "metrics.json").read_text())
        recipe = load_recipe(folder / "recipe.yaml")
    except (OSError, ValueError) as err:
        raise ZooError(f"Cannot release {folder}: {err}. Train it first with "
                       "scripts/zoo/train.py.") from err
    if summary.get("recipe", {}).get("sha256") != recipe.sha256:
        raise ZooError(f"{folder}/metrics.json was produced by another version of "
                       "recipe.yaml; train again before releasing.")
    if summary["recipe"].get("overrides"):
        raise ZooError(f"{folder}/metrics.json comes from a run that overrode the recipe "
                       f"({summary['recipe']['overrides']}); a release uses the recipe as "
                       "written.")
    weights = folder / summary["weights"]["file"]
    if not weights.is_file():
        raise ZooError(f"Cannot release {folder}: {weights.name} is missing.")
    if sha256_of(weights) != summary["weights"]["sha256"]:
        raise ChecksumError(f"{weights} does not match the sha256 in metrics.json.")
    report = summary["model"]["report"]
    data, card = summary["data"], recipe.card
    try:
        repo_path = folder.resolve().relative_to(repository_zoo().parent)
    except ValueError:
        repo_path = Path("zoo") / recipe.name
    return ZooEntry(
        name=recipe.name, version=recipe.version, task=recipe.task,
        classes=tuple(report.get("class_names") or data.get("class_names") or ()),
        inputs=InputSpec(shape=tuple(data["input_shape"]), dtype="float32",
                         value_range=(0.0, 1.0), modality=card.get("modality", ""),
                         preprocessing=card.get("preprocessing", "")),
        data=(f"{data['file']} ({data['provenance']}, sha256 {data['sha256'][:12]})"
              if data.get("sha256") else data["file"]),
        split=(f"test split, {data['sizes']['test']} images"
               + "".join(f"; {note}" for note in data.get("notes", []))),
        metrics=_metrics(report), licence=" ".join(card.get("licence", "").split()),
        attribution=" ".join(card.get("attribution", "").split()),
        file=weights.name, sha256=summary["weights"]["sha256"],
        size=int(summary["weights"]["size"]), url=url,
        recipe=(repo_path / "recipe.yaml").as_posix(),
        intended_use=" ".join(card.get("intended_use", "").split()),
        changelog=dict(changelog or {recipe.version: "First release."}),
        num_params=int(summary["model"]["num_params"]),
        threshold=report.get("threshold"), loader=dict(recipe.data), seed=recipe.seed)


def add_release(entry: ZooEntry, path: str | os.PathLike | None = None) -> Path:
    """Adds ``entry`` to the registry file, atomically; a released version is never replaced.

    Raises:
        ZooError: If that name and version is released already.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "released.json"
        >>> entry = ZooEntry("m", "1.0.0", "generation", (), InputSpec((1,), "float32",
        ...     (0, 1), "none"), "", "", {}, "", "", "m.keras", "0" * 64, 1, "", "", "",
        ...     {"1.0.0": "first"})
        >>> [e.name for e in read_released(add_release(entry, target))]
        ['m']
    """
    path = Path(path) if path is not None else RELEASED_FILE
    entries = read_released(path)
    if any(e.key == entry.key for e in entries):
        raise ZooError(f"{entry.name} {entry.version} is released already; bump the "
                       "recipe's version to release a new model.")
    entries.append(entry)
    entries.sort(key=lambda e: (e.name, tuple(int(p) for p in e.version.split("."))))
    text = json.dumps([e.to_dict() for e in entries], indent=2) + "\n"
    atomic_write(path, text, mode=0o644)
    return path
