"""Read a PyTorch checkpoint (``torch.save`` of a state dict) into numpy arrays, without torch.

So a TensorFlow-only install can use weights that ship as a ``.pth``. Both of torch's file
formats are read: the zip archive (``archive/data.pkl`` + one file per storage, torch >= 1.6)
and the legacy stream (magic number, protocol, system info, the pickle, the storage keys, then
each storage as an int64 element count and its raw bytes).

Safe by construction (invariant 6): the pickle is read by an Unpickler whose ``find_class``
allows only ``collections.OrderedDict``, torch's tensor-rebuild functions and its storage types,
each answered by a numpy stand-in defined here; nothing named in the file is ever imported or
run. Anything else raises ``UnsafeCheckpoint``.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001

# torch's storage types -> numpy dtypes (torch.BFloat16Storage has no numpy equivalent)
STORAGES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


class UnsafeCheckpoint(pickle.UnpicklingError):
    """The checkpoint's pickle names something other than tensors and dicts."""


@dataclass(frozen=True)
class _StorageType:
    dtype: type


class _Storage:
    """A storage's bytes, filled in when the file gives them (the legacy format puts them after the pickle)."""

    def __init__(self, dtype, numel: int):
        self.dtype, self.numel, self.data = np.dtype(dtype), numel, None

    def array(self) -> np.ndarray:
        if self.data is None:
            raise ValueError("the checkpoint ended before all its storages")
        return self.data


@dataclass
class _Tensor:
    storage: _Storage
    offset: int
    size: tuple
    stride: tuple

    def array(self) -> np.ndarray:
        flat = self.storage.array()
        if not self.size:
            return flat[self.offset].copy()
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if last >= flat.size:
            raise ValueError("a tensor reaches past the end of its storage")
        view = np.lib.stride_tricks.as_strided(flat[self.offset:], shape=self.size,
                                               strides=[s * flat.itemsize for s in self.stride])
        return np.array(view)  # a copy, owning its memory, C-ordered


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    """torch._utils._rebuild_tensor(_v2): requires_grad, hooks and metadata do not matter for weights."""
    return _Tensor(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_parameter(data, *_ignored):
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(dtype) for name, dtype in STORAGES.items()},
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, storages: dict, read_storage=None):
        super().__init__(file, encoding="utf-8")
        self.storages, self.read_storage = storages, read_storage

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafeCheckpoint(f"the checkpoint names {module}.{name}; only tensors and dicts are read") from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] in ("storage", b"storage")):
            raise UnsafeCheckpoint(f"unknown persistent id {pid!r:.80}")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, _StorageType):
            raise UnsafeCheckpoint(f"not a storage type: {storage_type!r:.80}")
        key = key.decode("ascii") if isinstance(key, bytes) else str(key)
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.dtype, int(numel))
            if self.read_storage is not None:
                self.read_storage(key, self.storages[key])
        storage = self.storages[key]
        if len(pid) > 5 and pid[5] is not None:  # a legacy view into a larger storage
            raise UnsafeCheckpoint("storage views are not supported")
        return storage


def _arrays(obj):
    """The unpickled object with every tensor stand-in replaced by its numpy array."""
    if isinstance(obj, _Tensor):
        return obj.array()
    if isinstance(obj, dict):
        return type(obj)((k, _arrays(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_arrays(v) for v in obj)
    return obj


def _load_zip(path: Path):
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise ValueError(f"{path} is a zip without one data.pkl: not a torch checkpoint")
        root = pickles[0][: -len("data.pkl")]
        order = archive.read(root + "byteorder").decode() if root + "byteorder" in archive.namelist() else "little"

        def read(key, storage):
            raw = archive.read(f"{root}data/{key}")
            storage.data = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<" if order == "little" else ">"))
            if storage.data.size < storage.numel:
                raise ValueError(f"storage {key} holds {storage.data.size} values, the pickle says {storage.numel}")

        return _Unpickler(io.BytesIO(archive.read(pickles[0])), {}, read).load()


def _load_legacy(path: Path):
    with open(path, "rb") as f:
        header = _Unpickler(f, {})
        if header.load() != MAGIC_NUMBER:
            raise ValueError(f"{path} is neither a zip nor a legacy torch checkpoint (bad magic number)")
        if header.load() != PROTOCOL_VERSION:
            raise ValueError(f"{path}: unknown legacy torch protocol version")
        info = header.load()
        little = info.get("little_endian", True) if isinstance(info, dict) else True
        storages: dict = {}
        result = _Unpickler(f, storages).load()
        keys = _Unpickler(f, {}).load()
        for key in keys:
            storage = storages[str(key)]
            (numel,) = struct.unpack("<q" if little else ">q", f.read(8))
            nbytes = numel * storage.dtype.itemsize
            raw = f.read(nbytes)
            if numel != storage.numel or len(raw) != nbytes:
                raise ValueError(f"{path}: storage {key} is truncated or its size disagrees with the pickle")
            storage.data = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<" if little else ">"))
    return result


def load(path) -> dict[str, np.ndarray]:
    """The checkpoint's state dict as {name: numpy array} (num_batches_tracked counters included)."""
    path = Path(path)
    result = _load_zip(path) if zipfile.is_zipfile(path) else _load_legacy(path)
    result = _arrays(result)
    if not isinstance(result, dict):
        raise ValueError(f"{path} holds a {type(result).__name__}, not a state dict")
    return dict(result)
