#!/usr/bin/env python3
"""The server of bench/tls.sh's HTTP throughput part: the OpenAI Chat Completions API, plain HTTP
or over TLS, built to cost as little per request as Python allows (the fixture
tests/fixtures/llm_server.py sleeps 1 ms between streamed events, to look like a model).

    http_server.py            -> plaintext HTTP on 127.0.0.1, prints the port, serves until killed
    http_server.py CERT KEY   -> the same over TLS

POST .../chat/completions answers the fixed REPLY as one JSON body; with ?stream=SIZE it streams
instead a reply of SIZE random lowercase hex characters as chat.completion.chunk events of 4,096
characters each, a few events to an HTTP chunk, ended by `data: [DONE]`. The request body is read
and not parsed (the client's prompt may be 16 MiB). HTTP/1.1 keep-alive, TCP_NODELAY.
"""
import json
import os
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

REPLY = "The answer is 42. 答案是四十二。"  # the fixture's, so both parts check the same text
EVENT_CHARS = 4096
EVENTS_PER_WRITE = 4
TABLE = bytes(b"0123456789abcdef"[b % 16] for b in range(256))

FULL = json.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "bench",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
}).encode()
CHUNK_HEAD = b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"bench",' \
             b'"choices":[{"index":0,"delta":{"content":"'
CHUNK_TAIL = b'"},"finish_reason":null}]}\n\n'
STREAM_END = (b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"bench",'
              b'"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
              b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"bench",'
              b'"choices":[],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}\n\n'
              b"data: [DONE]\n\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_POST(self):
        url = urlparse(self.path)
        remaining = int(self.headers.get("content-length", "0"))
        while remaining:  # read, do not keep: the prompt may be large
            got = len(self.rfile.read(min(remaining, 1 << 20)))
            if not got:
                return
            remaining -= got
        if not url.path.endswith("/chat/completions"):
            self.send_response(404)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        size = int(parse_qs(url.query).get("stream", ["0"])[0])
        if not size:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(FULL)))
            self.end_headers()
            self.wfile.write(FULL)
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        text = os.urandom(size).translate(TABLE)
        events = [CHUNK_HEAD + text[i:i + EVENT_CHARS] + CHUNK_TAIL for i in range(0, size, EVENT_CHARS)]
        events.append(STREAM_END)
        for i in range(0, len(events), EVENTS_PER_WRITE):
            data = b"".join(events[i:i + EVENTS_PER_WRITE])
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if len(sys.argv) == 3:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(sys.argv[1], sys.argv[2])
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    elif len(sys.argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    print(server.server_address[1], flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
