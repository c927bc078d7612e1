"""Seldon REST request parsing (contract C.5 `get_request`), transport-independent and stdlib only.

`seldon_message(...)` turns one HTTP request (content type, query string, body) into the decoded
SeldonMessage object, in Seldon's order: multipart/form-data, form field `json=`, query `?json=`,
PAYLOAD_PASSTHROUGH raw bytes, then a JSON body. Every failure raises errors.MicroserviceError(400)
with a message saying what was wrong and how to send it instead.
"""
from __future__ import annotations

import base64
from typing import Any, Optional, Union
from urllib.parse import parse_qs

import orjson

from .errors import MicroserviceError

Raw = Union[bytes, str]


def _bad(message: str) -> MicroserviceError:
    return MicroserviceError(message, status_code=400, reason="MICROSERVICE_BAD_DATA")


def loads(data: Raw, what: str) -> Any:
    """orjson.loads with a message that says where the JSON is malformed (orjson gives line/column)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise _bad(f"Invalid JSON in {what}: {exc}") from None


def _param(header_value: str, name: str) -> Optional[str]:
    for item in header_value.split(";")[1:]:
        key, sep, value = item.strip().partition("=")
        if sep and key.strip().lower() == name:
            return value.strip().strip('"')
    return None


def parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    """multipart/form-data -> SeldonMessage dict: field strData as text, other fields json.loads-ed,
    file binData base64-encoded, other files read as UTF-8 text."""
    boundary = _param(content_type, "boundary")
    if not boundary:
        raise _bad("multipart/form-data request has no boundary in its Content-Type")
    delimiter = b"--" + boundary.encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3:
        raise _bad("multipart/form-data body has no parts (is the boundary right?)")
    message: dict[str, Any] = {}
    for chunk in chunks[1:-1]:  # chunks[0] is the preamble, chunks[-1] starts with "--" (the epilogue)
        if chunk.startswith(b"\r\n"):
            chunk = chunk[2:]
        if chunk.endswith(b"\r\n"):
            chunk = chunk[:-2]
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            raise _bad("multipart/form-data part has no blank line between its headers and content")
        name = filename = None
        for line in head.decode("latin-1").split("\r\n"):
            key, _, value = line.partition(":")
            if key.strip().lower() == "content-disposition":
                name = _param(value, "name")
                filename = _param(value, "filename")
        if name is None:
            raise _bad("multipart/form-data part has no Content-Disposition name")
        if filename is not None:  # a file
            if name == "binData":
                message[name] = base64.b64encode(content).decode("ascii")
            else:
                message[name] = _utf8(content, f"multipart file {name!r}")
        elif name == "strData":
            message[name] = _utf8(content, "multipart field 'strData'")
        else:
            message[name] = loads(content, f"multipart field {name!r}")
    return message


def _utf8(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(f"{what} is not UTF-8 text ({exc}); send binary data as the file field binData") from None


def json_param(query_string: bytes, body: Optional[bytes], content_type: str) -> Optional[str]:
    """The `json=` form field (urlencoded body) or else the `?json=` query parameter, or None."""
    if body and content_type.startswith("application/x-www-form-urlencoded"):
        form = parse_qs(body.decode("latin-1"), keep_blank_values=True)
        if "json" in form:
            return _latin1_to_utf8(form["json"][0])
    if query_string:
        query = parse_qs(query_string.decode("latin-1"), keep_blank_values=True)
        if "json" in query:
            return _latin1_to_utf8(query["json"][0])
    return None


def _latin1_to_utf8(text: str) -> str:
    # parse_qs percent-decodes to latin-1 here (bytes stay bytes); re-read them as UTF-8.
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return text


def seldon_message(content_type: str, query_string: bytes, body: bytes, passthrough: bool) -> Any:
    """The request object for a Seldon route. With `passthrough` (predict routes under
    PAYLOAD_PASSTHROUGH) the raw `json=` string or raw body bytes are returned undecoded
    (a multipart body still becomes its dict, as in Seldon's get_request)."""
    ctype = content_type.lower()
    if ctype.startswith("multipart/form-data"):  # parsed even under passthrough, as Seldon does
        return parse_multipart(body, content_type)
    text = json_param(query_string, body, ctype)
    if text is not None:
        return text if passthrough else loads(text, "the json= parameter")
    if passthrough:
        if not body:
            raise _bad("Empty request body: send the payload as the body or as ?json=")
        return body
    if not body:
        raise _bad("Can't find JSON in data: the request body is empty; send a JSON body with "
                    "Content-Type: application/json, a form field json=..., or ?json=...")
    return loads(body, "the request body")


def json_body(body: bytes) -> Any:
    """A V1/V2 JSON body (must be a JSON object)."""
    if not body:
        raise _bad("Empty request body: send a JSON object")
    value = loads(body, "the request body")
    if not isinstance(value, dict):
        raise _bad(f"The request body must be a JSON object, got {type(value).__name__}")
    return value


__all__ = ["seldon_message", "parse_multipart", "json_param", "json_body", "loads"]
