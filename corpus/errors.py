"""Errors a person can act on: one base class, so every adapter catches one type and shows it."""

from __future__ import annotations


class BriefbotError(Exception):
    """A problem the person can fix; its message is one sentence written for them."""
