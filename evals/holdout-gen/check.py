#!/usr/bin/env python3
"""Validates the held-out set: every trace parses and has the collector's event shape, time only
moves forward, processes exit after their own execs and forks, tool results answer calls that
were made, labels point at turns that exist, ids are unique.

    python3 evals/holdout-gen/check.py [dir]      (exit 1 and a list of problems when invalid)
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "holdout")

FLAGS = {
    0: "O_RDONLY", 2: "O_RDWR", 65: "O_WRONLY|O_CREAT", 193: "O_WRONLY|O_CREAT|O_EXCL", 194: "O_RDWR|O_CREAT|O_EXCL",
    577: "O_WRONLY|O_CREAT|O_TRUNC", 1089: "O_WRONLY|O_CREAT|O_APPEND", 2050: "O_RDWR|O_NONBLOCK", 2369: "O_WRONLY|O_CREAT|O_NOCTTY|O_NONBLOCK",
    524288: "O_RDONLY|O_CLOEXEC", 524290: "O_RDWR|O_CLOEXEC", 524354: "O_RDWR|O_CREAT|O_CLOEXEC",
    524481: "O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC", 524482: "O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC",
    524865: "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC", 525377: "O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC",
    591872: "O_RDONLY|O_NONBLOCK|O_DIRECTORY|O_CLOEXEC",
}
ERRNO = {"EPERM": -1, "ENOENT": -2, "ENXIO": -6, "EACCES": -13, "EEXIST": -17, "EISDIR": -21, "EROFS": -30, "ENOTEMPTY": -39,
         "ENETUNREACH": -101, "ETIMEDOUT": -110, "ECONNREFUSED": -111, "EINPROGRESS": -115}
COMMON = {"ts_ns": int, "session": str, "pid": int, "tid": int, "ppid": int, "comm": str, "kind": str}
KINDS = {"exec", "fork", "exit", "file", "connect", "llm_call"}
PROVIDERS = {"anthropic": {"messages"}, "openai": {"chat", "responses"}, "google": {"gemini"}, "unknown": {"chat", "responses"}}
SHAPES = {"claude-code", "gemini-cli", "codex", "opencode", "aider", "custom-python", "openhands", "cline", "copilot-agent", "continue-agent"}
TERMINAL_TOOLS = {"finish", "attempt_completion"}


class Problems(list):
    def add(self, where, what):
        self.append(f"{where}: {what}")


def check_call(ev, where, P):
    for k, t in [("provider", str), ("api", str), ("url", str), ("request", dict), ("response", dict), ("stream", bool), ("status", int), ("latency_ms", (int, float))]:
        if not isinstance(ev.get(k), t):
            P.add(where, f"llm_call field {k} missing or mistyped")
            return
    if ev["api"] not in PROVIDERS.get(ev["provider"], set()):
        P.add(where, f"provider {ev['provider']} with api {ev['api']}")
    if not ev["url"].startswith("https://"):
        P.add(where, "url is not https")
    req, resp = ev["request"], ev["response"]
    if not isinstance(req.get("messages"), list):
        P.add(where, "request.messages missing")
        return
    made = {}
    for i, m in enumerate(req["messages"]):
        if not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            P.add(where, f"message {i} without role/content")
            continue
        for tc in m.get("tool_calls", []):
            if not isinstance(tc.get("id"), str) or not isinstance(tc.get("name"), str) or not isinstance(tc.get("arguments"), dict):
                P.add(where, f"message {i}: malformed tool call")
                continue
            if m["role"] != "assistant":
                P.add(where, f"message {i}: tool calls in a {m['role']} message")
            made[tc["id"] or tc["name"]] = tc
        if m["role"] == "tool":
            cid = m.get("tool_call_id")
            if not cid or cid not in made:
                P.add(where, f"message {i}: tool result for {cid!r}, a call never made")
            else:
                if made[cid]["id"]:
                    del made[cid]
        elif "tool_call_id" in m:
            P.add(where, f"message {i}: tool_call_id on a {m['role']} message")
    for t in req.get("tools", []):
        if not isinstance(t.get("name"), str):
            P.add(where, "tool without a name")
    if not isinstance(resp.get("text"), str):
        P.add(where, "response.text missing")
    for tc in resp.get("tool_calls", []):
        if not isinstance(tc.get("id"), str) or not isinstance(tc.get("name"), str) or not isinstance(tc.get("arguments"), dict):
            P.add(where, "response: malformed tool call")
        if ev["provider"] == "google" and tc.get("id"):
            P.add(where, "gemini tool call with an id")
        if ev["provider"] == "anthropic" and not str(tc.get("id", "")).startswith("toolu_"):
            P.add(where, "anthropic tool call id without toolu_")
    u = ev.get("usage")
    if not isinstance(u, dict) or not isinstance(u.get("input_tokens"), int) or not isinstance(u.get("output_tokens"), int):
        P.add(where, "usage missing")


def check_trace(path, sid, P):
    name = os.path.basename(path)
    events = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            try:
                events.append((n, json.loads(line)))
            except json.JSONDecodeError as e:
                P.add(f"{name}:{n}", f"not JSON ({e})")
    last_ts = 0
    procs = {}  # pid -> {"exited": bool, "ppid"}
    forked = {}
    calls = []
    ids = set()
    for n, ev in events:
        where = f"{name}:{n}"
        for k, t in COMMON.items():
            if not isinstance(ev.get(k), t):
                P.add(where, f"field {k} missing or not {t.__name__}")
        if ev.get("session") != sid:
            P.add(where, f"session {ev.get('session')!r}, labels say {sid!r}")
        ts = ev.get("ts_ns", 0)
        if ts <= last_ts:
            P.add(where, "ts_ns does not increase")
        if not (1767225600_000000000 <= ts < 1798761600_000000000):
            P.add(where, "ts_ns outside 2026")
        last_ts = ts
        eid = f"{ts}-{ev.get('tid')}-{ev.get('kind')}"
        if eid in ids:
            P.add(where, "duplicate event id")
        ids.add(eid)
        if len(ev.get("comm", "").encode()) > 15:
            P.add(where, f"comm {ev['comm']!r} longer than 15 bytes")
        kind = ev.get("kind")
        if kind not in KINDS:
            P.add(where, f"unknown kind {kind}")
            continue
        pid = ev["pid"]
        st = procs.get(pid)
        if st and st["exited"]:
            P.add(where, f"event of pid {pid} after its exit")
        if st is None:
            st = procs[pid] = {"exited": False, "ppid": ev["ppid"]}
            if pid in forked and forked[pid] != ev["ppid"]:
                P.add(where, f"pid {pid} forked by {forked[pid]} but its ppid is {ev['ppid']}")
        if kind == "exec":
            for k, t in [("filename", str), ("argv", list), ("cwd", str), ("uid", int), ("argv_bytes", int)]:
                if not isinstance(ev.get(k), t):
                    P.add(where, f"exec field {k} missing")
            if isinstance(ev.get("argv"), list) and ev.get("argv_bytes") != sum(len(a.encode()) + 1 for a in ev["argv"]):
                P.add(where, "argv_bytes is not the sum of len+1 of argv")
            if not str(ev.get("cwd", "")).startswith("/"):
                P.add(where, "exec cwd not absolute")
        elif kind == "fork":
            c = ev.get("child_pid")
            if not isinstance(c, int):
                P.add(where, "fork without child_pid")
            elif c in procs or c in forked:
                P.add(where, f"fork of pid {c}, already seen")
            else:
                forked[c] = pid
        elif kind == "exit":
            for k in ("exit_code", "signal", "duration_ns"):
                if not isinstance(ev.get(k), int):
                    P.add(where, f"exit field {k} missing")
            st["exited"] = True
        elif kind == "file":
            op = ev.get("op")
            if op not in ("open", "write", "unlink", "rmdir", "rename", "mkdir"):
                P.add(where, f"file op {op!r}")
            if not str(ev.get("path", "")).startswith("/"):
                P.add(where, "file path not absolute")
            res = ev.get("result")
            if not isinstance(res, int):
                P.add(where, "file result missing")
            elif res < 0:
                if ERRNO.get(ev.get("error")) != res:
                    P.add(where, f"result {res} with error {ev.get('error')!r}")
            elif "error" in ev:
                P.add(where, "error on a successful op")
            if op == "open":
                if FLAGS.get(ev.get("flags")) != ev.get("flags_text"):
                    P.add(where, f"flags {ev.get('flags')} spelled {ev.get('flags_text')!r}")
                if isinstance(res, int) and res >= 0 and ev.get("fd") != res:
                    P.add(where, "open fd differs from result")
            if op == "write":
                for k in ("bytes", "writes", "fd"):
                    if not isinstance(ev.get(k), int):
                        P.add(where, f"write without {k}")
            if op == "rename" and not str(ev.get("new_path", "")).startswith("/"):
                P.add(where, "rename without an absolute new_path")
        elif kind == "connect":
            if ev.get("family") not in ("inet", "inet6", "unix"):
                P.add(where, f"family {ev.get('family')!r}")
            if not isinstance(ev.get("addr"), str) or not isinstance(ev.get("port"), int):
                P.add(where, "connect addr/port missing")
            res = ev.get("result")
            if not isinstance(res, int) or (res < 0 and ERRNO.get(ev.get("error")) != res) or (res >= 0 and "error" in ev):
                P.add(where, f"connect result {res} with error {ev.get('error')!r}")
        elif kind == "llm_call":
            check_call(ev, where, P)
            calls.append((where, ev))
    # a thread id is never another process's pid
    pids = {ev.get("pid") for _, ev in events}
    for n, ev in events:
        if ev.get("tid") != ev.get("pid") and ev.get("tid") in pids:
            P.add(f"{name}:{n}", f"tid {ev.get('tid')} is also a process id")
    # a call's tool calls come back in a later request (unless the session ends there or the tool ends the run)
    for i, (where, ev) in enumerate(calls):
        tcs = ev["response"].get("tool_calls", [])
        if not tcs or i == len(calls) - 1 or all(t["name"] in TERMINAL_TOOLS for t in tcs):
            continue
        key = [(t["id"], t["name"], json.dumps(t["arguments"], sort_keys=True)) for t in tcs]
        seen = False
        for _, later in calls[i + 1:]:
            for m in later["request"]["messages"]:
                if [(t["id"], t["name"], json.dumps(t["arguments"], sort_keys=True)) for t in m.get("tool_calls", [])] == key:
                    seen = True
                    break
            if seen:
                break
        if not seen:
            P.add(where, "tool calls of this response never come back in a later request")
    return len(calls)


def main():
    P = Problems()
    lpath = os.path.join(DIR, "labels.jsonl")
    seen_sessions, seen_files = set(), set()
    rows = []
    with open(lpath, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            where = f"labels.jsonl:{n}"
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                P.add(where, f"not JSON ({e})")
                continue
            for k, t in [("file", str), ("session", str), ("agent", str), ("clean", bool), ("labels", list), ("note", str)]:
                if not isinstance(r.get(k), t):
                    P.add(where, f"field {k} missing or mistyped")
            if not r.get("session", "").startswith("ho-"):
                P.add(where, "session id without the ho- prefix")
            if r.get("session") in seen_sessions:
                P.add(where, f"duplicate session {r.get('session')}")
            if r.get("file") in seen_files:
                P.add(where, f"duplicate file {r.get('file')}")
            if r.get("agent") not in SHAPES:
                P.add(where, f"agent {r.get('agent')!r}")
            seen_sessions.add(r.get("session"))
            seen_files.add(r.get("file"))
            if r.get("clean") and r.get("labels"):
                P.add(where, "clean session with labels")
            if r.get("clean") is False and not r.get("labels"):
                P.add(where, "session not clean but without labels")
            rows.append((where, r))
    on_disk = {f for f in os.listdir(DIR) if f.endswith(".jsonl") and f != "labels.jsonl"}
    for f in sorted(on_disk - seen_files):
        P.add(f, "trace without a labels line")
    counts = {}
    for where, r in rows:
        path = os.path.join(DIR, r["file"])
        if not os.path.exists(path):
            P.add(where, f"{r['file']} does not exist")
            continue
        nturns = check_trace(path, r["session"], P)
        if not 3 <= nturns <= 18:
            P.add(where, f"{nturns} turns (3 to 18 expected)")
        for l in r["labels"]:
            if l.get("kind") not in ("loop", "contradiction", "persona_drift"):
                P.add(where, f"label kind {l.get('kind')!r}")
            t = l.get("turns")
            if not (isinstance(t, list) and len(t) == 2 and all(isinstance(x, int) for x in t) and 1 <= t[0] <= t[1] <= nturns):
                P.add(where, f"label turns {t} outside 1..{nturns}")
            if not l.get("note"):
                P.add(where, "label without a note")
            counts[l.get("kind")] = counts.get(l.get("kind"), 0) + 1
    if P:
        print("\n".join(P))
        print(f"{len(P)} problems")
        sys.exit(1)
    clean = sum(1 for _, r in rows if r["clean"])
    print(f"ok: {len(rows)} sessions ({clean} clean), labels {dict(sorted(counts.items()))}")


if __name__ == "__main__":
    main()
