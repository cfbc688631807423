"""What crosses between the server and a worker: plain JSON plus one safetensors blob of arrays.

A job's arguments, its progress events and its result are packed here on one side and unpacked on
the other, so that nothing a user made travels as a pickle (DESIGN.md invariant 6): the transport
(a process pipe, Ray's object store) only ever carries a string and bytes.
"""

from __future__ import annotations

import json

import numpy as np

ARRAY, BYTES = "__array__", "__bytes__"


def _plain(value, arrays: dict):
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise TypeError("an object array cannot travel to or from a job (it would need a pickle)")
        key = f"a{len(arrays)}"
        arrays[key] = np.ascontiguousarray(value)
        return {ARRAY: key}
    if isinstance(value, (bytes, bytearray, memoryview)):
        key = f"a{len(arrays)}"
        arrays[key] = np.frombuffer(bytes(value), np.uint8)
        return {BYTES: key}
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("a job's dictionaries are keyed by strings (JSON)")
        return {k: _plain(v, arrays) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, arrays) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise TypeError(f"a job's arguments and results are JSON, arrays and bytes, not {type(value).__name__}")


def to_json(value) -> str:
    """JSON for a progress event or a status file (numpy scalars as numbers; NaN kept, as Python's json does)."""
    return json.dumps(_plain(value, {}))


def pack(value) -> tuple[str, bytes]:
    """(JSON document, safetensors bytes of the arrays and bytes it holds)."""
    arrays: dict[str, np.ndarray] = {}
    doc = _plain(value, arrays)
    # safetensors refuses empty tensors: they travel as their shape and dtype alone
    empty = {k: [list(a.shape), a.dtype.str] for k, a in arrays.items() if a.size == 0}
    full = {k: a for k, a in arrays.items() if a.size}
    blob = b""
    if full:
        from safetensors.numpy import save

        blob = save(full)
    return json.dumps({"doc": doc, "empty": empty}), blob


def unpack(doc: str, blob: bytes):
    """The inverse of pack."""
    value = json.loads(doc)
    arrays = {}
    if blob:
        from safetensors.numpy import load

        arrays = load(blob)
    arrays.update({k: np.zeros(shape, np.dtype(dtype)) for k, (shape, dtype) in value["empty"].items()})

    def restore(v):
        if isinstance(v, dict):
            if set(v) == {ARRAY}:
                return arrays[v[ARRAY]]
            if set(v) == {BYTES}:
                return arrays[v[BYTES]].tobytes()
            return {k: restore(x) for k, x in v.items()}
        if isinstance(v, list):
            return [restore(x) for x in v]
        return v

    return restore(value["doc"])

