"""The kernel side of the dev set: a trace (clock, pids, events in the collector's shape), a small
workspace model, and what a shell command does to the record.

Everything here is deterministic given the trace's seed. Events follow `model/src/lib.rs`:
every event has ts_ns, session, pid, tid, ppid, comm and kind, plus the kind's own fields, and
optional fields are left out when empty (as serde does).

Conventions worth knowing when reading the sessions:
- `Trace.fork(parent)` emits the parent's `fork`; `Trace.exec(proc, ...)` emits `exec` with the new
  comm; `Trace.exit(proc, code)` emits `exit` with the process's lifetime.
- A command line is split at `&&`, `||`, `;`, `|` and newlines; each part runs as a program
  (forked from the shell, or exec'd in place when the shell runs one simple command), with the
  effects its handler knows (pytest writes .pytest_cache, pip connects to PyPI, git push connects
  to GitHub, rm unlinks, ...). `R` says the outcome: output text, exit code, and extra effects.
"""

import fnmatch
import json
import posixpath
import random
import re
import shlex

HOME = "/home/dev"
MS = 1_000_000
US = 1_000

ERRNO = {
    "EPERM": -1, "ENOENT": -2, "ENXIO": -6, "EACCES": -13, "EEXIST": -17, "ENOTDIR": -20,
    "EISDIR": -21, "EROFS": -30, "ENETUNREACH": -101, "ETIMEDOUT": -110, "ECONNREFUSED": -111,
    "EINPROGRESS": -115,
}

# open flags: short name -> (number, text)
FLAGS = {
    "r": (0, "O_RDONLY"),
    "rc": (524288, "O_RDONLY|O_CLOEXEC"),
    "dir": (591872, "O_RDONLY|O_NONBLOCK|O_DIRECTORY|O_CLOEXEC"),
    "w": (577, "O_WRONLY|O_CREAT|O_TRUNC"),
    "wc": (524865, "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC"),
    "a": (1089, "O_WRONLY|O_CREAT|O_APPEND"),
    "ac": (525377, "O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC"),
    "creat": (65, "O_WRONLY|O_CREAT"),
    "excl": (194, "O_RDWR|O_CREAT|O_EXCL"),
    "wexclc": (524481, "O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC"),
    "rw": (2, "O_RDWR"),
    "rwc": (524290, "O_RDWR|O_CLOEXEC"),
    "tty": (2050, "O_RDWR|O_NONBLOCK"),
    "touch": (2369, "O_WRONLY|O_CREAT|O_NOCTTY|O_NONBLOCK"),
}

HOSTS = {
    "api.anthropic.com": "160.79.104.10",
    "api.openai.com": "104.18.33.45",
    "generativelanguage.googleapis.com": "142.250.185.106",
    "openrouter.ai": "104.18.3.115",
    "pypi.org": "151.101.128.223",
    "files.pythonhosted.org": "151.101.64.223",
    "registry.npmjs.org": "104.16.27.34",
    "github.com": "140.82.112.3",
    "api.github.com": "140.82.112.6",
    "raw.githubusercontent.com": "185.199.110.133",
    "objects.githubusercontent.com": "185.199.108.133",
    "archive.ubuntu.com": "91.189.91.82",
    "deb.nodesource.com": "104.22.4.26",
    "proxy.golang.org": "142.250.74.145",
    "index.crates.io": "18.165.83.79",
    "static.crates.io": "18.165.83.44",
    "evil.example": "203.0.113.66",
    "paste.example": "198.51.100.23",
    "cdn.jsdelivr.net": "151.101.1.229",
    "docs.example.com": "93.184.215.14",
    "status.example.com": "93.184.215.20",
    "registry-1.docker.io": "54.236.113.205",
    "k8s.prod.acme.internal": "10.40.12.5",
    "staging.acme.internal": "10.40.20.7",
    "hooks.slack.com": "54.192.14.81",
    "sentry.io": "35.186.247.156",
    "ifconfig.me": "34.117.118.44",
    "get.helm.sh": "152.199.39.108",
}


def argv_bytes(argv):
    return sum(len(a.encode()) + 1 for a in argv)


class Proc:
    """A process as the trace knows it."""

    def __init__(self, tr, pid, ppid, comm, cwd, uid=1000):
        self.pid, self.ppid, self.comm, self.cwd, self.uid = pid, ppid, comm, cwd, uid
        self.start = tr.now
        self.fd = 3
        self.workers = [pid + k for k in (3, 4, 5, 6)]

    def next_fd(self):
        fd = self.fd
        self.fd += 1
        return fd


class Trace:
    """One session: a clock, a pid allocator and the events so far."""

    def __init__(self, session, agent, start_ns, seed):
        self.session = session
        self.agent = agent
        self.rng = random.Random(seed)
        self.now = start_ns
        self.events = []
        self.llm_turns = 0
        self._pid = self.rng.randint(3000, 60000)
        self.labels = []
        self.clean_note = None

    # ---- clock and ids
    def tick(self, lo_ms, hi_ms=None):
        hi_ms = lo_ms if hi_ms is None else hi_ms
        self.now += int(self.rng.uniform(lo_ms, hi_ms) * MS) + self.rng.randint(0, 999)

    def new_pid(self):
        self._pid += self.rng.choice((1, 1, 1, 1, 2, 3, 7))
        return self._pid

    def hexs(self, n):
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def alnum(self, n, alphabet="ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz123456789"):
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def uuid(self):
        h = self.hexs(32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:]}"

    # ---- emission
    def emit(self, p, kind, tid=None, **fields):
        self.now += self.rng.randint(3_000, 120_000)
        ev = {"ts_ns": self.now, "session": self.session, "pid": p.pid, "tid": tid or p.pid,
              "ppid": p.ppid, "comm": p.comm, "kind": kind}
        ev.update(fields)
        self.events.append(ev)
        return ev

    # ---- processes
    def root(self, filename, argv, cwd, ppid=None, uid=1000, comm=None):
        """The traced command itself: its exec is the first event of the session."""
        pid = self.new_pid()
        p = Proc(self, pid, ppid or pid - self.rng.randint(2, 40), "bash", cwd, uid)
        self.exec(p, filename, argv, cwd, comm=comm)
        return p

    def existing(self, pid, ppid, comm, cwd, uid=1000):
        """A process that was running before the recording began (attach mode)."""
        return Proc(self, pid, ppid, comm, cwd, uid)

    def fork(self, parent, tid=None):
        pid = self.new_pid()
        child = Proc(self, pid, parent.pid, parent.comm, parent.cwd, parent.uid)
        self.emit(parent, "fork", tid=tid, child_pid=pid)
        child.start = self.now
        return child

    def exec(self, p, filename, argv, cwd=None, comm=None):
        p.cwd = cwd or p.cwd
        p.comm = (comm or posixpath.basename(filename))[:15]
        self.emit(p, "exec", filename=filename, argv=list(argv), cwd=p.cwd, uid=p.uid,
                  argv_bytes=argv_bytes(argv))

    def spawn(self, parent, filename, argv, cwd=None, comm=None, tid=None):
        child = self.fork(parent, tid=tid)
        self.tick(0.2, 1.5)
        self.exec(child, filename, argv, cwd or parent.cwd, comm=comm)
        return child

    def exit(self, p, code=0, signal=0):
        self.emit(p, "exit", exit_code=code, signal=signal, duration_ns=max(1, self.now - p.start))

    # ---- files
    def open(self, p, path, mode="r", err=None, tid=None):
        flags, text = FLAGS[mode]
        if err:
            self.emit(p, "file", tid=tid, op="open", path=path, flags=flags, flags_text=text,
                      result=ERRNO[err], error=err)
            return None
        fd = p.next_fd() if p.fd < 60 else self.rng.randint(20, 60)
        self.emit(p, "file", tid=tid, op="open", path=path, flags=flags, flags_text=text,
                  fd=fd, result=fd)
        return fd

    def write(self, p, path, fd, nbytes, writes=1, tid=None):
        self.emit(p, "file", tid=tid, op="write", path=path, bytes=nbytes, writes=writes, fd=fd,
                  result=0)

    def create(self, p, path, nbytes, mode="w", err=None, tid=None, writes=None):
        fd = self.open(p, path, mode, err=err, tid=tid)
        if fd is not None:
            self.write(p, path, fd, nbytes, writes or max(1, nbytes // 8192 + 1), tid=tid)
        return fd is not None

    def op(self, p, op, path, err=None, tid=None, **extra):
        if err:
            self.emit(p, "file", tid=tid, op=op, path=path, result=ERRNO[err], error=err, **extra)
        else:
            self.emit(p, "file", tid=tid, op=op, path=path, result=0, **extra)

    def unlink(self, p, path, err=None, tid=None):
        self.op(p, "unlink", path, err, tid)

    def rmdir(self, p, path, err=None, tid=None):
        self.op(p, "rmdir", path, err, tid)

    def mkdir(self, p, path, err=None, tid=None):
        self.op(p, "mkdir", path, err, tid)

    def rename(self, p, old, new, err=None, tid=None):
        self.op(p, "rename", old, err, tid, new_path=new)

    def connect(self, p, addr, port, family="inet", result=0, tid=None):
        if result:
            err = {v: k for k, v in ERRNO.items()}[result]
            self.emit(p, "connect", tid=tid, family=family, addr=addr, port=port, result=result,
                      error=err)
        else:
            self.emit(p, "connect", tid=tid, family=family, addr=addr, port=port, result=0)

    def dns(self, p, tid=None):
        self.connect(p, "127.0.0.53", 53, tid=tid)

    def label(self, kind, first, last, note):
        assert kind in ("loop", "contradiction", "persona_drift"), kind
        assert 1 <= first <= last, (first, last)
        self.labels.append({"kind": kind, "turns": [first, last], "note": note})

    def clean(self, note):
        self.clean_note = note


# ---------------------------------------------------------------- interpreter start-up noise

LIBDIR = "/lib/x86_64-linux-gnu"


def ld(tr, p, libs, tid=None):
    tr.open(p, "/etc/ld.so.cache", "rc", tid=tid)
    for lib in libs:
        tr.open(p, f"{LIBDIR}/{lib}", "rc", tid=tid)


def bash_start(tr, p, login=False, interactive=False, tty=False):
    ld(tr, p, ["libtinfo.so.6", "libc.so.6"])
    tr.open(p, "/dev/tty", "tty", err=None if tty else "ENXIO")
    if login:
        tr.open(p, "/etc/profile", "r")
        tr.open(p, "/etc/bash.bashrc", "r")
        tr.open(p, "/etc/profile.d/01-locale-fix.sh", "r")
        tr.open(p, "/etc/profile.d/bash_completion.sh", "r")
        tr.open(p, f"{HOME}/.bash_profile", "r", err="ENOENT")
        tr.open(p, f"{HOME}/.bash_login", "r", err="ENOENT")
        tr.open(p, f"{HOME}/.profile", "r")
    if interactive:
        tr.open(p, f"{HOME}/.bashrc", "r")
        tr.open(p, f"{HOME}/.bash_history", "r")


def dash_start(tr, p):
    ld(tr, p, ["libc.so.6"])


PY_BASE = ["encodings/__init__", "codecs", "encodings/aliases", "encodings/utf_8", "io", "abc",
           "site", "os", "stat", "_collections_abc", "posixpath", "genericpath", "_sitebuiltins"]
PY_COMMON = ["types", "functools", "collections/__init__", "keyword", "operator", "reprlib",
             "re/__init__", "enum", "re/_compiler", "re/_parser", "re/_constants", "copyreg",
             "warnings", "contextlib", "typing", "traceback", "linecache", "tokenize", "token",
             "textwrap", "argparse", "gettext", "locale", "pathlib", "fnmatch", "ntpath",
             "urllib/__init__", "urllib/parse", "ipaddress", "json/__init__", "json/decoder",
             "json/scanner", "json/encoder", "weakref", "_weakrefset", "dataclasses", "inspect",
             "dis", "opcode", "ast", "importlib/__init__", "importlib/util", "importlib/machinery"]
PY_PYTEST = ["_pytest/__init__", "_pytest/_version", "_pytest/config/__init__", "_pytest/main",
             "_pytest/python", "_pytest/fixtures", "_pytest/nodes", "_pytest/runner",
             "_pytest/reports", "_pytest/terminal", "_pytest/assertion/__init__",
             "_pytest/assertion/rewrite", "_pytest/assertion/util", "_pytest/cacheprovider",
             "_pytest/capture", "_pytest/logging", "_pytest/monkeypatch", "_pytest/tmpdir",
             "_pytest/warnings", "_pytest/skipping", "_pytest/mark/__init__",
             "_pytest/mark/structures", "pluggy/__init__", "pluggy/_manager", "pluggy/_hooks",
             "pluggy/_callers", "iniconfig/__init__", "packaging/version", "packaging/_structures",
             "pytest/__init__", "py", "_pytest/_code/code", "_pytest/_io/terminalwriter",
             "_pytest/pathlib", "_pytest/compat", "_pytest/outcomes", "_pytest/stash",
             "_pytest/deprecated", "_pytest/unittest", "_pytest/doctest"]
PY_NET = ["socket", "selectors", "ssl", "http/__init__", "http/client", "email/parser",
          "email/feedparser", "email/message", "base64", "hashlib", "hmac", "secrets", "random",
          "bisect", "tempfile", "shutil", "zipfile", "struct", "threading", "queue"]


def python_start(tr, p, prefix="/usr/lib/python3.12", site=None, mods=(), venv=None, tid=None):
    """An interpreter coming up: shared libraries, the encodings bootstrap, site, then `mods`
    (names relative to the stdlib, or `pkg/mod` from site-packages when listed under `site`)."""
    ld(tr, p, ["libm.so.6", "libz.so.1", "libexpat.so.1", "libc.so.6"], tid=tid)
    if venv:
        tr.open(p, f"{venv}/pyvenv.cfg", "rc", tid=tid)
    else:
        tr.open(p, "/usr/bin/pyvenv.cfg", "rc", err="ENOENT", tid=tid)
    tr.open(p, "/usr/lib/python312.zip", "rc", err="ENOENT", tid=tid)
    tr.open(p, prefix, "dir", tid=tid)
    for m in PY_BASE:
        pyc(tr, p, prefix, m, tid)
    sp = site or (f"{venv}/lib/python3.12/site-packages" if venv else "/usr/lib/python3/dist-packages")
    tr.open(p, sp, "dir", tid=tid)
    tr.open(p, f"{sp}/distutils-precedence.pth", "rc", tid=tid)
    for m in mods:
        if m.startswith(("_pytest", "pluggy", "iniconfig", "packaging", "pytest", "py", "requests",
                         "urllib3", "certifi", "idna", "charset_normalizer", "pip/", "black",
                         "flake8", "aider", "litellm", "openai", "httpx", "httpcore", "anyio",
                         "pydantic", "fastapi", "starlette", "django", "sqlalchemy", "numpy",
                         "pandas", "sklearn", "click", "rich", "openhands", "yaml")):
            pyc(tr, p, sp, m, tid)
        else:
            pyc(tr, p, prefix, m, tid)


def pyc(tr, p, base, mod, tid=None):
    d, _, name = mod.rpartition("/")
    folder = f"{base}/{d}" if d else base
    tr.open(p, f"{folder}/__pycache__/{name}.cpython-312.pyc", "rc", tid=tid)


def node_start(tr, p, main_js=None, tid=None):
    ld(tr, p, ["libdl.so.2", "libstdc++.so.6", "libm.so.6", "libgcc_s.so.1", "libpthread.so.0",
               "libc.so.6"], tid=tid)
    tr.open(p, "/proc/self/maps", "rc", tid=tid)
    tr.open(p, "/sys/fs/cgroup/memory.max", "rc", tid=tid)
    tr.open(p, "/proc/meminfo", "rc", tid=tid)
    tr.open(p, "/dev/urandom", "rc", tid=tid)
    tr.open(p, "/usr/lib/ssl/openssl.cnf", "rc", tid=tid)
    if main_js:
        tr.open(p, main_js, "rc", tid=tid)


def bun_start(tr, p):
    ld(tr, p, ["libc.so.6", "libpthread.so.0", "libdl.so.2", "libm.so.6"])
    tr.open(p, "/proc/self/maps", "rc")
    tr.open(p, "/sys/fs/cgroup/cpu.max", "rc")
    tr.open(p, "/proc/meminfo", "rc")
    tr.open(p, "/etc/ssl/certs/ca-certificates.crt", "rc")


# ---------------------------------------------------------------- workspace

class Project:
    """A workspace: its root, its files (relative path -> text) and a little state the
    programs need (is there a venv, have the .pyc files been written, the git remote)."""

    def __init__(self, root, files, *, venv=True, remote="git@github.com:acme/app.git",
                 branch="main", pkg_json=None, lang="python"):
        self.root = root
        self.files = dict(files)
        self.venv = f"{root}/.venv" if venv else None
        self.remote = remote
        self.branch = branch
        self.lang = lang
        self.pyc_done = set()
        self.pytest_cache = False
        self.extra_dirs = set()

    def abs(self, path):
        if path.startswith("~/"):
            return HOME + path[1:]
        if path.startswith("/"):
            return posixpath.normpath(path)
        return posixpath.normpath(posixpath.join(self.root, path))

    def rel(self, path):
        path = self.abs(path)
        if path.startswith(self.root + "/"):
            return path[len(self.root) + 1:]
        return None

    def exists(self, path):
        r = self.rel(path)
        return r is not None and r in self.files

    def read(self, path):
        return self.files.get(self.rel(path) or "", None)

    def put(self, path, text):
        r = self.rel(path)
        if r is not None:
            self.files[r] = text

    def drop(self, path):
        r = self.rel(path)
        if r is not None:
            self.files.pop(r, None)

    def under(self, path):
        """Files (absolute) under a directory of the workspace."""
        r = self.rel(path)
        if r is None:
            return []
        if r in ("", "."):
            return [self.abs(k) for k in sorted(self.files)]
        return [self.abs(k) for k in sorted(self.files) if k.startswith(r.rstrip("/") + "/")]

    def dirs_of(self, paths):
        out = set()
        for f in paths:
            d = posixpath.dirname(f)
            while d.startswith(self.root + "/"):
                out.add(d)
                d = posixpath.dirname(d)
        return sorted(out, key=lambda d: (-d.count("/"), d))

    def glob(self, pattern):
        return [self.abs(k) for k in sorted(self.files)
                if fnmatch.fnmatch(k, pattern) or fnmatch.fnmatch(k, pattern.replace("**/", ""))]

    def grep(self, regex, sub=None, flags=0):
        rx = re.compile(regex, flags)
        hits = []
        for k in sorted(self.files):
            if sub and not k.startswith(sub.rstrip("/")):
                continue
            for i, line in enumerate(self.files[k].split("\n"), 1):
                if rx.search(line):
                    hits.append((self.abs(k), i, line))
        return hits

    def py_sources(self, limit=6):
        srcs = [k for k in sorted(self.files) if k.endswith(".py") and not k.startswith("tests/")
                and "/" in k]
        return [self.abs(k) for k in srcs[:limit]]

    def tests(self, prefix="tests/"):
        return [self.abs(k) for k in sorted(self.files) if k.startswith(prefix)
                and posixpath.basename(k).startswith("test") and k.endswith(".py")]

    def scripts(self):
        try:
            return json.loads(self.files.get("package.json", "{}")).get("scripts", {})
        except ValueError:
            return {}


# ---------------------------------------------------------------- command outcomes

class R:
    """The outcome of a shell command.

    out: the combined output the agent sees; code: the exit status of the command line;
    codes: per-part exit codes (parts that run, in order), when the default (all 0 but the last)
    is wrong; fx: extra kernel effects, as tuples ("read", path), ("write", path, nbytes),
    ("append", path, nbytes), ("unlink", path), ("rename", old, new), ("mkdir", path),
    ("connect", addr, port[, result]), ("openfail", path, mode, errno), applied to part
    `fx_at` (default: the last part that runs); ms: how long the main program runs.
    """

    def __init__(self, out="", code=0, *, codes=None, fx=(), fx_at=None, ms=None, quiet=False):
        self.out, self.code, self.codes = out, code, codes
        self.fx, self.fx_at, self.ms, self.quiet = list(fx), fx_at, ms, quiet


BUILTINS = {"cd", "echo", "printf", "export", "true", "false", "set", "source", ".", "exit", "test",
            "[", ":", "pwd", "read", "wait", "type", "unset", "shopt", "alias", "eval"}


def split_shell(cmd):
    """Split a command line into (operator_before, text) parts at top-level &&, ||, ;, | and
    newlines; heredoc bodies are dropped (their lines are data, not commands)."""
    lines, kept, until = cmd.split("\n"), [], None
    for line in lines:
        if until is not None:
            if line.strip() == until:
                until = None
            continue
        m = re.search(r"<<-?\s*['\"]?([A-Za-z_]+)['\"]?", line)
        if m:
            until = m.group(1)
            line = line[:m.start()] + line[m.end():]
        kept.append(line)
    s = "\n".join(kept)
    parts, cur, op, i, q = [], "", None, 0, None
    while i < len(s):
        c = s[i]
        if q:
            cur += c
            if c == "\\" and q == '"' and i + 1 < len(s):
                cur += s[i + 1]
                i += 1
            elif c == q:
                q = None
        elif c in "'\"":
            q = c
            cur += c
        elif c == "\\" and i + 1 < len(s):
            cur += s[i:i + 2]
            i += 1
        elif s.startswith("&&", i) or s.startswith("||", i):
            parts.append((op, cur))
            op, cur = s[i:i + 2], ""
            i += 1
        elif c in ";\n":
            parts.append((op, cur))
            op, cur = ";", ""
        elif c == "|" and not s.startswith(">|", i - 1):
            parts.append((op, cur))
            op, cur = "|", ""
        elif c == "&" and not s.startswith("&>", i) and (i == 0 or s[i - 1] not in "<>") \
                and not s.startswith("&1", i) and not s.startswith("&2", i):
            parts.append((op, cur))
            op, cur = ";", ""
        else:
            cur += c
        i += 1
    parts.append((op, cur))
    return [(o, t.strip()) for o, t in parts if t.strip()]


REDIR = re.compile(r"^(\d?|&)(>>|>\||>|<)(.*)$")


def parse_part(text):
    """A part's argv, its redirections [(path, mode)], and leading VAR=value assignments."""
    try:
        toks = shlex.split(text)
    except ValueError:
        toks = text.split()
    argv, redirs, env, i = [], [], [], 0
    while i < len(toks):
        t = toks[i]
        m = REDIR.match(t)
        if m and not argv and not env and t.startswith(("'", '"')):
            m = None
        if m:
            target = m.group(3)
            if not target and i + 1 < len(toks):
                i += 1
                target = toks[i]
            if target.startswith("&"):
                pass
            elif m.group(2) == "<":
                redirs.append((target, "r"))
            else:
                redirs.append((target, "a" if m.group(2) == ">>" else "w"))
        elif not argv and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", t):
            env.append(t)
        else:
            argv.append(t)
        i += 1
    return argv, redirs, env


BIN = {
    "git": "/usr/bin/git", "python3": "/usr/bin/python3", "python": "/usr/bin/python3",
    "node": "/usr/bin/node", "npm": "/usr/bin/npm", "npx": "/usr/bin/npx", "curl": "/usr/bin/curl",
    "wget": "/usr/bin/wget", "make": "/usr/bin/make", "go": "/usr/local/go/bin/go",
    "cargo": f"{HOME}/.cargo/bin/cargo", "rustc": f"{HOME}/.cargo/bin/rustc",
    "kubectl": "/usr/local/bin/kubectl", "helm": "/usr/local/bin/helm", "docker": "/usr/bin/docker",
    "sudo": "/usr/bin/sudo", "apt-get": "/usr/bin/apt-get", "apt": "/usr/bin/apt", "gh": "/usr/bin/gh",
    "jq": "/usr/bin/jq", "rg": "/usr/bin/rg", "ssh": "/usr/bin/ssh", "scp": "/usr/bin/scp",
    "rsync": "/usr/bin/rsync", "pnpm": "/usr/local/bin/pnpm", "yarn": "/usr/local/bin/yarn",
    "terraform": "/usr/local/bin/terraform", "psql": "/usr/bin/psql", "redis-cli": "/usr/bin/redis-cli",
}
VENV_TOOLS = {"pytest", "pip", "pip3", "black", "ruff", "mypy", "flake8", "alembic", "uvicorn",
              "django-admin", "isort", "pre-commit", "coverage"}


NODE_TOOLS = {"tsc", "vite", "vitest", "jest", "eslint", "prettier"}


def resolve(prog, proj):
    if "/" in prog:
        return proj.abs(prog) if proj else prog
    if proj and prog in NODE_TOOLS:
        return f"{proj.root}/node_modules/.bin/{prog}"
    if proj and proj.venv and (prog in VENV_TOOLS or prog in ("python", "python3")):
        return f"{proj.venv}/bin/{prog}"
    return BIN.get(prog, f"/usr/bin/{prog}")


class Runner:
    """Runs command lines for an agent: one shell per command (`wrap`), or a long-lived shell
    that forks a child per program (`persistent`)."""

    def __init__(self, tr, proj):
        self.tr, self.proj = tr, proj
        self.out = ""       # the output of the command being run, for handlers that need it

    # -- the part of a command line that runs programs, inside shell `sh`
    def run_parts(self, sh, cmd, res, cwd, in_place):
        """Run the programs of `cmd` inside shell process `sh`; returns (exit code, exec'd in
        place). Parts after a failed `&&` (or a successful `||`) do not run."""
        tr = self.tr
        parsed = [(op, *parse_part(t)) for op, t in split_shell(cmd)]
        plan, prev = [], 0
        for i, (op, argv, redirs, env) in enumerate(parsed):
            if (op == "&&" and prev != 0) or (op == "||" and prev == 0):
                continue
            plan.append(i)
            prev = res.codes[len(plan) - 1] if res.codes is not None and len(plan) <= len(res.codes) else 0
        codes = list(res.codes) if res.codes is not None else [0] * len(plan)
        if res.codes is None and plan:
            codes[-1] = res.code
        fx_at = res.fx_at if res.fx_at is not None else len(plan) - 1
        progs = [i for i in plan if parsed[i][1] and parsed[i][1][0] not in BUILTINS]
        for k, i in enumerate(plan):
            op, argv, redirs, env = parsed[i]
            code = codes[k] if k < len(codes) else 0
            fx = res.fx if k == fx_at else []
            if not argv:
                continue
            if argv[0] == "cd":
                cwd = self.absp(argv[1], cwd) if len(argv) > 1 else HOME
                continue
            if argv[0] in BUILTINS:
                for path, mode in redirs:
                    self.redirect(sh, path, mode, cwd)
                for e in fx:
                    self.effect(sh, e)
                continue
            if in_place and len(progs) == 1 and len(plan) == 1:
                for path, mode in redirs:
                    self.redirect(sh, path, mode, cwd)
                self.program(sh, argv, code, cwd, res, fx, main=True)
                return code, True
            child = tr.fork(sh)
            tr.tick(0.3, 2)
            ok = all([self.redirect(child, path, mode, cwd) for path, mode in redirs])
            if ok:
                self.program(child, argv, code, cwd, res, fx, main=(i == progs[-1] if progs else True))
            tr.exit(child, code)
        if re.search(r"[^&]&\s*$", cmd):
            return 0, False          # the last program was put in the background
        return (codes[-1] if codes else 0), False

    def redirect(self, p, path, mode, cwd):
        """The shell opens a redirection target before exec; False when that open fails."""
        if path in ("/dev/null", "/dev/stderr", "/dev/stdout"):
            self.tr.open(p, path, "w" if mode != "r" else "r")
            return True
        ap = self.absp(path, cwd)
        if mode == "r":
            ok = self.known(ap)
            self.tr.open(p, ap, "r", err=None if ok else "ENOENT")
            return ok
        parent = posixpath.dirname(ap)
        if self.proj and self.proj.rel(parent) not in (None, "") and not self.dir_exists(parent):
            self.tr.open(p, ap, mode, err="ENOENT")
            return False
        if ap.startswith(("/etc/", "/usr/", "/opt/", "/var/lib/")) and p.uid != 0:
            self.tr.open(p, ap, mode, err="EACCES")
            return False
        self.tr.create(p, ap, self.tr.rng.randint(40, 4000), mode)
        if self.proj and self.proj.rel(ap) is not None and mode == "w":
            self.proj.put(ap, self.proj.read(ap) or "")
        return True

    def dir_exists(self, d):
        if not self.proj:
            return True
        r = self.proj.rel(d)
        if r in ("", None):
            return True
        return any(k.startswith(r + "/") for k in self.proj.files) or d in self.proj.extra_dirs

    def known(self, ap):
        if not self.proj or self.proj.rel(ap) is None:
            return True
        return self.proj.exists(ap)

    def absp(self, path, cwd):
        if path.startswith("~/"):
            return HOME + path[1:]
        if path.startswith("/"):
            return posixpath.normpath(path)
        return posixpath.normpath(posixpath.join(cwd, path))

    def effect(self, p, e):
        tr, kind = self.tr, e[0]
        if kind == "read":
            tr.open(p, e[1], "r")
        elif kind == "write":
            tr.create(p, e[1], e[2], "w")
            if self.proj:
                self.proj.put(e[1], self.proj.read(e[1]) or "")
        elif kind == "append":
            tr.create(p, e[1], e[2], "a")
        elif kind == "unlink":
            tr.unlink(p, e[1])
            if self.proj:
                self.proj.drop(e[1])
        elif kind == "rmdir":
            tr.rmdir(p, e[1])
        elif kind == "rename":
            tr.rename(p, e[1], e[2])
        elif kind == "mkdir":
            tr.mkdir(p, e[1])
        elif kind == "connect":
            tr.connect(p, e[1], e[2], result=e[3] if len(e) > 3 else -115)
        elif kind == "dns":
            tr.dns(p)
        elif kind == "openfail":
            tr.open(p, e[1], e[2], err=e[3])
        else:
            raise ValueError(e)

    # -- one program: exec (with shebang rewriting for scripts) and what it does
    def program(self, p, argv, code, cwd, res, fx, main):
        tr = self.tr
        prog = argv[0]
        base = posixpath.basename(prog)
        filename = resolve(prog, self.proj)
        if base in ("sudo",):
            tr.exec(p, filename, argv, cwd)
            ld(tr, p, ["libaudit.so.1", "libselinux.so.1", "libc.so.6"])
            tr.open(p, "/etc/sudoers", "rc")
            tr.open(p, "/etc/sudoers.d", "dir")
            tr.open(p, "/var/log/sudo.log", "ac")
            child = tr.fork(p)
            child.uid = 0
            tr.tick(1, 5)
            self.program(child, argv[1:], code, cwd, res, fx, main)
            tr.exit(child, code)
            return
        if base in ("env",) and len(argv) > 1:
            tr.exec(p, "/usr/bin/env", argv, cwd)
            rest = [a for a in argv[1:] if "=" not in a]
            self.program(p, rest, code, cwd, res, fx, main)
            return
        if base == "timeout" and len(argv) > 2:
            tr.exec(p, "/usr/bin/timeout", argv, cwd)
            child = tr.fork(p)
            self.program(child, argv[2:], code, cwd, res, fx, main)
            tr.exit(child, code)
            return
        venv_script = self.proj and self.proj.venv and filename.startswith(self.proj.venv + "/bin/") \
            and base not in ("python", "python3")
        node_script = base in ("npm", "npx", "yarn", "pnpm") or "/node_modules/.bin/" in filename
        body = self.proj.read(filename) if self.proj and self.proj.rel(filename) is not None else None
        if body and body.startswith("#!/usr/bin/env bash"):
            tr.exec(p, filename, ["/usr/bin/env", "bash", filename] + argv[1:], cwd, comm=base)
            tr.exec(p, "/usr/bin/bash", ["bash", filename] + argv[1:], cwd)
            bash_start(tr, p)
            tr.open(p, filename, "r")
            run_script(self, p, body, argv[1:], code, cwd)
            return
        if venv_script:
            tr.exec(p, filename, [f"{self.proj.venv}/bin/python", filename] + argv[1:], cwd, comm=base)
        elif node_script:
            tr.exec(p, filename, ["/usr/bin/env", "node", filename] + argv[1:], cwd, comm=base)
            tr.tick(0.2, 1)
            tr.exec(p, "/usr/bin/node", ["node", filename] + argv[1:], cwd)
        else:
            tr.exec(p, filename, argv, cwd)
        h = HANDLERS.get(base)
        if base in ("python", "python3") and len(argv) > 2 and argv[1] == "-m":
            h = HANDLERS.get(argv[2], py_handler)
        elif base in ("python", "python3"):
            h = py_handler
        ms = res.ms if (main and res.ms) else None
        self.out = res.out if main else ""
        (h or generic_handler)(self, p, argv, code, cwd, ms)
        for e in fx:
            self.effect(p, e)
        tr.tick(*(ms, ms) if ms else (2, 30))


# ---------------------------------------------------------------- program handlers

def _args(argv, skip=1):
    return [a for a in argv[skip:] if not a.startswith("-")]


def generic_handler(rn, p, argv, code, cwd, ms):
    ld(rn.tr, p, ["libc.so.6"])


def ls_handler(rn, p, argv, code, cwd, ms):
    tr = rn.tr
    ld(tr, p, ["libselinux.so.1", "libc.so.6", "libpcre2-8.so.0"])
    targets = _args(argv) or ["."]
    for t in targets:
        ap = rn.absp(t, cwd)
        exists = rn.dir_exists(ap) or rn.known(ap)
        tr.open(p, ap, "dir", err=None if exists or code == 0 else "ENOENT")


def cat_handler(rn, p, argv, code, cwd, ms):
    tr = rn.tr
    ld(tr, p, ["libc.so.6"])
    for t in _args(argv):
        ap = rn.absp(t, cwd)
        tr.open(p, ap, "r", err=None if (rn.known(ap) or code == 0) else "ENOENT")


def grep_handler(rn, p, argv, code, cwd, ms):
    tr = rn.tr
    ld(tr, p, ["libpcre2-8.so.0", "libc.so.6"])
    args = _args(argv)
    paths = args[1:] if len(args) > 1 else []
    rec = any(a.startswith("-") and ("r" in a or "R" in a) for a in argv[1:]) or argv[0] == "rg"
    for t in paths or (["."] if rec else []):
        ap = rn.absp(t, cwd)
        if rn.proj and rn.proj.rel(ap) is not None and rn.dir_exists(ap) and not rn.proj.exists(ap):
            tr.open(p, ap, "dir")
            for f in rn.proj.under(ap)[:12]:
                tr.open(p, f, "r")
        else:
            tr.open(p, ap, "r")


def find_handler(rn, p, argv, code, cwd, ms):
    tr = rn.tr
    ld(tr, p, ["libselinux.so.1", "libc.so.6"])
    start = rn.absp(argv[1] if len(argv) > 1 and not argv[1].startswith("-") else ".", cwd)
    tr.open(p, start, "dir")
    if rn.proj:
        for d in rn.proj.dirs_of(rn.proj.under(start))[:10]:
            tr.open(p, d, "dir")


def rm_handler(rn, p, argv, code, cwd, ms):
    tr = rn.tr
    ld(tr, p, ["libc.so.6"])
    for t in _args(argv):
        ap = rn.absp(t.rstrip("/"), cwd)
        if rn.proj and rn.proj.exists(ap):
            tr.unlink(p, ap, err="EACCES" if code else None)
            if not code:
                rn.proj.drop(ap)
            continue
        inner = rn.proj.under(ap) if rn.proj else []
        if inner:
            for f in inner:
                tr.unlink(p, f)
                rn.proj.drop(f)
            for d in rn.proj.dirs_of(inner):
                if d.startswith(ap):
                    tr.rmdir(p, d)
            if ap not in rn.proj.dirs_of(inner):
                tr.rmdir(p, ap)
        elif "-r" in " ".join(argv) or "-rf" in argv or "-fr" in argv:
            # a directory the workspace model doesn't list (build output, caches): a few
            # plausible entries, then the directory itself
            base = posixpath.basename(ap)
            names = {"node_modules": [".package-lock.json", "react/index.js", "react/package.json", "vite/dist/node/cli.js"],
                     "dist": ["index.html", f"assets/index-{tr.alnum(8)}.js", f"assets/index-{tr.alnum(8)}.css"],
                     "build": ["lib/__init__.py", "bdist.linux-x86_64/.keep"],
                     ".cache": ["v1/index.json", "v1/blob-0001"]}.get(base, ["data.bin", "index.json"])
            for n in names:
                tr.unlink(p, f"{ap}/{n}")
            dirs = set()
            for n in names:
                d = posixpath.dirname(f"{ap}/{n}")
                while d != ap and d.startswith(ap):
                    dirs.add(d)
                    d = posixpath.dirname(d)
            for d in sorted(dirs, key=lambda d: (-d.count("/"), d)):
                tr.rmdir(p, d)
            tr.rmdir(p, ap)
        else:
            tr.unlink(p, ap, err=None if code == 0 else "ENOENT")


def mv_handler(rn, p, argv, code, cwd, ms):
    tr = rn.tr
    ld(tr, p, ["libselinux.so.1", "libacl.so.1", "libattr.so.1", "libc.so.6"])
    a = _args(argv)
    if len(a) >= 2:
        src, dst = rn.absp(a[0], cwd), rn.absp(a[-1], cwd)
        if rn.proj and rn.dir_exists(dst) and not rn.proj.exists(dst) and rn.proj.rel(dst) is not None \
                and rn.proj.rel(dst) != "" and not posixpath.splitext(dst)[1]:
            dst = posixpath.join(dst, posixpath.basename(src))
        tr.rename(p, src, dst, err=None if code == 0 else "ENOENT")
        if rn.proj and code == 0:
            txt = rn.proj.read(src)
            rn.proj.drop(src)
            if txt is not None:
                rn.proj.put(dst, txt)


def cp_handler(rn, p, argv, code, cwd, ms):
    tr = rn.tr
    ld(tr, p, ["libselinux.so.1", "libacl.so.1", "libattr.so.1", "libc.so.6"])
    a = _args(argv)
    if len(a) >= 2:
        src, dst = rn.absp(a[0], cwd), rn.absp(a[-1], cwd)
        tr.open(p, src, "r")
        if code == 0:
            tr.create(p, dst, tr.rng.randint(200, 6000), "w")
            if rn.proj and rn.proj.read(src) is not None:
                rn.proj.put(dst, rn.proj.read(src))
        else:
            tr.open(p, dst, "w", err="EACCES")


def mkdir_handler(rn, p, argv, code, cwd, ms):
    tr = rn.tr
    ld(tr, p, ["libselinux.so.1", "libc.so.6"])
    for t in _args(argv):
        ap = rn.absp(t, cwd)
        tr.mkdir(p, ap, err=None if code == 0 else "EACCES")
        if rn.proj and code == 0:
            rn.proj.extra_dirs.add(ap)


def touch_handler(rn, p, argv, code, cwd, ms):
    tr = rn.tr
    ld(tr, p, ["libc.so.6"])
    for t in _args(argv):
        ap = rn.absp(t, cwd)
        tr.open(p, ap, "touch", err=None if code == 0 else "EACCES")
        if rn.proj and code == 0 and not rn.proj.exists(ap):
            rn.proj.put(ap, "")


def sed_handler(rn, p, argv, code, cwd, ms):
    tr = rn.tr
    ld(tr, p, ["libacl.so.1", "libselinux.so.1", "libc.so.6"])
    inplace = any(a.startswith("-i") for a in argv[1:])
    files = [a for a in _args(argv)[1:]] if inplace else _args(argv)[1:]
    for t in files:
        ap = rn.absp(t, cwd)
        tr.open(p, ap, "r")
        if inplace and code == 0:
            tmp = f"{posixpath.dirname(ap)}/sed{tr.alnum(6)}"
            tr.create(p, tmp, tr.rng.randint(300, 5000), "excl")
            tr.rename(p, tmp, ap)


def tee_handler(rn, p, argv, code, cwd, ms):
    tr = rn.tr
    ld(tr, p, ["libc.so.6"])
    for t in _args(argv):
        ap = rn.absp(t, cwd)
        mode = "a" if "-a" in argv else "w"
        ok = not ap.startswith(("/etc/", "/usr/")) or p.uid == 0
        tr.create(p, ap, tr.rng.randint(30, 900), mode, err=None if ok else "EACCES")


def chmod_handler(rn, p, argv, code, cwd, ms):
    ld(rn.tr, p, ["libc.so.6"])


def url_host(url):
    m = re.match(r"^(?:(https?)://)?([^/:]+)(?::(\d+))?", url)
    scheme, host, port = m.group(1) or "https", m.group(2), m.group(3)
    return host, int(port) if port else (443 if scheme == "https" else 80)


def ip_of(host):
    if host in ("localhost", "127.0.0.1", "0.0.0.0"):
        return "127.0.0.1"
    if re.match(r"^\d+\.\d+\.\d+\.\d+$", host):
        return host
    return HOSTS.get(host, "93.184.215.34")


def curl_handler(rn, p, argv, code, cwd, ms):
    tr = rn.tr
    ld(tr, p, ["libcurl.so.4", "libnghttp2.so.14", "libssl.so.3", "libcrypto.so.3", "libz.so.1",
               "libc.so.6"])
    urls = [a for a in argv[1:] if re.match(r"^(https?://|localhost|127\.|[a-z0-9.-]+\.[a-z]+/)", a)]
    for url in urls[:1]:
        host, port = url_host(url)
        ip = ip_of(host)
        if ip != "127.0.0.1":
            tr.open(p, "/etc/ssl/certs/ca-certificates.crt", "r")
            tr.open(p, "/etc/hosts", "rc")
            tr.dns(p)
        refused = ip == "127.0.0.1" and code == 7
        tr.connect(p, ip, port, result=-111 if refused else -115)
    outs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("-o", "--output", "-O")]
    for o in outs:
        if o != "-" and code == 0:
            tr.create(p, rn.absp(o, cwd), tr.rng.randint(2000, 90000))
    for i, a in enumerate(argv[:-1]):
        if a in ("-F", "--form", "-T", "--upload-file", "--data-binary", "-d") and "@" in argv[i + 1]:
            path = argv[i + 1].split("@", 1)[1].split(";")[0]
            tr.open(p, rn.absp(path, cwd), "r")


def wget_handler(rn, p, argv, code, cwd, ms):
    curl_handler(rn, p, argv, code, cwd, ms)


def pytest_handler(rn, p, argv, code, cwd, ms):
    tr, proj = rn.tr, rn.proj
    python_start(tr, p, mods=PY_COMMON[:14] + PY_PYTEST[:28], venv=proj.venv if proj else None)
    if not proj:
        return
    root = proj.root
    for cfg in ("pyproject.toml", "pytest.ini", "setup.cfg", "tox.ini"):
        if cfg in proj.files:
            tr.open(p, f"{root}/{cfg}", "rc")
            break
    tests = [t for t in proj.tests()]
    sel = [a for a in argv[1:] if not a.startswith("-") and (".py" in a or a.startswith("tests"))]
    if sel:
        tests = [t for t in tests if any(t.startswith(rn.absp(s.split("::")[0], cwd)) for s in sel)] or tests[:1]
    if "tests/conftest.py" in proj.files:
        tr.open(p, f"{root}/tests/conftest.py", "rc")
    srcs = proj.py_sources()
    if not proj.pytest_cache:
        tr.mkdir(p, f"{root}/.pytest_cache")
        tr.mkdir(p, f"{root}/.pytest_cache/v")
        tr.mkdir(p, f"{root}/.pytest_cache/v/cache")
        tr.create(p, f"{root}/.pytest_cache/README.md", 302, "wc")
        tr.create(p, f"{root}/.pytest_cache/.gitignore", 37, "wc")
        tr.create(p, f"{root}/.pytest_cache/CACHEDIR.TAG", 191, "wc")
        proj.pytest_cache = True
    for f in tests + srcs:
        tr.open(p, f, "rc")
        d, name = posixpath.split(f)
        cached = f"{d}/__pycache__/{name[:-3]}.cpython-312{'-pytest-8.3.4' if f in tests else ''}.pyc"
        if f in proj.pyc_done:
            tr.open(p, cached, "rc")
        else:
            tr.open(p, cached, "rc", err="ENOENT")
            if (d + "/__pycache__") not in proj.pyc_done:
                tr.mkdir(p, f"{d}/__pycache__")
                proj.pyc_done.add(d + "/__pycache__")
            tmp = f"{cached}.{tr.rng.randint(139000000000000, 140999999999999)}"
            tr.create(p, tmp, tr.rng.randint(1500, 9000), "wexclc")
            tr.rename(p, tmp, cached)
            proj.pyc_done.add(f)
    if code not in (0, 5):
        tr.create(p, f"{root}/.pytest_cache/v/cache/lastfailed", tr.rng.randint(60, 400), "wc")
    tr.create(p, f"{root}/.pytest_cache/v/cache/nodeids", tr.rng.randint(300, 3000), "wc")
    if ms is None:
        tr.tick(300, 2500)


def py_handler(rn, p, argv, code, cwd, ms):
    tr, proj = rn.tr, rn.proj
    python_start(tr, p, mods=PY_COMMON[:30], venv=proj.venv if proj else None)
    script = next((a for a in argv[1:] if a.endswith(".py")), None)
    if script:
        ap = rn.absp(script, cwd)
        tr.open(p, ap, "rc", err=None if rn.known(ap) or code != 2 else "ENOENT")
        tr.open(p, ap, "r", err=None if rn.known(ap) or code != 2 else "ENOENT")
    if argv[1:2] == ["-c"]:
        pass
    if ms is None:
        tr.tick(40, 600)


def pip_handler(rn, p, argv, code, cwd, ms):
    tr, proj = rn.tr, rn.proj
    venv = proj.venv if proj else None
    python_start(tr, p, mods=PY_COMMON + PY_NET + ["pip/_internal/__init__", "pip/_internal/cli/main",
                                                   "pip/_vendor/requests/__init__",
                                                   "pip/_vendor/urllib3/__init__"], venv=venv)
    args = argv[argv.index("install") + 1:] if "install" in argv else []
    offline = "--no-index" in argv
    if "-r" in args:
        tr.open(p, rn.absp(args[args.index("-r") + 1], cwd), "rc")
    tr.open(p, f"{HOME}/.config/pip/pip.conf", "rc", err="ENOENT")
    tr.open(p, "/etc/pip.conf", "rc", err="ENOENT")
    if "install" not in argv:
        return
    if not offline:
        tr.dns(p)
        tr.connect(p, HOSTS["pypi.org"], 443, result=0)
        tr.tick(300, 1500)
        if code == 0:
            tr.connect(p, HOSTS["files.pythonhosted.org"], 443, result=0)
    else:
        for i, a in enumerate(argv[:-1]):
            if a in ("--find-links", "-f"):
                tr.open(p, rn.absp(argv[i + 1], cwd), "dir")
    if code == 0:
        sp = f"{venv}/lib/python3.12/site-packages" if venv else f"{HOME}/.local/lib/python3.12/site-packages"
        pkgs = [re.split(r"[<>=\[]", a)[0].lower().replace("-", "_") for a in args
                if not a.startswith("-") and "/" not in a and not a.endswith(".txt")]
        if not pkgs and "-r" in args and proj:
            req = proj.read(rn.absp(args[args.index("-r") + 1], cwd)) or ""
            pkgs = [re.split(r"[<>=\[]", l)[0].lower().replace("-", "_") for l in req.split("\n") if l.strip()]
        for name in pkgs[:4]:
            tr.mkdir(p, f"{sp}/{name}")
            tr.create(p, f"{sp}/{name}/__init__.py", tr.rng.randint(800, 9000), "wc")
            tr.mkdir(p, f"{sp}/{name}-1.0.dist-info")
            tr.create(p, f"{sp}/{name}-1.0.dist-info/RECORD", tr.rng.randint(400, 5000), "wc")
            tr.create(p, f"{sp}/{name}-1.0.dist-info/METADATA", tr.rng.randint(900, 4000), "wc")
    if ms is None:
        tr.tick(1500, 9000)


def black_handler(rn, p, argv, code, cwd, ms):
    tr, proj = rn.tr, rn.proj
    python_start(tr, p, mods=PY_COMMON[:20] + ["black/__init__", "click/__init__"],
                 venv=proj.venv if proj else None)
    targets = _args(argv)
    files = []
    for t in targets:
        ap = rn.absp(t, cwd)
        files += [f for f in (proj.under(ap) if proj else []) if f.endswith(".py")] or [ap]
    for f in files[:20]:
        tr.open(p, f, "rc")
    tr.open(p, f"{HOME}/.cache/black/24.10.0/cache.linux-x86_64.pickle", "rc")


def git_handler(rn, p, argv, code, cwd, ms):
    tr, proj = rn.tr, rn.proj
    ld(tr, p, ["libpcre2-8.so.0", "libz.so.1", "libc.so.6"])
    root = proj.root if proj else cwd
    tr.open(p, "/etc/gitconfig", "r", err="ENOENT")
    tr.open(p, f"{HOME}/.gitconfig", "r")
    tr.open(p, f"{root}/.git/HEAD", "r")
    tr.open(p, f"{root}/.git/config", "r")
    sub = next((a for a in argv[1:] if not a.startswith("-")), "")
    rest = argv[argv.index(sub) + 1:] if sub in argv else []
    if sub in ("status", "diff", "add", "commit", "stash", "checkout", "restore", "show"):
        tr.open(p, f"{root}/.git/index", "r")
    if sub in ("log", "show", "status", "rev-parse", "branch"):
        tr.open(p, f"{root}/.git/refs/heads/{proj.branch if proj else 'main'}", "r")
        tr.open(p, f"{root}/.git/packed-refs", "r")
    if sub == "add" and code == 0:
        tr.create(p, f"{root}/.git/index.lock", tr.rng.randint(4000, 40000), "excl")
        tr.rename(p, f"{root}/.git/index.lock", f"{root}/.git/index")
    if sub == "commit":
        if proj and ".git/hooks/pre-commit" in proj.files:
            hook = tr.fork(p)
            tr.exec(hook, f"{root}/.git/hooks/pre-commit", ["/bin/sh", f"{root}/.git/hooks/pre-commit"],
                    root, comm="pre-commit")
            tr.tick(200, 2000)
            tr.exit(hook, code)
            if code:
                return
        if code == 0:
            tr.create(p, f"{root}/.git/index.lock", tr.rng.randint(4000, 40000), "excl")
            for _ in range(3):
                h = tr.hexs(2)
                tmp = f"{root}/.git/objects/{h}/tmp_obj_{tr.alnum(6)}"
                tr.create(p, tmp, tr.rng.randint(100, 3000), "excl")
                tr.rename(p, tmp, f"{root}/.git/objects/{h}/{tr.hexs(38)}")
            tr.create(p, f"{root}/.git/COMMIT_EDITMSG", tr.rng.randint(20, 300), "w")
            br = proj.branch if proj else "main"
            tr.create(p, f"{root}/.git/refs/heads/{br}.lock", 41, "excl")
            tr.create(p, f"{root}/.git/logs/HEAD", tr.rng.randint(150, 250), "a")
            tr.rename(p, f"{root}/.git/refs/heads/{br}.lock", f"{root}/.git/refs/heads/{br}")
            tr.rename(p, f"{root}/.git/index.lock", f"{root}/.git/index")
    if sub in ("checkout", "restore") and code == 0:
        files = [a for a in rest if not a.startswith("-") and a != "--" and proj and
                 (proj.exists(rn.absp(a, cwd)) or "." in posixpath.basename(a))]
        if files:
            tr.create(p, f"{root}/.git/index.lock", tr.rng.randint(4000, 40000), "excl")
            for f in files:
                ap = rn.absp(f, cwd)
                tr.create(p, ap, tr.rng.randint(300, 6000), "w")
            tr.rename(p, f"{root}/.git/index.lock", f"{root}/.git/index")
        elif rest:
            tr.create(p, f"{root}/.git/HEAD.lock", 30, "excl")
            tr.rename(p, f"{root}/.git/HEAD.lock", f"{root}/.git/HEAD")
    if sub == "stash" and code == 0:
        tr.create(p, f"{root}/.git/index.lock", tr.rng.randint(4000, 40000), "excl")
        tr.rename(p, f"{root}/.git/index.lock", f"{root}/.git/index")
        tr.create(p, f"{root}/.git/logs/refs/stash", 180, "a")
    if sub in ("push", "pull", "fetch", "clone", "ls-remote"):
        remote = proj.remote if proj else "https://github.com/acme/app.git"
        if remote.startswith("git@"):
            ssh = tr.fork(p)
            host = remote.split("@")[1].split(":")[0]
            tr.exec(ssh, "/usr/bin/ssh", ["/usr/bin/ssh", "-o", "SendEnv=GIT_PROTOCOL", f"git@{host}",
                                          f"git-{'receive' if sub == 'push' else 'upload'}-pack '{remote.split(':', 1)[1]}'"], cwd)
            ld(tr, ssh, ["libcrypto.so.3", "libz.so.1", "libc.so.6"])
            tr.open(ssh, f"{HOME}/.ssh/config", "r")
            tr.open(ssh, f"{HOME}/.ssh/id_ed25519", "r")
            tr.open(ssh, f"{HOME}/.ssh/known_hosts", "r")
            tr.dns(ssh)
            tr.connect(ssh, ip_of(host) if host != "github.com" else "140.82.112.4", 22, result=0)
            tr.tick(400, 2500)
            tr.exit(ssh, 0 if code in (0, 1) else 255)
        else:
            helper = tr.fork(p)
            host = url_host(remote)[0]
            tr.exec(helper, "/usr/lib/git-core/git-remote-https",
                    ["git-remote-https", "origin", remote], cwd)
            ld(tr, helper, ["libcurl-gnutls.so.4", "libz.so.1", "libc.so.6"])
            tr.dns(helper)
            tr.connect(helper, ip_of(host), 443, result=-115)
            tr.tick(400, 2500)
            tr.exit(helper, 0 if code in (0, 1) else 128)
        if sub in ("pull", "fetch") and code == 0:
            tr.create(p, f"{root}/.git/FETCH_HEAD", 120, "w")
        if sub == "push" and code == 0:
            tr.create(p, f"{root}/.git/refs/remotes/origin/{proj.branch if proj else 'main'}.lock", 41, "excl")
            tr.rename(p, f"{root}/.git/refs/remotes/origin/{proj.branch if proj else 'main'}.lock",
                      f"{root}/.git/refs/remotes/origin/{proj.branch if proj else 'main'}")


def npm_handler(rn, p, argv, code, cwd, ms):
    tr, proj = rn.tr, rn.proj
    node_start(tr, p, "/usr/lib/node_modules/npm/lib/cli.js")
    root = proj.root if proj else cwd
    tr.open(p, f"{HOME}/.npmrc", "rc", err="ENOENT")
    tr.open(p, f"{root}/package.json", "rc")
    sub = argv[1] if len(argv) > 1 else ""
    if argv[0].endswith("npx"):
        tool = next((a for a in argv[1:] if not a.startswith("-")), "")
        if tool not in NODE_TOOLS:
            tr.dns(p)
            tr.connect(p, HOSTS["registry.npmjs.org"], 443, result=-115)
        script_sh(rn, p, " ".join(a for a in argv[1:] if a not in ("-y", "--yes")), code, cwd)
        return
    if sub in ("install", "i", "ci", "add", "update", "publish", "uninstall", "audit", "view", "outdated"):
        tr.open(p, f"{root}/package-lock.json", "rc")
        tr.dns(p)
        tr.connect(p, HOSTS["registry.npmjs.org"], 443, result=-115)
        tr.tick(800, 5000)
        if sub == "publish":
            tr.connect(p, HOSTS["registry.npmjs.org"], 443, result=-115)
        if code == 0 and sub in ("install", "i", "ci", "add", "update"):
            pkgs = [a for a in argv[2:] if not a.startswith("-")] or ["react", "vite"]
            for name in pkgs[:4]:
                base = name.split("@")[0] if not name.startswith("@") else "@" + name[1:].split("@")[0]
                tr.mkdir(p, f"{root}/node_modules/{base}")
                tr.create(p, f"{root}/node_modules/{base}/package.json", tr.rng.randint(800, 3000), "wc")
                tr.create(p, f"{root}/node_modules/{base}/index.js", tr.rng.randint(2000, 40000), "wc")
            tr.create(p, f"{root}/package-lock.json", tr.rng.randint(40000, 400000), "wc")
            if sub in ("install", "i", "add") and len(argv) > 2:
                tr.create(p, f"{root}/package.json", tr.rng.randint(900, 2500), "wc")
        tr.create(p, f"{HOME}/.npm/_logs/2026-03-0{tr.rng.randint(2, 9)}T0{tr.rng.randint(1, 9)}_{tr.rng.randint(10, 59)}_{tr.rng.randint(10, 59)}_{tr.rng.randint(100, 999)}Z-debug-0.log",
                  tr.rng.randint(2000, 30000), "ac")
        return
    script_name = "test" if sub in ("test", "t") else (argv[2] if sub == "run" and len(argv) > 2 else sub)
    script = (proj.scripts().get(script_name) if proj else None) or script_name
    script_sh(rn, p, script, code, cwd)


def script_sh(rn, p, script, code, cwd):
    """npm/npx run a script as `sh -c SCRIPT`; when it fails, its first program is the one that
    failed (later `&&` parts do not run)."""
    tr = rn.tr
    child = tr.fork(p)
    tr.exec(child, "/bin/sh", ["sh", "-c", script], cwd, comm="sh")
    dash_start(tr, child)
    n = len(split_shell(script))
    inner = R(codes=[code] + [0] * (n - 1)) if code else R()
    rn.run_parts(child, script, inner, cwd, in_place=True)
    tr.exit(child, code)


def node_tool_handler(rn, p, argv, code, cwd, ms):
    """tsc, vite, vitest, jest, eslint, prettier from node_modules/.bin."""
    tr, proj = rn.tr, rn.proj
    tool = posixpath.basename(argv[0])
    root = proj.root if proj else cwd
    node_start(tr, p, f"{root}/node_modules/{tool}/dist/cli.js" if tool != "tsc"
               else f"{root}/node_modules/typescript/lib/tsc.js")
    if proj:
        for f in [k for k in sorted(proj.files) if k.endswith((".ts", ".tsx", ".js", ".json"))
                  and not k.startswith("node_modules")][:14]:
            tr.open(p, f"{root}/{f}", "rc")
    if tool == "vitest":
        tr.mkdir(p, f"{root}/node_modules/.vite/vitest")
        tr.create(p, f"{root}/node_modules/.vite/vitest/results.json", tr.rng.randint(300, 2000), "wc")
    if tool in ("prettier", "eslint") and ("--write" in argv or "--fix" in argv) and proj:
        targets = [a for a in argv[1:] if not a.startswith("-")] or ["src"]
        for t in targets:
            for f in [x for x in proj.under(rn.absp(t, cwd)) if x.endswith((".ts", ".tsx", ".js"))][:8]:
                tr.create(p, f, tr.rng.randint(400, 5000), "wc")
    if tool == "vite" and "build" in argv and code == 0:
        tr.mkdir(p, f"{root}/dist")
        tr.create(p, f"{root}/dist/index.html", 612, "wc")
        tr.create(p, f"{root}/dist/assets/index-{tr.alnum(8)}.js", tr.rng.randint(90000, 400000), "wc")
    if ms is None:
        tr.tick(600, 4000)


def node_handler(rn, p, argv, code, cwd, ms):
    tr = rn.tr
    node_start(tr, p)
    for a in argv[1:]:
        if a.endswith((".js", ".mjs", ".ts")):
            tr.open(p, rn.absp(a, cwd), "rc")


def go_handler(rn, p, argv, code, cwd, ms):
    tr, proj = rn.tr, rn.proj
    root = proj.root if proj else cwd
    tr.open(p, f"{root}/go.mod", "rc")
    tr.open(p, f"{HOME}/.config/go/env", "rc", err="ENOENT")
    sub = argv[1] if len(argv) > 1 else ""
    if sub in ("get", "mod") or (sub == "install" and "@" in " ".join(argv)):
        tr.dns(p)
        tr.connect(p, HOSTS["proxy.golang.org"], 443, result=-115)
    work = f"/tmp/go-build{tr.rng.randint(100000000, 4294967295)}"
    tr.mkdir(p, work)
    if sub in ("build", "test", "vet", "run"):
        for tool in ("compile", "compile", "link") if sub != "vet" else ("vet",):
            c = tr.fork(p)
            tr.exec(c, f"/usr/local/go/pkg/tool/linux_amd64/{tool}",
                    [f"/usr/local/go/pkg/tool/linux_amd64/{tool}", "-o", f"{work}/b001/_pkg_.a", "-p",
                     "github.com/acme/ratelimit", "-buildid", tr.alnum(20)], root)
            for f in [k for k in sorted(proj.files) if k.endswith(".go")][:6] if proj else []:
                tr.open(c, f"{root}/{f}", "rc")
            tr.tick(50, 600)
            compile_fail = code != 0 and sub in ("build", "vet") and tool in ("compile", "vet")
            tr.exit(c, 1 if compile_fail else 0)
            if compile_fail:
                break
            tr.create(p, f"{HOME}/.cache/go-build/{tr.hexs(2)}/{tr.hexs(64)}-d", tr.rng.randint(500, 90000), "wc")
        if sub == "test":
            t = tr.fork(p)
            name = posixpath.basename(root)
            tr.exec(t, f"{work}/b001/{name}.test", [f"{work}/b001/{name}.test", "-test.paniconexit0",
                                                     "-test.timeout=10m0s", "-test.count=1"], root)
            tr.tick(100, 1500)
            tr.exit(t, code)
    tr.rmdir(p, work)


def cargo_handler(rn, p, argv, code, cwd, ms):
    tr, proj = rn.tr, rn.proj
    root = proj.root if proj else cwd
    ld(tr, p, ["libgcc_s.so.1", "libc.so.6"])
    tr.open(p, f"{root}/Cargo.toml", "rc")
    tr.open(p, f"{root}/Cargo.lock", "rc")
    tr.open(p, f"{HOME}/.cargo/config.toml", "rc", err="ENOENT")
    sub = argv[1] if len(argv) > 1 else ""
    if sub in ("add", "update", "fetch", "install"):
        tr.dns(p)
        tr.connect(p, HOSTS["index.crates.io"], 443, result=-115)
        tr.connect(p, HOSTS["static.crates.io"], 443, result=-115)
        if sub == "add" and code == 0:
            tr.create(p, f"{root}/Cargo.toml", tr.rng.randint(400, 1500), "wc")
        return
    tr.open(p, f"{root}/target/debug/.cargo-lock", "rwc")
    name = posixpath.basename(root).replace("-", "_")
    c = tr.fork(p)
    tr.exec(c, f"{HOME}/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin/rustc",
            ["rustc", "--crate-name", name, "--edition=2021", "src/lib.rs", "--error-format=json",
             "--crate-type", "lib", "-C", "debuginfo=2", "--out-dir", f"{root}/target/debug/deps"], root)
    ld(tr, c, ["librustc_driver-2f3b1a9c8d7e6f50.so", "libstdc++.so.6", "libc.so.6"])
    for f in [k for k in sorted(proj.files) if k.endswith(".rs")][:6] if proj else []:
        tr.open(c, f"{root}/{f}", "rc")
    tr.tick(400, 3000)
    build_fail = (code != 0 and sub in ("build", "check", "clippy")) or "could not compile" in rn.out
    if not build_fail:
        tr.create(c, f"{root}/target/debug/deps/lib{name}-{tr.hexs(16)}.rlib", tr.rng.randint(90000, 900000), "wc")
    tr.exit(c, 1 if build_fail else 0)
    if sub == "test" and not build_fail:
        t = tr.fork(p)
        h = tr.hexs(16)
        tr.exec(t, f"{root}/target/debug/deps/{name}-{h}", [f"{root}/target/debug/deps/{name}-{h}"], root)
        tr.tick(50, 800)
        tr.exit(t, 101 if code else 0)


def kubectl_handler(rn, p, argv, code, cwd, ms):
    tr = rn.tr
    ld(tr, p, ["libc.so.6"])
    tr.open(p, f"{HOME}/.kube/config", "rc")
    for i, a in enumerate(argv[:-1]):
        if a == "-f":
            ap = rn.absp(argv[i + 1].rstrip("/"), cwd)
            inner = rn.proj.under(ap) if rn.proj and not rn.proj.exists(ap) else []
            if inner:
                tr.open(p, ap, "dir")
            for f in inner or [ap]:
                tr.open(p, f, "rc")
    tr.dns(p)
    tr.connect(p, HOSTS["k8s.prod.acme.internal"], 6443, result=-115)
    tr.open(p, f"{HOME}/.kube/cache/discovery/k8s.prod.acme.internal_6443/servergroups.json", "rc")


def docker_handler(rn, p, argv, code, cwd, ms):
    tr = rn.tr
    ld(tr, p, ["libc.so.6"])
    tr.open(p, f"{HOME}/.docker/config.json", "rc")
    tr.connect(p, "/var/run/docker.sock", 0, family="unix", result=0)


def gh_handler(rn, p, argv, code, cwd, ms):
    tr = rn.tr
    ld(tr, p, ["libc.so.6"])
    tr.open(p, f"{HOME}/.config/gh/hosts.yml", "rc")
    tr.open(p, f"{HOME}/.config/gh/config.yml", "rc")
    tr.dns(p)
    tr.connect(p, HOSTS["api.github.com"], 443, result=-115)


def apt_handler(rn, p, argv, code, cwd, ms):
    tr = rn.tr
    ld(tr, p, ["libapt-pkg.so.6.0", "libstdc++.so.6", "libc.so.6"])
    if p.uid != 0:
        tr.open(p, "/var/lib/dpkg/lock-frontend", "rw", err="EACCES")
        return
    tr.open(p, "/var/lib/dpkg/lock-frontend", "rw")
    m = tr.fork(p)
    tr.exec(m, "/usr/lib/apt/methods/http", ["/usr/lib/apt/methods/http"], cwd)
    tr.dns(m)
    tr.connect(m, HOSTS["archive.ubuntu.com"], 80, result=-115)
    tr.tick(500, 3000)
    tr.exit(m, 0)
    if code == 0:
        pkgs = [a for a in argv[2:] if not a.startswith("-")]
        for name in pkgs:
            tr.create(p, f"/var/cache/apt/archives/{name}_1.0-1_amd64.deb", tr.rng.randint(90000, 900000), "w")
        tr.create(p, "/var/lib/dpkg/status-new", tr.rng.randint(400000, 900000), "w")
        tr.rename(p, "/var/lib/dpkg/status-new", "/var/lib/dpkg/status")


def ssh_handler(rn, p, argv, code, cwd, ms):
    tr = rn.tr
    ld(tr, p, ["libcrypto.so.3", "libz.so.1", "libc.so.6"])
    tr.open(p, f"{HOME}/.ssh/config", "r")
    host = next((a.split("@")[-1].split(":")[0] for a in argv[1:] if "@" in a or ":" in a), "deploy.acme.internal")
    tr.dns(p)
    tr.connect(p, ip_of(host) if host in HOSTS else "10.40.30.11", 22, result=0)


def run_script(rn, p, body, args, code, cwd):
    """A project shell script: its command lines run in `p` (the first one fails when `code`
    is non-zero, as under `set -e`); `$1` / `${1:-x}` and variables set from them are filled in."""
    env = {}
    lines = []
    for line in body.split("\n"):
        line = line.strip()
        if not line or line.startswith(("#", "set ")):
            continue
        m = re.match(r"^([A-Z_]+)=\$\{1:-([^}]*)\}$", line)
        if m:
            env[m.group(1)] = args[0] if args else m.group(2)
            continue
        for k, v in env.items():
            line = line.replace(f'"${k}"', v).replace(f"${k}", v)
        lines.append(line)
    script = (" && " if re.search(r"^set -\w*e", body, re.M) else "\n").join(lines)
    inner = R(codes=[code] + [0] * (len(split_shell(script)) - 1)) if code else R()
    rn.run_parts(p, script, inner, cwd, in_place=False)


def make_handler(rn, p, argv, code, cwd, ms):
    """make runs the target's recipe lines with /bin/sh -c; a failing recipe makes make exit 2."""
    tr, proj = rn.tr, rn.proj
    ld(tr, p, ["libc.so.6"])
    tr.open(p, rn.absp("Makefile", cwd), "r")
    mk = proj.read(rn.absp("Makefile", cwd)) if proj else None
    target = next((a for a in argv[1:] if not a.startswith("-") and "=" not in a), None)
    recipe = []
    if mk:
        cur = None
        for line in mk.split("\n"):
            if line and not line.startswith("\t") and ":" in line:
                cur = line.split(":")[0].strip()
                target = target or cur
            elif line.startswith("\t") and cur == target:
                recipe.append(line[1:])
    for line in recipe:
        line = re.sub(r"\$\(\w+\)", "staging", line)
        script_sh(rn, p, line, 1 if code else 0, cwd)
        if code:
            break


def flake8_handler(rn, p, argv, code, cwd, ms):
    tr, proj = rn.tr, rn.proj
    python_start(tr, p, mods=PY_COMMON[:20] + ["flake8/__init__", "flake8/main/cli"],
                 venv=proj.venv if proj else None)
    for a in _args(argv):
        tr.open(p, rn.absp(a, cwd), "rc")


def mypy_handler(rn, p, argv, code, cwd, ms):
    tr, proj = rn.tr, rn.proj
    python_start(tr, p, mods=PY_COMMON[:20], venv=proj.venv if proj else None)
    for f in (proj.py_sources() if proj else []):
        tr.open(p, f, "rc")
    if proj:
        tr.create(p, f"{proj.root}/.mypy_cache/3.12/cache.db", tr.rng.randint(90000, 400000), "rwc")


def sleep_handler(rn, p, argv, code, cwd, ms):
    ld(rn.tr, p, ["libc.so.6"])
    try:
        rn.tr.tick(float(argv[1]) * 1000)
    except (IndexError, ValueError):
        rn.tr.tick(1000)


def scp_handler(rn, p, argv, code, cwd, ms):
    ssh_handler(rn, p, argv, code, cwd, ms)
    for a in _args(argv)[:-1]:
        rn.tr.open(p, rn.absp(a, cwd), "r")


def tar_handler(rn, p, argv, code, cwd, ms):
    tr = rn.tr
    ld(tr, p, ["libacl.so.1", "libselinux.so.1", "libc.so.6"])
    args = _args(argv)
    if any("c" in a for a in argv[1:2]) and args:
        tr.create(p, rn.absp(args[0], cwd), tr.rng.randint(20000, 900000), "w")
        for a in args[1:]:
            for f in (rn.proj.under(rn.absp(a, cwd)) if rn.proj else [])[:8] or [rn.absp(a, cwd)]:
                tr.open(p, f, "r")


HANDLERS = {
    "ls": ls_handler, "cat": cat_handler, "head": cat_handler, "tail": cat_handler, "wc": cat_handler,
    "less": cat_handler, "diff": cat_handler, "nl": cat_handler, "stat": cat_handler, "file": cat_handler,
    "grep": grep_handler, "rg": grep_handler, "egrep": grep_handler, "find": find_handler,
    "tree": find_handler, "rm": rm_handler, "mv": mv_handler, "cp": cp_handler, "mkdir": mkdir_handler,
    "touch": touch_handler, "sed": sed_handler, "tee": tee_handler, "chmod": chmod_handler,
    "curl": curl_handler, "wget": wget_handler, "pytest": pytest_handler, "pip": pip_handler,
    "pip3": pip_handler, "black": black_handler, "ruff": black_handler, "isort": black_handler,
    "git": git_handler, "npm": npm_handler, "npx": npm_handler, "yarn": npm_handler, "pnpm": npm_handler,
    "node": node_handler, "go": go_handler, "tsc": node_tool_handler, "vite": node_tool_handler,
    "vitest": node_tool_handler, "jest": node_tool_handler, "eslint": node_tool_handler, "prettier": node_tool_handler, "cargo": cargo_handler, "kubectl": kubectl_handler,
    "helm": kubectl_handler, "docker": docker_handler, "gh": gh_handler, "apt-get": apt_handler,
    "apt": apt_handler, "ssh": ssh_handler, "scp": scp_handler, "rsync": scp_handler, "make": make_handler,
    "flake8": flake8_handler, "mypy": mypy_handler, "sleep": sleep_handler, "tar": tar_handler,
    "python": py_handler, "python3": py_handler, "alembic": py_handler, "uvicorn": py_handler,
}
