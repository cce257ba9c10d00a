#!/usr/bin/env python3
"""Client and trace checker of bench/tls.sh's HTTP throughput part (bench/http_server.py).

One keep-alive connection, Python's http.client (the `ssl` module, so the system libssl for
https://), sequential requests; each result file gets the wall time of the loop alone (imports,
connection set-up and process exit excluded), the calls made and the payload bytes moved.

    http_client.py requests URL N RESULT.json
        N small chat completions ("question I"), non-streamed: requests per second.
    http_client.py upload URL SIZE N RESULT.json SHAS.txt
        N chat completions whose one user message is a fresh random lowercase hex string of SIZE
        bytes (made before the clock starts); SHAS.txt gets the sha256 of each.
    http_client.py download URL SIZE N RESULT.json SHAS.txt
        N streamed chat completions (`?stream=SIZE`) whose reply is SIZE characters in 4 KiB
        events; the client parses the server-sent events and joins the text as an SDK does;
        SHAS.txt gets the sha256 of each reply.
    http_client.py check TRACE WORKLOAD N SHAS.txt|- REPLY RESULT.json
        What the trace holds: one `llm_call` per request, status 200, not `incomplete`, and
        for requests the prompt and REPLY exact; for upload the prompt's sha256; for download
        `stream` true and the reply's sha256. `loss` events counted by reason.

The server's certificate is checked against SSL_CERT_FILE.
"""
import hashlib
import http.client
import json
import os
import ssl
import sys
import time
from urllib.parse import urlparse

PATH = "/v1/chat/completions"
HEADERS = {"content-type": "application/json", "authorization": "Bearer sk-bench-not-a-real-key"}
TABLE = bytes(b"0123456789abcdef"[b % 16] for b in range(256))


def connect(url):
    u = urlparse(url)
    if u.scheme == "https":
        return http.client.HTTPSConnection(u.hostname, u.port, context=ssl.create_default_context(), timeout=600), u.path
    return http.client.HTTPConnection(u.hostname, u.port, timeout=600), u.path


def body(content, stream=False):
    req = {"model": "bench", "messages": [{"role": "user", "content": content}]}
    if stream:
        req["stream"] = True
    return json.dumps(req).encode()


def post(conn, path, data):
    conn.request("POST", path, body=data, headers=HEADERS)
    resp = conn.getresponse()
    if resp.status != 200:
        raise SystemExit(f"http_client: status {resp.status}")
    return resp


def save(result, **fields):
    with open(result, "w") as f:
        json.dump(fields, f)


def requests(url, n, result):
    conn, base = connect(url)
    bodies = [body(f"question {i}") for i in range(n)]
    replies = set()
    start = time.monotonic()
    for b in bodies:
        replies.add(json.loads(post(conn, base + PATH, b).read())["choices"][0]["message"]["content"])
    wall = time.monotonic() - start
    save(result, wall_s=wall, calls=n, bytes=sum(len(b) for b in bodies), replies=sorted(replies))


def upload(url, size, n, result, shas):
    conn, base = connect(url)
    contents = [os.urandom(size).translate(TABLE).decode("ascii") for _ in range(n)]
    with open(shas, "w") as f:
        f.writelines(hashlib.sha256(s.encode()).hexdigest() + "\n" for s in contents)
    bodies = [body(s) for s in contents]
    del contents
    start = time.monotonic()
    for b in bodies:
        post(conn, base + PATH, b).read()
    wall = time.monotonic() - start
    save(result, wall_s=wall, calls=n, bytes=size * n)


def download(url, size, n, result, shas):
    conn, base = connect(url)
    data = body("stream me", stream=True)
    digests = []
    start = time.monotonic()
    for _ in range(n):
        resp = post(conn, f"{base}{PATH}?stream={size}", data)
        parts = []
        for line in resp.read().split(b"\n"):
            if line.startswith(b"data: {"):
                for choice in json.loads(line[6:])["choices"]:
                    parts.append(choice["delta"].get("content") or "")
        digests.append(hashlib.sha256("".join(parts).encode()).hexdigest())
    wall = time.monotonic() - start
    with open(shas, "w") as f:
        f.writelines(d + "\n" for d in digests)
    save(result, wall_s=wall, calls=n, bytes=size * n)


def check(trace, workload, n, shas, reply, result):
    want = []
    if shas != "-":
        with open(shas) as f:
            want = [line.strip() for line in f if line.strip()]
    calls = good = lost = 0
    reasons = {}
    bad = []
    seen = []
    with open(trace, "rb") as f:
        for line in f:
            if not line.strip():
                continue
            e = json.loads(line)
            kind = e.get("kind")
            if kind == "loss":
                lost += e.get("count", 0)
                why = e.get("reason", "?")
                reasons[why] = reasons.get(why, 0) + e.get("count", 0)
            if kind != "llm_call":
                continue
            calls += 1
            msgs = (e.get("request") or {}).get("messages") or []
            prompt = msgs[0].get("content", "") if msgs else ""
            text = (e.get("response") or {}).get("text") or ""
            ok = e.get("status") == 200 and not e.get("incomplete", False)
            if workload == "requests":
                ok = ok and text == reply and prompt == f"question {calls - 1}"
            elif workload == "upload":
                seen.append(hashlib.sha256(str(prompt).encode()).hexdigest())
                ok = ok and text == reply
            else:
                seen.append(hashlib.sha256(text.encode()).hexdigest())
                ok = ok and e.get("stream") is True
            good += ok
            if not ok and len(bad) < 3:
                bad.append({k: e.get(k) for k in ("status", "incomplete", "stream")}
                           | {"prompt": str(prompt)[:40], "text": text[:40]})
    if want:  # every payload sent or received, byte for byte, once
        remaining = list(want)
        exact = 0
        for h in seen:
            if h in remaining:
                remaining.remove(h)
                exact += 1
        good = min(good, exact)
    save(result, calls=calls, good=good, lost=lost, reasons=reasons, bad=bad,
         ok=calls == n and good == n and lost == 0)


def main():
    a = sys.argv[1:]
    if a[:1] == ["requests"] and len(a) == 4:
        requests(a[1], int(a[2]), a[3])
    elif a[:1] in (["upload"], ["download"]) and len(a) == 6:
        (upload if a[0] == "upload" else download)(a[1], int(a[2]), int(a[3]), a[4], a[5])
    elif a[:1] == ["check"] and len(a) == 7:
        check(a[1], a[2], int(a[3]), a[4], a[5], a[6])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
