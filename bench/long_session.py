#!/usr/bin/env python3
"""bench/long_session.py: storage and ingest cost of long agent sessions against what is new.

Generates Claude Code-shaped sessions of 100, 300 and 1,000 turns (TURNS="100 300" to choose):
a first request of ~77 KB (system prompt and tools), then per turn an assistant message with a
tool call, a ~3 KB tool result, and the kernel events of the command it ran (exec, file reads and
a write, exit). Every request resends the whole conversation, as agents do, so the trace written
by a recorder that keeps requests whole grows with the square of the turns; AgentSight compacts
each request to what is new (`model::conversation`), in the collector and again on `ingest`.

For each length it writes two traces:
  full     every request whole (what an agent sends; what a trace recorded before compaction, or
           by another tool, holds)
  compact  the same session as AgentSight's collector writes it now: each request continues
           the previous one (`request.extends`) and holds only its new messages. Written here
           in that format; the bench checks that ingesting it stores exactly what ingesting the
           full trace stores (the same windows.log, byte for byte), so it is what compaction makes.
and ingests each with the release binary, printing side by side: trace bytes, data-dir bytes
(index + windows.log), ingest seconds and peak RSS, against the bytes of new content (new
messages + kernel events).

Targets (issue 11): data dir <= 3x (new content + kernel events) at every length; ingest time
and RSS linear in new content; the 1,000-turn session ingested in <= 10 s with <= 300 MiB RSS.

Run from the repository root:  python3 bench/long_session.py   (builds the release binary
unless AGENTSIGHT=/path/to/agentsight is given; needs ~2 GB of free disk for 1,000 turns).
"""

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TURNS = [int(t) for t in os.environ.get("TURNS", "100 300 1000").split()]
T0 = 1_800_000_000_000_000_000
SESSION = "long-bench"
AGENT_PID = 4000


def filler(n, seed):
    """n bytes of varied, word-like text (so the index sees realistic terms)."""
    words = ["parser", "token", "buffer", "retry", "schema", "module", "request", "handler",
             "config", "index", "window", "thread", "socket", "stream", "commit", "branch"]
    out, i = [], seed
    size = 0
    while size < n:
        w = f"{words[i % len(words)]}{i % 997}"
        out.append(w)
        size += len(w) + 1
        i = i * 1103515245 + 12345 & 0x7FFFFFFF
    return " ".join(out)[:n]


def tools():
    return [{"name": f"Tool{i}", "description": filler(2_000, i), "parameters": {"type": "object", "properties": {"arg": {"type": "string", "description": filler(1_400, i + 50)}}}} for i in range(16)]


def kernel_events(t, ts):
    """The events of turn t's command: fork, exec, a few reads, a write, exit."""
    pid = 10_000 + t
    base = {"session": SESSION, "ppid": AGENT_PID}
    evs = [
        {**base, "ts_ns": ts, "pid": AGENT_PID, "tid": AGENT_PID, "ppid": 1, "comm": "claude", "kind": "fork", "child_pid": pid},
        {**base, "ts_ns": ts + 1000, "pid": pid, "tid": pid, "comm": "bash", "kind": "exec", "filename": "/usr/bin/bash",
         "argv": ["bash", "-c", f"make test STEP={t}"], "cwd": "/work/project", "uid": 1000, "argv_bytes": 30},
    ]
    for k in range(4):
        evs.append({**base, "ts_ns": ts + 2000 + k, "pid": pid, "tid": pid, "comm": "bash", "kind": "file", "op": "open",
                    "path": f"/work/project/src/module{(t + k) % 50}.py", "flags": 0, "result": 3})
    evs.append({**base, "ts_ns": ts + 3000, "pid": pid, "tid": pid, "comm": "bash", "kind": "file", "op": "write",
                "path": f"/work/project/build/out{t}.log", "bytes": 2048, "writes": 1, "result": 2048})
    evs.append({**base, "ts_ns": ts + 4000, "pid": pid, "tid": pid, "comm": "bash", "kind": "exit", "exit_code": t % 3 == 0 and 1 or 0,
                "signal": 0, "duration_ns": 3000})
    return evs


def llm_call(ts, request, t):
    text = f"Step {t}: running the tests again after the change to module{t % 50}."
    call = {"id": f"toolu_{t:05d}", "name": "Bash", "arguments": {"command": f"make test STEP={t}", "description": "Run the tests"}}
    ev = {"ts_ns": ts, "session": SESSION, "pid": AGENT_PID, "tid": AGENT_PID, "ppid": 1, "comm": "claude", "kind": "llm_call",
          "provider": "anthropic", "api": "messages", "url": "https://api.anthropic.com/v1/messages", "model": "claude-sonnet-4-5",
          "request": request, "response": {"text": text, "tool_calls": [call], "stop_reason": "tool_use"},
          "usage": {"input_tokens": 1000 + t * 800, "output_tokens": 60}, "stream": True, "status": 200, "latency_ms": 900.0}
    return ev, text, call


def write_traces(turns, full_path, compact_path):
    """Both traces; returns (new content bytes, kernel event bytes)."""
    system = filler(20_000, 7)
    tool_list = tools()
    messages = [{"role": "user", "content": "Please fix the failing tests in the parser module. " + filler(500, 3)}]
    new_bytes = len(json.dumps(messages[0])) + len(system) + len(json.dumps(tool_list))
    kernel_bytes = 0
    prev_id, prev_len = None, 0
    with open(full_path, "w") as full, open(compact_path, "w") as compact:
        for t in range(turns):
            ts = T0 + t * 10_000_000_000
            ev, text, call = llm_call(ts, {"system": system, "messages": messages, "tools": tool_list}, t)
            full.write(json.dumps(ev) + "\n")
            if prev_id is None:
                compact.write(json.dumps(ev) + "\n")
            else:
                slim = dict(ev, request={"messages": messages[prev_len:], "extends": {"event": prev_id, "messages": prev_len, "tools": len(tool_list)}})
                compact.write(json.dumps(slim) + "\n")
            prev_id, prev_len = f"{ts}-{AGENT_PID}-llm_call", len(messages)
            for k in kernel_events(t, ts + 1_000_000_000):
                line = json.dumps(k) + "\n"
                kernel_bytes += len(line)
                full.write(line)
                compact.write(line)
            added = [{"role": "assistant", "content": text, "tool_calls": [call]},
                     {"role": "tool", "tool_call_id": call["id"], "content": "FAILED test_parser.py::test_" + filler(3_000, t)}]
            new_bytes += sum(len(json.dumps(m)) for m in added)
            messages = messages + added
    return new_bytes, kernel_bytes


def dir_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


def ingest(binary, trace, data):
    start = time.monotonic()
    pid = os.spawnv(os.P_NOWAIT, binary, [binary, "ingest", trace, "--data", data, "--quiet"])
    _, status, usage = os.wait4(pid, 0)
    seconds = time.monotonic() - start
    if status != 0:
        sys.exit(f"bench: ingest of {trace} failed ({status})")
    return seconds, usage.ru_maxrss / 1024


def main():
    binary = os.environ.get("AGENTSIGHT")
    if not binary:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "agentsight"], cwd=ROOT, check=True)
        binary = os.path.join(ROOT, "target/release/agentsight")
    rows = []
    with tempfile.TemporaryDirectory(prefix="long-session-") as tmp:
        for turns in TURNS:
            full, compact = os.path.join(tmp, f"full-{turns}.jsonl"), os.path.join(tmp, f"compact-{turns}.jsonl")
            new_bytes, kernel_bytes = write_traces(turns, full, compact)
            logs = {}
            for kind, trace in (("full", full), ("compact", compact)):
                data = os.path.join(tmp, f"data-{kind}-{turns}")
                seconds, rss = ingest(binary, trace, data)
                size = dir_bytes(data)
                with open(os.path.join(data, "windows.log"), "rb") as f:
                    logs[kind] = f.read()
                log = os.path.getsize(os.path.join(data, "windows.log"))
                rows.append((turns, kind, os.path.getsize(trace), size, log, seconds, rss, new_bytes, kernel_bytes))
                shutil.rmtree(data)
            if logs["full"] != logs["compact"]:
                sys.exit(f"bench: {turns} turns: the full and the compact trace stored different windows")
            os.remove(full)
            os.remove(compact)
    mib = 1 << 20
    print("| turns | trace | trace MiB | new content + kernel MiB | data dir MiB | of it windows.log MiB | data dir / new | ingest s | peak RSS MiB |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for turns, kind, trace, size, log, seconds, rss, new_bytes, kernel_bytes in rows:
        new = new_bytes + kernel_bytes
        print(f"| {turns} | {kind} | {trace / mib:.1f} | {new / mib:.2f} | {size / mib:.2f} | {log / mib:.2f} | {size / new:.2f}x | {seconds:.2f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
