"""Reads an image upload from a request body, in memory.

Accepted: ``multipart/form-data`` with the file in a field named ``file`` (or ``image``)
and optional text fields (``explain``), or the raw file as the body with its own content
type (``image/png``, ``image/jpeg``, ``application/dicom``, ``application/octet-stream``).
Multipart bodies are parsed here from the bytes already read (Starlette's form parser
spools parts over 1 MiB to a temporary file, and an upload must never touch the disk).

Example:
    >>> body = (b'--b\\r\\nContent-Disposition: form-data; name="file"; filename="x.png"\\r\\n'
    ...         b'Content-Type: image/png\\r\\n\\r\\n\\x89PNG\\x00\\xff\\r\\n--b--\\r\\n')
    >>> parse_multipart(body, "multipart/form-data; boundary=b")
    (b'\\x89PNG\\x00\\xff', 'image/png', {})
"""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

from qkeras.errors import ServingError

__all__ = ["read_upload", "parse_multipart"]

_FILE_FIELDS = ("file", "image")


def parse_multipart(body: bytes, content_type: str) -> tuple[bytes, str, dict[str, str]]:
    """Splits a multipart body into ``(file bytes, file content type, text fields)``.

    Raises:
        ServingError: No boundary, or no ``file`` field.
    """
    if "boundary=" not in content_type:
        raise ServingError("multipart/form-data needs a boundary parameter in Content-Type.")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    data, file_type, fields = None, "", {}
    for part in message.iter_parts() if message.is_multipart() else ():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if name in _FILE_FIELDS and data is None:
            data, file_type = payload, part.get_content_type()
        elif name:
            fields[str(name)] = payload.decode("utf-8", "replace")[:200]
    if data is None:
        raise ServingError("The form has no 'file' field; upload the image as "
                           "-F file=@image.png.")
    return data, file_type, fields


async def read_upload(request) -> tuple[bytes, str, dict[str, str]]:
    """Reads ``(file bytes, content type, text fields)`` from a Starlette request.

    Raises:
        ServingError: A JSON body (TF Serving's Example-based classify is not offered),
            an empty body or a malformed form.
    """
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        raise ServingError("This :classify takes an image upload (multipart/form-data with "
                           "a 'file' field, or the raw PNG/JPEG/DICOM bytes), not "
                           "tf.Example JSON; for tensors use :predict.")
    body = await request.body()
    if content_type.startswith("multipart/form-data"):
        return parse_multipart(body, content_type)
    return body, content_type, {}
