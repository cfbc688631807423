"""Work done once for the whole class: results that do not depend on the student (a registered
model's predictions and explanations of an image with given parameters, prepared datasets),
computed once per process (the server's, or a worker's) and kept in bounded LRU caches
(cachetools), keyed by everything that defines them. Each cache counts its hits and misses, which
`workbench jobs --json` shows."""

from __future__ import annotations

import hashlib
import threading

import numpy as np
from cachetools import LRUCache

_CACHES: dict[str, "ClassCache"] = {}
_LOCK = threading.Lock()


def key(*parts) -> tuple:
    """A hashable key: arrays by shape, dtype and a digest of their bytes; dicts by sorted items."""
    def part(p):
        if isinstance(p, np.ndarray):
            return ("array", p.shape, p.dtype.str, hashlib.sha1(np.ascontiguousarray(p).tobytes()).hexdigest())
        if isinstance(p, dict):
            return ("dict",) + tuple((k, part(v)) for k, v in sorted(p.items()))
        if isinstance(p, (list, tuple)):
            return ("seq",) + tuple(part(v) for v in p)
        hash(p)  # anything else must be hashable as it is (names, numbers, frozen dataclasses)
        return p

    return tuple(part(p) for p in parts)


class ClassCache:
    def __init__(self, name: str, maxsize: int):
        self.name, self.hits, self.misses = name, 0, 0
        self._cache: LRUCache = LRUCache(maxsize)
        self._lock = threading.Lock()
        self._computing: dict[tuple, threading.Lock] = {}

    def get(self, k: tuple, compute):
        """The cached value for key ``k``, or ``compute()``'s, stored. Two sessions asking for the
        same missing value at once compute it once: the second waits for the first."""
        with self._lock:
            if k in self._cache:
                self.hits += 1
                return self._cache[k]
            gate = self._computing.setdefault(k, threading.Lock())
        with gate:
            with self._lock:
                if k in self._cache:
                    self.hits += 1
                    return self._cache[k]
                self.misses += 1
            try:
                value = compute()
                with self._lock:
                    self._cache[k] = value
            finally:
                with self._lock:
                    self._computing.pop(k, None)
            return value

    def peek(self, k: tuple):
        """The cached value for ``k`` (a hit), or None: the caller computes it elsewhere (a job)
        and ``put``s it."""
        with self._lock:
            if k in self._cache:
                self.hits += 1
                return self._cache[k]
            return None

    def put(self, k: tuple, value) -> None:
        """Keep a value computed elsewhere (a miss of ``peek``)."""
        with self._lock:
            self.misses += 1
            self._cache[k] = value

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self.hits = self.misses = 0

    def stats(self) -> dict:
        return {"entries": len(self._cache), "maxsize": self._cache.maxsize, "hits": self.hits,
                "misses": self.misses}


def shared(name: str, maxsize: int = 32) -> ClassCache:
    """The process's cache called ``name`` (made on first use with ``maxsize`` entries)."""
    with _LOCK:
        if name not in _CACHES:
            _CACHES[name] = ClassCache(name, maxsize)
        return _CACHES[name]


def stats() -> dict:
    return {name: c.stats() for name, c in _CACHES.items()}
