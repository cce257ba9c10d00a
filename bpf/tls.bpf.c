// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tls.bpf.c: the TLS boundary of a traced process tree, the plaintext of SSL_write/SSL_read.
 *
 * Probes (uprobes, attached by the collector to each library or executable that exports the
 * OpenSSL API: libssl.so.*, node, ...; or that links BoringSSL statically without symbols,
 * found by collector/src/boring.rs: Bun; filtered here by the shared `traced` map):
 *   SSL_write, SSL_write_ex, SSL_read, SSL_read_ex   entry saves (SSL*, buffer), return emits
 *                                                     the bytes actually moved, in chunks
 *   SSL_free (SSL_shutdown in stripped BoringSSL)     the connection is over
 * (on Linux 6.6+ the same logic runs as two uprobe_multi programs, see the end of the file)
 *
 * Go's crypto/tls (found by collector/src/gotls.rs in the function table every Go binary keeps,
 * stripped or not; go1.17+ on x86-64, the register ABI):
 *   (*Conn).Write, (*Conn).Read   entry saves (*Conn, b) by goroutine; each RET instruction of
 *                                 the function emits the bytes moved. No uretprobe: it rewrites
 *                                 the return address on the stack, and Go copies a goroutine's
 *                                 stack elsewhere to grow it, taking the rewritten address along
 *                                 (the program then crashes or the return is missed)
 *   (*Conn).Close                 the connection is over
 * One program, `go_tls_probe`, takes all of them, the function named by the attach cookie (on
 * Linux 6.6+ `ssl_enter_multi` does, one link per file).
 *
 * Nothing is cut silently: a call of any size up to TLS_CALL_CAP_BYTES arrives complete as
 * ordered chunks; what cannot be tracked or emitted is counted in `losses`/`ringbuf_lost`.
 * Records are reserved straight in the ring buffer in size classes (no per-CPU scratch: a uprobe
 * program can be preempted, and a shared buffer could then be overwritten under it).
 *
 * Maps: shared with process.bpf.c (`events`, `traced`, `losses`, `ringbuf_lost`, and
 * `tls_calls`, the in-flight calls by thread and direction, which process.bpf.c reads to tell
 * a TLS socket whose plaintext is captured; see common.bpf.h); own: `tls_offsets` (LRU, next
 * stream offset per (pid, SSL*, direction)), `go_calls` (LRU, in-flight Go calls by goroutine,
 * return address and direction; a Go call also marks `tls_calls` for its thread while it runs,
 * so process.bpf.c knows its socket). Oldest kernel: 5.17 (bpf_loop; attach cookies: 5.15).
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "tls.h"
#include "common.bpf.h"
#include "stream.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TLS_OFFSETS_MAX_ENTRIES);
	__type(key, struct tls_stream_key);
	__type(value, __u64);
} tls_offsets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, GO_CALLS_MAX_ENTRIES);
	__type(key, struct go_call_key);
	__type(value, struct go_call);
} go_calls SEC(".maps");

/* Pin the ABI types into BTF so that libbpf-cargo generates them for the collector. */
struct tls_data_event _tls_data_event = {};
struct tls_close_event _tls_close_event = {};
struct tls_call _tls_call = {};
struct tls_call_key _tls_call_key = {};
struct tls_stream_key _tls_stream_key = {};

static __always_inline bool traced_member(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct traced_info *info = bpf_map_lookup_elem(&traced, &tgid);

	return info && (info->flags & TRACED_MEMBER);
}

static __always_inline __u32 direction(__u32 fn)
{
	return (fn == TLS_FN_WRITE || fn == TLS_FN_WRITE_EX || fn == TLS_FN_GO_WRITE || fn == TLS_FN_GO_WRITE_RET)
		       ? TLS_OUT
		       : TLS_IN;
}

static __always_inline int enter(__u32 fn, void *ssl, const void *buf, void *len_out)
{
	if (!traced_member())
		return 0;

	struct tls_call_key key = { .tid = (__u32)bpf_get_current_pid_tgid(), .dir = direction(fn) };
	struct tls_call call = {
		.ssl = (__u64)ssl,
		.buf = (__u64)buf,
		.len_out = (__u64)len_out,
		.fn = fn,
	};
	/*
	 * NOEXIST: a call of the same direction inside another is a wrapper (LibreSSL's
	 * SSL_write_ex calls SSL_write), and the outer call reports the bytes. A call of the other
	 * direction inside one (node writes from within SSL_read's callbacks) has its own key.
	 */
	long err = bpf_map_update_elem(&tls_calls, &key, &call, BPF_NOEXIST);
	if (err && err != -17 /* EEXIST */)
		count_loss(LOSS_TLS_CALLS_FULL);
	return 0;
}

/* Emit the `moved` bytes of a finished call on `conn` from `buf` at the stream's next offset. */
static __always_inline int emit_call(__u64 conn, __u64 buf, __u32 dir, __u64 moved)
{
	struct chunk_ctx c = {
		.conn = conn,
		.buf = buf,
		.dir = dir,
		.kind = EVENT_TLS_DATA,
		.first = TLS_CHUNK_CALL_START,
		.unreadable = LOSS_TLS_UNREADABLE,
	};

	if (moved == 0)
		return 0;
	if (moved > TLS_CALL_CAP_BYTES) {
		count_loss(LOSS_TLS_TRUNCATED);
		moved = TLS_CALL_CAP_BYTES;
	}
	c.n = (__u32)moved;

	struct tls_stream_key key = { .ssl = c.conn, .pid = bpf_get_current_pid_tgid() >> 32, .dir = c.dir };
	__u64 zero = 0, *next = bpf_map_lookup_elem(&tls_offsets, &key);

	if (!next) {
		bpf_map_update_elem(&tls_offsets, &key, &zero, BPF_NOEXIST);
		next = bpf_map_lookup_elem(&tls_offsets, &key);
		if (!next) {
			count_loss(LOSS_TLS_CALLS_FULL);
			return 0;
		}
	}
	c.base = __sync_fetch_and_add(next, moved);
	emit_stream(&c);
	return 0;
}

static __always_inline int leave(__u32 fn, long ret)
{
	struct tls_call_key ckey = { .tid = (__u32)bpf_get_current_pid_tgid(), .dir = direction(fn) };
	struct tls_call *call = bpf_map_lookup_elem(&tls_calls, &ckey);

	if (!call || call->fn != fn)
		return 0;

	__u64 conn = call->ssl, buf = call->buf, moved = 0;

	if (fn == TLS_FN_WRITE_EX || fn == TLS_FN_READ_EX) {
		/* int SSL_*_ex(...): 1 on success, the count is in *written / *readbytes */
		if (ret == 1)
			bpf_probe_read_user(&moved, sizeof(moved), (const void *)call->len_out);
	} else if (ret > 0) {
		moved = ret;
	}
	bpf_map_delete_elem(&tls_calls, &ckey);
	return emit_call(conn, buf, ckey.dir, moved);
}

/* int SSL_write(SSL *ssl, const void *buf, int num) */
SEC("uprobe")
int BPF_UPROBE(ssl_write_enter, void *ssl, const void *buf, int num)
{
	return enter(TLS_FN_WRITE, ssl, buf, NULL);
}

SEC("uretprobe")
int BPF_URETPROBE(ssl_write_exit, int ret)
{
	return leave(TLS_FN_WRITE, ret);
}

/* int SSL_read(SSL *ssl, void *buf, int num) */
SEC("uprobe")
int BPF_UPROBE(ssl_read_enter, void *ssl, void *buf, int num)
{
	return enter(TLS_FN_READ, ssl, buf, NULL);
}

SEC("uretprobe")
int BPF_URETPROBE(ssl_read_exit, int ret)
{
	return leave(TLS_FN_READ, ret);
}

/* int SSL_write_ex(SSL *s, const void *buf, size_t num, size_t *written) */
SEC("uprobe")
int BPF_UPROBE(ssl_write_ex_enter, void *ssl, const void *buf, size_t num, size_t *written)
{
	return enter(TLS_FN_WRITE_EX, ssl, buf, written);
}

SEC("uretprobe")
int BPF_URETPROBE(ssl_write_ex_exit, int ret)
{
	return leave(TLS_FN_WRITE_EX, ret);
}

/* int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes) */
SEC("uprobe")
int BPF_UPROBE(ssl_read_ex_enter, void *ssl, void *buf, size_t num, size_t *readbytes)
{
	return enter(TLS_FN_READ_EX, ssl, buf, readbytes);
}

SEC("uretprobe")
int BPF_URETPROBE(ssl_read_ex_exit, int ret)
{
	return leave(TLS_FN_READ_EX, ret);
}

static __always_inline int on_free(void *ssl)
{
	if (!traced_member())
		return 0;

	struct tls_stream_key key = { .ssl = (__u64)ssl, .pid = bpf_get_current_pid_tgid() >> 32 };
	bool known = false;

	for (__u32 dir = TLS_OUT; dir <= TLS_IN; dir++) {
		key.dir = dir;
		if (bpf_map_lookup_elem(&tls_offsets, &key)) {
			known = true;
			bpf_map_delete_elem(&tls_offsets, &key);
		}
	}
	if (!known)
		return 0; /* no plaintext ever moved: nothing to close */

	struct tls_close_event *ev = ring_reserve(sizeof(*ev));
	if (!ev) {
		count_ringbuf_lost(EVENT_TLS_CLOSE);
		return 0;
	}
	fill_header(&ev->hdr, EVENT_TLS_CLOSE);
	ev->hdr.size_bytes = sizeof(*ev);
	ev->ssl = (__u64)ssl;
	bpf_ringbuf_submit(ev, wakeup_flags());
	return 0;
}

/* void SSL_free(SSL *ssl) */
SEC("uprobe")
int BPF_UPROBE(ssl_free_enter, void *ssl)
{
	return on_free(ssl);
}

/*
 * Go crypto/tls. ABIInternal on amd64 (go1.17+): arguments and results in RAX, RBX, RCX, RDI,
 * ...; the running goroutine's `g` in R14, at every instruction of Go code outside the runtime's
 * own assembly. A method's receiver is its first argument.
 */
#if defined(__TARGET_ARCH_x86)
#define GO_ARG1(x) ((x)->ax)
#define GO_ARG2(x) ((x)->bx)
#define GO_RET1(x) ((x)->ax)
#define GO_G(x) ((x)->r14)
#define GO_SP(x) ((x)->sp)
#define GO_SUPPORTED 1
#else
/* the collector finds Go functions in x86-64 binaries only: nothing is attached here */
#define GO_SUPPORTED 0
#endif

static __always_inline bool go_fn(__u32 fn)
{
	return fn >= TLS_FN_GO_WRITE && fn <= TLS_FN_GO_CLOSE;
}

#if GO_SUPPORTED
/* The key of the call that the current instruction (an entry or a RET) belongs to. */
static __always_inline bool go_key(struct pt_regs *ctx, __u32 dir, struct go_call_key *key)
{
	key->g = GO_G(ctx);
	key->pid = bpf_get_current_pid_tgid() >> 32;
	key->dir = dir;
	return bpf_probe_read_user(&key->ret_addr, sizeof(key->ret_addr), (const void *)GO_SP(ctx)) == 0;
}

/*
 * func (c *Conn) Write(b []byte) (int, error)   c: RAX, b: RBX (data), RCX (len), RDI (cap)
 * func (c *Conn) Read(b []byte) (int, error)    the same
 * An entry runs twice when the stack grows (morestack calls the function again from its first
 * instruction, with the same arguments and return address): the second overwrites the first.
 */
static __always_inline int go_enter(struct pt_regs *ctx, __u32 fn)
{
	if (!traced_member())
		return 0;

	__u32 dir = direction(fn), tid = (__u32)bpf_get_current_pid_tgid();
	struct go_call_key key = {};
	struct go_call call = { .conn = GO_ARG1(ctx), .buf = GO_ARG2(ctx), .tid = tid, .fn = fn };

	if (!go_key(ctx, dir, &key))
		return 0;
	if (bpf_map_update_elem(&go_calls, &key, &call, BPF_ANY)) {
		count_loss(LOSS_TLS_CALLS_FULL);
		return 0;
	}
	/* a socket this thread writes or reads from now on carries TLS whose plaintext is seen */
	struct tls_call_key ck = { .tid = tid, .dir = dir };
	struct tls_call *other = bpf_map_lookup_elem(&tls_calls, &ck);

	if (!other || go_fn(other->fn)) {
		struct tls_call mark = { .ssl = call.conn, .buf = call.buf, .fn = fn };
		bpf_map_update_elem(&tls_calls, &ck, &mark, BPF_ANY);
	}
	return 0;
}

/* At a RET of Write or Read: RAX is n, the bytes written from b, or read into it. */
static __always_inline int go_return(struct pt_regs *ctx, __u32 fn)
{
	__u32 dir = direction(fn);
	struct go_call_key key = {};

	if (!go_key(ctx, dir, &key))
		return 0;
	struct go_call *call = bpf_map_lookup_elem(&go_calls, &key);
	if (!call)
		return 0;
	__u64 conn = call->conn, buf = call->buf;
	/* the thread it entered on, which need not be this one: the goroutine may have moved */
	struct tls_call_key ck = { .tid = call->tid, .dir = dir };

	bpf_map_delete_elem(&go_calls, &key);
	struct tls_call *mark = bpf_map_lookup_elem(&tls_calls, &ck);
	if (mark && go_fn(mark->fn) && mark->ssl == conn)
		bpf_map_delete_elem(&tls_calls, &ck);

	long n = (long)GO_RET1(ctx);
	return n > 0 ? emit_call(conn, buf, dir, (__u64)n) : 0;
}

static __always_inline int go_probe(struct pt_regs *ctx, __u32 fn)
{
	switch (fn) {
	case TLS_FN_GO_WRITE:
	case TLS_FN_GO_READ:
		return go_enter(ctx, fn);
	case TLS_FN_GO_WRITE_RET:
	case TLS_FN_GO_READ_RET:
		return go_return(ctx, fn);
	case TLS_FN_GO_CLOSE:
		/* func (c *Conn) Close() error */
		return on_free((void *)GO_ARG1(ctx));
	}
	return 0;
}
#else
static __always_inline int go_probe(struct pt_regs *ctx, __u32 fn)
{
	return 0;
}
#endif

/* Every Go probe (entries, RET instructions, Close), the function named by the attach cookie. */
SEC("uprobe")
int go_tls_probe(struct pt_regs *ctx)
{
	return go_probe(ctx, (__u32)bpf_get_attach_cookie(ctx));
}

/*
 * The same, as two uprobe_multi programs (Linux 6.6+) attached to every function of a file at
 * once, the function named by the attach cookie (enum tls_fn). Two links per file instead of
 * nine: detaching a uprobe costs an RCU grace period per link, so this is what keeps the end
 * of `record` quick.
 */
SEC("uprobe.multi")
int ssl_enter_multi(struct pt_regs *ctx)
{
	__u32 fn = (__u32)bpf_get_attach_cookie(ctx);
	void *ssl = (void *)PT_REGS_PARM1(ctx);

	if (go_fn(fn))
		return go_probe(ctx, fn); /* no return probes: its RET instructions are probed here */
	if (fn == TLS_FN_FREE)
		return on_free(ssl);
	void *len_out = (fn == TLS_FN_WRITE_EX || fn == TLS_FN_READ_EX) ? (void *)PT_REGS_PARM4(ctx) : NULL;
	return enter(fn, ssl, (const void *)PT_REGS_PARM2(ctx), len_out);
}

SEC("uretprobe.multi")
int ssl_exit_multi(struct pt_regs *ctx)
{
	/* every probed function returns int */
	return leave((__u32)bpf_get_attach_cookie(ctx), (long)(int)PT_REGS_RC(ctx));
}
