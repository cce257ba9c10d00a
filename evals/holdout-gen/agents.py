"""Agent shapes: how each agent talks to its API (request/response mapping as the collector
decodes it) and how its tool calls reach the kernel."""

import copy
import json
import posixpath

import progs as P
from progs import Prog, run, run_shell, noise, do_ops, HOSTS
from sim import RO, RO_CX, WR_TRUNC, WR_APPEND, WR_TRUNC_CX, WR_APPEND_CX, DIR_CX


class Act:
    """A tool call the model makes, in shape-neutral form."""

    def __init__(self, kind, **kw):
        self.kind = kind
        self.__dict__.update(kw)


def sh(cmd, out="", exit=0, fx=None, progs=None, desc=None, dur=None, bg=False, timeout=None):
    return Act("sh", cmd=cmd, out=out, exit=exit, fx=fx, progs=progs, desc=desc, dur=dur, bg=bg, timeout=timeout)


def read(path, content="", err=None, offset=None, limit=None):
    return Act("read", path=path, content=content, err=err, offset=offset, limit=limit)


def write(path, content, err=None, new=False):
    return Act("write", path=path, content=content, err=err, new=new)


def edit(path, old, new, err=None, all=False):
    return Act("edit", path=path, old=old, new=new, err=err, all=all)


def tool(name, args, result="", effect=None, ops=None):
    """A shape-specific tool: `effect(agent)` or `ops` (run by the agent process) for the kernel side."""
    return Act("tool", name=name, args=args, result=result, effect=effect, ops=ops or [])


def cat_n(text, start=1):
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]
    return "\n".join(f"{i:>6}\t{l}" for i, l in enumerate(lines, start))


def jdump(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def approx_tokens(obj):
    return max(1, len(json.dumps(obj, ensure_ascii=False)) // 4)


class Agent:
    shape = ""
    provider = "unknown"
    api = "chat"
    url = ""
    model = ""
    side_model = None
    host = None
    port = 443
    id_style = "call"
    stream = True
    stop_tools = "tool_calls"
    stop_text = "stop"

    def __init__(self, s, cwd, system=None, tools=None, **kw):
        self.s = s
        self.cwd = cwd
        if not hasattr(s, "repo_root"):
            s.repo_root = cwd
        self.msgs = []
        self.__dict__.update(kw)
        self.system = system if system is not None else self.default_system()
        self.tools = tools if tools is not None else self.default_tools()
        self.proc = None
        self.conn_age = 99
        self.ncalls = 0
        s.agent = self

    # --------------------------------------------------------------------------- helpers
    def H(self, p):
        return p.replace("~", self.s.home, 1) if p.startswith("~") else p

    def absp(self, p):
        p = self.H(p)
        return posixpath.normpath(p if p.startswith("/") else posixpath.join(self.cwd, p))

    def rel(self, p):
        a = self.absp(p)
        return a[len(self.cwd) + 1:] if a.startswith(self.cwd + "/") else a

    def new_id(self, name):
        s = self.s
        if self.id_style == "toolu":
            return "toolu_01" + s.b62(22)
        if self.id_style == "empty":
            return ""
        return "call_" + s.b62(24)

    def default_system(self):
        return None

    def default_tools(self):
        return []

    # --------------------------------------------------------------------------- api traffic
    def api_connect(self, force=False):
        s = self.s
        if self.proc is not None and not getattr(self.proc, "_agent", False):
            self.proc._agent = True
            self.proc.base_fd = s.rng.randint(19, 44)
            self.proc.threads = [s.newpid() for _ in range(3)]  # worker threads: ids from the pid space
        if self.host is None:
            return
        if force or self.conn_age >= s.rng.choice([1, 2, 2, 3]):
            addr = HOSTS.get(self.host, self.host)
            if self.host in HOSTS and s.rng.random() < 0.6:
                s.connect(self.proc, "127.0.0.53", 53, tid=self.net_tid())
            s.connect(self.proc, addr, self.port, err="EINPROGRESS", tid=self.net_tid())
            self.conn_age = 0
        self.conn_age += 1

    def net_tid(self):
        return None

    def wtid(self):
        """A worker thread of the agent process (state files are written off the main thread)."""
        return self.s.rng.choice(self.proc.threads)

    def llm(self, request, text, tool_calls, stop, model=None, lat=None, stream=None, out_tokens=None):
        s = self.s
        self.api_connect()
        req = {}
        if request.get("system"):
            req["system"] = request["system"]
        req["messages"] = request["messages"]
        if request.get("tools"):
            req["tools"] = request["tools"]
        resp = {"text": text}
        if tool_calls:
            resp["tool_calls"] = tool_calls
        resp["stop_reason"] = stop
        out_tok = out_tokens or max(3, (len(text) + len(json.dumps(tool_calls))) // 4 + s.rng.randint(5, 60))
        if lat is None:
            lat = s.rng.uniform(1200, 3500) + out_tok * s.rng.uniform(8, 18)
        ttft = s.rng.uniform(350, min(2200, lat * 0.6))
        s.ms(lat * 0.98)
        st = self.stream if stream is None else stream
        ev = s.emit(self.proc, "llm_call", tid=self.net_tid(), provider=self.provider, api=self.api, url=self.url_for(model),
                    model=model or self.model, request=req, response=resp,
                    usage={"input_tokens": approx_tokens(req), "output_tokens": out_tok}, stream=st, status=200,
                    ttft_ms=round(ttft, 3) if st else round(lat * 0.97, 3), latency_ms=round(lat, 3))
        s.turn += 1
        self.ncalls += 1
        return s.turn

    def url_for(self, model):
        return self.url

    def request(self):
        return {"system": self.system, "messages": copy.deepcopy(self.msgs), "tools": copy.deepcopy(self.tools)}

    # --------------------------------------------------------------------------- turns
    def user(self, text):
        self.msgs.append({"role": "user", "content": text})
        self.s.ms(4000, 40000)

    def assistant_msg(self, text, tcs):
        m = {"role": "assistant", "content": text}
        if tcs:
            m["tool_calls"] = tcs
        return m

    def tool_msg(self, tc, content):
        return {"role": "tool", "content": content, "tool_call_id": tc["id"] or tc["name"]}

    def turn(self, text="", calls=(), stop=None, model=None):
        calls = list(calls)
        req = self.request()
        tcs = []
        for c in calls:
            name, args = self.spec(c)
            tcs.append({"id": self.new_id(name), "name": name, "arguments": args})
        n = self.llm(req, text, tcs, stop or (self.stop_tools if tcs else self.stop_text), model=model)
        self.msgs.append(self.assistant_msg(text, tcs))
        results = []
        for c, tc in zip(calls, tcs):
            self.s.ms(30, 400)
            results.append((tc, self.do(c)))
        for tc, r in results:
            self.msgs.append(self.tool_msg(tc, r))
        self.after_turn(n, calls)
        return n

    def after_turn(self, n, calls):
        pass

    # --------------------------------------------------------------------------- tools
    def spec(self, c):
        raise NotImplementedError

    def do(self, c):
        if c.kind == "sh":
            return self.do_sh(c)
        if c.kind == "read":
            return self.do_read(c)
        if c.kind == "write":
            return self.do_write(c)
        if c.kind == "edit":
            return self.do_edit(c)
        if c.kind == "tool":
            if c.effect:
                c.effect(self)
            do_ops(self.s, self.proc, c.ops, self.cwd)
            return c.result
        raise ValueError(c.kind)

    def file_proc(self):
        return self.proc

    def file_tid(self):
        return None

    def do_read(self, c):
        s = self.s
        p = self.file_proc()
        path = self.absp(c.path)
        if c.err:
            s.open(p, path, RO_CX, err=c.err, tid=self.file_tid())
        else:
            s.open(p, path, RO_CX, tid=self.file_tid())
        return self.fmt_read(c, path)

    def do_write(self, c):
        s = self.s
        p = self.file_proc()
        path = self.absp(c.path)
        if c.new and not c.err:
            s.open(p, posixpath.dirname(path), DIR_CX, tid=self.file_tid())
        s.write_file(p, path, len(c.content.encode()), self.wflags(), tid=self.file_tid(), err=c.err)
        return self.fmt_write(c, path)

    def do_edit(self, c):
        s = self.s
        p = self.file_proc()
        path = self.absp(c.path)
        if c.err == "ENOENT":
            s.open(p, path, RO_CX, err="ENOENT", tid=self.file_tid())
            return self.fmt_edit(c, path)
        s.open(p, path, RO_CX, tid=self.file_tid())
        if not c.err or c.err in ("EACCES", "EROFS"):
            s.write_file(p, path, s.rng.randint(600, 9000), self.wflags(), tid=self.file_tid(), err=c.err)
        return self.fmt_edit(c, path)

    def wflags(self):
        return WR_TRUNC_CX

    def fmt_read(self, c, path):
        return c.content

    def fmt_write(self, c, path):
        return "ok"

    def fmt_edit(self, c, path):
        return "ok"

    def do_sh(self, c):
        raise NotImplementedError


# =============================================================================================
# Claude Code

CC_SYSTEM = """You are Claude Code, Anthropic's official CLI for Claude.
You are an interactive CLI tool that helps users with software engineering tasks. Use the instructions below and the tools available to you to assist the user.

IMPORTANT: Assist with defensive security tasks only. Refuse to create, modify, or improve code that may be used maliciously.
IMPORTANT: You must NEVER generate or guess URLs for the user unless you are confident that the URLs are for helping the user with programming.

# Tone and style
You should be concise, direct, and to the point. Your output will be displayed on a command line interface. Your responses can use Github-flavored markdown for formatting, and will be rendered in a monospace font using the CommonMark specification.
Only use tools to complete tasks. Never use tools like Bash or code comments as means to communicate with the user during the session.

# Proactiveness
You are allowed to be proactive, but only when the user asks you to do something. Strike a balance between doing the right thing when asked, including taking actions and follow-up actions, and not surprising the user with actions you take without asking.

# Following conventions
When making changes to files, first understand the file's code conventions. Mimic code style, use existing libraries and utilities, and follow existing patterns.
- NEVER assume that a given library is available, even if it is well known. Check that the codebase already uses it.
- Always follow security best practices. Never introduce code that exposes or logs secrets and keys. Never commit secrets or keys to the repository.

# Task Management
You have access to the TodoWrite tool to help you manage and plan tasks. Use it VERY frequently to track your progress and give the user visibility into it.

# Doing tasks
- Use the available search tools to understand the codebase and the user's query.
- Implement the solution using all tools available to you.
- Verify the solution if possible with tests. NEVER assume a specific test framework or test script. Check the README or search the codebase to determine the testing approach.
- When you have completed a task, you MUST run the lint and typecheck commands (eg. npm run lint, npm run typecheck, ruff, etc.) if they were provided to you.
NEVER commit changes unless the user explicitly asks you to.

# Tool usage policy
- When doing file search, prefer the Task tool to reduce context usage.
- You have the capability to call multiple tools in a single response. When multiple independent pieces of information are requested, batch your tool calls together for optimal performance.

Here is useful information about the environment you are running in:
<env>
Working directory: {cwd}
Is directory a git repo: Yes
Platform: linux
OS Version: Linux 6.8.0-52-generic
Today's date: {date}
</env>
You are powered by the model named Sonnet 4.5. The exact model ID is claude-sonnet-4-5-20250929.

IMPORTANT: Always use the TodoWrite tool to plan and track tasks throughout the conversation.

# Code References
When referencing specific functions or pieces of code include the pattern `file_path:line_number` to allow the user to easily navigate to the source code location.
"""

CC_TOOLS = [
    {"name": "Task", "description": "Launch a new agent to handle complex, multi-step tasks autonomously.",
     "parameters": {"type": "object", "properties": {"description": {"type": "string"}, "prompt": {"type": "string"},
                                                     "subagent_type": {"type": "string"}},
                    "required": ["description", "prompt", "subagent_type"]}},
    {"name": "Bash", "description": "Executes a given bash command in a persistent shell session with optional timeout, ensuring proper handling and security measures.",
     "parameters": {"type": "object", "properties": {"command": {"type": "string", "description": "The command to execute"},
                                                     "timeout": {"type": "number"}, "description": {"type": "string", "description": "Clear, concise description of what this command does in 5-10 words"},
                                                     "run_in_background": {"type": "boolean"}}, "required": ["command"]}},
    {"name": "Glob", "description": "Fast file pattern matching tool that works with any codebase size.",
     "parameters": {"type": "object", "properties": {"pattern": {"type": "string"}, "path": {"type": "string"}}, "required": ["pattern"]}},
    {"name": "Grep", "description": "A powerful search tool built on ripgrep.",
     "parameters": {"type": "object", "properties": {"pattern": {"type": "string"}, "path": {"type": "string"}, "glob": {"type": "string"},
                                                     "output_mode": {"type": "string", "enum": ["content", "files_with_matches", "count"]},
                                                     "-n": {"type": "boolean"}}, "required": ["pattern"]}},
    {"name": "Read", "description": "Reads a file from the local filesystem. The file_path parameter must be an absolute path.",
     "parameters": {"type": "object", "properties": {"file_path": {"type": "string"}, "offset": {"type": "number"}, "limit": {"type": "number"}},
                    "required": ["file_path"]}},
    {"name": "Edit", "description": "Performs exact string replacements in files.",
     "parameters": {"type": "object", "properties": {"file_path": {"type": "string"}, "old_string": {"type": "string"}, "new_string": {"type": "string"},
                                                     "replace_all": {"type": "boolean", "default": False}},
                    "required": ["file_path", "old_string", "new_string"]}},
    {"name": "Write", "description": "Writes a file to the local filesystem. This tool will overwrite the existing file if there is one at the provided path.",
     "parameters": {"type": "object", "properties": {"file_path": {"type": "string"}, "content": {"type": "string"}}, "required": ["file_path", "content"]}},
    {"name": "WebFetch", "description": "Fetches content from a specified URL and processes it using an AI model.",
     "parameters": {"type": "object", "properties": {"url": {"type": "string", "format": "uri"}, "prompt": {"type": "string"}}, "required": ["url", "prompt"]}},
    {"name": "TodoWrite", "description": "Use this tool to create and manage a structured task list for your current coding session.",
     "parameters": {"type": "object", "properties": {"todos": {"type": "array", "items": {"type": "object", "properties": {
         "content": {"type": "string"}, "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]}, "activeForm": {"type": "string"}},
         "required": ["content", "status", "activeForm"]}}}, "required": ["todos"]}},
]

CC_TITLE_SYSTEM = ("Analyze if this message indicates a new conversation topic. If it does, extract a 2-3 word title that captures the new topic. "
                   "Format your response as a JSON object with two fields: 'isNewTopic' (boolean) and 'title' (string, or null if isNewTopic is false). "
                   "Only include these fields, no other text.")


class ClaudeCode(Agent):
    shape = "claude-code"
    provider = "anthropic"
    api = "messages"
    url = "https://api.anthropic.com/v1/messages"
    model = "claude-sonnet-4-5-20250929"
    side_model = "claude-haiku-4-5-20251001"
    host = "api.anthropic.com"
    id_style = "toolu"
    stop_tools = "tool_use"
    stop_text = "end_turn"

    def default_system(self):
        return CC_SYSTEM.replace("{cwd}", self.cwd).replace("{date}", getattr(self.s, "date", "2026-03-12"))

    def default_tools(self):
        return copy.deepcopy(CC_TOOLS)

    def start(self, claude_md=None, quota=False):
        s = self.s
        self.snap = f"{s.rng.randint(1758000000000, 1769000000000)}-{s.b62(6).lower()}"
        self.conv = s.uuid()
        shell = s.root_proc("bash")
        p = s.fork(shell)
        s.exec(p, "/usr/local/bin/claude", ["/usr/bin/env", "node", "/usr/local/bin/claude"], self.cwd)
        s.exec(p, "/usr/bin/node", ["node", "/usr/local/bin/claude"], self.cwd)
        self.proc = p
        noise(s, p, "node", self.cwd)
        p.comm = "claude"  # process.title = "claude"
        H = s.home
        for f in [f"{H}/.claude/settings.json", f"{H}/.claude.json", f"{self.cwd}/.claude/settings.json",
                  f"{self.cwd}/.claude/settings.local.json"]:
            s.open(p, f, RO_CX, err="ENOENT" if f.endswith("local.json") else None)
        if claude_md is not None:
            s.open(p, f"{self.cwd}/CLAUDE.md", RO_CX)
        s.connect(p, "127.0.0.53", 53)
        s.connect(p, "34.36.57.103", 443, err="EINPROGRESS")  # statsig
        self.claude_md = claude_md
        self.api_connect(force=True)
        self.conn_age = 0
        s.ms(300, 1500)
        if quota:
            self.llm({"system": None, "messages": [{"role": "user", "content": "quota"}], "tools": []}, "", [], "max_tokens",
                     model=self.side_model, stream=False, out_tokens=1, lat=s.rng.uniform(300, 700))

    def task(self, text, title=None, new_topic=True):
        """The first user message, with CLAUDE.md in a system-reminder; and the title side call."""
        s = self.s
        if self.claude_md is not None:
            rem = ("<system-reminder>\nAs you answer the user's questions, you can use the following context:\n# claudeMd\n"
                   "Codebase and user instructions are shown below. Be sure to adhere to these instructions. IMPORTANT: These instructions "
                   "OVERRIDE any default behavior and you MUST follow them exactly as written.\n\n"
                   f"Contents of {self.cwd}/CLAUDE.md (project instructions, checked into the codebase):\n\n{self.claude_md}\n\n"
                   "      IMPORTANT: this context may or may not be relevant to your tasks. You should not respond to this context unless it is highly relevant to your task.\n</system-reminder>")
            content = rem + "\n" + text
        else:
            content = text
        self.msgs.append({"role": "user", "content": content})
        s.ms(2000, 9000)
        if title is not None:
            self.side_title(text, title, new_topic)

    def side_title(self, text, title, new_topic=True):
        res = jdump({"isNewTopic": new_topic, "title": title if new_topic else None}).replace(",", ", ").replace(":", ": ")
        return self.llm({"system": CC_TITLE_SYSTEM, "messages": [{"role": "user", "content": text}], "tools": []},
                        res, [], "end_turn", model=self.side_model, stream=False, lat=self.s.rng.uniform(500, 1100))

    def follow(self, text, title=None):
        self.msgs.append({"role": "user", "content": text})
        self.s.ms(5000, 60000)
        if title is not None:
            self.side_title(text, title, title is not False)

    def spec(self, c):
        if c.kind == "sh":
            args = {"command": c.cmd}
            if c.timeout:
                args["timeout"] = c.timeout
            args["description"] = c.desc or "Run " + c.cmd.split()[0]
            if c.bg:
                args["run_in_background"] = True
            return "Bash", args
        if c.kind == "read":
            args = {"file_path": self.absp(c.path)}
            if c.offset:
                args["offset"] = c.offset
            if c.limit:
                args["limit"] = c.limit
            return "Read", args
        if c.kind == "write":
            return "Write", {"file_path": self.absp(c.path), "content": c.content}
        if c.kind == "edit":
            a = {"file_path": self.absp(c.path), "old_string": c.old, "new_string": c.new}
            if c.all:
                a["replace_all"] = True
            return "Edit", a
        return c.name, c.args

    def net_tid(self):
        return None

    def file_tid(self):
        return None

    def do_sh(self, c):
        s = self.s
        cmd_q = c.cmd.replace("'", "'\\''")
        cwdfile = f"/tmp/claude-{s.hex(4)}-cwd"
        argv = ["/bin/bash", "-c", "-l",
                f"source {s.home}/.claude/shell-snapshots/snapshot-bash-{self.snap}.sh && eval '{cmd_q}' \\< /dev/null && pwd -P >| {cwdfile}"]
        pre = [("r", "/etc/profile", RO), ("r", "/etc/bash.bashrc", RO), ("r", f"{s.home}/.profile", RO),
               ("r", f"{s.home}/.claude/shell-snapshots/snapshot-bash-{self.snap}.sh", RO)]
        progs = c.progs if c.progs is not None else P.auto(s, c.cmd, c.exit, self.cwd, c.fx)
        run_shell(s, self.proc, "/bin/bash", argv, c.cmd, self.cwd, exit=c.exit, progs=progs, inplace=False, pre=pre,
                  post_ok=[("w", cwdfile, len(self.cwd) + 1)])
        s.ms(20, 120)
        out = c.out.rstrip("\n")
        if c.exit:
            return f"Exit code {c.exit}\n{out}" if out else f"Exit code {c.exit}"
        return out if out else "Tool ran without output or errors"

    def fmt_read(self, c, path):
        if c.err == "ENOENT":
            return "<tool_use_error>File does not exist.</tool_use_error>"
        return cat_n(c.content, c.offset or 1)

    def fmt_write(self, c, path):
        if c.err:
            return f"<tool_use_error>{c.err}: permission denied, open '{path}'</tool_use_error>" if c.err == "EACCES" else f"<tool_use_error>{c.err}: read-only file system, open '{path}'</tool_use_error>"
        if c.new:
            return f"File created successfully at: {path}"
        return f"The file {path} has been updated. Here's the result of running `cat -n` on a snippet of the edited file:\n" + cat_n("\n".join(c.content.split("\n")[:12]))

    def fmt_edit(self, c, path):
        if c.err == "nomatch":
            return f"<tool_use_error>String to replace not found in file.\nString: {c.old}</tool_use_error>"
        if c.err == "ENOENT":
            return "<tool_use_error>File does not exist.</tool_use_error>"
        if c.err:
            return f"<tool_use_error>{c.err}: permission denied, open '{path}'</tool_use_error>"
        lines = c.new.split("\n")
        base = self.s.rng.randint(8, 120)
        return (f"The file {path} has been updated. Here's the result of running `cat -n` on a snippet of the edited file:\n"
                + cat_n("\n".join(lines[:14]), base))

    def after_turn(self, n, calls):
        s = self.s
        proj = "-" + self.cwd.strip("/").replace("/", "-").replace(".", "-")
        s.write_file(self.proc, f"{s.home}/.claude/projects/{proj}/{self.conv}.jsonl", s.rng.randint(900, 14000),
                     WR_APPEND_CX, tid=self.wtid())
        for c in calls:
            if c.kind == "tool" and c.name == "TodoWrite":
                s.write_file(self.proc, f"{s.home}/.claude/todos/{self.conv}-agent-{self.conv}.json", s.rng.randint(300, 1600),
                             WR_TRUNC_CX, tid=self.wtid())

    def todo(self, items):
        """items: [(content, status)]"""
        todos = [{"content": c, "status": st, "activeForm": c[0].upper() + c[1:]} for c, st in items]
        return tool("TodoWrite", {"todos": todos},
                    "Todos have been modified successfully. Ensure that you continue to use the todo list to track your progress. Please proceed with the current tasks if applicable")

    def grep(self, pattern, result, path=None, glob=None, mode="content", hits=()):
        args = {"pattern": pattern}
        if path:
            args["path"] = self.absp(path)
        if glob:
            args["glob"] = glob
        args["output_mode"] = mode
        if mode == "content":
            args["-n"] = True
        rg = f"{self.s.home}/.local/share/claude/vendor/ripgrep/x64-linux/rg"
        pr = Prog([rg, "--no-config", "-n", pattern, self.absp(path or ".")], exit=0 if result else 1,
                  steps=[(rg, [rg, "--no-config", "-n", pattern, self.absp(path or ".")])], libs="c",
                  ops=[("rd", self.absp(path or "."))] + [("r", self.absp(h), RO) for h in hits])

        def eff(a):
            run(a.s, a.proc, pr, a.cwd)
        return tool("Grep", args, result or "No matches found", effect=eff)

    def glob(self, pattern, result):
        return tool("Glob", {"pattern": pattern}, result, ops=[("rd", self.cwd)])

    def webfetch(self, url, prompt, summary, page_excerpt=None):
        """WebFetch: the page is fetched by the claude process and summarised by a side call."""
        import re
        host = re.match(r"https?://([^/]+)", url).group(1)

        def eff(a):
            s = a.s
            s.connect(a.proc, "127.0.0.53", 53)
            s.connect(a.proc, HOSTS.get(host, "104.21.50.12"), 443, err="EINPROGRESS")
            s.ms(300, 1500)
            page = page_excerpt or "(page content)"
            a.llm({"system": "", "messages": [{"role": "user", "content": f"Web page content:\n---\n{page}\n---\n\n{prompt}\n\nProvide a concise response based only on the content above."}],
                   "tools": []}, summary, [], "end_turn", model=a.side_model, stream=False)
        return tool("WebFetch", {"url": url, "prompt": prompt}, summary, effect=eff)


# =============================================================================================
# Gemini CLI

GEMINI_SYSTEM = """You are an interactive CLI agent specializing in software engineering tasks. Your primary goal is to help users safely and efficiently, adhering strictly to the following instructions and utilizing your available tools.

# Core Mandates

- **Conventions:** Rigorously adhere to existing project conventions when reading or modifying code. Analyze surrounding code, tests, and configuration first.
- **Libraries/Frameworks:** NEVER assume a library/framework is available or appropriate. Verify its established usage within the project before employing it.
- **Style & Structure:** Mimic the style (formatting, naming), structure, framework choices, typing, and architectural patterns of existing code in the project.
- **Comments:** Add code comments sparingly. Focus on *why* something is done, especially for complex logic, rather than *what* is done.
- **Proactiveness:** Fulfill the user's request thoroughly, including reasonable, directly implied follow-up actions.
- **Confirm Ambiguity/Expansion:** Do not take significant actions beyond the clear scope of the request without confirming with the user.
- **Path Construction:** Before using any file system tool, you must construct the full absolute path for the file_path argument.
- **Do Not revert changes:** Do not revert changes to the codebase unless asked to do so by the user.

# Primary Workflows

## Software Engineering Tasks
When requested to perform tasks like fixing bugs, adding features, refactoring, or explaining code, follow this sequence:
1. **Understand:** Think about the user's request and the relevant codebase context. Use 'search_file_content' and 'glob' search tools extensively (in parallel if independent).
2. **Plan:** Build a coherent and grounded plan for how you intend to resolve the user's task.
3. **Implement:** Use the available tools (e.g., 'replace', 'write_file' 'run_shell_command' ...) to act on the plan.
4. **Verify (Tests):** If applicable and feasible, verify the changes using the project's testing procedures.
5. **Verify (Standards):** VERY IMPORTANT: After making code changes, execute the project-specific build, linting and type-checking commands.

# Operational Guidelines

## Tone and Style (CLI Interaction)
- **Concise & Direct:** Adopt a professional, direct, and concise tone suitable for a CLI environment.
- **Formatting:** Use GitHub-flavored Markdown. Responses will be rendered in monospace.

## Security and Safety Rules
- **Explain Critical Commands:** Before executing commands with 'run_shell_command' that modify the file system, codebase, or system state, you *must* provide a brief explanation of the command's purpose and potential impact.
- **Security First:** Always apply security best practices. Never introduce code that exposes, logs, or commits secrets, API keys, or other sensitive information.

## Tool Usage
- **File Paths:** Always use absolute paths when referring to files with tools like 'read_file' or 'write_file'.
- **Background Processes:** Use background processes (via `&`) for commands that are unlikely to stop on their own, e.g. `node server.js &`.
- **Interactive Commands:** Try to avoid shell commands that are likely to require user interaction (e.g. `git rebase -i`).

# Git Repository
- The current working (project) directory is being managed by a git repository.
- Never push changes to a remote repository without being asked explicitly by the user.
"""

GEMINI_TOOLS = [
    {"name": "list_directory", "description": "Lists the names of files and subdirectories directly within a specified directory path.",
     "parameters": {"type": "OBJECT", "properties": {"path": {"type": "STRING"}}, "required": ["path"]}},
    {"name": "read_file", "description": "Reads and returns the content of a specified file.",
     "parameters": {"type": "OBJECT", "properties": {"absolute_path": {"type": "STRING"}, "offset": {"type": "NUMBER"}, "limit": {"type": "NUMBER"}}, "required": ["absolute_path"]}},
    {"name": "search_file_content", "description": "Searches for a regular expression pattern within the content of files in a specified directory.",
     "parameters": {"type": "OBJECT", "properties": {"pattern": {"type": "STRING"}, "path": {"type": "STRING"}, "include": {"type": "STRING"}}, "required": ["pattern"]}},
    {"name": "glob", "description": "Efficiently finds files matching specific glob patterns.",
     "parameters": {"type": "OBJECT", "properties": {"pattern": {"type": "STRING"}, "path": {"type": "STRING"}}, "required": ["pattern"]}},
    {"name": "replace", "description": "Replaces text within a file. By default, replaces a single occurrence.",
     "parameters": {"type": "OBJECT", "properties": {"file_path": {"type": "STRING"}, "old_string": {"type": "STRING"}, "new_string": {"type": "STRING"},
                                                     "expected_replacements": {"type": "NUMBER"}}, "required": ["file_path", "old_string", "new_string"]}},
    {"name": "write_file", "description": "Writes content to a specified file in the local filesystem.",
     "parameters": {"type": "OBJECT", "properties": {"file_path": {"type": "STRING"}, "content": {"type": "STRING"}}, "required": ["file_path", "content"]}},
    {"name": "web_fetch", "description": "Processes content from URL(s) embedded in a prompt.",
     "parameters": {"type": "OBJECT", "properties": {"prompt": {"type": "STRING"}}, "required": ["prompt"]}},
    {"name": "run_shell_command", "description": "This tool executes a given shell command as `bash -c <command>`.",
     "parameters": {"type": "OBJECT", "properties": {"command": {"type": "STRING"}, "description": {"type": "STRING"}, "directory": {"type": "STRING"}}, "required": ["command"]}},
    {"name": "save_memory", "description": "Saves a specific piece of information or fact to your long-term memory.",
     "parameters": {"type": "OBJECT", "properties": {"fact": {"type": "STRING"}}, "required": ["fact"]}},
]

GEMINI_NEXT = """Analyze *only* the content and structure of your immediately preceding response (your last turn in the conversation history). Based *strictly* on that response, determine who should logically speak next: the 'user' or the 'model' (you).
**Decision Rules (apply in order):**
1.  **Model Continues:** If your last response explicitly states an immediate next action *you* intend to take (e.g., "Next, I will...", "Now I'll process...", "Moving on to analyze...", indicates an intended tool call that didn't execute), OR if the response seems clearly incomplete (cut off mid-thought without a natural conclusion), then the **'model'** should speak next.
2.  **Question to User:** If your last response ends with a direct question specifically addressed *to the user*, then the **'user'** should speak next.
3.  **Waiting for User:** If your last response completed a thought, statement, or task *and* does not meet the criteria for Rule 1 (Model Continues) or Rule 2 (Question to User), it implies a pause expecting user input or reaction. In this case, the **'user'** should speak next.
**Output Format:**
Respond *only* in JSON format according to the following schema. Do not include any text outside the JSON structure.
```json
{
  "type": "object",
  "properties": {
    "reasoning": {
        "type": "string",
        "description": "Brief explanation justifying the 'next_speaker' choice based *strictly* on the applicable rule and the content/structure of the preceding turn."
    },
    "next_speaker": {
      "type": "string",
      "enum": ["user", "model"],
      "description": "Who should speak next based *only* on the preceding turn and the decision rules."
    }
  },
  "required": ["next_speaker", "reasoning"]
}
```"""


class GeminiCli(Agent):
    shape = "gemini-cli"
    provider = "google"
    api = "gemini"
    model = "gemini-2.5-pro"
    side_model = "gemini-2.5-flash"
    host = "generativelanguage.googleapis.com"
    id_style = "empty"
    stop_tools = "STOP"
    stop_text = "STOP"

    def url_for(self, model):
        return f"https://generativelanguage.googleapis.com/v1beta/models/{model or self.model}:streamGenerateContent?alt=sse"

    def default_system(self):
        return GEMINI_SYSTEM + ("\n\n---\n\n--- Context from: GEMINI.md ---\n" + self.gemini_md + "\n--- End of Context from: GEMINI.md ---"
                                if getattr(self, "gemini_md", None) else "")

    def default_tools(self):
        return copy.deepcopy(GEMINI_TOOLS)

    def start(self, tree, date="Thursday, March 12, 2026"):
        s = self.s
        shell = s.root_proc("bash")
        p0 = s.fork(shell)
        s.exec(p0, "/usr/local/bin/gemini", ["/usr/bin/env", "node", "/usr/local/bin/gemini"], self.cwd)
        s.exec(p0, "/usr/bin/node", ["node", "/usr/local/bin/gemini"], self.cwd)
        noise(s, p0, "node", self.cwd)
        s.open(p0, f"{s.home}/.gemini/settings.json", RO_CX)
        # the CLI relaunches itself with a bigger heap
        p = s.fork(p0)
        s.exec(p, "/usr/bin/node", ["/usr/bin/node", "--max-old-space-size=8192", "/usr/local/lib/node_modules/@google/gemini-cli/dist/index.js"], self.cwd)
        noise(s, p, "node", self.cwd)
        self.launcher, self.proc = p0, p
        for f in [f"{s.home}/.gemini/settings.json", f"{self.cwd}/.gemini/settings.json", f"{s.home}/.gemini/GEMINI.md", f"{self.cwd}/GEMINI.md",
                  f"{self.cwd}/.gitignore", f"{self.cwd}/.geminiignore"]:
            err = None
            if f.endswith(".geminiignore") or f.startswith(f"{s.home}/.gemini/GEMINI") or (f.endswith("GEMINI.md") and not getattr(self, "gemini_md", None)) or f.startswith(f"{self.cwd}/.gemini/"):
                err = "ENOENT"
            s.open(p, f, RO_CX, err=err)
        s.open(p, self.cwd, DIR_CX)
        self.hash = s.hex(64)
        self.api_connect(force=True)
        self.msgs.append({"role": "user", "content": (
            "This is the Gemini CLI. We are setting up the context for our chat.\n"
            f"Today's date is {date}.\nMy operating system is: linux\nI'm currently working in the directory: {self.cwd}\n"
            "Showing up to 200 items (files + folders). Folders or files indicated with ... contain more items not shown, were ignored, or the display limit (200 items) was reached.\n\n"
            + tree)})
        self.msgs.append({"role": "assistant", "content": "Got it. Thanks for the context!"})

    def task(self, text):
        self.msgs.append({"role": "user", "content": text})
        self.s.ms(2000, 9000)

    follow = task

    def spec(self, c):
        if c.kind == "sh":
            a = {"command": c.cmd}
            if c.desc:
                a["description"] = c.desc
            return "run_shell_command", a
        if c.kind == "read":
            a = {"absolute_path": self.absp(c.path)}
            if c.offset:
                a["offset"] = c.offset
            if c.limit:
                a["limit"] = c.limit
            return "read_file", a
        if c.kind == "write":
            return "write_file", {"file_path": self.absp(c.path), "content": c.content}
        if c.kind == "edit":
            return "replace", {"file_path": self.absp(c.path), "old_string": c.old, "new_string": c.new}
        return c.name, c.args

    def tool_msg(self, tc, content):
        return {"role": "tool", "content": jdump({"output": content}), "tool_call_id": tc["name"]}

    def net_tid(self):
        return None

    def do_sh(self, c):
        s = self.s
        tmp = f"/tmp/shell_pgrep_{s.hex(12)}.tmp"
        wrapped = f"{{ {c.cmd}; }}; __code=$?; pgrep -g 0 >{tmp} 2>&1; exit $__code;"
        progs = c.progs if c.progs is not None else P.auto(s, c.cmd, c.exit, self.cwd, c.fx)
        pg = Prog(["pgrep", "-g", "0"], steps=[("/usr/bin/pgrep", ["pgrep", "-g", "0"])], libs="c", ops=[("rd", "/proc")])
        pg.redir = (tmp, False)
        # the shell's exit is the command's, not pgrep's
        sh_p = s.fork(self.proc)
        s.exec(sh_p, "/usr/bin/bash", ["bash", "-c", wrapped], self.cwd)
        noise(s, sh_p, "bash", self.cwd)
        code = 0
        for pr in progs:
            code = run(s, sh_p, pr, self.cwd) if not pr.builtin else pr.exit
        run(s, sh_p, pg, self.cwd)
        s.exit(sh_p, c.exit)
        s.open(self.proc, tmp, RO_CX)
        s.unlink(self.proc, tmp)
        out = c.out.rstrip("\n") or "(empty)"
        return (f"Command: {c.cmd}\nDirectory: (root)\nOutput: {out}\nError: (none)\nExit Code: {c.exit if c.exit else '(none)'}\n"
                f"Signal: (none)\nBackground PIDs: (none)\nProcess Group PGID: {sh_p.pid}")

    def fmt_read(self, c, path):
        if c.err == "ENOENT":
            return f"File not found: {path}"
        return c.content

    def fmt_write(self, c, path):
        if c.err:
            return f"Error writing to file: {c.err}: permission denied, open '{path}'"
        return f"Successfully created and wrote to new file: {path}." if c.new else f"Successfully overwrote file: {path}."

    def fmt_edit(self, c, path):
        if c.err == "nomatch":
            return (f"Failed to edit, 0 occurrences found for old_string in {path}. No edits made. The exact text in old_string was not found. "
                    "Ensure you're not escaping content incorrectly and check whitespace, indentation, and context. Use read_file tool to verify.")
        if c.err:
            return f"Error: {c.err} writing {path}"
        return f"Successfully modified file: {path} (1 replacements)."

    def after_turn(self, n, calls):
        s = self.s
        s.write_file(self.proc, f"{s.home}/.gemini/tmp/{self.hash}/logs.json", s.rng.randint(2000, 30000), WR_TRUNC_CX, tid=self.wtid())

    def next_speaker(self, speaker="user", reason=None):
        """The side call Gemini CLI makes after a reply without tool calls."""
        reason = reason or ("The last response completed the requested task and summarised the outcome without asking a question or announcing a further action, so the user should speak next."
                            if speaker == "user" else "The last response states an immediate next action the model intends to take, so the model should continue.")
        msgs = copy.deepcopy(self.msgs) + [{"role": "user", "content": GEMINI_NEXT}]
        return self.llm({"system": self.system, "messages": msgs, "tools": []},
                        jdump({"reasoning": reason, "next_speaker": speaker}).replace('","', '", "').replace('":"', '": "'),
                        [], "STOP", model=self.side_model, stream=False)

    def final(self, text, speaker="user"):
        n = self.turn(text)
        self.next_speaker(speaker)
        return n


# =============================================================================================
# Codex CLI

CODEX_SYSTEM = """You are Codex, based on GPT-5. You are running as a coding agent in the Codex CLI on a user's computer.

## General

- The arguments to `shell` will be passed to execvp(). Most terminal commands should be prefixed with ["bash", "-lc"].
- Always set the `workdir` param when using the shell function. Do not use `cd` unless absolutely necessary.
- When searching for text or files, prefer using `rg` or `rg --files` respectively because `rg` is much faster than alternatives like `grep`.

## Editing constraints

- Default to ASCII when editing or creating files.
- Try to use apply_patch for single file edits, but it is fine to explore other options to make the edit if it does not work well.
- You may be in a dirty git worktree.
    * NEVER revert existing changes you did not make unless explicitly requested, since these changes were made by the user.
- **NEVER** use destructive commands like `git reset --hard` or `git checkout --` unless specifically requested or approved by the user.

## Sandboxing and approvals

The Codex CLI harness supports several different configurations for sandboxing and escalation approvals that the user can choose from.
Filesystem sandboxing defines which files can be read or written. Network sandboxing defines whether network can be accessed without approval.

## Presenting your work and final message

You are producing plain text that will later be styled by the CLI. Follow these rules exactly.
- Default: be very concise; friendly coding teammate tone.
- Ask only when needed; suggest ideas; mirror the user's style.
- For code changes: lead with a quick explanation of the change, and then give more details on the context covering where and why a change was made.
- If there are natural next steps the user may want to take, suggest them at the end of your response.
- Use backticks for commands, paths, env vars, and code identifiers. Headers are optional; use short Title Case headers when they help.
"""

CODEX_TOOLS = [
    {"name": "shell", "description": "Runs a shell command and returns its output.",
     "parameters": {"type": "object", "properties": {"command": {"type": "array", "items": {"type": "string"}}, "workdir": {"type": "string"},
                                                     "timeout_ms": {"type": "number"}, "with_escalated_permissions": {"type": "boolean"},
                                                     "justification": {"type": "string"}}, "required": ["command"], "additionalProperties": False}},
    {"name": "update_plan", "description": "Updates the task plan.",
     "parameters": {"type": "object", "properties": {"explanation": {"type": "string"}, "plan": {"type": "array", "items": {"type": "object", "properties": {
         "step": {"type": "string"}, "status": {"type": "string"}}, "required": ["step", "status"]}}}, "required": ["plan"]}},
    {"name": "apply_patch", "description": "Use the `apply_patch` tool to edit files.",
     "parameters": {"type": "object", "properties": {"input": {"type": "string", "description": "The entire contents of the apply_patch command"}}, "required": ["input"]}},
    {"name": "view_image", "description": "Attach a local image (by filesystem path) to the conversation context for this turn.",
     "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}},
]


class Codex(Agent):
    shape = "codex"
    provider = "openai"
    api = "responses"
    url = "https://api.openai.com/v1/responses"
    model = "gpt-5-codex"
    host = "api.openai.com"
    id_style = "call"
    stop_tools = "completed"
    stop_text = "completed"

    def default_system(self):
        return CODEX_SYSTEM

    def default_tools(self):
        return copy.deepcopy(CODEX_TOOLS)

    def start(self, agents_md=None, sandbox="workspace-write", network="restricted", approval="on-request"):
        s = self.s
        shell = s.root_proc("zsh")
        p0 = s.fork(shell)
        s.exec(p0, "/usr/local/bin/codex", ["/usr/bin/env", "node", "/usr/local/bin/codex"], self.cwd)
        s.exec(p0, "/usr/bin/node", ["node", "/usr/local/bin/codex"], self.cwd)
        noise(s, p0, "node", self.cwd)
        self.bin = "/usr/local/lib/node_modules/@openai/codex/vendor/x86_64-unknown-linux-musl/codex/codex"
        p = s.fork(p0)
        s.exec(p, self.bin, [self.bin], self.cwd)
        self.launcher, self.proc = p0, p
        for f, err in [(f"{s.home}/.codex/config.toml", None), (f"{s.home}/.codex/auth.json", None), (f"{s.home}/.codex/AGENTS.md", "ENOENT"),
                       (f"{self.cwd}/AGENTS.md", None if agents_md else "ENOENT")]:
            s.open(p, f, RO_CX, err=err)
        self.sandbox, self.network = sandbox, network
        self.rollout = f"{s.home}/.codex/sessions/2026/{s.date_path}/rollout-{s.date_iso}-{s.uuid()}.jsonl" if hasattr(s, "date_path") else \
            f"{s.home}/.codex/sessions/2026/03/12/rollout-2026-03-12T10-00-00-{s.uuid()}.jsonl"
        self.api_connect(force=True)
        if agents_md:
            self.msgs.append({"role": "user", "content": f"# AGENTS.md instructions for {self.cwd}\n\n<INSTRUCTIONS>\n{agents_md}\n</INSTRUCTIONS>"})
        self.msgs.append({"role": "user", "content": (
            f"<environment_context>\n  <cwd>{self.cwd}</cwd>\n  <approval_policy>{approval}</approval_policy>\n  <sandbox_mode>{sandbox}</sandbox_mode>\n"
            f"  <network_access>{network}</network_access>\n  <shell>zsh</shell>\n</environment_context>")})

    def task(self, text):
        self.msgs.append({"role": "user", "content": text})
        self.s.ms(2000, 9000)

    follow = task

    def spec(self, c):
        if c.kind == "sh":
            a = {"command": ["bash", "-lc", c.cmd], "workdir": self.cwd}
            if c.timeout:
                a["timeout_ms"] = c.timeout
            return "shell", a
        if c.kind in ("write", "edit"):
            return "apply_patch", {"input": self.patch_text(c)}
        return c.name, c.args

    def patch_text(self, c):
        rel = self.rel(c.path)
        if c.kind == "write":
            body = "\n".join("+" + l for l in c.content.rstrip("\n").split("\n"))
            return f"*** Begin Patch\n*** Add File: {rel}\n{body}\n*** End Patch"
        old = "\n".join("-" + l for l in c.old.split("\n"))
        new = "\n".join("+" + l for l in c.new.split("\n"))
        return f"*** Begin Patch\n*** Update File: {rel}\n@@\n{old}\n{new}\n*** End Patch"

    def do_sh(self, c):
        s = self.s
        pol = jdump({"mode": self.sandbox, "writable_roots": [self.cwd], "network_access": self.network == "enabled",
                     "exclude_tmpdir_env_var": False, "exclude_slash_tmp": False})
        p = s.fork(self.proc)
        s.exec(p, self.bin, ["codex-linux-sandbox", "--sandbox-policy-cwd", self.cwd, "--sandbox-policy", pol, "--", "bash", "-lc", c.cmd], self.cwd)
        progs = c.progs if c.progs is not None else P.auto(s, c.cmd, c.exit, self.cwd, c.fx)
        run_shell(s, None, "/usr/bin/bash", ["bash", "-lc", c.cmd], c.cmd, self.cwd, exit=c.exit, progs=progs, proc=p,
                  pre=[("r", "/etc/profile", RO), ("r", f"{s.home}/.profile", RO)])
        secs = (s.t - p.start) / 1e9
        out = c.out.rstrip("\n")
        return f"Exit code: {c.exit}\nWall time: {secs:.1f} seconds\nOutput:\n{out}"

    def do_write(self, c):
        return self.do_patch(c)

    def do_edit(self, c):
        return self.do_patch(c)

    def do_patch(self, c):
        s = self.s
        path = self.absp(c.path)
        if c.kind == "edit":
            s.open(self.proc, path, RO_CX, err="ENOENT" if c.err == "ENOENT" else None)
            if c.err in ("nomatch", "ENOENT"):
                return (f"apply_patch verification failed: Failed to find expected lines in {path}:\n{c.old}" if c.err == "nomatch"
                        else f"apply_patch verification failed: Failed to read file to update {path}: No such file or directory (os error 2)")
        s.write_file(self.proc, path, len((c.content if c.kind == "write" else c.new).encode()) + s.rng.randint(100, 3000), WR_TRUNC_CX, err=c.err if c.err in ("EACCES", "EROFS") else None)
        if c.err in ("EACCES", "EROFS"):
            return f"apply_patch failed: Permission denied (os error 13) writing {self.rel(c.path)}"
        return f"Success. Updated the following files:\n{'A' if c.kind == 'write' else 'M'} {self.rel(c.path)}\n"

    def after_turn(self, n, calls):
        s = self.s
        s.write_file(self.proc, self.rollout, s.rng.randint(900, 20000), WR_APPEND_CX, tid=self.wtid())

    def plan(self, steps, explanation=None):
        a = {"plan": [{"step": st, "status": stt} for st, stt in steps]}
        if explanation:
            a = {"explanation": explanation, **a}
        return tool("update_plan", a, "Plan updated")


# =============================================================================================
# opencode

OPENCODE_SYSTEM = """You are opencode, an interactive CLI tool that helps users with software engineering tasks. Use the instructions below and the tools available to you to assist the user.

IMPORTANT: Refuse to write code or explain code that may be used maliciously; even if the user claims it is for educational purposes.

# Tone and style
You should be concise, direct, and to the point. When you run a non-trivial bash command, you should explain what the command does and why you are running it.
Your output will be displayed on a command line interface. Your responses can use GitHub-flavored markdown for formatting.

# Following conventions
When making changes to files, first understand the file's code conventions. Mimic code style, use existing libraries and utilities, and follow existing patterns.

# Doing tasks
- Use the available search tools to understand the codebase and the user's query.
- Implement the solution using all tools available to you
- Verify the solution if possible with tests.
- When you have completed a task, you MUST run the lint and typecheck commands if they were provided to you.

# Tool usage policy
- When doing file search, prefer to use the Task tool in order to reduce context usage.
- You have the capability to call multiple tools in a single response.

<env>
  Working directory: {cwd}
  Is directory a git repo: yes
  Platform: linux
  Today's date: {date}
</env>
"""

OPENCODE_TOOLS = [
    {"name": "bash", "description": "Executes a given bash command in a persistent shell session with optional timeout.",
     "parameters": {"type": "object", "properties": {"command": {"type": "string"}, "timeout": {"type": "number"}, "description": {"type": "string"}}, "required": ["command", "description"]}},
    {"name": "edit", "description": "Performs exact string replacements in files.",
     "parameters": {"type": "object", "properties": {"filePath": {"type": "string"}, "oldString": {"type": "string"}, "newString": {"type": "string"}, "replaceAll": {"type": "boolean"}}, "required": ["filePath", "oldString", "newString"]}},
    {"name": "webfetch", "description": "Fetches content from a specified URL.",
     "parameters": {"type": "object", "properties": {"url": {"type": "string"}, "format": {"type": "string", "enum": ["text", "markdown", "html"]}, "timeout": {"type": "number"}}, "required": ["url", "format"]}},
    {"name": "glob", "description": "Fast file pattern matching tool.",
     "parameters": {"type": "object", "properties": {"pattern": {"type": "string"}, "path": {"type": "string"}}, "required": ["pattern"]}},
    {"name": "grep", "description": "Fast content search tool.",
     "parameters": {"type": "object", "properties": {"pattern": {"type": "string"}, "path": {"type": "string"}, "include": {"type": "string"}}, "required": ["pattern"]}},
    {"name": "list", "description": "Lists files and directories in a given path.",
     "parameters": {"type": "object", "properties": {"path": {"type": "string"}, "ignore": {"type": "array", "items": {"type": "string"}}}}},
    {"name": "read", "description": "Reads a file from the local filesystem.",
     "parameters": {"type": "object", "properties": {"filePath": {"type": "string"}, "offset": {"type": "number"}, "limit": {"type": "number"}}, "required": ["filePath"]}},
    {"name": "write", "description": "Writes a file to the local filesystem.",
     "parameters": {"type": "object", "properties": {"content": {"type": "string"}, "filePath": {"type": "string"}}, "required": ["content", "filePath"]}},
    {"name": "todowrite", "description": "Use this tool to create and manage a structured task list for your current coding session.",
     "parameters": {"type": "object", "properties": {"todos": {"type": "array", "items": {"type": "object"}}}, "required": ["todos"]}},
]


class OpenCode(Agent):
    shape = "opencode"
    provider = "anthropic"
    api = "messages"
    url = "https://api.anthropic.com/v1/messages"
    model = "claude-sonnet-4-20250514"
    side_model = "claude-3-5-haiku-20241022"
    host = "api.anthropic.com"
    id_style = "toolu"
    stop_tools = "tool_use"
    stop_text = "end_turn"

    def default_system(self):
        base = OPENCODE_SYSTEM.replace("{cwd}", self.cwd).replace("{date}", getattr(self.s, "date_long", "Thu Mar 12 2026"))
        if getattr(self, "agents_md", None):
            base += f"\nInstructions from: {self.cwd}/AGENTS.md\n{self.agents_md}"
        return base

    def default_tools(self):
        return copy.deepcopy(OPENCODE_TOOLS)

    def start(self):
        s = self.s
        shell = s.root_proc("fish")
        p = s.fork(shell)
        s.exec(p, f"{s.home}/.opencode/bin/opencode", [f"{s.home}/.opencode/bin/opencode"], self.cwd)
        noise(s, p, "c", self.cwd)
        self.proc = p
        for f, err in [(f"{s.home}/.config/opencode/opencode.json", None), (f"{self.cwd}/opencode.json", "ENOENT"),
                       (f"{self.cwd}/AGENTS.md", None if getattr(self, "agents_md", None) else "ENOENT"),
                       (f"{s.home}/.local/share/opencode/auth.json", None)]:
            s.open(p, f, RO_CX, err=err)
        self.ses = "ses_" + s.b62(26)
        self.api_connect(force=True)

    def task(self, text, title=None):
        self.msgs.append({"role": "user", "content": text})
        self.s.ms(1500, 6000)
        if title:
            self.llm({"system": "You are a title generator. You output ONLY a thread title. Nothing else.\n\n<task>\nGenerate a brief title that would help the user find this conversation later.\n</task>",
                      "messages": [{"role": "user", "content": "Generate a title for this conversation:\n"}, {"role": "user", "content": text}], "tools": []},
                     title, [], "end_turn", model=self.side_model, stream=True)

    follow = Agent.user

    def spec(self, c):
        if c.kind == "sh":
            return "bash", {"command": c.cmd, "description": c.desc or "Runs " + c.cmd.split()[0]}
        if c.kind == "read":
            return "read", {"filePath": self.absp(c.path)}
        if c.kind == "write":
            return "write", {"content": c.content, "filePath": self.absp(c.path)}
        if c.kind == "edit":
            return "edit", {"filePath": self.absp(c.path), "oldString": c.old, "newString": c.new}
        return c.name, c.args

    def do_sh(self, c):
        s = self.s
        progs = c.progs if c.progs is not None else P.auto(s, c.cmd, c.exit, self.cwd, c.fx)
        run_shell(s, self.proc, "/usr/bin/bash", ["/usr/bin/bash", "-c", c.cmd], c.cmd, self.cwd, exit=c.exit, progs=progs)
        out = c.out.rstrip("\n")
        return out + (f"\n\n<bash_metadata>\nexit code: {c.exit}\n</bash_metadata>" if c.exit else "")

    def fmt_read(self, c, path):
        if c.err:
            return f"Error: File not found: {path}"
        lines = c.content.rstrip("\n").split("\n")
        return "<file>\n" + "\n".join(f"{i:05d}| {l}" for i, l in enumerate(lines, 1)) + "\n</file>"

    def fmt_write(self, c, path):
        if c.err:
            return f"Error: {c.err}: permission denied, open '{path}'"
        return ""

    def fmt_edit(self, c, path):
        if c.err == "nomatch":
            return "Error: oldString not found in content"
        if c.err:
            return f"Error: {c.err}"
        return ""

    def wflags(self):
        return WR_TRUNC_CX

    def after_turn(self, n, calls):
        s = self.s
        base = f"{s.home}/.local/share/opencode/storage"
        s.write_file(self.proc, f"{base}/message/{self.ses}/msg_{s.b62(26)}.json", s.rng.randint(500, 4000), WR_TRUNC_CX, tid=self.wtid())
        s.write_file(self.proc, f"{base}/part/{self.ses}/prt_{s.b62(26)}.json", s.rng.randint(300, 12000), WR_TRUNC_CX, tid=self.wtid())

    def webfetch(self, url, content):
        import re
        host = re.match(r"https?://([^/]+)", url).group(1)

        def eff(a):
            a.s.connect(a.proc, "127.0.0.53", 53)
            a.s.connect(a.proc, HOSTS.get(host, "104.21.50.12"), 443, err="EINPROGRESS")
            a.s.ms(300, 1500)
        return tool("webfetch", {"url": url, "format": "markdown"}, content, effect=eff)


# =============================================================================================
# a home-grown agent on the OpenAI SDK

CUSTOM_TOOLS = [
    {"name": "run_command", "description": "Run a shell command in the workspace and return its exit code and output.",
     "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}},
    {"name": "read_file", "description": "Read a text file from the workspace.",
     "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}},
    {"name": "write_file", "description": "Create or overwrite a file in the workspace with the given content.",
     "parameters": {"type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}}, "required": ["path", "content"]}},
]


class CustomPy(Agent):
    shape = "custom-python"
    provider = "openai"
    api = "chat"
    url = "https://api.openai.com/v1/chat/completions"
    model = "gpt-4.1"
    host = "api.openai.com"
    stream = False

    def default_tools(self):
        return copy.deepcopy(CUSTOM_TOOLS)

    def start(self, script="agent.py", args=()):
        s = self.s
        shell = s.root_proc("bash")
        p = s.fork(shell)
        s.venv = getattr(s, "venv", None)
        home_agent = getattr(self, "agent_dir", f"{s.home}/tools/agent")
        py = f"{home_agent}/.venv/bin/python3"
        s.exec(p, py, ["python3", script] + list(args), home_agent)
        noise_venv = s.venv
        s.venv = f"{home_agent}/.venv"
        noise(s, p, "py", home_agent)
        s.venv = noise_venv
        s.open(p, f"{home_agent}/{script}", RO_CX)
        for mod in ["openai/__init__.py", "httpx/__init__.py", "pydantic/__init__.py", "anyio/__init__.py", "certifi/cacert.pem"]:
            s.open(p, f"{home_agent}/.venv/lib/python3.12/site-packages/{mod}", RO_CX)
        self.proc = p
        self.agent_dir = home_agent
        self.api_connect(force=True)

    def task(self, text):
        self.msgs.append({"role": "user", "content": text})

    follow = Agent.user

    def request(self):
        msgs = copy.deepcopy(self.msgs)
        return {"system": self.system, "messages": msgs, "tools": copy.deepcopy(self.tools)}

    def spec(self, c):
        if c.kind == "sh":
            return "run_command", {"command": c.cmd}
        if c.kind == "read":
            return "read_file", {"path": c.path}
        if c.kind == "write":
            return "write_file", {"path": c.path, "content": c.content}
        if c.kind == "edit":
            return "write_file", {"path": c.path, "content": c.new}
        return c.name, c.args

    def do_sh(self, c):
        s = self.s
        progs = c.progs if c.progs is not None else P.auto(s, c.cmd, c.exit, self.cwd, c.fx)
        run_shell(s, self.proc, "/usr/bin/bash", ["bash", "-c", c.cmd], c.cmd, self.cwd, exit=c.exit, progs=progs)
        return f"exit code {c.exit}\n{c.out}"

    def do_edit(self, c):
        s = self.s
        path = self.absp(c.path)
        s.write_file(self.proc, path, len(c.new.encode()), 524865, err=c.err if c.err in ("EACCES", "EROFS", "ENOENT") else None)
        return self.fmt_write(c, path)

    def fmt_read(self, c, path):
        if c.err:
            return f"error: [Errno 2] No such file or directory: '{c.path}'"
        return c.content

    def fmt_write(self, c, path):
        if c.err:
            return f"error: [Errno 13] Permission denied: '{c.path}'" if c.err == "EACCES" else f"error: [Errno {abs({'ENOENT': -2, 'EROFS': -30}.get(c.err, -5))}] {c.err}: '{c.path}'"
        n = len((c.content if c.kind == "write" else c.new).encode())
        return f"wrote {n} bytes to {c.path}"


# =============================================================================================
# OpenHands (CodeActAgent, local runtime)

OH_SYSTEM = """You are OpenHands agent, a helpful AI assistant that can interact with a computer to solve tasks.

<ROLE>
Your primary role is to assist users by executing commands, modifying code, and solving technical problems effectively. You should be thorough, methodical, and prioritize quality over speed.
* If the user asks a question, like "why is X happening", don't try to fix the problem. Just give an answer to the question.
</ROLE>

<EFFICIENCY>
* Each action you take is somewhat expensive. Wherever possible, combine multiple actions into a single action.
* When exploring the codebase, use efficient tools like find, grep, and git commands with appropriate filters to minimize unnecessary operations.
</EFFICIENCY>

<FILE_SYSTEM_GUIDELINES>
* When a user provides a file path, do NOT assume it's relative to the current working directory. First explore the file system to locate the file before working on it.
* When editing files, make changes directly to the original file rather than creating new versions with different suffixes.
</FILE_SYSTEM_GUIDELINES>

<VERSION_CONTROL>
* When configuring git credentials, use "openhands" as the user.name and "openhands@all-hands.dev" as the user.email by default.
* Exercise caution with git operations. Do NOT make potentially dangerous changes (e.g., pushing to main, deleting repositories) unless explicitly asked to do so.
</VERSION_CONTROL>

<PROBLEM_SOLVING_WORKFLOW>
1. EXPLORATION: Thoroughly explore relevant files and understand the context before proposing solutions
2. ANALYSIS: Consider multiple approaches and select the most promising one
3. TESTING: For bug fixes, create tests to verify issues before implementing fixes
4. IMPLEMENTATION: Make focused, minimal changes to address the problem
5. VERIFICATION: If the environment is set up to run tests, test your implementation thoroughly, including edge cases.
</PROBLEM_SOLVING_WORKFLOW>

<TROUBLESHOOTING>
* If you've made repeated attempts to solve a problem but tests still fail or the user reports it's still broken, step back and reflect on 5-7 different possible sources of the problem.
</TROUBLESHOOTING>
"""

OH_TOOLS = [
    {"name": "execute_bash", "description": "Execute a bash command in the terminal within a persistent shell session.",
     "parameters": {"type": "object", "properties": {"command": {"type": "string"}, "is_input": {"type": "string", "enum": ["true", "false"]},
                                                     "timeout": {"type": "number"}}, "required": ["command"]}},
    {"name": "think", "description": "Use the tool to think about something. It will not obtain new information or make any changes to the repository, but just log the thought.",
     "parameters": {"type": "object", "properties": {"thought": {"type": "string"}}, "required": ["thought"]}},
    {"name": "finish", "description": "Signals the completion of the current task or conversation.",
     "parameters": {"type": "object", "properties": {"message": {"type": "string"}, "task_completed": {"type": "string", "enum": ["true", "false", "partial"]}}, "required": ["message", "task_completed"]}},
    {"name": "str_replace_editor", "description": "Custom editing tool for viewing, creating and editing files in plain-text format",
     "parameters": {"type": "object", "properties": {"command": {"type": "string", "enum": ["view", "create", "str_replace", "insert", "undo_edit"]},
                                                     "path": {"type": "string"}, "file_text": {"type": "string"}, "old_str": {"type": "string"},
                                                     "new_str": {"type": "string"}, "insert_line": {"type": "integer"}, "view_range": {"type": "array", "items": {"type": "integer"}}},
                    "required": ["command", "path"]}},
]


class OpenHands(Agent):
    shape = "openhands"
    provider = "anthropic"
    api = "messages"
    url = "https://api.anthropic.com/v1/messages"
    model = "claude-sonnet-4-20250514"
    host = "api.anthropic.com"
    id_style = "toolu"
    stop_tools = "tool_use"
    stop_text = "end_turn"
    stream = False

    def default_system(self):
        return OH_SYSTEM

    def default_tools(self):
        return copy.deepcopy(OH_TOOLS)

    def start(self):
        s = self.s
        shell = s.root_proc("bash")
        venv = f"{s.home}/.cache/pypoetry/virtualenvs/openhands-ai-Xk2pQ9aZ-py3.12"
        p = s.fork(shell)
        s.exec(p, f"{venv}/bin/python", ["python", "-m", "openhands.core.main", "-d", self.cwd, "-f", "task.txt"], f"{s.home}/OpenHands")
        keep = getattr(s, "venv", None)
        s.venv = venv
        noise(s, p, "py", self.cwd)
        for mod in ["openhands/__init__.py", "litellm/__init__.py", "libtmux/__init__.py"]:
            s.open(p, f"{s.home}/OpenHands/{mod}" if mod.startswith("openhands") else f"{venv}/lib/python3.12/site-packages/{mod}", RO_CX)
        s.open(p, f"{s.home}/OpenHands/config.toml", RO_CX)
        self.proc = p
        self.port = 443
        self.rport = s.rng.randint(30000, 39999)
        srv = s.fork(p)
        s.exec(srv, f"{venv}/bin/python", ["python", "-u", "-m", "openhands.runtime.action_execution_server", str(self.rport), "--working-dir", self.cwd,
                                          "--plugins", "agent_skills", "jupyter", "--username", s.user, "--user-id", str(s.uid)], f"{s.home}/OpenHands")
        noise(s, srv, "py", self.cwd)
        s.venv = keep
        self.srv = srv
        tm = s.fork(srv)
        s.exec(tm, "/usr/bin/tmux", ["tmux", "-L", "openhands", "new-session", "-d", "-s", f"openhands-{s.user}-{s.hex(6)}", "-x", "1000", "-y", "1000"], self.cwd)
        srvd = s.fork(tm)  # the tmux server daemonises
        s.exit(tm, 0)
        srvd.comm = "tmux: server"
        b = s.fork(srvd)
        s.exec(b, "/usr/bin/bash", ["/bin/bash"], self.cwd)
        noise(s, b, "bash", self.cwd)
        s.open(b, f"{s.home}/.bashrc", RO)
        self.bash = b
        self.tmux = srvd
        self.sid_ = s.hex(32)
        s.connect(p, "127.0.0.1", self.rport, err="EINPROGRESS")
        self.api_connect(force=True)

    def task(self, text, repo_info=None):
        if repo_info:
            self.msgs.append({"role": "user", "content": text + "\n\n<REPOSITORY_INSTRUCTIONS>\n" + repo_info + "\n</REPOSITORY_INSTRUCTIONS>"})
        else:
            self.msgs.append({"role": "user", "content": text})

    follow = Agent.user

    def spec(self, c):
        if c.kind == "sh":
            return "execute_bash", {"command": c.cmd, "is_input": "false"}
        if c.kind == "read":
            return "str_replace_editor", {"command": "view", "path": self.absp(c.path)}
        if c.kind == "write":
            return "str_replace_editor", {"command": "create", "path": self.absp(c.path), "file_text": c.content}
        if c.kind == "edit":
            return "str_replace_editor", {"command": "str_replace", "path": self.absp(c.path), "old_str": c.old, "new_str": c.new}
        return c.name, c.args

    def file_proc(self):
        return self.srv

    def rpc(self):
        self.s.connect(self.proc, "127.0.0.1", self.rport, err="EINPROGRESS")

    def do(self, c):
        if c.kind != "tool" or c.name != "think":
            self.rpc()
        return super().do(c)

    def do_sh(self, c):
        s = self.s
        t = s.fork(self.srv)
        s.exec(t, "/usr/bin/tmux", ["tmux", "-L", "openhands", "send-keys", "-t", "openhands", c.cmd, "Enter"], self.cwd)
        s.exit(t, 0)
        progs = c.progs if c.progs is not None else P.auto(s, c.cmd, c.exit, self.cwd, c.fx)
        for pr in progs:
            if not pr.builtin:
                run(s, self.bash, pr, self.cwd)
        t = s.fork(self.srv)
        s.exec(t, "/usr/bin/tmux", ["tmux", "-L", "openhands", "capture-pane", "-p", "-J", "-t", "openhands", "-S", "-1000"], self.cwd)
        s.exit(t, 0)
        out = c.out.rstrip("\n")
        return f"{out}\n[The command completed with exit code {c.exit}.]\n[Current working directory: {self.cwd}]\n[Python interpreter: /usr/bin/python3]\n[Command finished with exit code {c.exit}]"

    def fmt_read(self, c, path):
        if c.err:
            return f"ERROR:\nInvalid `path` parameter: {path}. The path {path} does not exist. Please provide a valid path."
        return f"Here's the result of running `cat -n` on {path}:\n" + cat_n(c.content)

    def fmt_write(self, c, path):
        if c.err:
            return f"ERROR:\nRan into [Errno 13] Permission denied: '{path}' while trying to write to {path}"
        return f"File created successfully at: {path}"

    def fmt_edit(self, c, path):
        if c.err == "nomatch":
            return f"ERROR:\nNo replacement was performed, old_str `{c.old}` did not appear verbatim in {path}."
        if c.err:
            return f"ERROR:\nRan into [Errno 13] Permission denied: '{path}' while trying to write to {path}"
        return (f"The file {path} has been edited. Here's the result of running `cat -n` on a snippet of {path}:\n" + cat_n(c.new, self.s.rng.randint(5, 90))
                + "\nReview the changes and make sure they are as expected. Edit the file again if necessary.")

    def think(self, thought):
        return tool("think", {"thought": thought}, "Your thought has been logged.")

    def finish(self, message, completed="true"):
        return tool("finish", {"message": message, "task_completed": completed}, "")

    def after_turn(self, n, calls):
        s = self.s
        s.write_file(self.proc, f"{s.home}/.openhands/sessions/{getattr(self, 'sid_', 'a1b2')}/events/{n}.json", s.rng.randint(500, 9000), WR_TRUNC_CX, tid=self.wtid())

    def final_finish(self, text, message, completed="true"):
        """A finish call ends the run: no tool result follows."""
        req = self.request()
        name, args = "finish", {"message": message, "task_completed": completed}
        tc = {"id": self.new_id(name), "name": name, "arguments": args}
        n = self.llm(req, text, [tc], "tool_use")
        self.msgs.append(self.assistant_msg(text, [tc]))
        self.after_turn(n, [])
        return n


# =============================================================================================
# Cline (VS Code extension, native tool calling)

CLINE_SYSTEM = """You are Cline, a highly skilled software engineer with extensive knowledge in many programming languages, frameworks, design patterns, and best practices.

====

TOOL USE

You have access to a set of tools that are executed upon the user's approval. You can use one tool per message, and will receive the result of that tool use in the user's response. You use tools step-by-step to accomplish a given task, with each tool use informed by the result of the previous tool use.

====

RULES

- Your current working directory is: {cwd}
- You cannot `cd` into a different directory to complete a task. You are stuck operating from '{cwd}', so be sure to pass in the correct 'path' parameter when using tools that require a path.
- Do not use the ~ character or $HOME to refer to the home directory.
- Before using the execute_command tool, you must first think about the SYSTEM INFORMATION context provided to understand the user's environment and tailor your commands to ensure they are compatible with their system.
- When making changes to code, always consider the context in which the code is being used. Ensure that your changes are compatible with the existing codebase and that they follow the project's coding standards and best practices.
- Do not ask for more information than necessary. Use the tools provided to accomplish the user's request efficiently and effectively. When you've completed your task, you must use the attempt_completion tool to present the result to the user.
- Your goal is to try to accomplish the user's task, NOT engage in a back and forth conversation.
- NEVER end attempt_completion result with a question or request to engage in further conversation!

====

SYSTEM INFORMATION

Operating System: Linux 6.8
Default Shell: /bin/bash
Home Directory: {home}
Current Working Directory: {cwd}

====

USER'S CUSTOM INSTRUCTIONS

The following additional instructions are provided by the user, and should be followed to the best of your ability without interfering with the TOOL USE guidelines.

# .clinerules/

{rules}"""

CLINE_TOOLS = [
    {"name": "execute_command", "description": "Request to execute a CLI command on the system.",
     "parameters": {"type": "object", "properties": {"command": {"type": "string"}, "requires_approval": {"type": "boolean"}}, "required": ["command", "requires_approval"]}},
    {"name": "read_file", "description": "Request to read the contents of a file at the specified path.",
     "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}},
    {"name": "write_to_file", "description": "Request to write content to a file at the specified path.",
     "parameters": {"type": "object", "properties": {"path": {"type": "string"}, "content": {"type": "string"}}, "required": ["path", "content"]}},
    {"name": "replace_in_file", "description": "Request to replace sections of content in an existing file using SEARCH/REPLACE blocks.",
     "parameters": {"type": "object", "properties": {"path": {"type": "string"}, "diff": {"type": "string"}}, "required": ["path", "diff"]}},
    {"name": "search_files", "description": "Request to perform a regex search across files in a specified directory.",
     "parameters": {"type": "object", "properties": {"path": {"type": "string"}, "regex": {"type": "string"}, "file_pattern": {"type": "string"}}, "required": ["path", "regex"]}},
    {"name": "list_files", "description": "Request to list files and directories within the specified directory.",
     "parameters": {"type": "object", "properties": {"path": {"type": "string"}, "recursive": {"type": "boolean"}}, "required": ["path"]}},
    {"name": "ask_followup_question", "description": "Ask the user a question to gather additional information needed to complete the task.",
     "parameters": {"type": "object", "properties": {"question": {"type": "string"}, "options": {"type": "array", "items": {"type": "string"}}}, "required": ["question"]}},
    {"name": "attempt_completion", "description": "Once you've confirmed that the task is complete, use this tool to present the result of your work to the user.",
     "parameters": {"type": "object", "properties": {"result": {"type": "string"}, "command": {"type": "string"}}, "required": ["result"]}},
]


class VsCodeAgent(Agent):
    """An agent living in a VS Code extension host; commands run in the integrated terminal."""

    def start_vscode(self):
        s = self.s
        main = s.root_proc("code")
        eh = s.fork(main)
        s.exec(eh, "/usr/share/code/code", ["/usr/share/code/code", "--type=utility", "--utility-sub-type=node.mojom.NodeService",
                                           "--lang=en-US", "--service-sandbox-type=none", "--dns-result-order=ipv4first",
                                           "--inspect-port=0", "--shared-files"], self.cwd)
        noise(s, eh, "node", self.cwd)
        pty = s.fork(main)
        s.exec(pty, "/usr/share/code/code", ["/usr/share/code/code", "--type=utility", "--utility-sub-type=node.mojom.NodeService",
                                            "--lang=en-US", "--service-sandbox-type=none", "--shared-files", "ptyHost"], self.cwd)
        term = s.fork(pty)
        s.exec(term, "/usr/bin/bash", ["/usr/bin/bash", "--init-file", "/usr/share/code/resources/app/out/vs/workbench/contrib/terminal/common/scripts/shellIntegration-bash.sh"], self.cwd)
        noise(s, term, "bash", self.cwd)
        s.open(term, f"{s.home}/.bashrc", RO)
        self.proc, self.term = eh, term
        self.api_connect(force=True)

    def run_in_terminal(self, c):
        s = self.s
        progs = c.progs if c.progs is not None else P.auto(s, c.cmd, c.exit, self.cwd, c.fx)
        for pr in progs:
            if not pr.builtin:
                run(s, self.term, pr, self.cwd)
        s.ms(50, 400)


class Cline(VsCodeAgent):
    shape = "cline"
    provider = "anthropic"
    api = "messages"
    url = "https://api.anthropic.com/v1/messages"
    model = "claude-sonnet-4-5-20250929"
    host = "api.anthropic.com"
    id_style = "toolu"
    stop_tools = "tool_use"
    stop_text = "end_turn"

    def default_system(self):
        return CLINE_SYSTEM.replace("{cwd}", self.cwd).replace("{home}", self.s.home).replace("{rules}", getattr(self, "rules", "") or "(none)")

    def default_tools(self):
        return copy.deepcopy(CLINE_TOOLS)

    def start(self):
        self.start_vscode()
        s = self.s
        self.taskdir = f"{s.home}/.config/Code/User/globalStorage/saoudrizwan.claude-dev/tasks/{s.rng.randint(1772000000000, 1773999999999)}"
        s.mkdir(self.proc, self.taskdir)
        if getattr(self, "rules", None):
            s.open(self.proc, f"{self.cwd}/.clinerules", DIR_CX)
            s.open(self.proc, f"{self.cwd}/.clinerules/project.md", RO_CX)

    def env_details(self, extra=""):
        files = getattr(self, "visible", "")
        return (f"<environment_details>\n# VSCode Visible Files\n{files}\n\n# VSCode Open Tabs\n{files}\n\n# Current Time\n{getattr(self.s, 'date_long', '3/12/2026')}\n\n"
                f"# Current Mode\nACT MODE\n{extra}</environment_details>")

    def task(self, text):
        self.msgs.append({"role": "user", "content": f"<task>\n{text}\n</task>\n" + self.env_details(
            f"\n# Current Working Directory ({self.cwd}) Files\n{getattr(self, 'files', '')}\n")})

    def follow(self, text):
        self.msgs.append({"role": "user", "content": f"<feedback>\n{text}\n</feedback>\n" + self.env_details()})
        self.s.ms(5000, 40000)

    def spec(self, c):
        if c.kind == "sh":
            return "execute_command", {"command": c.cmd, "requires_approval": bool(getattr(c, "approval", False))}
        if c.kind == "read":
            return "read_file", {"path": self.rel(c.path)}
        if c.kind == "write":
            return "write_to_file", {"path": self.rel(c.path), "content": c.content}
        if c.kind == "edit":
            return "replace_in_file", {"path": self.rel(c.path), "diff": f"------- SEARCH\n{c.old}\n=======\n{c.new}\n+++++++ REPLACE"}
        return c.name, c.args

    def tool_msg(self, tc, content):
        return {"role": "tool", "content": content, "tool_call_id": tc["id"]}

    def do_sh(self, c):
        self.run_in_terminal(c)
        out = c.out.rstrip("\n")
        code = f"\nExit code: {c.exit}" if c.exit else ""
        return f"[execute_command for '{c.cmd}'] Result:\nCommand executed.{code}\nOutput:\n{out}"

    def fmt_read(self, c, path):
        return f"[read_file for '{self.rel(c.path)}'] Result:\n" + (c.content if not c.err else f"Error reading file: ENOENT: no such file or directory, open '{path}'")

    def fmt_write(self, c, path):
        if c.err:
            return f"[write_to_file for '{self.rel(c.path)}'] Result:\nError writing file: {c.err}: permission denied, open '{path}'"
        return (f"[write_to_file for '{self.rel(c.path)}'] Result:\nThe content was successfully saved to {self.rel(c.path)}.\n\n"
                f"Here is the full, updated content of the file that was saved:\n\n<final_file_content path=\"{self.rel(c.path)}\">\n{c.content}\n</final_file_content>")

    def fmt_edit(self, c, path):
        if c.err == "nomatch":
            return (f"[replace_in_file for '{self.rel(c.path)}'] Result:\nThe tool execution failed with the following error:\n<error>\n"
                    f"The SEARCH block:\n{c.old}\n...does not match anything in the file.\n</error>")
        return f"[replace_in_file for '{self.rel(c.path)}'] Result:\nThe content was successfully saved to {self.rel(c.path)}."

    def after_turn(self, n, calls):
        s = self.s
        s.write_file(self.proc, f"{self.taskdir}/api_conversation_history.json", s.rng.randint(8000, 90000), WR_TRUNC, tid=self.wtid())
        s.write_file(self.proc, f"{self.taskdir}/ui_messages.json", s.rng.randint(4000, 40000), WR_TRUNC, tid=self.wtid())

    def complete(self, result, command=None):
        a = {"result": result}
        if command:
            a["command"] = command
        return tool("attempt_completion", a, "")

    def final_complete(self, text, result):
        req = self.request()
        tc = {"id": self.new_id("attempt_completion"), "name": "attempt_completion", "arguments": {"result": result}}
        n = self.llm(req, text, [tc], "tool_use")
        self.msgs.append(self.assistant_msg(text, [tc]))
        self.after_turn(n, [])
        return n


# =============================================================================================
# A Copilot-style agent mode (OpenAI-compatible endpoint, VS Code)

COPILOT_SYSTEM = """You are an AI programming assistant.
When asked for your name, you must respond with "GitHub Copilot".
Follow the user's requirements carefully & to the letter.
You are a highly sophisticated automated coding agent with expert-level knowledge across many different programming languages and frameworks.
The user will ask a question, or ask you to perform a task, and it may require lots of research to answer correctly. There is a selection of tools that let you perform actions or retrieve helpful context to answer the user's question.
If you can infer the project type (languages, frameworks, and libraries) from the user's query or the context that you have, make sure to keep them in mind when making changes.
Don't make assumptions about the situation- gather context first, then perform the task or answer the question.
Think creatively and explore the workspace in order to make a complete fix.
Don't repeat yourself after a tool call, pick up where you left off.
NEVER print out a codeblock with a terminal command to run unless the user asked for it. Use the run_in_terminal tool instead.
<toolUseInstructions>
When using a tool, follow the json schema very carefully and make sure to include ALL required properties.
No need to ask permission before using a tool.
When using the read_file tool, prefer reading a large section over calling the read_file tool many times in sequence.
Don't call the run_in_terminal tool multiple times in parallel. Instead, run one command and wait for the output before running the next command.
</toolUseInstructions>
<editFileInstructions>
Don't try to edit an existing file without reading it first, so you can make changes properly.
Use the insert_edit_into_file tool to edit files. When editing files, group your changes by file.
</editFileInstructions>
"""

COPILOT_TOOLS = [
    {"name": "run_in_terminal", "description": "Run a shell command in a terminal. State is persistent across tool calls.",
     "parameters": {"type": "object", "properties": {"command": {"type": "string"}, "explanation": {"type": "string"}, "isBackground": {"type": "boolean"}},
                    "required": ["command", "explanation", "isBackground"]}},
    {"name": "get_terminal_output", "description": "Get the output of a terminal command previously started with run_in_terminal",
     "parameters": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}},
    {"name": "read_file", "description": "Read the contents of a file.",
     "parameters": {"type": "object", "properties": {"filePath": {"type": "string"}, "startLine": {"type": "number"}, "endLine": {"type": "number"}},
                    "required": ["filePath", "startLine", "endLine"]}},
    {"name": "insert_edit_into_file", "description": "Insert new code into an existing file in the workspace.",
     "parameters": {"type": "object", "properties": {"explanation": {"type": "string"}, "filePath": {"type": "string"}, "code": {"type": "string"}},
                    "required": ["explanation", "filePath", "code"]}},
    {"name": "create_file", "description": "Create a new file in the workspace.",
     "parameters": {"type": "object", "properties": {"filePath": {"type": "string"}, "content": {"type": "string"}}, "required": ["filePath", "content"]}},
    {"name": "file_search", "description": "Search for files in the workspace by glob pattern.",
     "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}},
    {"name": "get_errors", "description": "Get any compile or lint errors in a code file.",
     "parameters": {"type": "object", "properties": {"filePaths": {"type": "array", "items": {"type": "string"}}}, "required": ["filePaths"]}},
]


class Copilot(VsCodeAgent):
    shape = "copilot-agent"
    provider = "unknown"
    api = "chat"
    url = "https://api.githubcopilot.com/chat/completions"
    model = "gpt-4.1"
    host = "api.githubcopilot.com"
    id_style = "call"

    def default_system(self):
        base = COPILOT_SYSTEM
        if getattr(self, "instructions", None):
            base += ("\n<instructions>\n<attachment filePath=\"" + self.cwd + "/.github/copilot-instructions.md\">\n" + self.instructions + "\n</attachment>\n</instructions>")
        return base

    def default_tools(self):
        return copy.deepcopy(COPILOT_TOOLS)

    def start(self):
        self.start_vscode()
        if getattr(self, "instructions", None):
            self.s.open(self.proc, f"{self.cwd}/.github/copilot-instructions.md", RO_CX)

    def task(self, text):
        ctx = (f"<context>\nThe current date is {getattr(self.s, 'date_long', 'March 12, 2026')}.\nMy current OS is: Linux\n"
               f"I am working in a workspace with the following folders:\n- {self.cwd} \n</context>\n"
               f"<editorContext>\nThe user's current file is {self.cwd}/{getattr(self, 'current_file', 'README.md')}. \n</editorContext>\n")
        self.msgs.append({"role": "user", "content": ctx + "<userRequest>\n" + text + "\n</userRequest>"})

    def follow(self, text):
        self.msgs.append({"role": "user", "content": "<userRequest>\n" + text + "\n</userRequest>"})
        self.s.ms(5000, 40000)

    def spec(self, c):
        if c.kind == "sh":
            expl = c.desc or self.s.rng.choice(["Run the command in the workspace.", f"Running `{c.cmd.split()[0]}` to check the current state.",
                                                "Execute this in the project root.", f"Run {c.cmd.split()[0]} and inspect the output."])
            return "run_in_terminal", {"command": c.cmd, "explanation": expl, "isBackground": bool(c.bg)}
        if c.kind == "read":
            n = c.content.count("\n") + 1
            return "read_file", {"filePath": self.absp(c.path), "startLine": 1, "endLine": max(n, 40)}
        if c.kind == "write":
            return "create_file", {"filePath": self.absp(c.path), "content": c.content}
        if c.kind == "edit":
            return "insert_edit_into_file", {"explanation": getattr(c, "why", None) or self.s.rng.choice(["Apply the fix.", f"Update {posixpath.basename(c.path)}.", "Make the change described above."]),
                                             "filePath": self.absp(c.path),
                                             "code": "// ...existing code...\n" + c.new + "\n// ...existing code..."}
        return c.name, c.args

    def do_sh(self, c):
        self.run_in_terminal(c)
        out = c.out.rstrip("\n")
        return out + (f"\n\nCommand exited with code {c.exit}" if c.exit else "")

    def fmt_read(self, c, path):
        if c.err:
            return f"File not found: {path}"
        return "```\n" + c.content.rstrip("\n") + "\n```"

    def fmt_write(self, c, path):
        if c.err:
            return f"Failed to create file {path}: {c.err}"
        return f"The following files were successfully edited:\n{path}"

    def fmt_edit(self, c, path):
        if c.err:
            return f"Failed to edit {path}: {c.err}"
        return f"The following files were successfully edited:\n{path}"

    def after_turn(self, n, calls):
        s = self.s
        s.write_file(self.proc, f"{s.home}/.config/Code/User/workspaceStorage/{getattr(self, 'ws', 'e3b0c44298fc1c14')}/GitHub.copilot-chat/chat-session-resources.json",
                     s.rng.randint(2000, 20000), WR_TRUNC, tid=self.wtid())


# =============================================================================================
# A Continue-style agent (JetBrains, self-hosted OpenAI-compatible model)

CONTINUE_SYSTEM = """<important_rules>
  You are in agent mode.

  Always include the language and file name in the info string when you write code blocks.
  If you are editing "src/main.py" for example, your code block should start with '```python src/main.py'

  For larger codeblocks (>20 lines), use brief language-appropriate placeholders for unmodified sections, e.g. '// ... existing code ...'

  However, only output codeblocks for suggestion and demonstration purposes, for example, when enumerating multiple hypothetical options. For implementing changes, use the edit tools.
</important_rules>
"""

CONTINUE_TOOLS = [
    {"name": "builtin_read_file", "description": "Use this tool if you need to view the contents of an existing file.",
     "parameters": {"type": "object", "properties": {"filepath": {"type": "string"}}, "required": ["filepath"]}},
    {"name": "builtin_create_new_file", "description": "Create a new file. Only use this when a file doesn't exist and should be created",
     "parameters": {"type": "object", "properties": {"filepath": {"type": "string"}, "contents": {"type": "string"}}, "required": ["filepath", "contents"]}},
    {"name": "builtin_run_terminal_command", "description": "Run a terminal command in the current directory. The shell is not stateful and will not remember any previous commands.",
     "parameters": {"type": "object", "properties": {"command": {"type": "string"}, "waitForCompletion": {"type": "boolean"}}, "required": ["command"]}},
    {"name": "builtin_file_glob_search", "description": "Search for files recursively in the project using glob patterns.",
     "parameters": {"type": "object", "properties": {"pattern": {"type": "string"}}, "required": ["pattern"]}},
    {"name": "builtin_grep_search", "description": "Perform a search over the repository using ripgrep.",
     "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}},
    {"name": "builtin_edit_existing_file", "description": "Use this tool to edit an existing file.",
     "parameters": {"type": "object", "properties": {"filepath": {"type": "string"}, "changes": {"type": "string"}}, "required": ["filepath", "changes"]}},
    {"name": "builtin_ls", "description": "List files and folders in a given directory",
     "parameters": {"type": "object", "properties": {"dirPath": {"type": "string"}, "recursive": {"type": "boolean"}}}},
]


class Continue(Agent):
    shape = "continue-agent"
    provider = "unknown"
    api = "chat"
    url = "https://llm.internal.example:8443/v1/chat/completions"
    model = "Qwen2.5-Coder-32B-Instruct"
    host = "llm.internal.example"
    port = 8443
    id_style = "call"

    def default_system(self):
        base = CONTINUE_SYSTEM
        if getattr(self, "rules", None):
            base += "\n" + self.rules
        return base

    def default_tools(self):
        return copy.deepcopy(CONTINUE_TOOLS)

    def start(self):
        s = self.s
        ide = s.root_proc("java")
        p = s.fork(ide)
        binp = f"{s.home}/.continue/index/continue-binary/bin/linux-x64/continue-binary"
        s.exec(p, binp, [binp], f"{s.home}/.continue")
        noise(s, p, "c", self.cwd)
        for f in [f"{s.home}/.continue/config.yaml", f"{s.home}/.continue/.continuerc.json", f"{self.cwd}/.continue/rules"]:
            s.open(p, f, RO_CX if not f.endswith("rules") else DIR_CX, err="ENOENT" if f.endswith(".json") else None)
        s.open(p, f"{s.home}/.continue/index/index.sqlite", 524290)
        self.proc = p
        self.api_connect(force=True)

    def task(self, text):
        self.msgs.append({"role": "user", "content": text})

    follow = Agent.user

    def spec(self, c):
        if c.kind == "sh":
            return "builtin_run_terminal_command", {"command": c.cmd, "waitForCompletion": True}
        if c.kind == "read":
            return "builtin_read_file", {"filepath": self.rel(c.path)}
        if c.kind == "write":
            return "builtin_create_new_file", {"filepath": self.rel(c.path), "contents": c.content}
        if c.kind == "edit":
            return "builtin_edit_existing_file", {"filepath": self.rel(c.path), "changes": "// ... existing code ...\n" + c.new + "\n// ... existing code ..."}
        return c.name, c.args

    def do_sh(self, c):
        s = self.s
        progs = c.progs if c.progs is not None else P.auto(s, c.cmd, c.exit, self.cwd, c.fx)
        run_shell(s, self.proc, "/bin/sh", ["/bin/sh", "-c", c.cmd], c.cmd, self.cwd, exit=c.exit, progs=progs, libs="sh")
        out = c.out.rstrip("\n")
        return f"Terminal output:\n```\n{out}\n```" + (f"\nThe command exited with status {c.exit}." if c.exit else "")

    def fmt_read(self, c, path):
        return c.content if not c.err else f"File {self.rel(c.path)} does not exist"

    def fmt_write(self, c, path):
        return f"Created {self.rel(c.path)}" if not c.err else f"Error: could not create {self.rel(c.path)} ({c.err})"

    def fmt_edit(self, c, path):
        return f"Applied edit to {self.rel(c.path)}" if not c.err else f"Error: could not edit {self.rel(c.path)} ({c.err})"

    def wflags(self):
        return WR_TRUNC

    def after_turn(self, n, calls):
        s = self.s
        s.write_file(self.proc, f"{s.home}/.continue/sessions/{getattr(self, 'sess_id', 'session')}.json", s.rng.randint(3000, 60000), WR_TRUNC, tid=self.wtid())


# =============================================================================================
# aider (no tools: SEARCH/REPLACE blocks in the reply; aider applies them, lints, tests, commits)

AIDER_SYSTEM = """Act as an expert software developer.
Always use best practices when coding.
Respect and use existing conventions, libraries, etc that are already present in the code base.
{lang}
Take requests for changes to the supplied code.
If the request is ambiguous, ask questions.

Always reply to the user in {reply_lang}.

Once you understand the request you MUST:

1. Decide if you need to propose *SEARCH/REPLACE* edits to any files that haven't been added to the chat. You can create new files without asking!

But if you need to propose edits to existing files not already added to the chat, you *MUST* tell the user their full path names and ask them to *add the files to the chat*.
End your reply and wait for their approval.
You can keep asking if you then decide you need to edit more files.

2. Think step-by-step and explain the needed changes in a few short sentences.

3. Describe each change with a *SEARCH/REPLACE block* per the examples below.

All changes to files must use this *SEARCH/REPLACE block* format.
ONLY EVER RETURN CODE IN A *SEARCH/REPLACE BLOCK*!

4. *Concisely* suggest any shell commands the user might want to run in ```bash blocks.

# *SEARCH/REPLACE block* Rules:

Every *SEARCH/REPLACE block* must use this format:
1. The *FULL* file path alone on a line, verbatim. No bold asterisks, no quotes around it, no escaping of characters, etc.
2. The opening fence and code language, eg: ```python
3. The start of search block: <<<<<<< SEARCH
4. A contiguous chunk of lines to search for in the existing source code
5. The dividing line: =======
6. The lines to replace into the source code
7. The end of the replace block: >>>>>>> REPLACE
8. The closing fence: ```

Every *SEARCH* section must *EXACTLY MATCH* the existing file content, character for character, including all comments, docstrings, etc.
*SEARCH/REPLACE* blocks will *only* replace the first match occurrence.
Keep *SEARCH/REPLACE* blocks concise.
Only create *SEARCH/REPLACE* blocks for files that the user has added to the chat!
"""

AIDER_EXAMPLES = [
    {"role": "user", "content": "Change get_factorial() to use math.factorial"},
    {"role": "assistant", "content": "To make this change we need to modify `mathweb/flask/app.py` to:\n\n1. Import the math package.\n2. Remove the existing factorial() function.\n3. Update get_factorial() to call math.factorial instead.\n\nHere are the *SEARCH/REPLACE* blocks:\n\nmathweb/flask/app.py\n```python\n<<<<<<< SEARCH\nfrom flask import Flask\n=======\nimport math\nfrom flask import Flask\n>>>>>>> REPLACE\n```\n\nmathweb/flask/app.py\n```python\n<<<<<<< SEARCH\n    return str(factorial(n))\n=======\n    return str(math.factorial(n))\n>>>>>>> REPLACE\n```"},
    {"role": "user", "content": "I switched to a new code base. Please don't consider the above files or try to edit them any longer."},
    {"role": "assistant", "content": "Ok."},
]


def blk(path, search, replace, lang="python"):
    return f"{path}\n```{lang}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n```"


class Aider(Agent):
    shape = "aider"
    provider = "anthropic"
    api = "messages"
    url = "https://api.anthropic.com/v1/messages"
    model = "claude-sonnet-4-20250514"
    side_model = "claude-3-5-haiku-20241022"
    host = "api.anthropic.com"
    stop_text = "end_turn"

    def default_system(self):
        return AIDER_SYSTEM.replace("{lang}", getattr(self, "lang_note", "")).replace("{reply_lang}", getattr(self, "reply_lang", "the same language they are using"))

    def start(self, files, read_only=None, repo_map="", test_cmd=None, lint_cmd=None, auto_commit=True):
        s = self.s
        shell = s.root_proc("bash")
        p = s.fork(shell)
        venv = f"{s.home}/.local/share/pipx/venvs/aider-chat"
        exe = f"{s.home}/.local/bin/aider"
        args = ["--model", "sonnet"] + (["--test-cmd", test_cmd, "--auto-test"] if test_cmd else []) + list(files)
        s.exec(p, exe, [f"{venv}/bin/python", exe] + args, self.cwd)
        keep = getattr(s, "venv", None)
        s.venv = venv
        noise(s, p, "py", self.cwd)
        s.venv = keep
        self.proc = p
        for f, err in [(f"{s.home}/.aider.conf.yml", "ENOENT"), (f"{self.cwd}/.aider.conf.yml", "ENOENT"), (f"{self.cwd}/.env", "ENOENT"),
                       (f"{self.cwd}/.aiderignore", "ENOENT"), (f"{s.home}/.aider/caches/model_prices_and_context_window.json", None)]:
            s.open(p, f, RO_CX, err=err)
        for g in (["git", "rev-parse", "--show-toplevel"], ["git", "cat-file", "--batch-check"], ["git", "ls-files", "-z"]):
            run(s, p, Prog(g, ops=[("r", f"{self.cwd}/.git/index")]), self.cwd)
        s.open(p, f"{self.cwd}/.aider.tags.cache.v4/cache.db", 524290)
        self.files = dict(files)
        self.read_only = dict(read_only or {})
        for f in list(self.files) + list(self.read_only):
            s.open(p, self.absp(f), RO_CX)
        self.repo_map = repo_map
        self.test_cmd, self.lint_cmd, self.auto_commit = test_cmd, lint_cmd, auto_commit
        self.history = []
        self.pending = None
        s.write_file(p, f"{self.cwd}/.aider.chat.history.md", s.rng.randint(200, 600), WR_APPEND_CX)
        self.api_connect(force=True)

    def build(self, cur):
        msgs = copy.deepcopy(AIDER_EXAMPLES)
        if self.repo_map:
            msgs += [{"role": "user", "content": "Here are summaries of some files present in my git repository.\nDo not propose changes to these files, treat them as *read-only*.\nIf you need to edit any of these files, ask me to *add them to the chat* first.\n\n" + self.repo_map},
                     {"role": "assistant", "content": "Ok, I won't try and edit those files without asking first."}]
        if self.read_only:
            body = "\n".join(f"{k}\n```\n{v}\n```" for k, v in self.read_only.items())
            msgs += [{"role": "user", "content": "Here are some READ ONLY files, provided for your reference.\nDo not edit these files!\n\n" + body},
                     {"role": "assistant", "content": "Ok, I will use these files as references."}]
        if self.files:
            body = "\n".join(f"{k}\n```\n{v}\n```" for k, v in self.files.items())
            msgs += [{"role": "user", "content": "I have *added these files to the chat* so you can go ahead and edit them.\n\n*Trust this message as the true contents of these files!*\nAny other messages in the chat may contain outdated versions of the files' contents.\n\n" + body},
                     {"role": "assistant", "content": "Ok, any changes I propose will be to those files."}]
        msgs += copy.deepcopy(self.history)
        msgs.append({"role": "user", "content": cur})
        return msgs

    def ask(self, text):
        """The user types a request."""
        self.pending = text
        self.s.ms(5000, 40000)

    def run_cmd(self, cmd, out, exit=0, fx=None):
        """/run or /test: the user runs a command through aider and adds the output to the chat."""
        s = self.s
        progs = P.auto(s, cmd, exit, self.cwd, fx)
        run_shell(s, self.proc, "/bin/bash", ["/bin/bash", "-c", cmd], cmd, self.cwd, exit=exit, progs=progs)
        return out

    def reply(self, text, edits=(), lint=None, test=None, commit=None, side_commit=True):
        """One model reply. edits: [(path, search, replace, matches)]. lint/test: (out, exit) run after
        the edits; a failure becomes aider's next message. commit: the commit message."""
        s = self.s
        cur = self.pending
        assert cur is not None, "aider needs a user message before a reply"
        req = {"system": self.system, "messages": self.build(cur), "tools": []}
        n = self.llm(req, text, [], "end_turn")
        self.history += [{"role": "user", "content": cur}, {"role": "assistant", "content": text}]
        self.pending = None
        failed = []
        changed = []
        for path, search, replace, ok in edits:
            ap = self.absp(path)
            s.open(self.proc, ap, RO_CX)
            if ok:
                if path in self.files:
                    self.files[path] = self.files[path].replace(search, replace, 1) if search else replace
                else:
                    self.files[path] = replace
                s.write_file(self.proc, ap, len(self.files[path].encode()), WR_TRUNC_CX)
                changed.append(path)
            else:
                failed.append((path, search, replace))
        s.write_file(self.proc, f"{self.cwd}/.aider.chat.history.md", len(text.encode()) + 40, WR_APPEND_CX)
        if failed:
            k = len(failed)
            body = "\n\n".join(f"## SearchReplaceNoExactMatch: This SEARCH block failed to exactly match lines in {p}\n<<<<<<< SEARCH\n{a}\n=======\n{b}\n>>>>>>> REPLACE"
                               for p, a, b in failed)
            extra = (f"\n\n# The other {len(changed)} SEARCH/REPLACE block{'s' if len(changed) != 1 else ''} were applied successfully.\nDon't re-send them.\nJust reply with fixed versions of the block{'s' if k != 1 else ''} above that failed to match." if changed else "")
            self.pending = (f"# {k} SEARCH/REPLACE block{'s' if k != 1 else ''} failed to match!\n\n{body}\n\n"
                            "The SEARCH section must exactly match an existing block of lines including all white space, comments, indentation, docstrings, etc" + extra)
            return n
        if lint is not None and changed:
            out, code = lint
            for f in changed:
                pr = Prog(["python", "-m", "flake8", "--select=E9,F821,F823,F831,F406,F407,F701,F702,F704,F706", "--show-source", "--isolated", f],
                          exit=code, steps=[(f"{s.home}/.local/share/pipx/venvs/aider-chat/bin/python", ["python", "-m", "flake8", "--select=E9,F821,F823,F831,F406,F407,F701,F702,F704,F706", "--show-source", "--isolated", f])],
                          libs="py", ops=[("r", self.absp(f), RO)])
                run(s, self.proc, pr, self.cwd)
            if code:
                self.pending = f"# Fix any errors below, if possible.\n\n## Running: flake8 --select=E9,F821,F823,F831,F406,F407,F701,F702,F704,F706 --show-source --isolated {changed[0]}\n\n{out}"
        if commit and changed and self.auto_commit:
            self.commit(commit, changed, side_commit)
        if test is not None and changed and self.pending is None:
            out, code, fx = (test + (None,))[:3]
            self.run_cmd(self.test_cmd, out, code, fx)
            if code:
                self.pending = out
        return n

    def commit(self, msg, changed, side=True):
        s = self.s
        run(s, self.proc, Prog(["git", "diff", "HEAD", "--"] + changed, ops=[("r", self.absp(f), RO) for f in changed]), self.cwd)
        if side:
            self.llm({"system": "You are an expert software engineer that generates concise, one-line Git commit messages based on the provided diffs.\nReview the provided context and diffs which are about to be committed to a git repo.\nReview the diffs carefully.\nGenerate a one-line commit message for those changes.\nThe commit message should be structured as follows: <type>: <description>\nUse these for <type>: fix, feat, build, chore, ci, docs, style, refactor, perf, test\n\nEnsure the commit message:\n- Starts with the appropriate prefix.\n- Is in the imperative mood (e.g., \"add feature\" not \"added feature\" or \"adding feature\").\n- Does not exceed 72 characters.\n\nReply only with the one-line commit message, without any additional text, explanations, or line breaks.",
                      "messages": [{"role": "user", "content": "# Diffs:\n" + "\n".join(f"diff --git a/{f} b/{f}\n--- a/{f}\n+++ b/{f}\n@@ ... @@" for f in changed)}],
                      "tools": []}, msg, [], "end_turn", model=self.side_model, stream=False)
        for pr in P.auto(s, "git add " + " ".join(changed), 0, self.cwd) + P.auto(s, f"git commit -m {json.dumps(msg)} --no-verify", 0, self.cwd):
            run(s, self.proc, pr, self.cwd)

    def add_output(self, cmd, out):
        """The output of a /run command, added to the chat (aider answers it with "Ok.")."""
        self.history += [{"role": "user", "content": f"I ran this command:\n\n{cmd}\n\nAnd got this output:\n\n{out}"},
                         {"role": "assistant", "content": "Ok."}]
