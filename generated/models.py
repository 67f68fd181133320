# generated from asyncapi.yaml by codegen — do not edit

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    ConfigDict,
    Field,
    StrictBool,
    StrictBytes,
    StrictFloat,
    StrictInt,
    StrictStr,
)
from typing_extensions import TypeAliasType

from codegen.runtime import ContractModel


class ClientRole(StrEnum):
    """
    What a client does in its session: a Sender speaks (sends audio and commits it), a
    Receiver is the digital human that gets the reply as text and speech.
    """

    SENDER = "sender"
    RECEIVER = "receiver"


SessionId = TypeAliasType(
    "SessionId",
    Annotated[StrictStr, Field(examples=["avatar-42"], pattern="^[A-Za-z0-9_-]{1,128}$")],
)
"""
Names a conversation. Senders and Receivers that connect with the same id form one
session.
"""


class Handshake(ContractModel):
    """
    The Socket.IO `auth` object a client sends when it connects (`io(url, {path:
    '/socketio', auth: {...}})`). A refused handshake gets `connect_error`.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    role: ClientRole
    session_id: Annotated[SessionId, Field(alias="sessionId")]
    token: Annotated[StrictStr | None, Field(max_length=4096, min_length=1)] = None
    """
    Access token. Required when the server is configured with tokens (METAHUMAN_TOKENS);
    ignored otherwise.
    """


class SttProvider(StrEnum):
    """
    Speech-to-text provider. `local` is the embedded offline engine (pocketsphinx, English).
    """

    OPEN_AI = "openai"
    AWS = "aws"
    GOOGLE = "google"
    MISTRAL = "mistral"
    LOCAL = "local"


class LlmProvider(StrEnum):
    """
    Language-model provider. `local` is the embedded demo responder (rule-based, not a
    model); `aigames`, `clarity` and `bayer` are OpenAI-compatible gateways.
    """

    AI_GAMES = "aigames"
    OPEN_AI = "openai"
    AWS = "aws"
    AZURE = "azure"
    CLARITY = "clarity"
    BAYER = "bayer"
    LOCAL = "local"


class TtsProvider(StrEnum):
    """
    Text-to-speech provider. `local` is the embedded offline engine (espeak-ng).
    """

    OPEN_AI = "openai"
    AWS = "aws"
    AZURE = "azure"
    GOOGLE = "google"
    LOCAL = "local"


class TtsResponseType(StrEnum):
    """
    How the reply is spoken: `single` one audio delta with the whole reply; `chain` one
    delta per sentence, the first spoken as soon as the language model has produced it;
    `stream` audio chunks of about 100-200 ms as the speech engine yields them. A new
    session starts with `chain`; an update that leaves it out keeps the current value.
    """

    SINGLE = "single"
    CHAIN = "chain"
    STREAM = "stream"


class SsmlGender(StrEnum):
    """
    Preferred voice gender, for providers that select voices by gender (Google, Azure SSML).
    A new session starts with `unspecified`; an update that leaves it out keeps the current
    value.
    """

    UNSPECIFIED = "unspecified"
    NEUTRAL = "neutral"
    MALE = "male"
    FEMALE = "female"


class SttLocalModel(StrEnum):
    """
    Embedded pocketsphinx with its US English acoustic and language model. Default
    `pocketsphinx-en-us` (a new session, or a switch to this provider that names none).
    """

    POCKETSPHINX_EN_US = "pocketsphinx-en-us"


class SttOpenAiModel(StrEnum):
    """
    OpenAI transcription model. `gpt_4o_mini_transcribe` is the original contract's spelling
    of `gpt-4o-mini-transcribe`; both are accepted. whisper-1 and the gpt-4o transcribe
    models shut down on 2027-02-26 (OpenAI deprecations) and are then served by `gpt-
    transcribe`. Default `gpt-transcribe` (a new session, or a switch to this provider that
    names none).
    """

    WHISPER_1 = "whisper-1"
    GPT_4O_TRANSCRIBE = "gpt-4o-transcribe"
    GPT_4O_MINI_TRANSCRIBE_LEGACY = "gpt_4o_mini_transcribe"
    GPT_4O_MINI_TRANSCRIBE = "gpt-4o-mini-transcribe"
    GPT_TRANSCRIBE = "gpt-transcribe"
    GPT_4O_MINI_TRANSCRIBE_2025_12_15 = "gpt-4o-mini-transcribe-2025-12-15"


class SttAwsModel(StrEnum):
    """
    No selectable models: Amazon Transcribe streaming uses its default model. Default
    `default` (a new session, or a switch to this provider that names none).
    """

    DEFAULT = "default"


class SttGoogleModel(StrEnum):
    """
    Google Cloud Speech-to-Text recognition model; `default` lets Google choose. Default
    `default` (a new session, or a switch to this provider that names none).
    """

    DEFAULT = "default"
    LATEST_SHORT = "latest_short"
    LATEST_LONG = "latest_long"


class SttMistralModel(StrEnum):
    """
    Mistral Voxtral transcription model. Default `voxtral-mini-latest` (a new session, or a
    switch to this provider that names none).
    """

    VOXTRAL_MINI_LATEST = "voxtral-mini-latest"
    VOXTRAL_SMALL_LATEST = "voxtral-small-latest"


class LlmLocalModel(StrEnum):
    """
    The embedded demo responder: deterministic keyword rules in the ELIZA tradition, not a
    language model. Default `eliza` (a new session, or a switch to this provider that names
    none).
    """

    ELIZA = "eliza"


class LlmOpenAiModel(StrEnum):
    """
    OpenAI chat model. Reasoning models (gpt-5*, o1, o3, o4, codex) ignore `temperature`.
    Retired models (OpenAI deprecations page) are served by their successor, and
    `session.updated` names both. Default `gpt-5.6-luna` (a new session, or a switch to this
    provider that names none).
    """

    GPT_5_6_SOL = "gpt-5.6-sol"
    GPT_5_6_TERRA = "gpt-5.6-terra"
    GPT_5_6_LUNA = "gpt-5.6-luna"
    GPT_5_5 = "gpt-5.5"
    GPT_5_4 = "gpt-5.4"
    GPT_5_4_MINI = "gpt-5.4-mini"
    GPT_4_1 = "gpt-4.1"
    GPT_4_1_MINI = "gpt-4.1-mini"
    GPT_4_1_NANO = "gpt-4.1-nano"
    GPT_4_1_2025_04_14 = "gpt-4.1-2025-04-14"
    GPT_4_1_MINI_2025_04_14 = "gpt-4.1-mini-2025-04-14"
    GPT_4_1_NANO_2025_04_14 = "gpt-4.1-nano-2025-04-14"
    O4_MINI = "o4-mini"
    O4_MINI_2025_04_16 = "o4-mini-2025-04-16"
    O3 = "o3"
    O3_2025_04_16 = "o3-2025-04-16"
    O3_MINI = "o3-mini"
    O3_MINI_2025_01_31 = "o3-mini-2025-01-31"
    O1 = "o1"
    O1_2024_12_17 = "o1-2024-12-17"
    O1_PREVIEW = "o1-preview"
    O1_PREVIEW_2024_09_12 = "o1-preview-2024-09-12"
    O1_MINI = "o1-mini"
    O1_MINI_2024_09_12 = "o1-mini-2024-09-12"
    GPT_4O = "gpt-4o"
    GPT_4O_2024_11_20 = "gpt-4o-2024-11-20"
    GPT_4O_2024_08_06 = "gpt-4o-2024-08-06"
    GPT_4O_2024_05_13 = "gpt-4o-2024-05-13"
    GPT_4O_AUDIO_PREVIEW = "gpt-4o-audio-preview"
    GPT_4O_AUDIO_PREVIEW_2024_10_01 = "gpt-4o-audio-preview-2024-10-01"
    GPT_4O_AUDIO_PREVIEW_2024_12_17 = "gpt-4o-audio-preview-2024-12-17"
    GPT_4O_MINI_AUDIO_PREVIEW = "gpt-4o-mini-audio-preview"
    GPT_4O_MINI_AUDIO_PREVIEW_2024_12_17 = "gpt-4o-mini-audio-preview-2024-12-17"
    GPT_4O_SEARCH_PREVIEW = "gpt-4o-search-preview"
    GPT_4O_MINI_SEARCH_PREVIEW = "gpt-4o-mini-search-preview"
    GPT_4O_SEARCH_PREVIEW_2025_03_11 = "gpt-4o-search-preview-2025-03-11"
    GPT_4O_MINI_SEARCH_PREVIEW_2025_03_11 = "gpt-4o-mini-search-preview-2025-03-11"
    CHATGPT_4O_LATEST = "chatgpt-4o-latest"
    CODEX_MINI_LATEST = "codex-mini-latest"
    GPT_4O_MINI = "gpt-4o-mini"
    GPT_4O_MINI_2024_07_18 = "gpt-4o-mini-2024-07-18"
    GPT_4_TURBO = "gpt-4-turbo"
    GPT_4_TURBO_2024_04_09 = "gpt-4-turbo-2024-04-09"
    GPT_4_0125_PREVIEW = "gpt-4-0125-preview"
    GPT_4_TURBO_PREVIEW = "gpt-4-turbo-preview"
    GPT_4_1106_PREVIEW = "gpt-4-1106-preview"
    GPT_4_VISION_PREVIEW = "gpt-4-vision-preview"
    GPT_4 = "gpt-4"
    GPT_4_0314 = "gpt-4-0314"
    GPT_4_0613 = "gpt-4-0613"
    GPT_4_32K = "gpt-4-32k"
    GPT_4_32K_0314 = "gpt-4-32k-0314"
    GPT_4_32K_0613 = "gpt-4-32k-0613"
    GPT_3_5_TURBO = "gpt-3.5-turbo"
    GPT_3_5_TURBO_16K = "gpt-3.5-turbo-16k"
    GPT_3_5_TURBO_0301 = "gpt-3.5-turbo-0301"
    GPT_3_5_TURBO_0613 = "gpt-3.5-turbo-0613"
    GPT_3_5_TURBO_1106 = "gpt-3.5-turbo-1106"
    GPT_3_5_TURBO_0125 = "gpt-3.5-turbo-0125"
    GPT_3_5_TURBO_16K_0613 = "gpt-3.5-turbo-16k-0613"


class LlmAwsModel(StrEnum):
    """
    Amazon Bedrock model id or cross-Region inference profile id (`us.`, `eu.`, `global.`),
    called through the Converse streaming API. Claude 4.x base ids take no on-demand
    throughput and are served through an inference profile. The original contract's Claude
    v1, v2 and Instant ids are end-of-life on Bedrock and are served by their successor;
    `session.updated` names both. Default `global.anthropic.claude-haiku-4-5-20251001-v1:0`
    (a new session, or a switch to this provider that names none).
    """

    ANTHROPIC_CLAUDE_V2 = "anthropic.claude-v2"
    ANTHROPIC_CLAUDE_V1 = "anthropic.claude-v1"
    ANTHROPIC_CLAUDE_INSTANT_V1 = "anthropic.claude-instant-v1"
    GLOBAL_ANTHROPIC_CLAUDE_HAIKU_4_5 = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
    US_ANTHROPIC_CLAUDE_HAIKU_4_5 = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    EU_ANTHROPIC_CLAUDE_HAIKU_4_5 = "eu.anthropic.claude-haiku-4-5-20251001-v1:0"
    ANTHROPIC_CLAUDE_HAIKU_4_5 = "anthropic.claude-haiku-4-5-20251001-v1:0"
    GLOBAL_ANTHROPIC_CLAUDE_SONNET_4_5 = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    US_ANTHROPIC_CLAUDE_SONNET_4_5 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    EU_ANTHROPIC_CLAUDE_SONNET_4_5 = "eu.anthropic.claude-sonnet-4-5-20250929-v1:0"
    ANTHROPIC_CLAUDE_SONNET_4_5 = "anthropic.claude-sonnet-4-5-20250929-v1:0"
    GLOBAL_ANTHROPIC_CLAUDE_OPUS_4_5 = "global.anthropic.claude-opus-4-5-20251101-v1:0"
    US_ANTHROPIC_CLAUDE_OPUS_4_5 = "us.anthropic.claude-opus-4-5-20251101-v1:0"
    ANTHROPIC_CLAUDE_OPUS_4_5 = "anthropic.claude-opus-4-5-20251101-v1:0"
    GLOBAL_ANTHROPIC_CLAUDE_SONNET_4_6 = "global.anthropic.claude-sonnet-4-6"
    US_ANTHROPIC_CLAUDE_SONNET_4_6 = "us.anthropic.claude-sonnet-4-6"
    ANTHROPIC_CLAUDE_SONNET_4_6 = "anthropic.claude-sonnet-4-6"
    US_ANTHROPIC_CLAUDE_OPUS_4_6 = "us.anthropic.claude-opus-4-6-v1"
    ANTHROPIC_CLAUDE_OPUS_4_6 = "anthropic.claude-opus-4-6-v1"


class LlmAzureModel(StrEnum):
    """
    Azure OpenAI deployment name (by convention the model name). The `anthropic.*` and
    `amazon.*` values of the original contract are Bedrock model ids that no Azure OpenAI
    deployment serves; they are refused unless the operator maps them to a deployment
    (METAHUMAN_MODEL_MAP). Reasoning deployments (o-series, gpt-5*) need api-version
    2024-12-01-preview or later. Default `gpt-4o` (a new session, or a switch to this
    provider that names none).
    """

    GPT_35_TURBO = "gpt-35-turbo"
    GPT_35_TURBO_16K = "gpt-35-turbo-16k"
    GPT_4 = "gpt-4"
    GPT_4_32K = "gpt-4-32k"
    AMAZON_TITAN_TG1_LARGE = "amazon.titan-tg1-large"
    ANTHROPIC_CLAUDE = "anthropic.claude"
    ANTHROPIC_CLAUDE_V3_OPUS = "anthropic.claude-v3-opus"
    ANTHROPIC_CLAUDE_V3_SONNET = "anthropic.claude-v3-sonnet"
    ANTHROPIC_CLAUDE_V3_5_SONNET = "anthropic.claude-v3-5-sonnet"
    ANTHROPIC_CLAUDE_V3_HAIKU = "anthropic.claude-v3-haiku"
    GPT_4_TURBO = "gpt-4-turbo"
    GPT_4O = "gpt-4o"
    GPT_4O_MINI_2024_07_18 = "gpt-4o-mini-2024-07-18"
    GPT_4_1_2025_04_14 = "gpt-4.1-2025-04-14"
    GPT_4_1_NANO_2025_04_14 = "gpt-4.1-nano-2025-04-14"
    GPT_4_1_MINI_2025_04_14 = "gpt-4.1-mini-2025-04-14"
    ANTHROPIC_CLAUDE_V3_5_HAIKU = "anthropic.claude-v3-5-haiku"
    ANTHROPIC_CLAUDE_3_7_SONNET_20250219_V1_0 = "anthropic.claude-3-7-sonnet-20250219-v1:0"
    ANTHROPIC_CLAUDE_SONNET_4_20250514_V1_0 = "anthropic.claude-sonnet-4-20250514-v1:0"
    ANTHROPIC_CLAUDE_OPUS_4_20250514_V1_0 = "anthropic.claude-opus-4-20250514-v1:0"
    GPT_4_1 = "gpt-4.1"
    GPT_4_1_MINI = "gpt-4.1-mini"
    GPT_4O_MINI = "gpt-4o-mini"
    O4_MINI = "o4-mini"
    GPT_5_MINI = "gpt-5-mini"


class LlmAiGamesModel(StrEnum):
    """
    AI Games gateway model. Default `ATLAS` (a new session, or a switch to this provider
    that names none).
    """

    ATLAS = "ATLAS"
    ORION = "ORION"
    NOVA = "NOVA"
    RHEA = "RHEA"


class LlmClarityModel(StrEnum):
    """
    No selectable models: the Clarity gateway's configured model is used. Default `default`
    (a new session, or a switch to this provider that names none).
    """

    DEFAULT = "default"


class LlmBayerModel(StrEnum):
    """
    Bayer gateway (myGenAssist) model. The gateway takes model ids (`gpt-4o-mini`); the
    original contract's display names are mapped to ids where they are known, and an
    operator maps the others (METAHUMAN_MODEL_MAP). Embedding, reranker and batch entries
    are not chat models and are refused. The GPT-OSS-120B value is spelled as in the
    original contract, with U+2011 non-breaking hyphens in place of ASCII `-`: send it
    exactly so. Default `GPT-4o mini` (a new session, or a switch to this provider that
    names none).
    """

    O4_MINI = "o4-mini"
    GROK_3 = "grok-3"
    OPEN_AI_TEXT_EMBEDDING_3__SMALL_ = "OpenAI Text Embedding 3 (small)"
    OPEN_AI_TEXT_EMBEDDING_3__LARGE_ = "OpenAI Text Embedding 3 (large)"
    CLAUDE_SONNET_4 = "Claude Sonnet 4"
    COHERE_RERANK_V3_5 = "Cohere Rerank v3.5"
    GEMINI_2_5_PRO = "Gemini 2.5 Pro"
    GEMINI_2_5_FLASH = "Gemini 2.5 Flash"
    GEMINI_2_0_FLASH = "Gemini 2.0 Flash"
    GPT_4_TURBO = "GPT 4 Turbo"
    BGE_M3 = "bge-m3"
    LLAMA_3_1_405_B_INSTRUCT = "Llama 3.1 405B Instruct"
    GPT_5 = "GPT-5"
    GPT_5_NANO = "GPT-5 Nano"
    GPT_4O_MINI = "GPT-4o mini"
    BGE_RERANKER_V2_M3 = "BGE Reranker v2 M3"
    CLAUDE_3_5_SONNET = "Claude 3.5 Sonnet"
    GPT_4O_2024_08_06 = "gpt-4o-2024-08-06"
    GPT_5_MINI = "GPT-5 Mini"
    CLAUDE_OPUS_4 = "Claude Opus 4"
    DEEP_SEEK_R1_REASONING = "DeepSeek R1 Reasoning"
    O3_MINI = "o3-mini"
    O1_MINI = "o1-mini"
    O1_PREVIEW = "o1-preview"
    GPT_4 = "GPT-4"
    MISTRAL_LARGE = "Mistral Large"
    COMMAND_R_ = "Command-R+"
    GPT_3_5 = "GPT-3.5"
    GPT_4_TURBO_VISION = "GPT-4 Turbo Vision"
    BIO_LLAMA_3_70_B = "BioLlama-3 70B"
    LLAMA_3_1_70_B_INSTRUCT = "Llama 3.1 70B Instruct"
    LLAMA_3_1_8_B_INSTRUCT = "Llama 3.1 8B Instruct"
    GPT_4__0125_PREVIEW_ = "GPT-4 (0125-preview)"
    LLAMA_3_8_B = "Llama-3 8B"
    LLAMA_3_70_B = "Llama-3 70B"
    CLAUDE_OPUS_4_1 = "Claude Opus 4.1"
    GPT_OSS_120_B = "GPT\u2011OSS\u2011120B"
    CLAUDE_SONNET_4_5 = "Claude Sonnet 4.5"
    GPT_4O = "GPT 4o"
    CLAUDE_3_7_SONNET = "Claude 3.7 Sonnet"
    MED_CPT_RERANKER = "MedCPT Reranker"
    GPT_4O_MINI_BATCH = "GPT 4o mini Batch"
    GPT_4O_BATCH = "GPT 4o Batch"
    O3_MINI_BATCH = "o3 mini Batch"
    gpt_4o_1 = "GPT-4o"
    GPT_4_1 = "gpt-4.1"
    gpt_4o_mini_1 = "gpt-4o-mini"
    gpt_4o_2 = "gpt-4o"
    gpt_5_1 = "gpt-5"
    gpt_5_mini_1 = "gpt-5-mini"
    gpt_5_nano_1 = "gpt-5-nano"


class TtsLocalModel(StrEnum):
    """
    Embedded espeak-ng formant synthesiser. Default `espeak-ng` (a new session, or a switch
    to this provider that names none).
    """

    ESPEAK_NG = "espeak-ng"


class TtsOpenAiModel(StrEnum):
    """
    OpenAI speech model. `tts-1` and `tts-1-hd` take fewer voices than `gpt-4o-mini-tts` (no
    `ballad`, `verse`, `marin`, `cedar`). Every /v1/audio/speech model shuts down on
    2027-01-06 (OpenAI deprecations). Default `gpt-4o-mini-tts` (a new session, or a switch
    to this provider that names none).
    """

    TTS_1 = "tts-1"
    TTS_1_HD = "tts-1-hd"
    GPT_4O_MINI_TTS = "gpt-4o-mini-tts"
    GPT_4O_MINI_TTS_2025_12_15 = "gpt-4o-mini-tts-2025-12-15"


class TtsAwsModel(StrEnum):
    """
    Amazon Polly engine. `default` picks the neural engine where the voice has it, else
    standard. Default `default` (a new session, or a switch to this provider that names
    none).
    """

    DEFAULT = "default"
    STANDARD = "standard"
    NEURAL = "neural"
    GENERATIVE = "generative"
    LONG_FORM = "long-form"


class TtsAzureModel(StrEnum):
    """
    Accepted for compatibility with the original contract; Azure neural voices have no model
    choice, so it does not change the voice. Default `gpt-4o` (a new session, or a switch to
    this provider that names none).
    """

    GPT_4 = "gpt-4"
    GPT_4O = "gpt-4o"
    GPT_4_TURBO = "gpt-4-turbo"
    GPT_3_5_TURBO = "gpt-3.5-turbo"
    GPT_5_PRO = "gpt-5-pro"
    GPT_5_CODEX = "gpt-5-codex"


class TtsGoogleModel(StrEnum):
    """
    No selectable models: Google picks the model from the voice. Default `default` (a new
    session, or a switch to this provider that names none).
    """

    DEFAULT = "default"


class TtsLocalVoice(StrEnum):
    """
    espeak-ng English voice. Default `en-us` (a new session, or a switch to this provider
    that names none).
    """

    EN_US = "en-us"
    EN_GB = "en-gb"
    EN_GB_SCOTLAND = "en-gb-scotland"
    EN_GB_X_RP = "en-gb-x-rp"
    EN_029 = "en-029"
    EN_US_NYC = "en-us-nyc"


class TtsOpenAiVoice(StrEnum):
    """
    OpenAI voice. Not every model takes every voice: `tts-1` and `tts-1-hd` take alloy, ash,
    coral, echo, fable, onyx, nova, sage and shimmer; a voice the model does not take is
    refused at session.update. Default `alloy` (a new session, or a switch to this provider
    that names none).
    """

    ALLOY = "alloy"
    ASH = "ash"
    BALLAD = "ballad"
    CORAL = "coral"
    ECHO = "echo"
    FABLE = "fable"
    ONYX = "onyx"
    NOVA = "nova"
    SAGE = "sage"
    SHIMMER = "shimmer"
    VERSE = "verse"
    MARIN = "marin"
    CEDAR = "cedar"


class TtsAwsVoice(StrEnum):
    """
    Amazon Polly voice. Default `Joanna` (a new session, or a switch to this provider that
    names none).
    """

    ADITI = "Aditi"
    ADRIANO = "Adriano"
    AMY = "Amy"
    ANDRES = "Andres"
    ARIA = "Aria"
    ARLET = "Arlet"
    ARTHUR = "Arthur"
    ASTRID = "Astrid"
    AYANDA = "Ayanda"
    BIANCA = "Bianca"
    BRIAN = "Brian"
    CAMILA = "Camila"
    CARLA = "Carla"
    CARMEN = "Carmen"
    CELINE = "Celine"
    CHANTAL = "Chantal"
    CONCHITA = "Conchita"
    CRISTIANO = "Cristiano"
    DANIEL = "Daniel"
    DANIELLE = "Danielle"
    DORA = "Dora"
    ELIN = "Elin"
    EMMA = "Emma"
    ENRIQUE = "Enrique"
    EWA = "Ewa"
    FILIZ = "Filiz"
    GABRIELLE = "Gabrielle"
    GERAINT = "Geraint"
    GIORGIO = "Giorgio"
    GREGORY = "Gregory"
    GWYNETH = "Gwyneth"
    HALA = "Hala"
    HANNAH = "Hannah"
    HANS = "Hans"
    HIUJIN = "Hiujin"
    IDA = "Ida"
    INES = "Ines"
    ISABELLE = "Isabelle"
    IVY = "Ivy"
    JACEK = "Jacek"
    JAN = "Jan"
    JOANNA = "Joanna"
    JOEY = "Joey"
    JUSTIN = "Justin"
    KAJAL = "Kajal"
    KARL = "Karl"
    KAZUHA = "Kazuha"
    KENDRA = "Kendra"
    KEVIN = "Kevin"
    KIMBERLY = "Kimberly"
    LAURA = "Laura"
    LEA = "Lea"
    LIAM = "Liam"
    LISA = "Lisa"
    LIV = "Liv"
    LOTTE = "Lotte"
    LUCIA = "Lucia"
    LUPE = "Lupe"
    MADS = "Mads"
    MAJA = "Maja"
    MARLENE = "Marlene"
    MATHIEU = "Mathieu"
    MATTHEW = "Matthew"
    MAXIM = "Maxim"
    MIA = "Mia"
    MIGUEL = "Miguel"
    MIZUKI = "Mizuki"
    NAJA = "Naja"
    NIAMH = "Niamh"
    NICOLE = "Nicole"
    OLA = "Ola"
    OLIVIA = "Olivia"
    PEDRO = "Pedro"
    PENELOPE = "Penelope"
    RAVEENA = "Raveena"
    REMI = "Remi"
    RICARDO = "Ricardo"
    RUBEN = "Ruben"
    RUSSELL = "Russell"
    RUTH = "Ruth"
    SALLI = "Salli"
    SEOYEON = "Seoyeon"
    SERGIO = "Sergio"
    SOFIE = "Sofie"
    STEPHEN = "Stephen"
    SUVI = "Suvi"
    TAKUMI = "Takumi"
    TATYANA = "Tatyana"
    THIAGO = "Thiago"
    TOMOKO = "Tomoko"
    VICKI = "Vicki"
    VITORIA = "Vitoria"
    ZAYD = "Zayd"
    ZEINA = "Zeina"
    ZHIYU = "Zhiyu"
    BURCU = "Burcu"


class TtsAzureVoice(StrEnum):
    """
    Azure neural voice. Default `en-US-JennyNeural` (a new session, or a switch to this
    provider that names none).
    """

    EN_US_JENNY_NEURAL = "en-US-JennyNeural"
    EN_US_SARA_NEURAL = "en-US-SaraNeural"
    EN_US_TONY_NEURAL = "en-US-TonyNeural"
    EN_US_NANCY_NEURAL = "en-US-NancyNeural"
    EN_US_AVA_MULTILINGUAL_NEURAL = "en-US-AvaMultilingualNeural"
    EN_US_ANDREW_MULTILINGUAL_NEURAL = "en-US-AndrewMultilingualNeural"
    EN_US_EMMA_MULTILINGUAL_NEURAL = "en-US-EmmaMultilingualNeural"
    EN_US_BRIAN_MULTILINGUAL_NEURAL = "en-US-BrianMultilingualNeural"
    EN_US_ARIA_NEURAL = "en-US-AriaNeural"
    EN_US_GUY_NEURAL = "en-US-GuyNeural"
    EN_GB_SONIA_NEURAL = "en-GB-SoniaNeural"
    EN_GB_RYAN_NEURAL = "en-GB-RyanNeural"


TtsGoogleVoice = TypeAliasType(
    "TtsGoogleVoice",
    Annotated[
        StrictStr,
        Field(
            examples=["en-US-Neural2-F"],
            pattern="^(default|[a-z]{2,3}-[A-Z]{2}-[A-Za-z0-9]+(-[A-Za-z0-9]+)*)$",
        ),
    ],
)
"""
Google voice name such as `en-US-Neural2-F`, or `default` to let Google choose one from
`language` and `ssmlGender`. Default `default` (a new session, or a switch to this
provider that names none).
"""


Language = TypeAliasType(
    "Language",
    Annotated[StrictStr, Field(examples=["en-US"], pattern="^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")],
)
"""
BCP-47 language tag.
"""


Instructions = TypeAliasType("Instructions", Annotated[StrictStr, Field(max_length=8000)])
"""
System instructions for the language model: who the digital human is and how it speaks.
"""


Temperature = TypeAliasType("Temperature", Annotated[StrictFloat, Field(ge=0.0, le=2.0)])
"""
Sampling temperature; ignored by reasoning models and by the local responder.
"""


MaxOutputTokens = TypeAliasType("MaxOutputTokens", Annotated[StrictInt, Field(ge=1, le=32768)])
"""
Upper bound on the reply's length in tokens (words for the local responder).
"""


Speed = TypeAliasType("Speed", Annotated[StrictFloat, Field(ge=0.25, le=4.0)])
"""
Speaking rate; 1.0 is normal.
"""


SampleRate = TypeAliasType("SampleRate", Annotated[StrictInt, Field(ge=8000, le=48000)])
"""
Samples per second.
"""


class InputAudioFormat(StrEnum):
    """
    `pcm16`: raw 16-bit little-endian mono at `sampleRate`. `wav`: each chunk is a whole WAV
    file (16-bit PCM; resampled to `sampleRate` when its header says another rate).
    """

    PCM16 = "pcm16"
    WAV = "wav"


class OutputAudioFormat(StrEnum):
    """
    `pcm16`: raw 16-bit little-endian mono. `wav`: each delta is a WAV file. `mp3`: each
    delta is MPEG audio; concatenated deltas form one playable stream (a delta need not
    start on a frame boundary, so decode the stream, not each delta alone).
    """

    PCM16 = "pcm16"
    WAV = "wav"
    MP3 = "mp3"


ItemId = TypeAliasType(
    "ItemId",
    Annotated[
        StrictStr,
        Field(examples=["item_7f3a9c2e41b84d0a"], pattern="^item_[A-Za-z0-9]{1,64}$"),
    ],
)
"""
Identifies one utterance of the Sender, from its first audio chunk to its reply.
"""


ResponseId = TypeAliasType(
    "ResponseId",
    Annotated[
        StrictStr,
        Field(examples=["resp_0c9d8e7f6a5b4c3d"], pattern="^resp_[A-Za-z0-9]{1,64}$"),
    ],
)
"""
Identifies one reply of the digital human.
"""


class Stage(StrEnum):
    """
    Pipeline stage: speech-to-text, language model, text-to-speech.
    """

    STT = "stt"
    LLM = "llm"
    TTS = "tts"


class SttUpdateLocal(ContractModel):
    """
    Switches speech-to-text to Local.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    provider: Literal["local"]
    """
    Provider name.
    """
    model: SttLocalModel | None = None
    language: Language | None = None


class SttUpdateOpenAi(ContractModel):
    """
    Switches speech-to-text to OpenAI.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    provider: Literal["openai"]
    """
    Provider name.
    """
    model: SttOpenAiModel | None = None
    language: Language | None = None


class SttUpdateAws(ContractModel):
    """
    Switches speech-to-text to AWS.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    provider: Literal["aws"]
    """
    Provider name.
    """
    model: SttAwsModel | None = None
    language: Language | None = None


class SttUpdateGoogle(ContractModel):
    """
    Switches speech-to-text to Google.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    provider: Literal["google"]
    """
    Provider name.
    """
    model: SttGoogleModel | None = None
    language: Language | None = None


class SttUpdateMistral(ContractModel):
    """
    Switches speech-to-text to Mistral.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    provider: Literal["mistral"]
    """
    Provider name.
    """
    model: SttMistralModel | None = None
    language: Language | None = None


class SttOptionsUpdate(ContractModel):
    """
    Changes speech-to-text options and keeps the provider and model. To change the model,
    name its provider too.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    language: Language | None = None


SttUpdate = TypeAliasType(
    "SttUpdate",
    SttUpdateLocal
    | SttUpdateOpenAi
    | SttUpdateAws
    | SttUpdateGoogle
    | SttUpdateMistral
    | SttOptionsUpdate,
)
"""
A partial update of speech-to-text. Switching to another provider without naming a model
selects that provider's default model (naming the current provider again keeps the
model); a model is only accepted together with its own provider.
"""


class LlmUpdateLocal(ContractModel):
    """
    Switches the language model to Local.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    provider: Literal["local"]
    """
    Provider name.
    """
    model: LlmLocalModel | None = None
    instructions: Instructions | None = None
    temperature: Temperature | None = None
    max_output_tokens: Annotated[MaxOutputTokens | None, Field(alias="maxOutputTokens")] = None


class LlmUpdateOpenAi(ContractModel):
    """
    Switches the language model to OpenAI.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    provider: Literal["openai"]
    """
    Provider name.
    """
    model: LlmOpenAiModel | None = None
    instructions: Instructions | None = None
    temperature: Temperature | None = None
    max_output_tokens: Annotated[MaxOutputTokens | None, Field(alias="maxOutputTokens")] = None


class LlmUpdateAws(ContractModel):
    """
    Switches the language model to AWS Bedrock.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    provider: Literal["aws"]
    """
    Provider name.
    """
    model: LlmAwsModel | None = None
    instructions: Instructions | None = None
    temperature: Temperature | None = None
    max_output_tokens: Annotated[MaxOutputTokens | None, Field(alias="maxOutputTokens")] = None


class LlmUpdateAzure(ContractModel):
    """
    Switches the language model to Azure OpenAI.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    provider: Literal["azure"]
    """
    Provider name.
    """
    model: LlmAzureModel | None = None
    instructions: Instructions | None = None
    temperature: Temperature | None = None
    max_output_tokens: Annotated[MaxOutputTokens | None, Field(alias="maxOutputTokens")] = None


class LlmUpdateAiGames(ContractModel):
    """
    Switches the language model to the AI Games gateway.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    provider: Literal["aigames"]
    """
    Provider name.
    """
    model: LlmAiGamesModel | None = None
    instructions: Instructions | None = None
    temperature: Temperature | None = None
    max_output_tokens: Annotated[MaxOutputTokens | None, Field(alias="maxOutputTokens")] = None


class LlmUpdateClarity(ContractModel):
    """
    Switches the language model to the Clarity gateway.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    provider: Literal["clarity"]
    """
    Provider name.
    """
    model: LlmClarityModel | None = None
    instructions: Instructions | None = None
    temperature: Temperature | None = None
    max_output_tokens: Annotated[MaxOutputTokens | None, Field(alias="maxOutputTokens")] = None


class LlmUpdateBayer(ContractModel):
    """
    Switches the language model to the Bayer gateway.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    provider: Literal["bayer"]
    """
    Provider name.
    """
    model: LlmBayerModel | None = None
    instructions: Instructions | None = None
    temperature: Temperature | None = None
    max_output_tokens: Annotated[MaxOutputTokens | None, Field(alias="maxOutputTokens")] = None


class LlmOptionsUpdate(ContractModel):
    """
    Changes language-model options and keeps the provider and model.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    instructions: Instructions | None = None
    temperature: Temperature | None = None
    max_output_tokens: Annotated[MaxOutputTokens | None, Field(alias="maxOutputTokens")] = None


LlmUpdate = TypeAliasType(
    "LlmUpdate",
    LlmUpdateLocal
    | LlmUpdateOpenAi
    | LlmUpdateAws
    | LlmUpdateAzure
    | LlmUpdateAiGames
    | LlmUpdateClarity
    | LlmUpdateBayer
    | LlmOptionsUpdate,
)
"""
A partial update of the language model. A model is only accepted together with its own
provider.
"""


class TtsUpdateLocal(ContractModel):
    """
    Switches text-to-speech to Local.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    provider: Literal["local"]
    """
    Provider name.
    """
    model: TtsLocalModel | None = None
    voice: TtsLocalVoice | None = None
    response_type: Annotated[TtsResponseType | None, Field(alias="responseType")] = None
    ssml_gender: Annotated[SsmlGender | None, Field(alias="ssmlGender")] = None
    language: Language | None = None
    speed: Speed | None = None


class TtsUpdateOpenAi(ContractModel):
    """
    Switches text-to-speech to OpenAI.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    provider: Literal["openai"]
    """
    Provider name.
    """
    model: TtsOpenAiModel | None = None
    voice: TtsOpenAiVoice | None = None
    response_type: Annotated[TtsResponseType | None, Field(alias="responseType")] = None
    ssml_gender: Annotated[SsmlGender | None, Field(alias="ssmlGender")] = None
    language: Language | None = None
    speed: Speed | None = None


class TtsUpdateAws(ContractModel):
    """
    Switches text-to-speech to AWS Polly.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    provider: Literal["aws"]
    """
    Provider name.
    """
    model: TtsAwsModel | None = None
    voice: TtsAwsVoice | None = None
    response_type: Annotated[TtsResponseType | None, Field(alias="responseType")] = None
    ssml_gender: Annotated[SsmlGender | None, Field(alias="ssmlGender")] = None
    language: Language | None = None
    speed: Speed | None = None


class TtsUpdateAzure(ContractModel):
    """
    Switches text-to-speech to Azure Speech.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    provider: Literal["azure"]
    """
    Provider name.
    """
    model: TtsAzureModel | None = None
    voice: TtsAzureVoice | None = None
    response_type: Annotated[TtsResponseType | None, Field(alias="responseType")] = None
    ssml_gender: Annotated[SsmlGender | None, Field(alias="ssmlGender")] = None
    language: Language | None = None
    speed: Speed | None = None


class TtsUpdateGoogle(ContractModel):
    """
    Switches text-to-speech to Google Cloud.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    provider: Literal["google"]
    """
    Provider name.
    """
    model: TtsGoogleModel | None = None
    voice: TtsGoogleVoice | None = None
    response_type: Annotated[TtsResponseType | None, Field(alias="responseType")] = None
    ssml_gender: Annotated[SsmlGender | None, Field(alias="ssmlGender")] = None
    language: Language | None = None
    speed: Speed | None = None


class TtsOptionsUpdate(ContractModel):
    """
    Changes text-to-speech options and keeps the provider, model and voice.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    response_type: Annotated[TtsResponseType | None, Field(alias="responseType")] = None
    ssml_gender: Annotated[SsmlGender | None, Field(alias="ssmlGender")] = None
    language: Language | None = None
    speed: Speed | None = None


TtsUpdate = TypeAliasType(
    "TtsUpdate",
    TtsUpdateLocal
    | TtsUpdateOpenAi
    | TtsUpdateAws
    | TtsUpdateAzure
    | TtsUpdateGoogle
    | TtsOptionsUpdate,
)
"""
A partial update of text-to-speech. A model or voice is only accepted together with its
own provider; switching to another provider without naming them selects its default
model and voice (naming the current provider again keeps them).
"""


class InputAudioUpdate(ContractModel):
    """
    How the Sender's audio is encoded. An utterance already started keeps the encoding it
    started with; the change applies from the next utterance.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    format: InputAudioFormat | None = None
    sample_rate: Annotated[SampleRate | None, Field(alias="sampleRate")] = None


class OutputAudioUpdate(ContractModel):
    """
    How reply audio is encoded.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    format: OutputAudioFormat | None = None
    sample_rate: Annotated[SampleRate | None, Field(alias="sampleRate")] = None


class SttSettings(ContractModel):
    """
    Effective speech-to-text settings.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    provider: SttProvider
    model: StrictStr
    """
    One of the provider's models (see the sttXxxModel enums).
    """
    requested_model: Annotated[StrictStr | None, Field(alias="requestedModel")] = None
    """
    The model the client asked for, present only when another model serves it (a retired
    model served by its successor, or an id the server maps for the provider); `model` is
    the one serving.
    """
    model_notice: Annotated[StrictStr | None, Field(alias="modelNotice")] = None
    """
    Why `model` differs from `requestedModel`, or that the model is deprecated and when it
    shuts down, e.g. `gpt-4-32k was retired on 2025-06-06; gpt-5.6-sol serves it`.
    """
    language: Language


class LlmSettings(ContractModel):
    """
    Effective language-model settings.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    provider: LlmProvider
    model: StrictStr
    """
    One of the provider's models (see the llmXxxModel enums).
    """
    requested_model: Annotated[StrictStr | None, Field(alias="requestedModel")] = None
    """
    The model the client asked for, present only when another model serves it (a retired
    model served by its successor, or an id the server maps for the provider); `model` is
    the one serving.
    """
    model_notice: Annotated[StrictStr | None, Field(alias="modelNotice")] = None
    """
    Why `model` differs from `requestedModel`, or that the model is deprecated and when it
    shuts down, e.g. `gpt-4-32k was retired on 2025-06-06; gpt-5.6-sol serves it`.
    """
    instructions: Instructions
    temperature: Temperature
    max_output_tokens: Annotated[MaxOutputTokens, Field(alias="maxOutputTokens")]


class TtsSettings(ContractModel):
    """
    Effective text-to-speech settings.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    provider: TtsProvider
    model: StrictStr
    """
    One of the provider's models (see the ttsXxxModel enums).
    """
    requested_model: Annotated[StrictStr | None, Field(alias="requestedModel")] = None
    """
    The model the client asked for, present only when another model serves it (a retired
    model served by its successor, or an id the server maps for the provider); `model` is
    the one serving.
    """
    model_notice: Annotated[StrictStr | None, Field(alias="modelNotice")] = None
    """
    Why `model` differs from `requestedModel`, or that the model is deprecated and when it
    shuts down, e.g. `gpt-4-32k was retired on 2025-06-06; gpt-5.6-sol serves it`.
    """
    voice: StrictStr
    """
    One of the provider's voices (see the ttsXxxVoice enums).
    """
    response_type: Annotated[TtsResponseType, Field(alias="responseType")]
    ssml_gender: Annotated[SsmlGender, Field(alias="ssmlGender")]
    language: Language
    speed: Speed


class InputAudio(ContractModel):
    """
    Effective input audio encoding.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    format: InputAudioFormat
    sample_rate: Annotated[SampleRate, Field(alias="sampleRate")]


class OutputAudio(ContractModel):
    """
    Effective output audio encoding.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    format: OutputAudioFormat
    sample_rate: Annotated[SampleRate, Field(alias="sampleRate")]


class Viseme(StrEnum):
    """
    A mouth shape: the 15 visemes of Oculus/Meta OVRLipSync, which Unreal, Ready Player Me
    and most avatar rigs map to poses. A viseme holds from its `offsetMs` until the next
    one.
     Azure viseme ids map as 0 sil; 1 (ae, ax, ah) aa; 2 (aa) aa; 3 (ao) O; 4 (ey, eh, uh)
    E; 5 (er) RR; 6 (y, iy, ih, ix) I; 7 (w, uw) U; 8 (ow) O; 9 (aw) aa; 10 (oy) O; 11 (ay)
    aa; 12 (h) kk; 13 (r) RR; 14 (l) nn; 15 (s, z) SS; 16 (sh, ch, jh, zh) CH; 17 (th, dh)
    TH; 18 (f, v) FF; 19 (d, t, n) DD; 20 (k, g, ng) kk; 21 (p, b, m) PP.
     Amazon Polly viseme letters map as sil sil; p PP; t DD; S CH; T TH; f FF; k kk; i I; r
    RR; s SS; u U; @ E; a aa; e E; E E; o O; O O; and, for languages beyond English, l nn; J
    CH; B PP.
    """

    SIL = "sil"
    """
    Silence, mouth closed and relaxed.
    """
    PP = "PP"
    """
    Lips pressed together (p, b, m).
    """
    FF = "FF"
    """
    Lower lip against the upper teeth (f, v).
    """
    TH = "TH"
    """
    Tongue tip between the teeth (th in thin, then).
    """
    DD = "DD"
    """
    Jaw slightly open, tongue tip behind the upper teeth (t, d).
    """
    KK = "kk"
    """
    Jaw slightly open, back of the tongue raised (k, g).
    """
    CH = "CH"
    """
    Lips pushed forward, teeth nearly closed (ch, j, sh).
    """
    SS = "SS"
    """
    Teeth nearly closed, lips spread (s, z).
    """
    NN = "nn"
    """
    Jaw slightly open, tongue tip on the gum ridge (n, l).
    """
    RR = "RR"
    """
    Lips slightly rounded and forward (r).
    """
    AA = "aa"
    """
    Jaw wide open (a in car).
    """
    E = "E"
    """
    Jaw half open, lips spread (e in bed).
    """
    IH = "I"
    """
    Jaw nearly closed, lips spread wide (i in tip, ee in see).
    """
    OH = "O"
    """
    Lips rounded, jaw open (o in toe).
    """
    OU = "U"
    """
    Lips tightly rounded and pushed forward (oo in book, too).
    """


class VisemeMark(ContractModel):
    """
    A mouth shape that starts `offsetMs` after the start of its delta's audio and holds
    until the next mark (or the delta's end).
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    offset_ms: Annotated[StrictInt, Field(alias="offsetMs", ge=0)]
    """
    Milliseconds from the start of this delta's audio.
    """
    id: Viseme


class WordTiming(ContractModel):
    """
    A word spoken from `offsetMs` for `durationMs` after the start of its delta's audio.
    `text` runs from the word to the next word (its punctuation and the space after it
    included), so a reply's words joined give its text. A word cut by a delta boundary
    appears in both deltas, each part timed on its own delta's clock (the second at offset
    0).
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    text: StrictStr
    offset_ms: Annotated[StrictInt, Field(alias="offsetMs", ge=0)]
    """
    Milliseconds from the start of this delta's audio.
    """
    duration_ms: Annotated[StrictInt, Field(alias="durationMs", ge=0)]
    """
    How long the word sounds in this delta.
    """


class TimingSource(StrEnum):
    """
    Where a delta's `visemes` and `words` come from.
    """

    PROVIDER = "provider"
    """
    Reported by the synthesiser as it spoke (espeak-ng's events, Polly's speech marks).
    """
    ESTIMATED = "estimated"
    """
    Estimated from the text (espeak-ng's phonemes and their relative durations, scaled to
    the audio and trimmed to where it is silent), for providers that report no timings.
    """


class AnimationUpdate(ContractModel):
    """
    Which timings ride on `response.audio.delta`. A Receiver that wants audio only turns
    both off and its deltas are as without animation.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    visemes: StrictBool | None = None
    """
    Send `visemes` on each delta (true when never set).
    """
    words: StrictBool | None = None
    """
    Send `words` on each delta (true when never set).
    """


class Animation(ContractModel):
    """
    Effective animation settings.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    visemes: StrictBool
    """
    Deltas carry `visemes`.
    """
    words: StrictBool
    """
    Deltas carry `words`.
    """


AudioBinary = TypeAliasType(
    "AudioBinary",
    Annotated[
        StrictBytes,
        Field(json_schema_extra={"contentMediaType": "application/octet-stream"}),
    ],
)
"""
Audio bytes sent as a Socket.IO binary attachment (an ArrayBuffer, Buffer or bytes):
PCM16 LE mono at the session's input rate, or a WAV file.
"""


AudioBase64 = TypeAliasType(
    "AudioBase64",
    Annotated[
        StrictStr,
        Field(
            json_schema_extra={"contentEncoding": "base64"},
            max_length=4000000,
            pattern="^[A-Za-z0-9+/]*={0,2}$",
        ),
    ],
)
"""
The same audio bytes, base64-encoded.
"""


class AudioObject(ContractModel):
    """
    The same audio bytes, base64-encoded, in an object (the OpenAI Realtime
    `input_audio_buffer.append` shape).
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    audio: AudioBase64


InputBufferAppend = TypeAliasType("InputBufferAppend", AudioBinary | AudioBase64 | AudioObject)
"""
One chunk of the Sender's microphone audio: binary, a base64 string, or `{"audio":
base64}`. 20-100 ms per chunk is typical.
"""


InputBufferAppendJson = TypeAliasType("InputBufferAppendJson", AudioBase64 | AudioObject)
"""
The JSON forms of an audio chunk: a base64 string, or `{"audio": base64}`.
"""


class InputBufferInitialized(ContractModel):
    """
    The first chunk of a new utterance arrived; later chunks and the commit belong to
    `itemId`.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    item_id: Annotated[ItemId, Field(alias="itemId")]
    format: InputAudioFormat
    sample_rate: Annotated[SampleRate, Field(alias="sampleRate")]


class RequestTranscribeDone(ContractModel):
    """
    What the Sender said. An empty `text` means no speech was recognised; the turn ends
    there.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    item_id: Annotated[ItemId, Field(alias="itemId")]
    text: StrictStr
    """
    The transcript.
    """
    language: Language
    duration_ms: Annotated[StrictInt, Field(alias="durationMs", ge=0)]
    """
    Length of the committed audio in milliseconds.
    """
    provider: SttProvider
    model: StrictStr
    """
    The model that transcribed it.
    """


class ResponseText(ContractModel):
    """
    The digital human's whole reply as text, sent when the language model has finished it.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    response_id: Annotated[ResponseId, Field(alias="responseId")]
    item_id: Annotated[ItemId, Field(alias="itemId")]
    text: StrictStr
    """
    The reply.
    """


class ResponseAudioDelta(ContractModel):
    """
    A piece of the spoken reply. Deltas of one response arrive in `sequence` order; the last
    has `final: true`.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    response_id: Annotated[ResponseId, Field(alias="responseId")]
    item_id: Annotated[ItemId, Field(alias="itemId")]
    sequence: Annotated[StrictInt, Field(ge=0)]
    """
    0, 1, 2 ... within the response.
    """
    audio: Annotated[
        StrictBytes,
        Field(json_schema_extra={"contentMediaType": "application/octet-stream"}),
    ]
    """
    Audio bytes (a Socket.IO binary attachment) in `format` at `sampleRate`. May be empty on
    the final delta.
    """
    format: OutputAudioFormat
    sample_rate: Annotated[SampleRate, Field(alias="sampleRate")]
    text: StrictStr | None = None
    """
    The text this delta starts to speak: the whole reply (`single`), its sentence (`chain`),
    or, in `stream`, the sentence whose first chunk this is. Absent on other chunks.
    """
    final: StrictBool
    """
    True on the last delta of the response.
    """
    visemes: list[VisemeMark] | None = None
    """
    Mouth shapes for this delta's audio, offsets increasing and inside the delta (the first
    at 0 holds the shape the mouth is in as the delta starts). In `single` mode the one
    delta carries the whole reply's. Absent when the session's `animation.visemes` is off.
    """
    words: list[WordTiming] | None = None
    """
    The words sounding in this delta's audio, in order; each text runs up to the next word,
    so in `chain` the texts joined are the delta's `text` and in `single` the reply. A word
    the delta's end cuts is in the next delta too, at offset 0 with its text repeated.
    Absent when the session's `animation.words` is off.
    """
    timing_source: Annotated[TimingSource | None, Field(alias="timingSource")] = None


class ErrorCode(StrEnum):
    """
    Stable error codes; clients branch on these, not on `message`.
    """

    INVALID_PAYLOAD = "invalid_payload"
    """
    The payload does not match the contract; nothing changed.
    """
    UNKNOWN_EVENT = "unknown_event"
    """
    The event name is not in the contract.
    """
    INVALID_AUDIO = "invalid_audio"
    """
    Audio bytes could not be decoded (odd PCM byte count, bad WAV, bad base64); the chunk
    was dropped, the buffer kept.
    """
    ROLE_NOT_ALLOWED = "role_not_allowed"
    """
    The event is not for this client's role (Receivers only listen).
    """
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    """
    The provider named in session.update is not configured on this server (missing
    credentials or package); the previous settings stay.
    """
    BUFFER_OVERFLOW = "buffer_overflow"
    """
    The utterance is longer than the server's limit; audio past it was dropped, what was
    kept can still be committed.
    """
    EMPTY_BUFFER = "empty_buffer"
    """
    input.buffer.commit with no audio buffered.
    """
    TURN_QUEUE_FULL = "turn_queue_full"
    """
    Too many committed turns are waiting in this session; this commit was refused.
    """
    PROVIDER_ERROR = "provider_error"
    """
    A provider failed during a turn; `stage` and `provider` say which. The session stays
    usable.
    """
    INTERNAL_ERROR = "internal_error"
    """
    An unexpected server fault; the session stays usable.
    """
    UNSUPPORTED_OPTION = "unsupported_option"
    """
    The model named in session.update does not take the voice or option asked for, or is not
    a chat model; `message` names what the model takes. The previous settings stay.
    """
    MODEL_RETIRED = "model_retired"
    """
    The model is retired by its provider and this server does not map it to a successor
    (operator configuration); `message` names the successor. The previous settings stay.
    """
    RATE_LIMITED = "rate_limited"
    """
    Too much too fast: a Sender appended audio faster than the server admits (a burst of a
    few seconds, then a multiple of real time), or a connection sent more events a second
    than the server's limit. What was refused was dropped (the utterance's buffer is kept);
    told at once, then at most once a second while refusals go on.
    """
    UTTERANCE_TIMEOUT = "utterance_timeout"
    """
    The Sender's uncommitted utterance had no audio for longer than the server's idle
    timeout; it was dropped (its audio and recognition), and the next append starts a new
    one.
    """
    SERVER_BUSY = "server_busy"
    """
    The server's turns in flight were all taken for longer than its admission wait; this
    turn was dropped. Commit again later.
    """
    UNKNOWN_RESPONSE = "unknown_response"
    """
    The `responseId` is not a response of this session (or is too old to be known).
    """
    RESPONSE_NOT_ACTIVE = "response_not_active"
    """
    response.cancel: no response is in flight or playing (or the one named has already
    ended).
    """
    PAYLOAD_TOO_LARGE = "payload_too_large"
    """
    The packet or binary attachment is larger than the server's limit; it was dropped.
    """
    STORE_UNAVAILABLE = "store_unavailable"
    """
    With several nodes, the session store (Redis) did not answer; the turn or update took
    effect on this node but will not survive it.
    """
    TURN_TIMEOUT = "turn_timeout"
    """
    The turn ran past the server's whole-turn deadline and was stopped where it was; sent to
    the session's Senders and Receivers with its `itemId`. A reply that had started to go
    out ends with a `final` `response.audio.delta` (its audio may be empty), and the history
    keeps what was sent of it. The session stays usable.
    """


class CustomError(ContractModel):
    """
    Something the client sent, or a turn it started, failed. The connection stays open and
    usable.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    code: ErrorCode
    message: StrictStr
    """
    Human-readable explanation; never contains secrets.
    """
    event: StrictStr | None = None
    """
    The client event it concerns, e.g. `input.buffer.commit`.
    """
    item_id: Annotated[ItemId | None, Field(alias="itemId")] = None
    stage: Stage | None = None
    provider: StrictStr | None = None
    """
    The provider that failed (with `provider_error` and `provider_unavailable`).
    """


class ConnectErrorCode(StrEnum):
    """
    Why the handshake was refused.
    """

    INVALID_HANDSHAKE = "invalid_handshake"
    """
    The `auth` object does not match the Handshake schema.
    """
    UNAUTHORIZED = "unauthorized"
    """
    The token is missing or wrong.
    """
    INTERNAL_ERROR = "internal_error"
    """
    An unexpected server fault while accepting the connection; try again.
    """
    TOKEN_EXPIRED = "token_expired"
    """
    The signed token has expired; get a new one.
    """
    TOKEN_MISMATCH = "token_mismatch"
    """
    The signed token is for another `sessionId` or another role.
    """
    TOO_MANY_CONNECTIONS = "too_many_connections"
    """
    The session or the client's address already has the most connections this server allows;
    try again after one has closed.
    """


class ConnectErrorData(ContractModel):
    """
    What a client branches on when its handshake is refused.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    code: ConnectErrorCode


class TurnDetectionType(StrEnum):
    """
    Who ends an utterance.
    """

    NONE = "none"
    """
    The Sender commits each utterance with `input.buffer.commit` (the default).
    """
    SERVER_VAD = "server_vad"
    """
    The server detects speech in the appended audio (Silero VAD), sends
    `input.speech.started` and `input.speech.stopped`, and commits after `silenceDurationMs`
    of silence; a manual commit still works.
    """


VadThreshold = TypeAliasType("VadThreshold", Annotated[StrictFloat, Field(ge=0.0, le=1.0)])
"""
Speech probability (0-1) from which a frame counts as speech; higher needs louder,
clearer speech.
"""


class TurnDetectionUpdate(ContractModel):
    """
    A partial update of turn detection: only the fields named change. Defaults as OpenAI
    Realtime's `server_vad`.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    type: TurnDetectionType | None = None
    threshold: VadThreshold | None = None
    prefix_padding_ms: Annotated[
        StrictInt | None, Field(alias="prefixPaddingMs", ge=0, le=2000)
    ] = None
    """
    Audio kept before the speech's onset at the start of the utterance (300 when never set).
    """
    silence_duration_ms: Annotated[
        StrictInt | None, Field(alias="silenceDurationMs", ge=0, le=10000)
    ] = None
    """
    Silence after the speech that ends the turn (500 when never set).
    """
    min_speech_ms: Annotated[StrictInt | None, Field(alias="minSpeechMs", ge=0, le=5000)] = None
    """
    Speech shorter than this neither starts a turn nor interrupts (250 when never set).
    """
    interrupt_response: Annotated[StrictBool | None, Field(alias="interruptResponse")] = None
    """
    Speech that starts a turn while a reply is generated or still playing cancels it (barge-
    in; true when never set).
    """


class TurnDetection(ContractModel):
    """
    Effective turn detection settings.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    type: TurnDetectionType
    threshold: VadThreshold
    prefix_padding_ms: Annotated[StrictInt, Field(alias="prefixPaddingMs", ge=0)]
    silence_duration_ms: Annotated[StrictInt, Field(alias="silenceDurationMs", ge=0)]
    min_speech_ms: Annotated[StrictInt, Field(alias="minSpeechMs", ge=0)]
    interrupt_response: Annotated[StrictBool, Field(alias="interruptResponse")]


class InputSpeechStarted(ContractModel):
    """
    Speech started (it lasted `minSpeechMs`); the utterance `itemId` holds it.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    item_id: Annotated[ItemId, Field(alias="itemId")]
    audio_start_ms: Annotated[StrictInt, Field(alias="audioStartMs", ge=0)]
    """
    Where the speech starts, in milliseconds of the utterance's audio (which begins up to
    `prefixPaddingMs` earlier).
    """


class InputSpeechStopped(ContractModel):
    """
    Speech stopped `silenceDurationMs` ago; the commit of `itemId` follows.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    item_id: Annotated[ItemId, Field(alias="itemId")]
    audio_end_ms: Annotated[StrictInt, Field(alias="audioEndMs", ge=0)]
    """
    Where the speech ends, in milliseconds of the utterance's audio.
    """


class InputBufferCommitted(ContractModel):
    """
    The utterance `itemId` was committed (by the Sender or by server VAD); its transcript
    and reply follow.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    item_id: Annotated[ItemId, Field(alias="itemId")]


class ResponseCancel(ContractModel):
    """
    Stop a response. Without `responseId`, the one in flight (or still playing).
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    response_id: Annotated[ResponseId | None, Field(alias="responseId")] = None


class CancelReason(StrEnum):
    """
    Why a response was stopped.
    """

    CLIENT_CANCEL = "client_cancel"
    """
    The Sender sent `response.cancel`.
    """
    BARGE_IN = "barge_in"
    """
    The Sender started speaking over the reply (server VAD with `interruptResponse`).
    """
    SHUTDOWN = "shutdown"
    """
    The server is stopping.
    """


class ResponseCancelled(ContractModel):
    """
    The response was stopped: no delta of it follows this event, and a Receiver stops
    playing it. Sent to the session's Receivers and Senders.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    response_id: Annotated[ResponseId, Field(alias="responseId")]
    item_id: Annotated[ItemId, Field(alias="itemId")]
    reason: CancelReason
    last_sequence: Annotated[StrictInt, Field(alias="lastSequence", ge=-1)]
    """
    The `sequence` of the last delta sent, or -1 when none was.
    """
    audio_sent_ms: Annotated[StrictInt, Field(alias="audioSentMs", ge=0)]
    """
    How much audio the deltas sent hold, in milliseconds.
    """


class ResponseAudioPlayed(ContractModel):
    """
    How much of a response's audio the avatar played, from its start: sent when it finishes
    or is interrupted (may be sent more often). The history keeps the words played.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    response_id: Annotated[ResponseId, Field(alias="responseId")]
    played_ms: Annotated[StrictInt, Field(alias="playedMs", ge=0)]
    """
    Milliseconds of the response's audio played.
    """


class SessionUpdate(ContractModel):
    """
    A partial update of the session: only the stages named change, and within a stage only
    the fields named. An update that cannot apply changes nothing.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    stt: SttUpdate | None = None
    llm: LlmUpdate | None = None
    tts: TtsUpdate | None = None
    input_audio: Annotated[InputAudioUpdate | None, Field(alias="inputAudio")] = None
    output_audio: Annotated[OutputAudioUpdate | None, Field(alias="outputAudio")] = None
    animation: AnimationUpdate | None = None
    turn_detection: Annotated[TurnDetectionUpdate | None, Field(alias="turnDetection")] = None


class SessionUpdated(ContractModel):
    """
    The whole effective session after an update, every default resolved.
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    session_id: Annotated[SessionId, Field(alias="sessionId")]
    stt: SttSettings
    llm: LlmSettings
    tts: TtsSettings
    input_audio: Annotated[InputAudio, Field(alias="inputAudio")]
    output_audio: Annotated[OutputAudio, Field(alias="outputAudio")]
    animation: Animation
    turn_detection: Annotated[TurnDetection, Field(alias="turnDetection")]


class ConnectError(ContractModel):
    """
    Socket.IO's connection refusal (the client's `connect_error` event).
    """

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
    )
    message: StrictStr
    """
    Human-readable reason.
    """
    data: ConnectErrorData
