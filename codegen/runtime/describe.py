"""A short, safe message for a validation error (what custom.error and connect_error carry)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

MAX_ERRORS = 3
MAX_MESSAGE = 160

# One validation error: field path, the union members it went through (depth, tag), message,
# weight (a wrong constant counts double when picking the closest union member).
_Found = tuple[tuple[str, ...], tuple[tuple[int, str], ...], str, int]


def _found(exc: ValidationError, data: Any) -> list[_Found]:
    found: list[_Found] = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        path: list[str] = []
        tags: list[tuple[int, str]] = []
        node: Any = data
        loc = error["loc"]
        for i, part in enumerate(loc):
            last_missing = error["type"] == "missing" and i == len(loc) - 1
            if (isinstance(node, dict) and part in node) or last_missing:
                path.append(str(part))
                node = node.get(part) if isinstance(node, dict) else None
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                path.append(str(part))
                node = node[part]
            else:
                tags.append((len(path), str(part)))  # a union member, not a field
        message = str(error["msg"])
        if len(message) > MAX_MESSAGE:
            message = message[: MAX_MESSAGE - 3] + "..."
        weight = 2 if error["type"] == "literal_error" else 1
        found.append((tuple(path), tuple(tags), message, weight))
    return found


def _closest_members(found: list[_Found]) -> list[_Found]:
    """Keep, level by level, the errors of the union member(s) with the lowest weight."""
    depth = 0
    while any(len(member) > depth for _, member, _, _ in found):
        scores: dict[tuple[tuple[int, str], ...], int] = {}
        for _, member, _, weight in found:
            if len(member) > depth:
                scores[member[: depth + 1]] = scores.get(member[: depth + 1], 0) + weight
        best = min(scores.values())
        found = [f for f in found if len(f[1]) <= depth or scores[f[1][: depth + 1]] == best]
        depth += 1
    return found


def describe(exc: ValidationError, data: Any) -> str:
    """A short message for a validation error: field paths and reasons, never the input.

    Union members (the provider variants of stt/llm/tts, the three audio shapes) are left out
    of the paths, and only the member(s) that came closest are reported: the fewest errors,
    a wrong constant (`provider`) counting double."""
    found = _closest_members(_found(exc, data))
    parts = list(dict.fromkeys(f"{'.'.join(p) or '(payload)'}: {m}" for p, _, m, _ in found))
    more = f" (and {len(parts) - MAX_ERRORS} more)" if len(parts) > MAX_ERRORS else ""
    return "; ".join(parts[:MAX_ERRORS]) + more
