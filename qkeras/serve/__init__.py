"""``qkeras serve``: a model server that speaks TensorFlow Serving's REST API and KServe v2.

Stock TensorFlow Serving loads the portable SavedModels of :mod:`qkeras.export`; this
server is for where it is not at hand (a laptop, a hospital server without containers, a
model on a TFQ or hardware backend). It serves TF Serving's ``<base>/<name>/<version>/``
layout with hot reload (:class:`ModelRepository`), micro-batches concurrent requests
(:class:`MicroBatcher`), classifies PNG/JPEG/DICOM uploads with the preprocessing of a
serving card (:func:`write_card`) or a zoo entry, exports Prometheus metrics and serves
a demo page. See ``docs/serving.md``.

Example:
    >>> from qkeras import serve
    >>> serve.ServeOptions().batch_window_ms
    2.0
"""

from qkeras.serve.app import ServeOptions, create_app
from qkeras.serve.batching import MicroBatcher
from qkeras.serve.card import ServingCard, read_card, write_card
from qkeras.serve.metrics import ServeMetrics
from qkeras.serve.repository import ModelRepository
from qkeras.serve.servable import Servable
from qkeras.serve.server import build_repository, run, run_workers, zoo_servable

__all__ = ["ServeOptions", "create_app", "MicroBatcher", "ServingCard", "read_card",
           "write_card", "ServeMetrics", "ModelRepository", "Servable", "build_repository",
           "run", "run_workers", "zoo_servable"]
