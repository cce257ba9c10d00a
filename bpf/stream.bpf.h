/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * stream.bpf.h: one user buffer out as ordered data records (`struct tls_data_event`, tls.h).
 *
 * Shared by tls.bpf.c (the plaintext of SSL calls) and process.bpf.c (plaintext HTTP on TCP
 * sockets), so both streams reach the collector in one format and feed one reassembler. A
 * buffer of `n` bytes at stream offset `base` becomes ceil(n / TLS_CHUNK_BYTES) records, each
 * reserved straight in the ring buffer in a size class (no per-CPU scratch: a uprobe program
 * can be preempted, and a shared buffer could then be overwritten under it), so a 100-byte
 * SSE chunk costs ~256 bytes of ring, not 16 KiB. What cannot be emitted is counted.
 *
 * Include after common.bpf.h and tls.h.
 */
#ifndef AGENTSIGHT_STREAM_BPF_H
#define AGENTSIGHT_STREAM_BPF_H

struct chunk_ctx {
	__u64 conn;       /* the stream's connection: SSL* (TLS) or struct sock * (sockets) */
	__u64 buf;        /* user address of the buffer */
	__u64 base;       /* stream offset of the buffer's first byte */
	__u32 n;          /* bytes to emit (capped) */
	__u32 dir;        /* enum tls_direction */
	__u32 kind;       /* EVENT_TLS_DATA or EVENT_SOCK_DATA */
	__u32 first;      /* TLS_CHUNK_CALL_START when the buffer starts a call, else 0 */
	__u32 unreadable; /* enum loss_reason counted when the buffer cannot be read */
	__u32 _pad;
};

/*
 * One emitter per size class; `len` is below the class's CAP (or exactly TLS_CHUNK_BYTES for
 * the full class), so `len & (CAP - 1)` is `len` and gives the verifier its bound.
 */
#define EMIT_CLASS(CAP, SIZE_EXPR)                                                             \
	struct tls_data_##CAP {                                                                \
		struct tls_data_event h;                                                       \
		__u8 data[CAP];                                                              \
	};                                                                                     \
	static __always_inline void emit_##CAP(struct chunk_ctx *c, __u32 done, __u32 len)     \
	{                                                                                      \
		struct tls_data_##CAP *ev = ring_reserve(sizeof(*ev));       \
		if (!ev) {                                                                     \
			count_ringbuf_lost(c->kind);                                           \
			return;                                                                \
		}                                                                              \
		fill_header(&ev->h.hdr, c->kind);                                              \
		ev->h.hdr.size_bytes = sizeof(*ev);                                            \
		ev->h.ssl = c->conn;                                                           \
		ev->h.offset = c->base + done;                                                 \
		ev->h.call_bytes = c->n;                                                       \
		ev->h.dir = c->dir;                                                            \
		ev->h.flags = done == 0 ? c->first : 0;                                        \
		barrier_var(len); /* or clang drops the mask it can prove redundant */         \
		ev->h.len_bytes = SIZE_EXPR;                                                   \
		if (bpf_probe_read_user(ev->data, SIZE_EXPR, (const void *)(c->buf + done))) { \
			count_loss(c->unreadable);                                             \
			ev->h.len_bytes = 0;                                                   \
		}                                                                              \
		bpf_ringbuf_submit(ev, wakeup_flags());                                        \
	}

EMIT_CLASS(256, len & 255)
EMIT_CLASS(1024, len & 1023)
EMIT_CLASS(4096, len & 4095)
EMIT_CLASS(16384, len & 16383)
#define full TLS_CHUNK_BYTES
EMIT_CLASS(full, TLS_CHUNK_BYTES)
#undef full

static long emit_chunk(__u64 i, void *data)
{
	struct chunk_ctx *c = data;
	__u32 done = (__u32)i * TLS_CHUNK_BYTES;

	if (done >= c->n)
		return 1;
	__u32 len = c->n - done;

	if (len >= TLS_CHUNK_BYTES)
		emit_full(c, done, len);
	else if (len < 256)
		emit_256(c, done, len);
	else if (len < 1024)
		emit_1024(c, done, len);
	else if (len < 4096)
		emit_4096(c, done, len);
	else
		emit_16384(c, done, len);
	return 0;
}

/* Emit `c->n` bytes from `c->buf` as records at `c->base` onwards. */
static __always_inline void emit_stream(struct chunk_ctx *c)
{
	bpf_loop((c->n + TLS_CHUNK_BYTES - 1) / TLS_CHUNK_BYTES, emit_chunk, c, 0);
}

#endif /* AGENTSIGHT_STREAM_BPF_H */
