"""The model lifecycle: which contract models are active, deprecated or retired, what serves them.

The data is ``lifecycle.yaml`` beside this module (one entry per contract value, with its source);
this module loads it once and answers:

* :meth:`Lifecycle.resolve` -- the model that serves a ``session.update`` request: a retired
  model's successor, a gateway's model id for a display name, a Bedrock inference profile for a
  base id that takes no on-demand throughput. Refuses (:class:`ModelRefused`) what no provider
  call can serve: an embedding model asked to chat, a Bedrock id named as an Azure deployment,
  a retired model with nothing to replace it.
* :meth:`Lifecycle.voice_problem`, :meth:`Lifecycle.llm_options`,
  :meth:`Lifecycle.azure_api_version` -- what a model takes, checked before the first turn.
* :meth:`Lifecycle.outdated_defaults` -- deprecated or retired models among the defaults (for
  the availability command).

Operator configuration (read by :func:`load_lifecycle` from the environment):

``METAHUMAN_MODEL_MAP``
    JSON ``{"stage": {"provider": {"asked model": "served model" | null}}}``, or ``@path`` of a
    file holding it. A string serves the asked model with that id (for example a Bayer display
    name with the gateway's id, or a retired model with a private deployment); ``null`` serves the
    model as asked, with no lifecycle mapping. Operator entries win over the data file.
``METAHUMAN_MODEL_MAP_OFF``
    ``1``/``true``/``yes``: turn off the built-in retired -> successor mapping; retired models are
    then sent to the provider as asked (for example under Bedrock's extended access). Id
    translations (gateway ids, inference profiles) stay on.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal, cast, get_args

import yaml

Stage = Literal["stt", "llm", "tts"]
Status = Literal["active", "deprecated", "retired"]
Kind = Literal["model", "embedding", "reranker", "batch", "not_a_deployment", "ignored"]
RefusalCode = Literal["unsupported_option", "model_retired"]

MODEL_MAP_ENV: Final = "METAHUMAN_MODEL_MAP"
MODEL_MAP_OFF_ENV: Final = "METAHUMAN_MODEL_MAP_OFF"
DATA_FILE: Final = "lifecycle.yaml"

_STAGES: Final[tuple[Stage, ...]] = get_args(Stage)
_STATUSES: Final[tuple[Status, ...]] = get_args(Status)
_KINDS: Final[tuple[Kind, ...]] = get_args(Kind)
_NOT_CHAT: Final[Mapping[Kind, str]] = {
    "embedding": "an embedding model",
    "reranker": "a reranker",
    "batch": "a batch-API model",
}


class LifecycleDataError(ValueError):
    """lifecycle.yaml or the operator's model map is malformed."""


class ModelRefused(Exception):
    """The asked model cannot be served; ``code`` is the contract's custom.error code."""

    def __init__(self, code: RefusalCode, message: str) -> None:
        super().__init__(message)
        self.code: RefusalCode = code
        self.message = message


@dataclass(frozen=True)
class LlmOptions:
    """What a language model takes beyond the messages."""

    reasoning: bool  # o-series, gpt-5*: hidden reasoning, reasoning_effort, newer api-versions
    takes_temperature: bool
    token_limit: Literal["max_tokens", "max_completion_tokens"]
    # Reasoning models spend completion tokens on hidden reasoning: a budget of only the visible
    # reply's length can end in an empty reply, so this much is added to the limit sent.
    reasoning_allowance: int
    reasoning_effort: str | None
    # o3 streams only for organisations OpenAI has verified (else 400 with param=stream).
    stream_needs_verified_org: bool

    def completion_budget(self, max_output_tokens: int | None) -> int | None:
        """The token limit to send for a reply of at most ``max_output_tokens`` visible tokens."""
        if max_output_tokens is None:
            return None
        return max_output_tokens + self.reasoning_allowance


PLAIN_CHAT: Final = LlmOptions(
    reasoning=False,
    takes_temperature=True,
    token_limit="max_completion_tokens",
    reasoning_allowance=0,
    reasoning_effort=None,
    stream_needs_verified_org=False,
)


@dataclass(frozen=True)
class ModelEntry:
    """One contract value of one stage and provider."""

    stage: Stage
    provider: str
    model: str
    status: Status
    date: dt.date | None  # deprecated: shutdown date; retired: the day it stopped answering
    successor: str | None
    served_as: str | None  # the id sent to the provider, when not the contract value itself
    source: str
    note: str | None
    verified: bool
    kind: Kind
    voices: tuple[str, ...] | None  # tts: the voices this model takes (None: not checked)
    llm_options: LlmOptions | None  # llm: None for plain chat models

    def status_on(self, today: dt.date) -> Status:
        """The status on ``today``: a deprecated model past its shutdown date is retired."""
        if self.status == "deprecated" and self.date is not None and self.date <= today:
            return "retired"
        return self.status


@dataclass(frozen=True)
class Resolution:
    """What serves a requested model: ``served`` goes to the provider and into session.updated."""

    stage: Stage
    provider: str
    requested: str
    served: str
    status: Status
    successor: str | None
    notice: str | None  # for session.updated's modelNotice; None when nothing is worth saying

    @property
    def remapped(self) -> bool:
        return self.served != self.requested


@dataclass(frozen=True)
class ProviderLifecycle:
    default: str
    models: Mapping[str, ModelEntry]
    voice_engines: Mapping[str, tuple[str, ...]]  # tts aws: Polly voice -> engines it lists


OperatorMap = Mapping[tuple[Stage, str, str], str | None]


class Lifecycle:
    """The lifecycle data plus the operator's overrides; immutable once built."""

    def __init__(
        self,
        providers: Mapping[tuple[Stage, str], ProviderLifecycle],
        *,
        as_of: dt.date,
        sources: Mapping[str, str],
        azure_api_versions: Mapping[str, str],
        operator_map: OperatorMap | None = None,
        successor_mapping: bool = True,
    ) -> None:
        self._providers = providers
        self.as_of = as_of
        self.sources = sources
        self._azure_api_versions = azure_api_versions
        self._operator_map: OperatorMap = operator_map or {}
        self.successor_mapping = successor_mapping

    # -- lookup ------------------------------------------------------------------------------

    def providers(self) -> Iterator[tuple[Stage, str]]:
        return iter(self._providers)

    def provider(self, stage: Stage, provider: str) -> ProviderLifecycle | None:
        return self._providers.get((stage, provider))

    def entry(self, stage: Stage, provider: str, model: str) -> ModelEntry | None:
        found = self._providers.get((stage, provider))
        return None if found is None else found.models.get(model)

    def entries(self) -> Iterator[ModelEntry]:
        for found in self._providers.values():
            yield from found.models.values()

    def default(self, stage: Stage, provider: str) -> str | None:
        found = self._providers.get((stage, provider))
        return None if found is None else found.default

    # -- resolution --------------------------------------------------------------------------

    def resolve(
        self, stage: Stage, provider: str, model: str, *, today: dt.date | None = None
    ) -> Resolution:
        """The model that serves ``model``; raises :class:`ModelRefused` when none can."""
        today = today or dt.date.today()
        entry = self.entry(stage, provider, model)
        status: Status = "active" if entry is None else entry.status_on(today)
        successor = None if entry is None else entry.successor
        key = (stage, provider, model)
        if key in self._operator_map:
            mapped = self._operator_map[key]
            served = model if mapped is None else mapped
            notice = None if served == model else f"the operator serves {model} with {served}"
            return Resolution(stage, provider, model, served, status, successor, notice)
        if entry is None:  # not a contract value this data knows: pass it through
            return Resolution(stage, provider, model, model, "active", None, None)
        if entry.kind in _NOT_CHAT:
            raise ModelRefused(
                "unsupported_option",
                f"{model} is {_NOT_CHAT[entry.kind]}, not a chat model; "
                f"{provider} chat models include {self._chat_examples(stage, provider)}",
            )
        if entry.kind == "not_a_deployment":
            raise ModelRefused(
                "unsupported_option",
                f"{model} is not an Azure OpenAI deployment ({entry.note or 'another provider'}); "
                f"use an Azure deployment such as {self._chat_examples(stage, provider)}, "
                f"or map it to one with {MODEL_MAP_ENV}",
            )
        if status == "retired":
            return self._resolve_retired(entry, today)
        served = entry.served_as or model
        if status == "deprecated":
            notice = f"{model} is deprecated and shuts down on {entry.date}" + (
                f"; {entry.successor} replaces it" if entry.successor else ""
            )
        else:
            notice = None if served == model else f"{model} is served as {served}"
        return Resolution(stage, provider, model, served, status, successor, notice)

    def _resolve_retired(self, entry: ModelEntry, today: dt.date) -> Resolution:
        retired = f"{entry.model} was retired on {entry.date}"
        if not self.successor_mapping:
            served = entry.served_as or entry.model
            notice = f"{retired}; sent as asked ({MODEL_MAP_OFF_ENV} is set)"
            return Resolution(
                entry.stage, entry.provider, entry.model, served, "retired", entry.successor, notice
            )
        if entry.successor is None:
            raise ModelRefused(
                "model_retired",
                f"{retired} and no {entry.provider} model replaces it"
                + (f" ({entry.note})" if entry.note else ""),
            )
        nxt = self.resolve(entry.stage, entry.provider, entry.successor, today=today)
        return Resolution(
            entry.stage,
            entry.provider,
            entry.model,
            nxt.served,
            "retired",
            entry.successor,
            f"{retired}; {entry.successor} serves it",
        )

    def _chat_examples(self, stage: Stage, provider: str) -> str:
        found = self._providers[(stage, provider)]
        active = [
            e.model
            for e in found.models.values()
            if e.kind == "model" and e.status == "active" and e.model != found.default
        ]
        return ", ".join([found.default, *active[:3]])

    # -- what a model takes ------------------------------------------------------------------

    def voice_problem(self, provider: str, model: str, voice: str) -> str | None:
        """Why text-to-speech ``model`` cannot speak with ``voice``, or None when it can."""
        if provider == "aws":
            return self._polly_engine_problem(engine=model, voice=voice)
        entry = self.entry("tts", provider, model)
        if entry is None or entry.voices is None or voice in entry.voices:
            return None
        return f"{model} does not take the voice {voice}; it takes {', '.join(entry.voices)}"

    def _polly_engine_problem(self, *, engine: str, voice: str) -> str | None:
        found = self._providers.get(("tts", "aws"))
        engines = None if found is None else found.voice_engines.get(voice)
        # Only the neural engine on a standard-only voice is refused: the voice list predates
        # the generative engine and under-reports later additions, so other pairs are let through.
        if engines is not None and engine == "neural" and engines == ("standard",):
            return (
                f"the Polly voice {voice} takes the standard engine only; "
                f"ask for model standard or default"
            )
        return None

    def llm_options(self, provider: str, model: str) -> LlmOptions:
        """What ``model`` takes (plain chat options for models the data does not describe)."""
        entry = self.entry("llm", provider, model)
        return PLAIN_CHAT if entry is None or entry.llm_options is None else entry.llm_options

    def azure_api_version(
        self, deployment: str, configured: str | None, *, reasoning: bool = False
    ) -> str:
        """The api-version to call ``deployment`` with: ``configured`` (or the default), raised
        to the first version that serves reasoning deployments when the deployment is one (by
        the data, or ``reasoning`` for deployment names the data does not know)."""
        chosen = configured or self._azure_api_versions["default"]
        if not (reasoning or self.llm_options("azure", deployment).reasoning):
            return chosen
        needed = self._azure_api_versions["reasoning_min"]
        # api-versions start with their date (2024-12-01-preview): compare the dates.
        return needed if chosen[:10] < needed[:10] else chosen

    # -- the availability command ------------------------------------------------------------

    def outdated_defaults(
        self,
        defaults: Mapping[tuple[Stage, str], str] | None = None,
        *,
        today: dt.date | None = None,
    ) -> list[Resolution]:
        """Deprecated or retired models among ``defaults`` (stage, provider -> model; the
        contract's defaults when omitted), each with what serves it."""
        today = today or dt.date.today()
        chosen = (
            {key: found.default for key, found in self._providers.items()}
            if defaults is None
            else defaults
        )
        outdated: list[Resolution] = []
        for (stage, provider), model in chosen.items():
            entry = self.entry(stage, provider, model)
            if entry is None or entry.status_on(today) == "active":
                continue
            try:
                outdated.append(self.resolve(stage, provider, model, today=today))
            except ModelRefused as refused:
                outdated.append(
                    Resolution(stage, provider, model, model, "retired", None, refused.message)
                )
        return outdated


# -- loading -----------------------------------------------------------------------------------


def load_lifecycle(env: Mapping[str, str] | None = None) -> Lifecycle:
    """The lifecycle with the operator's overrides from ``env`` (default: os.environ)."""
    env = os.environ if env is None else env
    return _cached(env.get(MODEL_MAP_ENV, ""), env.get(MODEL_MAP_OFF_ENV, ""))


@cache
def _cached(model_map: str, mapping_off: str) -> Lifecycle:
    data = _data()
    return Lifecycle(
        data.providers,
        as_of=data.as_of,
        sources=data.sources,
        azure_api_versions=data.azure_api_versions,
        operator_map=parse_operator_map(model_map),
        successor_mapping=mapping_off.strip().lower() not in {"1", "true", "yes", "on"},
    )


def parse_operator_map(text: str) -> OperatorMap:
    """Parse METAHUMAN_MODEL_MAP (JSON, or ``@path`` of a JSON file); empty means no overrides."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("@"):
        text = Path(text[1:]).read_text(encoding="utf-8")
    try:
        raw: object = json.loads(text)
    except json.JSONDecodeError as error:
        raise LifecycleDataError(f"{MODEL_MAP_ENV} is not valid JSON: {error}") from None
    mapping: dict[tuple[Stage, str, str], str | None] = {}
    for stage, providers in _mapping(raw, MODEL_MAP_ENV).items():
        if stage not in _STAGES:
            raise LifecycleDataError(f"{MODEL_MAP_ENV}: unknown stage {stage!r}")
        for provider, models in _mapping(providers, f"{MODEL_MAP_ENV}.{stage}").items():
            for model, served in _mapping(models, f"{MODEL_MAP_ENV}.{stage}.{provider}").items():
                if served is not None and (not isinstance(served, str) or not served):
                    raise LifecycleDataError(
                        f"{MODEL_MAP_ENV}.{stage}.{provider}.{model} must be a model id or null"
                    )
                mapping[(stage, provider, model)] = served
    return mapping


@dataclass(frozen=True)
class _Data:
    as_of: dt.date
    sources: Mapping[str, str]
    azure_api_versions: Mapping[str, str]
    providers: Mapping[tuple[Stage, str], ProviderLifecycle]


@cache
def _data() -> _Data:
    text = (
        resources.files(__package__ or "handlers.providers")
        .joinpath(DATA_FILE)
        .read_text(encoding="utf-8")
    )
    return parse_data(yaml.safe_load(text))


def parse_data(raw: object) -> _Data:
    """Check and type lifecycle.yaml's content."""
    top = _mapping(raw, DATA_FILE)
    as_of = top.get("as_of")
    if not isinstance(as_of, dt.date):
        raise LifecycleDataError(f"{DATA_FILE}: as_of must be a date")
    sources = {str(k): str(v) for k, v in _mapping(top.get("sources"), "sources").items()}
    options = {
        str(name): _llm_options(value, f"llm_options.{name}")
        for name, value in _mapping(top.get("llm_options"), "llm_options").items()
    }
    azure = {str(k): str(v) for k, v in _mapping(top.get("azure_api_versions"), "azure").items()}
    providers: dict[tuple[Stage, str], ProviderLifecycle] = {}
    for stage, by_provider in _mapping(top.get("stages"), "stages").items():
        if stage not in _STAGES:
            raise LifecycleDataError(f"{DATA_FILE}: unknown stage {stage!r}")
        for provider, body in _mapping(by_provider, stage).items():
            where = f"{stage}.{provider}"
            section = _mapping(body, where)
            models = {
                str(model): _entry(stage, provider, str(model), value, sources, options)
                for model, value in _mapping(section.get("models"), where).items()
            }
            engines = {
                str(voice): tuple(_strings(value, f"{where}.voice_engines.{voice}"))
                for voice, value in _mapping(section.get("voice_engines", {}), where).items()
            }
            default = section.get("default")
            if not isinstance(default, str) or default not in models:
                raise LifecycleDataError(f"{where}: default {default!r} is not one of its models")
            providers[(stage, provider)] = ProviderLifecycle(default, models, engines)
    return _Data(as_of, sources, azure, providers)


def _entry(
    stage: Stage,
    provider: str,
    model: str,
    raw: object,
    sources: Mapping[str, str],
    options: Mapping[str, LlmOptions],
) -> ModelEntry:
    where = f"{stage}.{provider}.{model}"
    body = _mapping(raw, where)
    unknown = set(body) - {
        "status", "date", "successor", "served_as", "source", "note", "verified", "kind",
        "voices", "options",
    }  # fmt: skip
    if unknown:
        raise LifecycleDataError(f"{where}: unknown fields {sorted(unknown)}")
    status, kind = body.get("status"), body.get("kind", "model")
    if status not in _STATUSES or kind not in _KINDS:
        raise LifecycleDataError(f"{where}: bad status {status!r} or kind {kind!r}")
    when = body.get("date")
    if (status == "active") != (when is None) or (
        when is not None and not isinstance(when, dt.date)
    ):
        raise LifecycleDataError(f"{where}: deprecated and retired models need a date, active none")
    source = body.get("source")
    if source not in sources:
        raise LifecycleDataError(f"{where}: source {source!r} is not in sources")
    option_name = body.get("options")
    if option_name is not None and option_name not in options:
        raise LifecycleDataError(f"{where}: unknown options {option_name!r}")
    voices = body.get("voices")
    return ModelEntry(
        stage=stage,
        provider=provider,
        model=model,
        status=cast(Status, status),
        date=when,
        successor=_optional_str(body.get("successor"), where),
        served_as=_optional_str(body.get("served_as"), where),
        source=str(source),
        note=_optional_str(body.get("note"), where),
        verified=bool(body.get("verified", True)),
        kind=cast(Kind, kind),
        voices=None if voices is None else tuple(_strings(voices, f"{where}.voices")),
        llm_options=None if option_name is None else options[str(option_name)],
    )


def _llm_options(raw: object, where: str) -> LlmOptions:
    body = _mapping(raw, where)
    token_limit = body.get("token_limit", "max_completion_tokens")
    if token_limit not in ("max_tokens", "max_completion_tokens"):
        raise LifecycleDataError(f"{where}: bad token_limit {token_limit!r}")
    effort = body.get("reasoning_effort")
    return LlmOptions(
        reasoning=bool(body.get("reasoning", False)),
        takes_temperature=bool(body.get("temperature", True)),
        token_limit=token_limit,
        reasoning_allowance=int(body.get("reasoning_allowance", 0)),
        reasoning_effort=None if effort is None else str(effort),
        stream_needs_verified_org=body.get("stream") == "verified_organization",
    )


def _mapping(raw: object, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict) or not all(isinstance(k, str) for k in raw):
        raise LifecycleDataError(f"{where} must be a mapping with string keys")
    return cast(dict[str, Any], raw)


def _strings(raw: object, where: str) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise LifecycleDataError(f"{where} must be a list of strings")
    return cast(list[str], raw)


def _optional_str(raw: object, where: str) -> str | None:
    if raw is not None and not isinstance(raw, str):
        raise LifecycleDataError(f"{where}: expected a string, got {raw!r}")
    return raw
