// generated from asyncapi.yaml by codegen — do not edit
// The contract's types (components.schemas) and MetaHumanClient, a thin typed wrapper over a
// socket.io-client Socket. A script: its declarations are globals of the page.

/**
 * What a client does in its session: a Sender speaks (sends audio and commits it), a Receiver is
 * the digital human that gets the reply as text and speech.
 */
type ClientRole = "sender" | "receiver";

/** Names a conversation. Senders and Receivers that connect with the same id form one session. */
type SessionId = string;

/**
 * The Socket.IO `auth` object a client sends when it connects (`io(url, {path: '/socketio', auth:
 * {...}})`). A refused handshake gets `connect_error`.
 */
interface Handshake {
  role: ClientRole;
  sessionId: SessionId;
  /**
   * Access token. Required when the server is configured with tokens (METAHUMAN_TOKENS); ignored
   * otherwise.
   */
  token?: string;
}

/** Speech-to-text provider. `local` is the embedded offline engine (pocketsphinx, English). */
type SttProvider = "openai" | "aws" | "google" | "mistral" | "local";

/**
 * Language-model provider. `local` is the embedded demo responder (rule-based, not a model);
 * `aigames`, `clarity` and `bayer` are OpenAI-compatible gateways.
 */
type LlmProvider = "aigames" | "openai" | "aws" | "azure" | "clarity" | "bayer" | "local";

/** Text-to-speech provider. `local` is the embedded offline engine (espeak-ng). */
type TtsProvider = "openai" | "aws" | "azure" | "google" | "local";

/**
 * How the reply is spoken: `single` one audio delta with the whole reply; `chain` one delta per
 * sentence, the first spoken as soon as the language model has produced it; `stream` audio chunks
 * of about 100-200 ms as the speech engine yields them. A new session starts with `chain`; an
 * update that leaves it out keeps the current value.
 */
type TtsResponseType = "single" | "chain" | "stream";

/**
 * Preferred voice gender, for providers that select voices by gender (Google, Azure SSML). A new
 * session starts with `unspecified`; an update that leaves it out keeps the current value.
 */
type SsmlGender = "unspecified" | "neutral" | "male" | "female";

/**
 * Embedded pocketsphinx with its US English acoustic and language model. Default
 * `pocketsphinx-en-us` (a new session, or a switch to this provider that names none).
 */
type SttLocalModel = "pocketsphinx-en-us";

/**
 * OpenAI transcription model. `gpt_4o_mini_transcribe` is the original contract's spelling of
 * `gpt-4o-mini-transcribe`; both are accepted. whisper-1 and the gpt-4o transcribe models shut down
 * on 2027-02-26 (OpenAI deprecations) and are then served by `gpt-transcribe`. Default
 * `gpt-transcribe` (a new session, or a switch to this provider that names none).
 */
type SttOpenAiModel = "whisper-1" | "gpt-4o-transcribe" | "gpt_4o_mini_transcribe" | "gpt-4o-mini-transcribe" | "gpt-transcribe" | "gpt-4o-mini-transcribe-2025-12-15";

/**
 * No selectable models: Amazon Transcribe streaming uses its default model. Default `default` (a
 * new session, or a switch to this provider that names none).
 */
type SttAwsModel = "default";

/**
 * Google Cloud Speech-to-Text recognition model; `default` lets Google choose. Default `default` (a
 * new session, or a switch to this provider that names none).
 */
type SttGoogleModel = "default" | "latest_short" | "latest_long";

/**
 * Mistral Voxtral transcription model. Default `voxtral-mini-latest` (a new session, or a switch to
 * this provider that names none).
 */
type SttMistralModel = "voxtral-mini-latest" | "voxtral-small-latest";

/**
 * The embedded demo responder: deterministic keyword rules in the ELIZA tradition, not a language
 * model. Default `eliza` (a new session, or a switch to this provider that names none).
 */
type LlmLocalModel = "eliza";

/**
 * OpenAI chat model. Reasoning models (gpt-5*, o1, o3, o4, codex) ignore `temperature`. Retired
 * models (OpenAI deprecations page) are served by their successor, and `session.updated` names
 * both. Default `gpt-5.6-luna` (a new session, or a switch to this provider that names none).
 */
type LlmOpenAiModel = "gpt-5.6-sol" | "gpt-5.6-terra" | "gpt-5.6-luna" | "gpt-5.5" | "gpt-5.4" | "gpt-5.4-mini" | "gpt-4.1" | "gpt-4.1-mini" | "gpt-4.1-nano" | "gpt-4.1-2025-04-14" | "gpt-4.1-mini-2025-04-14" | "gpt-4.1-nano-2025-04-14" | "o4-mini" | "o4-mini-2025-04-16" | "o3" | "o3-2025-04-16" | "o3-mini" | "o3-mini-2025-01-31" | "o1" | "o1-2024-12-17" | "o1-preview" | "o1-preview-2024-09-12" | "o1-mini" | "o1-mini-2024-09-12" | "gpt-4o" | "gpt-4o-2024-11-20" | "gpt-4o-2024-08-06" | "gpt-4o-2024-05-13" | "gpt-4o-audio-preview" | "gpt-4o-audio-preview-2024-10-01" | "gpt-4o-audio-preview-2024-12-17" | "gpt-4o-mini-audio-preview" | "gpt-4o-mini-audio-preview-2024-12-17" | "gpt-4o-search-preview" | "gpt-4o-mini-search-preview" | "gpt-4o-search-preview-2025-03-11" | "gpt-4o-mini-search-preview-2025-03-11" | "chatgpt-4o-latest" | "codex-mini-latest" | "gpt-4o-mini" | "gpt-4o-mini-2024-07-18" | "gpt-4-turbo" | "gpt-4-turbo-2024-04-09" | "gpt-4-0125-preview" | "gpt-4-turbo-preview" | "gpt-4-1106-preview" | "gpt-4-vision-preview" | "gpt-4" | "gpt-4-0314" | "gpt-4-0613" | "gpt-4-32k" | "gpt-4-32k-0314" | "gpt-4-32k-0613" | "gpt-3.5-turbo" | "gpt-3.5-turbo-16k" | "gpt-3.5-turbo-0301" | "gpt-3.5-turbo-0613" | "gpt-3.5-turbo-1106" | "gpt-3.5-turbo-0125" | "gpt-3.5-turbo-16k-0613";

/**
 * Amazon Bedrock model id or cross-Region inference profile id (`us.`, `eu.`, `global.`), called
 * through the Converse streaming API. Claude 4.x base ids take no on-demand throughput and are
 * served through an inference profile. The original contract's Claude v1, v2 and Instant ids are
 * end-of-life on Bedrock and are served by their successor; `session.updated` names both. Default
 * `global.anthropic.claude-haiku-4-5-20251001-v1:0` (a new session, or a switch to this provider
 * that names none).
 */
type LlmAwsModel = "anthropic.claude-v2" | "anthropic.claude-v1" | "anthropic.claude-instant-v1" | "global.anthropic.claude-haiku-4-5-20251001-v1:0" | "us.anthropic.claude-haiku-4-5-20251001-v1:0" | "eu.anthropic.claude-haiku-4-5-20251001-v1:0" | "anthropic.claude-haiku-4-5-20251001-v1:0" | "global.anthropic.claude-sonnet-4-5-20250929-v1:0" | "us.anthropic.claude-sonnet-4-5-20250929-v1:0" | "eu.anthropic.claude-sonnet-4-5-20250929-v1:0" | "anthropic.claude-sonnet-4-5-20250929-v1:0" | "global.anthropic.claude-opus-4-5-20251101-v1:0" | "us.anthropic.claude-opus-4-5-20251101-v1:0" | "anthropic.claude-opus-4-5-20251101-v1:0" | "global.anthropic.claude-sonnet-4-6" | "us.anthropic.claude-sonnet-4-6" | "anthropic.claude-sonnet-4-6" | "us.anthropic.claude-opus-4-6-v1" | "anthropic.claude-opus-4-6-v1";

/**
 * Azure OpenAI deployment name (by convention the model name). The `anthropic.*` and `amazon.*`
 * values of the original contract are Bedrock model ids that no Azure OpenAI deployment serves;
 * they are refused unless the operator maps them to a deployment (METAHUMAN_MODEL_MAP). Reasoning
 * deployments (o-series, gpt-5*) need api-version 2024-12-01-preview or later. Default `gpt-4o` (a
 * new session, or a switch to this provider that names none).
 */
type LlmAzureModel = "gpt-35-turbo" | "gpt-35-turbo-16k" | "gpt-4" | "gpt-4-32k" | "amazon.titan-tg1-large" | "anthropic.claude" | "anthropic.claude-v3-opus" | "anthropic.claude-v3-sonnet" | "anthropic.claude-v3-5-sonnet" | "anthropic.claude-v3-haiku" | "gpt-4-turbo" | "gpt-4o" | "gpt-4o-mini-2024-07-18" | "gpt-4.1-2025-04-14" | "gpt-4.1-nano-2025-04-14" | "gpt-4.1-mini-2025-04-14" | "anthropic.claude-v3-5-haiku" | "anthropic.claude-3-7-sonnet-20250219-v1:0" | "anthropic.claude-sonnet-4-20250514-v1:0" | "anthropic.claude-opus-4-20250514-v1:0" | "gpt-4.1" | "gpt-4.1-mini" | "gpt-4o-mini" | "o4-mini" | "gpt-5-mini";

/**
 * AI Games gateway model. Default `ATLAS` (a new session, or a switch to this provider that names
 * none).
 */
type LlmAiGamesModel = "ATLAS" | "ORION" | "NOVA" | "RHEA";

/**
 * No selectable models: the Clarity gateway's configured model is used. Default `default` (a new
 * session, or a switch to this provider that names none).
 */
type LlmClarityModel = "default";

/**
 * Bayer gateway (myGenAssist) model. The gateway takes model ids (`gpt-4o-mini`); the original
 * contract's display names are mapped to ids where they are known, and an operator maps the others
 * (METAHUMAN_MODEL_MAP). Embedding, reranker and batch entries are not chat models and are refused.
 * The GPT-OSS-120B value is spelled as in the original contract, with U+2011 non-breaking hyphens
 * in place of ASCII `-`: send it exactly so. Default `GPT-4o mini` (a new session, or a switch to
 * this provider that names none).
 */
type LlmBayerModel = "o4-mini" | "grok-3" | "OpenAI Text Embedding 3 (small)" | "OpenAI Text Embedding 3 (large)" | "Claude Sonnet 4" | "Cohere Rerank v3.5" | "Gemini 2.5 Pro" | "Gemini 2.5 Flash" | "Gemini 2.0 Flash" | "GPT 4 Turbo" | "bge-m3" | "Llama 3.1 405B Instruct" | "GPT-5" | "GPT-5 Nano" | "GPT-4o mini" | "BGE Reranker v2 M3" | "Claude 3.5 Sonnet" | "gpt-4o-2024-08-06" | "GPT-5 Mini" | "Claude Opus 4" | "DeepSeek R1 Reasoning" | "o3-mini" | "o1-mini" | "o1-preview" | "GPT-4" | "Mistral Large" | "Command-R+" | "GPT-3.5" | "GPT-4 Turbo Vision" | "BioLlama-3 70B" | "Llama 3.1 70B Instruct" | "Llama 3.1 8B Instruct" | "GPT-4 (0125-preview)" | "Llama-3 8B" | "Llama-3 70B" | "Claude Opus 4.1" | "GPT‑OSS‑120B" | "Claude Sonnet 4.5" | "GPT 4o" | "Claude 3.7 Sonnet" | "MedCPT Reranker" | "GPT 4o mini Batch" | "GPT 4o Batch" | "o3 mini Batch" | "GPT-4o" | "gpt-4.1" | "gpt-4o-mini" | "gpt-4o" | "gpt-5" | "gpt-5-mini" | "gpt-5-nano";

/**
 * Embedded espeak-ng formant synthesiser. Default `espeak-ng` (a new session, or a switch to this
 * provider that names none).
 */
type TtsLocalModel = "espeak-ng";

/**
 * OpenAI speech model. `tts-1` and `tts-1-hd` take fewer voices than `gpt-4o-mini-tts` (no
 * `ballad`, `verse`, `marin`, `cedar`). Every /v1/audio/speech model shuts down on 2027-01-06
 * (OpenAI deprecations). Default `gpt-4o-mini-tts` (a new session, or a switch to this provider
 * that names none).
 */
type TtsOpenAiModel = "tts-1" | "tts-1-hd" | "gpt-4o-mini-tts" | "gpt-4o-mini-tts-2025-12-15";

/**
 * Amazon Polly engine. `default` picks the neural engine where the voice has it, else standard.
 * Default `default` (a new session, or a switch to this provider that names none).
 */
type TtsAwsModel = "default" | "standard" | "neural" | "generative" | "long-form";

/**
 * Accepted for compatibility with the original contract; Azure neural voices have no model choice,
 * so it does not change the voice. Default `gpt-4o` (a new session, or a switch to this provider
 * that names none).
 */
type TtsAzureModel = "gpt-4" | "gpt-4o" | "gpt-4-turbo" | "gpt-3.5-turbo" | "gpt-5-pro" | "gpt-5-codex";

/**
 * No selectable models: Google picks the model from the voice. Default `default` (a new session, or
 * a switch to this provider that names none).
 */
type TtsGoogleModel = "default";

/**
 * espeak-ng English voice. Default `en-us` (a new session, or a switch to this provider that names
 * none).
 */
type TtsLocalVoice = "en-us" | "en-gb" | "en-gb-scotland" | "en-gb-x-rp" | "en-029" | "en-us-nyc";

/**
 * OpenAI voice. Not every model takes every voice: `tts-1` and `tts-1-hd` take alloy, ash, coral,
 * echo, fable, onyx, nova, sage and shimmer; a voice the model does not take is refused at
 * session.update. Default `alloy` (a new session, or a switch to this provider that names none).
 */
type TtsOpenAiVoice = "alloy" | "ash" | "ballad" | "coral" | "echo" | "fable" | "onyx" | "nova" | "sage" | "shimmer" | "verse" | "marin" | "cedar";

/**
 * Amazon Polly voice. Default `Joanna` (a new session, or a switch to this provider that names
 * none).
 */
type TtsAwsVoice = "Aditi" | "Adriano" | "Amy" | "Andres" | "Aria" | "Arlet" | "Arthur" | "Astrid" | "Ayanda" | "Bianca" | "Brian" | "Camila" | "Carla" | "Carmen" | "Celine" | "Chantal" | "Conchita" | "Cristiano" | "Daniel" | "Danielle" | "Dora" | "Elin" | "Emma" | "Enrique" | "Ewa" | "Filiz" | "Gabrielle" | "Geraint" | "Giorgio" | "Gregory" | "Gwyneth" | "Hala" | "Hannah" | "Hans" | "Hiujin" | "Ida" | "Ines" | "Isabelle" | "Ivy" | "Jacek" | "Jan" | "Joanna" | "Joey" | "Justin" | "Kajal" | "Karl" | "Kazuha" | "Kendra" | "Kevin" | "Kimberly" | "Laura" | "Lea" | "Liam" | "Lisa" | "Liv" | "Lotte" | "Lucia" | "Lupe" | "Mads" | "Maja" | "Marlene" | "Mathieu" | "Matthew" | "Maxim" | "Mia" | "Miguel" | "Mizuki" | "Naja" | "Niamh" | "Nicole" | "Ola" | "Olivia" | "Pedro" | "Penelope" | "Raveena" | "Remi" | "Ricardo" | "Ruben" | "Russell" | "Ruth" | "Salli" | "Seoyeon" | "Sergio" | "Sofie" | "Stephen" | "Suvi" | "Takumi" | "Tatyana" | "Thiago" | "Tomoko" | "Vicki" | "Vitoria" | "Zayd" | "Zeina" | "Zhiyu" | "Burcu";

/**
 * Azure neural voice. Default `en-US-JennyNeural` (a new session, or a switch to this provider that
 * names none).
 */
type TtsAzureVoice = "en-US-JennyNeural" | "en-US-SaraNeural" | "en-US-TonyNeural" | "en-US-NancyNeural" | "en-US-AvaMultilingualNeural" | "en-US-AndrewMultilingualNeural" | "en-US-EmmaMultilingualNeural" | "en-US-BrianMultilingualNeural" | "en-US-AriaNeural" | "en-US-GuyNeural" | "en-GB-SoniaNeural" | "en-GB-RyanNeural";

/**
 * Google voice name such as `en-US-Neural2-F`, or `default` to let Google choose one from
 * `language` and `ssmlGender`. Default `default` (a new session, or a switch to this provider that
 * names none).
 */
type TtsGoogleVoice = string;

/** BCP-47 language tag. */
type Language = string;

/** System instructions for the language model: who the digital human is and how it speaks. */
type Instructions = string;

/** Sampling temperature; ignored by reasoning models and by the local responder. */
type Temperature = number;

/** Upper bound on the reply's length in tokens (words for the local responder). */
type MaxOutputTokens = number;

/** Speaking rate; 1.0 is normal. */
type Speed = number;

/** Samples per second. */
type SampleRate = number;

/**
 * `pcm16`: raw 16-bit little-endian mono at `sampleRate`. `wav`: each chunk is a whole WAV file
 * (16-bit PCM; resampled to `sampleRate` when its header says another rate).
 */
type InputAudioFormat = "pcm16" | "wav";

/**
 * `pcm16`: raw 16-bit little-endian mono. `wav`: each delta is a WAV file. `mp3`: each delta is
 * MPEG audio; concatenated deltas form one playable stream (a delta need not start on a frame
 * boundary, so decode the stream, not each delta alone).
 */
type OutputAudioFormat = "pcm16" | "wav" | "mp3";

/** Identifies one utterance of the Sender, from its first audio chunk to its reply. */
type ItemId = string;

/** Identifies one reply of the digital human. */
type ResponseId = string;

/** Pipeline stage: speech-to-text, language model, text-to-speech. */
type Stage = "stt" | "llm" | "tts";

/** Switches speech-to-text to Local. */
interface SttUpdateLocal {
  /** Provider name. */
  provider: "local";
  model?: SttLocalModel;
  language?: Language;
}

/** Switches speech-to-text to OpenAI. */
interface SttUpdateOpenAi {
  /** Provider name. */
  provider: "openai";
  model?: SttOpenAiModel;
  language?: Language;
}

/** Switches speech-to-text to AWS. */
interface SttUpdateAws {
  /** Provider name. */
  provider: "aws";
  model?: SttAwsModel;
  language?: Language;
}

/** Switches speech-to-text to Google. */
interface SttUpdateGoogle {
  /** Provider name. */
  provider: "google";
  model?: SttGoogleModel;
  language?: Language;
}

/** Switches speech-to-text to Mistral. */
interface SttUpdateMistral {
  /** Provider name. */
  provider: "mistral";
  model?: SttMistralModel;
  language?: Language;
}

/**
 * Changes speech-to-text options and keeps the provider and model. To change the model, name its
 * provider too.
 */
interface SttOptionsUpdate {
  language?: Language;
}

/**
 * A partial update of speech-to-text. Switching to another provider without naming a model selects
 * that provider's default model (naming the current provider again keeps the model); a model is
 * only accepted together with its own provider.
 */
type SttUpdate = SttUpdateLocal | SttUpdateOpenAi | SttUpdateAws | SttUpdateGoogle | SttUpdateMistral | SttOptionsUpdate;

/** Switches the language model to Local. */
interface LlmUpdateLocal {
  /** Provider name. */
  provider: "local";
  model?: LlmLocalModel;
  instructions?: Instructions;
  temperature?: Temperature;
  maxOutputTokens?: MaxOutputTokens;
}

/** Switches the language model to OpenAI. */
interface LlmUpdateOpenAi {
  /** Provider name. */
  provider: "openai";
  model?: LlmOpenAiModel;
  instructions?: Instructions;
  temperature?: Temperature;
  maxOutputTokens?: MaxOutputTokens;
}

/** Switches the language model to AWS Bedrock. */
interface LlmUpdateAws {
  /** Provider name. */
  provider: "aws";
  model?: LlmAwsModel;
  instructions?: Instructions;
  temperature?: Temperature;
  maxOutputTokens?: MaxOutputTokens;
}

/** Switches the language model to Azure OpenAI. */
interface LlmUpdateAzure {
  /** Provider name. */
  provider: "azure";
  model?: LlmAzureModel;
  instructions?: Instructions;
  temperature?: Temperature;
  maxOutputTokens?: MaxOutputTokens;
}

/** Switches the language model to the AI Games gateway. */
interface LlmUpdateAiGames {
  /** Provider name. */
  provider: "aigames";
  model?: LlmAiGamesModel;
  instructions?: Instructions;
  temperature?: Temperature;
  maxOutputTokens?: MaxOutputTokens;
}

/** Switches the language model to the Clarity gateway. */
interface LlmUpdateClarity {
  /** Provider name. */
  provider: "clarity";
  model?: LlmClarityModel;
  instructions?: Instructions;
  temperature?: Temperature;
  maxOutputTokens?: MaxOutputTokens;
}

/** Switches the language model to the Bayer gateway. */
interface LlmUpdateBayer {
  /** Provider name. */
  provider: "bayer";
  model?: LlmBayerModel;
  instructions?: Instructions;
  temperature?: Temperature;
  maxOutputTokens?: MaxOutputTokens;
}

/** Changes language-model options and keeps the provider and model. */
interface LlmOptionsUpdate {
  instructions?: Instructions;
  temperature?: Temperature;
  maxOutputTokens?: MaxOutputTokens;
}

/** A partial update of the language model. A model is only accepted together with its own provider. */
type LlmUpdate = LlmUpdateLocal | LlmUpdateOpenAi | LlmUpdateAws | LlmUpdateAzure | LlmUpdateAiGames | LlmUpdateClarity | LlmUpdateBayer | LlmOptionsUpdate;

/** Switches text-to-speech to Local. */
interface TtsUpdateLocal {
  /** Provider name. */
  provider: "local";
  model?: TtsLocalModel;
  voice?: TtsLocalVoice;
  responseType?: TtsResponseType;
  ssmlGender?: SsmlGender;
  language?: Language;
  speed?: Speed;
}

/** Switches text-to-speech to OpenAI. */
interface TtsUpdateOpenAi {
  /** Provider name. */
  provider: "openai";
  model?: TtsOpenAiModel;
  voice?: TtsOpenAiVoice;
  responseType?: TtsResponseType;
  ssmlGender?: SsmlGender;
  language?: Language;
  speed?: Speed;
}

/** Switches text-to-speech to AWS Polly. */
interface TtsUpdateAws {
  /** Provider name. */
  provider: "aws";
  model?: TtsAwsModel;
  voice?: TtsAwsVoice;
  responseType?: TtsResponseType;
  ssmlGender?: SsmlGender;
  language?: Language;
  speed?: Speed;
}

/** Switches text-to-speech to Azure Speech. */
interface TtsUpdateAzure {
  /** Provider name. */
  provider: "azure";
  model?: TtsAzureModel;
  voice?: TtsAzureVoice;
  responseType?: TtsResponseType;
  ssmlGender?: SsmlGender;
  language?: Language;
  speed?: Speed;
}

/** Switches text-to-speech to Google Cloud. */
interface TtsUpdateGoogle {
  /** Provider name. */
  provider: "google";
  model?: TtsGoogleModel;
  voice?: TtsGoogleVoice;
  responseType?: TtsResponseType;
  ssmlGender?: SsmlGender;
  language?: Language;
  speed?: Speed;
}

/** Changes text-to-speech options and keeps the provider, model and voice. */
interface TtsOptionsUpdate {
  responseType?: TtsResponseType;
  ssmlGender?: SsmlGender;
  language?: Language;
  speed?: Speed;
}

/**
 * A partial update of text-to-speech. A model or voice is only accepted together with its own
 * provider; switching to another provider without naming them selects its default model and voice
 * (naming the current provider again keeps them).
 */
type TtsUpdate = TtsUpdateLocal | TtsUpdateOpenAi | TtsUpdateAws | TtsUpdateAzure | TtsUpdateGoogle | TtsOptionsUpdate;

/**
 * How the Sender's audio is encoded. An utterance already started keeps the encoding it started
 * with; the change applies from the next utterance.
 */
interface InputAudioUpdate {
  format?: InputAudioFormat;
  sampleRate?: SampleRate;
}

/** How reply audio is encoded. */
interface OutputAudioUpdate {
  format?: OutputAudioFormat;
  sampleRate?: SampleRate;
}

/** Effective speech-to-text settings. */
interface SttSettings {
  provider: SttProvider;
  /** One of the provider's models (see the sttXxxModel enums). */
  model: string;
  /**
   * The model the client asked for, present only when another model serves it (a retired model
   * served by its successor, or an id the server maps for the provider); `model` is the one
   * serving.
   */
  requestedModel?: string;
  /**
   * Why `model` differs from `requestedModel`, or that the model is deprecated and when it shuts
   * down, e.g. `gpt-4-32k was retired on 2025-06-06; gpt-5.6-sol serves it`.
   */
  modelNotice?: string;
  language: Language;
}

/** Effective language-model settings. */
interface LlmSettings {
  provider: LlmProvider;
  /** One of the provider's models (see the llmXxxModel enums). */
  model: string;
  /**
   * The model the client asked for, present only when another model serves it (a retired model
   * served by its successor, or an id the server maps for the provider); `model` is the one
   * serving.
   */
  requestedModel?: string;
  /**
   * Why `model` differs from `requestedModel`, or that the model is deprecated and when it shuts
   * down, e.g. `gpt-4-32k was retired on 2025-06-06; gpt-5.6-sol serves it`.
   */
  modelNotice?: string;
  instructions: Instructions;
  temperature: Temperature;
  maxOutputTokens: MaxOutputTokens;
}

/** Effective text-to-speech settings. */
interface TtsSettings {
  provider: TtsProvider;
  /** One of the provider's models (see the ttsXxxModel enums). */
  model: string;
  /**
   * The model the client asked for, present only when another model serves it (a retired model
   * served by its successor, or an id the server maps for the provider); `model` is the one
   * serving.
   */
  requestedModel?: string;
  /**
   * Why `model` differs from `requestedModel`, or that the model is deprecated and when it shuts
   * down, e.g. `gpt-4-32k was retired on 2025-06-06; gpt-5.6-sol serves it`.
   */
  modelNotice?: string;
  /** One of the provider's voices (see the ttsXxxVoice enums). */
  voice: string;
  responseType: TtsResponseType;
  ssmlGender: SsmlGender;
  language: Language;
  speed: Speed;
}

/** Effective input audio encoding. */
interface InputAudio {
  format: InputAudioFormat;
  sampleRate: SampleRate;
}

/** Effective output audio encoding. */
interface OutputAudio {
  format: OutputAudioFormat;
  sampleRate: SampleRate;
}

/**
 * A mouth shape: the 15 visemes of Oculus/Meta OVRLipSync, which Unreal, Ready Player Me and most
 * avatar rigs map to poses. A viseme holds from its `offsetMs` until the next one.
 *  Azure viseme ids map as 0 sil; 1 (ae, ax, ah) aa; 2 (aa) aa; 3 (ao) O; 4 (ey, eh, uh) E; 5 (er)
 * RR; 6 (y, iy, ih, ix) I; 7 (w, uw) U; 8 (ow) O; 9 (aw) aa; 10 (oy) O; 11 (ay) aa; 12 (h) kk; 13
 * (r) RR; 14 (l) nn; 15 (s, z) SS; 16 (sh, ch, jh, zh) CH; 17 (th, dh) TH; 18 (f, v) FF; 19 (d, t,
 * n) DD; 20 (k, g, ng) kk; 21 (p, b, m) PP.
 *  Amazon Polly viseme letters map as sil sil; p PP; t DD; S CH; T TH; f FF; k kk; i I; r RR; s SS;
 * u U; @ E; a aa; e E; E E; o O; O O; and, for languages beyond English, l nn; J CH; B PP.
 */
type Viseme = "sil" | "PP" | "FF" | "TH" | "DD" | "kk" | "CH" | "SS" | "nn" | "RR" | "aa" | "E" | "I" | "O" | "U";

/**
 * A mouth shape that starts `offsetMs` after the start of its delta's audio and holds until the
 * next mark (or the delta's end).
 */
interface VisemeMark {
  /** Milliseconds from the start of this delta's audio. */
  offsetMs: number;
  id: Viseme;
}

/**
 * A word spoken from `offsetMs` for `durationMs` after the start of its delta's audio. `text` runs
 * from the word to the next word (its punctuation and the space after it included), so a reply's
 * words joined give its text. A word cut by a delta boundary appears in both deltas, each part
 * timed on its own delta's clock (the second at offset 0).
 */
interface WordTiming {
  text: string;
  /** Milliseconds from the start of this delta's audio. */
  offsetMs: number;
  /** How long the word sounds in this delta. */
  durationMs: number;
}

/** Where a delta's `visemes` and `words` come from. */
type TimingSource = "provider" | "estimated";

/**
 * Which timings ride on `response.audio.delta`. A Receiver that wants audio only turns both off and
 * its deltas are as without animation.
 */
interface AnimationUpdate {
  /** Send `visemes` on each delta (true when never set). */
  visemes?: boolean;
  /** Send `words` on each delta (true when never set). */
  words?: boolean;
}

/** Effective animation settings. */
interface Animation {
  /** Deltas carry `visemes`. */
  visemes: boolean;
  /** Deltas carry `words`. */
  words: boolean;
}

/**
 * A partial update of the session: only the stages named change, and within a stage only the fields
 * named. An update that cannot apply changes nothing.
 */
interface SessionUpdate {
  stt?: SttUpdate;
  llm?: LlmUpdate;
  tts?: TtsUpdate;
  inputAudio?: InputAudioUpdate;
  outputAudio?: OutputAudioUpdate;
  animation?: AnimationUpdate;
  turnDetection?: TurnDetectionUpdate;
}

/** The whole effective session after an update, every default resolved. */
interface SessionUpdated {
  sessionId: SessionId;
  stt: SttSettings;
  llm: LlmSettings;
  tts: TtsSettings;
  inputAudio: InputAudio;
  outputAudio: OutputAudio;
  animation: Animation;
  turnDetection: TurnDetection;
}

/**
 * Audio bytes sent as a Socket.IO binary attachment (an ArrayBuffer, Buffer or bytes): PCM16 LE
 * mono at the session's input rate, or a WAV file.
 */
type AudioBinary = ArrayBuffer | ArrayBufferView;

/** The same audio bytes, base64-encoded. */
type AudioBase64 = string;

/**
 * The same audio bytes, base64-encoded, in an object (the OpenAI Realtime
 * `input_audio_buffer.append` shape).
 */
interface AudioObject {
  audio: AudioBase64;
}

/**
 * One chunk of the Sender's microphone audio: binary, a base64 string, or `{"audio": base64}`.
 * 20-100 ms per chunk is typical.
 */
type InputBufferAppend = AudioBinary | AudioBase64 | AudioObject;

/** The JSON forms of an audio chunk: a base64 string, or `{"audio": base64}`. */
type InputBufferAppendJson = AudioBase64 | AudioObject;

/** The first chunk of a new utterance arrived; later chunks and the commit belong to `itemId`. */
interface InputBufferInitialized {
  itemId: ItemId;
  format: InputAudioFormat;
  sampleRate: SampleRate;
}

/** What the Sender said. An empty `text` means no speech was recognised; the turn ends there. */
interface RequestTranscribeDone {
  itemId: ItemId;
  /** The transcript. */
  text: string;
  language: Language;
  /** Length of the committed audio in milliseconds. */
  durationMs: number;
  provider: SttProvider;
  /** The model that transcribed it. */
  model: string;
}

/** The digital human's whole reply as text, sent when the language model has finished it. */
interface ResponseText {
  responseId: ResponseId;
  itemId: ItemId;
  /** The reply. */
  text: string;
}

/**
 * A piece of the spoken reply. Deltas of one response arrive in `sequence` order; the last has
 * `final: true`.
 */
interface ResponseAudioDelta {
  responseId: ResponseId;
  itemId: ItemId;
  /** 0, 1, 2 ... within the response. */
  sequence: number;
  /**
   * Audio bytes (a Socket.IO binary attachment) in `format` at `sampleRate`. May be empty on the
   * final delta.
   */
  audio: ArrayBuffer | ArrayBufferView;
  format: OutputAudioFormat;
  sampleRate: SampleRate;
  /**
   * The text this delta starts to speak: the whole reply (`single`), its sentence (`chain`), or, in
   * `stream`, the sentence whose first chunk this is. Absent on other chunks.
   */
  text?: string;
  /** True on the last delta of the response. */
  final: boolean;
  /**
   * Mouth shapes for this delta's audio, offsets increasing and inside the delta (the first at 0
   * holds the shape the mouth is in as the delta starts). In `single` mode the one delta carries
   * the whole reply's. Absent when the session's `animation.visemes` is off.
   */
  visemes?: VisemeMark[];
  /**
   * The words sounding in this delta's audio, in order; each text runs up to the next word, so in
   * `chain` the texts joined are the delta's `text` and in `single` the reply. A word the delta's
   * end cuts is in the next delta too, at offset 0 with its text repeated. Absent when the
   * session's `animation.words` is off.
   */
  words?: WordTiming[];
  timingSource?: TimingSource;
}

/** Stable error codes; clients branch on these, not on `message`. */
type ErrorCode = "invalid_payload" | "unknown_event" | "invalid_audio" | "role_not_allowed" | "provider_unavailable" | "buffer_overflow" | "empty_buffer" | "turn_queue_full" | "provider_error" | "internal_error" | "unsupported_option" | "model_retired" | "rate_limited" | "utterance_timeout" | "server_busy" | "unknown_response" | "response_not_active" | "payload_too_large" | "store_unavailable" | "turn_timeout";

/** Something the client sent, or a turn it started, failed. The connection stays open and usable. */
interface CustomError {
  code: ErrorCode;
  /** Human-readable explanation; never contains secrets. */
  message: string;
  /** The client event it concerns, e.g. `input.buffer.commit`. */
  event?: string;
  itemId?: ItemId;
  stage?: Stage;
  /** The provider that failed (with `provider_error` and `provider_unavailable`). */
  provider?: string;
}

/** Why the handshake was refused. */
type ConnectErrorCode = "invalid_handshake" | "unauthorized" | "internal_error" | "token_expired" | "token_mismatch" | "too_many_connections";

/** Socket.IO's connection refusal (the client's `connect_error` event). */
interface ConnectError {
  /** Human-readable reason. */
  message: string;
  data: ConnectErrorData;
}

/** What a client branches on when its handshake is refused. */
interface ConnectErrorData {
  code: ConnectErrorCode;
}

/** Who ends an utterance. */
type TurnDetectionType = "none" | "server_vad";

/**
 * Speech probability (0-1) from which a frame counts as speech; higher needs louder, clearer
 * speech.
 */
type VadThreshold = number;

/**
 * A partial update of turn detection: only the fields named change. Defaults as OpenAI Realtime's
 * `server_vad`.
 */
interface TurnDetectionUpdate {
  type?: TurnDetectionType;
  threshold?: VadThreshold;
  /** Audio kept before the speech's onset at the start of the utterance (300 when never set). */
  prefixPaddingMs?: number;
  /** Silence after the speech that ends the turn (500 when never set). */
  silenceDurationMs?: number;
  /** Speech shorter than this neither starts a turn nor interrupts (250 when never set). */
  minSpeechMs?: number;
  /**
   * Speech that starts a turn while a reply is generated or still playing cancels it (barge-in;
   * true when never set).
   */
  interruptResponse?: boolean;
}

/** Effective turn detection settings. */
interface TurnDetection {
  type: TurnDetectionType;
  threshold: VadThreshold;
  prefixPaddingMs: number;
  silenceDurationMs: number;
  minSpeechMs: number;
  interruptResponse: boolean;
}

/** Speech started (it lasted `minSpeechMs`); the utterance `itemId` holds it. */
interface InputSpeechStarted {
  itemId: ItemId;
  /**
   * Where the speech starts, in milliseconds of the utterance's audio (which begins up to
   * `prefixPaddingMs` earlier).
   */
  audioStartMs: number;
}

/** Speech stopped `silenceDurationMs` ago; the commit of `itemId` follows. */
interface InputSpeechStopped {
  itemId: ItemId;
  /** Where the speech ends, in milliseconds of the utterance's audio. */
  audioEndMs: number;
}

/**
 * The utterance `itemId` was committed (by the Sender or by server VAD); its transcript and reply
 * follow.
 */
interface InputBufferCommitted {
  itemId: ItemId;
}

/** Stop a response. Without `responseId`, the one in flight (or still playing). */
interface ResponseCancel {
  responseId?: ResponseId;
}

/** Why a response was stopped. */
type CancelReason = "client_cancel" | "barge_in" | "shutdown";

/**
 * The response was stopped: no delta of it follows this event, and a Receiver stops playing it.
 * Sent to the session's Receivers and Senders.
 */
interface ResponseCancelled {
  responseId: ResponseId;
  itemId: ItemId;
  reason: CancelReason;
  /** The `sequence` of the last delta sent, or -1 when none was. */
  lastSequence: number;
  /** How much audio the deltas sent hold, in milliseconds. */
  audioSentMs: number;
}

/**
 * How much of a response's audio the avatar played, from its start: sent when it finishes or is
 * interrupted (may be sent more often). The history keeps the words played.
 */
interface ResponseAudioPlayed {
  responseId: ResponseId;
  /** Milliseconds of the response's audio played. */
  playedMs: number;
}

/** What each client event carries (`void`: emitted with no payload). */
interface ClientEvents {
  "session.update": SessionUpdate;
  "input.buffer.append": InputBufferAppend;
  "input.buffer.commit": void;
  "response.cancel": ResponseCancel;
  "response.audio.played": ResponseAudioPlayed;
  "conversation.clear": void;
}

/** Listeners of the server's events, and of Socket.IO's own connect, disconnect, connect_error. */
interface ServerListeners {
  "session.updated": (payload: SessionUpdated) => void;
  "input.buffer.initialized": (payload: InputBufferInitialized) => void;
  "request.transcribe.done": (payload: RequestTranscribeDone) => void;
  "response.text": (payload: ResponseText) => void;
  "response.audio.delta": (payload: ResponseAudioDelta) => void;
  "custom.error": (payload: CustomError) => void;
  "input.speech.started": (payload: InputSpeechStarted) => void;
  "input.speech.stopped": (payload: InputSpeechStopped) => void;
  "input.buffer.committed": (payload: InputBufferCommitted) => void;
  "response.cancelled": (payload: ResponseCancelled) => void;
  connect: () => void;
  disconnect: (reason: string) => void;
  connect_error: (error: ConnectRefusal) => void;
}

/** socket.io-client's connect_error: an Error whose `data` is the contract's, when refused. */
interface ConnectRefusal extends Error {
  data?: ConnectErrorData;
}

/** What MetaHumanClient uses of a socket.io-client Socket. */
interface SocketLike {
  readonly connected: boolean;
  emit(event: string, ...args: unknown[]): unknown;
  on(event: string, listener: (...args: never[]) => void): unknown;
  disconnect(): unknown;
}

interface ConnectOptions {
  /** Socket.IO path; the contract's servers use `/socketio`. */
  path?: string;
  transports?: string[];
}

/** socket.io-client's global `io` (its browser bundle, served by the page). */
declare function io(options: ConnectOptions & { auth: Handshake }): SocketLike;
declare function io(url: string, options: ConnectOptions & { auth: Handshake }): SocketLike;

/** One connection as a Sender or a Receiver (the handshake's role), typed by the contract. */
class MetaHumanClient {
  readonly socket: SocketLike;

  constructor(socket: SocketLike) {
    this.socket = socket;
  }

  /** Connect with a handshake; `url` defaults to the page's origin. */
  static connect(
    handshake: Handshake,
    options: ConnectOptions = {},
    url?: string,
  ): MetaHumanClient {
    const settings = { path: "/socketio", ...options, auth: handshake };
    return new MetaHumanClient(url === undefined ? io(settings) : io(url, settings));
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Emit a client event with its payload (none for `void` events). */
  emit<E extends keyof ClientEvents>(
    event: E,
    ...payload: ClientEvents[E] extends void ? [] : [ClientEvents[E]]
  ): void {
    this.socket.emit(event, ...payload);
  }

  /** `session.update` (sender): A client emits the event to update the session. */
  sessionUpdate(payload: SessionUpdate): void {
    this.emit("session.update", payload);
  }

  /** `input.buffer.append` (sender): Sender sends audio chunks to the Server. */
  inputBufferAppend(payload: InputBufferAppend): void {
    this.emit("input.buffer.append", payload);
  }

  /**
   * `input.buffer.commit` (sender): The Sender signalize the process of streaming audio is
   * completed.
   */
  inputBufferCommit(): void {
    this.emit("input.buffer.commit");
  }

  /** `response.cancel` (sender): The Sender stops the response in flight (or the one still playing). */
  responseCancel(payload: ResponseCancel): void {
    this.emit("response.cancel", payload);
  }

  /** `response.audio.played` (receivers): A Receiver says how much of a response the avatar played. */
  responseAudioPlayed(payload: ResponseAudioPlayed): void {
    this.emit("response.audio.played", payload);
  }

  /** `conversation.clear` (sender): The Sender starts the conversation afresh. */
  conversationClear(): void {
    this.emit("conversation.clear");
  }

  /** Listen to a server event (or connect, disconnect, connect_error). */
  on<E extends keyof ServerListeners>(event: E, listener: ServerListeners[E]): this {
    this.socket.on(event, listener);
    return this;
  }

  disconnect(): void {
    this.socket.disconnect();
  }
}
