"""The Open Inference Protocol (KServe v2) over REST: metadata, readiness and ``/infer``.

Follows https://kserve.github.io/website/latest/modelserving/data_plane/v2_protocol/:
tensors travel as ``{"name", "shape", "datatype", "data"}`` with ``data`` flattened in
row-major order (nested lists are accepted too); errors are ``{"error": "<message>"}``
with status 400 (404 for an unknown model).

Example:
    >>> import numpy as np
    >>> output_tensor("y", np.array([[1.0], [2.0]], np.float32))
    {'name': 'y', 'datatype': 'FP32', 'shape': [2, 1], 'data': [1.0, 2.0]}
"""

from __future__ import annotations

import numpy as np

from qkeras._version import __version__
from qkeras.errors import ServingError
from qkeras.serve.servable import Servable, Signature
from qkeras.serve.tfserving import to_array

__all__ = ["server_metadata", "model_metadata", "parse_infer", "output_tensor", "DATATYPES"]

#: KServe v2 datatype -> NumPy dtype.
DATATYPES = {"BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32,
             "UINT64": np.uint64, "INT8": np.int8, "INT16": np.int16, "INT32": np.int32,
             "INT64": np.int64, "FP16": np.float16, "FP32": np.float32, "FP64": np.float64}
_NAMES = {np.dtype(v): k for k, v in DATATYPES.items()}


def datatype(dtype: np.dtype) -> str:
    """The v2 datatype name of a NumPy dtype (``"BYTES"`` for anything else).

    Example:
        >>> datatype(np.dtype("float32"))
        'FP32'
    """
    return _NAMES.get(np.dtype(dtype), "BYTES")


def server_metadata() -> dict:
    """``GET /v2`` response.

    Example:
        >>> server_metadata()["name"]
        'qkeras'
    """
    return {"name": "qkeras", "version": __version__, "extensions": []}


def _tensor_meta(info) -> dict:
    shape = [-1] if info.shape is None else [-1 if d is None else d for d in info.shape]
    return {"name": info.name, "datatype": datatype(info.dtype), "shape": shape}


def model_metadata(servable: Servable, versions: list[int]) -> dict:
    """``GET /v2/models/{name}[/versions/{v}]`` response (the default signature)."""
    sig = servable.signature()
    return {"name": servable.name, "versions": [str(v) for v in sorted(versions)],
            "platform": servable.platform or "tensorflow_savedmodel",
            "inputs": [_tensor_meta(i) for i in sig.inputs.values()],
            "outputs": [_tensor_meta(i) for i in sig.outputs.values()]}


def parse_infer(body: object, servable: Servable, *, max_rows: int,
                ) -> tuple[Signature, dict[str, np.ndarray], list[str] | None]:
    """Reads an inference request: ``(signature, inputs, requested output names)``.

    Raises:
        ServingError: A malformed body, unknown or missing input, a datatype or shape that
            does not fit, or more rows than ``max_rows``.
    """
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list) \
            or not body["inputs"]:
        raise ServingError("The request must be a JSON object with a non-empty 'inputs' "
                           "list of {name, shape, datatype, data} tensors.")
    sig = servable.signature((body.get("parameters") or {}).get("signature_name"))
    given = {}
    for item in body["inputs"]:
        if not isinstance(item, dict) or not {"name", "shape", "datatype", "data"} <= set(item):
            raise ServingError("Each input needs 'name', 'shape', 'datatype' and 'data'.")
        name = item["name"]
        if name not in sig.inputs:
            raise ServingError(f"Unexpected input '{name}'; the model takes "
                               f"{sorted(sig.inputs)}.")
        if item["datatype"] not in DATATYPES:
            raise ServingError(f"Input '{name}': datatype {item['datatype']!r} is not "
                               f"supported; use one of {sorted(DATATYPES)}.")
        try:
            flat = np.asarray(item["data"], DATATYPES[item["datatype"]])
            shaped = flat.reshape([int(d) for d in item["shape"]])
        except (ValueError, TypeError) as err:
            raise ServingError(f"Input '{name}': data does not fill shape {item['shape']} "
                               f"({str(err).splitlines()[0]}).") from err
        given[name] = to_array(shaped, sig.inputs[name], f"Input '{name}'")
    missing = sorted(set(sig.inputs) - set(given))
    if missing:
        raise ServingError(f"Missing inputs {missing}; the model takes {sorted(sig.inputs)}.")
    rows = {len(a) for a in given.values()}
    if len(rows) > 1 or max(rows) > max_rows:
        raise ServingError(f"Inputs must share one batch size of at most {max_rows}; got "
                           f"{sorted(rows)}.")
    wanted = None
    if body.get("outputs"):
        wanted = [o.get("name") if isinstance(o, dict) else None for o in body["outputs"]]
        unknown = [w for w in wanted if w not in sig.outputs]
        if unknown:
            raise ServingError(f"Unknown outputs {unknown}; the model has "
                               f"{sorted(sig.outputs)}.")
    return sig, given, wanted


def output_tensor(name: str, array: np.ndarray) -> dict:
    """One output tensor of an inference response (data flattened row-major)."""
    array = np.asarray(array)
    return {"name": name, "datatype": datatype(array.dtype), "shape": list(array.shape),
            "data": array.reshape(-1).tolist()}
