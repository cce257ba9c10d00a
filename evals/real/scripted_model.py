#!/usr/bin/env python3
"""A scripted model for recording real agent CLIs: an HTTPS server that speaks the Anthropic
Messages, OpenAI Chat Completions and Gemini generateContent APIs (streamed or not) and answers
each request with the next step of a scenario, so a real agent (Claude Code, Gemini CLI,
opencode, aider) runs real tools in a real workspace under `agentsight record`.

    scripted_model.py CERT KEY SCENARIO.json LOG.jsonl  -> prints the port, serves until killed

The step is the number of assistant turns already in the request (stateless, so a retried
request gets the same answer); for aider, whose prompt carries few-shot assistant turns, it is
the number of requests answered before. A request that offers no tools while the scenario's agent uses
tools is a side call (a title, a topic or next-speaker check): it gets a short fixed answer and
does not advance. Each request served is appended to LOG as {"n", "step" | "side"}, which the
recorder uses to turn scenario steps into the 1-based turns of the labels.

Usage figures are estimates (request bytes / 4, reply bytes / 4), so the eval can compare the
judge's tokens with the agent's.
"""
import json
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

LOCK = threading.Lock()


def tool_call(agent, step):
    """(name, arguments) of a step's tool call, in the agent's own tool vocabulary."""
    if "sh" in step:
        cmd = step["sh"]
        return {
            "claude-code": ("Bash", {"command": cmd, "description": step.get("why", "Run a command")}),
            "gemini-cli": ("run_shell_command", {"command": cmd, "description": step.get("why", "Run a command")}),
            "opencode": ("bash", {"command": cmd, "description": step.get("why", "Run a command")}),
        }[agent]
    if "write" in step:
        path, content = step["write"], step["content"]
        return {
            "claude-code": ("Write", {"file_path": path, "content": content}),
            "gemini-cli": ("write_file", {"file_path": path, "content": content}),
            "opencode": ("write", {"filePath": path, "content": content}),
        }[agent]
    if "read" in step:
        path = step["read"]
        return {
            "claude-code": ("Read", {"file_path": path}),
            "gemini-cli": ("read_file", {"absolute_path": path}),
            "opencode": ("read", {"filePath": path}),
        }[agent]
    return None


def reply_text(step):
    return step.get("say", "")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    scenario = {}
    log_path = ""
    served = 0
    main_served = 0

    def log_message(self, *args):
        pass

    def do_GET(self):
        # model lists and health checks some agents make at start
        self.json({"object": "list", "data": [{"id": "scripted", "object": "model"}], "models": []})

    def do_POST(self):
        url = urlparse(self.path)
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))) or b"{}")
        size = int(self.headers.get("content-length", "0"))
        agent = self.scenario["agent"]
        steps = self.scenario["steps"]
        path = url.path
        if path.endswith(":countTokens"):
            return self.json({"totalTokens": size // 4})
        if path.endswith("/chat/completions"):
            api, turns, tools = "chat", sum(m.get("role") == "assistant" for m in body.get("messages", [])), bool(body.get("tools"))
        elif path.endswith("/messages"):
            api, turns, tools = "messages", sum(m.get("role") == "assistant" for m in body.get("messages", [])), bool(body.get("tools"))
        elif ":generateContent" in path or ":streamGenerateContent" in path:
            api = "gemini"
            turns = sum(c.get("role") == "model" for c in body.get("contents", []))
            tools = bool(body.get("tools")) or bool((body.get("config") or {}).get("tools"))
        else:
            self.send_error(404)
            return
        uses_tools = agent != "aider"
        side = uses_tools and not tools
        with LOCK:
            Handler.served += 1
            n = Handler.served
            if not uses_tools:
                # aider's prompt carries few-shot assistant turns: count the requests instead
                turns = Handler.main_served
                Handler.main_served += 1
            with open(self.log_path, "a") as log:
                log.write(json.dumps({"n": n, "side": True} if side else {"n": n, "step": turns}) + "\n")
        if side:
            step = {"say": self.side_answer(api, body)}
        else:
            step = steps[min(turns, len(steps) - 1)]
        stream = body.get("stream", False) or ":streamGenerateContent" in path
        usage_in, usage_out = size // 4, max(1, len(json.dumps(step)) // 4)
        getattr(self, api)(agent, step, stream, body.get("model", "scripted"), usage_in, usage_out)

    def side_answer(self, api, body):
        text = json.dumps(body)
        if "next_speaker" in text:
            return json.dumps({"reasoning": "The model finished its turn.", "next_speaker": "user"})
        if "isNewTopic" in text:
            return json.dumps({"isNewTopic": False, "title": None})
        return "Fix the failing test"

    # --- Anthropic Messages ---
    def messages(self, agent, step, stream, model, usage_in, usage_out):
        text, call = reply_text(step), tool_call(agent, step)
        blocks = []
        if text:
            blocks.append({"type": "text", "text": text})
        if call:
            blocks.append({"type": "tool_use", "id": f"toolu_{Handler.served:04d}", "name": call[0], "input": call[1]})
        stop = "tool_use" if call else "end_turn"
        if not stream:
            return self.json({"id": f"msg_{Handler.served}", "type": "message", "role": "assistant", "model": model, "content": blocks,
                              "stop_reason": stop, "usage": {"input_tokens": usage_in, "output_tokens": usage_out}})
        events = [("message_start", {"type": "message_start", "message": {"id": f"msg_{Handler.served}", "type": "message", "role": "assistant",
                                                                          "model": model, "content": [], "stop_reason": None,
                                                                          "usage": {"input_tokens": usage_in, "output_tokens": 1}}})]
        for i, b in enumerate(blocks):
            if b["type"] == "text":
                events.append(("content_block_start", {"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}}))
                for j in range(0, len(text), 24):
                    events.append(("content_block_delta", {"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": text[j:j + 24]}}))
            else:
                events.append(("content_block_start", {"type": "content_block_start", "index": i,
                                                       "content_block": {"type": "tool_use", "id": b["id"], "name": b["name"], "input": {}}}))
                args = json.dumps(b["input"])
                for j in range(0, len(args), 40):
                    events.append(("content_block_delta", {"type": "content_block_delta", "index": i,
                                                           "delta": {"type": "input_json_delta", "partial_json": args[j:j + 40]}}))
            events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
        events.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                         "usage": {"output_tokens": usage_out}}))
        events.append(("message_stop", {"type": "message_stop"}))
        self.sse([f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events])

    # --- OpenAI Chat Completions ---
    def chat(self, agent, step, stream, model, usage_in, usage_out):
        text, call = reply_text(step), tool_call(agent, step)
        usage = {"prompt_tokens": usage_in, "completion_tokens": usage_out, "total_tokens": usage_in + usage_out}
        finish = "tool_calls" if call else "stop"
        cid = f"call_{Handler.served:04d}"
        if not stream:
            message = {"role": "assistant", "content": text or None}
            if call:
                message["tool_calls"] = [{"id": cid, "type": "function", "function": {"name": call[0], "arguments": json.dumps(call[1])}}]
            return self.json({"id": f"chatcmpl-{Handler.served}", "object": "chat.completion", "created": 1, "model": model,
                              "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage})
        base = {"id": f"chatcmpl-{Handler.served}", "object": "chat.completion.chunk", "created": 1, "model": model}
        chunks = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
        for j in range(0, len(text), 24):
            chunks.append({**base, "choices": [{"index": 0, "delta": {"content": text[j:j + 24]}, "finish_reason": None}]})
        if call:
            chunks.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": cid, "type": "function",
                                                                                      "function": {"name": call[0], "arguments": ""}}]},
                                                "finish_reason": None}]})
            args = json.dumps(call[1])
            for j in range(0, len(args), 40):
                chunks.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": args[j:j + 40]}}]},
                                                    "finish_reason": None}]})
        chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}], "usage": usage})
        self.sse([f"data: {json.dumps(c)}\n\n" for c in chunks] + ["data: [DONE]\n\n"])

    # --- Gemini generateContent ---
    def gemini(self, agent, step, stream, model, usage_in, usage_out):
        text, call = reply_text(step), tool_call(agent, step)
        parts = []
        if text:
            parts.append({"text": text})
        if call:
            parts.append({"functionCall": {"name": call[0], "args": call[1]}})
        usage = {"promptTokenCount": usage_in, "candidatesTokenCount": usage_out, "totalTokenCount": usage_in + usage_out}
        done = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": usage, "modelVersion": model}
        if not stream:
            return self.json(done)
        self.sse([f"data: {json.dumps(done)}\r\n\r\n"])

    def json(self, obj):
        data = json.dumps(obj).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def sse(self, events):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for e in events:
            data = e.encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def main():
    cert, key, scenario, log = sys.argv[1:5]
    with open(scenario) as f:
        Handler.scenario = json.load(f)
    Handler.log_path = log
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
