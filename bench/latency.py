"""Time to first audio: commit -> first `response.audio.delta`, with simulated provider latency.

The fakes (``bench.fakes.Profile``): STT answers 300 ms after the commit; the LLM's first token
comes 200 ms after the call, then 30 tokens a second (a word a token); TTS's first audio comes
150 ms after it gets text, then audio in real time (50 ms chunks).

The critical path of each mode, the bound a perfect server would reach:

* ``stream``: STT + LLM until the end of the first sentence + TTS first audio. A delta carries
  each chunk as the engine yields it, so this is the issue's bound as it stands.
* ``chain``: a delta carries a whole sentence, so the first one cannot leave before the first
  sentence is fully synthesised: STT + LLM first sentence + TTS until its last chunk (first
  audio + the sentence's audio, less one chunk, with a real-time synthesiser).
* ``single``: one delta with the whole reply, by definition after the whole reply is written and
  synthesised: STT + the LLM's whole reply + TTS of the whole reply.

Each is reported next to the issue's literal bound (STT + LLM first sentence + TTS first audio).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench.common import JSON, Cpus, in_process, percentile, running_server
from bench.fakes import PROFILE, Profile
from bench.loadgen import TurnsSpec, noise, turns_load

MODES = ("single", "chain", "stream")
TARGET_FACTOR = 1.1
TARGET_SLACK_MS = 20.0


def bounds(profile: Profile) -> dict[str, float]:
    """Critical-path bounds in ms, by mode, and the issue's literal one."""
    sentence, last_token = profile.first_sentence()
    llm_first_sentence = profile.token_at(last_token)
    llm_whole = profile.token_at(len(profile.tokens) - 1)
    literal = profile.stt_s + llm_first_sentence + profile.tts_first_audio_s
    return {
        "literal": literal * 1000,
        "stream": literal * 1000,
        "chain": (profile.stt_s + llm_first_sentence + profile.tts_done_s(sentence)) * 1000,
        "single": (profile.stt_s + llm_whole + profile.tts_done_s(profile.reply)) * 1000,
    }


@dataclass(frozen=True, slots=True)
class Plan:
    concurrency: tuple[int, ...] = (1, 50)
    turns: dict[int, int] | None = None
    utterance_s: float = 0.5

    def turns_for(self, sessions: int) -> int:
        default = {1: 5, 50: 3}
        return (self.turns or default).get(sessions, 2)

    @classmethod
    def quick(cls) -> Plan:
        return cls(turns={1: 1, 50: 1})


def verdict(mode: str, p95: float, bound: float) -> JSON:
    """The issue's target for chain and stream: within 1.1x of the bound and <= 20 ms over it."""
    limit = min(bound * TARGET_FACTOR, bound + TARGET_SLACK_MS)
    return {
        "limit_ms": round(limit, 1),
        "meets_target": None if mode == "single" else p95 <= limit,
    }


async def run(quick: bool, log: Callable[[str], None]) -> JSON:
    cpus = Cpus.detect()
    plan = Plan.quick() if quick else Plan()
    bound = bounds(PROFILE)
    utterance = (("noise", noise(plan.utterance_s)),)
    rows: list[JSON] = []
    for mode in MODES:
        for sessions in plan.concurrency:
            async with running_server("app", "latency", cpus.server) as server:
                spec = TurnsSpec(
                    url=server.url,
                    sessions=sessions,
                    turns=plan.turns_for(sessions),
                    utterances=utterance,
                    mode=mode,
                    stagger_s=1.0 if sessions > 1 else 0.0,
                    session_prefix=f"ttfa-{mode}",
                )
                result: JSON = await in_process(cpus.client, turns_load, spec)
            first_audio = [t["first_audio_ms"] for t in result["turns"] if t["first_audio_ms"]]
            transcripts = [t["transcript_ms"] for t in result["turns"] if t["transcript_ms"]]
            missing = sum(1 for t in result["turns"] if t["first_audio_ms"] is None)
            p50, p95 = percentile(first_audio, 50), percentile(first_audio, 95)
            row = {
                "mode": mode,
                "sessions": sessions,
                "turns": len(result["turns"]),
                "missing": missing,
                "commit_to_transcript_ms": {
                    "p50": round(percentile(transcripts, 50), 1),
                    "p95": round(percentile(transcripts, 95), 1),
                },
                "commit_to_first_audio_ms": {
                    "p50": round(p50, 1),
                    "p95": round(p95, 1),
                    "max": round(max(first_audio), 1) if first_audio else None,
                },
                "bound_ms": round(bound[mode], 1),
                "literal_bound_ms": round(bound["literal"], 1),
                "p95_over_bound": round(p95 / bound[mode], 3),
                "p95_minus_bound_ms": round(p95 - bound[mode], 1),
                **verdict(mode, p95, bound[mode]),
                "errors": result["errors"],
                "generator_lag_ms": result["generator_lag_ms"],
            }
            rows.append(row)
            audio_ms = row["commit_to_first_audio_ms"]
            log(
                f"  {mode:6} x{sessions:<3} first audio p50 {audio_ms['p50']}"
                f" p95 {audio_ms['p95']} ms; bound {row['bound_ms']} ms"
                f" (+{row['p95_minus_bound_ms']} ms, x{row['p95_over_bound']}); literal bound"
                f" {row['literal_bound_ms']} ms; transcript p50"
                f" {row['commit_to_transcript_ms']['p50']} ms; missing {missing}"
            )
    return {
        "profile": {
            "stt_ms": PROFILE.stt_s * 1000,
            "llm_first_token_ms": PROFILE.llm_first_token_s * 1000,
            "llm_tokens_per_s": PROFILE.llm_tokens_per_s,
            "tts_first_audio_ms": PROFILE.tts_first_audio_s * 1000,
            "tts_chunk_ms": PROFILE.tts_chunk_s * 1000,
            "speech_chars_per_s": PROFILE.speech_chars_per_s,
            "reply": PROFILE.reply,
            "first_sentence": PROFILE.first_sentence()[0],
        },
        "bounds_ms": {name: round(value, 1) for name, value in bound.items()},
        "bound_definitions": {
            "literal": "STT + LLM until the end of the first sentence + TTS first audio"
            " (the issue's)",
            "stream": "the literal bound: a delta carries each chunk as the engine yields it",
            "chain": "STT + LLM first sentence + TTS of the whole first sentence (a delta carries"
            " a whole sentence; a real-time TTS finishes it first audio + its length - 1 chunk)",
            "single": "STT + LLM whole reply + TTS of the whole reply (one delta, by definition)",
        },
        "target": f"chain and stream p95 <= min({TARGET_FACTOR} x bound, bound +"
        f" {TARGET_SLACK_MS:g} ms)",
        "pinning": cpus.describe(),
        "rows": rows,
    }
