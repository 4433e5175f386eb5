/*
 * nixactions/types.h: scalar types shared by every NixActions plugin header.
 *
 * Only C structs, integers, UTF-8 byte spans and opaque pointers cross the boundary.
 * A pointer is dereferenced only by the side that created it (opaque `void *` handles
 * are passed back untouched). Memory never crosses allocators: whoever allocates frees.
 */
#ifndef NIXACTIONS_TYPES_H
#define NIXACTIONS_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Status codes returned by every fallible function. Outcomes (a step exiting 1) are not
 * statuses: they travel in the result message. A status says whether the machinery worked. */
typedef int32_t nxa_status;
#define NXA_STATUS_OK 0
#define NXA_STATUS_FAILED 1            /* the operation failed; the message says why */
#define NXA_STATUS_INVALID_ARGUMENT 2  /* malformed request (bad JSON, unknown handle) */
#define NXA_STATUS_UNSUPPORTED 3       /* the plugin does not implement this */
#define NXA_STATUS_INCOMPATIBLE 4      /* version handshake refused */
#define NXA_STATUS_CANCELLED 5         /* the operation was cancelled before it finished */

/* Plugin kinds, a bit set: one library may provide several. */
typedef uint32_t nxa_kind;
#define NXA_KIND_EXECUTOR (1u << 0)
#define NXA_KIND_SECRETS (1u << 1)
#define NXA_KIND_CACHE (1u << 2)
#define NXA_KIND_FUNCTIONS (1u << 3) /* since ABI 1.1 */

/* Log levels for nxa_host_services.log. */
#define NXA_LOG_DEBUG 0
#define NXA_LOG_INFO 1
#define NXA_LOG_WARNING 2
#define NXA_LOG_ERROR 3

/* Output streams for nxa_host_services.write_output. */
#define NXA_STREAM_STDOUT 1
#define NXA_STREAM_STDERR 2

/* An asynchronous operation, numbered by the host. 0 is never a valid operation. */
typedef uint64_t nxa_op_id;

/*
 * A host-owned buffer for an error message on a synchronous failure.
 * The plugin writes at most `capacity` bytes of UTF-8 (no terminator needed) into `data`
 * and sets `length`. Valid only for the duration of the call it is passed to.
 * A message may end with a line "\n  hint: TEXT" (what the user can do about it; PluginKit
 * writes an OperationFailure's hint so): a 1.3 host shows TEXT as the error's hint instead of
 * its own generic one (for `create`); an older host shows the line as part of the message.
 */
typedef struct nxa_error {
    char *data;
    size_t capacity;
    size_t length;
} nxa_error;

/* ─── Since ABI 1.2 (appended) ─────────────────────────────────────────────────────────────── */

/* The operation's deadline passed before it finished (see `op_deadline` in host.h). Returned by
 * a plugin that gave up because of its deadline, and by stream writes that waited too long. */
#define NXA_STATUS_TIMED_OUT 6

/* A point in time: nanoseconds of CLOCK_MONOTONIC, i.e. clock_gettime(CLOCK_MONOTONIC) as
 * tv_sec * 1000000000 + tv_nsec. Every deadline of this ABI uses this clock: it does not jump
 * with the wall clock and is the same for every thread of the process.
 * Swift on Linux: SuspendingClock reads CLOCK_MONOTONIC; ContinuousClock reads CLOCK_BOOTTIME,
 * a different clock: never compare a deadline with a ContinuousClock instant. */
typedef uint64_t nxa_time_ns;

/* The deadline value meaning "no deadline". */
#define NXA_NO_DEADLINE 0ull

#endif
