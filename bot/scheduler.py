"""The scheduler: background work that `briefbot run` keeps going (feed polling)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from bot.services.feeds import FeedService, PollResult

log = logging.getLogger(__name__)


class FeedPoller:
    """Polls every followed feed now and then every ``interval`` seconds, in its own thread so
    that fetching and embedding never hold up answers."""

    def __init__(
        self,
        service: FeedService,
        *,
        interval: float,
        on_new: Callable[[PollResult], None] = lambda result: None,
    ) -> None:
        self.service = service
        self.interval = interval
        self.on_new = on_new
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="feed-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                for result in self.service.poll_all():
                    if result.announce and result.report.added:
                        self.on_new(result)
            except Exception:  # one bad cycle must not end polling for good
                log.exception("feed poll cycle failed")
            self._stop.wait(self.interval)
