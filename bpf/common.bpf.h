/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * common.bpf.h: the maps and helpers every AgentSight BPF object shares.
 *
 * Each object that includes this declares the maps below; the collector loads process.bpf.c
 * first and hands its map fds to the other objects (libbpf `reuse_fd`), so there is one ring
 * buffer (events stay in order across objects), one traced-process set and one set of loss
 * counters. Include after vmlinux.h, the libbpf headers and tls.h (which includes process.h).
 */
#ifndef AGENTSIGHT_COMMON_BPF_H
#define AGENTSIGHT_COMMON_BPF_H

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * Two ring buffers. Records go to `events` (small: the collector maps it at start, and a ring's
 * mapping is resident, twice over) until one does not fit; from then on every record, on every
 * CPU, goes to `spill` (--ring-mib), which the collector maps only once `ring_spilled` says it
 * is in use. One switch, at one point, keeps records in order: the collector drains `events`
 * before it reads `spill`. A record that fits neither is counted in `ringbuf_lost`.
 */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} spill SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} ring_spilled SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TRACED_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, struct traced_info);
} traced SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LOSS_REASONS);
	__type(key, __u32);
	__type(value, __u64);
} losses SEC(".maps");

/* Records lost because the ring buffer was full, indexed by enum event_kind. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, EVENT_KINDS);
	__type(key, __u32);
	__type(value, __u64);
} ringbuf_lost SEC(".maps");

/*
 * In-flight SSL calls by thread and direction (tls.bpf.c writes it). process.bpf.c reads it: a
 * socket written or read while its thread is inside SSL_write/SSL_read carries TLS whose
 * plaintext the probes see.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, TLS_CALLS_MAX_ENTRIES);
	__type(key, struct tls_call_key);
	__type(value, struct tls_call);
} tls_calls SEC(".maps");

static __always_inline void count_loss(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&losses, &reason);
	if (n)
		*n += 1;
}

static __always_inline void count_ringbuf_lost(__u32 kind)
{
	__u64 *n = bpf_map_lookup_elem(&ringbuf_lost, &kind);

	if (n)
		*n += 1;
}

static __always_inline bool spilled(void)
{
	__u32 zero = 0;
	__u32 *on = bpf_map_lookup_elem(&ring_spilled, &zero);

	return on && *on;
}

static __always_inline void set_spilled(void)
{
	__u32 zero = 0;
	__u32 *on = bpf_map_lookup_elem(&ring_spilled, &zero);

	if (on)
		*on = 1; /* every writer writes 1: no atomic needed */
}

/* bpf_ringbuf_reserve on the ring in use (the size must be a constant). */
#define ring_reserve(size)                                                                     \
	({                                                                                     \
		void *rec_ = NULL;                                                             \
		if (!spilled()) {                                                              \
			rec_ = bpf_ringbuf_reserve(&events, size, 0);                          \
			if (!rec_)                                                             \
				set_spilled();                                                 \
		}                                                                              \
		if (!rec_)                                                                     \
			rec_ = bpf_ringbuf_reserve(&spill, size, 0);                           \
		rec_;                                                                          \
	})

/* bpf_ringbuf_output on the ring in use; 0 once written. */
static __always_inline long ring_output(void *data, __u64 size, __u64 flags)
{
	if (!spilled()) {
		if (!bpf_ringbuf_output(&events, data, size, flags))
			return 0;
		set_spilled();
	}
	return bpf_ringbuf_output(&spill, data, size, flags);
}

static __always_inline void fill_header(struct event_header *h, __u32 kind)
{
	/*
	 * Not bpf_get_current_task_btf(): each load through a trusted BTF pointer costs the
	 * verifier a linear search of the kernel's BTF by name, and this is inlined into every
	 * emitter (29% of start-up CPU); a CO-RE probe read costs a few ns per event instead.
	 */
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	h->kind = kind;
	h->ts_ns = bpf_ktime_get_boot_ns();
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->ppid = BPF_CORE_READ(task, real_parent, tgid);
	h->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/*
 * Wake the collector only once WAKEUP_BYTES are waiting; it polls every 100 ms anyway. A wake-up
 * per record costs the traced program an inter-processor interrupt and two context switches.
 */
#define WAKEUP_BYTES (256 << 10)

static __always_inline __u64 wakeup_flags(void)
{
	__u64 waiting = spilled() ? bpf_ringbuf_query(&spill, BPF_RB_AVAIL_DATA)
				  : bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	return waiting >= WAKEUP_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

#endif /* AGENTSIGHT_COMMON_BPF_H */
