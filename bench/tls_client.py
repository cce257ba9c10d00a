#!/usr/bin/env python3
"""Client and trace checker for bench/tls.sh (the Python `openai` SDK over real TLS).

    tls_client.py stream URL N RESULT.json
        N streamed chat completions, one client object, sequential; RESULT.json gets the
        wall time of the loop alone (imports, client set-up and process exit excluded).
    tls_client.py upload URL SIZE N RESULT.json SHAS.txt
        N non-streamed chat completions whose one user message is a fresh random ASCII string
        of SIZE bytes; RESULT.json gets the loop's wall time and the bytes sent, SHAS.txt the
        sha256 of every message sent, in order. The strings are made before the clock starts.
        They are lowercase hex: nothing JSON escapes, and nothing the collector's credential
        redaction could match (random letters, digits and '_' do form `hf_...` tokens, which
        the trace then rightly holds as `[REDACTED:huggingface-token]`).
    tls_client.py check-stream TRACE N REPLY RESULT.json
    tls_client.py check-upload TRACE SIZE SHAS.txt REPLY RESULT.json
        What the trace holds: llm_call events and whether they are the ones sent, loss events.

The server's certificate is checked against SSL_CERT_FILE (the SDK's httpx honours it).
"""
import hashlib
import json
import os
import sys
import time

MODEL = "gpt-4o-mini"
KEY = "sk-bench-not-a-real-key"


def client(url):
    import openai

    return openai.OpenAI(base_url=url, api_key=KEY, max_retries=0, timeout=600)


def stream(url, n, result):
    c = client(url)
    texts = []
    start = time.monotonic()
    for i in range(n):
        s = c.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": f"question {i}"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        texts.append("".join(ch.choices[0].delta.content or "" for ch in s if ch.choices))
    wall = time.monotonic() - start
    with open(result, "w") as f:
        json.dump({"wall_s": wall, "calls": n, "replies": sorted(set(texts))}, f)


ALPHABET = b"0123456789abcdef"
TABLE = bytes(ALPHABET[b % 16] for b in range(256))


def upload(url, size, n, result, shas):
    c = client(url)
    contents = [os.urandom(size).translate(TABLE).decode("ascii") for _ in range(n)]
    with open(shas, "w") as f:
        for s in contents:
            f.write(hashlib.sha256(s.encode()).hexdigest() + "\n")
    replies = []
    start = time.monotonic()
    for s in contents:
        r = c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": s}])
        replies.append(r.choices[0].message.content)
    wall = time.monotonic() - start
    with open(result, "w") as f:
        json.dump({"wall_s": wall, "calls": n, "bytes": size * n, "replies": sorted(set(replies))}, f)


def events(trace):
    with open(trace, "rb") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


def check_stream(trace, n, reply, result):
    calls = good = streamed = lost = 0
    bad = []
    for e in events(trace):
        kind = e.get("kind")
        if kind == "loss":
            lost += e.get("count", 0)
        if kind != "llm_call":
            continue
        calls += 1
        streamed += bool(e.get("stream"))
        text = (e.get("response") or {}).get("text")
        ok = e.get("stream") is True and not e.get("incomplete", False) and text == reply and e.get("status") == 200
        good += ok
        if not ok and len(bad) < 3:
            bad.append({k: e.get(k) for k in ("stream", "incomplete", "status")} | {"text": text})
    with open(result, "w") as f:
        json.dump({"calls": calls, "streamed": streamed, "good": good, "lost": lost, "bad": bad,
                   "ok": calls == n and good == n and lost == 0}, f)


def check_upload(trace, size, shas, reply, result):
    with open(shas) as f:
        sent = [line.strip() for line in f if line.strip()]
    calls = exact = complete = lost = wrong_len = 0
    reasons = {}
    lens = []  # (length in the trace, incomplete) of the first calls of the wrong length
    raw_reasons = {}  # calls the collector kept as raw text, by its reason
    seen = []
    for e in events(trace):
        kind = e.get("kind")
        if kind == "loss":
            lost += e.get("count", 0)
            reasons[e.get("reason", "?")] = reasons.get(e.get("reason", "?"), 0) + e.get("count", 0)
        if kind != "llm_call":
            continue
        calls += 1
        msgs = (e.get("request") or {}).get("messages") or []
        content = msgs[0].get("content", "") if msgs else ""
        if not isinstance(content, str):
            content = json.dumps(content)
        raw = content.encode()
        if len(raw) != size:
            wrong_len += 1
            if len(lens) < 5:
                lens.append([len(raw), bool(e.get("incomplete", False))])
        seen.append(hashlib.sha256(raw).hexdigest())
        if e.get("raw"):
            why = e["raw"].get("reason", "?")
            raw_reasons[why] = raw_reasons.get(why, 0) + 1
        text = (e.get("response") or {}).get("text")
        complete += not e.get("incomplete", False) and text == reply and e.get("status") == 200
    # every message sent is in the trace, byte for byte, once; and in the order sent
    remaining = list(sent)
    for h in seen:
        if h in remaining:
            remaining.remove(h)
            exact += 1
    with open(result, "w") as f:
        json.dump({"sent": len(sent), "calls": calls, "exact": exact, "complete": complete,
                   "wrong_len": wrong_len, "wrong_lens": lens, "in_order": seen == sent, "lost": lost, "reasons": reasons, "raw_reasons": raw_reasons,
                   "ok": calls == len(sent) and exact == len(sent) and complete == len(sent) and lost == 0}, f)


def main():
    a = sys.argv[1:]
    if a[:1] == ["stream"] and len(a) == 4:
        stream(a[1], int(a[2]), a[3])
    elif a[:1] == ["upload"] and len(a) == 6:
        upload(a[1], int(a[2]), int(a[3]), a[4], a[5])
    elif a[:1] == ["check-stream"] and len(a) == 5:
        check_stream(a[1], int(a[2]), a[3], a[4])
    elif a[:1] == ["check-upload"] and len(a) == 6:
        check_upload(a[1], int(a[2]), a[3], a[4], a[5])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
