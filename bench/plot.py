"""How cost grows with conversations: the conversation benchmark's table (Markdown) and plot (PNG).

The PNG goes to bench/results/conversation.png and to bench/figures/conversation.png, which is
tracked so that the README can show it. matplotlib comes with the ``bench`` extra.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bench.common import JSON, RESULTS_DIR

FIGURES_DIR = Path(__file__).resolve().parent / "figures"


def _label(step: JSON) -> str:
    pool = step.get("pool")
    return str(step["stack"]) + (f" ({pool})" if pool else "")


def _series(step: JSON) -> str:
    """Plot series: the default decoder pool, or one decoder per conversation."""
    pool = step.get("pool")
    if not pool:
        return str(step["stack"])
    return "default pool (2)" if pool == "decoders=2" else "a decoder per conversation"


def _quietest(steps: list[JSON]) -> list[JSON]:
    """One step per (series, conversations): the one that ran next to the least other work."""
    chosen: dict[tuple[str, int], JSON] = {}
    for step in steps:
        key = (_series(step), step["sessions"])
        if key not in chosen or step["other_processes_cpu"] < chosen[key]["other_processes_cpu"]:
            chosen[key] = step
    return list(chosen.values())


def conversation_table(run: JSON) -> str:
    """One line per step: latency, the server's CPU and memory, the load generator's CPU."""
    header = (
        "| Stack | Conversations | Commit → first audio p50 / p95 (ms) | Target p95"
        " | Commit → transcript p50 / p95 (ms) | Server CPU (cores) | Server CPU per"
        " conversation (ms/s) | Server RSS (MiB) | Load generator / fake CPU | Other work (cores)"
        " |\n|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for step in run["result"]["steps"]:
        audio, text = step["commit_to_first_audio_ms"], step["commit_to_transcript_ms"]
        target = step.get("target_p95_ms")
        met = ""
        if step.get("errors"):
            met = f" ✗ ({sum(step['errors'].values())} errors)"
        elif target is not None and audio["p95"] is not None:
            met = " ✓" if audio["p95"] < target else " ✗"
        lines.append(
            f"| {_label(step)} | {step['sessions']} | {audio['p50']} / {audio['p95']}"
            f" | {f'< {target:g}{met}' if target else '—'} | {text['p50']} / {text['p95']}"
            f" | {step['server']['cpu']} | {step['server_cpu_ms_per_conversation_s']}"
            f" | {step['server']['rss_kib'] // 1024} | {step['generator_cpu']} /"
            f" {step['fake_cpu']} | {step['other_processes_cpu']} |"
        )
    return header + "\n".join(lines) + "\n"


def write_conversation_plot(run: JSON) -> Path | None:
    """p95 commit -> first audio and the server's CPU per conversation against conversations,
    one panel per stack; None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    steps = _quietest(run["result"]["steps"])
    stacks = ["embedded", "cloud"]
    figure, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for axis, stack in zip(axes, stacks, strict=True):
        cpu_axis = axis.twinx()
        series = sorted({_series(s) for s in steps if s["stack"] == stack}, reverse=True)
        for index, label in enumerate(series):
            points = sorted(
                (s["sessions"], s["commit_to_first_audio_ms"]["p95"], s)
                for s in steps
                if s["stack"] == stack
                and _series(s) == label
                and s["commit_to_first_audio_ms"]["p95"] is not None
            )
            if not points:
                continue
            xs = [p[0] for p in points]
            color = f"C{index}"
            axis.plot(
                xs, [p[1] for p in points], "o-", color=color, label=f"p95 first audio ({label})"
            )
            cpu_axis.plot(
                xs,
                [p[2]["server_cpu_ms_per_conversation_s"] for p in points],
                "s--",
                color=color,
                alpha=0.6,
                label=f"server CPU per conversation ({label})",
            )
        targets = sorted(
            (s["sessions"], s["target_p95_ms"])
            for s in steps
            if s["stack"] == stack and s.get("target_p95_ms")
        )
        if targets:
            axis.plot(
                [t[0] for t in targets],
                [t[1] for t in targets],
                "r_",
                markersize=22,
                markeredgewidth=3,
                label="target p95",
            )
        axis.set_yscale("log")
        axis.set_xlabel("conversations (server on one core)")
        axis.set_ylabel("commit → first audio p95 (ms, log)")
        cpu_axis.set_ylabel("server CPU per conversation (ms of CPU per s)")
        cpu_axis.set_ylim(bottom=0)
        axis.set_title(
            "embedded: local STT/LLM/TTS, stream"
            if stack == "embedded"
            else "cloud: every stage openai (loopback fake)"
        )
        handles = axis.get_legend_handles_labels()
        cpu_handles = cpu_axis.get_legend_handles_labels()
        axis.legend(
            handles[0] + cpu_handles[0], handles[1] + cpu_handles[1], fontsize=7, loc="upper left"
        )
        axis.grid(True, which="both", alpha=0.3)
    machine = run["machine"]["summary"]
    figure.suptitle(
        f"Conversations per core — {machine}, {run['date']}"
        f"{' (--quick)' if run.get('quick') else ''}; other work on the machine: see the table",
        fontsize=10,
    )
    figure.tight_layout()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / "conversation.png"
    figure.savefig(path, dpi=110)
    plt.close(figure)
    if not run.get("quick"):
        FIGURES_DIR.mkdir(exist_ok=True)
        shutil.copyfile(path, FIGURES_DIR / "conversation.png")
    return path
