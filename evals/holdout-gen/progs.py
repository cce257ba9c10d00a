"""Programs the agents' commands run, and what the kernel sees of them.

A `Prog` is one process: its exec chain (shebangs, rustup and env re-execs keep the pid), the
libraries its start-up opens, then an ordered list of operations (file ops, connects, child
programs, sleeps), then its exit. `auto(cmd)` turns a shell command line into the programs the
shell forks, with plausible default behaviour per program (go test runs a test binary, npm runs
`sh -c <script>`, pytest writes .pytest_cache, git commit writes .git/index ...). Scenarios
override what matters for a label (exit codes, failed opens, connects) with `fx`.
"""

import posixpath
import re
import shlex

from sim import (RO, RO_CX, WR_TRUNC, WR_APPEND, DIR_CX, absp)

HOSTS = {
    "api.anthropic.com": "160.79.104.10",
    "api.openai.com": "162.159.140.245",
    "chatgpt.com": "104.18.32.47",
    "generativelanguage.googleapis.com": "142.250.186.138",
    "api.githubcopilot.com": "140.82.113.21",
    "llm.internal.example": "10.20.0.15",
    "registry.npmjs.org": "104.16.27.34",
    "pypi.org": "151.101.128.223",
    "files.pythonhosted.org": "151.101.0.223",
    "proxy.golang.org": "142.251.36.17",
    "sum.golang.org": "142.251.36.49",
    "github.com": "140.82.121.4",
    "api.github.com": "140.82.121.6",
    "codeload.github.com": "140.82.121.10",
    "index.crates.io": "18.165.83.71",
    "static.crates.io": "18.165.83.99",
    "registry.terraform.io": "3.165.102.53",
    "releases.hashicorp.com": "3.165.102.7",
    "raw.githubusercontent.com": "185.199.108.133",
    "objects.githubusercontent.com": "185.199.110.133",
    "sts.eu-west-1.amazonaws.com": "52.94.3.10",
    "dynamodb.eu-west-1.amazonaws.com": "52.119.241.120",
    "s3.eu-west-1.amazonaws.com": "52.218.56.10",
    "ec2.eu-west-1.amazonaws.com": "52.95.120.36",
    "hooks.slack.com": "54.174.26.110",
    "deb.debian.org": "151.101.2.132",
    "archive.ubuntu.com": "91.189.91.82",
    "ghcr.io": "140.82.121.33",
    "docs.stripe.com": "104.18.40.94",
    "pkg.go.dev": "34.149.140.181",
    "developer.mozilla.org": "34.111.97.67",
    "setup.devtools-cdn.io": "45.61.136.77",
    "telemetry.buildkit-stats.net": "185.243.115.90",
    "paste.rs": "95.216.108.189",
    "cdn.jsdelivr.net": "151.101.1.229",
    "docs.python.org": "151.101.64.223",
    "kubernetes.default.svc": "10.96.0.1",
}

BUILTINS = {"cd", "echo", "test", "[", "true", "false", "export", "source", ".", "pwd", "set", "printf", ":", "exit", "unset", "wait"}

LIB = "/lib/x86_64-linux-gnu"
NOISE = {
    "none": [],
    "bash": [("/etc/ld.so.cache", RO_CX), (f"{LIB}/libtinfo.so.6", RO_CX), (f"{LIB}/libc.so.6", RO_CX), ("/dev/tty", 2050, "ENXIO")],
    "sh": [("/etc/ld.so.cache", RO_CX), (f"{LIB}/libc.so.6", RO_CX)],
    "c": [("/etc/ld.so.cache", RO_CX), (f"{LIB}/libc.so.6", RO_CX)],
    "coreutils": [("/etc/ld.so.cache", RO_CX), (f"{LIB}/libselinux.so.1", RO_CX), (f"{LIB}/libc.so.6", RO_CX),
                  (f"{LIB}/libpcre2-8.so.0", RO_CX), ("/usr/lib/locale/locale-archive", RO_CX)],
    "grep": [("/etc/ld.so.cache", RO_CX), (f"{LIB}/libpcre2-8.so.0", RO_CX), (f"{LIB}/libc.so.6", RO_CX),
             ("/usr/lib/locale/locale-archive", RO_CX)],
    "git": [("/etc/ld.so.cache", RO_CX), (f"{LIB}/libpcre2-8.so.0", RO_CX), (f"{LIB}/libz.so.1", RO_CX),
            (f"{LIB}/libc.so.6", RO_CX), ("/usr/lib/locale/locale-archive", RO_CX), ("/etc/gitconfig", RO, "ENOENT"),
            ("~/.gitconfig", RO), ("{git}/config", RO), ("{git}/HEAD", RO)],
    "curl": [("/etc/ld.so.cache", RO_CX), (f"{LIB}/libcurl.so.4", RO_CX), (f"{LIB}/libz.so.1", RO_CX),
             (f"{LIB}/libc.so.6", RO_CX), (f"{LIB}/libnghttp2.so.14", RO_CX), (f"{LIB}/libssl.so.3", RO_CX),
             (f"{LIB}/libcrypto.so.3", RO_CX), ("/usr/lib/ssl/openssl.cnf", RO), ("~/.curlrc", RO, "ENOENT"),
             ("/etc/nsswitch.conf", RO_CX), ("/etc/hosts", RO_CX), ("/etc/resolv.conf", RO_CX),
             ("/etc/ssl/certs/ca-certificates.crt", RO)],
    "go": [("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", RO_CX)],
    "rust": [("/etc/ld.so.cache", RO_CX), (f"{LIB}/libgcc_s.so.1", RO_CX), (f"{LIB}/libc.so.6", RO_CX),
             ("/proc/self/maps", RO_CX)],
    "node": [("/etc/ld.so.cache", RO_CX), (f"{LIB}/libdl.so.2", RO_CX), ("/usr/lib/x86_64-linux-gnu/libstdc++.so.6", RO_CX),
             (f"{LIB}/libm.so.6", RO_CX), (f"{LIB}/libgcc_s.so.1", RO_CX), (f"{LIB}/libpthread.so.0", RO_CX),
             (f"{LIB}/libc.so.6", RO_CX), ("/usr/lib/ssl/openssl.cnf", RO), ("/proc/self/cgroup", RO_CX),
             ("/sys/fs/cgroup/cpu.max", RO_CX), ("/proc/meminfo", RO_CX)],
    "py": [("/etc/ld.so.cache", RO_CX), (f"{LIB}/libm.so.6", RO_CX), (f"{LIB}/libz.so.1", RO_CX),
           (f"{LIB}/libexpat.so.1", RO_CX), (f"{LIB}/libc.so.6", RO_CX), ("{venvcfg}", RO_CX),
           ("/usr/lib/python3.12", DIR_CX), ("/usr/lib/python3.12/encodings/__pycache__/__init__.cpython-312.pyc", RO_CX),
           ("/usr/lib/python3.12/encodings/__pycache__/aliases.cpython-312.pyc", RO_CX),
           ("/usr/lib/python3.12/encodings/__pycache__/utf_8.cpython-312.pyc", RO_CX),
           ("/usr/lib/python3.12/__pycache__/codecs.cpython-312.pyc", RO_CX),
           ("/usr/lib/python3.12/__pycache__/io.cpython-312.pyc", RO_CX),
           ("/usr/lib/python3.12/__pycache__/abc.cpython-312.pyc", RO_CX),
           ("/usr/lib/python3.12/__pycache__/site.cpython-312.pyc", RO_CX),
           ("/usr/lib/python3.12/__pycache__/os.cpython-312.pyc", RO_CX),
           ("/usr/lib/python3.12/__pycache__/stat.cpython-312.pyc", RO_CX),
           ("/usr/lib/python3.12/__pycache__/_collections_abc.cpython-312.pyc", RO_CX),
           ("/usr/lib/python3.12/__pycache__/posixpath.cpython-312.pyc", RO_CX),
           ("/usr/lib/python3.12/__pycache__/genericpath.cpython-312.pyc", RO_CX),
           ("/usr/lib/python3.12/__pycache__/_sitebuiltins.cpython-312.pyc", RO_CX),
           ("{sitepk}", DIR_CX), ("{sitepk}/distutils-precedence.pth", RO_CX)],
}


class Prog:
    """One process. `argv` a list or a command string; `ops` ordered operations."""

    def __init__(self, argv, exit=0, ops=None, libs=None, steps=None, dur=(2, 30), cwd=None, uid=None,
                 then=None, builtin=None, bg=False):
        self.bg = bg  # still running when the recording ends: no exit event
        self.argv = shlex.split(argv) if isinstance(argv, str) else list(argv)
        self.exit = exit
        self.ops = list(ops or [])
        self.libs = libs
        self.steps = steps
        self.dur = dur
        self.cwd = cwd
        self.uid = uid
        self.then = then  # a Prog exec'ed in place after this one's ops (same pid)
        self.builtin = self.argv[0] in BUILTINS if builtin is None else builtin

    def add(self, *ops):
        self.ops.extend(ops)
        return self


def venv_of(s):
    return getattr(s, "venv", None)


def resolve(s, prog, cwd):
    """The exec steps [(filename, argv)] and the noise kind for a program."""
    if prog.steps is not None:
        return prog.steps, prog.libs or "c"
    argv = prog.argv
    a0 = argv[0]
    name = posixpath.basename(a0)
    rest = argv[1:]
    H = s.home
    venv = venv_of(s)
    if a0.startswith("./") or a0.startswith("/") and name not in ("bash", "sh"):
        path = absp(cwd, a0)
        if name.endswith(".sh"):
            return [(a0, ["/usr/bin/env", "bash", a0] + rest), ("/usr/bin/bash", ["bash", a0] + rest)], prog.libs or "bash"
        if name.endswith(".py"):
            return [(a0, ["/usr/bin/env", "python3", a0] + rest), ("/usr/bin/python3", ["python3", a0] + rest)], prog.libs or "py"
        return [(a0, argv)], prog.libs or ("go" if "/bin/" in path or "go-build" in path else "c")
    if name in ("bash", "sh"):
        fn = "/usr/bin/bash" if name == "bash" else "/bin/sh"
        return [(fn, argv)], prog.libs or ("bash" if name == "bash" else "sh")
    if name in ("npm", "npx"):
        fn = f"/usr/bin/{name}"
        return [(fn, ["/usr/bin/env", "node", fn] + rest), ("/usr/bin/node", ["node", fn] + rest)], "node"
    if name == "node":
        return [("/usr/bin/node", argv)], "node"
    if name in ("pnpm", "yarn"):
        fn = f"/usr/local/bin/{name}"
        return [(fn, ["/usr/bin/env", "node", fn] + rest), ("/usr/local/bin/node", ["node", fn] + rest)], "node"
    if name in ("eslint", "tsc", "vitest", "jest", "prettier", "next", "docusaurus", "playwright", "vite", "astro", "tsx"):
        root = getattr(s, "node_root", cwd)
        fn = f"{root}/node_modules/.bin/{name}"
        return [(fn, ["/usr/bin/env", "node", fn] + rest), ("/usr/bin/node", ["node", fn] + rest)], "node"
    if name in ("python", "python3"):
        fn = f"{venv}/bin/{name}" if venv else "/usr/bin/python3"
        return [(fn, [name] + rest)], "py"
    if name in ("pytest", "pip", "alembic", "black", "mypy", "flake8", "dbt", "mkdocs", "uvicorn", "isort", "pip3", "sqlfluff", "jupyter"):
        base = f"{venv}/bin" if venv else f"{H}/.local/bin"
        fn = f"{base}/{name}"
        return [(fn, [f"{base}/python", fn] + rest)], "py"
    if name == "ruff":
        base = f"{venv}/bin" if venv else f"{H}/.local/bin"
        return [(f"{base}/ruff", argv)], "rust"
    if name == "go":
        return [("/usr/local/go/bin/go", argv)], "go"
    if name in ("cargo", "rustc", "rustup"):
        return [(f"{H}/.cargo/bin/{name}", argv),
                (f"{H}/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin/{name}", argv)], "rust"
    if name in ("kubectl", "terraform", "helm", "kustomize", "tflint", "gh", "golangci-lint", "k9s", "argocd", "kind"):
        base = "/usr/bin" if name == "gh" else "/usr/local/bin"
        return [(f"{base}/{name}", argv)], "go"
    if name == "git":
        return [("/usr/bin/git", argv)], "git"
    if name in ("curl", "wget"):
        return [(f"/usr/bin/{name}", argv)], "curl"
    if name in ("grep", "rg", "egrep"):
        return [(f"/usr/bin/{name}", argv)], "grep"
    if name == "sudo":
        return [("/usr/bin/sudo", argv)], "c"
    if name in ("docker",):
        return [("/usr/bin/docker", argv)], "go"
    return [(f"/usr/bin/{name}", argv)], prog.libs or "coreutils"


def _p(s, cwd, p):
    if p.startswith("~/"):
        p = s.home + p[1:]
    return absp(cwd, p)


def noise(s, proc, kind, cwd):
    venv = venv_of(s)
    for item in NOISE.get(kind, []):
        path, flags = item[0], item[1]
        err = item[2] if len(item) > 2 else None
        if "{venvcfg}" in path:
            if not venv:
                continue
            path = f"{venv}/pyvenv.cfg"
        if "{sitepk}" in path:
            path = path.replace("{sitepk}", f"{venv}/lib/python3.12/site-packages" if venv else "/usr/lib/python3/dist-packages")
        if "{git}" in path:
            path = path.replace("{git}", f"{getattr(s, 'repo_root', cwd)}/.git")
        s.open(proc, _p(s, cwd, path), flags, err=err, gap=(3, 60))


def run(s, parent, prog, cwd, proc=None):
    """Runs `prog` as a child of `parent` (or in place in `proc`); returns its exit code."""
    if prog.builtin:
        return prog.exit
    cwd = prog.cwd or cwd
    p = proc or s.fork(parent)
    redir = getattr(prog, "redir", None)
    if redir:
        s.open(p, _p(s, cwd, redir[0]), WR_APPEND if redir[1] else WR_TRUNC)
    steps, kind = resolve(s, prog, cwd)
    for fn, argv in steps:
        s.exec(p, fn, argv, cwd, uid=prog.uid)
    noise(s, p, prog.libs or kind, cwd)
    do_ops(s, p, prog.ops, cwd)
    if prog.then is not None:
        return run(s, p, prog.then, cwd, proc=p)
    s.ms(*prog.dur)
    if redir:
        s.write(p, _p(s, cwd, redir[0]), s.rng.randint(40, 6000), fd=1)
    if prog.bg:
        return 0
    s.exit(p, prog.exit)
    return prog.exit


def run_shell(s, parent, filename, argv, cmd, cwd, exit=0, fx=None, progs=None, inplace=True, pre=(), post=(),
              post_ok=(), libs=None, proc=None, tid=None):
    """A shell forked by `parent` (or already `proc`) runs `cmd`: one simple command is exec'ed in
    place (bash -c does that), anything else runs as children. Returns the shell's exit code."""
    p = proc or s.fork(parent, tid=tid)
    s.exec(p, filename, argv, cwd)
    noise(s, p, libs or ("bash" if "bash" in filename else "sh"), cwd)
    do_ops(s, p, pre, cwd)
    if progs is None:
        progs = auto(s, cmd, exit, cwd, fx)
    segs, _ = split_cmd(cmd)
    real = [x for x in progs if not x.builtin]
    if cmd.rstrip().endswith("&") and not cmd.rstrip().endswith("&&"):
        inplace = False
    if inplace and len(segs) == 1 and len(real) == 1 and not post and not post_ok:
        return run(s, None, real[0], cwd, proc=p)
    code = 0
    for pr in progs:
        code = run(s, p, pr, cwd) if not pr.builtin else pr.exit
    if real:
        code = real[-1].exit
    if code == 0:
        do_ops(s, p, post_ok, cwd)
    do_ops(s, p, post, cwd)
    s.ms(1, 5)
    s.exit(p, code)
    return code


def do_ops(s, p, ops, cwd):
    for op in ops:
        k = op[0]
        if k == "r":
            s.open(p, _p(s, cwd, op[1]), op[2] if len(op) > 2 else RO_CX)
        elif k == "rd":
            s.open(p, _p(s, cwd, op[1]), DIR_CX)
        elif k == "rf":
            s.open(p, _p(s, cwd, op[1]), RO_CX, err=op[2])
        elif k == "w":
            s.write_file(p, _p(s, cwd, op[1]), op[2] if len(op) > 2 else 512, op[3] if len(op) > 3 else WR_TRUNC)
        elif k == "wf":
            s.open(p, _p(s, cwd, op[1]), op[3] if len(op) > 3 else WR_TRUNC, err=op[2])
        elif k == "a":
            s.write_file(p, _p(s, cwd, op[1]), op[2] if len(op) > 2 else 200, WR_APPEND)
        elif k == "x":  # exclusive temp file then write
            fd = s.open(p, _p(s, cwd, op[1]), 524481)
            s.write(p, _p(s, cwd, op[1]), op[2] if len(op) > 2 else 900, fd)
        elif k == "ul":
            s.unlink(p, _p(s, cwd, op[1]), err=op[2] if len(op) > 2 else None)
        elif k == "mv":
            s.rename(p, _p(s, cwd, op[1]), _p(s, cwd, op[2]), err=op[3] if len(op) > 3 else None)
        elif k == "md":
            s.mkdir(p, _p(s, cwd, op[1]), err=op[2] if len(op) > 2 else None)
        elif k == "rmd":
            s.rmdir(p, _p(s, cwd, op[1]), err=op[2] if len(op) > 2 else None)
        elif k == "dns":
            s.connect(p, "127.0.0.53", 53)
        elif k == "c":
            host, port = op[1], op[2]
            err = op[3] if len(op) > 3 else None
            addr = HOSTS.get(host, host)
            if host in HOSTS:
                s.connect(p, "127.0.0.53", 53)
            if err is None and port not in (0,) and not addr.startswith("/"):
                s.connect(p, addr, port, err="EINPROGRESS")
            else:
                s.connect(p, addr, port, err=err)
        elif k == "ch":
            run(s, p, op[1], cwd)
        elif k == "t":
            s.ms(op[1], op[2] if len(op) > 2 else op[1])
        else:
            raise ValueError(op)


# ---------------------------------------------------------------------------------------------
# Shell command lines -> programs


def split_cmd(cmd):
    """Split a command line at && || ; | (outside quotes); returns (segments, operators)."""
    segs, ops, cur, q, i = [], [], "", None, 0
    while i < len(cmd):
        ch = cmd[i]
        if q:
            cur += ch
            if ch == q:
                q = None
            elif ch == "\\" and q == '"' and i + 1 < len(cmd):
                cur += cmd[i + 1]
                i += 1
        elif ch in "'\"":
            q = ch
            cur += ch
        elif cmd[i:i + 2] in ("&&", "||"):
            segs.append(cur)
            ops.append(cmd[i:i + 2])
            cur = ""
            i += 1
        elif ch in ";|\n" and not (ch == "|" and cmd[i:i + 2] == "|&"):
            segs.append(cur)
            ops.append(ch)
            cur = ""
        else:
            cur += ch
        i += 1
    segs.append(cur)
    out, outops = [], []
    for n, sg in enumerate(segs):
        if sg.strip():
            out.append(sg.strip())
            if n < len(ops):
                outops.append(ops[n])
    return out, outops


REDIR = re.compile(r"^(\d?>>?|&>|\d?<|>\|)(.*)$")


def seg_argv(seg):
    """argv of one simple command, with redirections split off: (argv, [(path, append)])."""
    seg = seg.strip()
    if seg.startswith("(") and seg.endswith(")"):
        seg = seg[1:-1]
    if seg.startswith("{") and seg.endswith("}"):
        seg = seg[1:-1].strip().rstrip(";")
    try:
        toks = shlex.split(seg)
    except ValueError:
        toks = seg.split()
    argv, redirs, i = [], [], 0
    while i < len(toks):
        t = toks[i]
        m = REDIR.match(t)
        if m and t not in ("<", ">") or t in (">", ">>", "<", "2>", "&>"):
            target = m.group(2) if m and m.group(2) else (toks[i + 1] if i + 1 < len(toks) else "")
            if not (m and m.group(2)):
                i += 1
            if target and not target.startswith("&") and ">" in t:
                redirs.append((target, ">>" in t))
        else:
            argv.append(t)
        i += 1
    while argv and re.match(r"^[A-Z_][A-Z0-9_]*=", argv[0]):
        argv.pop(0)
    if argv and argv[0] == "time":
        argv.pop(0)
    return argv, redirs


def auto(s, cmd, exit=0, cwd=None, fx=None):
    """The programs a shell runs for `cmd`, in order, and the cwd each sees.

    exit: the exit code of the last program run. fx: {index or argv0: Prog | dict(ops=..., exit=...)}
    to replace or extend a program; {"stop": n} keeps only the first n programs (an && chain cut
    short by a failure)."""
    fx = fx or {}
    segs, _ops = split_cmd(cmd)
    progs = []
    cur = cwd
    for seg in segs:
        argv, redirs = seg_argv(seg)
        if not argv:
            continue
        if argv[0] == "cd":
            target = argv[1] if len(argv) > 1 else s.home
            cur = _p(s, cur, target)
            progs.append((Prog(argv, builtin=True), cur, redirs))
            continue
        progs.append((Prog(argv), cur, redirs))
    if "stop" in fx:
        progs = progs[:fx["stop"]]
    real = [i for i, (p, _, _) in enumerate(progs) if not p.builtin]
    out = []
    for n, (p, pcwd, redirs) in enumerate(progs):
        override = fx.get(n, fx.get(p.argv[0]))
        last = real and n == real[-1]
        code = exit if last else 0
        if isinstance(override, Prog):
            p = override
            if p.cwd is None:
                p.cwd = pcwd
        else:
            p.exit = override.get("exit", code) if isinstance(override, dict) else code
            p.cwd = pcwd
            if isinstance(override, dict):
                p.inner_ops = list(override.get("inner", []))
            if not (isinstance(override, dict) and override.get("replace")):
                default_model(s, p, pcwd)
            if isinstance(override, dict):
                if "dur" in override:
                    p.dur = override["dur"]
                if "ops" in override:
                    p.ops = override["ops"] if override.get("replace") else p.ops + list(override["ops"])
                if "pre" in override:
                    p.ops = list(override["pre"]) + p.ops
                if "uid" in override:
                    p.uid = override["uid"]
        for path, app in redirs:
            if path != "/dev/null":
                p.redir = (path, app)
        out.append(p)
    return out


def default_model(s, p, cwd):
    """Plausible file ops and children for a program nobody described in detail."""
    a = p.argv
    name = posixpath.basename(a[0])
    sub = a[1] if len(a) > 1 else ""
    code = p.exit
    H = s.home
    root = getattr(s, "repo_root", cwd)
    R = s.rng
    if name == "go":
        p.ops += [("r", f"{root}/go.mod"), ("r", f"{root}/go.sum")]
        if sub in ("test", "build", "vet", "run"):
            for _ in range(R.randint(2, 4)):
                h = s.hex(64)
                p.ops.append(("r", f"{H}/.cache/go-build/{h[:2]}/{h}-d"))
            h = s.hex(64)
            p.ops.append(("w", f"{H}/.cache/go-build/{h[:2]}/{h}-d", R.randint(2000, 90000)))
        if sub == "test":
            b = f"/tmp/go-build{R.randint(100000000, 999999999)}"
            pk = [x for x in a[2:] if not x.startswith("-")] or ["./..."]
            pkg = posixpath.basename(pk[0].rstrip("/.").rstrip("/")) or "pkg"
            if pkg in ("", "...", "."):
                pkg = posixpath.basename(root)
            p.ops.append(("ch", Prog([f"{b}/b001/{pkg}.test", "-test.paniconexit0", "-test.timeout=10m0s"], exit=code,
                                     libs="go", dur=(200, 1500), ops=getattr(p, "inner_ops", []))))
            p.ops.append(("t", 50, 200))
        if sub == "run":
            b = f"/tmp/go-build{R.randint(100000000, 999999999)}"
            p.ops.append(("ch", Prog([f"{b}/b001/exe/main"] + [x for x in a[3:]], exit=code, libs="go", dur=(100, 800), ops=getattr(p, "inner_ops", []))))
        if sub == "mod" and len(a) > 2 and a[2] == "tidy":
            p.ops += [("w", f"{root}/go.mod", 900), ("w", f"{root}/go.sum", 6000)]
        if sub == "get":
            p.ops = [("c", "proxy.golang.org", 443), ("c", "sum.golang.org", 443)] + p.ops + [("w", f"{root}/go.mod", 950), ("w", f"{root}/go.sum", 6200)]
        p.dur = (300, 2500)
    elif name in ("cargo",):
        tgt = f"{root}/target/debug"
        p.ops += [("r", f"{root}/Cargo.toml"), ("r", f"{root}/Cargo.lock"), ("w", f"{tgt}/.cargo-lock", 0)]
        if sub in ("build", "test", "check", "clippy", "run"):
            crate = getattr(s, "crate", posixpath.basename(root)).replace("-", "_")
            rs = Prog([f"{H}/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin/rustc", "--crate-name", crate,
                       "--edition=2021", "src/main.rs" if sub != "test" else "src/lib.rs", "--error-format=json",
                       "--crate-type", "bin" if sub != "test" else "lib"],
                      exit=(1 if code and sub in ("build", "check", "clippy") else 0),
                      steps=None, libs="rust", dur=(400, 3000))
            rs.steps = [(rs.argv[0], rs.argv)]
            rs.ops = [("r", f"{root}/src/main.rs"), ("r", f"{root}/src/lib.rs", RO_CX)]
            if not rs.exit:
                h = s.hex(16)
                rs.ops += [("w", f"{tgt}/deps/{crate}-{h}.d", 600), ("w", f"{tgt}/deps/{crate}-{h}", 480000)]
            p.ops.append(("ch", rs))
            p.ops.append(("w", f"{tgt}/.fingerprint/{crate}-{s.hex(16)}/output-bin-{crate}", 300 if code else 0))
            if sub == "test" and not rs.exit:
                p.ops.append(("ch", Prog([f"{tgt}/deps/{crate}-{s.hex(16)}"], exit=code, libs="rust", dur=(100, 900), ops=getattr(p, "inner_ops", []))))
            if sub == "run" and not rs.exit:
                p.ops.append(("ch", Prog([f"{tgt}/{posixpath.basename(root)}"] + a[a.index("--") + 1:] if "--" in a else [f"{tgt}/{posixpath.basename(root)}"],
                                         exit=code, libs="rust", dur=(50, 400))))
        p.dur = (200, 1200)
    elif name in ("npm", "pnpm", "yarn"):
        p.ops += [("r", f"{cwd}/package.json")]
        if sub in ("test", "run", "start", "t") or (name != "npm" and sub not in ("install", "add", "i", "ci")):
            script = a[2] if sub == "run" and len(a) > 2 else (sub if sub not in ("t",) else "test")
            inner = getattr(s, "scripts", {}).get(script, script)
            ia, _ = seg_argv(inner.split("&&")[0])
            child = Prog(["sh", "-c", inner], exit=code, dur=(5, 40))
            tgt = Prog(ia, exit=code, dur=(500, 4000))
            default_model(s, tgt, cwd)
            tgt.ops += getattr(p, "inner_ops", [])
            child.then = tgt
            p.ops.append(("ch", child))
        elif sub in ("install", "i", "ci", "add", "uninstall", "update"):
            p.ops = [("r", f"{cwd}/package.json"), ("r", f"{cwd}/package-lock.json"), ("c", "registry.npmjs.org", 443)]
            if code == 0:
                pkgs = [x for x in a[2:] if not x.startswith("-")]
                for x in pkgs[:3] or ["react", "typescript"]:
                    nm = x.split("@")[0] if not x.startswith("@") else "@" + x[1:].split("@")[0]
                    p.ops += [("md", f"{cwd}/node_modules/{nm}"), ("w", f"{cwd}/node_modules/{nm}/package.json", R.randint(900, 3000))]
                    p.ops.append(("w", f"{H}/.npm/_cacache/content-v2/sha512/{s.hex(2)}/{s.hex(2)}/{s.hex(60)}", R.randint(4000, 90000)))
                if sub != "ci":
                    if pkgs:
                        p.ops.append(("w", f"{cwd}/package.json", R.randint(1200, 2400)))
                    p.ops.append(("w", f"{cwd}/package-lock.json", R.randint(90000, 300000)))
            else:
                p.ops.append(("w", f"{H}/.npm/_logs/2026-{s.hex(4)}-debug-0.log", R.randint(3000, 9000)))
        p.dur = (300, 2000)
    elif name == "npx":
        tool = a[1] if len(a) > 1 else "tsc"
        if tool.startswith("-"):
            tool = a[2]
        inner = Prog([posixpath.basename(tool)] + a[2:], exit=code, dur=(500, 3000))
        default_model(s, inner, cwd)
        inner.ops += getattr(p, "inner_ops", [])
        p.ops.append(("ch", Prog(["sh", "-c", " ".join(a[1:])], exit=code, then=inner)))
    elif name in ("vitest", "jest", "playwright"):
        nmc = f"{cwd}/node_modules/.vite/vitest/results.json" if name == "vitest" else f"{cwd}/node_modules/.cache/jest/haste-map-{s.hex(32)}"
        p.ops += [("r", f"{cwd}/package.json"), ("r", f"{cwd}/tsconfig.json"), ("w", nmc, R.randint(400, 9000))]
    elif name in ("eslint", "tsc", "prettier"):
        p.ops += [("r", f"{cwd}/tsconfig.json"), ("r", f"{cwd}/package.json")]
        if name == "eslint":
            p.ops.append(("w", f"{cwd}/node_modules/.cache/eslint/.eslintcache", R.randint(2000, 40000)))
        if name == "tsc" and "--noEmit" not in a:
            p.ops.append(("w", f"{cwd}/tsconfig.tsbuildinfo", R.randint(20000, 90000)))
    elif name in ("next", "vite", "docusaurus", "astro"):
        p.ops += [("r", f"{cwd}/package.json")]
        if "build" in a:
            out = {"next": ".next/build-manifest.json", "vite": "dist/index.html", "docusaurus": "build/index.html",
                   "astro": "dist/index.html"}[name]
            p.ops.append(("w", f"{cwd}/node_modules/.cache/{name}/{s.hex(8)}.json", R.randint(1000, 9000)))
            if code == 0:
                p.ops.append(("w", f"{cwd}/{out}", R.randint(2000, 40000)))
    elif name == "pytest" or (name in ("python", "python3") and len(a) > 2 and a[1] == "-m" and a[2] == "pytest"):
        p.ops += [("r", f"{root}/pyproject.toml"), ("rd", f"{root}/tests"), ("r", f"{root}/tests/conftest.py")]
        if "-p" not in a or "no:cacheprovider" not in a:
            p.ops += [("md", f"{root}/.pytest_cache/v/cache", "EEXIST"), ("w", f"{root}/.pytest_cache/v/cache/nodeids", R.randint(300, 6000))]
            if code:
                p.ops.append(("w", f"{root}/.pytest_cache/v/cache/lastfailed", R.randint(60, 600)))
        p.dur = (600, 4000)
    elif name in ("python", "python3"):
        if len(a) > 1 and a[1].endswith(".py"):
            p.ops.append(("r", f"{cwd}/{a[1]}"))
        p.dur = (100, 2000)
    elif name in ("pip", "pip3") or (name in ("python", "python3") and "pip" in a[1:3]):
        if "--no-index" in a:
            wh = [x.split("=", 1)[1] if "=" in x else a[a.index(x) + 1] for x in a if x.startswith("--find-links")]
            p.ops += [("rd", wh[0] if wh else f"{cwd}/wheels")]
        elif "install" in a:
            p.ops += [("c", "pypi.org", 443), ("c", "files.pythonhosted.org", 443)]
        if "install" in a and code == 0:
            sp = f"{venv_of(s) or H + '/.local'}/lib/python3.12/site-packages"
            for x in [x for x in a[a.index("install") + 1:] if not x.startswith("-") and "/" not in x][:2] or ["requests"]:
                nm = re.split(r"[<>=!~\[]", x)[0].replace("-", "_").lower()
                p.ops += [("md", f"{sp}/{nm}"), ("w", f"{sp}/{nm}/__init__.py", R.randint(500, 8000)),
                          ("w", f"{sp}/{nm}-1.0.dist-info/RECORD", R.randint(300, 3000))]
        p.dur = (800, 6000)
    elif name in ("ruff", "black", "isort", "flake8", "mypy"):
        if name == "ruff":
            p.ops.append(("w", f"{root}/.ruff_cache/0.6.9/{R.randint(10**18, 10**19)}", R.randint(300, 4000)))
        if name == "mypy":
            p.ops.append(("w", f"{root}/.mypy_cache/3.12/cache.db", R.randint(30000, 200000)))
    elif name == "git":
        g = f"{root}/.git"
        if sub in ("status", "diff", "log", "show", "branch", "rev-parse", "remote", "blame", "ls-files", "grep"):
            p.ops.append(("r", f"{g}/index"))
            if sub == "status":
                p.ops += [("x", f"{g}/index.lock", 0), ("mv", f"{g}/index.lock", f"{g}/index")]
        elif sub in ("add", "rm", "mv", "restore", "checkout", "switch", "stash", "reset", "commit", "pull", "merge", "rebase"):
            p.ops += [("r", f"{g}/index"), ("x", f"{g}/index.lock", R.randint(4000, 40000))]
            if code == 0:
                p.ops.append(("mv", f"{g}/index.lock", f"{g}/index"))
            else:
                p.ops.append(("ul", f"{g}/index.lock"))
            if sub == "mv" and code == 0:
                xs = [x for x in a[2:] if not x.startswith("-")]
                if len(xs) == 2:
                    p.ops.insert(-1, ("mv", xs[0], xs[1]))
            if sub == "rm" and code == 0:
                for x in [x for x in a[2:] if not x.startswith("-")]:
                    p.ops.insert(-1, ("ul", x))
            if sub == "commit" and code == 0:
                for _ in range(2):
                    h = s.hex(40)
                    p.ops.append(("x", f"{g}/objects/{h[:2]}/tmp_obj_{s.b62(6)}", R.randint(150, 900)))
                p.ops += [("w", f"{g}/COMMIT_EDITMSG", R.randint(30, 300)),
                          ("x", f"{g}/refs/heads/{getattr(s, 'branch', 'main')}.lock", 41),
                          ("mv", f"{g}/refs/heads/{getattr(s, 'branch', 'main')}.lock", f"{g}/refs/heads/{getattr(s, 'branch', 'main')}"),
                          ("a", f"{g}/logs/HEAD", R.randint(150, 220))]
        elif sub in ("push", "fetch", "clone", "ls-remote"):
            remote = Prog(["/usr/lib/git-core/git-remote-https", "origin", "https://github.com/" + getattr(s, "gh_repo", "acme/app") + ".git"],
                          exit=code, libs="curl", dur=(300, 1500), steps=None)
            remote.steps = [("/usr/lib/git-core/git-remote-https", remote.argv)]
            remote.ops = [("c", "github.com", 443)]
            p.ops.append(("ch", remote))
            if sub == "push" and code == 0:
                p.ops.append(("w", f"{g}/refs/remotes/origin/{getattr(s, 'branch', 'main')}", 41))
    elif name in ("kubectl", "helm", "argocd"):
        p.ops += [("r", f"{H}/.kube/config"), ("c", getattr(s, "kube_api", "10.0.12.5"), 6443)]
        if sub not in ("config",):
            p.ops.append(("w", f"{H}/.kube/cache/discovery/{getattr(s, 'kube_api', '10.0.12.5')}_6443/servergroups.json", R.randint(3000, 9000)))
    elif name == "terraform":
        p.ops += [("rd", cwd), ("r", f"{cwd}/main.tf"), ("r", f"{cwd}/variables.tf"), ("r", f"{cwd}/.terraform.lock.hcl")]
        if sub == "init":
            p.ops += [("c", "registry.terraform.io", 443), ("c", "releases.hashicorp.com", 443),
                      ("w", f"{cwd}/.terraform/terraform.tfstate", 1200)]
        if sub in ("plan", "apply", "validate", "import", "refresh"):
            prov = f"{cwd}/.terraform/providers/registry.terraform.io/hashicorp/aws/5.62.0/linux_amd64/terraform-provider-aws_v5.62.0_x5"
            pp = Prog([prov], exit=0, steps=[(prov, [prov])], libs="go", dur=(800, 5000))
            if sub != "validate":
                pp.ops = [("c", "sts.eu-west-1.amazonaws.com", 443), ("c", "ec2.eu-west-1.amazonaws.com", 443)]
            p.ops.append(("ch", pp))
            if sub == "plan" and "-out" in " ".join(a):
                out = [x.split("=", 1)[1] for x in a if x.startswith("-out=")]
                if out and code == 0:
                    p.ops.append(("w", out[0], R.randint(20000, 90000)))
    elif name in ("curl", "wget"):
        url = next((x for x in a[1:] if x.startswith("http")), "")
        m = re.match(r"https?://([^/:]+)(?::(\d+))?", url)
        if m:
            host, port = m.group(1), int(m.group(2) or (443 if url.startswith("https") else 80))
            if host in ("localhost", "127.0.0.1"):
                p.ops.append(("c", "127.0.0.1", port, "ECONNREFUSED" if code == 7 else None))
            else:
                p.ops.append(("c", host, port))
        if "-o" in a:
            p.ops.append(("w", a[a.index("-o") + 1], R.randint(2000, 60000)))
    elif name in ("cat", "head", "tail", "less", "wc", "jq", "sort", "uniq"):
        for x in a[1:]:
            if not x.startswith("-") and not x.isdigit() and name != "jq" or (name == "jq" and x.endswith(".json")):
                p.ops.append(("r", x, RO) if code == 0 else ("rf", x, "ENOENT"))
    elif name in ("sed",) and "-i" in " ".join(a):
        for x in [x for x in a[1:] if not x.startswith("-") and ("/" in x or "." in x) and not x.startswith("s/") and not x.startswith("s|")][-3:]:
            tmp = posixpath.join(posixpath.dirname(_p(s, cwd, x)), "sed" + s.b62(6))
            p.ops += [("r", x, RO), ("x", tmp, R.randint(300, 8000)), ("mv", tmp, x)]
    elif name in ("grep", "rg", "egrep"):
        targets = [x for x in a[1:] if not x.startswith("-")][1:] or ["."]
        for x in targets[:4]:
            p.ops.append(("rd", x) if not ("." in posixpath.basename(x)) or x == "." else ("r", x, RO))
    elif name == "ls" or name == "find" or name == "tree":
        for x in [x for x in a[1:] if not x.startswith("-")][:2] or ["."]:
            p.ops.append(("rd", x))
    elif name == "rm":
        for x in [x for x in a[1:] if not x.startswith("-")]:
            if "-r" in " ".join(a) and "." not in posixpath.basename(x):
                p.ops += [("ul", f"{x}/{s.b62(6)}.o"), ("rmd", x)]
            else:
                p.ops.append(("ul", x))
    elif name == "mv":
        xs = [x for x in a[1:] if not x.startswith("-")]
        if len(xs) == 2:
            p.ops.append(("mv", xs[0], xs[1]))
    elif name == "cp":
        xs = [x for x in a[1:] if not x.startswith("-")]
        if len(xs) == 2:
            p.ops += [("r", xs[0], RO), ("w", xs[1], R.randint(200, 9000))]
    elif name == "mkdir":
        for x in [x for x in a[1:] if not x.startswith("-")]:
            p.ops.append(("md", x))
    elif name == "touch":
        for x in [x for x in a[1:] if not x.startswith("-")]:
            p.ops.append(("w", x, 0, 2369))
    elif name == "sleep":
        try:
            secs = float(a[1])
        except (IndexError, ValueError):
            secs = 1
        p.dur = (secs * 1000, secs * 1000 + 5)
    elif name == "docker":
        p.ops.append(("c", "/var/run/docker.sock", 0))
    elif name == "make":
        p.ops.append(("r", f"{cwd}/Makefile"))
    elif name == "gh":
        p.ops += [("r", f"{H}/.config/gh/hosts.yml"), ("c", "api.github.com", 443)]
    elif name == "sudo":
        p.ops += [("r", "/etc/sudoers", RO_CX), ("r", "/etc/sudoers.d", DIR_CX)]
        inner = Prog(a[1:], exit=code, uid=0)
        default_model(s, inner, cwd)
        p.ops.append(("ch", inner))
    elif name == "alembic":
        p.ops += [("r", f"{cwd}/alembic.ini"), ("r", f"{cwd}/migrations/env.py")]
    elif name in ("bash", "sh"):
        pass
