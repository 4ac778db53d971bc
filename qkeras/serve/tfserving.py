"""TensorFlow Serving's REST API: URLs, request and response JSON, errors.

Follows https://www.tensorflow.org/tfx/serving/api_rest:

* ``GET /v1/models/{name}[/versions/{v}|/labels/{l}]`` -> ``{"model_version_status": [...]}``
* ``GET .../metadata`` -> ``{"model_spec": ..., "metadata": {"signature_def": ...}}``
* ``POST .../{name}[...]:predict`` with ``{"signature_name"?, "instances": [...]}`` (row
  format, answered with ``{"predictions": [...]}``) or ``{"inputs": ...}`` (columnar,
  answered with ``{"outputs": ...}``).
* Errors are ``{"error": "<message>"}`` with the HTTP status TF Serving maps the gRPC
  code to (:data:`HTTP_STATUS`).

Example:
    >>> parse_path("half_plus_two/versions/3:predict")
    ModelPath(name='half_plus_two', version=3, label=None, verb='predict')
    >>> http_status("NOT_FOUND")
    404
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from qkeras.errors import ServingError
from qkeras.serve.servable import Servable, Signature

__all__ = ["ModelPath", "parse_path", "http_status", "error_body", "parse_predict",
           "format_predict", "status_body", "metadata_body", "to_array", "HTTP_STATUS"]

#: gRPC status code -> HTTP status, as TensorFlow Serving's HTTP server maps them.
HTTP_STATUS = {"OK": 200, "CANCELLED": 499, "UNKNOWN": 500, "INVALID_ARGUMENT": 400,
               "DEADLINE_EXCEEDED": 504, "NOT_FOUND": 404, "ALREADY_EXISTS": 409,
               "PERMISSION_DENIED": 403, "RESOURCE_EXHAUSTED": 429,
               "FAILED_PRECONDITION": 400, "ABORTED": 409, "OUT_OF_RANGE": 400,
               "UNIMPLEMENTED": 501, "INTERNAL": 500, "UNAVAILABLE": 503, "DATA_LOSS": 500,
               "UNAUTHENTICATED": 401}

_PATH = re.compile(r"^(?P<name>[^/:]+)(?:/versions/(?P<version>\d+)|/labels/(?P<label>[^/:]+))?"
                   r"(?:(?P<metadata>/metadata)|:(?P<verb>[a-z]+))?$")


class ModelPath(NamedTuple):
    """The parts of a ``/v1/models/...`` path."""

    name: str
    version: int | None
    label: str | None
    verb: str | None


@functools.lru_cache(maxsize=1024)  # a server sees the same few paths again and again
def parse_path(rest: str, method: str = "POST") -> ModelPath:
    """Parses what follows ``/v1/models/``; ``verb`` is ``"metadata"`` for ``.../metadata``.

    Raises:
        ServingError: TF Serving's "Malformed request" for anything else.

    Example:
        >>> parse_path("mnist/versions/2:predict")
        ModelPath(name='mnist', version=2, label=None, verb='predict')
    """
    match = _PATH.match(rest)
    if not match:
        raise ServingError(f"Malformed request: {method} /v1/models/{rest}", "INVALID_ARGUMENT")
    version = int(match["version"]) if match["version"] else None
    verb = "metadata" if match["metadata"] else match["verb"]
    return ModelPath(match["name"], version, match["label"], verb)


def http_status(code: str) -> int:
    """The HTTP status of a gRPC status code name (500 for unknown names)."""
    return HTTP_STATUS.get(code, 500)


def error_body(message: str) -> dict:
    """TF Serving's error JSON."""
    return {"error": message}


def to_array(value, info, what: str) -> np.ndarray:
    """Converts a JSON value to the input's dtype and checks its shape against the signature.

    Raises:
        ServingError: Ragged lists, wrong types, a wrong shape or non-finite values.

    Example:
        >>> from qkeras.serve.servable import TensorInfo
        >>> info = TensorInfo("x", np.dtype("float32"), (None, 2))
        >>> to_array([[1, 2]], info, "x")
        array([[1., 2.]], dtype=float32)
        >>> to_array([[1, 2, 3]], info, "x")
        Traceback (most recent call last):
        ...
        qkeras.errors.ServingError: x: expects shape [-1, 2]; got [1, 3].
    """
    try:
        array = np.asarray(value, dtype=info.dtype)
    except (ValueError, TypeError) as err:
        raise ServingError(f"{what}: cannot read the value as a dense {info.dtype.name} "
                           f"tensor ({str(err).splitlines()[0]}); send numbers in nested "
                           "lists of equal length.") from err
    shape = array.shape
    if info.shape is not None and not _shape_fits(shape, info.shape):
        expected = [-1 if w is None else w for w in info.shape]
        raise ServingError(f"{what}: expects shape {expected}; got {list(shape)}.")
    if array.dtype.kind == "f" and not _finite_sum(array) and not np.isfinite(array).all():
        raise ServingError(f"{what}: contains NaN or infinite values.")
    return array


def _shape_fits(shape: tuple, want: tuple) -> bool:
    """Whether ``shape`` matches ``want`` (``None``: any size); the common case, a known
    shape but for the batch, is one tuple comparison."""
    if len(shape) != len(want):
        return False
    if want and want[0] is None and shape[1:] == want[1:]:
        return True
    return all(w is None or w == g for w, g in zip(want, shape))


#: Most values summed in Python floats for the finite check (a request's row or few).
_PYTHON_SUM_MAX = 64


def _finite_sum(array: np.ndarray) -> bool:
    """Whether the sum of ``array`` is finite, which means its values are (NaN and
    infinities carry into it; a sum that overflows is not finite, and the caller then
    checks every value). A small array is summed in Python floats, which for a few values
    is cheaper than a NumPy reduction; for float32 and float16 values that sum cannot
    overflow."""
    if array.size <= _PYTHON_SUM_MAX:
        return math.isfinite(sum(array.ravel().tolist()))
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is an answer here
        return math.isfinite(np.add.reduce(array, axis=None))


def _instances(instances: list, sig: Signature) -> dict[str, np.ndarray]:
    inputs = sig.inputs
    if not isinstance(instances[0], dict):  # rows of one input: the list is its tensor
        if len(inputs) > 1:
            raise ServingError("instances is a plain list, but expecting list of objects as "
                               "multiple input tensors required as per tensorinfo_map")
        for index in range(1, len(instances)):
            if isinstance(instances[index], dict):
                raise ServingError(f"Expecting value/list but got object at item {index} of "
                                   "input list")
        return {name: to_array(instances, info, f"instances for input '{name}'")
                for name, info in inputs.items()}
    names = list(inputs)
    columns: dict[str, list] = {n: [] for n in names}
    for index, item in enumerate(instances):
        if not isinstance(item, dict):
            raise ServingError(f"Expecting object but got list at item {index} of input list")
        if item.keys() != columns.keys():
            raise ServingError(f"Failed to process element: {index} of 'instances' list. "
                               f"JSON object must only have keys: {','.join(names)}")
        for n in names:
            columns[n].append(item[n])
    return {n: to_array(v, inputs[n], f"instances for input '{n}'") for n, v in columns.items()}


def parse_predict(body: object, servable: Servable, *, max_rows: int,
                  ) -> tuple[str, Signature, dict[str, np.ndarray]]:
    """Reads a predict request: ``(format, signature, inputs)`` with format ``"row"`` or
    ``"columnar"``.

    Raises:
        ServingError: ``INVALID_ARGUMENT`` with TF Serving's message for a malformed body,
            unknown signature, missing input, wrong shape or more rows than ``max_rows``.
    """
    if not isinstance(body, dict):
        raise ServingError("JSON Value: is not an object; the request body must be a JSON "
                           "object with 'instances' or 'inputs'.")
    name = body.get("signature_name", "")
    if not isinstance(name, str):
        raise ServingError("'signature_name' key must be a string value.")
    sig = servable.signature(name)
    has_instances, has_inputs = "instances" in body, "inputs" in body
    if has_instances and has_inputs:
        raise ServingError("Not formatted correctly expecting only one of 'inputs' or "
                           "'instances' keys to exist")
    if has_instances:
        instances = body["instances"]
        if not isinstance(instances, list):
            raise ServingError("Excepting 'instances' to be an list/array")
        if not instances:
            raise ServingError("No values in 'instances' array")
        if len(instances) > max_rows:
            raise ServingError(f"'instances' holds {len(instances)} rows; this server takes "
                               f"at most {max_rows} per request. Split the request.")
        return "row", sig, _instances(instances, sig)
    if not has_inputs:
        raise ServingError("Missing 'inputs' or 'instances' key")
    value, names = body["inputs"], list(sig.inputs)
    if not isinstance(value, dict):
        if len(names) > 1:
            raise ServingError("inputs is a plain value/list, but expecting an object as "
                               "multiple input tensors required as per tensorinfo_map")
        value = {names[0]: value}
    inputs = {}
    for n in names:
        if n not in value:
            raise ServingError(f"Missing named input: {n} in 'inputs' object.")
        inputs[n] = to_array(value[n], sig.inputs[n], f"inputs['{n}']")
    rows = {len(a) for a in inputs.values() if a.ndim}
    if len(rows) > 1:
        raise ServingError(f"The inputs have different batch sizes {sorted(rows)}; give "
                           "every input the same number of rows.")
    if rows and max(rows) > max_rows:
        raise ServingError(f"'inputs' holds {max(rows)} rows; this server takes at most "
                           f"{max_rows} per request. Split the request.")
    return "columnar", sig, inputs


def format_predict(kind: str, outputs: Mapping[str, np.ndarray]) -> dict:
    """The response of a predict call in the request's format."""
    if kind == "columnar":
        if len(outputs) == 1:
            return {"outputs": next(iter(outputs.values()))}
        return {"outputs": dict(outputs)}
    if len(outputs) == 1:
        return {"predictions": next(iter(outputs.values()))}
    n = len(next(iter(outputs.values())))
    return {"predictions": [{k: v[i] for k, v in outputs.items()} for i in range(n)]}


def status_body(rows: list[dict]) -> dict:
    """``GET /v1/models/{name}`` response."""
    return {"model_version_status": rows}


def _tensor_info(info, prefix: str) -> dict:
    dims = [] if info.shape is None else [{"size": str(-1 if d is None else d), "name": ""}
                                          for d in info.shape]
    return {"dtype": info.tf_dtype, "tensor_shape": {"dim": dims,
                                                     "unknown_rank": info.shape is None},
            "name": f"{prefix}_{info.name}:0"}


def metadata_body(servable: Servable) -> dict:
    """``GET .../metadata`` response: the signature map, as TF Serving renders it."""
    defs = {}
    for key, sig in sorted(servable.signatures.items()):
        defs[key] = {"inputs": {n: _tensor_info(i, key) for n, i in sig.inputs.items()},
                     "outputs": {n: _tensor_info(i, "StatefulPartitionedCall")
                                 for n, i in sig.outputs.items()},
                     "method_name": "tensorflow/serving/predict", "defaults": {}}
    return {"model_spec": {"name": servable.name, "signature_name": "",
                           "version": str(servable.version)},
            "metadata": {"signature_def": {
                "signature_def": defs,
                "@type": "type.googleapis.com/tensorflow.serving.SignatureDefMap"}}}
