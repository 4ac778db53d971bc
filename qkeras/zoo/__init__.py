"""The qkeras model zoo: released models with their data, metrics, licence and sha256.

``list()`` shows what is released, ``info(name)`` an entry's card data, ``load(name)`` the
model (downloaded into ``qkeras.config.home() / "zoo"``, sha256-verified, atomic; offline
from the cache, a ``QKERAS_ZOO_URL`` mirror or this repository's ``zoo/`` folder), and
``evaluate(name, data=...)`` recomputes its metrics from the weights and the data.
Recipes (``zoo/<name>/recipe.yaml``, :mod:`qkeras.zoo.recipes`) train the models
reproducibly with ``scripts/zoo/train.py``.

Example:
    >>> from qkeras import zoo
    >>> [e.name for e in zoo.list()] == zoo.registry.names()
    True
"""

from qkeras.zoo import presets, registry  # noqa: F401  (presets registers the releases)
from qkeras.zoo.client import download, evaluate, info, load
from qkeras.zoo.client import list_models as list  # noqa: A001
from qkeras.zoo.entry import InputSpec, Metric, ZooEntry, measured, measured_threshold
from qkeras.zoo.recipes import Recipe, build_model, load_recipe
from qkeras.zoo.registry import register, unregister
from qkeras.zoo.training import TrainingResult, train

__all__ = ["list", "info", "load", "download", "evaluate", "register", "unregister",
           "ZooEntry", "InputSpec", "Metric", "measured", "measured_threshold", "Recipe",
           "load_recipe", "build_model", "train", "TrainingResult", "registry"]
