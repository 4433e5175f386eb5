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
     * cancelled. Polling is optional: the host also calls the interface's `cancel`. */
    bool (*is_cancelled)(void *host_data, nxa_op_id op);

    /* [thread-safe] Finish the asynchronous operation `op`, exactly once.
     * `status` is NXA_STATUS_OK when the machinery worked (a step that exited 1 is OK: the exit
     * code is in the result). `result` is a UTF-8 JSON message whose shape the interface defines
     * (on failure: {"error": {"message": "...", "hint": "..."}}), borrowed for the call only.
     * May be called before the function that started `op` has returned. A second call for the
     * same op is ignored. */
    void (*complete)(void *host_data, nxa_op_id op, nxa_status status, const uint8_t *result, size_t result_len);
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

#endif
