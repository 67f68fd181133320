"""The model lifecycle against the contract: every value has an entry, retired models have an
active successor, defaults are active, voices and options per model, operator overrides."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from handlers.providers.lifecycle import (
    MODEL_MAP_ENV,
    MODEL_MAP_OFF_ENV,
    Lifecycle,
    LifecycleDataError,
    ModelRefused,
    Stage,
    load_lifecycle,
    parse_data,
)

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "asyncapi.yaml"
DATA = ROOT / "handlers" / "providers" / "lifecycle.yaml"
AS_OF = date(2026, 11, 30)
# Schema keys name stage, provider and what the enum lists: SttOpenAiModel, TtsAwsVoice, ...
SCHEMA_KEY = re.compile(r"^(Stt|Llm|Tts)([A-Z][A-Za-z]*?)(Model|Voice)$")


def provider_name(camel: str) -> str:
    return camel.lower()  # OpenAi -> openai, AiGames -> aigames, Aws -> aws


def contract_enums() -> Iterator[tuple[Stage, str, str, dict[str, Any]]]:
    """(stage, provider, "Model"|"Voice", schema) for every model and voice enum of the contract."""
    document = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    for key, schema in document["components"]["schemas"].items():
        match = SCHEMA_KEY.match(key)
        if match and "enum" in schema:
            stage, provider, what = match.groups()
            yield cast(Stage, stage.lower()), provider_name(provider), what, schema


MODEL_ENUMS = {(s, p): schema for s, p, what, schema in contract_enums() if what == "Model"}
VOICE_ENUMS = {(s, p): schema for s, p, what, schema in contract_enums() if what == "Voice"}


@pytest.fixture(scope="module")
def lifecycle() -> Lifecycle:
    return load_lifecycle({})


def test_the_contract_has_model_enums_for_every_stage() -> None:
    # Guards the key pattern: if the contract renamed its schemas, nothing below would run.
    assert {stage for stage, _ in MODEL_ENUMS} == {"stt", "llm", "tts"}
    assert len(MODEL_ENUMS) == 17
    assert ("llm", "aws") in MODEL_ENUMS and ("tts", "openai") in VOICE_ENUMS


@pytest.mark.parametrize("key", sorted(MODEL_ENUMS), ids="-".join)
def test_every_contract_model_has_exactly_one_entry(
    lifecycle: Lifecycle, key: tuple[Stage, str]
) -> None:
    stage, provider = key
    values = set(MODEL_ENUMS[key]["enum"])
    found = lifecycle.provider(stage, provider)
    assert found is not None, f"no lifecycle section for {stage}.{provider}"
    assert values - set(found.models) == set(), "contract values without a lifecycle entry"
    assert set(found.models) - values == set(), "lifecycle entries that are not contract values"
    assert found.default == MODEL_ENUMS[key]["x-default"], "lifecycle and contract defaults differ"


def test_no_lifecycle_section_without_a_contract_enum(lifecycle: Lifecycle) -> None:
    assert set(lifecycle.providers()) == set(MODEL_ENUMS)


def test_retired_models_have_an_active_successor_of_the_contract(lifecycle: Lifecycle) -> None:
    retired = [e for e in lifecycle.entries() if e.status == "retired"]
    assert len(retired) > 20  # the seed's OpenAI and Bedrock models
    for entry in retired:
        assert entry.successor is not None, entry.model
        successor = lifecycle.entry(entry.stage, entry.provider, entry.successor)
        assert successor is not None, (
            f"{entry.model}: successor {entry.successor} not in the contract"
        )
        assert successor.status_on(AS_OF) == "active", (entry.model, entry.successor)
        assert successor.kind == "model"


def test_successors_of_deprecated_models_are_active_contract_values(lifecycle: Lifecycle) -> None:
    for entry in lifecycle.entries():
        if entry.successor is None:
            continue
        successor = lifecycle.entry(entry.stage, entry.provider, entry.successor)
        assert successor is not None and successor.status == "active", entry.model


def test_served_as_ids_are_active_contract_values(lifecycle: Lifecycle) -> None:
    translated = [e for e in lifecycle.entries() if e.served_as is not None]
    assert {e.provider for e in translated} >= {"aws", "bayer"}
    for entry in translated:
        target = lifecycle.entry(entry.stage, entry.provider, cast(str, entry.served_as))
        assert target is not None and target.served_as is None, entry.model


def test_defaults_are_active(lifecycle: Lifecycle) -> None:
    for stage, provider in lifecycle.providers():
        default = cast(str, lifecycle.default(stage, provider))
        entry = lifecycle.entry(stage, provider, default)
        assert entry is not None and entry.kind in ("model", "ignored"), (stage, provider)
        if entry.status_on(AS_OF) != "active":
            # Only where nothing active exists to move to (OpenAI's speech endpoint: every
            # model shuts down on 2027-01-06 and the replacement is a Realtime model).
            others = lifecycle.provider(stage, provider)
            assert others is not None
            assert entry.successor is None, (stage, provider, default)
            assert all(e.status != "active" for e in others.models.values()), (stage, provider)


def test_the_seed_defaults_that_are_retired_are_reported(lifecycle: Lifecycle) -> None:
    seed_defaults: dict[tuple[Stage, str], str] = {
        ("llm", "aws"): "anthropic.claude-instant-v1",
        ("llm", "openai"): "gpt-4o-mini",
        ("stt", "openai"): "gpt-4o-mini-transcribe",
        ("llm", "local"): "eliza",
    }
    outdated = {
        (r.stage, r.provider): r for r in lifecycle.outdated_defaults(seed_defaults, today=AS_OF)
    }
    assert set(outdated) == {("llm", "aws"), ("llm", "openai"), ("stt", "openai")}
    instant = outdated[("llm", "aws")]
    assert instant.status == "retired"
    assert instant.served == "global.anthropic.claude-haiku-4-5-20251001-v1:0"
    assert outdated[("llm", "openai")].status == "deprecated"
    # The contract's own defaults: only the OpenAI speech model (nothing active replaces it).
    current = lifecycle.outdated_defaults(today=AS_OF)
    assert [(r.stage, r.provider, r.requested) for r in current] == [
        ("tts", "openai", "gpt-4o-mini-tts")
    ]


# -- resolve ------------------------------------------------------------------------------------


def test_a_retired_model_is_served_by_its_successor(lifecycle: Lifecycle) -> None:
    result = lifecycle.resolve("llm", "openai", "gpt-4-32k", today=AS_OF)
    assert (result.requested, result.served, result.status) == (
        "gpt-4-32k",
        "gpt-5.6-sol",
        "retired",
    )
    assert result.remapped
    assert result.notice == "gpt-4-32k was retired on 2025-06-06; gpt-5.6-sol serves it"


def test_a_retired_bedrock_model_is_served_through_an_inference_profile(
    lifecycle: Lifecycle,
) -> None:
    result = lifecycle.resolve("llm", "aws", "anthropic.claude-v2", today=AS_OF)
    assert result.served == "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    base = lifecycle.resolve("llm", "aws", "anthropic.claude-opus-4-5-20251101-v1:0", today=AS_OF)
    assert (base.served, base.status) == (
        "global.anthropic.claude-opus-4-5-20251101-v1:0",
        "active",
    )
    assert base.notice is not None and "served as" in base.notice


def test_an_active_model_is_served_as_asked(lifecycle: Lifecycle) -> None:
    result = lifecycle.resolve("llm", "openai", "gpt-5.6-luna", today=AS_OF)
    assert (result.served, result.status, result.notice) == ("gpt-5.6-luna", "active", None)
    assert not result.remapped


def test_a_deprecated_model_is_served_with_a_notice_until_its_date(lifecycle: Lifecycle) -> None:
    before = lifecycle.resolve("llm", "openai", "o3", today=AS_OF)
    assert (before.served, before.status) == ("o3", "deprecated")
    assert before.notice == "o3 is deprecated and shuts down on 2026-12-11; gpt-5.6-sol replaces it"
    after = lifecycle.resolve("llm", "openai", "o3", today=date(2026, 12, 11))
    assert (after.served, after.status) == ("gpt-5.6-sol", "retired")


def test_the_seed_spelling_of_the_transcribe_model_is_sent_with_the_api_spelling(
    lifecycle: Lifecycle,
) -> None:
    result = lifecycle.resolve("stt", "openai", "gpt_4o_mini_transcribe", today=AS_OF)
    assert result.served == "gpt-4o-mini-transcribe"
    later = lifecycle.resolve("stt", "openai", "gpt_4o_mini_transcribe", today=date(2027, 3, 1))
    assert later.served == "gpt-transcribe"


def test_bayer_display_names_are_sent_as_model_ids(lifecycle: Lifecycle) -> None:
    assert lifecycle.resolve("llm", "bayer", "GPT-4o mini", today=AS_OF).served == "gpt-4o-mini"
    assert lifecycle.resolve("llm", "bayer", "GPT-5 Nano", today=AS_OF).served == "gpt-5-nano"


@pytest.mark.parametrize(
    ("model", "what"),
    [
        ("OpenAI Text Embedding 3 (small)", "an embedding model"),
        ("Cohere Rerank v3.5", "a reranker"),
        ("GPT 4o Batch", "a batch-API model"),
    ],
)
def test_bayer_entries_that_are_not_chat_models_are_refused(
    lifecycle: Lifecycle, model: str, what: str
) -> None:
    with pytest.raises(ModelRefused) as refused:
        lifecycle.resolve("llm", "bayer", model, today=AS_OF)
    assert refused.value.code == "unsupported_option"
    assert refused.value.message.startswith(f"{model} is {what}, not a chat model")
    assert "GPT-4o mini" in refused.value.message  # names a chat model to use instead


def test_bedrock_ids_are_refused_as_azure_deployments(lifecycle: Lifecycle) -> None:
    with pytest.raises(ModelRefused) as refused:
        lifecycle.resolve("llm", "azure", "anthropic.claude-v3-5-sonnet", today=AS_OF)
    assert refused.value.code == "unsupported_option"
    assert "not an Azure OpenAI deployment" in refused.value.message
    assert MODEL_MAP_ENV in refused.value.message


def test_a_retired_model_with_no_successor_is_refused(lifecycle: Lifecycle) -> None:
    with pytest.raises(ModelRefused) as refused:
        lifecycle.resolve("tts", "openai", "gpt-4o-mini-tts", today=date(2027, 1, 6))
    assert refused.value.code == "model_retired"
    assert refused.value.message.startswith("gpt-4o-mini-tts was retired on 2027-01-06")


def test_unknown_models_pass_through(lifecycle: Lifecycle) -> None:
    result = lifecycle.resolve("llm", "openai", "my-fine-tune", today=AS_OF)
    assert (result.served, result.status, result.notice) == ("my-fine-tune", "active", None)


# -- operator overrides -------------------------------------------------------------------------


def test_the_operator_map_overrides_the_data() -> None:
    overrides = {
        "llm": {
            "bayer": {"Claude Sonnet 4.5": "claude-sonnet-4-5"},
            "openai": {"gpt-4-32k": None, "gpt-4o-mini": "gpt-5.6-terra"},
            "azure": {"anthropic.claude-v3-5-sonnet": "my-gpt-4o-deployment"},
        }
    }
    custom = load_lifecycle({MODEL_MAP_ENV: json.dumps(overrides)})
    assert (
        custom.resolve("llm", "bayer", "Claude Sonnet 4.5", today=AS_OF).served
        == "claude-sonnet-4-5"
    )
    kept = custom.resolve("llm", "openai", "gpt-4-32k", today=AS_OF)
    assert (kept.served, kept.status, kept.notice) == ("gpt-4-32k", "retired", None)
    moved = custom.resolve("llm", "openai", "gpt-4o-mini", today=AS_OF)
    assert moved.served == "gpt-5.6-terra"
    assert moved.notice == "the operator serves gpt-4o-mini with gpt-5.6-terra"
    deployment = custom.resolve("llm", "azure", "anthropic.claude-v3-5-sonnet", today=AS_OF)
    assert deployment.served == "my-gpt-4o-deployment"
    # Everything not named keeps the data's mapping.
    assert custom.resolve("llm", "openai", "gpt-4", today=AS_OF).served == "gpt-5.6-sol"


def test_the_operator_map_can_come_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "models.json"
    path.write_text(json.dumps({"llm": {"bayer": {"Mistral Large": "mistral-large-2411"}}}))
    custom = load_lifecycle({MODEL_MAP_ENV: f"@{path}"})
    assert (
        custom.resolve("llm", "bayer", "Mistral Large", today=AS_OF).served == "mistral-large-2411"
    )


def test_turning_the_mapping_off_sends_retired_models_as_asked() -> None:
    off = load_lifecycle({MODEL_MAP_OFF_ENV: "1"})
    assert not off.successor_mapping
    result = off.resolve("llm", "aws", "anthropic.claude-instant-v1", today=AS_OF)
    assert (result.served, result.status) == ("anthropic.claude-instant-v1", "retired")
    assert result.notice is not None and MODEL_MAP_OFF_ENV in result.notice
    # Id translations stay on: they are how the provider names the model, not a lifecycle choice.
    assert off.resolve("llm", "bayer", "GPT-4o mini", today=AS_OF).served == "gpt-4o-mini"
    assert load_lifecycle({MODEL_MAP_OFF_ENV: "0"}).successor_mapping


@pytest.mark.parametrize(
    "text",
    ['{"llm": ', '{"speech": {}}', '{"llm": {"openai": {"gpt-4": 3}}}', '["gpt-4"]'],
)
def test_a_malformed_operator_map_is_an_error(text: str) -> None:
    with pytest.raises(LifecycleDataError) as error:
        load_lifecycle({MODEL_MAP_ENV: text})
    assert MODEL_MAP_ENV in str(error.value)


# -- voices and options -------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["tts-1", "tts-1-hd"])
@pytest.mark.parametrize("voice", ["ballad", "verse", "marin", "cedar"])
def test_tts_1_refuses_the_newer_voices_and_names_what_it_takes(
    lifecycle: Lifecycle, model: str, voice: str
) -> None:
    problem = lifecycle.voice_problem("openai", model, voice)
    assert problem == (
        f"{model} does not take the voice {voice}; "
        "it takes alloy, ash, coral, echo, fable, onyx, nova, sage, shimmer"
    )


def test_every_openai_voice_of_the_contract_is_taken_by_gpt_4o_mini_tts(
    lifecycle: Lifecycle,
) -> None:
    for voice in VOICE_ENUMS[("tts", "openai")]["enum"]:
        assert lifecycle.voice_problem("openai", "gpt-4o-mini-tts", voice) is None, voice
    assert lifecycle.voice_problem("openai", "tts-1", "nova") is None


def test_every_tts_voice_list_names_contract_voices(lifecycle: Lifecycle) -> None:
    openai_voices = set(VOICE_ENUMS[("tts", "openai")]["enum"])
    for entry in lifecycle.entries():
        if entry.voices is not None:
            assert set(entry.voices) <= openai_voices, entry.model
    polly = lifecycle.provider("tts", "aws")
    assert polly is not None
    assert set(polly.voice_engines) == set(VOICE_ENUMS[("tts", "aws")]["enum"])


def test_polly_refuses_the_neural_engine_for_standard_only_voices(lifecycle: Lifecycle) -> None:
    problem = lifecycle.voice_problem("aws", "neural", "Aditi")
    assert problem == (
        "the Polly voice Aditi takes the standard engine only; ask for model standard or default"
    )
    assert lifecycle.voice_problem("aws", "neural", "Joanna") is None
    assert lifecycle.voice_problem("aws", "default", "Aditi") is None
    assert lifecycle.voice_problem("aws", "standard", "Aditi") is None


def test_reasoning_models_take_no_temperature_and_get_a_reasoning_allowance(
    lifecycle: Lifecycle,
) -> None:
    reasoning = lifecycle.llm_options("openai", "gpt-5.6-luna")
    assert reasoning.reasoning and not reasoning.takes_temperature
    assert reasoning.token_limit == "max_completion_tokens"
    assert reasoning.completion_budget(256) == 256 + reasoning.reasoning_allowance > 256
    assert not reasoning.stream_needs_verified_org
    chat = lifecycle.llm_options("openai", "gpt-4o")
    assert not chat.reasoning and chat.takes_temperature and chat.completion_budget(256) == 256
    assert chat.completion_budget(None) is None


def test_o3_streams_only_for_verified_organisations(lifecycle: Lifecycle) -> None:
    assert lifecycle.llm_options("openai", "o3").stream_needs_verified_org
    assert lifecycle.llm_options("openai", "o3-2025-04-16").stream_needs_verified_org
    assert not lifecycle.llm_options("openai", "gpt-5.6-sol").stream_needs_verified_org


def test_azure_reasoning_deployments_get_an_api_version_that_serves_them(
    lifecycle: Lifecycle,
) -> None:
    assert lifecycle.azure_api_version("o4-mini", None) == "2024-12-01-preview"
    assert lifecycle.azure_api_version("o4-mini", "2024-10-21") == "2024-12-01-preview"
    assert lifecycle.azure_api_version("o4-mini", "2025-04-01-preview") == "2025-04-01-preview"
    assert lifecycle.azure_api_version("gpt-4o", None) == "2024-10-21"
    assert lifecycle.azure_api_version("gpt-4o", "2024-06-01") == "2024-06-01"


# -- the data file itself -----------------------------------------------------------------------


def test_every_entry_cites_a_source(lifecycle: Lifecycle) -> None:
    for entry in lifecycle.entries():
        assert entry.source in lifecycle.sources, entry.model
    assert lifecycle.as_of == AS_OF


def test_malformed_data_is_refused() -> None:
    raw = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    raw["stages"]["llm"]["openai"]["models"]["gpt-4"]["status"] = "gone"
    with pytest.raises(LifecycleDataError, match="bad status"):
        parse_data(raw)
    raw = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    del raw["stages"]["llm"]["openai"]["models"]["gpt-4"]["date"]
    with pytest.raises(LifecycleDataError, match="need a date"):
        parse_data(raw)
    raw = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    raw["stages"]["llm"]["openai"]["default"] = "gpt-9"
    with pytest.raises(LifecycleDataError, match="default"):
        parse_data(raw)
