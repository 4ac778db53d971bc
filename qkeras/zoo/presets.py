"""The released zoo models: data only, registered at import.

No model is released yet: the recipes in ``zoo/<name>/recipe.yaml`` are in place, and an
entry is added here only together with its trained weights, its ``metrics.json`` (written
by ``scripts/zoo/train.py``) and its model card, in one commit. A release looks like::

    register(ZooEntry(
        name="qcnn-pneumoniamnist", version="1.0.0", task="binary-classification",
        classes=("normal", "pneumonia"),
        inputs=InputSpec(shape=(28, 28, 1), dtype="float32", value_range=(0.0, 1.0),
                         modality="chest X-ray", preprocessing="grey, scaled to [0, 1]"),
        data="PneumoniaMNIST (MedMNIST v2)", split="official test split, 624 images",
        metrics=measured("qcnn-pneumoniamnist"),   # read from zoo/<name>/metrics.json
        licence="CC BY 4.0", attribution="Kermany et al., Cell 2018; Yang et al., 2023",
        file="qcnn-pneumoniamnist-1.0.0-<sha256[:8]>.keras", sha256="<64 hex>",
        size=<bytes>, url="<release URL>", recipe="zoo/qcnn-pneumoniamnist/recipe.yaml",
        intended_use="Research and education only; not for diagnosis.",
        changelog={"1.0.0": "First release."},
        threshold=measured_threshold("qcnn-pneumoniamnist")))

Example:
    >>> RELEASED
    ()
"""

from __future__ import annotations

from qkeras.zoo.entry import ZooEntry
from qkeras.zoo.registry import register

__all__ = ["RELEASED"]

#: The released entries, in release order.
RELEASED: tuple[ZooEntry, ...] = ()

for _entry in RELEASED:
    register(_entry)
