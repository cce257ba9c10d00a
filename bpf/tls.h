/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Kernel-user ABI of tls.bpf.c: plaintext chunks of SSL_write/SSL_read calls.
 *
 * One SSL call becomes one or more `tls_data_event` records of at most TLS_CHUNK_BYTES of
 * data each, in order. `offset` is the position of the chunk in its (process, SSL*, direction)
 * byte stream, assigned atomically per call, so the collector can put chunks from concurrent
 * calls and CPUs back in order and see a gap when a record was lost. Records are reserved in
 * size classes (TLS_CLASS_*), so a 100-byte SSE chunk costs ~256 bytes of ring, not 16 KiB;
 * `hdr.size_bytes` is the reserved size, `len_bytes` the data actually carried.
 *
 * Sizes: TLS_CHUNK_BYTES 16 KiB per record; TLS_CALL_CAP_BYTES 64 MiB per call (beyond: counted
 * as LOSS_TLS_TRUNCATED); `tls_calls` holds 16384 in-flight calls, `go_calls` 16384 in-flight
 * Go calls, `tls_offsets` 65536 streams.
 *
 * Go's crypto/tls takes the same path: its `*tls.Conn` is the connection (`ssl`), its Write and
 * Read are the calls, its Close the end; the collector cannot tell the two apart, nor needs to.
 */
#ifndef AGENTSIGHT_TLS_H
#define AGENTSIGHT_TLS_H

#include "process.h"

#define TLS_CHUNK_BYTES 16384
#define TLS_CALL_CAP_BYTES (64 << 20)
#define TLS_CALLS_MAX_ENTRIES 16384
#define GO_CALLS_MAX_ENTRIES 16384
#define TLS_OFFSETS_MAX_ENTRIES 65536

enum tls_direction {
	TLS_OUT = 0, /* SSL_write*: the process sent it */
	TLS_IN = 1,  /* SSL_read*: the process received it */
};

/* Which function an in-flight call entered, so a nested call's return is not taken for it. */
enum tls_fn {
	TLS_FN_WRITE = 1,
	TLS_FN_READ = 2,
	TLS_FN_WRITE_EX = 3,
	TLS_FN_READ_EX = 4,
	TLS_FN_FREE = 5,
	/* Go crypto/tls (ABIInternal, go1.17+): entries, and each RET instruction of the function */
	TLS_FN_GO_WRITE = 6,     /* crypto/tls.(*Conn).Write */
	TLS_FN_GO_WRITE_RET = 7,
	TLS_FN_GO_READ = 8,      /* crypto/tls.(*Conn).Read */
	TLS_FN_GO_READ_RET = 9,
	TLS_FN_GO_CLOSE = 10,    /* crypto/tls.(*Conn).Close */
};

struct tls_call_key {
	__u32 tid;
	__u32 dir; /* enum tls_direction */
};

struct tls_call {
	__u64 ssl;
	__u64 buf;
	__u64 len_out; /* size_t *written / *readbytes of the _ex variants */
	__u32 fn;      /* enum tls_fn */
	__u32 _pad;
};

/*
 * An in-flight Go call: by goroutine (its `g`, which stays while the goroutine moves between
 * threads and another runs on the thread) and the call's return address (at the entry and at a
 * RET the word at the stack pointer; a stack copied to grow keeps it, and a Write inside a
 * Write, TLS inside TLS, returns elsewhere).
 */
struct go_call_key {
	__u64 g;
	__u64 ret_addr;
	__u32 pid;
	__u32 dir; /* enum tls_direction */
};

struct go_call {
	__u64 conn; /* *tls.Conn */
	__u64 buf;  /* b's data pointer */
	__u32 tid;  /* the thread it entered on, whose `tls_calls` mark the RET removes */
	__u32 fn;   /* enum tls_fn of the entry */
};

struct tls_stream_key {
	__u64 ssl;
	__u32 pid;
	__u32 dir;
};

/* data: len_bytes bytes of plaintext */
struct tls_data_event {
	struct event_header hdr;
	__u64 ssl;          /* SSL*: identifies the connection within the process */
	__u64 offset;       /* of this chunk in the (pid, ssl, dir) stream */
	__u32 len_bytes;    /* data bytes in this record */
	__u32 call_bytes;   /* bytes the whole SSL call moved (capped at TLS_CALL_CAP_BYTES) */
	__u32 dir;          /* enum tls_direction */
	__u32 flags;        /* TLS_CHUNK_* */
};

/* `flags` of a data record */
enum tls_chunk_flag {
	TLS_CHUNK_CALL_START = 1 << 0, /* the first chunk of an SSL call: a message boundary, likely */
};

struct tls_close_event {
	struct event_header hdr;
	__u64 ssl;
};

#endif /* AGENTSIGHT_TLS_H */
