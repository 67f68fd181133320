"""The model and voice a ``session.update`` chooses, checked against the model lifecycle.

Called by ``handlers.settings`` when a stage's update names a provider, model or voice, so that
what a provider would refuse at the first turn (a retired model, a voice the model does not
take) is settled at ``session.update``: a retired model is served by its successor (and
``session.updated`` shows both), what cannot be served is refused with ``ModelRefused``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from handlers.providers.base import Stage
from handlers.providers.lifecycle import Lifecycle, ModelRefused, load_lifecycle

# The field names of the settings models (model_dump without aliases).
REQUESTED = "requested_model"
NOTICE = "model_notice"


def choose_model(
    stage: Stage,
    merged: dict[str, Any],
    changes: Mapping[str, Any],
    lifecycle: Lifecycle | None = None,
) -> dict[str, Any]:
    """``merged`` (a stage's settings after the update) with the served model, what was asked
    and the notice; raises :class:`ModelRefused` when the model or voice cannot be served.

    ``changes`` is what the update set: a stage whose provider, model and voice are unchanged
    keeps what an earlier update chose (its served model is not resolved a second time)."""
    if not {"provider", "model", "voice"} & set(changes):
        return merged
    lifecycle = lifecycle or load_lifecycle()
    provider = _text(merged["provider"])
    chosen = dict(merged)
    if "provider" in changes or "model" in changes:
        resolution = lifecycle.resolve(stage, provider, str(merged["model"]))
        chosen["model"] = resolution.served
        chosen[REQUESTED] = resolution.requested if resolution.remapped else None
        chosen[NOTICE] = resolution.notice
    voice = chosen.get("voice")
    if stage == "tts" and isinstance(voice, str) and voice != "default":
        problem = lifecycle.voice_problem(provider, str(chosen["model"]), voice)
        if problem is not None:
            raise ModelRefused("unsupported_option", problem)
    return chosen


def _text(value: object) -> str:
    """A provider enum member or its string."""
    member_value = getattr(value, "value", value)
    return str(member_value)
