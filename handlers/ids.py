"""Identifiers the server assigns: ``item_…`` per utterance, ``resp_…`` per reply (the contract's
ItemId and ResponseId patterns)."""

from __future__ import annotations

import secrets


def new_item_id() -> str:
    """Identifies one utterance of the Sender, from its first audio chunk to its reply."""
    return f"item_{secrets.token_hex(8)}"


def new_response_id() -> str:
    """Identifies one reply of the digital human."""
    return f"resp_{secrets.token_hex(8)}"
