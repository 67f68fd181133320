"""The figures table: printed, and written as Markdown to bench/results/README-table.md."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bench.common import JSON, RESULTS_DIR, read_json
from bench.conversation import settled_growth
from bench.turns import turns_rows
from bench.vad import vad_rows

Row = tuple[str, str, str, str, str, str]
"""(what, figure, target, meets, machine, date)"""


def _meets(value: bool | None) -> str:
    return "—" if value is None else ("yes" if value else "**no**")


def _stamp(run: JSON) -> tuple[str, str]:
    machine = run["machine"]["summary"]
    if run.get("quick"):
        machine += ", --quick"
    if run.get("server_gc") == "default":
        machine += ", Python's default GC settings"
    if run.get("busy_cores_at_start", 0) >= 0.25:
        machine += f", {run['busy_cores_at_start']:.1f} cores busy with other work"
    return machine, run["date"]


def capacity_rows(run: JSON) -> list[Row]:
    data = run["result"]
    machine, date = _stamp(run)
    bare, app = data["bare"], data["app"]
    ratio = data["ratio"]

    def held(engine: JSON) -> str:
        steps = [s for s in engine["steps"] if s["sessions"] == engine["max_sessions"]]
        p99 = steps[-1]["commit_to_transcript_ms"]["p99"] if steps else None
        more = f", fails at {engine['first_failure']}" if engine["first_failure"] else ""
        return f"{engine['max_sessions']} sessions (p99 {p99} ms{more})"

    return [
        (
            "Capacity, bare python-socketio + aiohttp server: most real-time sessions (20 ms"
            " chunks, a commit every 2 s) with p99 commit -> transcript < 50 ms",
            held(bare),
            "(reference)",
            "—",
            machine,
            date,
        ),
        (
            "Capacity, our server (instant in-process fake providers; both servers with `tune_gc`)",
            f"{held(app)}; **{ratio}x** the bare engine",
            f">= {data['target_ratio']}x the bare engine",
            _meets(ratio is not None and ratio >= data["target_ratio"]),
            machine,
            date,
        ),
    ]


def capacity_vad_rows(run: JSON) -> list[Row]:
    data = run["result"]
    machine, date = _stamp(run)
    off, on = data["app"], data["vad"]

    def held(engine: JSON) -> str:
        steps = [s for s in engine["steps"] if s["sessions"] == engine["max_sessions"]]
        p99 = steps[-1]["commit_to_transcript_ms"]["p99"] if steps else None
        more = f", fails at {engine['first_failure']}" if engine["first_failure"] else ""
        return f"{engine['max_sessions']} sessions (p99 {p99} ms{more})"

    held_cost = data["at_most_held"]
    with_vad, without = held_cost["with_vad"], held_cost["without_vad"]
    cpu = (
        f"; server CPU per session there: {with_vad['server_cpu_ms_per_session_s']} ms/s with"
        f" VAD (its worker thread {with_vad.get('vad_worker_cpu_ms_per_session_s')} ms/s),"
        f" {without['server_cpu_ms_per_session_s']} ms/s without"
        if with_vad and without
        else ""
    )
    return [
        (
            "Capacity with server VAD on every session (`turnDetection: server_vad`; the same"
            " real-time Senders, quiet noise VAD hears no speech in, manual commits every 2 s),"
            " next to our server without VAD in the same run",
            f"{held(on)}; without VAD {held(off)}: **{data['ratio']}x**{cpu};"
            f" {data['speech_started']} turns started by VAD",
            f">= {data['target_sessions']} sessions",
            _meets(on["max_sessions"] >= data["target_sessions"]),
            machine,
            date,
        )
    ]


def latency_rows(run: JSON) -> list[Row]:
    data = run["result"]
    machine, date = _stamp(run)
    rows: list[Row] = []
    for row in data["rows"]:
        figures = row["commit_to_first_audio_ms"]
        bound = row["bound_ms"]
        target = (
            "— (waits for the whole reply by definition)"
            if row["mode"] == "single"
            else f"p95 <= {row['limit_ms']} ms (1.1x the critical path, at most +20 ms)"
        )
        literal = (
            f"; the issue's bound, {row['literal_bound_ms']} ms, is this mode's too"
            if row["mode"] == "stream"
            else f"; issue's bound {row['literal_bound_ms']} ms (see note)"
        )
        rows.append(
            (
                f"Commit -> first audio, `{row['mode']}`, {row['sessions']} session"
                f"{'s' if row['sessions'] > 1 else ''} (simulated providers)",
                f"p50 {figures['p50']} / p95 {figures['p95']} ms; critical path {bound} ms"
                f" (p95 x{row['p95_over_bound']}){literal}",
                target,
                _meets(row["meets_target"]),
                machine,
                date,
            )
        )
    return rows


def embedded_rows(run: JSON) -> list[Row]:
    data = run["result"]
    if "skipped" in data:
        return []
    machine, date = _stamp(run)
    rows: list[Row] = []
    for row in data["rows"]:
        transcript, audio = row["commit_to_transcript_ms"], row["commit_to_first_audio_ms"]
        two = row["two_second_utterance_first_audio_ms"]
        rows.append(
            (
                f"Embedded stack (`{row['mode']}`): commit -> transcript",
                f"p50 {transcript['p50']} / p95 {transcript['p95']} ms",
                "—",
                "—",
                machine,
                date,
            )
        )
        rows.append(
            (
                f"Embedded stack (`{row['mode']}`): commit -> first audio",
                f"p50 {audio['p50']} / p95 {audio['p95']} ms (all files); 2 s utterance"
                f" p50 {two['p50']} / p95 {two['p95']} ms",
                "< 250 ms for a 2 s utterance",
                _meets(two["p95"] is not None and two["p95"] < 250),
                machine,
                date,
            )
        )
    return rows


def memory_rows(run: JSON) -> list[Row]:
    data = run["result"]
    machine, date = _stamp(run)
    app, bare = data["app"], data["bare"]

    def kb(figures: JSON) -> float:
        return float(figures["kib_per_session"]) * 1024 / 1000

    idle_kb = kb(app["idle"])
    rows: list[Row] = [
        (
            f"Memory per idle session (Sender + Receiver; {app['idle']['sessions']} sessions)",
            f"{idle_kb:.0f} KB (bare engine {kb(bare['idle']):.0f} KB)",
            "< 200 KB",
            _meets(idle_kb < 200),
            machine,
            date,
        ),
        (
            f"Memory per streaming session ({app['streaming']['sessions']} sessions)",
            f"{kb(app['streaming']):.0f} KB (bare engine {kb(bare['streaming']):.0f} KB)",
            "—",
            "—",
            machine,
            date,
        ),
    ]
    for leak in data["turns"].values():
        growth = leak["growth"]
        total = leak["samples"][-1]["turns"]
        rows.append(
            (
                f"Memory over {total} turns ({leak['description']})",
                f"{growth['rss_kib']:+} KiB RSS, {growth['gc_objects']:+} live objects from"
                f" turn {growth['from_turn']} to {total}",
                "no growth",
                _meets(not growth["grows"]),
                machine,
                date,
            )
        )
        churn = leak.get("churn")
        if churn:
            objects = churn["settled"]["gc_objects"] - churn["before"]["gc_objects"]
            rss = churn["settled"]["rss_kib"] - churn["before"]["rss_kib"]
            rows.append(
                (
                    f"Memory after {churn['sessions']} sessions came, spoke once and left",
                    f"{rss:+} KiB RSS, {objects:+} live objects once the engine let go of"
                    f" the closed connections ({churn['settle_s']} s)",
                    "no growth",
                    _meets(objects <= 200),
                    machine,
                    date,
                )
            )
    return rows


def conversation_rows(run: JSON) -> list[Row]:
    """The targets of issue 14; every step is in bench/results/conversation-table.md."""
    data = run["result"]
    machine, date = _stamp(run)
    rows: list[Row] = []
    for step in data["steps"]:
        target = step.get("target_p95_ms")
        if target is None or step.get("pool") not in (None, "decoders=2"):
            continue
        audio, server = step["commit_to_first_audio_ms"], step["server"]
        sized = [
            s
            for s in data["steps"]
            if s["stack"] == step["stack"]
            and s["sessions"] == step["sessions"]
            and s.get("pool") not in (None, "decoders=2")
        ]
        also = (
            f"; one decoder per conversation: p95 {sized[0]['commit_to_first_audio_ms']['p95']} ms"
            if sized
            else ""
        )
        rows.append(
            (
                f"Conversations per core, {step['stack']}"
                f"{' (' + step['pool'] + ')' if step.get('pool') else ''}: {step['sessions']}"
                " conversations (1.5-2 s utterances in real time, listen to the reply), commit ->"
                " first audio",
                f"p50 {audio['p50']} / p95 {audio['p95']} ms; server {server['cpu']} cores"
                f" ({step['server_cpu_ms_per_conversation_s']} ms CPU per conversation-second),"
                f" load generator {step['generator_cpu']}, other work {step['other_processes_cpu']}"
                f"{also}",
                f"p95 < {target:g} ms",
                _meets(audio["p95"] is not None and audio["p95"] < target),
                machine,
                date,
            )
        )
    memory = data["memory"]["kib_per_conversation"]
    if memory:
        rows.append(
            (
                "Memory per conversation (Sender + Receiver, a turn in flight): slope of the"
                " server's RSS over conversations",
                "; ".join(f"{stack}: {kib / 1024:.2f} MiB" for stack, kib in memory.items()),
                "measured",
                "—",
                machine,
                date,
            )
        )
    return rows


def soak_rows(run: JSON) -> list[Row]:
    data = run["result"]
    machine, date = _stamp(run)
    samples = data["soak"]
    growth = settled_growth(samples)
    if not growth:
        return []
    rss = growth["rss_growth_kib_per_1000_turns"]
    return [
        (
            f"No growth over many turns: cloud stack, {data['sessions']} conversations,"
            f" {data['turns_done']} turns, server RSS after a full collection every"
            f" ~{samples[0]['turns']} turns",
            f"{samples[0]['rss_kib'] // 1024} -> {samples[-1]['rss_kib'] // 1024} MiB; from turn"
            f" {growth['growth_from_turn']} on {rss} KiB and"
            f" {growth['gc_objects_growth_per_1000_turns']} live objects per 1,000 turns",
            "no growth",
            _meets(rss < 50 and growth["gc_objects_growth_per_1000_turns"] < 100),
            machine,
            date,
        )
    ]


def sphinx_rows(run: JSON) -> list[Row]:
    data = run["result"]
    machine, date = _stamp(run)
    per = data["cpu_s_per_speech_s"]
    return [
        (
            "pocketsphinx CPU per second of speech: our `local` recogniser (20 ms chunks) next to"
            " pocketsphinx's own batch decoding of the same audio",
            f"ours {per['ours']} s, batch {per['batch']} s, batch fed 20 ms pieces"
            f" {per['pieces']} s -> **{data['ours_over_batch']}x** batch",
            "measured",
            "—",
            machine,
            date,
        )
    ]


BUILDERS: dict[str, Callable[[JSON], list[Row]]] = {
    "capacity": capacity_rows,
    "capacity-vad": capacity_vad_rows,
    "latency": latency_rows,
    "embedded": embedded_rows,
    "memory": memory_rows,
    "vad": vad_rows,
    "conversation": conversation_rows,
    "soak": soak_rows,
    "sphinx": sphinx_rows,
    "turns": turns_rows,
}


def latest_rows(names: list[str]) -> list[Row]:
    rows: list[Row] = []
    for name in names:
        run = read_json(name) or read_json(f"{name}.quick")
        if run is not None:
            rows.extend(BUILDERS[name](run))
    return rows


def markdown(rows: list[Row]) -> str:
    header = "| What | Figure | Target | Meets | Machine | Date |\n|---|---|---|---|---|---|\n"
    body = "".join(
        "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |\n" for row in rows
    )
    return header + body


def text_table(rows: list[Row]) -> str:
    lines = []
    for what, figure, target, meets, _machine, _date in rows:
        lines.append(f"- {what}\n    {figure}\n    target: {target}; meets: {meets.strip('*')}")
    return "\n".join(lines)


def write_markdown(rows: list[Row], machine_note: str) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / "README-table.md"
    path.write_text(
        "<!-- generated by `python -m bench`; the latest figures of each benchmark -->\n"
        + markdown(rows)
        + f"\n{machine_note}\n"
    )
    return path
