#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target to fuzz/seeds/<target>/ (committed; the growing
corpus goes to fuzz/corpus/, which is not). Run from anywhere: `python3 fuzz/seeds.py`.

Window seeds come from `tests/fixtures/demo-trace.jsonl` cut into windows by `agentsight ingest`
(its `windows.log`), when that file is given as the first argument; otherwise the window seeds
already committed are kept.
"""
import base64
import gzip
import json
import os
import sys
import zlib

ROOT = os.path.dirname(os.path.abspath(__file__))
SEP = b"\n--8<--\n"


def write(target, name, data):
    d = os.path.join(ROOT, "seeds", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- HTTP/1.1 -------------------------------------------------------------------------------

def chunked(body, size=7):
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\nx-trailer: 1\r\n\r\n"


CHAT_REQ = json.dumps({
    "model": "gpt-4o", "stream": True,
    "messages": [{"role": "system", "content": "You are terse."},
                 {"role": "user", "content": "run the tests"}],
    "tools": [{"type": "function", "function": {"name": "bash", "description": "run",
                                                 "parameters": {"type": "object"}}}],
}).encode()
CHAT_JSON = json.dumps({
    "id": "c1", "model": "gpt-4o-2024", "choices": [{"index": 0, "finish_reason": "tool_calls",
    "message": {"role": "assistant", "content": "ok", "tool_calls": [{"id": "t1", "type": "function",
    "function": {"name": "bash", "arguments": "{\"command\":\"pytest\"}"}}]}}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}}).encode()
CHAT_SSE = (
    b'data: {"id":"c1","model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}\n\n'
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"t1","type":"function","function":{"name":"bash","arguments":"{\\"comm"}}]}}]}\n\n'
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"and\\":\\"ls\\"}"}}]}}]}\n\n'
    b': keep-alive\r\n\r\n'
    b'data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":5,"completion_tokens":2}}\r\n\r\n'
    b'data: [DONE]\n\n')
RESPONSES_REQ = json.dumps({"model": "gpt-4.1", "instructions": "be brief", "stream": True,
                            "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
                            "tools": [{"type": "function", "name": "bash", "parameters": {}}]}).encode()
RESPONSES_SSE = (
    b'event: response.created\ndata: {"type":"response.created","response":{"id":"r1","model":"gpt-4.1"}}\n\n'
    b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hi"}\n\n'
    b'event: response.output_item.added\ndata: {"type":"response.output_item.added","output_index":1,"item":{"type":"function_call","id":"fc1","call_id":"call1","name":"bash","arguments":""}}\n\n'
    b'event: response.function_call_arguments.delta\ndata: {"type":"response.function_call_arguments.delta","output_index":1,"delta":"{\\"a\\":1}"}\n\n'
    b'event: response.completed\ndata: {"type":"response.completed","response":{"id":"r1","status":"completed","usage":{"input_tokens":3,"output_tokens":2}}}\n\n')
RESPONSES_JSON = json.dumps({"id": "r1", "model": "gpt-4.1", "status": "completed", "output": [
    {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "done"}]},
    {"type": "function_call", "call_id": "c1", "name": "bash", "arguments": "{\"x\":1}"}],
    "usage": {"input_tokens": 3, "output_tokens": 2}}).encode()
MESSAGES_REQ = json.dumps({"model": "claude-sonnet-4", "max_tokens": 100, "stream": True,
                           "system": [{"type": "text", "text": "You are Claude Code."}],
                           "messages": [{"role": "user", "content": "fix it"},
                                        {"role": "assistant", "content": [{"type": "tool_use", "id": "tu1", "name": "Bash", "input": {"command": "ls"}}]},
                                        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu1", "content": "a.py"}]}],
                           "tools": [{"name": "Bash", "input_schema": {"type": "object"}}]}).encode()
MESSAGES_SSE = (
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"m1","model":"claude-sonnet-4","usage":{"input_tokens":9,"output_tokens":1}}}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"All tests pass"}}\n\n'
    b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
    b'event: content_block_start\ndata: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"tu2","name":"Bash","input":{}}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"command\\": \\"pytest\\"}"}}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":12}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
MESSAGES_JSON = json.dumps({"id": "m1", "model": "claude-sonnet-4", "role": "assistant", "stop_reason": "end_turn",
                            "content": [{"type": "text", "text": "Done."}, {"type": "thinking", "thinking": "hm"}],
                            "usage": {"input_tokens": 4, "output_tokens": 2, "cache_read_input_tokens": 1}}).encode()
GEMINI_REQ = json.dumps({"systemInstruction": {"parts": [{"text": "be kind"}]},
                         "contents": [{"role": "user", "parts": [{"text": "hello"}]},
                                      {"role": "model", "parts": [{"functionCall": {"name": "ls", "args": {"d": "."}}}]},
                                      {"role": "user", "parts": [{"functionResponse": {"name": "ls", "response": {"r": "a"}}}]}],
                         "tools": [{"functionDeclarations": [{"name": "ls", "parameters": {}}]}]}).encode()
GEMINI_JSON = json.dumps({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"},
                          {"functionCall": {"name": "ls", "args": {}}}]}, "finishReason": "STOP"}],
                          "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 1}, "modelVersion": "gemini-2.5-flash"}).encode()
GEMINI_SSE = b"".join(b"data: " + json.dumps(c).encode() + b"\r\n\r\n" for c in [
    {"candidates": [{"content": {"role": "model", "parts": [{"text": "He"}]}}]},
    {"candidates": [{"content": {"role": "model", "parts": [{"text": "llo"}]}, "finishReason": "STOP"}],
     "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 1}}])
ERROR_JSON = b'{"error":{"message":"rate limited","type":"rate_limit_error"}}'


def h1_request(path, body, host="api.openai.com", extra=b""):
    return (b"POST " + path + b" HTTP/1.1\r\nHost: " + host.encode() +
            b"\r\nContent-Type: application/json\r\nAuthorization: Bearer sk-proj-abcdefghijklmnopqrstuvwxyz0123\r\n" +
            extra + b"Content-Length: %d\r\n\r\n" % len(body) + body)


def h1_response(body, ctype=b"application/json", encoding=None, chunk=False, status=b"200 OK"):
    head = b"HTTP/1.1 " + status + b"\r\nContent-Type: " + ctype + b"\r\n"
    if encoding == "gzip":
        body = gzip.compress(body)
        head += b"Content-Encoding: gzip\r\n"
    elif encoding == "deflate":
        body = zlib.compress(body)
        head += b"Content-Encoding: deflate\r\n"
    if chunk:
        return head + b"Transfer-Encoding: chunked\r\n\r\n" + chunked(body)
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


GET = b"GET /a HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\n\r\n"
http_seeds = {
    "h1_get": GET + SEP + b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
    "h1_chat_sse_chunked": h1_request(b"/v1/chat/completions", CHAT_REQ) + SEP +
        h1_response(CHAT_SSE, b"text/event-stream", chunk=True),
    "h1_chat_gzip": h1_request(b"/v1/chat/completions", CHAT_REQ, extra=b"Accept-Encoding: gzip\r\n") + SEP +
        h1_response(CHAT_JSON, encoding="gzip"),
    "h1_messages_deflate_chunked": h1_request(b"/v1/messages", MESSAGES_REQ, host="api.anthropic.com") + SEP +
        h1_response(MESSAGES_SSE, b"text/event-stream", encoding="deflate", chunk=True),
    "h1_keepalive_pipelined": GET + GET.replace(b"/a", b"/b") + b"HEAD /c HTTP/1.1\r\nHost: x\r\n\r\n" + SEP +
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA"
        b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
    "h1_close_delimited": GET + SEP + b"HTTP/1.0 200 OK\r\nConnection: close\r\n\r\nuntil the end",
    "h1_upgrade": b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n" + SEP +
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x02hi",
    "h1_gzip_request": b"POST /v1/responses HTTP/1.1\r\nHost: api.openai.com\r\nContent-Encoding: gzip\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunked(gzip.compress(RESPONSES_REQ), 50) + SEP +
        h1_response(RESPONSES_SSE, b"text/event-stream"),
}

# ---- HTTP/2 (HPACK literals without indexing, so no encoder is needed) ------------------------

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def hint(n, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if n < limit:
        return bytes([first | n])
    out = [first | limit]
    n -= limit
    while n >= 128:
        out.append((n & 127) | 128)
        n >>= 7
    out.append(n)
    return bytes(out)


def hpack(fields):
    out = b""
    for name, value in fields:
        if name == ":method" and value == "POST":
            out += b"\x83"  # static table 3
        elif name == ":status" and value == "200":
            out += b"\x88"  # static table 8
        else:
            out += b"\x00" + hint(len(name), 7) + name.encode() + hint(len(value), 7) + value.encode()
    return out


def frame(kind, flags, stream, payload):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


DATA, HEADERS, RST, SETTINGS, PING, GOAWAY, WINDOW, CONT = 0, 1, 3, 4, 6, 7, 8, 9
ES, EH, PADDED = 1, 4, 8


def h2(path, host, req_body, status, ctype, resp_body):
    req = hpack([(":method", "POST"), (":scheme", "https"), (":path", path), (":authority", host),
                 ("content-type", "application/json")])
    out = PREFACE + frame(SETTINGS, 0, 0, b"\x00\x03\x00\x00\x00\x64") + frame(WINDOW, 0, 0, b"\x00\x01\x00\x00")
    out += frame(HEADERS, EH, 1, req)
    out += frame(DATA, 0, 1, req_body[:20]) + frame(DATA, ES, 1, req_body[20:])
    out += frame(HEADERS, EH | ES, 3, hpack([(":method", "GET"), (":scheme", "https"), (":path", "/x"), (":authority", host)]))
    inn = frame(SETTINGS, 0, 0, b"") + frame(SETTINGS, 1, 0, b"")
    head = hpack([(":status", status), ("content-type", ctype)])
    inn += frame(HEADERS, 0, 1, head[:3]) + frame(CONT, EH, 1, head[3:])
    pad = b"\x04" + resp_body[:30] + b"\0\0\0\0"
    inn += frame(DATA, PADDED, 1, pad) + frame(DATA, 0, 1, resp_body[30:])
    inn += frame(HEADERS, EH | ES, 1, hpack([("grpc-status", "0")]))
    inn += frame(RST, 0, 3, b"\x00\x00\x00\x08") + frame(PING, 0, 0, b"\0" * 8) + frame(GOAWAY, 0, 0, b"\0" * 8)
    return out + SEP + inn


http_seeds["h2_chat_sse"] = h2("/v1/chat/completions", "api.openai.com", CHAT_REQ, "200", "text/event-stream", CHAT_SSE)
http_seeds["h2_gemini_json"] = h2("/v1beta/models/gemini-2.5-flash:generateContent?key=AIzaSyA0123456789abcdefghijklmnopqrstuv",
                                   "generativelanguage.googleapis.com", GEMINI_REQ, "200", "application/json", GEMINI_JSON)
for name, data in http_seeds.items():
    write("http", name, b"\x00" + data)
    write("http", name + "_small_limits", b"\x01" + data)

# ---- SSE --------------------------------------------------------------------------------------

for name, data in {"chat": CHAT_SSE, "responses": RESPONSES_SSE, "messages": MESSAGES_SSE, "gemini": GEMINI_SSE,
                   "bom_cr_comments": b"\xef\xbb\xbfdata: a\rdata:b\r\r: c\nid: 1\nretry: 5\nevent\ndata\n\n",
                   "cut": b"event: x\ndata: {\"a\": \xff\xfe", "done": b"data: [DONE]\r\n\r\n"}.items():
    write("sse", name, data)

# ---- LLM exchanges ----------------------------------------------------------------------------
# Control byte a: bits 0-2 the route (see llm.rs), bit 3 a key in the query; byte b: bits 0-1
# the content type (0 JSON, 1 SSE), 2-3 the status, 4 truncated, 5 no response, 6 incomplete.
llm_seeds = {
    "chat_json": (0, 0, CHAT_REQ, CHAT_JSON), "chat_sse": (0, 1, CHAT_REQ, CHAT_SSE),
    "responses_json": (1, 0, RESPONSES_REQ, RESPONSES_JSON), "responses_sse": (1, 1, RESPONSES_REQ, RESPONSES_SSE),
    "messages_json": (2, 0, MESSAGES_REQ, MESSAGES_JSON), "messages_sse": (2, 1, MESSAGES_REQ, MESSAGES_SSE),
    "gemini_json": (3 | 8, 0, GEMINI_REQ, GEMINI_JSON), "gemini_sse": (4 | 8 | 16, 1, GEMINI_REQ, GEMINI_SSE),
    "local_chat_cut": (5, 1 | 64, CHAT_REQ, CHAT_SSE[:200]), "error": (2, 8, MESSAGES_REQ, ERROR_JSON),
    "other": (6, 2, b"hello", b"world"), "no_response": (0, 32, CHAT_REQ, b""),
    "messages_not_json": (2, 0, b"{not json", b"<html>"),
}
for name, (a, b, req, resp) in llm_seeds.items():
    write("llm", name, bytes([a, b]) + req + SEP + resp)

# ---- redaction --------------------------------------------------------------------------------

redact_seeds = {
    "keys": "OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyzABCDEF0123456789 and sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789-ABCD",
    "glued": "x_sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789 %3Dghp_abcdefghijklmnopqrstuvwxyz0123456789 \\nsk-proj-abcdefghijklmnopqrstuvwx0123 id1AKIAIOSFODNN7EXAMPLE",
    "aws_github_slack": "AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY ghp_abcdefghijklmnopqrstuvwxyz0123456789 xoxb-123456789012-1234567890123-abcdefghijklmnopqrstuvwx",
    "google_stripe_hf": "AIzaSyA0123456789abcdefghijklmnopqrstuv sk_live_abcdefghijklmnopqrstuvwx0123 hf_abcdefghijklmnopqrstuvwxyzABCDEFGH glpat-abcdefghij0123456789 npm_abcdefghijklmnopqrstuvwxyz0123456789",
    "jwt_bearer": "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "pem": "-----BEGIN RSA PRIVATE KEY-----\\nProc-Type: 4,ENCRYPTED\\nMIIEowIBAAKCAQEAabcdefghijklmnop0123456789+/==\\n-----END RSA PRIVATE KEY-----",
    "url_password_webhook": "postgres://admin:hunter2secret@db.example.com:5432/x https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "assignments": "password=hunter2&api_key=abc123def456 DB_PASSWORD='s3cret value' client_secret: xyz export TOKEN=\"t0ken\" --password hunter2 --api-key KEY",
    "json": json.dumps({"password": "hunter2", "access_token": "abc.def", "token": "logprob", "nested": json.dumps({"secret": "x\"y"}),
                        "key": "sk-proj-abcdefghijklmnopqrstuvwxyzABCDEF0123"}),
    "headers": "authorization: Basic dXNlcjpwYXNz\ncookie: session=abc; theme=dark\nset-cookie: id=xyz; Path=/; HttpOnly\nx-api-key: k\nreferer: https://x.com/?key=AIzaSyA0123456789abcdefghijklmnopqrstuv\n",
    "marker": "already [REDACTED:openai] and [REDACTED] and [REDACTED:url_password]:x@y",
    "prose": "The quick brown fox; git 3f786850e387550fdab836ed7e6dc881de23001b; uuid 123e4567-e89b-12d3-a456-426614174000; max_tokens=100",
}
for name, data in redact_seeds.items():
    write("redact", name, data)
write("redact", "invalid_utf8", b"sk-proj-abcdefghij\xffklmnopqrstuvwxyz0123456789 \xc3 ghp_abcdefghijklmnopqrstuvwxyz0123456789")
trace = open(os.path.join(ROOT, "..", "tests", "fixtures", "demo-trace.jsonl")).read().splitlines()
picked = {}
for line in trace:
    kind = json.loads(line)["kind"]
    if kind not in picked and len(line) < 8000:
        picked[kind] = line
for kind, line in picked.items():
    write("redact", "event_" + kind, line)
write("redact", "event_exec_secrets", json.dumps({
    "ts_ns": 1, "session": "s", "pid": 2, "tid": 2, "ppid": 1, "comm": "curl", "kind": "exec",
    "filename": "/tmp/sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789/curl",
    "argv": ["curl", "-H", "Authorization: Bearer abcdefghijklmnop0123", "--password", "hunter2"],
    "cwd": "/home/u/ghp_abcdefghijklmnopqrstuvwxyz0123456789", "uid": 0, "argv_bytes": 40}))

# ---- windows ----------------------------------------------------------------------------------

if len(sys.argv) > 1:
    def window(line):
        w = json.loads(line)
        # A long line is stored compressed: {"window_id", "session", "zlib"} (zlib in base64).
        if "zlib" in w:
            w = json.loads(zlib.decompress(base64.b64decode(w["zlib"])))
        return w.get("window", w)
    windows = [window(l) for l in open(sys.argv[1])]
    for w in windows:
        seq = w["seq"]
        if len(json.dumps(w)) < 32000:
            write("window", "full_%d" % seq, json.dumps(w))
        small = dict(w, events=w["events"][:12], overlap_events=min(w["overlap_events"], 2))
        small["context"] = dict(w["context"], history=w["context"].get("history", [])[:4])
        write("window", "head_%d" % seq, json.dumps(small))
    tiny = dict(windows[1], events=windows[1]["events"][:4], overlap_events=0, links=[])
    tiny["context"] = {"turns_before": 1}
    write("window", "tiny", json.dumps(tiny))
    write("window", "array", json.dumps([tiny, dict(tiny, seq=1, window_id=tiny["session"] + ":1")]))

# ---- search queries ---------------------------------------------------------------------------

queries = ["pytest", "kind:exec AND argv:pytest", '"测试通过"', "tool:bash", "(python3 OR build) AND NOT exit",
           "argv:py*", "+config -yaml", '"config not found"~2', "python3^2 build", "session:x", "ts_ns:[1 TO 2]",
           "NOT NOT (a)", "-(a) +(b)", "comm:python3 AND (file OR exec) AND NOT (connect)", "*", "a:", '"', "((a))",
           "kind:llm_call AND text:tests", "IN [a b]", "score:>0.5", "ts_ns:>1000", "exec*"]
for i, q in enumerate(queries):
    write("search", "q%02d" % i, q)
