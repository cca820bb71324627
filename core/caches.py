"""A small thread-safe LRU mapping for per-process caches (tenants' blocklists, charts),
built on cachetools' LRUCache with one lock around every operation."""

import threading
from collections.abc import Hashable
from typing import Generic, TypeVar

from cachetools import LRUCache

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LockedLRU(Generic[K, V]):
    """At most `size` entries; a read or a write makes its key the most recent, and the
    least recently used entry is dropped first. Safe to share between threads."""

    def __init__(self, *, size: int) -> None:
        self._entries: LRUCache[K, V] = LRUCache(maxsize=size)
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return int(self._entries.maxsize)

    def get(self, key: K) -> V | None:
        with self._lock:
            return self._entries.get(key)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._entries[key] = value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
