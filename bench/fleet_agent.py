#!/usr/bin/env python3
"""The workload of one collector in bench/fleet.sh: an agent-shaped process.

    fleet_agent.py LLM_PORT EVENTS_PER_S SECONDS WORKDIR

Every second it makes one LLM call (plaintext HTTP, OpenAI Chat Completions, to the local
scripted server: a turn), runs two commands (`/bin/true`: fork, exec, the loader's opens, exit)
and opens project files to make up EVENTS_PER_S kernel events in all, paced evenly.
"""
import json
import os
import sys
import time
import urllib.request

port, rate, seconds, workdir = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
os.makedirs(workdir, exist_ok=True)
files = []
for i in range(50):
    path = os.path.join(workdir, f"module{i}.py")
    with open(path, "w") as f:
        f.write(f"x = {i}\n")
    files.append(path)

# What one second's calls and commands cost in events, roughly; file opens make up the rest.
opens_per_s = max(rate - 40, 0)
messages = [{"role": "user", "content": "Fix the failing tests."}]
start = time.monotonic()
n = 0
second = 0
while time.monotonic() - start < seconds:
    body = json.dumps({"model": "fleet-model", "messages": messages[-6:], "stream": False}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body,
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer sk-fleet"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            reply = json.load(r)["choices"][0]["message"].get("content") or ""
    except Exception as e:  # the bench counts what the collector saw, not what succeeded
        reply = f"error {e}"
    messages += [{"role": "assistant", "content": reply}, {"role": "user", "content": f"step {second}"}]
    for _ in range(2):
        pid = os.posix_spawn("/bin/true", ["true"], os.environ)
        os.waitpid(pid, 0)
    # The rest of the second: file opens, evenly paced.
    tick = start + second + 1
    for k in range(opens_per_s):
        due = start + second + (k + 1) / (opens_per_s + 1)
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        fd = os.open(files[n % len(files)], os.O_RDONLY)
        os.close(fd)
        n += 1
    now = time.monotonic()
    if tick > now:
        time.sleep(tick - now)
    second += 1
