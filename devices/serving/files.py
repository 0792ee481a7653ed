"""Stored files as phones get them: which row holds the bytes, and small files' bytes kept.

Media bytes live in the database. A file answer names the row (`Body`) and reads its bytes
column only when it sends them, and only once per process for a file up to
MEDIA_CACHE_MAX_FILE_BYTES: those are kept by the SHA-256 of their bytes, so a kept copy can
never be out of date (a changed file has another hash) and needs no config version.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Model


@dataclass(frozen=True)
class Body:
    """What to send: the row whose `content` column holds the bytes, and their metadata."""

    model: type[Model]
    pk: int
    size: int
    sha256: str
    content_type: str
    data: bytes | None = None  # already in memory (a softkey file, a rendition just made)


class KeptBytes:
    """Small files' bytes by content hash, per process, within a budget of memory.

    Files over `max_file` are never kept (they are streamed from the row), and the least
    recently used go first.
    """

    def __init__(self, budget: int, max_file: int) -> None:
        self.budget, self.max_file = budget, max_file
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0

    def get(self, sha256: str) -> bytes | None:
        data = self._items.get(sha256)
        if data is not None:
            self._items.move_to_end(sha256)
        return data

    def keep(self, sha256: str, data: bytes | memoryview) -> None:
        if len(data) > self.max_file or sha256 in self._items:
            return
        self._items[sha256] = bytes(data)
        self._size += len(data)
        while self._size > self.budget:
            _, dropped = self._items.popitem(last=False)
            self._size -= len(dropped)


def _new_store() -> KeptBytes:
    return KeptBytes(settings.MEDIA_CACHE_BYTES, settings.MEDIA_CACHE_MAX_FILE_BYTES)


kept_bytes = _new_store()


def load_bytes(body: Body) -> bytes | memoryview:
    """The bytes of that one row (PostgreSQL's driver may give a memoryview)."""
    if body.data is not None:
        return body.data
    data = kept_bytes.get(body.sha256)
    if data is None:
        rows = body.model._default_manager.filter(pk=body.pk).values_list("content", flat=True)
        data = rows.get()
        kept_bytes.keep(body.sha256, data)
    return data


def keep_bytes(sha256: str, data: bytes | memoryview) -> None:
    """Bytes just written (a rendition made for a screen), so the next answer reads none."""
    kept_bytes.keep(sha256, data)


def reset() -> None:
    """Forget every kept file, with the budget as the settings say now (for tests)."""
    global kept_bytes
    kept_bytes = _new_store()
