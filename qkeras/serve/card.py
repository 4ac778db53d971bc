"""The serving card: what a served model's classes and input are, beside its SavedModel.

TensorFlow Serving reads only ``saved_model.pb`` and ``variables/`` from a version
directory and ignores other files, so qkeras keeps what image classification needs next
to them: ``qkeras.json`` (class names and the zoo :class:`~qkeras.zoo.entry.InputSpec`)
and, optionally, ``explain.keras`` (the Keras model, for Grad-CAM, which needs layers
rather than a graph). Zoo models carry the same facts in their entry.

Example:
    >>> import tempfile
    >>> from qkeras.zoo.entry import InputSpec
    >>> folder = tempfile.mkdtemp()
    >>> spec = InputSpec((8, 8, 1), "float32", (0.0, 1.0), "digit")
    >>> _ = write_card(folder, classes=["zero", "one"], inputs=spec)
    >>> read_card(folder).classes
    ('zero', 'one')
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path

from qkeras._files import atomic_write
from qkeras.errors import ConfigurationError
from qkeras.zoo.entry import InputSpec

__all__ = ["ServingCard", "write_card", "read_card", "CARD_FILE", "EXPLAIN_FILE"]

CARD_FILE = "qkeras.json"
EXPLAIN_FILE = "explain.keras"


@dataclasses.dataclass(frozen=True)
class ServingCard:
    """Classes and input of a served image classifier.

    Attributes:
        classes: Class names in output order (two for a one-unit sigmoid output).
        inputs: Shape (without batch), dtype and value range of one input image.
        explain_path: A Keras model file for Grad-CAM, or ``None``.
    """

    classes: tuple
    inputs: InputSpec
    explain_path: Path | None = None

    def to_dict(self) -> dict:
        """The card as plain JSON values."""
        return {"classes": list(self.classes), "inputs": dataclasses.asdict(self.inputs),
                "explain": self.explain_path is not None}


def write_card(version_dir: str | os.PathLike, *, classes: Sequence[str], inputs: InputSpec,
               model=None) -> Path:
    """Writes ``qkeras.json`` (and ``explain.keras`` if ``model`` is given) into a version.

    Args:
        version_dir: A version directory, e.g. from :func:`qkeras.export.for_serving`.
        classes: Class names in output order.
        inputs: The image input the model expects.
        model: The Keras model, saved beside the SavedModel for Grad-CAM explanations.

    Returns:
        The card file.

    Raises:
        ConfigurationError: Fewer than two classes, or an input shape that is not an
            image ``(height, width, channels)``.

    Example:
        >>> import tempfile
        >>> spec = InputSpec((28, 28), "float32", (0.0, 1.0), "CXR")
        >>> write_card(tempfile.mkdtemp(), classes=["a", "b"], inputs=spec)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qkeras.errors.ConfigurationError: inputs.shape must be (height, width, channels)...
    """
    shape = tuple(int(n) for n in inputs.shape)
    if len(shape) != 3 or shape[2] not in (1, 3):
        raise ConfigurationError("inputs.shape must be (height, width, channels) with 1 or 3 "
                                 f"channels; got {shape}.")
    if len(classes) < 2:
        raise ConfigurationError(f"A classifier needs at least two class names; got "
                                 f"{list(classes)}.")
    folder = Path(version_dir)
    folder.mkdir(parents=True, exist_ok=True)
    card = {"classes": [str(c) for c in classes],
            "inputs": {**dataclasses.asdict(inputs), "shape": list(shape),
                       "value_range": [float(v) for v in inputs.value_range]}}
    if model is not None:
        model.save(folder / EXPLAIN_FILE)
        card["explain"] = EXPLAIN_FILE
    path = atomic_write(folder / CARD_FILE, json.dumps(card, indent=2), mode=0o644)
    return path


def read_card(version_dir: str | os.PathLike) -> ServingCard | None:
    """Reads the card of a version directory; ``None`` when it has none.

    Raises:
        ConfigurationError: The card exists but is malformed.

    Example:
        >>> import tempfile
        >>> read_card(tempfile.mkdtemp()) is None
        True
    """
    folder = Path(version_dir)
    path = folder / CARD_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        spec = data["inputs"]
        inputs = InputSpec(shape=tuple(spec["shape"]), dtype=spec.get("dtype", "float32"),
                           value_range=tuple(spec["value_range"]),
                           modality=spec.get("modality", ""),
                           preprocessing=spec.get("preprocessing", ""))
        explain = data.get("explain")
        return ServingCard(tuple(data["classes"]), inputs,
                           folder / explain if explain else None)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigurationError(f"{path} is not a valid serving card ({err}); rewrite it "
                                 "with qkeras.serve.write_card.") from err
