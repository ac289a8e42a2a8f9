"""Server-sent events: every event of the daemon's stream, pushed to the open pages at once.

A subscriber of the `EventStream` (cheap, as subscribers must be): it only puts the event into each
client's bounded queue. A client that does not read loses the oldest events rather than growing the
daemon's memory; it reloads its page region on every event anyway, so a lost one costs nothing.
Publishers may run on worker threads, hence `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from tagpilot.engine.events import Event

QUEUE_SIZE = 100
MAX_CLIENTS = 64
KEEPALIVE_SECONDS = 15.0


class LiveHub:
    def __init__(self) -> None:
        self._clients: set[asyncio.Queue[str | None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False

    def full(self) -> bool:
        return len(self._clients) >= MAX_CLIENTS

    def publish(self, event: Event) -> None:
        """The EventStream subscriber."""
        if not self._clients or self._loop is None:
            return
        data = json.dumps({"object": event.object, "kind": event.key[0], "namespace": event.key[1],
                           "name": event.key[2], "type": event.type, "reason": event.reason,
                           "message": event.message[:500], "time": event.time})
        for queue in list(self._clients):
            self._loop.call_soon_threadsafe(_offer, queue, data)

    def close(self) -> None:
        """End every stream (the server is stopping and waits for open responses)."""
        self.closed = True
        for queue in list(self._clients):
            _offer(queue, None)

    async def stream(self) -> AsyncIterator[str]:
        """One client's `text/event-stream` body: a comment first (the page knows it is connected),
        then `event: tagpilot` messages, a keep-alive comment every 15 s."""
        self._loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue(QUEUE_SIZE)
        self._clients.add(queue)
        try:
            yield ": connected\nretry: 2000\n\n"
            while not self.closed:
                try:
                    item = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if item is None:
                    return
                yield f"event: tagpilot\ndata: {item}\n\n"
        finally:
            self._clients.discard(queue)


def _offer(queue: asyncio.Queue[str | None], item: str | None) -> None:
    if queue.full():
        with contextlib.suppress(asyncio.QueueEmpty):
            queue.get_nowait()
    queue.put_nowait(item)
