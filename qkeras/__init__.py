"""qkeras: a high-level Keras API for hybrid quantum-classical machine learning.

``import qkeras`` routes ``tf.keras`` to tf_keras (Keras 2, the Keras that TensorFlow
Quantum speaks) and re-exports it as ``qkeras.keras``.

Example:
    >>> import qkeras as qk
    >>> qk.keras.__name__
    'tf_keras'
"""

from qkeras._env import use_legacy_keras as _use_legacy_keras

_use_legacy_keras()

import importlib as _importlib  # noqa: E402

import tf_keras as keras  # noqa: E402

# Importing the layers registers them with Keras, so load_model works after `import qkeras`.
from qkeras import backends, circuits, config, errors, layers  # noqa: E402
from qkeras._version import __version__  # noqa: E402

_use_legacy_keras()  # TensorFlow is imported now: check tf.keras resolved to tf_keras

_LAZY = ("callbacks", "export", "hardware", "medical", "models", "noise", "serve", "zoo")

__all__ = ["keras", "backends", "circuits", "config", "errors", "layers", "__version__",
           *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        module = _importlib.import_module(f"qkeras.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'qkeras' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
