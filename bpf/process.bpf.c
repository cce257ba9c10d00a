// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * process.bpf.c: the kernel boundary of a traced process tree.
 *
 * Probes (all BTF-enabled raw tracepoints; kprobes and fentry are not assumed to exist):
 *   tp_btf/sched_process_fork   fork/clone of a traced process: the child joins `traced`
 *   tp_btf/sched_process_exec   exec: filename, argv, cwd, uid (and `--comm` attach targets)
 *   tp_btf/sched_process_exit   exit of the last thread: exit code, duration; leaves `traced`
 *   tp_btf/sys_exit             file syscalls (open*, creat, unlink*, rmdir, mkdir*, rename*),
 *                               connect, write/pwrite/writev summed per (process, fd), and
 *                               close, dup2, dup3, close_range, which end such a summary;
 *                               data on TCP sockets (read, write, readv, writev, recvfrom,
 *                               sendto, recvmsg, sendmsg): plaintext HTTP streamed, every
 *                               other socket classified and counted (see `sock_data`); mmap
 *                               with PROT_EXEC of a file not seen before (`exec_mapped`)
 * (No sys_enter probe: everything is read at exit, when the arguments are still in pt_regs,
 * so each syscall runs one program, not two.)
 *
 * Scoping happens here: `traced` holds the tgids of the tree. A process outside it costs one
 * hash lookup on the syscalls listed above and nothing on any other syscall.
 *
 * Maps and sizes: `events` ring buffer (size set by the collector), `traced` and `writes` hashes
 * (TRACED_MAX_ENTRIES, WRITES_MAX_ENTRIES), `sock_conns` (LRU, SOCK_CONNS_MAX_ENTRIES), `comm_watch` (COMM_WATCH_MAX_ENTRIES), `scratch`
 * (one 72 KiB record buffer per CPU), `losses` and `ringbuf_lost` per-CPU counters. Every failure
 * to record something increments one of the two counter maps; nothing is dropped silently.
 *
 * Oldest kernel: 5.17 (bpf_loop; tp_btf needs 5.5, ring buffers 5.8, bpf_ktime_get_boot_ns 5.8).
 * Syscall numbers and register use are x86_64's.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_endian.h>
#include "tls.h"
#include "common.bpf.h"
#include "stream.bpf.h"


/* x86_64 syscall numbers */
#define SYS_read 0
#define SYS_write 1
#define SYS_mmap 9
#define SYS_open 2
#define SYS_close 3
#define SYS_pwrite64 18
#define SYS_readv 19
#define SYS_writev 20
#define SYS_dup2 33
#define SYS_connect 42
#define SYS_accept 43
#define SYS_sendto 44
#define SYS_recvfrom 45
#define SYS_sendmsg 46
#define SYS_recvmsg 47
#define SYS_rename 82
#define SYS_mkdir 83
#define SYS_rmdir 84
#define SYS_creat 85
#define SYS_unlink 87
#define SYS_openat 257
#define SYS_mkdirat 258
#define SYS_unlinkat 263
#define SYS_renameat 264
#define SYS_dup3 292
#define SYS_pwritev 296
#define SYS_renameat2 316
#define SYS_accept4 288
#define SYS_pwritev2 328
#define SYS_close_range 436
#define SYS_openat2 437

#define AT_FDCWD -100
#define AT_REMOVEDIR 0x200
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#define O_WRONLY 01
#define O_CREAT 0100
#define O_TRUNC 01000
#define S_IFMT 0170000
#define S_IFREG 0100000
#define S_IFSOCK 0140000
#define IPPROTO_TCP 6
#define PROT_EXEC 0x4
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define NAME_CAP_BYTES 255

/* Restartable returns: the syscall runs again and is reported then. */
#define ERESTARTSYS 512
#define ERESTART_RESTARTBLOCK 516

#define EVENT_AREA_BYTES (1 << 16)
#define EVENT_HALF_MASK ((1 << 15) - 1)
#define STR_READ_BYTES (PATH_CAP_BYTES + 1)
#define WALK_MASK (PATH_CAP_BYTES - 1)

/* Set by the collector before load. */
const volatile bool watch_comms = false;

struct scratch {
	__u8 event[EVENT_AREA_BYTES];
	__u8 walk[PATH_CAP_BYTES * 2];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WRITES_MAX_ENTRIES);
	__type(key, struct write_key);
	__type(value, struct write_info);
} writes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, COMM_WATCH_MAX_ENTRIES);
	__type(key, char[TASK_COMM_LEN]);
	__type(value, __u8);
} comm_watch SEC(".maps");

/* TCP sockets of traced processes by (tgid, fd); LRU, so sockets of processes that exited
 * without closing them age out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, SOCK_CONNS_MAX_ENTRIES);
	__type(key, struct sock_key);
	__type(value, struct sock_conn);
} sock_conns SEC(".maps");

/* Files already reported as mapped executable (EVENT_EXEC_MAP): each is offered to the TLS
 * probes once, however many processes load it. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, EXEC_MAPS_MAX_ENTRIES);
	__type(key, struct exec_map_key);
	__type(value, __u8);
} exec_maps SEC(".maps");

/* Indexed by CPU id; the collector sets max_entries to the number of possible CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* Pin the ABI types into BTF so that libbpf-cargo generates them for the collector. */
struct exec_event _exec_event = {};
struct fork_event _fork_event = {};
struct exit_event _exit_event = {};
struct file_event _file_event = {};
struct connect_event _connect_event = {};
struct write_start_event _write_start_event = {};
struct write_end_event _write_end_event = {};
struct sock_info_event _sock_info_event = {};
struct exec_map_event _exec_map_event = {};
struct exec_map_key _exec_map_key = {};
struct sock_close_event _sock_close_event = {};
struct sock_key _sock_key = {};
struct sock_conn _sock_conn = {};

static __always_inline __u8 *scratch_event(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&scratch, &cpu);
	return s ? s->event : NULL;
}

static __always_inline __u8 *scratch_walk(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&scratch, &cpu);
	return s ? s->walk : NULL;
}

static __always_inline void submit(void *ev, __u32 size)
{
	struct event_header *h = ev;
	__u32 kind = h->kind;
	/*
	 * An exec wakes the collector at once: it attaches the TLS probes to the new executable,
	 * and a program may start talking TLS within milliseconds (Bun does).
	 */
	__u64 flags = kind == EVENT_EXEC || kind == EVENT_EXEC_MAP ? BPF_RB_FORCE_WAKEUP : wakeup_flags();

	if (size > EVENT_AREA_BYTES)
		size = EVENT_AREA_BYTES;
	h->size_bytes = size;
	if (ring_output(ev, size, flags)) {
		count_ringbuf_lost(kind);
	}
}

struct walk_ctx {
	struct dentry *dentry;
	struct dentry *mnt_root; /* of the mount being walked: read once per mount, not per step */
	struct mount *mnt;
	__u8 *walk;
	__u32 pos;
	bool done;
	bool truncated;
};

/* One step of the walk: prepend one name, or hop from a mount's root to its mountpoint. */
static long walk_step(__u64 i, void *data)
{
	struct walk_ctx *c = data;
	struct dentry *dentry = c->dentry;
	struct mount *mnt = c->mnt;
	struct dentry *mnt_root = c->mnt_root;
	/* d_parent and d_name are neighbours in every kernel since 2.6: one read for both */
	struct {
		struct dentry *parent;
		struct qstr name;
	} head = {};

	if (bpf_core_field_offset(struct dentry, d_name) ==
	    bpf_core_field_offset(struct dentry, d_parent) + sizeof(void *)) {
		bpf_probe_read_kernel(&head, sizeof(head),
				      (void *)dentry + bpf_core_field_offset(struct dentry, d_parent));
	} else {
		head.parent = BPF_CORE_READ(dentry, d_parent);
		head.name = BPF_CORE_READ(dentry, d_name);
	}
	struct dentry *parent = head.parent;

	if (dentry == mnt_root || dentry == parent) {
		struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);

		if (dentry != mnt_root || mnt == mnt_parent) {
			c->done = true; /* the global root (or a detached tree) */
			return 1;
		}
		c->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		c->mnt = mnt_parent;
		c->mnt_root = BPF_CORE_READ(mnt_parent, mnt.mnt_root);
		return 0;
	}

	struct qstr d_name = head.name;
	__u32 len = d_name.len, pos = c->pos;

	if (len > NAME_CAP_BYTES)
		len = NAME_CAP_BYTES;
	if (len + 1 > pos) {
		c->truncated = true;
		c->done = true;
		return 1;
	}
	pos -= len;
	bpf_probe_read_kernel(c->walk + (pos & WALK_MASK), len & NAME_CAP_BYTES, d_name.name);
	pos -= 1;
	c->walk[pos & WALK_MASK] = '/';
	c->pos = pos;
	c->dentry = parent;
	return 0;
}

/*
 * Resolve a kernel `struct path` to an absolute string by walking dentries up to the root,
 * crossing mounts. Writes backwards into `walk`; returns the length and sets *start. bpf_loop
 * keeps the verifier's work to one pass over the step, whatever the depth.
 */
static __always_inline __u32 walk_path(const struct path *path, __u8 *walk, __u32 *start,
				       bool *truncated)
{
	struct vfsmount *vfsmnt = BPF_CORE_READ(path, mnt);
	struct walk_ctx c = {
		.dentry = BPF_CORE_READ(path, dentry),
		.mnt_root = BPF_CORE_READ(vfsmnt, mnt_root),
		.mnt = container_of(vfsmnt, struct mount, mnt),
		.walk = walk,
		.pos = PATH_CAP_BYTES - 1,
	};

	bpf_loop(PATH_MAX_COMPONENTS, walk_step, &c, 0);
	if (!c.done || c.truncated)
		*truncated = true; /* leading components are missing */
	if (c.pos == PATH_CAP_BYTES - 1) {
		c.pos -= 1;
		walk[c.pos & WALK_MASK] = '/';
	}
	*start = c.pos;
	return (PATH_CAP_BYTES - 1 - c.pos) & WALK_MASK;
}

/* Append the absolute form of a kernel path at `off`; returns the bytes appended. */
static __always_inline __u32 append_kernel_path(__u8 *ev, __u32 off, const struct path *path,
						bool *truncated)
{
	__u8 *walk = scratch_walk();
	__u32 start = 0, len;

	if (!walk)
		return 0;
	len = walk_path(path, walk, &start, truncated) & WALK_MASK;
	bpf_probe_read_kernel(ev + (off & EVENT_HALF_MASK), len & WALK_MASK, walk + (start & WALK_MASK));
	return len;
}

/* Append a NUL-terminated user string at `off`; returns the bytes appended (NUL excluded). */
static __always_inline __u32 append_user_str(__u8 *ev, __u32 off, const char *src, bool *truncated,
					     bool *unreadable)
{
	long n = bpf_probe_read_user_str(ev + (off & EVENT_HALF_MASK), STR_READ_BYTES, src);

	if (n <= 0) {
		*unreadable = true;
		return 0;
	}
	if (n == STR_READ_BYTES)
		*truncated = true;
	return (__u32)(n - 1);
}

static __always_inline struct file *fd_file(struct task_struct *task, int fd)
{
	/* CO-RE reads, not loads through a trusted BTF pointer: see fill_header */
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **arr;
	struct file *file = NULL;

	if (fd < 0 || (unsigned int)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	arr = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&file, sizeof(file), &arr[fd]);
	return file;
}

/* The directory a relative path passed with `dirfd` is resolved against. */
static __always_inline __u32 append_base(__u8 *ev, __u32 off, int dirfd, bool *truncated)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();

	if (dirfd == AT_FDCWD) {
		struct fs_struct *fs = BPF_CORE_READ(task, fs);
		return append_kernel_path(ev, off, &fs->pwd, truncated);
	}
	struct file *file = fd_file(task, dirfd);
	if (!file)
		return 0;
	return append_kernel_path(ev, off, &file->f_path, truncated);
}

static __always_inline bool is_relative(const char *user_path)
{
	char c = 0;

	bpf_probe_read_user(&c, 1, user_path);
	return c != '/';
}

/* ---- process lifecycle ---- */

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 child_pid = BPF_CORE_READ(child, pid);
	__u32 child_tgid = BPF_CORE_READ(child, tgid);
	__u32 parent_tgid = BPF_CORE_READ(parent, tgid);
	struct traced_info *pinfo, cinfo = { .flags = TRACED_MEMBER };

	if (child_pid != child_tgid)
		return 0; /* a new thread, not a new process */
	pinfo = bpf_map_lookup_elem(&traced, &parent_tgid);
	if (!pinfo)
		return 0;
	if (pinfo->flags & TRACED_MEMBER)
		cinfo.flags |= pinfo->flags & TRACED_NET; /* its sockets are inherited */
	if (bpf_map_update_elem(&traced, &child_tgid, &cinfo, BPF_ANY)) {
		count_loss(LOSS_TRACED_MAP_FULL);
		return 0;
	}
	if (pinfo->flags & TRACED_SPAWNER)
		return 0; /* the collector starting the root command: the root's exec says it all */

	struct fork_event *ev = (struct fork_event *)scratch_event();
	if (!ev)
		return 0;
	fill_header(&ev->hdr, EVENT_FORK);
	ev->child_pid = child_tgid;
	ev->_pad = 0;
	submit(ev, sizeof(*ev));
	return 0;
}

struct sweep_ctx {
	__u32 tgid;
	bool all; /* end every summary (exit) or only those whose fd now holds another file (exec) */
	struct task_struct *task;
	struct traced_info *info;
};

static __always_inline void emit_write_end(struct write_key *key, struct write_info *w)
{
	struct write_end_event *ev = (struct write_end_event *)scratch_event();

	if (!ev)
		return;
	fill_header(&ev->hdr, EVENT_WRITE_END);
	ev->hdr.pid = key->pid; /* the owner, also when another process closes it (close_range) */
	ev->bytes = w->bytes;
	ev->first_ts_ns = w->first_ts_ns;
	ev->fd = key->fd;
	ev->writes = w->writes;
	submit(ev, sizeof(*ev));
}

static __always_inline void end_write(struct write_key *key, struct traced_info *info)
{
	struct write_info *w = bpf_map_lookup_elem(&writes, key);

	if (!w)
		return;
	emit_write_end(key, w);
	bpf_map_delete_elem(&writes, key);
	if (info->write_fds)
		__sync_fetch_and_add(&info->write_fds, -1);
}

static long sweep_one(__u64 fd, void *data)
{
	struct sweep_ctx *ctx = data;
	struct write_key key = { .pid = ctx->tgid, .fd = (__s32)fd };
	struct write_info *w = bpf_map_lookup_elem(&writes, &key);

	if (!w)
		return 0;
	if (!ctx->all && (__u64)fd_file(ctx->task, (int)fd) == w->file)
		return 0;
	emit_write_end(&key, w);
	bpf_map_delete_elem(&writes, &key);
	if (ctx->info->write_fds)
		__sync_fetch_and_add(&ctx->info->write_fds, -1);
	return ctx->info->write_fds == 0; /* stop early when none are left */
}

static __always_inline void sweep_writes(__u32 tgid, struct traced_info *info, bool all)
{
	struct sweep_ctx ctx = {
		.tgid = tgid,
		.all = all,
		.task = (struct task_struct *)bpf_get_current_task(),
		.info = info,
	};
	__u32 n = info->write_fd_max;

	if (n > WRITE_SWEEP_MAX_FD)
		n = WRITE_SWEEP_MAX_FD;
	bpf_loop(n, sweep_one, &ctx, 0);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct traced_info *info = bpf_map_lookup_elem(&traced, &tgid);

	if (!info) {
		char comm[TASK_COMM_LEN] = {};
		struct traced_info fresh = { .flags = TRACED_MEMBER };

		if (!watch_comms)
			return 0;
		bpf_get_current_comm(comm, sizeof(comm));
		if (!bpf_map_lookup_elem(&comm_watch, comm))
			return 0;
		if (bpf_map_update_elem(&traced, &tgid, &fresh, BPF_ANY)) {
			count_loss(LOSS_TRACED_MAP_FULL);
			return 0;
		}
		info = bpf_map_lookup_elem(&traced, &tgid);
		if (!info)
			return 0;
	}
	if (!(info->flags & TRACED_MEMBER))
		return 0;
	if (info->write_fds)
		sweep_writes(tgid, info, false); /* close-on-exec fds are gone now */

	struct exec_event *ev = (struct exec_event *)scratch_event();
	if (!ev)
		return 0;
	__u8 *data = (__u8 *)ev;
	__u32 off = sizeof(*ev), len, trunc = 0;
	bool t = false, unreadable = false;

	fill_header(&ev->hdr, EVENT_EXEC);
	ev->old_pid = old_pid;
	ev->_pad = 0;

	/* filename (kernel string) */
	const char *filename = BPF_CORE_READ(bprm, filename);
	long n = bpf_probe_read_kernel_str(data + off, STR_READ_BYTES, filename);
	len = n > 0 ? (__u32)(n - 1) : 0;
	if (n == STR_READ_BYTES)
		trunc |= TRUNC_FILENAME;
	ev->filename_len_bytes = len;
	off += len;

	/* cwd */
	len = append_base(data, off, AT_FDCWD, &t);
	if (t)
		trunc |= TRUNC_CWD;
	if (len > PATH_CAP_BYTES)
		len = PATH_CAP_BYTES;
	ev->cwd_len_bytes = len;
	off += len;

	/* argv: the new image's arguments, already copied to its stack */
	struct mm_struct *mm = BPF_CORE_READ(p, mm);
	unsigned long arg_start = BPF_CORE_READ(mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(mm, arg_end);
	__u64 full = arg_end > arg_start ? arg_end - arg_start : 0;

	ev->argv_full_bytes = full > 0xffffffff ? 0xffffffff : (__u32)full;
	len = full > ARGV_CAP_BYTES ? ARGV_CAP_BYTES : (__u32)full;
	if (full > ARGV_CAP_BYTES)
		trunc |= TRUNC_ARGV;
	off &= EVENT_HALF_MASK;
	if (len > ARGV_CAP_BYTES)
		len = ARGV_CAP_BYTES;
	if (len && bpf_probe_read_user(data + off, len, (const void *)arg_start)) {
		trunc |= UNREADABLE_ARGV;
		len = 0;
	}
	ev->argv_len_bytes = len;
	ev->trunc_flags = trunc;
	off += len;
	submit(ev, off);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *p)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct traced_info *info = bpf_map_lookup_elem(&traced, &tgid);

	if (!info)
		return 0;
	/* do_exit() decrements signal->live before this tracepoint: 0 means the last thread */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	if (info->flags & TRACED_MEMBER) {
		if (info->write_fds)
			sweep_writes(tgid, info, true);

		struct exit_event *ev = (struct exit_event *)scratch_event();
		if (ev) {
			__u64 start = BPF_CORE_READ(p, group_leader, start_boottime);

			fill_header(&ev->hdr, EVENT_EXIT);
			ev->exit_code = BPF_CORE_READ(p, exit_code);
			ev->_pad = 0;
			ev->duration_ns = ev->hdr.ts_ns > start ? ev->hdr.ts_ns - start : 0;
			submit(ev, sizeof(*ev));
		}
	}
	bpf_map_delete_elem(&traced, &tgid);
	return 0;
}

/* ---- syscalls ---- */

static __always_inline void account_write(struct traced_info *info, __u32 tgid, int fd, long bytes,
					  struct file *file)
{
	struct write_key key = { .pid = tgid, .fd = fd };
	struct write_info *w = bpf_map_lookup_elem(&writes, &key);

	if (w) {
		if (w->file == (__u64)file) {
			__sync_fetch_and_add(&w->bytes, bytes);
			__sync_fetch_and_add(&w->writes, 1);
			return;
		}
		/* the fd was closed behind our back and reused: end the old summary */
		end_write(&key, info);
	}
	if ((BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT) != S_IFREG)
		return; /* pipes, sockets, terminals: not file changes */
	if (fd >= WRITE_SWEEP_MAX_FD) {
		count_loss(LOSS_WRITE_SWEEP_FD);
		return;
	}

	struct write_info fresh = {
		.file = (__u64)file,
		.bytes = bytes,
		.first_ts_ns = bpf_ktime_get_boot_ns(),
		.writes = 1,
	};
	if (bpf_map_update_elem(&writes, &key, &fresh, BPF_NOEXIST)) {
		count_loss(LOSS_WRITES_MAP_FULL);
		return;
	}
	__sync_fetch_and_add(&info->write_fds, 1);
	if ((__u32)fd + 1 > info->write_fd_max)
		info->write_fd_max = fd + 1;

	struct write_start_event *ev = (struct write_start_event *)scratch_event();
	if (!ev)
		return;
	bool t = false;
	__u32 len;

	fill_header(&ev->hdr, EVENT_WRITE_START);
	ev->fd = fd;
	ev->_pad[0] = ev->_pad[1] = ev->_pad[2] = 0;
	len = append_kernel_path((__u8 *)ev, sizeof(*ev), &file->f_path, &t);
	ev->path_len_bytes = len;
	ev->trunc_flags = t ? TRUNC_PATH : 0;
	submit(ev, sizeof(*ev) + len);
}

/*
 * The arguments of a file event. `file_event_out` is a global (not inlined) function taking them
 * by pointer, so the verifier checks its path reading and walking once, not once for each of
 * the dozen syscalls that make a file event: that was most of the program's load time.
 */
struct file_args {
	__u64 path;     /* user pointer */
	__u64 new_path; /* user pointer, 0 when the syscall has one path */
	__s64 ret;
	__s32 dirfd;
	__s32 new_dirfd;
	__u32 op;
	__u32 flags;
	__u32 mode;
	__u32 _pad;
};

__noinline int file_event_out(struct file_args *a)
{
	if (!a)
		return 0;
	const char *path = (const char *)a->path, *new_path = (const char *)a->new_path;
	int dirfd = a->dirfd, new_dirfd = a->new_dirfd;
	struct file_event *ev = (struct file_event *)scratch_event();
	if (!ev)
		return 0;
	__u8 *data = (__u8 *)ev;
	__u32 off = sizeof(*ev), len, trunc = 0;
	bool t = false, unreadable = false;

	fill_header(&ev->hdr, EVENT_FILE);
	ev->result = a->ret;
	ev->op = a->op;
	ev->flags = a->flags;
	ev->mode = a->mode;

	len = append_user_str(data, off, path, &t, &unreadable);
	if (t)
		trunc |= TRUNC_PATH;
	if (unreadable)
		trunc |= UNREADABLE_PATH;
	ev->path_len_bytes = len;
	off += len;

	t = false;
	len = 0;
	if (!unreadable && is_relative(path))
		len = append_base(data, off, dirfd, &t);
	if (t)
		trunc |= TRUNC_BASE;
	ev->base_len_bytes = len;
	off += len;

	len = 0;
	t = false;
	unreadable = false;
	if (new_path) {
		len = append_user_str(data, off, new_path, &t, &unreadable);
		if (t)
			trunc |= TRUNC_NEW_PATH;
		if (unreadable)
			trunc |= UNREADABLE_NEW_PATH;
	}
	ev->new_path_len_bytes = len;
	off += len;

	len = 0;
	t = false;
	if (new_path && !unreadable && is_relative(new_path))
		len = append_base(data, off, new_dirfd, &t);
	if (t)
		trunc |= TRUNC_NEW_BASE;
	ev->new_base_len_bytes = len;
	off += len;

	ev->trunc_flags = trunc;
	submit(ev, off);
	return 0;
}

static __always_inline void emit_file(__u32 op, int dirfd, const char *path, int new_dirfd,
				      const char *new_path, __u32 flags, __u32 mode, long ret)
{
	struct file_args a = {
		.path = (__u64)path,
		.new_path = (__u64)new_path,
		.ret = ret,
		.dirfd = dirfd,
		.new_dirfd = new_dirfd,
		.op = op,
		.flags = flags,
		.mode = mode,
	};
	file_event_out(&a);
}

static __always_inline void emit_connect(int fd, const void *addr, __u32 addrlen, long ret)
{
	__u16 family = 0;

	bpf_probe_read_user(&family, sizeof(family), addr);
	if (family != AF_INET && family != AF_INET6 && family != AF_UNIX)
		return;

	struct connect_event *ev = (struct connect_event *)scratch_event();
	if (!ev)
		return;
	fill_header(&ev->hdr, EVENT_CONNECT);
	ev->result = ret;
	ev->fd = fd;
	ev->sockaddr_len_bytes = addrlen;
	__builtin_memset(ev->sockaddr, 0, sizeof(ev->sockaddr));
	/* constant sizes per family keep the copy inside the caller's sockaddr */
	if (family == AF_INET)
		bpf_probe_read_user(ev->sockaddr, 16, addr); /* sizeof(struct sockaddr_in) */
	else if (family == AF_INET6)
		bpf_probe_read_user(ev->sockaddr, 28, addr); /* sizeof(struct sockaddr_in6) */
	else {
		*(__u16 *)ev->sockaddr = family;
		/* sun_path: NUL-terminated, or abstract (leading NUL, then addrlen bounds it) */
		bpf_probe_read_user(ev->sockaddr + 2, 108, (const __u8 *)addr + 2);
	}
	submit(ev, sizeof(*ev));
}

struct close_range_ctx {
	__u32 tgid;
	__u32 first;
	struct traced_info *info;
};

static long close_range_one(__u64 i, void *data)
{
	struct close_range_ctx *ctx = data;
	struct write_key key = { .pid = ctx->tgid, .fd = (__s32)(ctx->first + i) };

	end_write(&key, ctx->info);
	return ctx->info->write_fds == 0;
}

/* An fd went away (close, close_range) or now names another file (dup2/dup3 onto it): end its
 * write summary. The summary holds its counts and its path went out at the first write, so
 * nothing about the old file is needed any more. */
static __always_inline void fd_replaced(long id, __u32 tgid, struct traced_info *info,
					unsigned long a0, unsigned long a1, unsigned long a2)
{
	if (!info->write_fds)
		return;
	if (id == SYS_close_range) {
		/* long close_range(unsigned int fd, unsigned int max_fd, unsigned int flags) */
		if (a2 & CLOSE_RANGE_CLOEXEC)
			return; /* only marks them close-on-exec: the exec sweep ends them */
		struct close_range_ctx ctx = { .tgid = tgid, .first = (__u32)a0, .info = info };
		__u32 last = (__u32)a1 < info->write_fd_max ? (__u32)a1 + 1 : info->write_fd_max;

		if (last > ctx.first)
			bpf_loop(last - ctx.first > WRITE_SWEEP_MAX_FD ? WRITE_SWEEP_MAX_FD
								   : last - ctx.first,
				 close_range_one, &ctx, 0);
		return;
	}
	/* long close(unsigned int fd); long dup2(unsigned int oldfd, unsigned int newfd);
	 * long dup3(unsigned int oldfd, unsigned int newfd, int flags) */
	if (id != SYS_close && a0 == a1)
		return;
	struct write_key key = { .pid = tgid, .fd = id == SYS_close ? (int)a0 : (int)a1 };
	end_write(&key, info);
}

/* ---- TCP sockets ---- */

/* What a connection carries, from the first bytes it moved and their direction. */
static __always_inline __u32 sock_classify(const __u8 *h, __u32 len, __u32 dir)
{
	/* a TLS record header: content type 20..23, version 3.x */
	if (len >= 3 && h[0] >= 0x14 && h[0] <= 0x17 && h[1] == 0x03 && h[2] <= 0x04)
		return SOCK_TLS;
	if (len < 4)
		return SOCK_OTHER;
	/* an HTTP proxy tunnel: TLS follows the CONNECT, so it is judged as TLS */
	if (h[0] == 'C' && h[1] == 'O' && h[2] == 'N' && h[3] == 'N' && dir == TLS_OUT)
		return SOCK_TLS;
	bool request = (h[0] == 'G' && h[1] == 'E' && h[2] == 'T' && h[3] == ' ') ||
		       (h[0] == 'P' && h[1] == 'O' && h[2] == 'S' && h[3] == 'T') ||
		       (h[0] == 'P' && h[1] == 'U' && h[2] == 'T' && h[3] == ' ') ||
		       (h[0] == 'H' && h[1] == 'E' && h[2] == 'A' && h[3] == 'D') ||
		       (h[0] == 'D' && h[1] == 'E' && h[2] == 'L' && h[3] == 'E') ||
		       (h[0] == 'P' && h[1] == 'A' && h[2] == 'T' && h[3] == 'C') ||
		       (h[0] == 'O' && h[1] == 'P' && h[2] == 'T' && h[3] == 'I') ||
		       (h[0] == 'P' && h[1] == 'R' && h[2] == 'I' && h[3] == ' '); /* HTTP/2 preface */
	if (!request)
		return SOCK_OTHER;
	return dir == TLS_OUT ? SOCK_HTTP : SOCK_HTTP_SERVER;
}

static __always_inline void sock_emit_info(struct sock *sk, int fd, __u32 class, __u32 dir, __u16 family)
{
	struct sock_info_event *ev = ring_reserve(sizeof(*ev));

	if (!ev) {
		count_ringbuf_lost(EVENT_SOCK_INFO);
		return;
	}
	fill_header(&ev->hdr, EVENT_SOCK_INFO);
	ev->hdr.size_bytes = sizeof(*ev);
	ev->sk = (__u64)sk;
	ev->fd = fd;
	ev->class = class;
	ev->dir = dir;
	ev->family = family;
	ev->port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	ev->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	ev->_pad[0] = ev->_pad[1] = ev->_pad[2] = 0;
	__builtin_memset(ev->addr, 0, sizeof(ev->addr));
	if (family == AF_INET)
		BPF_CORE_READ_INTO((__u32 *)ev->addr, sk, __sk_common.skc_daddr);
	else
		BPF_CORE_READ_INTO((struct in6_addr *)ev->addr, sk, __sk_common.skc_v6_daddr);
	bpf_ringbuf_submit(ev, wakeup_flags());
}

/* The socket behind (tgid, fd) is gone (closed, or the fd now names something else). */
static __always_inline void sock_end(struct sock_key *key, struct sock_conn *c)
{
	struct sock_close_event *ev = ring_reserve(sizeof(*ev));

	if (ev) {
		fill_header(&ev->hdr, EVENT_SOCK_CLOSE);
		ev->hdr.size_bytes = sizeof(*ev);
		ev->sk = c->sk;
		ev->bytes_out = c->bytes[TLS_OUT];
		ev->bytes_in = c->bytes[TLS_IN];
		ev->fd = key->fd;
		ev->class = c->class;
		ev->flags = c->flags;
		ev->_pad = 0;
		bpf_ringbuf_submit(ev, wakeup_flags());
	} else {
		count_ringbuf_lost(EVENT_SOCK_CLOSE);
	}
	bpf_map_delete_elem(&sock_conns, key);
}

static __always_inline void sock_closed(__u32 tgid, int fd)
{
	struct sock_key key = { .pid = tgid, .fd = fd };
	struct sock_conn *c = bpf_map_lookup_elem(&sock_conns, &key);

	if (c)
		sock_end(&key, c);
}

struct iov_ctx {
	struct chunk_ctx c;
	__u64 iov;   /* user address of the struct iovec array */
	__u32 count; /* its entries, capped at SOCK_IOV_MAX */
	__u32 left;  /* bytes of the call not yet emitted */
};

static long emit_iov(__u64 i, void *data)
{
	struct iov_ctx *x = data;
	struct iovec v = {};

	if (i >= x->count || x->left == 0)
		return 1;
	if (bpf_probe_read_user(&v, sizeof(v), (const void *)(x->iov + i * sizeof(v)))) {
		count_loss(LOSS_SOCK_UNREADABLE);
		return 1;
	}
	__u32 n = v.iov_len < x->left ? (__u32)v.iov_len : x->left;
	if (n == 0)
		return 0;
	x->c.buf = (__u64)v.iov_base;
	x->c.n = n;
	emit_stream(&x->c);
	x->c.base += n;
	x->c.first = 0;
	x->left -= n;
	return 0;
}

/*
 * `moved` bytes went through TCP socket `fd` of this process, from `buf` or an iovec array
 * `iov` of `iovcnt` entries. Classify a new connection from its first bytes (EVENT_SOCK_INFO),
 * count the bytes, and stream them when the connection is plaintext HTTP from this side.
 */
struct sock_args {
	__u64 file; /* struct file * */
	__u64 buf;
	__u64 iov;
	__u64 iovcnt;
	__s64 moved;
	__u32 tgid;
	__s32 fd;
	__u32 dir;
	__u32 _pad;
};

/* Global, so verified once for all the socket syscalls (see `file_event_out`). */
__noinline int sock_data_out(struct sock_args *a)
{
	if (!a)
		return 0;
	__u32 tgid = a->tgid, dir = a->dir;
	int fd = a->fd;
	__u64 buf = a->buf, iov = a->iov, iovcnt = a->iovcnt;
	long moved = a->moved;
	struct file *file = (struct file *)a->file;
	struct socket *sock = BPF_CORE_READ(file, private_data);
	struct sock *sk = BPF_CORE_READ(sock, sk);

	if (!sk)
		return 0;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if ((family != AF_INET && family != AF_INET6) || BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;

	struct sock_key key = { .pid = tgid, .fd = fd };
	struct sock_conn *c = bpf_map_lookup_elem(&sock_conns, &key);

	if (c && c->sk != (__u64)sk) {
		sock_end(&key, c); /* the fd was closed behind our back and reused */
		c = NULL;
	}
	if (!c) {
		__u8 head[8] = {};
		__u64 first = buf, first_len = moved;

		if (iov) {
			struct iovec v = {};
			bpf_probe_read_user(&v, sizeof(v), (const void *)iov);
			first = (__u64)v.iov_base;
			first_len = v.iov_len < (__u64)moved ? v.iov_len : (__u64)moved;
		}
		if (first_len > sizeof(head))
			first_len = sizeof(head);
		if (bpf_probe_read_user(head, sizeof(head), (const void *)first))
			first_len = 0;

		struct sock_conn fresh = { .sk = (__u64)sk, .class = sock_classify(head, first_len, dir) };
		if (bpf_map_update_elem(&sock_conns, &key, &fresh, BPF_ANY)) {
			count_loss(LOSS_SOCK_CONNS_FULL);
			return 0;
		}
		c = bpf_map_lookup_elem(&sock_conns, &key);
		if (!c)
			return 0;
		sock_emit_info(sk, fd, fresh.class, dir, family);
	}
	dir &= 1;
	__sync_fetch_and_add(&c->bytes[dir], moved);
	if (c->class == SOCK_TLS && !(c->flags & SOCK_TLS_HOOKED)) {
		struct tls_call_key ck = { .tid = (__u32)bpf_get_current_pid_tgid(), .dir = dir };
		if (bpf_map_lookup_elem(&tls_calls, &ck))
			c->flags |= SOCK_TLS_HOOKED;
	}
	if (c->class != SOCK_HTTP)
		return 0;
	if (moved > TLS_CALL_CAP_BYTES) {
		count_loss(LOSS_SOCK_CUT);
		moved = TLS_CALL_CAP_BYTES;
	}

	struct iov_ctx x = {
		.c = {
			.conn = (__u64)sk,
			.buf = buf,
			.base = __sync_fetch_and_add(&c->next[dir], moved),
			.n = (__u32)moved,
			.dir = dir,
			.kind = EVENT_SOCK_DATA,
			.first = TLS_CHUNK_CALL_START,
			.unreadable = LOSS_SOCK_UNREADABLE,
		},
		.iov = iov,
		.count = iovcnt > SOCK_IOV_MAX ? SOCK_IOV_MAX : (__u32)iovcnt,
		.left = (__u32)moved,
	};
	if (!iov) {
		emit_stream(&x.c);
		return 0;
	}
	bpf_loop(SOCK_IOV_MAX, emit_iov, &x, 0);
	if (x.left)
		count_loss(LOSS_SOCK_CUT);
	return 0;
}

static __always_inline void sock_data(__u32 tgid, int fd, struct file *file, __u32 dir, __u64 buf,
				      __u64 iov, __u64 iovcnt, long moved)
{
	struct sock_args a = {
		.file = (__u64)file,
		.buf = buf,
		.iov = iov,
		.iovcnt = iovcnt,
		.moved = moved,
		.tgid = tgid,
		.fd = fd,
		.dir = dir,
	};
	sock_data_out(&a);
}

/* A read/write-family syscall moved `ret` bytes through `fd`: a file write is summed, socket data
 * goes to `sock_data`. */
static __always_inline void data_syscall(struct traced_info *info, __u32 tgid, long id, unsigned long a0,
					 unsigned long a1, unsigned long a2, long ret)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct file *file = fd_file(task, (int)a0);

	if (!file)
		return;
	__u32 mode = BPF_CORE_READ(file, f_inode, i_mode) & S_IFMT;

	if (mode == S_IFSOCK && !(info->flags & TRACED_NET))
		return;
	if (mode != S_IFSOCK) {
		if (id == SYS_write || id == SYS_writev || id == SYS_pwrite64 || id == SYS_pwritev ||
		    id == SYS_pwritev2)
			account_write(info, tgid, (int)a0, ret, file);
		return;
	}
	switch (id) {
	case SYS_write:
	case SYS_sendto:
		/* long write(int fd, const char *buf, size_t count); sendto(fd, buf, len, ...) */
		sock_data(tgid, (int)a0, file, TLS_OUT, a1, 0, 0, ret);
		break;
	case SYS_read:
	case SYS_recvfrom:
		sock_data(tgid, (int)a0, file, TLS_IN, a1, 0, 0, ret);
		break;
	case SYS_writev:
		/* long writev(unsigned long fd, const struct iovec *vec, unsigned long vlen) */
		sock_data(tgid, (int)a0, file, TLS_OUT, 0, a1, a2, ret);
		break;
	case SYS_readv:
		sock_data(tgid, (int)a0, file, TLS_IN, 0, a1, a2, ret);
		break;
	case SYS_sendmsg:
	case SYS_recvmsg: {
		/* long sendmsg(int fd, struct user_msghdr *msg, unsigned flags) */
		struct user_msghdr msg = {};
		if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)a1)) {
			count_loss(LOSS_SOCK_UNREADABLE);
			break;
		}
		sock_data(tgid, (int)a0, file, id == SYS_sendmsg ? TLS_OUT : TLS_IN, 0, (__u64)msg.msg_iov,
			  msg.msg_iovlen, ret);
		break;
	}
	}
}

/*
 * A file mapped with PROT_EXEC: a shared object being loaded (dlopen, or ld.so at start). The
 * first time a file is seen its path goes out, so the collector can look for TLS code in it
 * (a libssl outside the system directories, an addon linking OpenSSL statically).
 */
static __always_inline void exec_mapped(int fd)
{
	struct file *file = fd_file((struct task_struct *)bpf_get_current_task(), fd);

	if (!file)
		return;
	struct exec_map_key key = {
		.ino = BPF_CORE_READ(file, f_inode, i_ino),
		.dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev),
	};
	__u8 one = 1;

	if (bpf_map_update_elem(&exec_maps, &key, &one, BPF_NOEXIST))
		return; /* reported before */

	struct exec_map_event *ev = (struct exec_map_event *)scratch_event();
	if (!ev)
		return;
	bool t = false;
	__u32 len;

	fill_header(&ev->hdr, EVENT_EXEC_MAP);
	ev->_pad = 0;
	len = append_kernel_path((__u8 *)ev, sizeof(*ev), &file->f_path, &t);
	ev->path_len_bytes = len;
	ev->trunc_flags = t ? TRUNC_PATH : 0;
	submit(ev, sizeof(*ev) + len);
}

static __always_inline bool interesting_exit(long id)
{
	switch (id) {
	case SYS_close:
	case SYS_dup2:
	case SYS_dup3:
	case SYS_close_range:
	case SYS_write:
	case SYS_pwrite64:
	case SYS_writev:
	case SYS_pwritev:
	case SYS_pwritev2:
	case SYS_read:
	case SYS_readv:
	case SYS_sendto:
	case SYS_recvfrom:
	case SYS_sendmsg:
	case SYS_recvmsg:
	case SYS_open:
	case SYS_creat:
	case SYS_openat:
	case SYS_openat2:
	case SYS_unlink:
	case SYS_unlinkat:
	case SYS_rmdir:
	case SYS_mkdir:
	case SYS_mkdirat:
	case SYS_rename:
	case SYS_renameat:
	case SYS_renameat2:
	case SYS_connect:
	case SYS_accept:
	case SYS_accept4:
	case SYS_mmap:
		return true;
	default:
		return false;
	}
}

/* long sys_*(...) return: the arguments are still in pt_regs (di, si, dx, r10, r8, r9). */
SEC("tp_btf/sys_exit")
int BPF_PROG(handle_sys_exit, struct pt_regs *regs, long ret)
{
	long id = regs->orig_ax; /* a trusted tp_btf argument: a plain load, no helper call */

	if (!interesting_exit(id))
		return 0;
	if (ret <= -ERESTARTSYS && ret >= -ERESTART_RESTARTBLOCK)
		return 0;

	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct traced_info *info = bpf_map_lookup_elem(&traced, &tgid);
	if (!info || !(info->flags & TRACED_MEMBER))
		return 0;

	unsigned long a0 = regs->di;
	unsigned long a1 = regs->si;
	unsigned long a2 = regs->dx;
	unsigned long a3 = regs->r10;
	unsigned long a4 = regs->r8;

	switch (id) {
	case SYS_close:
	case SYS_close_range:
	case SYS_dup2:
	case SYS_dup3:
		/* one call site each: every copy of an inlined function is verified again */
		if ((id == SYS_dup2 || id == SYS_dup3) && (ret < 0 || a0 == a1))
			break;
		if (id != SYS_close_range)
			sock_closed(tgid, id == SYS_close ? (int)a0 : (int)a1);
		fd_replaced(id, tgid, info, a0, a1, a2);
		break;
	case SYS_read:
	case SYS_readv:
	case SYS_sendto:
	case SYS_recvfrom:
	case SYS_sendmsg:
	case SYS_recvmsg:
		if (!(info->flags & TRACED_NET))
			break; /* no socket of its own: reads are files, pipes, terminals */
		/* fall through */
	case SYS_write:
	case SYS_writev:
	case SYS_pwrite64:
	case SYS_pwritev:
	case SYS_pwritev2:
		if (ret > 0)
			data_syscall(info, tgid, id, a0, a1, a2, ret);
		break;
	case SYS_accept:
	case SYS_accept4:
		if (ret >= 0 && !(info->flags & TRACED_NET))
			info->flags |= TRACED_NET; /* only ever gains this bit: a race is harmless */
		break;
	case SYS_open:
		/* long open(const char *filename, int flags, umode_t mode) */
		emit_file(FILE_OP_OPEN, AT_FDCWD, (const char *)a0, 0, NULL, a1, a2, ret);
		break;
	case SYS_creat:
		/* long creat(const char *pathname, umode_t mode) */
		emit_file(FILE_OP_OPEN, AT_FDCWD, (const char *)a0, 0, NULL,
			  O_CREAT | O_WRONLY | O_TRUNC, a1, ret);
		break;
	case SYS_openat:
		/* long openat(int dfd, const char *filename, int flags, umode_t mode) */
		emit_file(FILE_OP_OPEN, (int)a0, (const char *)a1, 0, NULL, a2, a3, ret);
		break;
	case SYS_openat2: {
		/* long openat2(int dfd, const char *filename, struct open_how *how, size_t usize) */
		__u64 how[2] = {};
		bpf_probe_read_user(how, sizeof(how), (const void *)a2);
		emit_file(FILE_OP_OPEN, (int)a0, (const char *)a1, 0, NULL, (__u32)how[0],
			  (__u32)how[1], ret);
		break;
	}
	case SYS_unlink:
		/* long unlink(const char *pathname) */
		emit_file(FILE_OP_UNLINK, AT_FDCWD, (const char *)a0, 0, NULL, 0, 0, ret);
		break;
	case SYS_unlinkat:
		/* long unlinkat(int dfd, const char *pathname, int flag) */
		emit_file((a2 & AT_REMOVEDIR) ? FILE_OP_RMDIR : FILE_OP_UNLINK, (int)a0,
			  (const char *)a1, 0, NULL, a2, 0, ret);
		break;
	case SYS_rmdir:
		/* long rmdir(const char *pathname) */
		emit_file(FILE_OP_RMDIR, AT_FDCWD, (const char *)a0, 0, NULL, 0, 0, ret);
		break;
	case SYS_mkdir:
		/* long mkdir(const char *pathname, umode_t mode) */
		emit_file(FILE_OP_MKDIR, AT_FDCWD, (const char *)a0, 0, NULL, 0, a1, ret);
		break;
	case SYS_mkdirat:
		/* long mkdirat(int dfd, const char *pathname, umode_t mode) */
		emit_file(FILE_OP_MKDIR, (int)a0, (const char *)a1, 0, NULL, 0, a2, ret);
		break;
	case SYS_rename:
		/* long rename(const char *oldname, const char *newname) */
		emit_file(FILE_OP_RENAME, AT_FDCWD, (const char *)a0, AT_FDCWD, (const char *)a1, 0,
			  0, ret);
		break;
	case SYS_renameat:
		/* long renameat(int olddfd, const char *oldname, int newdfd, const char *newname) */
		emit_file(FILE_OP_RENAME, (int)a0, (const char *)a1, (int)a2, (const char *)a3, 0, 0,
			  ret);
		break;
	case SYS_renameat2:
		/* long renameat2(int olddfd, const char *oldname, int newdfd, const char *newname,
		 *                unsigned int flags) */
		emit_file(FILE_OP_RENAME, (int)a0, (const char *)a1, (int)a2, (const char *)a3, a4,
			  0, ret);
		break;
	case SYS_connect:
		/* long connect(int fd, struct sockaddr *uservaddr, int addrlen) */
		if (!(info->flags & TRACED_NET))
			info->flags |= TRACED_NET; /* only ever gains this bit: a race is harmless */
		emit_connect((int)a0, (const void *)a1, (__u32)a2, ret);
		break;
	case SYS_mmap:
		/* long mmap(addr, len, unsigned long prot, flags, unsigned long fd, off) */
		if ((a2 & PROT_EXEC) && (int)a4 >= 0 && (ret >= 0 || ret < -4095))
			exec_mapped((int)a4);
		break;
	}
	return 0;
}

