"""Kernel-side simulation for the held-out set: a session clock, processes, and the events the
collector writes for them (exec, fork, exit, file, connect). Deterministic: every random choice
comes from the session's own seeded generator.
"""

import posixpath
import random

FLAGS = {
    0: "O_RDONLY",
    2: "O_RDWR",
    65: "O_WRONLY|O_CREAT",
    193: "O_WRONLY|O_CREAT|O_EXCL",
    194: "O_RDWR|O_CREAT|O_EXCL",
    577: "O_WRONLY|O_CREAT|O_TRUNC",
    1089: "O_WRONLY|O_CREAT|O_APPEND",
    2050: "O_RDWR|O_NONBLOCK",
    2369: "O_WRONLY|O_CREAT|O_NOCTTY|O_NONBLOCK",
    524288: "O_RDONLY|O_CLOEXEC",
    524290: "O_RDWR|O_CLOEXEC",
    524354: "O_RDWR|O_CREAT|O_CLOEXEC",
    524481: "O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC",
    524482: "O_RDWR|O_CREAT|O_EXCL|O_CLOEXEC",
    524865: "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC",
    525377: "O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC",
    591872: "O_RDONLY|O_NONBLOCK|O_DIRECTORY|O_CLOEXEC",
}
RO, RO_CX, WR_TRUNC, WR_CREAT, WR_APPEND = 0, 524288, 577, 65, 1089
WR_TRUNC_CX, WR_APPEND_CX, DIR_CX = 524865, 525377, 591872

ERRNO = {
    "EPERM": -1, "ENOENT": -2, "ENXIO": -6, "EACCES": -13, "EEXIST": -17, "EISDIR": -21,
    "EROFS": -30, "ENOTEMPTY": -39, "ENETUNREACH": -101, "ETIMEDOUT": -110,
    "ECONNREFUSED": -111, "EINPROGRESS": -115,
}

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class Proc:
    def __init__(self, pid, ppid, comm, start):
        self.pid, self.ppid, self.comm, self.start = pid, ppid, comm, start
        self.fd = 2
        self.base_fd = 3
        self.exited = False
        self.rng = None

    def next_fd(self):
        if self.rng is None:
            self.fd = self.base_fd
        else:
            self.fd = self.base_fd + self.rng.choice([0, 0, 0, 1, 1, 2, 3])
        return self.fd


class Session:
    def __init__(self, sid, seed, base_ts, user="dev", uid=1000):
        self.sid = sid
        self.rng = random.Random(seed)
        self.t = base_ts
        self.events = []
        self.turn = 0
        self._pid = 2000 + self.rng.randint(1000, 60000)
        self.user, self.uid = user, uid
        self.home = "/root" if uid == 0 else f"/home/{user}"
        self.labels = []
        self.note = ""

    # -- randomness -------------------------------------------------------------------------
    def hex(self, n):
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(n))

    def b62(self, n):
        return "".join(self.rng.choice(B62) for _ in range(n))

    def uuid(self):
        h = self.hex(32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{self.rng.choice('89ab')}{h[17:20]}-{h[20:32]}"

    def pick(self, seq):
        return self.rng.choice(seq)

    # -- clock --------------------------------------------------------------------------------
    def ms(self, lo, hi=None):
        """Let time pass: lo..hi milliseconds."""
        hi = lo if hi is None else hi
        self.t += int(self.rng.uniform(lo, hi) * 1_000_000)

    def label(self, kind, first, last, note):
        assert kind in ("loop", "contradiction", "persona_drift"), kind
        self.labels.append({"kind": kind, "turns": [first, last], "note": note})

    # -- events -------------------------------------------------------------------------------
    def emit(self, proc, kind, tid=None, gap=(8, 180), **fields):
        self.t += self.rng.randint(gap[0], gap[1]) * 1000 + self.rng.randint(0, 999)
        ev = {
            "ts_ns": self.t,
            "session": self.sid,
            "pid": proc.pid,
            "tid": tid or proc.pid,
            "ppid": proc.ppid,
            "comm": proc.comm,
            "kind": kind,
        }
        ev.update(fields)
        self.events.append(ev)
        return ev

    def newpid(self):
        self._pid += self.rng.randint(1, 7)
        return self._pid

    def root_proc(self, comm, ppid=None):
        """A process already running when recording starts (a terminal shell, an IDE)."""
        return Proc(self.newpid(), ppid or self.rng.randint(900, 1900), comm, self.t - 3_600_000_000_000)

    def fork(self, parent, tid=None):
        pid = self.newpid()
        self.emit(parent, "fork", tid=tid, child_pid=pid)
        c = Proc(pid, parent.pid, parent.comm, self.t)
        c.rng = self.rng
        return c

    def exec(self, proc, filename, argv, cwd, comm=None, uid=None):
        proc.comm = (comm or posixpath.basename(filename))[:15]
        self.emit(
            proc, "exec", gap=(40, 900), filename=filename, argv=list(argv), cwd=cwd, uid=self.uid if uid is None else uid,
            argv_bytes=sum(len(a.encode()) + 1 for a in argv),
        )

    def exit(self, proc, code=0, signal=0):
        assert not proc.exited, proc.pid
        proc.exited = True
        self.emit(proc, "exit", gap=(20, 400), exit_code=code, signal=signal, duration_ns=max(1000, self.t - proc.start + 1000))

    def open(self, proc, path, flags=RO_CX, err=None, tid=None, gap=(5, 120)):
        if err:
            self.emit(proc, "file", tid=tid, gap=gap, op="open", path=path, flags=flags, flags_text=FLAGS[flags],
                      result=ERRNO[err], error=err)
            return None
        fd = proc.next_fd()
        self.emit(proc, "file", tid=tid, gap=gap, op="open", path=path, flags=flags, flags_text=FLAGS[flags], fd=fd, result=fd)
        return fd

    def write(self, proc, path, nbytes, fd=None, writes=None, tid=None):
        if fd is None:
            fd = proc.fd
        writes = writes or max(1, nbytes // 8192 + (1 if nbytes % 8192 else 0))
        self.emit(proc, "file", tid=tid, op="write", path=path, bytes=nbytes, writes=writes, fd=fd, result=0)

    def write_file(self, proc, path, nbytes, flags=WR_TRUNC, tid=None, err=None):
        fd = self.open(proc, path, flags, err=err, tid=tid)
        if fd is not None:
            self.write(proc, path, nbytes, fd, tid=tid)
        return fd

    def simple(self, proc, op, path, err=None, tid=None, **kw):
        if err:
            self.emit(proc, "file", tid=tid, op=op, path=path, **kw, result=ERRNO[err], error=err)
        else:
            self.emit(proc, "file", tid=tid, op=op, path=path, **kw, result=0)

    def unlink(self, proc, path, err=None, tid=None):
        self.simple(proc, "unlink", path, err, tid)

    def rmdir(self, proc, path, err=None, tid=None):
        self.simple(proc, "rmdir", path, err, tid)

    def mkdir(self, proc, path, err=None, tid=None):
        self.simple(proc, "mkdir", path, err, tid)

    def rename(self, proc, path, new_path, err=None, tid=None):
        self.simple(proc, "rename", path, err, tid, new_path=new_path)

    def connect(self, proc, addr, port, result=0, err=None, family=None, tid=None):
        family = family or ("unix" if addr.startswith("/") or addr.startswith("@") else ("inet6" if ":" in addr else "inet"))
        if err:
            result = ERRNO[err]
        f = {"family": family, "addr": addr, "port": port, "result": result}
        if result < 0:
            f["error"] = err or {v: k for k, v in ERRNO.items()}[result]
        self.emit(proc, "connect", tid=tid, **f)


def absp(cwd, p):
    if p.startswith("~/"):
        raise ValueError("resolve ~ first")
    return posixpath.normpath(p if p.startswith("/") else posixpath.join(cwd, p))
