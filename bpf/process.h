/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel-user ABI of process.bpf.c: what one ring-buffer record looks like.
 *
 * Every record starts with `struct event_header`; `size_bytes` is the whole record. The fixed
 * part of each kind follows, then a data area holding that kind's strings back to back, in the
 * order its struct lists their `*_len_bytes` fields. String lengths count the bytes stored,
 * without a terminating NUL. Records are variable-sized (bpf_ringbuf_output of exactly the
 * bytes used), so a short event costs ~100 bytes of ring, not the worst case.
 *
 * All fields are fixed-width, little-endian (x86_64), naturally aligned, with explicit padding.
 * The collector decodes these structs in exactly one module (collector/src/raw.rs) through the
 * types that libbpf-cargo generates from this file's BTF, so the two sides cannot drift.
 */
#ifndef AGENTSIGHT_PROCESS_H
#define AGENTSIGHT_PROCESS_H

#define TASK_COMM_LEN 16

/* Caps: anything longer is cut and flagged in the record, never dropped silently. */
#define PATH_CAP_BYTES 4096      /* one path string, user or kernel (PATH_MAX) */
#define ARGV_CAP_BYTES 32768     /* exec argv as NUL-separated bytes */
#define SOCKADDR_CAP_BYTES 128   /* sizeof(struct sockaddr_storage) */
#define PATH_MAX_COMPONENTS 64   /* dentry walk depth when resolving a kernel path */
#define WRITE_SWEEP_MAX_FD 1024  /* write summaries at exit/exec are swept for fds below this */

/* Sizes of maps; the ring buffer's size is set by the collector at load time. */
#define TRACED_MAX_ENTRIES 65536
#define WRITES_MAX_ENTRIES 65536
#define COMM_WATCH_MAX_ENTRIES 64
#define SOCK_CONNS_MAX_ENTRIES 16384
#define EXEC_MAPS_MAX_ENTRIES 8192
#define SOCK_IOV_MAX 64          /* iovecs of one writev/readv/sendmsg/recvmsg that are captured */

enum event_kind {
	EVENT_EXEC = 1,
	EVENT_FORK = 2,
	EVENT_EXIT = 3,
	EVENT_FILE = 4,
	EVENT_CONNECT = 5,
	EVENT_WRITE_START = 6, /* first write to a regular file through (pid, fd): carries the path */
	EVENT_WRITE_END = 7,   /* that (pid, fd) was closed, replaced, or its process exited */
	EVENT_TLS_DATA = 8,    /* plaintext through SSL_write/SSL_read (tls.h) */
	EVENT_TLS_CLOSE = 9,   /* SSL_free: the connection is over (tls.h) */
	EVENT_SOCK_DATA = 10,  /* plaintext HTTP on a TCP socket: a tls_data_event (tls.h), `ssl` = sock */
	EVENT_SOCK_INFO = 11,  /* first data on a TCP socket: what it carries, to whom */
	EVENT_SOCK_CLOSE = 12, /* that socket's fd was closed or replaced: bytes it moved */
	EVENT_EXEC_MAP = 13,   /* a file mapped executable for the first time (dlopen): its path */
	EVENT_KINDS = 16,      /* size of the per-kind loss counters */
};

enum file_op {
	FILE_OP_OPEN = 1,
	FILE_OP_UNLINK = 2,
	FILE_OP_RMDIR = 3,
	FILE_OP_RENAME = 4,
	FILE_OP_MKDIR = 5,
};

/* Bits of `trunc_flags`: which strings of the record were cut at their cap. */
enum trunc_flag {
	TRUNC_FILENAME = 1 << 0,
	TRUNC_ARGV = 1 << 1,
	TRUNC_CWD = 1 << 2,
	TRUNC_PATH = 1 << 3,
	TRUNC_BASE = 1 << 4,
	TRUNC_NEW_PATH = 1 << 5,
	TRUNC_NEW_BASE = 1 << 6,
	/* a string could not be read at all (bad user pointer): its length is 0 */
	UNREADABLE_PATH = 1 << 7,
	UNREADABLE_NEW_PATH = 1 << 8,
	UNREADABLE_ARGV = 1 << 9,
};

/* Per-CPU loss counters, indexed by this enum (map `losses`). */
enum loss_reason {
	LOSS_RINGBUF_FULL = 0,     /* bpf_ringbuf_output failed: the record is gone */
	LOSS_TRACED_MAP_FULL = 1,  /* a new child could not be added: it and its subtree are untraced */
	LOSS_WRITES_MAP_FULL = 2,  /* a write summary could not be started: those bytes are uncounted */
	LOSS_WRITE_SWEEP_FD = 3,   /* a write summary on fd >= WRITE_SWEEP_MAX_FD was not swept */
	LOSS_TLS_CALLS_FULL = 4,   /* an SSL call could not be tracked (map full): its bytes are gone */
	LOSS_TLS_TRUNCATED = 5,    /* an SSL call moved more than TLS_CALL_CAP_BYTES: the rest is gone */
	LOSS_TLS_UNREADABLE = 6,   /* a chunk's user memory could not be read */
	LOSS_SOCK_CONNS_FULL = 7,  /* a TCP connection could not be tracked (map full): untraced */
	LOSS_SOCK_UNREADABLE = 8,  /* a socket buffer's user memory could not be read */
	LOSS_SOCK_CUT = 9,         /* a socket call moved more than SOCK_IOV_MAX buffers or 64 MiB */
	LOSS_REASONS = 10,
};

/* Value flags in map `traced`. */
enum traced_flag {
	TRACED_MEMBER = 1 << 0,  /* in the traced tree: its events are recorded */
	TRACED_SPAWNER = 1 << 1, /* the collector itself: not recorded, but its children become roots */
	/* it (or the parent it forked from) called connect or accept, or it was attached to
	 * running: only then are its reads looked at for socket data, so a tar or a build
	 * pays nothing for the socket path */
	TRACED_NET = 1 << 2,
};

struct traced_info {
	__u32 flags;
	__u32 write_fds; /* write summaries open for this process */
	__u32 write_fd_max; /* highest fd holding one, +1 */
	__u32 _pad;
};

struct write_key {
	__u32 pid;
	__s32 fd;
};

struct write_info {
	__u64 file;  /* kernel `struct file *`, to notice the fd now points elsewhere */
	__u64 bytes;
	__u64 first_ts_ns;
	__u32 writes;
	__u32 _pad;
};

struct event_header {
	__u32 kind;       /* enum event_kind */
	__u32 size_bytes; /* the whole record, header and data area included */
	__u64 ts_ns;      /* CLOCK_BOOTTIME (bpf_ktime_get_boot_ns); the collector converts to wall clock */
	__u32 pid;        /* tgid */
	__u32 tid;
	__u32 ppid;       /* real parent's tgid */
	__u32 uid;
	char comm[TASK_COMM_LEN];
};

/* data: filename, cwd, argv (NUL-separated, as in the process's memory) */
struct exec_event {
	struct event_header hdr;
	__u32 old_pid;          /* the tid that called execve (differs when a non-leader thread did) */
	__u32 trunc_flags;
	__u32 argv_full_bytes;  /* arg_end - arg_start: the untruncated size */
	__u16 filename_len_bytes;
	__u16 cwd_len_bytes;
	__u32 argv_len_bytes;
	__u32 _pad;
};

struct fork_event {
	struct event_header hdr;
	__u32 child_pid;
	__u32 _pad;
};

struct exit_event {
	struct event_header hdr;
	__u32 exit_code;    /* raw task->exit_code: (status << 8) | termsig | 0x80 if core dumped */
	__u32 _pad;
	__u64 duration_ns;  /* since the process (thread group leader) started */
};

/*
 * data: path, base, new_path, new_base. `path` is as the process passed it; `base` is the
 * absolute directory a relative `path` is resolved against (the cwd or `dirfd`'s path), empty
 * for absolute paths. The same for `new_*` (rename's target).
 */
struct file_event {
	struct event_header hdr;
	__s64 result;       /* syscall return value: fd, 0, or -errno */
	__u32 op;           /* enum file_op */
	__u32 flags;        /* open flags, rename flags, unlinkat flags */
	__u32 mode;
	__u32 trunc_flags;
	__u16 path_len_bytes;
	__u16 base_len_bytes;
	__u16 new_path_len_bytes;
	__u16 new_base_len_bytes;
};

struct connect_event {
	struct event_header hdr;
	__s64 result;       /* 0 or -errno (-EINPROGRESS for a non-blocking connect) */
	__s32 fd;
	__u32 sockaddr_len_bytes; /* as passed by the process */
	__u8 sockaddr[SOCKADDR_CAP_BYTES]; /* raw struct sockaddr_* copied from the process */
};

/* data: path (absolute, resolved in the kernel from the file) */
struct write_start_event {
	struct event_header hdr;
	__s32 fd;
	__u32 trunc_flags;
	__u16 path_len_bytes;
	__u16 _pad[3];
};

/* A file (device, inode) mapped executable, reported once. */
struct exec_map_key {
	__u64 ino;
	__u32 dev;
	__u32 _pad;
};

/* data: path (absolute, resolved in the kernel from the file) */
struct exec_map_event {
	struct event_header hdr;
	__u32 trunc_flags;
	__u16 path_len_bytes;
	__u16 _pad;
};

struct write_end_event {
	struct event_header hdr;
	__u64 bytes;
	__u64 first_ts_ns;
	__s32 fd;
	__u32 writes;
};

/*
 * TCP sockets of traced processes (read, write, readv, writev, recvfrom, sendto, recvmsg,
 * sendmsg). The first data a socket moves decides its class; only SOCK_HTTP streams their bytes
 * (EVENT_SOCK_DATA), the others are counted, so TLS bytes are never decoded twice and a
 * database or SSH session costs a map update per call.
 */
enum sock_class {
	SOCK_OTHER = 0,       /* neither HTTP nor TLS: counted only */
	SOCK_HTTP = 1,        /* the process sent an HTTP/1.x request or the HTTP/2 preface first */
	SOCK_TLS = 2,         /* a TLS record came first, either way, or an HTTP CONNECT (a tunnel) */
	SOCK_HTTP_SERVER = 3, /* the process received an HTTP request first: it serves */
};

/* `flags` of a sock_close_event */
enum sock_flag {
	SOCK_TLS_HOOKED = 1 << 0, /* its bytes moved inside a probed SSL call: the plaintext is seen */
};

struct sock_key {
	__u32 pid;
	__s32 fd;
};

struct sock_conn {
	__u64 sk;       /* kernel `struct sock *`: the connection (and the stream id of its data) */
	__u64 next[2];  /* next stream offset per direction (SOCK_HTTP) */
	__u64 bytes[2]; /* bytes moved per direction (every class) */
	__u32 class;    /* enum sock_class */
	__u32 flags;    /* enum sock_flag */
};

struct sock_info_event {
	struct event_header hdr;
	__u64 sk;
	__s32 fd;
	__u32 class;      /* enum sock_class */
	__u32 dir;        /* direction of the first data (enum tls_direction) */
	__u16 family;     /* AF_INET or AF_INET6 */
	__u16 port;       /* the peer's, host order */
	__u16 local_port;
	__u16 _pad[3];
	__u8 addr[16];    /* the peer's: 4 bytes for AF_INET */
};

struct sock_close_event {
	struct event_header hdr;
	__u64 sk;
	__u64 bytes_out;
	__u64 bytes_in;
	__s32 fd;
	__u32 class;      /* enum sock_class */
	__u32 flags;      /* enum sock_flag */
	__u32 _pad;
};

#endif /* AGENTSIGHT_PROCESS_H */
