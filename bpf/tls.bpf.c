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
 * Nothing is cut silently: a call of any size up to TLS_CALL_CAP_BYTES arrives complete as
 * ordered chunks; what cannot be tracked or emitted is counted in `losses`/`ringbuf_lost`.
 * Records are reserved straight in the ring buffer in size classes (no per-CPU scratch: a uprobe
 * program can be preempted, and a shared buffer could then be overwritten under it).
 *
 * Maps: shared with process.bpf.c (`events`, `traced`, `losses`, `ringbuf_lost`, and
 * `tls_calls`, the in-flight calls by thread and direction, which process.bpf.c reads to tell
 * a TLS socket whose plaintext is captured; see common.bpf.h); own: `tls_offsets` (LRU, next
 * stream offset per (pid, SSL*, direction)). Oldest kernel: 5.17 (bpf_loop).
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
	return (fn == TLS_FN_WRITE || fn == TLS_FN_WRITE_EX) ? TLS_OUT : TLS_IN;
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

static __always_inline int leave(__u32 fn, long ret)
{
	struct tls_call_key ckey = { .tid = (__u32)bpf_get_current_pid_tgid(), .dir = direction(fn) };
	struct tls_call *call = bpf_map_lookup_elem(&tls_calls, &ckey);

	if (!call || call->fn != fn)
		return 0;

	struct chunk_ctx c = {
		.conn = call->ssl,
		.buf = call->buf,
		.dir = ckey.dir,
		.kind = EVENT_TLS_DATA,
		.first = TLS_CHUNK_CALL_START,
		.unreadable = LOSS_TLS_UNREADABLE,
	};
	__u64 moved = 0;

	if (fn == TLS_FN_WRITE_EX || fn == TLS_FN_READ_EX) {
		/* int SSL_*_ex(...): 1 on success, the count is in *written / *readbytes */
		if (ret == 1)
			bpf_probe_read_user(&moved, sizeof(moved), (const void *)call->len_out);
	} else if (ret > 0) {
		moved = ret;
	}
	bpf_map_delete_elem(&tls_calls, &ckey);
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

	struct tls_close_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
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
