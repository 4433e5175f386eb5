/*
 * nixactions/stream.h: byte streams across the boundary (since ABI 1.2).
 *
 * One shape, `nxa_stream`, serves every direction. It is a WRITABLE stream (a sink): the side
 * that consumes the bytes makes it, the side that produces them writes into it and closes it.
 * (Not to be confused with NXA_STREAM_STDOUT / NXA_STREAM_STDERR, which name output channels.)
 *
 *   plugin → host    files `get`, cache `restore`: the host makes the stream and passes it in
 *                    the call; the plugin writes it and closes it.
 *   host → plugin    files `put`, cache `save`: the plugin makes the stream and returns it from
 *                    the call through `out_stream`; the host writes it and closes it.
 *   plugin → plugin  cache `restore` straight into files `put`: the host passes the stream it
 *                    got from the executor's `put` to the cache's `restore`; the bytes go from
 *                    one plugin to the other without passing through the host.
 *
 * There is no separate reader form: "reading" is making a stream and handing it out. A pull
 * reader would need a pump thread between two pull/push ends; with one push shape every pair
 * composes directly.
 *
 * Roles:
 *   CREATOR  makes the stream, implements `write` and `close`, and keeps the struct and `ctx`
 *            valid until `close` has returned; it then frees them (its own allocator).
 *   WRITER   the one side that may call `write` and `close`. Exactly one writer at a time.
 *
 * Who is the writer (ownership passes with a successful call, never otherwise):
 *   - A function that takes `const nxa_stream *stream` and returns NXA_STATUS_OK becomes the
 *     stream's writer. If it returns any other status it did not take the stream: the caller is
 *     still the writer and must close it.
 *   - A function that returns a stream through `const nxa_stream **out_stream` with
 *     NXA_STATUS_OK makes its caller the writer. On any other status `*out_stream` is left
 *     untouched and there is nothing to close.
 *
 * Rules for the writer:
 *  1. Calls never overlap: one thread at a time (it may be a different thread each time).
 *  2. `close` exactly once, whatever happens: with NXA_STATUS_OK after the last byte ("that is
 *     all, and it is complete"), or with any other status to abort ("what you got is incomplete:
 *     throw it away"). A writer that took a stream and then fails before writing still closes it.
 *     Nothing may be called after `close`.
 *  3. The writer of a stream it received in an operation's call closes it BEFORE it completes
 *     that operation.
 *  4. `write` and `close` may block (rule 6), so the writer calls them from a thread that may
 *     block: a thread of its own, never a thread of Swift's cooperative pool (it has one thread
 *     per core: blocking it stalls every task of the process), never from inside a host callback.
 *
 * Rules for the creator (the consumer):
 *  5. `write` takes all `len` bytes or fails: there are no partial writes. `data` is borrowed for
 *     the call; the creator copies or consumes it before returning. `len` 0 is allowed and does
 *     nothing. Chunks have no meaning (tar headers may straddle them); 64 KiB to 1 MiB is usual.
 *  6. Back-pressure: `write` may block until the consumer has room (a pipe to `tar -x`, a part
 *     upload). It blocks at most until the deadline of the creator's operation that the stream
 *     belongs to, or until that operation is cancelled, and then returns NXA_STATUS_TIMED_OUT or
 *     NXA_STATUS_CANCELLED.
 *  7. Any status other than NXA_STATUS_OK from `write` means "stop": the writer writes no more
 *     and closes the stream (with any status; the creator has already given up).
 *  8. `close` returns promptly. The work after the last byte (waiting for `tar -x` to exit, an
 *     fsync, a rename, the last part of an upload) belongs to the creator's operation and is
 *     reported by that operation's `complete`. `message` (UTF-8, borrowed, may be NULL with
 *     length 0) says why a stream was aborted; it is shown to people and never holds a secret.
 *  9. The stream belongs to one operation of its creator (the one whose call made or received
 *     it). The creator completes that operation only after `close`, or at the operation's
 *     deadline; in the second case it keeps the stream valid until `close` still comes (the
 *     writer always closes, rule 2).
 *
 * Threading: `write` and `close` are [any-thread] (one writer, calls never overlap).
 */
#ifndef NIXACTIONS_STREAM_H
#define NIXACTIONS_STREAM_H

#include "types.h"

typedef struct nxa_stream nxa_stream;

struct nxa_stream {
    /* sizeof(nxa_stream) as compiled by the creator. The writer reads no field beyond it. */
    uint32_t struct_size;
    /* Opaque, the creator's; passed back as the first argument of `write` and `close`. */
    void *ctx;

    /* [any-thread] Append `len` bytes (borrowed for the call). Blocks for back-pressure, at
     * most until the deadline or cancel of the creator's operation. NXA_STATUS_OK: all taken.
     * Anything else: stop writing and close. */
    nxa_status (*write)(void *ctx, const uint8_t *data, size_t len);

    /* [any-thread] End of the stream, exactly once. `status` NXA_STATUS_OK: complete;
     * otherwise aborted, with `message` (UTF-8, borrowed, may be NULL/0) saying why. Returns
     * promptly. The writer must not touch the stream afterwards. */
    void (*close)(void *ctx, nxa_status status, const char *message, size_t message_len);
};

#endif
