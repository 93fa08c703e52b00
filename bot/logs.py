"""Logging: plain lines for people, or one JSON object per line for log collectors, each tagged
with the chat request it belongs to — and never a token, whatever a library puts in a message.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_request: ContextVar[tuple[tuple[str, str], ...]] = ContextVar("briefbot_request", default=())

# Slack's token shapes, so that a token quoted by a library (in a URL, an error) is hidden even
# when it is not the configured one.
_TOKEN = re.compile(r"\bx(?:ox[abeoprs]|app)-[A-Za-z0-9-]{6,}")
REDACTED = "[redacted]"

_NOISY = ("sentence_transformers", "transformers", "httpx", "faiss", "slack_sdk")


@contextmanager
def request_context(**ids: str) -> Iterator[None]:
    """Tag every log record made while handling one chat request (on this task, and on the
    worker threads it starts with ``asyncio.to_thread``) with ``ids``: platform, channel,
    request."""
    token = _request.set((*_request.get(), *ids.items()))
    try:
        yield
    finally:
        _request.reset(token)


class _Redacting(logging.Formatter):
    """Hides secrets in the whole formatted record, traceback included."""

    def __init__(self, fmt: str | None, *, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _TOKEN.sub(REDACTED, text)

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


class _JSON(_Redacting):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **dict(_request.get()),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(entry, ensure_ascii=False))


def configure(*, level: str, json_lines: bool, secrets: Iterable[str], force: bool = False) -> None:
    """Log to stderr at ``level``; the model libraries only from WARNING up. Like
    ``logging.basicConfig``, a root logger that already has handlers (an embedding application,
    pytest) keeps them, unless ``force``."""
    formatter = (
        _JSON(None, secrets=secrets)
        if json_lines
        else _Redacting("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets=secrets)
    )
    handler = logging.StreamHandler()
    handler.setFormatter(formatter)
    logging.basicConfig(level=level, handlers=[handler], force=force)
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
