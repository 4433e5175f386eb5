/*
 * nixactions/host.h: what the host gives a plugin.
 *
 * The host passes `nxa_host_info` to the entry function. `services` and `host_data` stay
 * valid for the life of the process (plugins are never unloaded), so a plugin may keep them.
 *
 * Threading tags:
 *   [thread-safe]  may be called from any thread, concurrently.
 *   [any-thread]   may be called from any thread, but not concurrently for the same object.
 */
#ifndef NIXACTIONS_HOST_H
#define NIXACTIONS_HOST_H

#include "types.h"

typedef struct nxa_host_services {
    /* sizeof(nxa_host_services) as compiled into the host. Read no field beyond it. */
    uint32_t struct_size;
    /* Opaque; pass it back as the first argument of every function below. */
    void *host_data;

    /* [thread-safe] Log a message about the plugin itself (not step output).
     * `message` is UTF-8, borrowed for the call only; the host copies it. */
    void (*log)(void *host_data, int32_t level, const char *message, size_t message_len);

    /* [thread-safe] Output bytes of the operation `op` (a running step) on `stream`
     * (NXA_STREAM_STDOUT or NXA_STREAM_STDERR). Bytes are borrowed for the call only; the host
     * copies them and passes them through the redactor before any sink. Chunks need not end on
     * line or UTF-8 boundaries. Calls for one `op` must not overlap (write from one thread per op,
     * or serialize); calls for different ops may. Writing after `complete(op)` is a bug and dropped. */
    void (*write_output)(void *host_data, nxa_op_id op, int32_t stream, const uint8_t *data, size_t len);

    /* [thread-safe] Register a value that must never appear in any output (a token the plugin
     * obtained, a password it generated). Borrowed for the call; the host copies it. Empty
     * values are ignored. Effective for every byte written after the call returns. */
    void (*register_secret)(void *host_data, const uint8_t *value, size_t len);

    /* [thread-safe] Whether the run, or the operation `op` (0: the run as a whole), has been
     * cancelled. Polling is optional: the host also calls the interface's `cancel`. An operation
     * that is over (completed, or abandoned by the host at its deadline or after a cancel) reads
     * as cancelled from then on: a plugin that polls stops its work (it never flips back). */
    bool (*is_cancelled)(void *host_data, nxa_op_id op);

    /* [thread-safe] Finish the asynchronous operation `op`, exactly once.
     * `status` is NXA_STATUS_OK when the machinery worked (a step that exited 1 is OK: the exit
     * code is in the result). `result` is a UTF-8 JSON message whose shape the interface defines
     * (on failure: {"error": {"message": "...", "hint": "..."}}), borrowed for the call only.
     * May be called before the function that started `op` has returned. A second call for the
     * same op is ignored. */
    void (*complete)(void *host_data, nxa_op_id op, nxa_status status, const uint8_t *result, size_t result_len);

    /* ─── Since ABI 1.2 (appended). A 1.1 host's table ends above: read these only when
     *     nxa_host_services_has_v1_2(services) is true, and do without them otherwise. ─── */

    /* [thread-safe] The deadline of the live operation `op`: the CLOCK_MONOTONIC time
     * (nxa_time_ns, types.h) by which the plugin must have called `complete(op)`.
     * NXA_NO_DEADLINE (0) when the operation has none, and for an unknown or completed `op`.
     * `op` 0 gives the run's own deadline, if any.
     *
     *  - Every asynchronous operation of every interface has its deadline set by the host
     *    before the call that starts it; it is valid from the start of that call.
     *  - It never moves later. A cancel may move it earlier (to "now + the host's grace"),
     *    so a plugin that received `cancel(op)` reads it again.
     *  - The host calls `cancel(op)` for a cancellable operation still running a grace period
     *    before its deadline at the latest (a step's timeout cancels it at the timeout, with the
     *    deadline = timeout + grace). Operations marked [never cancelled] (finish_job, cache
     *    commit, secrets release) get no cancel: only their own deadline.
     *  - A plugin derives its own timeouts from it (network requests, retries, waits on child
     *    processes) and, when it gives up because of it, completes with NXA_STATUS_TIMED_OUT
     *    and a message saying what was left undone.
     *  - At the deadline the host ABANDONS the operation: it reports "PLUGIN did not finish OP
     *    within …", resumes the run, and from then on ignores `complete`, `write_output`,
     *    `log_op` and `progress` for `op` (a `secret_value` is still masked, never used). A
     *    stream the host created for `op` stays valid until its writer closes it; its writes
     *    return NXA_STATUS_TIMED_OUT. The host never calls `destroy` on an instance with an
     *    abandoned operation (the process exits instead), so the plugin's state stays valid. */
    nxa_time_ns (*op_deadline)(void *host_data, nxa_op_id op);

    /* [thread-safe] Deliver one secret of the running secrets operation `op` (a `resolve`,
     * see secrets.h). This is the only way a secret value crosses the boundary: never in JSON,
     * a log line, an error buffer or a result.
     *
     * `name`: UTF-8, not NUL-terminated, an environment variable name ([A-Za-z_][A-Za-z0-9_]*,
     * at most 256 bytes). `value`: any bytes except NUL, at most NXA_SECRET_VALUE_MAX bytes;
     * empty means "defined and empty" (not masked); a value shorter than 4 bytes is stored but
     * cannot be masked (the host warns once, naming the secret). Both are borrowed for the call.
     *
     * Before it returns, the host has copied the value AND registered it (and the forms the
     * redactor derives from it: per line, base64, JSON and URL escapes) with the redactor, so
     * every byte any sink receives from then on is masked. The plugin may then overwrite its
     * own copy. Whatever the status, a non-empty value the host could read has been registered
     * for masking. Calls for one op may come from several threads. The same name twice in one
     * op: the later value replaces the earlier (both stay masked).
     *
     * Returns NXA_STATUS_OK (stored), NXA_STATUS_INVALID_ARGUMENT (`op` is not a live resolve
     * operation of this plugin, a bad name, a NUL in the value, a value too long: the plugin
     * fails the operation naming the key, never the value; an op that was abandoned or has
     * completed is no longer live: stop). This host does not return NXA_STATUS_CANCELLED or
     * NXA_STATUS_TIMED_OUT here (a plugin learns of a cancel through `cancel` or `is_cancelled`);
     * a plugin should treat them, if a later host returns them, as "stop". */
    nxa_status (*secret_value)(void *host_data, nxa_op_id op, const char *name, size_t name_len,
                               const uint8_t *value, size_t value_len);

    /* [thread-safe] A log line about the operation `op` (any interface), for the people who read
     * the job's log: "pulling image alpine:3.20", "cache entry deps-abc is 312 MB", "retrying
     * Vault after 503 (2/3)". Unlike `log` (about the plugin itself, shown on the host's stderr)
     * it is shown where `op`'s output goes: the job's log, the console in the job's prefix and
     * events.jsonl, with the level (NXA_LOG_*). UTF-8, borrowed for the call, one line (a
     * trailing newline is dropped; inner ones are shown as separate lines). Passed through the
     * redactor like every output. `op` 0 is the same as `log`. Unlike `write_output`, calls for
     * one op may overlap; each line is kept whole. */
    void (*log_op)(void *host_data, nxa_op_id op, int32_t level, const char *message, size_t message_len);

    /* [thread-safe] How far the operation `op` has come, in bytes: `done` so far out of `total`
     * (0 = unknown). `label` (UTF-8, borrowed, may be empty) says what moves: "pull alpine:3.20",
     * "restore deps-abc". Cheap to call often: the host keeps the latest value per op and
     * shows it at its own pace (a status line, an event at most every second). `done` never
     * goes down for one `label`. Dropped after `complete(op)`. */
    void (*progress)(void *host_data, nxa_op_id op, uint64_t done, uint64_t total, const char *label,
                     size_t label_len);

    /* ─── Since ABI 1.3 (appended). A 1.2 host's table ends above: read this only when
     *     nxa_host_services_has_v1_3(services) is true, and call `complete` otherwise. ─── */

    /* [thread-safe] `complete`, with the same rules, and one more freedom for the host: before
     * it returns, the host may go on ON THIS THREAD with the work that waited for `op` (the rest
     * of the job, the scheduler's reaction, the next job's start), and that work may call this
     * plugin's functions (start_job, run_step, finish_job, files put/get, cancel) from inside
     * it. A short job then costs one thread wake (the one that saw its process end) instead of
     * three. Whether it does is the host's choice (today: executor operations only); it may
     * also just complete, as `complete` does.
     *
     * Call it only
     *  - holding no lock that any of this plugin's functions may take,
     *  - from a thread that may be kept for a while and may block on the host's behalf (a thread
     *    of the plugin's own that waited for the operation, or the thread of Swift's pool the
     *    operation's task ran on), never from a signal handler or a network event loop whose
     *    other work must not wait, and
     *  - never from inside a `cancel` call or anything it runs synchronously (the host task that
     *    waits for `op` may be the one being cancelled).
     * Anywhere else, call `complete`. Completing before the function that started `op` has
     * returned (on the host's calling thread) is allowed with either: nothing waits yet, so the
     * host runs nothing inside it. */
    void (*complete_here)(void *host_data, nxa_op_id op, nxa_status status, const uint8_t *result, size_t result_len);
} nxa_host_services;

typedef struct nxa_host_info {
    /* sizeof(nxa_host_info) as compiled into the host. */
    uint32_t struct_size;
    /* The ABI this host speaks. A plugin refuses a host whose major differs from its own,
     * or whose minor is lower than the one it needs, with NXA_STATUS_INCOMPATIBLE. */
    uint32_t abi_major;
    uint32_t abi_minor;
    /* NUL-terminated UTF-8, static for the life of the process. */
    const char *host_version;
    /* The Swift toolchain the host was built with (e.g. "swift-6.3.1"). The Swift ABI is not
     * stable on Linux: a plugin built by another compiler is refused by the host. */
    const char *toolchain;
    const nxa_host_services *services;
} nxa_host_info;

/* ─── Since ABI 1.2 (appended) ─────────────────────────────────────────────────────────────── */

/* The largest secret value `secret_value` accepts (1 MiB). */
#define NXA_SECRET_VALUE_MAX 1048576u

/* The size of a 1.1 host's nxa_host_services: the least a plugin needs (fields up to `complete`).
 * A plugin built against 1.2 headers checks `struct_size >= nxa_host_services_size_v1_1()` at its
 * entry, not `>= sizeof(nxa_host_services)`, or it would refuse every 1.1 host. */
static inline size_t nxa_host_services_size_v1_1(void) {
    return offsetof(nxa_host_services, complete) + sizeof(((const nxa_host_services *)0)->complete);
}

/* Whether `services` has the 1.2 fields (op_deadline, secret_value, log_op, progress). */
static inline bool nxa_host_services_has_v1_2(const nxa_host_services *services) {
    return services != NULL &&
           services->struct_size >= offsetof(nxa_host_services, progress) + sizeof(services->progress);
}

/* Whether `services` has the 1.3 field (complete_here). */
static inline bool nxa_host_services_has_v1_3(const nxa_host_services *services) {
    return services != NULL &&
           services->struct_size >= offsetof(nxa_host_services, complete_here) + sizeof(services->complete_here);
}

/*
 * ABI 1.2 notes on the 1.0 services above (their signatures are unchanged):
 *
 *  - write_output: `op` may be a step, or start_job and finish_job (an image pull, a
 *    `podman rm`): each line of a job-level operation's output becomes one of the job's lines
 *    (`PLUGIN: LINE` in its log and on the console, a `message` event; stderr's lines as
 *    warnings), redacted. The rule "calls for one op must not overlap" is unchanged. Output of
 *    files, cache and secrets operations is dropped: use log_op for lines about them (it never
 *    carries values).
 *  - register_secret: still the way to mask a value the plugin made up itself (a password it
 *    generated, a token it obtained for a step). A secret a provider RESOLVES goes through
 *    `secret_value`, which also makes it known to the run.
 *  - is_cancelled(op) is false for an operation the host never cancels (finish_job, cache
 *    commit, secrets release), even while the run is being cancelled; is_cancelled(0) still
 *    tells the run's state. A plugin must not end cleanup early because is_cancelled(0) is true.
 *  - log: the host passes plugin log messages through the redactor too.
 *  - Operation ids are unique in the process across every plugin and interface: a host
 *    function given an `op` that belongs to another plugin, or to an operation kind the
 *    function does not serve, ignores the call (or returns NXA_STATUS_INVALID_ARGUMENT).
 */

#endif
