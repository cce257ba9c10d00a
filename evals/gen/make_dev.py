#!/usr/bin/env python3
"""Writes the labelled dev set for the detection evals: evals/dev/<session>.jsonl (one event per
line, the collector's shape) and evals/dev/labels.jsonl (one line per session).

Deterministic: each session's randomness is seeded from its id, and its clock starts at a fixed
instant in March 2026. Run from anywhere: `python3 evals/gen/make_dev.py`.

Layout of the generator:
- tracekit.py  the trace (clock, pids, events), the workspace model, and what commands do
- agents.py    the agent shapes (Claude Code, Gemini CLI, Codex, opencode, aider, a custom
               OpenAI-SDK agent, OpenHands, Cline): requests, tools, tool results, processes
- fixtures.py  the workspaces and the output of test runners
- s_loops.py, s_contradictions.py, s_drift.py, s_clean.py   the sessions, by family
"""

import json
import os
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import AGENTS, REGISTRY  # noqa: E402
from coverage import PATTERNS  # noqa: E402
from tracekit import Trace  # noqa: E402
import s_loops  # noqa: E402,F401
import s_contradictions  # noqa: E402,F401
import s_drift  # noqa: E402,F401
import s_clean  # noqa: E402,F401

OUT = os.path.normpath(os.path.join(HERE, "..", "dev"))
README = os.path.normpath(os.path.join(HERE, "..", "README.md"))
MARK_START, MARK_END = "<!-- coverage:start (written by make_dev.py) -->", "<!-- coverage:end -->"
BASE_NS = 1_772_438_400 * 10**9          # 2026-03-02T08:00:00Z
SLOT_NS = 37 * 60 * 10**9                # sessions start 37 minutes apart


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def build(index, sid, agent, fn):
    seed = zlib.crc32(sid.encode())
    tr = Trace(sid, agent, BASE_NS + index * SLOT_NS + (seed % 600) * 10**9 + seed % 999_983, seed)
    fn(tr)
    if tr.labels and tr.clean_note:
        raise ValueError(f"{sid}: labelled and clean")
    if not tr.labels and not tr.clean_note:
        raise ValueError(f"{sid}: neither labelled nor marked clean")
    return tr


def coverage_table(entries):
    """Pattern x agent shape: how many labels (or clean sessions) exercise each pattern."""
    rows = {}
    for e in entries:
        pats = PATTERNS.get(e["session"])
        if pats is None:
            raise ValueError(f"{e['session']}: no entry in coverage.PATTERNS")
        kinds = [l["kind"] for l in e["labels"]] or ["clean"]
        if sorted(kinds) != sorted(pats):
            raise ValueError(f"{e['session']}: coverage.PATTERNS has {sorted(pats)}, labels have {sorted(kinds)}")
        for kind in kinds:
            rows.setdefault((kind, pats[kind]), {}).setdefault(e["agent"], 0)
            rows[(kind, pats[kind])][e["agent"]] += 1
    order = {"loop": 0, "contradiction": 1, "persona_drift": 2, "clean": 3}
    short = {"claude-code": "claude", "gemini-cli": "gemini", "openai-chat": "oai-chat"}
    head = "| kind | pattern | " + " | ".join(short.get(a, a) for a in AGENTS) + " | total |"
    lines = [head, "|" + "---|" * (len(AGENTS) + 3)]
    for (kind, pat) in sorted(rows, key=lambda k: (order[k[0]], k[1])):
        cells = rows[(kind, pat)]
        lines.append(f"| {kind} | {pat} | " + " | ".join(str(cells.get(a, "")) for a in AGENTS) + f" | {sum(cells.values())} |")
    return "\n".join(lines)


def write_coverage(entries):
    if not os.path.exists(README):
        return
    text = open(README, encoding="utf-8").read()
    if MARK_START not in text or MARK_END not in text:
        return
    a, b = text.index(MARK_START) + len(MARK_START), text.index(MARK_END)
    text = text[:a] + "\n" + coverage_table(entries) + "\n" + text[b:]
    with open(README, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        if name.endswith(".jsonl"):
            os.remove(os.path.join(OUT, name))
    labels = []
    for index, (sid, agent, fn) in enumerate(REGISTRY):
        tr = build(index, sid, agent, fn)
        name = f"{sid}.jsonl"
        with open(os.path.join(OUT, name), "w", encoding="utf-8") as f:
            for ev in tr.events:
                f.write(dumps(ev) + "\n")
        entry = {"file": name, "session": sid, "agent": agent, "clean": not tr.labels, "labels": tr.labels}
        if tr.clean_note:
            entry["note"] = tr.clean_note
        labels.append(entry)
    with open(os.path.join(OUT, "labels.jsonl"), "w", encoding="utf-8") as f:
        for entry in labels:
            f.write(dumps(entry) + "\n")
    coverage_table(labels)
    write_coverage(labels)
    print(f"wrote {len(labels)} sessions to {OUT}")


if __name__ == "__main__":
    main()
