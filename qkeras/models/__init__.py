"""Models built from qkeras layers: QCNN, quantum GANs, hybrid transfer learning.

Every model here is a Keras layer or model with ``get_config``/``from_config``,
registered with Keras, so ``model.save`` and ``keras.models.load_model`` round-trip it.

Example:
    >>> from qkeras import models
    >>> models.QCNN(8).weight_symbols[-1]
    w62
"""

from qkeras.models.distributions import (
    bimodal,
    discretize,
    lognormal,
    median_bandwidth,
    mmd,
    relative_entropy,
)
from qkeras.models.generators import PatchQuantumGenerator, QuantumGenerator
from qkeras.models.image_grid import image_grid, save_image_grid
from qkeras.models.qcnn import QCNN, cluster_excitations
from qkeras.models.qgan import (
    DistributionQGAN,
    QuantumGAN,
    distribution_discriminator,
    image_discriminator,
)
from qkeras.models.transfer import HybridTransfer, application_names

__all__ = [
    "QCNN", "cluster_excitations",
    "QuantumGenerator", "PatchQuantumGenerator", "DistributionQGAN", "QuantumGAN",
    "distribution_discriminator", "image_discriminator",
    "lognormal", "bimodal", "discretize", "relative_entropy", "mmd", "median_bandwidth",
    "image_grid", "save_image_grid", "HybridTransfer", "application_names",
]
