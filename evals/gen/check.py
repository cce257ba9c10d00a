#!/usr/bin/env python3
"""Validates the dev set: every file parses, every event has the collector's fields for its kind,
time increases within a session, processes exit only after they were exec'd or forked, tool
results answer calls that were made, labels fit their sessions, and the set has the size and
mix it promises. Exits non-zero and lists the problems when anything is off.

    python3 evals/gen/check.py [evals/dev]
"""

import collections
import json
import os
import sys

AGENTS = {"claude-code", "gemini-cli", "codex", "opencode", "aider", "openai-chat", "openhands", "cline"}
KINDS = {"loop", "contradiction", "persona_drift"}
COMMON = {"ts_ns": int, "session": str, "pid": int, "tid": int, "ppid": int, "comm": str, "kind": str}
REQUIRED = {
    "exec": {"filename": str, "argv": list, "cwd": str, "uid": int, "argv_bytes": int},
    "fork": {"child_pid": int},
    "exit": {"exit_code": int, "signal": int, "duration_ns": int},
    "file": {"op": str, "path": str, "result": int},
    "connect": {"family": str, "addr": str, "port": int, "result": int},
    "llm_call": {"provider": str, "api": str, "url": str, "model": str, "request": dict, "response": dict,
                 "usage": dict, "stream": bool, "status": int, "latency_ms": (int, float)},
}
FILE_OPS = {"open", "write", "unlink", "rmdir", "rename", "mkdir"}
PROVIDERS = {"anthropic", "openai", "google", "unknown"}
APIS = {"messages", "chat", "responses", "gemini"}


class Checker:
    def __init__(self):
        self.problems = []

    def bad(self, where, msg):
        self.problems.append(f"{where}: {msg}")

    def fields(self, where, ev, spec):
        for k, t in spec.items():
            if k not in ev:
                self.bad(where, f"missing `{k}`")
            elif not isinstance(ev[k], t) or (t is int and isinstance(ev[k], bool)):
                self.bad(where, f"`{k}` has type {type(ev[k]).__name__}")

    def event(self, where, ev):
        self.fields(where, ev, COMMON)
        kind = ev.get("kind")
        if kind not in REQUIRED:
            self.bad(where, f"unknown kind {kind!r}")
            return
        self.fields(where, ev, REQUIRED[kind])
        if len(ev.get("comm", "").encode()) > 15:
            self.bad(where, f"comm {ev['comm']!r} longer than 15 bytes")
        if kind == "exec":
            want = sum(len(a.encode()) + 1 for a in ev.get("argv", []))
            if ev.get("argv_bytes") != want:
                self.bad(where, f"argv_bytes {ev.get('argv_bytes')} != {want}")
            if not ev.get("cwd", "").startswith("/"):
                self.bad(where, "cwd not absolute")
        elif kind == "file":
            op = ev.get("op")
            if op not in FILE_OPS:
                self.bad(where, f"file op {op!r}")
            if not ev.get("path", "").startswith("/"):
                self.bad(where, f"path not absolute: {ev.get('path')!r}")
            if op == "open" and ("flags" not in ev or "flags_text" not in ev):
                self.bad(where, "open without flags/flags_text")
            if op == "write":
                self.fields(where, ev, {"bytes": int, "writes": int, "fd": int})
            if op == "rename" and not ev.get("new_path", "").startswith("/"):
                self.bad(where, "rename without absolute new_path")
            if ev.get("result", 0) < 0 and "error" not in ev:
                self.bad(where, "negative result without error")
            if ev.get("result", 0) >= 0 and "error" in ev:
                self.bad(where, "error with a non-negative result")
        elif kind == "connect":
            if ev.get("family") not in ("inet", "inet6", "unix"):
                self.bad(where, f"family {ev.get('family')!r}")
            if ev.get("result", 0) < 0 and "error" not in ev:
                self.bad(where, "negative result without error")
        elif kind == "llm_call":
            if ev.get("provider") not in PROVIDERS:
                self.bad(where, f"provider {ev.get('provider')!r}")
            if ev.get("api") not in APIS:
                self.bad(where, f"api {ev.get('api')!r}")
            if not ev.get("url", "").startswith("https://"):
                self.bad(where, "url not https")
            req, resp = ev.get("request", {}), ev.get("response", {})
            if not isinstance(req.get("messages"), list) or not req["messages"]:
                self.bad(where, "request without messages")
            if "text" not in resp:
                self.bad(where, "response without text")
            u = ev.get("usage", {})
            if not isinstance(u.get("input_tokens"), int) or not isinstance(u.get("output_tokens"), int):
                self.bad(where, "usage tokens")
            for m in req.get("messages", []):
                if set(m) - {"role", "content", "tool_calls", "tool_call_id"} or "role" not in m or "content" not in m:
                    self.bad(where, f"message shape {sorted(m)}")
                for tc in m.get("tool_calls", []):
                    if set(tc) != {"id", "name", "arguments"}:
                        self.bad(where, f"tool call shape {sorted(tc)}")
            for tc in resp.get("tool_calls", []):
                if set(tc) != {"id", "name", "arguments"}:
                    self.bad(where, f"response tool call shape {sorted(tc)}")
            self.tool_results(where, ev)

    def tool_results(self, where, ev):
        """Every tool message answers a call made earlier in the same request: by id, or, for
        Gemini (empty ids), by the function name."""
        called_ids, called_names = set(), collections.Counter()
        for m in ev["request"].get("messages", []):
            if m["role"] == "assistant":
                for tc in m.get("tool_calls", []):
                    if tc["id"]:
                        called_ids.add(tc["id"])
                    else:
                        called_names[tc["name"]] += 1
            elif m["role"] == "tool":
                ref = m.get("tool_call_id")
                if not ref:
                    self.bad(where, "tool message without tool_call_id")
                elif ref in called_ids:
                    pass
                elif called_names[ref] > 0:
                    called_names[ref] -= 1
                else:
                    self.bad(where, f"tool result for {ref!r} answers no earlier call")

    def session(self, path, sid):
        where0 = os.path.basename(path)
        events = []
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                try:
                    events.append(json.loads(line))
                except ValueError as e:
                    self.bad(f"{where0}:{n}", f"not JSON: {e}")
        last_ts, born, llm = 0, set(), []
        for n, ev in enumerate(events, 1):
            where = f"{where0}:{n}"
            self.event(where, ev)
            if ev.get("session") != sid:
                self.bad(where, f"session {ev.get('session')!r} != {sid!r}")
            ts = ev.get("ts_ns", 0)
            if ts <= last_ts:
                self.bad(where, "ts_ns does not increase")
            last_ts = ts
            kind = ev.get("kind")
            if kind == "fork":
                born.add(ev.get("child_pid"))
            elif kind == "exec":
                born.add(ev.get("pid"))
            elif kind == "exit" and ev.get("pid") not in born:
                self.bad(where, f"exit of pid {ev.get('pid')} with no earlier exec or fork")
            elif kind == "llm_call":
                llm.append(ev)
        if events and not (2026 <= 1970 + events[0]["ts_ns"] // (365.2425 * 86400 * 10**9) < 2027):
            self.bad(where0, "timestamps not in 2026")
        self.answered(where0, llm)
        return events, llm

    def answered(self, where, llm):
        """A main-conversation call's tool calls are answered in the next request that carries
        them (side calls, with other system prompts, are skipped)."""
        for i, ev in enumerate(llm):
            calls = [tc for tc in ev["response"].get("tool_calls", []) if tc["id"]]
            if not calls:
                continue
            later = [e for e in llm[i + 1:] if e["request"].get("system") == ev["request"].get("system")]
            if not later:
                continue
            nxt = later[0]
            results = {m.get("tool_call_id") for m in nxt["request"]["messages"] if m["role"] == "tool"}
            made = {tc["id"] for m in nxt["request"]["messages"] if m["role"] == "assistant" for tc in m.get("tool_calls", [])}
            for tc in calls:
                if tc["id"] not in made:
                    self.bad(where, f"turn {i + 1}: call {tc['id']} missing from the next request's history")
                if tc["id"] not in results and tc["name"] not in ("finish", "attempt_completion"):
                    self.bad(where, f"turn {i + 1}: call {tc['id']} ({tc['name']}) has no result in the next request")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.normpath(os.path.join(here, "..", "dev"))
    ck = Checker()
    labels = []
    with open(os.path.join(d, "labels.jsonl"), encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                labels.append(json.loads(line))
            except ValueError as e:
                ck.bad(f"labels.jsonl:{n}", f"not JSON: {e}")
    files = sorted(x for x in os.listdir(d) if x.endswith(".jsonl") and x != "labels.jsonl")
    by_file = {}
    sids = collections.Counter(l.get("session") for l in labels)
    for s, c in sids.items():
        if c > 1:
            ck.bad("labels.jsonl", f"session {s} listed {c} times")
    for l in labels:
        by_file[l.get("file")] = l
    for x in files:
        if x not in by_file:
            ck.bad(x, "no line in labels.jsonl")
    stats = collections.Counter()
    per_agent = collections.defaultdict(collections.Counter)
    turns_hist = []
    for l in labels:
        where = f"labels.jsonl[{l.get('session')}]"
        if set(l) - {"file", "session", "agent", "clean", "labels", "note"}:
            ck.bad(where, f"unknown keys {sorted(set(l) - {'file', 'session', 'agent', 'clean', 'labels', 'note'})}")
        if l.get("agent") not in AGENTS:
            ck.bad(where, f"agent {l.get('agent')!r}")
        path = os.path.join(d, l.get("file", ""))
        if not os.path.exists(path):
            ck.bad(where, "file missing")
            continue
        events, llm = ck.session(path, l.get("session"))
        nturns = len(llm)
        turns_hist.append(nturns)
        if not 3 <= nturns <= 20:
            ck.bad(where, f"{nturns} llm turns (want 3..20)")
        if l.get("clean") != (not l.get("labels")):
            ck.bad(where, "clean must be true exactly when there are no labels")
        if l.get("clean") and not l.get("note"):
            ck.bad(where, "clean session without a note saying which hard negative it is")
        for lab in l.get("labels", []):
            if lab.get("kind") not in KINDS:
                ck.bad(where, f"label kind {lab.get('kind')!r}")
            t = lab.get("turns")
            if not (isinstance(t, list) and len(t) == 2 and all(isinstance(x, int) for x in t) and 1 <= t[0] <= t[1] <= nturns):
                ck.bad(where, f"turns {t} outside 1..{nturns}")
            if not lab.get("note"):
                ck.bad(where, "label without a note")
            stats[lab.get("kind")] += 1
            per_agent[l.get("agent")][lab.get("kind")] += 1
        stats["clean" if l.get("clean") else "positive"] += 1
        per_agent[l.get("agent")]["clean" if l.get("clean") else "sessions+"] += 1
    total = len(labels)
    if total < 100:
        ck.bad("set", f"{total} sessions (want at least 100)")
    share = stats["clean"] / total if total else 0
    if not 0.35 <= share <= 0.45:
        ck.bad("set", f"clean share {share:.2%} outside 35-45 %")
    long_ones = sum(1 for n in turns_hist if n >= 10)
    if long_ones < 15:
        ck.bad("set", f"only {long_ones} sessions with 10+ turns (want 15)")
    print(f"{total} sessions: {stats['clean']} clean ({share:.0%}), {stats['positive']} positive; "
          f"labels: {stats['loop']} loop, {stats['contradiction']} contradiction, {stats['persona_drift']} persona_drift; "
          f"{long_ones} sessions with 10+ turns")
    print(f"{'agent':<12} {'sessions':>8} {'clean':>6} {'loop':>5} {'contra':>7} {'drift':>6}")
    for a in sorted(per_agent):
        c = per_agent[a]
        print(f"{a:<12} {c['clean'] + c['sessions+']:>8} {c['clean']:>6} {c['loop']:>5} {c['contradiction']:>7} {c['persona_drift']:>6}")
    if ck.problems:
        print(f"\n{len(ck.problems)} problem(s):")
        for p in ck.problems[:200]:
            print("  " + p)
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
