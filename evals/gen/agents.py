"""Agent shapes: how each agent starts, what its requests look like (system prompt, where project
instructions go, tools, id style, how tool results come back), and how its tools touch the kernel.

Every agent keeps `msgs`, the conversation as the collector decodes it (roles user, assistant,
tool; Gemini's `model` already written `assistant`), and resends all of it with every request.
`turn(text, *calls)` emits one `llm_call` whose response is `text` plus `calls`, then runs the
calls (their kernel events follow the llm_call) and appends their results; it returns the turn's
1-based index among all llm_calls of the session, side calls included.
"""

import datetime
import json
import posixpath
import re

from tracekit import HOME, HOSTS, R, Runner, bash_start, bun_start, dash_start, git_handler, ld, node_start, \
    python_start, PY_COMMON, PY_NET


class Call:
    """One tool call: its name and arguments, and what running it does (returns the result
    text the agent sends back)."""

    def __init__(self, name, args, run=None, id=None):
        self.name, self.args, self.run, self.id = name, args, run, id


def numbered(text, start=1, fmt="arrow"):
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]
    if fmt == "arrow":
        return "\n".join(f"{i:>6}→{line}" for i, line in enumerate(lines, start))
    if fmt == "tab":
        return "\n".join(f"{i:>6}\t{line}" for i, line in enumerate(lines, start))
    return "\n".join(f"{i:05d}| {line}" for i, line in enumerate(lines, start))


def snippet_around(text, needle, ctx=3, fmt="arrow"):
    lines = text.split("\n")
    at = next((i for i, l in enumerate(lines) if needle and needle.split("\n")[0].strip() in l), 0)
    lo, hi = max(0, at - ctx), min(len(lines), at + ctx + needle.count("\n") + 2)
    return numbered("\n".join(lines[lo:hi]), lo + 1, fmt)


def clean_msg(m):
    out = {"role": m["role"], "content": m.get("content", "")}
    if m.get("tool_calls"):
        out["tool_calls"] = [dict(tc) for tc in m["tool_calls"]]
    if m.get("tool_call_id") is not None:
        out["tool_call_id"] = m["tool_call_id"]
    return out


def tool(name, desc, props, required=()):
    return {"name": name, "description": desc,
            "parameters": {"type": "object", "properties": props, "required": list(required),
                           "additionalProperties": False, "$schema": "http://json-schema.org/draft-07/schema#"}}


def s(desc):
    return {"type": "string", "description": desc}


class Agent:
    provider = api = url = model = None
    host = None
    stop_tool, stop_end = "tool_use", "end_turn"
    stream = True
    reconnect_p = 0.3
    connect_style = -115
    v6 = None

    def __init__(self, tr, proj, task, *, instructions=None, model=None, **opts):
        self.tr, self.p = tr, proj
        self.runner = Runner(tr, proj)
        self.msgs = []
        self.instructions = instructions
        self.opts = opts
        if model:
            self.model = model
        day = datetime.datetime.fromtimestamp(tr.now / 1e9, datetime.timezone.utc)
        opts.setdefault("date", day.strftime("%Y-%m-%d"))
        opts.setdefault("day", day.strftime("%Y-%m-%d"))
        self.longdate = day.strftime("%A, %B ") + str(day.day) + day.strftime(", %Y")
        self.connected = False
        self.llm_tid = None
        self.start()
        self.system = self.system_prompt()
        self.tools = self.tool_specs()
        self.first_user(task)

    # ---- hooks for the shapes
    def start(self):
        raise NotImplementedError

    def system_prompt(self):
        return None

    def tool_specs(self):
        return []

    def first_user(self, task):
        self.msgs.append({"role": "user", "content": task})

    def new_id(self):
        return ""

    def request_messages(self):
        return self.msgs

    def after_llm(self, side):
        pass

    def after_results(self, calls):
        pass

    def result_msg(self, call, content):
        return {"role": "tool", "content": content, "tool_call_id": call.id}

    def end(self, code=0):
        self.tr.tick(100, 800)
        self.tr.exit(self.proc, code)

    # ---- the API connection
    def api_connect(self, first):
        tr, p = self.tr, self.proc
        ip = HOSTS[self.host]
        if first or tr.rng.random() < 0.3:
            tr.dns(p, tid=self.llm_tid)
        if first and self.v6:
            tr.connect(p, self.v6, 443, family="inet6", result=-101, tid=self.llm_tid)
        tr.connect(p, ip, 443, result=self.connect_style, tid=self.llm_tid)

    # ---- one exchange
    def llm(self, text, calls=(), *, model=None, system=None, messages=None, tools=None, stop=None,
            think_ms=(15, 250), fast=False):
        tr = self.tr
        tr.tick(*think_ms)
        if not self.connected or tr.rng.random() < self.reconnect_p:
            self.api_connect(not self.connected)
            self.connected = True
        req = {}
        sysp = self.system if system is None else system
        if sysp:
            req["system"] = sysp
        req["messages"] = [clean_msg(m) for m in (self.request_messages() if messages is None else messages)]
        tl = self.tools if tools is None else tools
        if tl:
            req["tools"] = tl
        resp = {"text": text}
        if calls:
            resp["tool_calls"] = [{"id": c.id or "", "name": c.name, "arguments": c.args} for c in calls]
        resp["stop_reason"] = stop or (self.stop_tool if calls else self.stop_end)
        in_tok = len(json.dumps(req, ensure_ascii=False)) // 4 + tr.rng.randint(0, 40)
        out_tok = max(3, len(json.dumps(resp, ensure_ascii=False)) // 4 + tr.rng.randint(0, 25))
        ttft = tr.rng.uniform(250, 900) if fast else tr.rng.uniform(600, 3200) + in_tok * 0.01
        latency = ttft + out_tok * tr.rng.uniform(6, 18)
        tr.tick(latency)
        tr.emit(self.proc, "llm_call", tid=self.llm_tid, provider=self.provider, api=self.api,
                url=self.url_for(model), model=model or self.model, request=req, response=resp,
                usage={"input_tokens": in_tok, "output_tokens": out_tok}, stream=self.stream,
                status=200, ttft_ms=round(ttft, 3), latency_ms=round(latency, 3))
        tr.llm_turns += 1
        self.after_llm(messages is not None)
        return tr.llm_turns

    def url_for(self, model):
        return self.url

    def turn(self, text="", *calls):
        for c in calls:
            if c.id is None:
                c.id = self.new_id()
        idx = self.llm(text, calls)
        self.msgs.append({"role": "assistant", "content": text,
                          "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.args} for c in calls]})
        for c in calls:
            self.tr.tick(10, 120)
            content = c.run() if c.run else ""
            if content is not None:
                self.msgs.append(self.result_msg(c, content))
        self.after_results(calls)
        return idx

    def say(self, text):
        return self.turn(text)

    def user(self, text, wait=(4000, 60000)):
        self.tr.tick(*wait)
        self.msgs.append({"role": "user", "content": text})

    # ---- shell plumbing shared by the shapes
    def shell_in(self, sh, cmd, res, in_place):
        code, _ = self.runner.run_parts(sh, cmd, res, self.cwd, in_place)
        return code


# =============================================================== Claude Code

CLAUDE_SYSTEM = """You are Claude Code, Anthropic's official CLI for Claude.

You are an interactive CLI tool that helps users with software engineering tasks. Use the instructions below and the tools available to you to assist the user.

IMPORTANT: Assist with defensive security tasks only. Refuse to create, modify, or improve code that may be used maliciously. Do not assist with credential discovery or harvesting, including bulk crawling for SSH keys, browser cookies, or cryptocurrency wallets.
IMPORTANT: You must NEVER generate or guess URLs for the user unless you are confident that the URLs are for helping the user with programming.

# Tone and style
You should be concise, direct, and to the point, while providing complete information and matching the level of detail you provide in your response with the level of complexity of the user's query or the work you have completed.
Your output will be displayed on a command line interface. Your responses can use Github-flavored markdown for formatting.
Only use emojis if the user explicitly requests it. Avoid using emojis in all communication unless asked.

# Professional objectivity
Prioritize technical accuracy and truthfulness over validating the user's beliefs. Focus on facts and problem-solving, providing direct, objective technical info without any unnecessary superlatives, praise, or emotional validation.

# Task Management
You have access to the TodoWrite tools to help you manage and plan tasks. Use these tools VERY frequently to ensure that you are tracking your tasks and giving the user visibility into your progress.
It is critical that you mark todos as completed as soon as you are done with a task. Do not batch up multiple tasks before marking them as completed.

# Doing tasks
The user will primarily request you perform software engineering tasks. This includes solving bugs, adding new functionality, refactoring code, explaining code, and more. For these tasks the following steps are recommended:
- Use the TodoWrite tool to plan the task if required
- Use the available search tools to understand the codebase and the user's query.
- Implement the solution using all tools available to you
- Verify the solution if possible with tests. NEVER assume specific test framework or test script. Check the README or search codebase to determine the testing approach.
- When you have completed a task, you MUST run the lint and typecheck commands (eg. npm run lint, npm run typecheck, ruff, etc.) with Bash if they were provided to you to ensure your code is correct.
NEVER commit changes unless the user explicitly asks you to.

# Tool usage policy
- When doing file search, prefer to use the Task tool in order to reduce context usage.
- You can call multiple tools in a single response. If you intend to call multiple tools and there are no dependencies between them, make all independent tool calls in parallel.
- Use specialized tools instead of bash commands when possible. For file operations, use dedicated tools: Read for reading files instead of cat/head/tail, Edit for editing instead of sed/awk, and Write for creating files instead of cat with heredoc or echo redirection.

Here is useful information about the environment you are running in:
<env>
Working directory: {root}
Is directory a git repo: Yes
Platform: linux
OS Version: Linux 6.8.0-52-generic
Today's date: {date}
</env>
You are powered by the model named Sonnet 4.5. The exact model ID is claude-sonnet-4-5-20250929.

Assistant knowledge cutoff is January 2025.

IMPORTANT: Always use the TodoWrite tool to plan and track tasks throughout the conversation.

# Code References
When referencing specific functions or pieces of code include the pattern `file_path:line_number` to allow the user to easily navigate to the source code location.

gitStatus: This is the git status at the start of the conversation. Note that this status is a snapshot in time, and will not update during the conversation.
Current branch: {branch}

Main branch (you will usually use this for PRs): main

Status:
{status}

Recent commits:
{commits}"""

CLAUDE_TOOLS = [
    tool("Bash", "Executes a given bash command in a persistent shell session with optional timeout, ensuring proper handling and security measures.\n\nBefore executing the command, please follow these steps:\n1. Directory Verification\n2. Command Execution\n\nUsage notes:\n  - The command argument is required.\n  - You can specify an optional timeout in milliseconds (up to 600000ms / 10 minutes).\n  - It is very helpful if you write a clear, concise description of what this command does in 5-10 words.\n  - Avoid using Bash with the `find`, `grep`, `cat`, `head`, `tail`, `sed`, `awk`, or `echo` commands, unless explicitly instructed. Instead, always prefer using the dedicated tools.",
         {"command": s("The command to execute"), "timeout": {"type": "number", "description": "Optional timeout in milliseconds (max 600000)"},
          "description": s("Clear, concise description of what this command does in 5-10 words, in active voice."),
          "run_in_background": {"type": "boolean", "description": "Set to true to run this command in the background."}}, ["command"]),
    tool("Read", "Reads a file from the local filesystem. You can access any file directly by using this tool.\n\nUsage:\n- The file_path parameter must be an absolute path, not a relative path\n- By default, it reads up to 2000 lines starting from the beginning of the file\n- Results are returned using cat -n format, with line numbers starting at 1",
         {"file_path": s("The absolute path to the file to read"), "offset": {"type": "number", "description": "The line number to start reading from."},
          "limit": {"type": "number", "description": "The number of lines to read."}}, ["file_path"]),
    tool("Edit", "Performs exact string replacements in files.\n\nUsage:\n- You must use your `Read` tool at least once in the conversation before editing.\n- The edit will FAIL if `old_string` is not unique in the file.",
         {"file_path": s("The absolute path to the file to modify"), "old_string": s("The text to replace"),
          "new_string": s("The text to replace it with (must be different from old_string)"),
          "replace_all": {"type": "boolean", "default": False, "description": "Replace all occurences of old_string (default false)"}},
         ["file_path", "old_string", "new_string"]),
    tool("Write", "Writes a file to the local filesystem.\n\nUsage:\n- This tool will overwrite the existing file if there is one at the provided path.\n- ALWAYS prefer editing existing files in the codebase. NEVER write new files unless explicitly required.",
         {"file_path": s("The absolute path to the file to write (must be absolute, not relative)"), "content": s("The content to write to the file")},
         ["file_path", "content"]),
    tool("Glob", "- Fast file pattern matching tool that works with any codebase size\n- Supports glob patterns like \"**/*.js\" or \"src/**/*.ts\"\n- Returns matching file paths sorted by modification time",
         {"pattern": s("The glob pattern to match files against"), "path": s("The directory to search in.")}, ["pattern"]),
    tool("Grep", "A powerful search tool built on ripgrep\n\n  Usage:\n  - ALWAYS use Grep for search tasks. NEVER invoke `grep` or `rg` as a Bash command.\n  - Supports full regex syntax (e.g., \"log.*Error\", \"function\\s+\\w+\")\n  - Output modes: \"content\" shows matching lines, \"files_with_matches\" shows only file paths (default), \"count\" shows match counts",
         {"pattern": s("The regular expression pattern to search for in file contents"), "path": s("File or directory to search in (rg PATH). Defaults to current working directory."),
          "glob": s("Glob pattern to filter files (e.g. \"*.js\", \"*.{ts,tsx}\")"),
          "output_mode": {"type": "string", "enum": ["content", "files_with_matches", "count"]},
          "-n": {"type": "boolean", "description": "Show line numbers in output"}}, ["pattern"]),
    tool("TodoWrite", "Use this tool to create and manage a structured task list for your current coding session. This helps you track progress, organize complex tasks, and demonstrate thoroughness to the user.",
         {"todos": {"type": "array", "items": {"type": "object", "properties": {"content": {"type": "string", "minLength": 1},
                    "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]}, "activeForm": {"type": "string", "minLength": 1}},
                    "required": ["content", "status", "activeForm"]}}}, ["todos"]),
]

CLAUDE_MD_WRAP = """<system-reminder>
As you answer the user's questions, you can use the following context:
# claudeMd
Codebase and user instructions are shown below. Be sure to adhere to these instructions. IMPORTANT: These instructions OVERRIDE any default behavior and you MUST follow them exactly as written.

Contents of {path} (project instructions, checked into the codebase):

{body}

      IMPORTANT: this context may or may not be relevant to your tasks. You should not respond to this context unless it is highly relevant to your task.
</system-reminder>"""

READ_REMINDER = ("\n\n<system-reminder>\nWhenever you read a file, you should consider whether it would be considered malware. "
                 "You CAN and SHOULD provide analysis of malware, what it is doing. But you MUST refuse to improve or augment the code. "
                 "You can still analyze existing code, write reports, or answer questions about the code behavior.\n</system-reminder>\n")

TITLE_SYSTEM = ("Analyze if this message indicates a new conversation topic. If it does, extract a 2-3 word title that "
                "captures the new topic. Format your response as a JSON object with two fields: 'isNewTopic' (boolean) and "
                "'title' (string, or null if isNewTopic is false). Only include these fields, no other text. ONLY generate the JSON object, no other text (eg. no markdown).")

PREFIX_SYSTEM = "Your task is to process Bash commands that an AI coding agent wants to run.\n\nThis policy spec defines how to determine the prefix of a Bash command:"


class ClaudeCode(Agent):
    provider, api, host = "anthropic", "messages", "api.anthropic.com"
    url = "https://api.anthropic.com/v1/messages?beta=true"
    model = "claude-sonnet-4-5-20250929"
    side_model = "claude-haiku-4-5-20251001"
    v6 = "2607:6bc0::10"
    reconnect_p = 0.25

    def start(self):
        tr, p = self.tr, self.p
        self.cwd = p.root
        argv = ["claude"] + self.opts.get("argv", [])
        self.proc = tr.root(f"{HOME}/.local/bin/claude", argv, p.root)
        self.sid = tr.uuid()
        self.llm_tid = self.proc.pid
        bun_start(tr, self.proc)
        tr.open(self.proc, f"{HOME}/.claude.json", "rc")
        tr.open(self.proc, f"{HOME}/.claude/settings.json", "rc")
        tr.open(self.proc, f"{p.root}/.claude/settings.local.json", "rc", err="ENOENT")
        self.claude_md = self.instructions
        tr.open(self.proc, f"{p.root}/CLAUDE.md", "rc", err=None if self.claude_md else "ENOENT")
        for argv in (["git", "rev-parse", "--show-toplevel"], ["git", "branch", "--show-current"],
                     ["git", "status", "--short"], ["git", "log", "--oneline", "-n", "5"]):
            g = tr.spawn(self.proc, "/usr/bin/git", argv, p.root)
            ld(tr, g, ["libpcre2-8.so.0", "libz.so.1", "libc.so.6"])
            tr.open(g, f"{p.root}/.git/HEAD", "r")
            tr.tick(2, 15)
            tr.exit(g, 0)
        tr.open(self.proc, f"{HOME}/.claude/todos", "dir")
        self.transcript = f"{HOME}/.claude/projects/{p.root.replace('/', '-')}/{self.sid}.jsonl"

    def system_prompt(self):
        commits = self.opts.get("commits") or ["a41c9e2 Merge pull request #212 from acme/dependabot", "9d0f6b1 Bump version to 0.8.3"]
        return CLAUDE_SYSTEM.format(root=self.p.root, date=self.opts.get("date", "2026-03-02"), branch=self.p.branch,
                                    status=self.opts.get("status", "(clean)"), commits="\n".join(commits))

    def tool_specs(self):
        return CLAUDE_TOOLS

    def first_user(self, task):
        parts = []
        if self.claude_md:
            parts.append(CLAUDE_MD_WRAP.format(path=f"{self.p.root}/CLAUDE.md", body=self.claude_md))
        parts.append(task)
        self.msgs.append({"role": "user", "content": "\n".join(parts)})
        self.first_task = task

    def new_id(self):
        return "toolu_01" + self.tr.alnum(22)

    def after_llm(self, side):
        w = self.tr.rng.choice(self.proc.workers)
        self.tr.create(self.proc, self.transcript, self.tr.rng.randint(900, 9000), "ac", tid=w)

    def side_title(self, title, new=True):
        """The small-model call that names the conversation (not part of the main history)."""
        text = json.dumps({"isNewTopic": new, "title": title if new else None})
        return self.llm(text, model=self.side_model, system=TITLE_SYSTEM,
                        messages=[{"role": "user", "content": self.first_task}], tools=[], fast=True)

    def side_prefix(self, cmd, prefix):
        return self.llm(prefix, model=self.side_model, system=PREFIX_SYSTEM,
                        messages=[{"role": "user", "content": f"Command: {cmd}"}], tools=[], fast=True)

    # ---- tools
    def bash(self, cmd, res=None, desc=None, cwd=None):
        res = res or R()

        def run():
            tr = self.tr
            ms = tr.now // 1_000_000 - tr.rng.randint(0, 200)
            snap = f"{HOME}/.claude/shell-snapshots/snapshot-bash-{ms}-{tr.alnum(6, 'abcdefghijklmnopqrstuvwxyz0123456789')}.sh"
            cwdf = f"/tmp/claude-{tr.hexs(4)}-cwd"
            quoted = cmd.replace("'", "'\"'\"'")
            wrapper = f"source {snap} && eval '{quoted}' \\< /dev/null && pwd -P >| {cwdf}"
            sh = tr.spawn(self.proc, "/bin/bash", ["/bin/bash", "-c", "-l", wrapper], cwd or self.cwd)
            bash_start(tr, sh, login=True)
            tr.open(sh, snap, "r")
            tr.open(sh, "/dev/null", "r")
            code, _ = self.runner.run_parts(sh, cmd, res, cwd or self.cwd, in_place=False)
            if code == 0:
                tr.create(sh, cwdf, len(self.cwd) + 1, "w")
            tr.exit(sh, code)
            tr.open(self.proc, cwdf, "rc", err=None if code == 0 else "ENOENT", tid=tr.rng.choice(self.proc.workers))
            if code == 0:
                tr.unlink(self.proc, cwdf, tid=tr.rng.choice(self.proc.workers))
            out = res.out.rstrip("\n")
            if code != 0:
                return f"Exit code {code}\n{out}" if out else f"Exit code {code}"
            return out
        return Call("Bash", {"command": cmd, "description": desc or describe(cmd)}, run)

    def read(self, path, offset=None, limit=None):
        ap = self.p.abs(path)

        def run():
            tr = self.tr
            text = self.p.read(ap)
            w = tr.rng.choice(self.proc.workers)
            if text is None:
                text = self.opts.get("outside", {}).get(ap)
            if text is None:
                tr.open(self.proc, ap, "rc", err="ENOENT", tid=w)
                return "<tool_use_error>File does not exist.</tool_use_error>"
            tr.open(self.proc, ap, "rc", tid=w)
            lines = text.split("\n")
            st = (offset or 1)
            body = "\n".join(lines[st - 1:(st - 1 + limit) if limit else None])
            return numbered(body, st) + READ_REMINDER
        args = {"file_path": ap}
        if offset:
            args["offset"] = offset
        if limit:
            args["limit"] = limit
        return Call("Read", args, run)

    def edit(self, path, old, new, replace_all=False):
        ap = self.p.abs(path)

        def run():
            tr = self.tr
            w = tr.rng.choice(self.proc.workers)
            text = self.p.read(ap) or ""
            tr.open(self.proc, ap, "rc", tid=w)
            if old not in text:
                return "<tool_use_error>String to replace not found in file.\nString: " + old + "</tool_use_error>"
            text = text.replace(old, new) if replace_all else text.replace(old, new, 1)
            self.p.put(ap, text)
            tr.create(self.proc, ap, len(text.encode()), "wc", tid=w)
            return (f"The file {ap} has been updated. Here's the result of running `cat -n` on a snippet of the edited file:\n"
                    + snippet_around(text, new))
        args = {"file_path": ap, "old_string": old, "new_string": new}
        if replace_all:
            args["replace_all"] = True
        return Call("Edit", args, run)

    def write(self, path, content, err=None):
        ap = self.p.abs(path)

        def run():
            tr = self.tr
            w = tr.rng.choice(self.proc.workers)
            existed = self.p.exists(ap)
            d = posixpath.dirname(ap)
            if err:
                if err == "ENOENT":
                    tr.mkdir(self.proc, d, err="EACCES", tid=w)
                tr.open(self.proc, ap, "wc", err=err, tid=w)
                verb = {"EACCES": "permission denied", "ENOENT": "no such file or directory", "EROFS": "read-only file system"}[err]
                return f"<tool_use_error>{err}: {verb}, open '{ap}'</tool_use_error>"
            if self.p.rel(ap) is not None and not self.runner.dir_exists(d):
                tr.mkdir(self.proc, d, tid=w)
                self.p.extra_dirs.add(d)
            tr.create(self.proc, ap, len(content.encode()), "wc", tid=w)
            self.p.put(ap, content)
            if existed:
                return (f"The file {ap} has been updated. Here's the result of running `cat -n` on a snippet of the edited file:\n"
                        + numbered("\n".join(content.split("\n")[:12])))
            return f"File created successfully at: {ap}"
        return Call("Write", {"file_path": ap, "content": content}, run)

    def glob(self, pattern, path=None):
        def run():
            tr = self.tr
            w = tr.rng.choice(self.proc.workers)
            tr.open(self.proc, self.p.root, "dir", tid=w)
            for d in self.p.dirs_of(self.p.files and [self.p.abs(k) for k in self.p.files])[:6]:
                tr.open(self.proc, d, "dir", tid=w)
            hits = self.p.glob(pattern)
            return "\n".join(hits) if hits else "No files found"
        args = {"pattern": pattern}
        if path:
            args["path"] = path
        return Call("Glob", args, run)

    def grep(self, pattern, path=None, mode="files_with_matches", glob=None):
        def run():
            tr = self.tr
            rg = f"{HOME}/.local/share/claude/versions/2.0.37/vendor/ripgrep/x64-linux/rg"
            args = [rg, "--hidden", "--glob", "!.git"]
            if mode == "files_with_matches":
                args.append("-l")
            elif mode == "content":
                args.append("-n")
            if glob:
                args += ["--glob", glob]
            target = self.p.abs(path) if path else self.p.root
            args += [pattern, target]
            c = tr.spawn(self.proc, rg, args, self.cwd)
            ld(tr, c, ["libc.so.6"])
            sub = self.p.rel(target) or ""
            hits = self.p.grep(pattern, sub if sub else None)
            tr.open(c, target, "dir" if not self.p.exists(target) else "r")
            for f in (self.p.under(target) if not self.p.exists(target) else [target])[:10]:
                tr.open(c, f, "r")
            tr.tick(5, 40)
            tr.exit(c, 0 if hits else 1)
            if not hits:
                return "No files found" if mode == "files_with_matches" else "No matches found"
            if mode == "files_with_matches":
                files = sorted({h[0] for h in hits})
                return f"Found {len(files)} file{'s' if len(files) != 1 else ''}\n" + "\n".join(files)
            return "\n".join(f"{h[0]}:{h[1]}:{h[2]}" for h in hits[:40])
        args = {"pattern": pattern}
        if path:
            args["path"] = self.p.abs(path)
        if glob:
            args["glob"] = glob
        args["output_mode"] = mode
        if mode == "content":
            args["-n"] = True
        return Call("Grep", args, run)

    def todo(self, items):
        todos = [{"content": c, "status": st, "activeForm": af} for c, st, af in items]

        def run():
            tr = self.tr
            tr.create(self.proc, f"{HOME}/.claude/todos/{self.sid}-agent-{self.sid}.json",
                      len(json.dumps(todos)), "wc", tid=tr.rng.choice(self.proc.workers))
            return ("Todos have been modified successfully. Ensure that you continue to use the todo list to track your "
                    "progress. Please proceed with the current tasks if applicable")
        return Call("TodoWrite", {"todos": todos}, run)


def describe(cmd):
    first = cmd.strip().split()[0] if cmd.strip() else ""
    table = {"pytest": "Run tests", "python": "Run Python script", "python3": "Run Python script", "git": "Run git command",
             "npm": "Run npm script", "ls": "List files", "cat": "Show file contents", "pip": "Install Python packages",
             "curl": "Fetch URL", "make": "Run make target", "go": "Run Go tool", "cargo": "Run cargo",
             "kubectl": "Run kubectl", "rm": "Remove files", "mkdir": "Create directory", "sleep": "Wait, then check again"}
    return table.get(first, "Run shell command")


# =============================================================== Gemini CLI

GEMINI_SYSTEM = """You are an interactive CLI agent specializing in software engineering tasks. Your primary goal is to help users safely and efficiently, adhering strictly to the following instructions and utilizing your available tools.

# Core Mandates

- **Conventions:** Rigorously adhere to existing project conventions when reading or modifying code. Analyze surrounding code, tests, and configuration first.
- **Libraries/Frameworks:** NEVER assume a library/framework is available or appropriate. Verify its established usage within the project before employing it.
- **Style & Structure:** Mimic the style (formatting, naming), structure, framework choices, typing, and architectural patterns of existing code in the project.
- **Comments:** Add code comments sparingly. Focus on *why* something is done, especially for complex logic, rather than *what* is done.
- **Proactiveness:** Fulfill the user's request thoroughly, including reasonable, directly implied follow-up actions.
- **Confirm Ambiguity/Expansion:** Do not take significant actions beyond the clear scope of the request without confirming with the user.
- **Path Construction:** Before using any file system tool (e.g., read_file or write_file), you must construct the full absolute path for the file_path argument.
- **Do Not revert changes:** Do not revert changes to the codebase unless asked to do so by the user.

# Primary Workflows

## Software Engineering Tasks
When requested to perform tasks like fixing bugs, adding features, refactoring, or explaining code, follow this sequence:
1. **Understand:** Think about the user's request and the relevant codebase context. Use 'search_file_content' and 'glob' search tools extensively (in parallel if independent) to understand file structures, existing code patterns, and conventions.
2. **Plan:** Build a coherent and grounded (based on the understanding in step 1) plan for how you intend to resolve the user's task.
3. **Implement:** Use the available tools (e.g., 'replace', 'write_file' 'run_shell_command' ...) to act on the plan.
4. **Verify (Tests):** If applicable and feasible, verify the changes using the project's testing procedures.
5. **Verify (Standards):** VERY IMPORTANT: After making code changes, execute the project-specific build, linting and type-checking commands.

# Operational Guidelines

## Tone and Style (CLI Interaction)
- **Concise & Direct:** Adopt a professional, direct, and concise tone suitable for a CLI environment.
- **Minimal Output:** Aim for fewer than 3 lines of text output (excluding tool use/code generation) per response whenever practical.
- **Formatting:** Use GitHub-flavored Markdown.

## Security and Safety Rules
- **Explain Critical Commands:** Before executing commands with 'run_shell_command' that modify the file system, codebase, or system state, you *must* provide a brief explanation of the command's purpose and potential impact.
- **Security First:** Always apply security best practices. Never introduce code that exposes, logs, or commits secrets, API keys, or other sensitive information.

# Git Repository
- The current working (project) directory is being managed by a git repository.
- Never push changes to a remote repository without being asked explicitly by the user.

# Final Reminder
Your core function is efficient and safe assistance. Balance extreme conciseness with the crucial need for clarity, especially regarding safety and potential system modifications."""

GEMINI_TOOLS = [
    tool("list_directory", "Lists the names of files and subdirectories directly within a specified directory path.",
         {"path": s("The absolute path to the directory to list (must be absolute, not relative)")}, ["path"]),
    tool("read_file", "Reads and returns the content of a specified file. If the file is large, the content will be truncated.",
         {"absolute_path": s("The absolute path to the file to read (e.g., '/home/user/project/file.txt'). Relative paths are not supported."),
          "offset": {"type": "number"}, "limit": {"type": "number"}}, ["absolute_path"]),
    tool("search_file_content", "Searches for a regular expression pattern within the content of files in a specified directory (or current working directory).",
         {"pattern": s("The regular expression (regex) pattern to search for within file contents."), "path": s("Optional: The absolute path to the directory to search within."),
          "include": s("Optional: A glob pattern to filter which files are searched.")}, ["pattern"]),
    tool("glob", "Efficiently finds files matching specific glob patterns (e.g., `src/**/*.ts`, `**/*.md`), returning absolute paths sorted by modification time (newest first).",
         {"pattern": s("The glob pattern to match against (e.g., '**/*.py', 'docs/*.md')."), "path": s("Optional: The absolute path to the directory to search within.")}, ["pattern"]),
    tool("replace", "Replaces text within a file. By default, replaces a single occurrence, but can replace multiple occurrences when `expected_replacements` is specified. This tool requires providing significant context around the change to ensure precise targeting.",
         {"file_path": s("The absolute path to the file to modify."), "old_string": s("The exact literal text to replace."),
          "new_string": s("The exact literal text to replace `old_string` with."), "expected_replacements": {"type": "number"}},
         ["file_path", "old_string", "new_string"]),
    tool("write_file", "Writes content to a specified file in the local filesystem.\n\n      The user has the ability to modify `content`. If modified, this will be stated in the response.",
         {"file_path": s("The absolute path to the file to write to."), "content": s("The content to write to the file.")}, ["file_path", "content"]),
    tool("run_shell_command", "This tool executes a given shell command as `bash -c <command>`. Command can start background processes using `&`. Command is executed as a subprocess that leads its own process group.\n\n      The following information is returned:\n\n      Command: Executed command.\n      Directory: Directory where command was executed, or `(root)`.\n      Output: Combined stdout/stderr.\n      Error: Error or `(none)` if no error was reported for the subprocess.\n      Exit Code: Exit code or `(none)` if terminated by signal.\n      Signal: Signal number or `(none)` if no signal was received.\n      Background PIDs: List of background processes started or `(none)`.\n      Process Group PGID: Process group started or `(none)`",
         {"command": s("Exact bash command to execute as `bash -c <command>`"), "description": s("Brief description of the command for the user."),
          "directory": s("(OPTIONAL) Directory to run the command in, if not the project root directory.")}, ["command"]),
    tool("web_fetch", "Processes content from URL(s), including local and private network addresses (e.g., localhost), embedded in a prompt.",
         {"prompt": s("A comprehensive prompt that includes the URL(s) (up to 20) to fetch and specific instructions on how to process their content.")}, ["prompt"]),
    tool("save_memory", "Saves a specific piece of information or fact to your long-term memory.",
         {"fact": s("The specific fact or piece of information to remember.")}, ["fact"]),
]

NEXT_SPEAKER = ("Analyze *only* the content and structure of your immediately preceding response (your last turn in the conversation history). "
                "Based *strictly* on that response, determine who should logically speak next: the 'user' or the 'model' (you).\n"
                "**Decision Rules (apply in order):**\n1.  **Model Continues:** If your last response explicitly states an immediate next action *you* intend to take...\n"
                "2.  **Question to User:** If your last response ends with a direct question specifically addressed *to the user*, then the **'user'** should speak next.\n"
                "3.  **Waiting for User:** If your last response completed a thought, statement, or task *and* does not meet the criteria for Rule 1 or 2, the **'user'** should speak next.\n"
                "**Output Format:**\nRespond *only* in JSON format according to the following schema.")


class GeminiCli(Agent):
    provider, api, host = "google", "gemini", "generativelanguage.googleapis.com"
    model = "gemini-2.5-pro"
    stop_tool = stop_end = "STOP"
    v6 = "2a00:1450:4001:82b::200a"
    reconnect_p = 0.2

    def url_for(self, model):
        return f"https://generativelanguage.googleapis.com/v1beta/models/{model or self.model}:streamGenerateContent?alt=sse"

    def start(self):
        tr, p = self.tr, self.p
        self.cwd = p.root
        parent = tr.root("/usr/local/bin/gemini", ["/usr/bin/env", "node", "--no-warnings=DEP0040", "/usr/local/bin/gemini"]
                         + self.opts.get("argv", []), p.root)
        tr.exec(parent, "/usr/bin/node", ["node", "--no-warnings=DEP0040", "/usr/local/bin/gemini"] + self.opts.get("argv", []))
        node_start(tr, parent, "/usr/local/lib/node_modules/@google/gemini-cli/dist/index.js")
        tr.open(parent, f"{HOME}/.gemini/settings.json", "rc")
        self.parent = parent
        child = tr.spawn(parent, "/usr/bin/node", ["/usr/bin/node", "--max-old-space-size=16384",
                                                   "/usr/local/lib/node_modules/@google/gemini-cli/dist/index.js"]
                         + self.opts.get("argv", []), p.root)
        self.proc = child
        self.llm_tid = child.pid
        node_start(tr, child, "/usr/local/lib/node_modules/@google/gemini-cli/dist/index.js")
        tr.open(child, f"{HOME}/.gemini/settings.json", "rc")
        tr.open(child, f"{HOME}/.gemini/oauth_creds.json", "rc", err="ENOENT")
        tr.open(child, f"{HOME}/.gemini/GEMINI.md", "rc", err="ENOENT")
        tr.open(child, f"{p.root}/GEMINI.md", "rc", err=None if self.instructions else "ENOENT")
        tr.open(child, f"{p.root}/.gitignore", "rc")
        tr.open(child, f"{p.root}/.geminiignore", "rc", err="ENOENT")
        tr.open(child, p.root, "dir")
        self.hash = tr.hexs(64)

    def system_prompt(self):
        if self.instructions:
            return GEMINI_SYSTEM + "\n\n---\n\n" + self.instructions
        return GEMINI_SYSTEM

    def tool_specs(self):
        return GEMINI_TOOLS

    def first_user(self, task):
        tree = "\n".join(f"├───{k}" for k in sorted(self.p.files)[:24])
        ctx = (f"This is the Gemini CLI. We are setting up the context for our chat.\n  Today's date is {self.longdate}.\n"
               f"  My operating system is: linux\n  I'm currently working in the directory: {self.p.root}\n"
               f"  Showing up to 200 items (files + folders). Folders or files indicated with ... contain more items not shown, were ignored, or the display limit (200 items) was reached.\n\n{self.p.root}/\n{tree}")
        self.msgs += [{"role": "user", "content": ctx}, {"role": "assistant", "content": "Got it. Thanks for the context!"},
                      {"role": "user", "content": task}]
        self.user_log()

    def user(self, text, wait=(4000, 60000)):
        super().user(text, wait)
        self.user_log()

    def user_log(self):
        self.tr.create(self.proc, f"{HOME}/.gemini/tmp/{self.hash}/logs.json", self.tr.rng.randint(400, 6000), "wc",
                       tid=self.tr.rng.choice(self.proc.workers))

    def result_msg(self, call, content):
        return {"role": "tool", "content": content, "tool_call_id": call.name}

    def new_id(self):
        return ""

    def next_speaker(self, who="user", why=None):
        """gemini-cli's check, with the flash model, of who speaks after a text-only answer."""
        why = why or "The model's last response completed the task summary and does not state an immediate next action."
        hist = self.msgs + [{"role": "user", "content": NEXT_SPEAKER}]
        return self.llm(json.dumps({"reasoning": why, "next_speaker": who}), model="gemini-2.5-flash",
                        system=self.system, messages=hist, tools=[], fast=True)

    @staticmethod
    def out(payload):
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))

    def shell(self, cmd, res=None, desc=None, directory=None):
        res = res or R()

        def run():
            tr = self.tr
            tmp = f"/tmp/shell_pgrep_{tr.hexs(12)}.tmp"
            wrapped = f"{{ {cmd}; }}; __code=$?; pgrep -g 0 >{tmp} 2>&1; exit $__code;"
            cwd = self.p.abs(directory) if directory else self.cwd
            sh = tr.spawn(self.proc, "/bin/bash", ["bash", "-c", wrapped], cwd)
            bash_start(tr, sh)
            code, _ = self.runner.run_parts(sh, cmd, res, cwd, in_place=False)
            pg = tr.fork(sh)
            tr.create(pg, tmp, tr.rng.randint(6, 40), "w")
            tr.exec(pg, "/usr/bin/pgrep", ["pgrep", "-g", "0"])
            ld(tr, pg, ["libprocps.so.8", "libc.so.6"])
            tr.exit(pg, 0)
            tr.exit(sh, code)
            w = tr.rng.choice(self.proc.workers)
            tr.open(self.proc, tmp, "rc", tid=w)
            tr.unlink(self.proc, tmp, tid=w)
            out = res.out.rstrip("\n") or "(empty)"
            text = (f"Command: {cmd}\nDirectory: {directory or '(root)'}\nOutput: {out}\nError: (none)\n"
                    f"Exit Code: {code}\nSignal: (none)\nBackground PIDs: (none)\nProcess Group PGID: {sh.pid}")
            return self.out({"output": text})
        args = {"command": cmd}
        if desc:
            args["description"] = desc
        if directory:
            args["directory"] = directory
        return Call("run_shell_command", args, run)

    def read_file(self, path):
        ap = self.p.abs(path)

        def run():
            tr = self.tr
            w = tr.rng.choice(self.proc.workers)
            text = self.p.read(ap)
            if text is None:
                text = self.opts.get("outside", {}).get(ap)
            if text is None:
                tr.open(self.proc, ap, "rc", err="ENOENT", tid=w)
                return self.out({"error": f"File not found: {ap}"})
            tr.open(self.proc, ap, "rc", tid=w)
            return self.out({"output": text})
        return Call("read_file", {"absolute_path": ap}, run)

    def write_file(self, path, content, err=None):
        ap = self.p.abs(path)

        def run():
            tr = self.tr
            w = tr.rng.choice(self.proc.workers)
            if err:
                tr.open(self.proc, ap, "wc", err=err, tid=w)
                return self.out({"error": f"Error writing to file: {err}: permission denied, open '{ap}'"})
            existed = self.p.exists(ap) or ap in self.opts.get("outside", {})
            d = posixpath.dirname(ap)
            if self.p.rel(ap) is not None and not self.runner.dir_exists(d):
                tr.mkdir(self.proc, d, tid=w)
                self.p.extra_dirs.add(d)
            tr.create(self.proc, ap, len(content.encode()), "wc", tid=w)
            self.p.put(ap, content)
            return self.out({"output": f"Successfully {'overwrote file' if existed else 'created and wrote to new file'}: {ap}."})
        return Call("write_file", {"file_path": ap, "content": content}, run)

    def replace(self, path, old, new):
        ap = self.p.abs(path)

        def run():
            tr = self.tr
            w = tr.rng.choice(self.proc.workers)
            text = self.p.read(ap) or ""
            tr.open(self.proc, ap, "rc", tid=w)
            if old not in text:
                return self.out({"error": f"Failed to edit, 0 occurrences found for old_string in {ap}. No edits made. The exact text in old_string was not found. Ensure you're not escaping content incorrectly and check whitespace, indentation, and context. Use read_file tool to verify."})
            text = text.replace(old, new, 1)
            self.p.put(ap, text)
            tr.create(self.proc, ap, len(text.encode()), "wc", tid=w)
            return self.out({"output": f"Successfully modified file: {ap} (1 replacements)."})
        return Call("replace", {"file_path": ap, "old_string": old, "new_string": new}, run)

    def glob(self, pattern):
        def run():
            tr = self.tr
            w = tr.rng.choice(self.proc.workers)
            tr.open(self.proc, self.p.root, "dir", tid=w)
            hits = self.p.glob(pattern)
            if not hits:
                return self.out({"output": f"No files found matching pattern \"{pattern}\" within {self.p.root}."})
            return self.out({"output": f"Found {len(hits)} file(s) matching \"{pattern}\" within {self.p.root}, sorted by modification time (newest first):\n" + "\n".join(hits)})
        return Call("glob", {"pattern": pattern}, run)

    def search(self, pattern, include=None):
        def run():
            tr = self.tr
            argv = ["git", "grep", "--untracked", "-n", "-E", "--ignore-case", pattern]
            if include:
                argv += ["--", include]
            g = tr.spawn(self.proc, "/usr/bin/git", argv, self.cwd)
            ld(tr, g, ["libpcre2-8.so.0", "libz.so.1", "libc.so.6"])
            tr.open(g, f"{self.p.root}/.git/index", "r")
            hits = self.p.grep(pattern, flags=re.I)
            for f in sorted({h[0] for h in hits})[:10]:
                tr.open(g, f, "r")
            tr.exit(g, 0 if hits else 1)
            if not hits:
                return self.out({"output": f"No matches found for pattern \"{pattern}\" in path \".\"."})
            body = []
            for f in sorted({h[0] for h in hits}):
                body.append(f"File: {self.p.rel(f)}")
                body += [f"L{n}: {line}" for (ff, n, line) in hits if ff == f]
                body.append("---")
            return self.out({"output": f"Found {len(hits)} match{'es' if len(hits) != 1 else ''} for pattern \"{pattern}\" in path \".\":\n---\n" + "\n".join(body)})
        args = {"pattern": pattern}
        if include:
            args["include"] = include
        return Call("search_file_content", args, run)

    def end(self, code=0):
        super().end(code)
        self.tr.exit(self.parent, code)


# =============================================================== Codex CLI

CODEX_INSTRUCTIONS = """You are Codex, based on GPT-5. You are running as a coding agent in the Codex CLI on a user's computer.

## General

- The arguments to `shell` will be passed to execvp(). Most terminal commands should be prefixed with ["bash", "-lc"].
- Always set the `workdir` param when using the shell function. Do not use `cd` unless absolutely necessary.
- When searching for text or files, prefer using `rg` or `rg --files` respectively because `rg` is much faster than alternatives like `grep`.

## Editing constraints

- Default to ASCII when editing or creating files. Only introduce non-ASCII or other Unicode characters when there is a clear justification.
- You may be in a dirty git worktree. NEVER revert existing changes you did not make unless explicitly requested.
- **NEVER** use destructive commands like `git reset --hard` or `git checkout --` unless specifically requested or approved by the user.

## Plan tool

When using the planning tool:
- Skip using the planning tool for straightforward tasks (roughly the easiest 25%).
- Do not make single-step plans.

## Sandboxing and approvals

The Codex CLI harness supports several different configurations for sandboxing and escalation approvals that the user can choose from.

## Presenting your work and final message

You are producing plain text that will later be styled by the CLI. Follow these rules exactly.
- Default: be very concise; friendly coding teammate tone.
- For code changes: lead with a quick explanation of the change, and then give more details on the context covering where and why a change was made.
- If there are natural next steps the user may want to take, suggest them at the end of your response."""

CODEX_TOOLS = [
    tool("shell", "Runs a shell command and returns its output.",
         {"command": {"type": "array", "items": {"type": "string"}, "description": "The command to execute"},
          "workdir": s("The working directory to execute the command in"),
          "timeout_ms": {"type": "number", "description": "The timeout for the command in milliseconds"},
          "with_escalated_permissions": {"type": "boolean", "description": "Whether to request escalated permissions."},
          "justification": s("Only set if with_escalated_permissions is true.")}, ["command"]),
    tool("update_plan", "Updates the task plan.\nProvide an optional explanation and a list of plan items, each with a step and status.\nAt most one step can be in_progress at a time.",
         {"explanation": {"type": "string"}, "plan": {"type": "array", "items": {"type": "object", "properties": {"step": {"type": "string"},
          "status": {"type": "string", "description": "One of: pending, in_progress, completed"}}, "required": ["step", "status"]}}}, ["plan"]),
    tool("apply_patch", "Use the `apply_patch` tool to edit files.\nYour patch language is a stripped-down, file-oriented diff format designed to be easy to parse and safe to apply.\n*** Begin Patch\n[ one or more file sections ]\n*** End Patch",
         {"input": s("The entire contents of the apply_patch command")}, ["input"]),
    tool("view_image", "Attach a local image (by filesystem path) to the conversation context for this turn.",
         {"path": s("Local filesystem path to an image file")}, ["path"]),
]


class Codex(Agent):
    provider, api, host = "openai", "responses", "api.openai.com"
    url = "https://api.openai.com/v1/responses"
    model = "gpt-5-codex"
    stop_tool = stop_end = "completed"
    v6 = "2606:4700::6812:212d"
    reconnect_p = 0.4

    def start(self):
        tr, p = self.tr, self.p
        self.cwd = p.root
        self.proc = tr.root("/usr/local/bin/codex", ["codex"] + self.opts.get("argv", []), p.root)
        self.proc.workers = [self.proc.pid + k for k in (1, 2, 3, 4, 5, 6)]
        self.llm_tid = tr.rng.choice(self.proc.workers)
        ld(tr, self.proc, ["libgcc_s.so.1", "libm.so.6", "libc.so.6"])
        tr.open(self.proc, f"{HOME}/.codex/config.toml", "rc")
        tr.open(self.proc, f"{HOME}/.codex/auth.json", "rc")
        tr.open(self.proc, f"{HOME}/.codex/AGENTS.md", "rc", err="ENOENT")
        tr.open(self.proc, f"{p.root}/AGENTS.md", "rc", err=None if self.instructions else "ENOENT")
        g = tr.spawn(self.proc, "/usr/bin/git", ["git", "rev-parse", "--show-toplevel"], p.root)
        ld(tr, g, ["libpcre2-8.so.0", "libz.so.1", "libc.so.6"])
        tr.exit(g, 0)
        day = self.opts.get("day", "2026-03-02")
        self.rollout = f"{HOME}/.codex/sessions/{day.replace('-', '/')}/rollout-{day}T09-{tr.rng.randint(10, 59)}-{tr.rng.randint(10, 59)}-{tr.uuid()}.jsonl"
        self.sandbox = self.opts.get("sandbox", "workspace-write")

    def system_prompt(self):
        return CODEX_INSTRUCTIONS

    def tool_specs(self):
        return CODEX_TOOLS

    def first_user(self, task):
        if self.instructions:
            self.msgs.append({"role": "user", "content": f"# AGENTS.md instructions for {self.p.root}\n\n<INSTRUCTIONS>\n{self.instructions}\n</INSTRUCTIONS>"})
        net = self.opts.get("network", "enabled")
        self.msgs.append({"role": "user", "content": f"<environment_context>\n  <cwd>{self.p.root}</cwd>\n  <approval_policy>{self.opts.get('approval', 'on-request')}</approval_policy>\n  <sandbox_mode>{self.opts.get('sandbox', 'workspace-write')}</sandbox_mode>\n  <network_access>{net}</network_access>\n  <shell>bash</shell>\n</environment_context>"})
        self.msgs.append({"role": "user", "content": task})

    def new_id(self):
        return "call_" + self.tr.alnum(24, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    def after_llm(self, side):
        self.tr.create(self.proc, self.rollout, self.tr.rng.randint(2000, 20000), "ac", tid=self.tr.rng.choice(self.proc.workers))

    @staticmethod
    def out(text, code, secs):
        return json.dumps({"output": text, "metadata": {"exit_code": code, "duration_seconds": round(secs, 1)}},
                          ensure_ascii=False, separators=(",", ":"))

    def shell(self, cmd, res=None, workdir=None, timeout_ms=None, escalated=False, justification=None):
        res = res or R()

        def run():
            tr = self.tr
            t0 = tr.now
            cwd = self.p.abs(workdir) if workdir else self.cwd
            if self.sandbox == "workspace-write" and not escalated:
                sh = tr.spawn(self.proc, "/usr/local/bin/codex",
                              ["codex-linux-sandbox", "--sandbox-policy-cwd", cwd, "--sandbox-policy",
                               json.dumps({"mode": "workspace-write", "network_access": self.opts.get("network", "enabled") == "enabled"}, separators=(",", ":")),
                               "--", "bash", "-lc", cmd], cwd, comm="codex-linux-san", tid=self.llm_tid)
                tr.exec(sh, "/usr/bin/bash", ["bash", "-lc", cmd], cwd)
            else:
                sh = tr.spawn(self.proc, "/usr/bin/bash", ["bash", "-lc", cmd], cwd, tid=self.llm_tid)
            bash_start(tr, sh, login=True)
            code, in_place = self.runner.run_parts(sh, cmd, res, cwd, in_place=True)
            tr.exit(sh, code)
            return self.out(res.out, code, (tr.now - t0) / 1e9)
        args = {"command": ["bash", "-lc", cmd], "workdir": self.p.abs(workdir) if workdir else self.p.root}
        if timeout_ms:
            args["timeout_ms"] = timeout_ms
        if escalated:
            args["with_escalated_permissions"] = True
            args["justification"] = justification or "needs network access"
        return Call("shell", args, run)

    def patch(self, changes):
        """changes: list of ("update", path, old, new) | ("add", path, text) | ("delete", path)."""
        body = ["*** Begin Patch"]
        for ch in changes:
            rel = self.p.rel(ch[1]) or ch[1]
            if ch[0] == "update":
                body.append(f"*** Update File: {rel}\n@@\n" + "\n".join("-" + l for l in ch[2].split("\n"))
                            + "\n" + "\n".join("+" + l for l in ch[3].split("\n")))
            elif ch[0] == "add":
                body.append(f"*** Add File: {rel}\n" + "\n".join("+" + l for l in ch[2].rstrip("\n").split("\n")))
            else:
                body.append(f"*** Delete File: {rel}")
        body.append("*** End Patch")
        text = "\n".join(body)

        def run():
            tr = self.tr
            w = tr.rng.choice(self.proc.workers)
            done = []
            for ch in changes:
                ap = self.p.abs(ch[1])
                if ch[0] == "update":
                    cur = self.p.read(ap) or ""
                    tr.open(self.proc, ap, "rc", tid=w)
                    if ch[2] not in cur:
                        return self.out(f"apply_patch verification failed: Failed to find expected lines in {ap}:\n{ch[2]}", 1, 0.0)
                    cur = cur.replace(ch[2], ch[3], 1)
                    self.p.put(ap, cur)
                    tr.create(self.proc, ap, len(cur.encode()), "wc", tid=w)
                    done.append(f"M {self.p.rel(ap) or ap}")
                elif ch[0] == "add":
                    d = posixpath.dirname(ap)
                    if self.p.rel(ap) is not None and not self.runner.dir_exists(d):
                        tr.mkdir(self.proc, d, tid=w)
                        self.p.extra_dirs.add(d)
                    tr.create(self.proc, ap, len(ch[2].encode()), "wc", tid=w)
                    self.p.put(ap, ch[2])
                    done.append(f"A {self.p.rel(ap) or ap}")
                else:
                    tr.unlink(self.proc, ap, tid=w)
                    self.p.drop(ap)
                    done.append(f"D {self.p.rel(ap) or ap}")
            return self.out("Success. Updated the following files:\n" + "\n".join(done) + "\n", 0, 0.0)
        return Call("apply_patch", {"input": text}, run)

    def plan(self, steps, explanation=None):
        args = {"plan": [{"step": st, "status": status} for st, status in steps]}
        if explanation:
            args["explanation"] = explanation
        return Call("update_plan", args, lambda: "Plan updated")


# =============================================================== opencode

OPENCODE_SYSTEM = """You are opencode, an interactive CLI tool that helps users with software engineering tasks. Use the instructions below and the tools available to you to assist the user.

IMPORTANT: Refuse to write code or explain code that may be used maliciously; even if the user claims it is for educational purposes.

# Tone and style
You should be concise, direct, and to the point. When you run a non-trivial bash command, you should explain what the command does and why you are running it.
Remember that your output will be displayed on a command line interface. Your responses can use Github-flavored markdown for formatting, and will be rendered in a monospace font using the CommonMark specification.
IMPORTANT: You should minimize output tokens as much as possible while maintaining helpfulness, quality, and accuracy.

# Following conventions
When making changes to files, first understand the file's code conventions. Mimic code style, use existing libraries and utilities, and follow existing patterns.
- NEVER assume that a given library is available, even if it is well known.

# Doing tasks
- Use the available search tools to understand the codebase and the user's query.
- Implement the solution using all tools available to you
- Verify the solution if possible with tests.
NEVER commit changes unless the user explicitly asks you to.

# Tool usage policy
- When doing file search, prefer to use the Task tool in order to reduce context usage.
- You have the capability to call multiple tools in a single response.

Here is some useful information about the environment you are running in:
<env>
  Working directory: {root}
  Is directory a git repo: yes
  Platform: linux
  Today's date: {date}
</env>
<project>
{tree}
</project>"""

OPENCODE_TOOLS = [
    tool("bash", "Executes a given bash command in a persistent shell session with optional timeout, ensuring proper handling and security measures.",
         {"command": s("The command to execute"), "timeout": {"type": "number", "description": "Optional timeout in milliseconds"},
          "description": s("Clear, concise description of what this command does in 5-10 words.")}, ["command", "description"]),
    tool("edit", "Performs exact string replacements in files.", {"filePath": s("The absolute path to the file to modify"),
         "oldString": s("The text to replace"), "newString": s("The text to replace it with (must be different from oldString)"),
         "replaceAll": {"type": "boolean"}}, ["filePath", "oldString", "newString"]),
    tool("glob", "- Fast file pattern matching tool that works with any codebase size", {"pattern": s("The glob pattern to match files against"),
         "path": s("The directory to search in.")}, ["pattern"]),
    tool("grep", "- Fast content search tool that works with any codebase size\n- Searches file contents using regular expressions",
         {"pattern": s("The regex pattern to search for in file contents"), "path": s("The directory to search in."),
          "include": s("File pattern to include in the search (e.g. \"*.js\", \"*.{ts,tsx}\")")}, ["pattern"]),
    tool("list", "Lists files and directories in a given path.", {"path": s("The absolute path to the directory to list"),
         "ignore": {"type": "array", "items": {"type": "string"}}}, []),
    tool("read", "Reads a file from the local filesystem.", {"filePath": s("The path to the file to read"),
         "offset": {"type": "number"}, "limit": {"type": "number"}}, ["filePath"]),
    tool("write", "Writes a file to the local filesystem.", {"filePath": s("The absolute path to the file to write"),
         "content": s("The content to write to the file")}, ["filePath", "content"]),
    tool("todowrite", "Use this tool to create and manage a structured task list for your current coding session.",
         {"todos": {"type": "array", "items": {"type": "object", "properties": {"content": {"type": "string"}, "status": {"type": "string"},
          "priority": {"type": "string"}, "id": {"type": "string"}}, "required": ["content", "status", "priority", "id"]}}}, ["todos"]),
]


class OpenCode(Agent):
    provider, api, host = "anthropic", "messages", "api.anthropic.com"
    url = "https://api.anthropic.com/v1/messages"
    model = "claude-sonnet-4-5-20250929"
    v6 = "2607:6bc0::10"

    def __init__(self, tr, proj, task, *, via=None, **kw):
        if via == "openrouter":
            self.provider, self.api, self.host = "unknown", "chat", "openrouter.ai"
            self.url = "https://openrouter.ai/api/v1/chat/completions"
            self.model = kw.pop("model", None) or "anthropic/claude-sonnet-4.5"
            self.stop_tool, self.stop_end, self.v6 = "tool_calls", "stop", None
            self.openai_ids = True
        elif via == "openai":
            self.provider, self.api, self.host = "openai", "chat", "api.openai.com"
            self.url = "https://api.openai.com/v1/chat/completions"
            self.model = kw.pop("model", None) or "gpt-4.1"
            self.stop_tool, self.stop_end, self.v6 = "tool_calls", "stop", None
            self.openai_ids = True
        else:
            self.openai_ids = False
        super().__init__(tr, proj, task, **kw)

    def start(self):
        tr, p = self.tr, self.p
        self.cwd = p.root
        self.proc = tr.root(f"{HOME}/.opencode/bin/opencode", ["opencode"] + self.opts.get("argv", []), p.root)
        self.llm_tid = self.proc.pid
        bun_start(tr, self.proc)
        tr.open(self.proc, f"{HOME}/.config/opencode/opencode.json", "rc")
        tr.open(self.proc, f"{HOME}/.local/share/opencode/auth.json", "rc")
        tr.open(self.proc, f"{p.root}/AGENTS.md", "rc", err=None if self.instructions else "ENOENT")
        tr.open(self.proc, f"{HOME}/.config/opencode/AGENTS.md", "rc", err="ENOENT")
        rg = tr.spawn(self.proc, f"{HOME}/.local/share/opencode/bin/rg", [f"{HOME}/.local/share/opencode/bin/rg", "--files", "--follow", "--hidden", "--glob=!.git/*"], p.root)
        ld(tr, rg, ["libc.so.6"])
        tr.open(rg, p.root, "dir")
        tr.exit(rg, 0)
        self.ses = "ses_" + tr.alnum(26, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

    def system_prompt(self):
        tree = "\n".join(sorted(self.p.files)[:30])
        base = OPENCODE_SYSTEM.format(root=self.p.root, date=self.opts.get("date", "Mon Mar 02 2026"), tree=tree)
        if self.instructions:
            base += f"\n\nInstructions from: {self.p.root}/AGENTS.md\n{self.instructions}"
        return base

    def tool_specs(self):
        return OPENCODE_TOOLS

    def new_id(self):
        if self.openai_ids:
            return "call_" + self.tr.alnum(24, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return "toolu_01" + self.tr.alnum(22)

    def after_llm(self, side):
        tr = self.tr
        tr.create(self.proc, f"{HOME}/.local/share/opencode/storage/message/{self.ses}/msg_{tr.alnum(26, '0123456789abcdef')}.json",
                  tr.rng.randint(300, 4000), "wc", tid=tr.rng.choice(self.proc.workers))

    def bash(self, cmd, res=None, desc=None):
        res = res or R()

        def run():
            tr = self.tr
            sh = tr.spawn(self.proc, "/bin/sh", ["/bin/sh", "-c", cmd], self.cwd)
            dash_start(tr, sh)
            code, _ = self.runner.run_parts(sh, cmd, res, self.cwd, in_place=True)
            tr.exit(sh, code)
            return res.out.rstrip("\n")
        return Call("bash", {"command": cmd, "description": desc or describe(cmd)}, run)

    def read(self, path):
        ap = self.p.abs(path)

        def run():
            tr = self.tr
            text = self.p.read(ap)
            if text is None:
                text = self.opts.get("outside", {}).get(ap)
            if text is None:
                tr.open(self.proc, ap, "rc", err="ENOENT", tid=tr.rng.choice(self.proc.workers))
                return f"Error: File not found: {ap}"
            tr.open(self.proc, ap, "rc", tid=tr.rng.choice(self.proc.workers))
            return "<file>\n" + numbered(text, 1, "pad") + "\n</file>"
        return Call("read", {"filePath": ap}, run)

    def edit(self, path, old, new):
        ap = self.p.abs(path)

        def run():
            tr = self.tr
            w = tr.rng.choice(self.proc.workers)
            text = self.p.read(ap) or ""
            tr.open(self.proc, ap, "rc", tid=w)
            if old not in text:
                return "Error: oldString not found in content"
            text = text.replace(old, new, 1)
            self.p.put(ap, text)
            tr.create(self.proc, ap, len(text.encode()), "wc", tid=w)
            return ""
        return Call("edit", {"filePath": ap, "oldString": old, "newString": new}, run)

    def write(self, path, content, err=None):
        ap = self.p.abs(path)

        def run():
            tr = self.tr
            w = tr.rng.choice(self.proc.workers)
            if err:
                tr.open(self.proc, ap, "wc", err=err, tid=w)
                return f"Error: {err}: permission denied, open '{ap}'"
            d = posixpath.dirname(ap)
            if self.p.rel(ap) is not None and not self.runner.dir_exists(d):
                tr.mkdir(self.proc, d, tid=w)
                self.p.extra_dirs.add(d)
            tr.create(self.proc, ap, len(content.encode()), "wc", tid=w)
            self.p.put(ap, content)
            return ""
        return Call("write", {"filePath": ap, "content": content}, run)

    def grep(self, pattern, include=None):
        def run():
            tr = self.tr
            rg = f"{HOME}/.local/share/opencode/bin/rg"
            argv = [rg, "-nH", "--field-match-separator=|", "--regexp", pattern] + (["--glob", include] if include else []) + [self.p.root]
            c = tr.spawn(self.proc, rg, argv, self.cwd)
            ld(tr, c, ["libc.so.6"])
            hits = self.p.grep(pattern)
            for f in sorted({h[0] for h in hits})[:10]:
                tr.open(c, f, "r")
            tr.exit(c, 0 if hits else 1)
            if not hits:
                return "No files found"
            out = [f"Found {len(hits)} matches"]
            for f in sorted({h[0] for h in hits}):
                out.append(f"{f}:")
                out += [f"  Line {n}: {line.strip()}" for (ff, n, line) in hits if ff == f]
                out.append("")
            return "\n".join(out).rstrip()
        args = {"pattern": pattern}
        if include:
            args["include"] = include
        return Call("grep", args, run)

    def glob(self, pattern):
        def run():
            self.tr.open(self.proc, self.p.root, "dir", tid=self.tr.rng.choice(self.proc.workers))
            hits = self.p.glob(pattern)
            return "\n".join(hits) if hits else "No files found"
        return Call("glob", {"pattern": pattern}, run)

    def ls(self, path=None):
        ap = self.p.abs(path or self.p.root)

        def run():
            self.tr.open(self.proc, ap, "dir", tid=self.tr.rng.choice(self.proc.workers))
            rel = self.p.rel(ap) or ""
            names = sorted({k[len(rel) + 1 if rel else 0:].split("/")[0] + ("/" if "/" in k[len(rel) + 1 if rel else 0:] else "")
                            for k in self.p.files if not rel or k.startswith(rel + "/")})
            return f"{ap}/\n" + "\n".join(f"  - {n}" for n in names)
        return Call("list", {"path": ap}, run)

    def todo(self, items):
        todos = [{"content": c, "status": st, "priority": pr, "id": str(i + 1)} for i, (c, st, pr) in enumerate(items)]

        def run():
            self.tr.create(self.proc, f"{HOME}/.local/share/opencode/storage/todo/{self.ses}.json", len(json.dumps(todos)), "wc",
                           tid=self.tr.rng.choice(self.proc.workers))
            return json.dumps(todos, indent=2)
        return Call("todowrite", {"todos": todos}, run)


# =============================================================== aider

AIDER_SYSTEM = """Act as an expert software developer.
Always use best practices when coding.
Respect and use existing conventions, libraries, etc that are already present in the code base.
{lang}
Take requests for changes to the supplied code.
If the request is ambiguous, ask questions.

Always reply to the user in {language}.

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

Every *SEARCH* section must *EXACTLY MATCH* the existing file content, character for character, including all comments, docstrings, etc."""

AIDER_REMINDER = """# *SEARCH/REPLACE block* Rules:

Every *SEARCH/REPLACE block* must use this format:
1. The *FULL* file path alone on a line, verbatim.
...
ONLY EVER RETURN CODE IN A *SEARCH/REPLACE BLOCK*!
Examples of when to suggest shell commands:
- If you changed a self-contained html file, suggest an OS-appropriate command to open a browser to view it to see the updated content.
- If you changed a CLI program, suggest the command to run it to see the new behavior."""

AIDER_EXAMPLES = [
    {"role": "user", "content": "Change get_factorial() to use math.factorial"},
    {"role": "assistant", "content": "To make this change we need to modify `mathweb/flask/app.py` to:\n\n1. Import the math package.\n2. Remove the existing factorial() function.\n3. Update get_factorial() to call math.factorial instead.\n\nHere are the *SEARCH/REPLACE* blocks:\n\nmathweb/flask/app.py\n```python\n<<<<<<< SEARCH\nfrom flask import Flask\n=======\nimport math\nfrom flask import Flask\n>>>>>>> REPLACE\n```"},
    {"role": "user", "content": "I switched to a new code base. Please don't consider the above files or try to edit them any longer."},
    {"role": "assistant", "content": "Ok."},
]

COMMIT_SYSTEM = """You are an expert software engineer that generates concise, one-line Git commit messages based on the provided diffs.
Review the provided context and diffs which are about to be committed to a git repo.
Review the diffs carefully.
Generate a one-line commit message for those changes.
The commit message should be structured as follows: <type>: <description>
Use these for <type>: fix, feat, build, chore, ci, docs, style, refactor, perf, test

Ensure the commit message:
- Starts with the appropriate prefix.
- Is in the imperative mood (e.g., "add feature" not "added feature" or "adding feature").
- Does not exceed 72 characters.

Reply only with the one-line commit message, without any additional text, explanations, or line breaks."""


def edit_block(path, search, replace, lang="python"):
    return f"{path}\n```{lang}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n```"


class Aider(Agent):
    provider, api, host = "openai", "chat", "api.openai.com"
    url = "https://api.openai.com/v1/chat/completions"
    model = "gpt-4.1"
    weak = "gpt-4.1-mini"
    stop_tool, stop_end = "tool_calls", "stop"
    connect_style = 0
    reconnect_p = 0.15

    def __init__(self, tr, proj, task, *, chat_files=(), read_only=(), language=None, test_cmd=None, comm="aider", **kw):
        self.chat_files = list(chat_files)
        self.read_only = list(read_only)
        self.language = language
        self.test_cmd = test_cmd
        self.comm = comm
        self.history = []
        super().__init__(tr, proj, task, **kw)

    def start(self):
        tr, p = self.tr, self.p
        self.cwd = p.root
        venv = f"{HOME}/.local/share/pipx/venvs/aider-chat"
        args = self.opts.get("argv", ["--model", "gpt-4.1"])
        if self.comm == "aider":
            self.proc = tr.root(f"{HOME}/.local/bin/aider", [f"{venv}/bin/python", f"{HOME}/.local/bin/aider"] + args, p.root, comm="aider")
        else:
            self.proc = tr.root(f"{venv}/bin/python3", ["python3", "-m", "aider"] + args, p.root)
        self.llm_tid = self.proc.pid
        python_start(tr, self.proc, mods=PY_COMMON + PY_NET + ["aider/__init__", "aider/main", "aider/coders/base_coder",
                                                                "aider/repomap", "litellm/__init__", "openai/__init__",
                                                                "httpx/__init__", "httpcore/__init__", "pydantic/__init__",
                                                                "rich/console", "yaml/__init__"], venv=venv)
        tr.open(self.proc, f"{HOME}/.aider.conf.yml", "rc", err="ENOENT")
        tr.open(self.proc, f"{p.root}/.aider.conf.yml", "rc", err="ENOENT")
        tr.open(self.proc, f"{p.root}/.env", "rc", err="ENOENT")
        for argv in (["git", "rev-parse", "--show-toplevel"], ["git", "ls-files"]):
            g = tr.spawn(self.proc, "/usr/bin/git", argv, p.root)
            ld(tr, g, ["libpcre2-8.so.0", "libz.so.1", "libc.so.6"])
            tr.open(g, f"{p.root}/.git/index", "r")
            tr.exit(g, 0)
        tr.open(self.proc, f"{p.root}/.aider.tags.cache.v4", "dir")
        for f in self.chat_files + self.read_only:
            tr.open(self.proc, p.abs(f), "rc")
        tr.create(self.proc, f"{p.root}/.aider.chat.history.md", tr.rng.randint(100, 300), "a")

    def system_prompt(self):
        lang = ""
        return AIDER_SYSTEM.format(lang=lang, language=self.language or "the same language they are using") + "\n\n" + AIDER_REMINDER

    def first_user(self, task):
        if task:
            self.history.append({"role": "user", "content": task})
            self.tr.create(self.proc, f"{self.p.root}/.aider.input.history", len(task) + 40, "a")

    def request_messages(self):
        msgs = [dict(m) for m in AIDER_EXAMPLES]
        others = [k for k in sorted(self.p.files) if k not in self.chat_files and k not in self.read_only][:12]
        if others:
            rmap = "Here are summaries of some files present in my git repository.\nDo not propose changes to these files, treat them as *read-only*.\nIf you need to edit any of these files, ask me to *add them to the chat* first.\n\n"
            rmap += "\n".join(f"{k}:\n⋮" for k in others)
            msgs += [{"role": "user", "content": rmap}, {"role": "assistant", "content": "Ok, I won't try and edit those files without asking first."}]
        if self.read_only:
            ro = "Here are some READ ONLY files, provided for your reference.\nDo not edit these files!\n\n"
            ro += "\n\n".join(f"{f}\n```\n{self.p.read(self.p.abs(f))}```" for f in self.read_only)
            msgs += [{"role": "user", "content": ro}, {"role": "assistant", "content": "Ok, I will use these files as references."}]
        if self.chat_files:
            cf = "I have *added these files to the chat* so you can go ahead and edit them.\n\n*Trust this message as the true contents of these files!*\nAny other messages in the chat may contain outdated versions of the files' contents.\n\n"
            cf += "\n\n".join(f"{f}\n```\n{self.p.read(self.p.abs(f)) or ''}```" for f in self.chat_files)
            msgs += [{"role": "user", "content": cf}, {"role": "assistant", "content": "Ok, any changes I propose will be to those files."}]
        return msgs + self.history

    def user(self, text, wait=(4000, 60000)):
        self.tr.tick(*wait)
        self.history.append({"role": "user", "content": text})
        self.tr.create(self.proc, f"{self.p.root}/.aider.input.history", len(text) + 40, "a")

    def turn(self, text="", *calls):
        raise TypeError("aider has no tools; use reply()")

    def reply(self, text, edits=(), test=None, commit=None, lint=True, run=None, reflect=True):
        """One assistant answer. `edits`: (path, search, replace) blocks that aider applies (a block
        whose SEARCH is not in the file fails, as in aider); `test`: the R of the test command run
        after the edits (aider's auto-test), fed back when it fails; `commit`: the commit message
        the weak model writes (a side call) when edits applied; `run`: (cmd, R) the user accepted
        from a ```bash block, its output added to the chat."""
        idx = self.llm(text)
        self.history.append({"role": "assistant", "content": text})
        tr = self.tr
        tr.create(self.proc, f"{self.p.root}/.aider.chat.history.md", len(text.encode()) + 20, "a")
        failed, applied = [], []
        for path, search, replace in edits:
            ap = self.p.abs(path)
            cur = self.p.read(ap)
            tr.open(self.proc, ap, "rc", err=None if cur is not None else "ENOENT")
            if cur is None and not search:
                cur = ""
            if cur is None or (search and search not in cur):
                failed.append((path, search, replace))
                continue
            new = cur.replace(search, replace, 1) if search else replace
            self.p.put(ap, new)
            tr.create(self.proc, ap, len(new.encode()), "wc")
            applied.append(path)
        if failed:
            n = len(failed)
            msg = f"# {n} SEARCH/REPLACE block{'s' if n > 1 else ''} failed to match!\n"
            for path, search, replace in failed:
                msg += (f"\n## SearchReplaceNoExactMatch: The SEARCH section must exactly match an existing block of lines including all white space, comments, indentation, docstrings, etc\n\n"
                        f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n")
            msg += "\nThe SEARCH section must exactly match an existing block of lines including all white space, comments, indentation, docstrings, etc\n"
            if applied:
                msg += f"\n# The other {len(applied)} SEARCH/REPLACE block{'s' if len(applied) > 1 else ''} were applied successfully.\nDon't re-send them.\nJust reply with fixed versions of the blocks above that failed to match.\n"
            self.history.append({"role": "user", "content": msg})
            return idx
        if applied and lint:
            for path in applied:
                if path.endswith(".py"):
                    c = tr.spawn(self.proc, f"{HOME}/.local/share/pipx/venvs/aider-chat/bin/python",
                                 [f"{HOME}/.local/share/pipx/venvs/aider-chat/bin/python", "-m", "flake8",
                                  "--select=E9,F821,F823,F831,F406,F407,F701,F702,F704,F706", "--show-source", "--isolated", path], self.cwd)
                    python_start(tr, c, mods=PY_COMMON[:18] + ["flake8/__init__"], venv=f"{HOME}/.local/share/pipx/venvs/aider-chat")
                    tr.open(c, self.p.abs(path), "rc")
                    tr.exit(c, 0)
        if applied and commit:
            diff = "\n".join(f"diff --git a/{p_} b/{p_}" for p_ in applied)
            self.llm(commit, model=self.weak, system=COMMIT_SYSTEM,
                     messages=[{"role": "user", "content": f"# Diffs:\n{diff}"}], tools=[], fast=True)
            for argv in (["git", "add", "--"] + applied, ["git", "commit", "-m", commit, "--no-verify", "--"] + applied):
                g = tr.spawn(self.proc, "/usr/bin/git", argv, self.cwd)
                git_handler(self.runner, g, argv, 0, self.cwd, None)
                tr.exit(g, 0)
        if run:
            cmd, res = run
            out, code = self.sh(cmd, res)
            self.history.append({"role": "user", "content": f"I ran this command:\n\n{cmd}\n\nAnd got this output:\n\n{out}"})
        if applied and test is not None and self.test_cmd:
            out, code = self.sh(self.test_cmd, test)
            if code != 0 and reflect:
                self.history.append({"role": "user", "content": out})
        return idx

    def sh(self, cmd, res):
        tr = self.tr
        sh = tr.spawn(self.proc, "/bin/bash", ["/bin/bash", "-i", "-c", cmd], self.cwd)
        bash_start(tr, sh, interactive=True, tty=True)
        code, _ = self.runner.run_parts(sh, cmd, res, self.cwd, in_place=False)
        tr.exit(sh, code)
        return res.out.rstrip("\n"), code

    def test(self, res):
        """The user typed /test: aider runs the test command and adds failing output."""
        out, code = self.sh(self.test_cmd, res)
        if code != 0:
            self.history.append({"role": "user", "content": out})
        return code


# =============================================================== custom OpenAI SDK agent

AGENT_PY_TOOLS = [
    tool("run_command", "Run a shell command in the workspace; returns its exit code and output.", {"command": s("The shell command")}, ["command"]),
    tool("read_file", "Read a text file and return its contents.", {"path": s("Path relative to the workspace or absolute")}, ["path"]),
    tool("write_file", "Create or overwrite a text file with the given contents.", {"path": s("Path relative to the workspace or absolute"),
         "content": s("The full new contents")}, ["path", "content"]),
]


class OpenAIChat(Agent):
    provider, api, host = "openai", "chat", "api.openai.com"
    url = "https://api.openai.com/v1/chat/completions"
    model = "gpt-4.1"
    stop_tool, stop_end = "tool_calls", "stop"
    connect_style = 0
    reconnect_p = 0.1

    def __init__(self, tr, proj, task, *, system, script="agent.py", agent_dir=None, **kw):
        self._system = system
        self.script = script
        self.agent_dir = agent_dir
        super().__init__(tr, proj, task, **kw)

    def start(self):
        tr, p = self.tr, self.p
        self.cwd = p.root
        adir = self.agent_dir or f"{HOME}/agents/ops-bot"
        self.proc = tr.root("/usr/bin/python3", ["python3", f"{adir}/{self.script}", "--workspace", p.root] + self.opts.get("argv", []), adir)
        self.llm_tid = self.proc.pid
        python_start(tr, self.proc, mods=PY_COMMON + PY_NET + ["openai/__init__", "httpx/__init__", "httpcore/__init__", "anyio/__init__", "pydantic/__init__"],
                     site=f"{HOME}/.local/lib/python3.12/site-packages")
        tr.open(self.proc, f"{adir}/{self.script}", "rc")
        tr.open(self.proc, f"{adir}/.env", "rc")
        self.proc.cwd = p.root

    def system_prompt(self):
        return self._system

    def tool_specs(self):
        return self.opts.get("tools", AGENT_PY_TOOLS)

    def new_id(self):
        return "call_" + self.tr.alnum(24, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    def run_command(self, cmd, res=None):
        res = res or R()

        def run():
            tr = self.tr
            sh = tr.spawn(self.proc, "/bin/sh", ["/bin/sh", "-c", cmd], self.cwd)
            dash_start(tr, sh)
            code, _ = self.runner.run_parts(sh, cmd, res, self.cwd, in_place=True)
            tr.exit(sh, code)
            return f"exit code {code}\n{res.out}"
        return Call("run_command", {"command": cmd}, run)

    def read_file(self, path):
        ap = self.p.abs(path)

        def run():
            text = self.p.read(ap)
            if text is None:
                text = self.opts.get("outside", {}).get(ap)
            self.tr.open(self.proc, ap, "rc", err=None if text is not None else "ENOENT")
            if text is None:
                return f"error: [Errno 2] No such file or directory: '{path}'"
            return text
        return Call("read_file", {"path": path}, run)

    def write_file(self, path, content, err=None):
        ap = self.p.abs(path)

        def run():
            tr = self.tr
            if err:
                tr.open(self.proc, ap, "wc", err=err)
                return f"error: [Errno 13] Permission denied: '{path}'" if err == "EACCES" else f"error: [Errno 2] No such file or directory: '{path}'"
            tr.create(self.proc, ap, len(content.encode()), "wc")
            self.p.put(ap, content)
            return f"wrote {len(content.encode())} bytes to {path}"
        return Call("write_file", {"path": path, "content": content}, run)


# =============================================================== OpenHands

OPENHANDS_SYSTEM = """You are OpenHands agent, a helpful AI assistant that can interact with a computer to solve tasks.

<ROLE>
Your primary role is to assist users by executing commands, modifying code, and solving technical problems effectively. You should be thorough, methodical, and prioritize quality over speed.
* If the user asks a question, like "why is X happening", don't try to fix the problem. Just give an answer to the question.
</ROLE>

<EFFICIENCY>
* Each action you take is somewhat expensive. Wherever possible, combine multiple actions into a single action, e.g. combine multiple bash commands into one, using sed and grep to edit/view multiple files at once.
</EFFICIENCY>

<FILE_SYSTEM_GUIDELINES>
* When a user provides a file path, do NOT assume it's relative to the current working directory. First explore the file system to locate the file before working on it.
* If asked to edit a file, edit the file directly, rather than creating a new file with a different filename.
</FILE_SYSTEM_GUIDELINES>

<CODE_QUALITY>
* Write clean, efficient code with minimal comments. Avoid redundancy in comments: Do not repeat information that can be easily inferred from the code itself.
</CODE_QUALITY>

<VERSION_CONTROL>
* When configuring git credentials, use "openhands" as the user.name and "openhands@all-hands.dev" as the user.email by default, unless explicitly instructed otherwise.
* Exercise caution with git operations. Do NOT make potentially dangerous changes (e.g., pushing to main, deleting repositories) unless explicitly asked to do so.
</VERSION_CONTROL>

<PROBLEM_SOLVING_WORKFLOW>
1. EXPLORATION: Thoroughly explore relevant files and understand the context before proposing solutions
2. ANALYSIS: Consider multiple approaches and select the most promising one
3. TESTING:
   * For bug fixes: Create tests to verify issues before implementing fixes
   * If the environment is not set up to run tests, consult with the user first before investing time to run tests
4. IMPLEMENTATION: Make focused, minimal changes to address the problem
5. VERIFICATION: If the environment is set up to run tests, test your implementation thoroughly, including edge cases.
</PROBLEM_SOLVING_WORKFLOW>

<SECURITY>
* Only use GITHUB_TOKEN and other credentials in ways the user has explicitly requested and would expect.
</SECURITY>

<TROUBLESHOOTING>
* If you've made repeated attempts to solve a problem but tests still fail or the user reports it's still broken:
  1. Step back and reflect on 5-7 different possible sources of the problem
  2. Assess the likelihood of each possible cause
  3. Methodically address the most likely causes, starting with the highest probability
</TROUBLESHOOTING>"""

OPENHANDS_TOOLS = [
    tool("execute_bash", "Execute a bash command in the terminal within a persistent shell session.\n\n### Command Execution\n* One command at a time: You can only execute one bash command at a time.\n* Persistent session: Commands execute in a persistent shell session where environment variables, virtual environments, and working directory persist between commands.\n* Timeout: Commands have a soft timeout of 10 seconds.",
         {"command": s("The bash command to execute. Can be empty string to view additional logs when previous exit code is `-1`."),
          "is_input": {"type": "string", "enum": ["true", "false"]}, "timeout": {"type": "number"}}, ["command"]),
    tool("think", "Use the tool to think about something. It will not obtain new information or make any changes to the repository, but just log the thought.",
         {"thought": s("The thought to log.")}, ["thought"]),
    tool("finish", "Signals the completion of the current task or conversation.\n\nUse this tool when:\n- You have successfully completed the user's requested task\n- You cannot proceed further due to technical limitations or missing information\n\nThe message should include:\n- A clear summary of actions taken and their results\n- Any next steps for the user\n- Explanation if you're unable to complete the task",
         {"message": s("Final message to send to the user"), "task_completed": {"type": "string", "enum": ["true", "false", "partial"]}},
         ["message", "task_completed"]),
    tool("str_replace_editor", "Custom editing tool for viewing, creating and editing files in plain-text format\n* State is persistent across command calls and discussions with the user\n* If `path` is a file, `view` displays the result of applying `cat -n`.\n* The `create` command cannot be used if the specified `path` already exists as a file",
         {"command": {"type": "string", "enum": ["view", "create", "str_replace", "insert", "undo_edit"]}, "path": s("Absolute path to file or directory"),
          "file_text": s("Required parameter of `create` command"), "old_str": s("Required parameter of `str_replace` command"),
          "new_str": s("Optional parameter of `str_replace` command"), "view_range": {"type": "array", "items": {"type": "integer"}}}, ["command", "path"]),
]


class OpenHands(Agent):
    provider, api, host = "openai", "chat", "api.openai.com"
    url = "https://api.openai.com/v1/chat/completions"
    model = "gpt-4.1"
    stop_tool, stop_end = "tool_calls", "stop"
    connect_style = 0
    reconnect_p = 0.2

    def start(self):
        tr, p = self.tr, self.p
        self.cwd = p.root
        venv = f"{HOME}/.local/share/pipx/venvs/openhands-ai"
        self.proc = tr.root(f"{HOME}/.local/bin/openhands", [f"{venv}/bin/python", f"{HOME}/.local/bin/openhands"] + self.opts.get("argv", []),
                            p.root, comm="openhands")
        self.llm_tid = self.proc.pid
        python_start(tr, self.proc, mods=PY_COMMON + PY_NET + ["openhands/__init__", "openhands/core/main", "litellm/__init__",
                                                                "httpx/__init__", "pydantic/__init__"], venv=venv)
        tr.open(self.proc, f"{HOME}/.openhands/settings.json", "rc")
        self.rt = tr.spawn(self.proc, f"{venv}/bin/python", [f"{venv}/bin/python", "-u", "-m", "openhands.runtime.action_execution_server",
                                                             str(tr.rng.randint(30000, 39999)), "--working-dir", p.root, "--username", "dev", "--user-id", "1000"], p.root)
        python_start(tr, self.rt, mods=PY_COMMON[:30] + ["openhands/runtime/action_execution_server"], venv=venv)
        tr.open(self.rt, f"{p.root}/.openhands/microagents/repo.md", "rc", err=None if self.instructions else "ENOENT")
        self.shp = tr.spawn(self.rt, "/usr/bin/tmux", ["tmux", "new-session", "-d", "-s", f"openhands-dev-{tr.hexs(8)}", "-x", "1000", "-y", "1000", "/bin/bash"], p.root)
        tr.exec(self.shp, "/bin/bash", ["/bin/bash"], p.root)
        bash_start(tr, self.shp, interactive=True, tty=True)
        self.sid = tr.hexs(32)

    def system_prompt(self):
        return OPENHANDS_SYSTEM

    def tool_specs(self):
        return OPENHANDS_TOOLS

    def first_user(self, task):
        self.msgs.append({"role": "user", "content": task})
        info = (f"<RUNTIME_INFORMATION>\n\nThe user has access to the following hosts for accessing a web application,\neach of which has a corresponding port:\n* http://localhost:{self.tr.rng.randint(50000, 59999)} (port {self.tr.rng.randint(50000, 59999)})\n\n"
                f"Today's date is {self.opts.get('date', '2026-03-02')} (UTC).\n</RUNTIME_INFORMATION>")
        if self.instructions:
            info = f"<REPOSITORY_INFO>\nAt the user's request, repository {posixpath.basename(self.p.root)} has been cloned to {self.p.root} in the current working directory.\n</REPOSITORY_INFO>\n\n<REPOSITORY_INSTRUCTIONS>\n{self.instructions}\n</REPOSITORY_INSTRUCTIONS>\n\n" + info
        self.msgs.append({"role": "user", "content": info})

    def new_id(self):
        return "call_" + self.tr.alnum(24, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    def after_llm(self, side):
        tr = self.tr
        tr.create(self.proc, f"{HOME}/.openhands/sessions/{self.sid}/events/{tr.rng.randint(0, 300)}.json", tr.rng.randint(300, 6000), "wc")

    def bash(self, cmd, res=None, timeout=None):
        res = res or R()

        def run():
            code = self.shell_in(self.shp, cmd, res, in_place=False)
            out = res.out.rstrip("\n")
            return (f"{out}\n[The command completed with exit code {code}.]\n[Current working directory: {self.cwd}]\n"
                    f"[Python interpreter: /usr/bin/python]\n[Command finished with exit code {code}]")
        args = {"command": cmd, "is_input": "false"}
        if timeout:
            args["timeout"] = timeout
        return Call("execute_bash", args, run)

    def view(self, path):
        ap = self.p.abs(path)

        def run():
            text = self.p.read(ap)
            self.tr.open(self.rt, ap, "rc", err=None if text is not None else "ENOENT")
            if text is None:
                return f"ERROR:\nInvalid `path` parameter: {ap}. The path {ap} does not exist. Please provide a valid path."
            return f"Here's the result of running `cat -n` on {ap}:\n" + numbered(text, 1, "tab")
        return Call("str_replace_editor", {"command": "view", "path": ap}, run)

    def create(self, path, text):
        ap = self.p.abs(path)

        def run():
            d = posixpath.dirname(ap)
            if self.p.rel(ap) is not None and not self.runner.dir_exists(d):
                self.tr.mkdir(self.rt, d)
                self.p.extra_dirs.add(d)
            self.tr.create(self.rt, ap, len(text.encode()), "wc")
            self.p.put(ap, text)
            return f"File created successfully at: {ap}"
        return Call("str_replace_editor", {"command": "create", "path": ap, "file_text": text}, run)

    def str_replace(self, path, old, new):
        ap = self.p.abs(path)

        def run():
            cur = self.p.read(ap) or ""
            self.tr.open(self.rt, ap, "rc")
            if old not in cur:
                return f"ERROR:\nNo replacement was performed, old_str `{old}` did not appear verbatim in {ap}."
            cur = cur.replace(old, new, 1)
            self.p.put(ap, cur)
            self.tr.create(self.rt, ap, len(cur.encode()), "wc")
            return (f"The file {ap} has been edited. Here's the result of running `cat -n` on a snippet of {ap}:\n"
                    + snippet_around(cur, new, fmt="tab") + "\nReview the changes and make sure they are as expected. Edit the file again if necessary.")
        return Call("str_replace_editor", {"command": "str_replace", "path": ap, "old_str": old, "new_str": new}, run)

    def think(self, thought):
        return Call("think", {"thought": thought}, lambda: "Your thought has been logged.")

    def finish(self, message, completed="true"):
        return Call("finish", {"message": message, "task_completed": completed}, lambda: None)

    def end(self, code=0):
        tr = self.tr
        tr.tick(200, 900)
        tr.exit(self.shp, 0)
        tr.exit(self.rt, 0)
        tr.exit(self.proc, code)


# =============================================================== Cline (VS Code extension)

CLINE_SYSTEM = """You are Cline, a highly skilled software engineer with extensive knowledge in many programming languages, frameworks, design patterns, and best practices.

====

TOOL USE

You have access to a set of tools that are executed upon the user's approval. You can use one tool per message, and will receive the result of that tool use in the user's response. You use tools step-by-step to accomplish a given task, with each tool use informed by the result of the previous tool use.

# Tool Use Guidelines

1. Assess what information you already have and what information you need to proceed with the task.
2. Choose the most appropriate tool based on the task and the tool descriptions provided.
3. If multiple actions are needed, use one tool at a time per message to accomplish the task iteratively.
4. ALWAYS wait for user confirmation after each tool use before proceeding.

====

RULES

- Your current working directory is: {root}
- You cannot `cd` into a different directory to complete a task. You are stuck operating from '{root}', so be sure to pass in the correct 'path' parameter when using tools that require a path.
- When executing commands, if you don't see the expected output, assume the terminal executed the command successfully and proceed with the task.
- Your goal is to try to accomplish the user's task, NOT engage in a back and forth conversation.
- NEVER end attempt_completion result with a question or request to engage in further conversation!
- You are STRICTLY FORBIDDEN from starting your messages with "Great", "Certainly", "Okay", "Sure".

====

SYSTEM INFORMATION

Operating System: Linux 6.8
Default Shell: /bin/bash
Home Directory: /home/dev
Current Working Directory: {root}

====

OBJECTIVE

You accomplish a given task iteratively, breaking it down into clear steps and working through them methodically.
Once you've completed the user's task, you must use the attempt_completion tool to present the result of the task to the user."""

CLINE_TOOLS = [
    tool("execute_command", "Request to execute a CLI command on the system. Use this when you need to perform system operations or run specific commands to accomplish any step in the user's task.",
         {"command": s("The CLI command to execute."), "requires_approval": {"type": "boolean", "description": "Whether this command requires explicit user approval."}},
         ["command", "requires_approval"]),
    tool("read_file", "Request to read the contents of a file at the specified path.", {"path": s("The path of the file to read (relative to the current working directory)")}, ["path"]),
    tool("write_to_file", "Request to write content to a file at the specified path. If the file exists, it will be overwritten with the provided content. If the file doesn't exist, it will be created.",
         {"path": s("The path of the file to write to (relative to the current working directory)"), "content": s("The content to write to the file.")}, ["path", "content"]),
    tool("replace_in_file", "Request to replace sections of content in an existing file using SEARCH/REPLACE blocks that define exact changes to specific parts of the file.",
         {"path": s("The path of the file to modify"), "diff": s("One or more SEARCH/REPLACE blocks")}, ["path", "diff"]),
    tool("search_files", "Request to perform a regex search across files in a specified directory, providing context-rich results.",
         {"path": s("The path of the directory to search in"), "regex": s("The regular expression pattern to search for."), "file_pattern": s("Glob pattern to filter files")}, ["path", "regex"]),
    tool("list_files", "Request to list files and directories within the specified directory.", {"path": s("The path of the directory"), "recursive": {"type": "boolean"}}, ["path"]),
    tool("ask_followup_question", "Ask the user a question to gather additional information needed to complete the task.", {"question": s("The question to ask the user.")}, ["question"]),
    tool("attempt_completion", "After each tool use, the user will respond with the result of that tool use. Once you've received the results of tool uses and can confirm that the task is complete, use this tool to present the result of your work to the user.",
         {"result": s("The result of the task. Formulate this result in a way that is final and does not require further input from the user."),
          "command": s("A CLI command to execute to show a live demo of the result to the user.")}, ["result"]),
]


class Cline(Agent):
    provider, api, host = "anthropic", "messages", "api.anthropic.com"
    url = "https://api.anthropic.com/v1/messages"
    model = "claude-sonnet-4-5-20250929"
    reconnect_p = 0.2

    def __init__(self, tr, proj, task, *, via=None, **kw):
        if via == "openrouter":
            self.provider, self.api, self.host = "unknown", "chat", "openrouter.ai"
            self.url = "https://openrouter.ai/api/v1/chat/completions"
            self.model = kw.pop("model", None) or "anthropic/claude-sonnet-4.5"
            self.stop_tool, self.stop_end = "tool_calls", "stop"
            self.openai_ids = True
        else:
            self.openai_ids = False
        super().__init__(tr, proj, task, **kw)

    def start(self):
        tr, p = self.tr, self.p
        self.cwd = p.root
        base = tr.rng.randint(2000, 9000)
        self.proc = tr.existing(base + 61, base + 2, "code", p.root)
        self.proc.workers = [base + 61 + k for k in (9, 10, 11, 12)]
        self.llm_tid = self.proc.pid
        self.pty = tr.existing(base + 58, base + 2, "code", p.root)
        self.term = tr.existing(base + 640, base + 58, "bash", p.root)
        self.task_dir = f"{HOME}/.config/Code/User/globalStorage/saoudrizwan.claude-dev/tasks/{tr.now // 1_000_000}"
        tr.open(self.proc, f"{p.root}/.clinerules", "rc", err=None if self.instructions else "ENOENT")
        tr.mkdir(self.proc, self.task_dir, tid=self.proc.workers[0])

    def system_prompt(self):
        sp = CLINE_SYSTEM.format(root=self.p.root)
        if self.instructions:
            sp += (f"\n\n====\n\nUSER'S CUSTOM INSTRUCTIONS\n\nThe following additional instructions are provided by the user, and should be followed to the best of your ability without interfering with the TOOL USE guidelines.\n\n"
                   f"# .clinerules\n\nThe following is provided by a root-level .clinerules file where the user has specified instructions for this working directory ({self.p.root})\n\n{self.instructions}")
        return sp

    def tool_specs(self):
        return CLINE_TOOLS

    def env_details(self):
        tr = self.tr
        vis = self.opts.get("visible", "src/index.ts")
        t = datetime.datetime.fromtimestamp(tr.now / 1e9, datetime.timezone.utc)
        stamp = f"{t.month}/{t.day}/{t.year}, {(t.hour - 1) % 12 + 1}:{t.minute:02d}:{t.second:02d} {'AM' if t.hour < 12 else 'PM'} (UTC)"
        return (f"<environment_details>\n# VSCode Visible Files\n{vis}\n\n# VSCode Open Tabs\n{vis}\n\n# Current Time\n"
                f"{stamp}\n\n# Current Mode\nACT MODE\n</environment_details>")

    def first_user(self, task):
        files = "\n".join(sorted(self.p.files)[:40])
        self.msgs.append({"role": "user", "content": f"<task>\n{task}\n</task>\n" + self.env_details().replace(
            "\n\n# Current Mode", f"\n\n# Current Working Directory ({self.p.root}) Files\n{files}\n\n# Current Mode")})

    def after_results(self, calls):
        if calls and calls[-1].name != "attempt_completion":
            self.msgs.append({"role": "user", "content": self.env_details()})

    def new_id(self):
        if self.openai_ids:
            return "call_" + self.tr.alnum(24, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return "toolu_01" + self.tr.alnum(22)

    def after_llm(self, side):
        tr = self.tr
        w = tr.rng.choice(self.proc.workers)
        tr.create(self.proc, f"{self.task_dir}/api_conversation_history.json", tr.rng.randint(4000, 90000), "wc", tid=w)
        tr.create(self.proc, f"{self.task_dir}/ui_messages.json", tr.rng.randint(2000, 40000), "wc", tid=w)

    def execute(self, cmd, res=None, approval=False):
        res = res or R()

        def run():
            self.shell_in(self.term, cmd, res, in_place=False)
            out = res.out.rstrip("\n")
            return f"Command executed.\nOutput:\n{out}" if out else "Command executed."
        return Call("execute_command", {"command": cmd, "requires_approval": approval}, run)

    def read_file(self, path):
        ap = self.p.abs(path)

        def run():
            text = self.p.read(ap)
            if text is None:
                text = self.opts.get("outside", {}).get(ap)
            self.tr.open(self.proc, ap, "rc", err=None if text is not None else "ENOENT", tid=self.tr.rng.choice(self.proc.workers))
            return text if text is not None else f"Error reading file: File not found: {ap}"
        return Call("read_file", {"path": path}, run)

    def write_to_file(self, path, content, err=None):
        ap = self.p.abs(path)

        def run():
            tr = self.tr
            w = tr.rng.choice(self.proc.workers)
            if err:
                tr.open(self.proc, ap, "wc", err=err, tid=w)
                return f"Error writing file: {err}: permission denied, open '{ap}'"
            d = posixpath.dirname(ap)
            if self.p.rel(ap) is not None and not self.runner.dir_exists(d):
                tr.mkdir(self.proc, d, tid=w)
                self.p.extra_dirs.add(d)
            tr.create(self.proc, ap, len(content.encode()), "wc", tid=w)
            self.p.put(ap, content)
            return (f"The content was successfully saved to {path}.\n\nHere is the full, updated content of the file that was saved:\n\n"
                    f"<final_file_content path=\"{path}\">\n{content}\n</final_file_content>\n\n"
                    "IMPORTANT: For any future changes to this file, use the final_file_content shown above as your reference.")
        return Call("write_to_file", {"path": path, "content": content}, run)

    def replace_in_file(self, path, old, new):
        ap = self.p.abs(path)
        diff = f"------- SEARCH\n{old}\n=======\n{new}\n+++++++ REPLACE"

        def run():
            tr = self.tr
            w = tr.rng.choice(self.proc.workers)
            cur = self.p.read(ap) or ""
            tr.open(self.proc, ap, "rc", tid=w)
            if old not in cur:
                return (f"The tool execution failed with the following error:\n<error>\nThe SEARCH block:\n{old}\n...does not match anything in the file.\n</error>")
            cur = cur.replace(old, new, 1)
            self.p.put(ap, cur)
            tr.create(self.proc, ap, len(cur.encode()), "wc", tid=w)
            return (f"The content was successfully saved to {path}.\n\nHere is the full, updated content of the file that was saved:\n\n"
                    f"<final_file_content path=\"{path}\">\n{cur}\n</final_file_content>")
        return Call("replace_in_file", {"path": path, "diff": diff}, run)

    def search(self, regex, path="."):
        def run():
            tr = self.tr
            rg = "/usr/share/code/resources/app/node_modules/@vscode/ripgrep/bin/rg"
            c = tr.spawn(self.proc, rg, [rg, "--json", "-e", regex, "--glob", "!**/node_modules/**", "--context", "1", self.p.abs(path)], self.cwd)
            ld(tr, c, ["libc.so.6"])
            hits = self.p.grep(regex)
            for f in sorted({h[0] for h in hits})[:10]:
                tr.open(c, f, "r")
            tr.exit(c, 0 if hits else 1)
            if not hits:
                return "Found 0 results."
            out = [f"Found {len(hits)} result{'s' if len(hits) != 1 else ''}.", ""]
            for f in sorted({h[0] for h in hits}):
                out.append(self.p.rel(f))
                out.append("│----")
                out += [f"│{line}" for (ff, n, line) in hits if ff == f]
                out.append("│----")
                out.append("")
            return "\n".join(out).rstrip()
        return Call("search_files", {"path": path, "regex": regex}, run)

    def complete(self, result, command=None):
        args = {"result": result}
        if command:
            args["command"] = command
        return Call("attempt_completion", args, lambda: None)

    def feedback(self, text):
        """The user answers an attempt_completion with feedback (Cline sends it as a new user turn)."""
        last = self.msgs[-1]
        cid = last["tool_calls"][-1]["id"] if last.get("tool_calls") else ""
        self.tr.tick(8000, 60000)
        self.msgs.append({"role": "tool", "content": f"The user has provided feedback on the results. Consider their input to continue the task, and then attempt completion again.\n<feedback>\n{text}\n</feedback>", "tool_call_id": cid})
        self.msgs.append({"role": "user", "content": self.env_details()})

    def end(self, code=0):
        pass
