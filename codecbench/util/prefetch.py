"""Run a producer ahead of its consumer in a background thread, through a bounded queue.

A task decodes the next batch while the current one is scored: ``for item in prefetch(batches(), 1)``.
Items arrive in the producer's order, so the rows (and their order) do not depend on timing; an
exception in the producer is raised in the consumer at the item where it happened; a consumer that
stops early (``break``, an error, Ctrl-C) stops the producer after the item it is working on.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """``items``, produced up to ``depth`` ahead in a thread; ``depth`` 0 iterates in the caller's thread."""
    if depth <= 0:
        yield from items
        return
    channel: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                channel.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, raised there
            put(_Failure(err))

    worker = threading.Thread(target=produce, name="bench-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            value = channel.get()
            if value is _DONE:
                return
            if isinstance(value, _Failure):
                raise value.error
            yield value
    finally:
        stop.set()
        worker.join(timeout=30)
