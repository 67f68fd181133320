"""AzureTextToSpeech against a local HTTP server speaking Azure's text-to-speech REST protocol."""

from __future__ import annotations

import pytest

from handlers.providers.base import PcmChunk, ProviderError, ProviderUnavailable, TtsRequest
from handlers.providers.registry import ProviderRegistry
from handlers.providers.tts.azure import AzureTextToSpeech, build_ssml, synthesis_url
from tests.fakes.azure_speech import KEY, AzureSpeechFake


def tts_request(**changes: object) -> TtsRequest:
    fields: dict[str, object] = {
        "model": "gpt-4o",  # the contract's Azure "models": accepted, ignored
        "voice": "en-US-JennyNeural",
        "language": "en-US",
        "ssml_gender": "unspecified",
        "speed": 1.0,
        "sample_rate": 48000,
    }
    fields.update(changes)
    return TtsRequest(**fields)  # type: ignore[arg-type]


def env_for(azure_speech: AzureSpeechFake, **extra: str) -> dict[str, str]:
    return {
        "AZURE_SPEECH_KEY": KEY,
        "AZURE_SPEECH_ENDPOINT": azure_speech.url,
        "METAHUMAN_PROVIDER_TIMEOUT_S": "5",
        **extra,
    }


async def synthesize(env: dict[str, str], text: str, request: TtsRequest) -> list[PcmChunk]:
    provider = AzureTextToSpeech.from_env(env)
    try:
        return [chunk async for chunk in provider.synthesize(text, request)]
    finally:
        await provider.aclose()


async def test_streams_the_served_pcm_in_whole_samples(azure_speech: AzureSpeechFake) -> None:
    chunks = await synthesize(env_for(azure_speech), "Hello, how are you?", tts_request())

    (seen,) = azure_speech.seen
    assert seen.voice == "en-US-JennyNeural"
    assert seen.language == seen.voice_language == "en-US"
    assert seen.gender is None
    assert seen.rate == "+0%"
    assert seen.text == "Hello, how are you?"
    assert seen.output_format == "raw-24khz-16bit-mono-pcm"
    assert seen.user_agent == "metahuman-ai-chat"

    assert {chunk.sample_rate for chunk in chunks} == {24000}
    assert all(len(chunk.pcm) % 2 == 0 and chunk.pcm for chunk in chunks)
    # Passed on as it arrives (the fake sends 4095-byte pieces), not collected first.
    assert len(chunks) > 10
    assert b"".join(chunk.pcm for chunk in chunks) == azure_speech.served_pcm


async def test_text_is_xml_escaped(azure_speech: AzureSpeechFake) -> None:
    text = "Is 3 < 4 & 5 > 2? Say \"yes\" & 'no' </prosody></voice>\x07"
    await synthesize(env_for(azure_speech), text, tts_request())
    # The bell character is not allowed in XML at all: it is dropped, the rest arrives verbatim.
    assert azure_speech.seen[0].text == text.replace("\x07", "")


@pytest.mark.parametrize(
    ("gender", "expected"),
    [("unspecified", None), ("neutral", "Neutral"), ("male", "Male"), ("female", "Female")],
)
async def test_gender(azure_speech: AzureSpeechFake, gender: str, expected: str | None) -> None:
    await synthesize(env_for(azure_speech), "Hi.", tts_request(ssml_gender=gender))
    assert azure_speech.seen[0].gender == expected


@pytest.mark.parametrize(("speed", "rate"), [(1.25, "+25%"), (0.8, "-20%"), (3.0, "+100%")])
async def test_speed_becomes_prosody_rate(
    azure_speech: AzureSpeechFake, speed: float, rate: str
) -> None:
    await synthesize(env_for(azure_speech), "Hi.", tts_request(speed=speed))
    assert azure_speech.seen[0].rate == rate


@pytest.mark.parametrize(
    ("voice", "language", "sent"),
    [
        ("default", "en-US", "en-US-JennyNeural"),
        ("en-US-TonyNeural", "en-US", "en-US-TonyNeural"),
        ("de-DE-KatjaNeural", "de-DE", "de-DE-KatjaNeural"),
    ],
)
async def test_voice_and_language(
    azure_speech: AzureSpeechFake, voice: str, language: str, sent: str
) -> None:
    await synthesize(env_for(azure_speech), "Hi.", tts_request(voice=voice, language=language))
    assert (azure_speech.seen[0].voice, azure_speech.seen[0].voice_language) == (sent, language)


async def test_wrong_key_is_not_retried_and_not_echoed(azure_speech: AzureSpeechFake) -> None:
    env = env_for(
        azure_speech, AZURE_SPEECH_KEY="wrong-key-value", METAHUMAN_PROVIDER_MAX_RETRIES="2"
    )
    with pytest.raises(ProviderError, match="HTTP 401") as caught:
        await synthesize(env, "Hi.", tts_request())
    assert not caught.value.transient
    assert "wrong-key-value" not in str(caught.value)
    assert azure_speech.requests == 1


async def test_connection_refused_is_a_transient_provider_error(
    azure_speech: AzureSpeechFake,
) -> None:
    env = env_for(azure_speech, METAHUMAN_PROVIDER_MAX_RETRIES="0")
    await azure_speech.stop()
    with pytest.raises(ProviderError) as caught:
        await synthesize(env, "Hi.", tts_request())
    assert caught.value.transient


async def test_key_and_region_or_endpoint_are_needed() -> None:
    # A missing key beside an endpoint is a conformance check; the region is Azure's own.
    with pytest.raises(ProviderUnavailable, match="AZURE_SPEECH_KEY, AZURE_SPEECH_REGION"):
        AzureTextToSpeech.from_env({})
    with pytest.raises(ProviderUnavailable, match="AZURE_SPEECH_REGION"):
        AzureTextToSpeech.from_env({"AZURE_SPEECH_KEY": "secret-value"})
    reason = await ProviderRegistry({"AZURE_SPEECH_REGION": "westeurope"}).unavailable_reason(
        "tts", "azure"
    )
    assert reason is not None and "AZURE_SPEECH_KEY" in reason
    configured = ProviderRegistry({"AZURE_SPEECH_KEY": "k", "AZURE_SPEECH_REGION": "westeurope"})
    assert await configured.unavailable_reason("tts", "azure") is None


def test_region_must_be_a_region_name() -> None:
    with pytest.raises(ProviderUnavailable, match="AZURE_SPEECH_REGION"):
        AzureTextToSpeech.from_env({"AZURE_SPEECH_KEY": "k", "AZURE_SPEECH_REGION": "evil.com/x?"})


def test_ssml_document() -> None:
    ssml = build_ssml("a < b", voice="en-US-SaraNeural", language="en-US", gender="Female", speed=1)
    assert ssml == (
        "<speak version='1.0' xmlns='http://www.w3.org/2001/10/synthesis' xml:lang=\"en-US\">"
        '<voice xml:lang="en-US" xml:gender="Female" name="en-US-SaraNeural">'
        '<prosody rate="+0%">a &lt; b</prosody></voice></speak>'
    )


# The endpoint forms the Azure portal shows (Keys and Endpoint page) and the synthesis URL each
# needs (learn.microsoft.com: rest-text-to-speech; speech-services-private-link, "Construct
# endpoint URL": a custom subdomain takes the service as the first path element).
ENDPOINT_FORMS = {
    "https://westeurope.tts.speech.microsoft.com": (
        "https://westeurope.tts.speech.microsoft.com/cognitiveservices/v1"
    ),
    "https://westeurope.tts.speech.microsoft.com/cognitiveservices/v1": (
        "https://westeurope.tts.speech.microsoft.com/cognitiveservices/v1"
    ),
    "https://westeurope.api.cognitive.microsoft.com/": (
        "https://westeurope.tts.speech.microsoft.com/cognitiveservices/v1"
    ),
    "https://westeurope.api.cognitive.microsoft.com/sts/v1.0/issuetoken": (
        "https://westeurope.tts.speech.microsoft.com/cognitiveservices/v1"
    ),
    "https://chinaeast2.api.cognitive.azure.cn": (
        "https://chinaeast2.tts.speech.azure.cn/cognitiveservices/v1"
    ),
    "https://my-speech.cognitiveservices.azure.com/": (
        "https://my-speech.cognitiveservices.azure.com/tts/cognitiveservices/v1"
    ),
    "https://westeurope.voice.speech.microsoft.com/cognitiveservices/v1?deploymentId=abc": (
        "https://westeurope.voice.speech.microsoft.com/cognitiveservices/v1?deploymentId=abc"
    ),
    "http://127.0.0.1:5000": "http://127.0.0.1:5000/cognitiveservices/v1",
}


@pytest.mark.parametrize(("endpoint", "url"), ENDPOINT_FORMS.items())
def test_every_endpoint_form_of_the_portal_maps_to_the_synthesis_url(
    endpoint: str, url: str
) -> None:
    assert synthesis_url(endpoint) == url
