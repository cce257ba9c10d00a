#!/usr/bin/env python3
"""Window closed -> webhook delivered, measured through a real `agentsight serve`.

Starts a webhook receiver (http.server) and `agentsight serve` with one webhook rule, then posts
N windows, each a fresh session in which `python3 build.py` fails 4 times (a `loop` finding),
one at a time at a steady rate, the way `collect --ship` sends a window the moment it closes.
Prints p50/p95/max of (webhook received) - (window posted).

    bench/webhook.py path/to/agentsight [N]
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

received = {}


class Hook(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        received.setdefault(body["session"], time.monotonic())
        self.send_response(200)
        self.end_headers()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def window(session, t0):
    events, ts, pid = [], t0, 1000

    def ev(kind, pid, **kw):
        nonlocal ts
        ts += 1_000_000
        events.append({"ts_ns": ts, "session": session, "pid": pid, "tid": pid, "ppid": 1, "comm": "python3", "kind": kind, **kw})

    for i in range(4):
        pid += 1
        ev("exec", pid, filename="/usr/bin/python3", argv=["python3", "build.py"], cwd="/work", uid=0, argv_bytes=18)
        ev("exit", pid, exit_code=2, signal=0, duration_ns=50_000_000)
    return {"window_id": f"{session}:0", "session": session, "seq": 0, "start_ns": events[0]["ts_ns"],
            "end_ns": events[-1]["ts_ns"], "events": events, "overlap_events": 0, "closed_by": "session_end"}


def main():
    binary = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    hook_port, port = free_port(), free_port()
    hook = ThreadingHTTPServer(("127.0.0.1", hook_port), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    data = tempfile.mkdtemp(prefix="as-bench-")
    cfg = os.path.join(data, "config.toml")
    with open(cfg, "w") as f:
        f.write(f'[[webhooks.rules]]\nname = "bench"\nurl = "http://127.0.0.1:{hook_port}/"\nkind = "loop"\nmin_score = 0.5\n')
    serve = subprocess.Popen([binary, "serve", "--data", os.path.join(data, "d"), "--config", cfg,
                              "--listen", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        posted = {}
        t0 = time.time_ns()
        for i in range(n):
            session = f"bench-{i}"
            body = json.dumps(window(session, t0 + i * 10**9)).encode()
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/windows", body, {"Content-Type": "application/json"})
            posted[session] = time.monotonic()
            urllib.request.urlopen(req, timeout=30).read()
            time.sleep(0.02)
        deadline = time.monotonic() + 30
        while len(received) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        lat = sorted((received[s] - posted[s]) * 1000 for s in posted if s in received)
        if not lat:
            print("no webhook arrived", file=sys.stderr)
            sys.exit(1)
        pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
        print(f"windows posted: {n}, webhooks received: {len(lat)}")
        print(f"window posted -> webhook delivered: p50 {pct(0.50):.1f} ms, p95 {pct(0.95):.1f} ms, max {lat[-1]:.1f} ms")
    finally:
        serve.terminate()
        serve.wait()


if __name__ == "__main__":
    main()
