/*
 * nixactions/cache.h: cache backends, interface "nixactions.cache/1" (since ABI 1.2).
 *
 * A backend (local folder, S3) stores immutable entries under a key. The host decides what to
 * cache and when; the backend stores and finds bytes. Entries move as streams (stream.h), never
 * whole in memory. A hit or a miss is a result, not an error; a backend that fails (server down,
 * 403, corrupt entry) fails the operation and the host turns that into a miss with a warning:
 * the job goes on.
 *
 * Across the boundary an entry is an UNCOMPRESSED tar archive in the format of files.h (root
 * names first). How it is stored (zstd, a checksum, multipart) is the backend's business: it
 * compresses on save and decompresses and verifies on restore.
 *
 * Lifecycle (one instance per backend configuration per run; `create` … `destroy` like
 * executor.h; every operation asynchronous with an op id, NXA_STATUS_OK = accepted and
 * `complete(op)` follows exactly once; all cancellable except `commit`; all with a deadline,
 * `op_deadline(op)`):
 *
 *   restore:  lookup(key, restoreKeys) ──hit──► restore(matchedKey, stream)
 *   save:     reserve(key) ──reserved──► save(key, reservation) → stream ──► commit(reservation)
 *                                                                           [NEVER cancelled]
 *   manage:   list(prefix), prune(limits)     (the `nixactions cache` commands)
 *
 * Restore into the executor (what the host does):
 *   1. lookup(op1, CacheLookup) → CacheLookupResult; a miss ends here.
 *   2. files.put(op2, FilesPut{roots}) → the executor's stream S          (files.h)
 *   3. cache.restore(op3, CacheRestore{matchedKey}, T): the backend writes the archive into T and
 *      closes it; T is S itself, or (what this host does) a stream of the host's that passes every
 *      write on to S in the backend's thread and ends S as T ends. The executor extracts it
 *      all-or-nothing. A backend cannot tell the two apart and must not try. If the backend finds the entry
 *      corrupt or truncated (checksum at the end) it closes S with NXA_STATUS_FAILED, the put
 *      leaves nothing behind, and the host reports a miss with a warning: never a half tree.
 *
 * Save (what the host does, after the job's steps, when the job succeeded or `save-on: always`):
 *   1. reserve(op1, CacheReserve) → {reserved: true, reservation} or {reserved: false, reason}
 *      ("exists": keys are immutable, nothing to do; "busy": another save of the key runs now).
 *   2. save(op2, CacheSave{reservation}) → the backend's stream S; files.get(op3, FilesGet, S):
 *      the executor writes the archive into S and closes it. The backend compresses and stages
 *      it (a temporary file, multipart parts) where no lookup can see it.
 *   3. commit(op4, CacheCommit{reservation, discard}) ALWAYS follows a reservation, whatever
 *      happened (the job was cancelled, the get or save failed: then discard = true), like
 *      finish_job follows start_job. Never cancelled; own deadline (60 s by default).
 *
 * Two saves of one key never corrupt it, also from two processes on two machines:
 *  - `commit` publishes create-if-absent in one atomic step (local: write to a temporary name,
 *    fsync, then link(2)/renameat2(RENAME_NOREPLACE) into place; S3: a conditional write,
 *    If-None-Match: *, of the object or of a small manifest object naming the data object).
 *    The loser gets {committed: false, reason: "exists"} and discards its staged data. A lookup
 *    sees an entry either whole or not at all.
 *  - `reserve` is the cheap part that avoids uploading twice: a lease (local: an flock(2) held
 *    by the instance, which the kernel drops if the process dies; S3: a reservation object with
 *    an expiry time). It is an optimisation, not the correctness: an expired or lost reservation
 *    still cannot corrupt, because commit is create-if-absent.
 *  - `commit` at its deadline: the entry is then either published (the atomic step happened) or
 *    absent; the backend removes what it staged if it can do so quickly, else leaves it for the
 *    next `prune` (which also sweeps expired reservations and staging), and completes with
 *    NXA_STATUS_TIMED_OUT saying which.
 *
 * Keys: UTF-8, 1 to 512 bytes, no ',' and no control characters (the host checks). `version`:
 * an opaque string the host computes (a hash of the cached paths and the archive format); an
 * entry matches a lookup only with the same version, so the same key with other paths is never
 * restored ("never wrong").
 *
 * Messages (UTF-8 JSON; types in the NixActionsPluginMessages module, CacheMessages.swift):
 *
 *   CacheConfiguration (create):
 *     { "runID": "…", "runDirectory": "…", "options": { … } }
 *     `options`: the backend's settings from `.nixactions/config.yml` or the cache entry, e.g.
 *     local: { "directory": "~/.cache/nixactions/cache", "max-size": "10G" };
 *     s3: { "endpoint": …, "bucket": …, "prefix": …, "region": …, "path-style": true }.
 *     Credentials come from the usual environment variables and files, never from JSON.
 *   CacheLookup:        { "key": "deps-3f2a…", "restoreKeys": ["deps-"], "version": "v1-9c1e…" }
 *   CacheLookupResult:  { "matchedKey": "deps-3f2a…" | null, "exact": true, "sizeBytes": 312000000,
 *                         "createdAt": "2025-01-01T12:00:00Z" }
 *     Order: the exact `key`; then for each restore key in order, an entry whose key equals it,
 *     else the newest entry (by creation) whose key starts with it. null = miss.
 *   CacheRestore:       { "key": "deps-3f2a…", "version": "v1-9c1e…" }
 *   CacheRestored:      { "bytes": 1234567 }                 (archive bytes written)
 *     Marks the entry used (for least-recently-used eviction). An entry evicted between lookup
 *     and restore fails the restore ("entry deps-… no longer exists"): a miss for the host.
 *   CacheReserve:       { "key": "deps-3f2a…", "version": "v1-9c1e…", "leaseSeconds": 3600 }
 *     leaseSeconds (optional) is the longest a reservation may keep its key from other savers
 *     should its holder die; a backend may hold a shorter lease that it renews while the save
 *     runs (s3: 120 s, renewed every 30 s), so that a killed saver frees the key soon.
 *   CacheReservation:   { "reserved": true, "reservation": "opaque, at most 256 bytes" }
 *                     | { "reserved": false, "reason": "exists" | "busy" }
 *   CacheSave:          { "key": "…", "version": "…", "reservation": "…" }
 *   CacheSaved:         { "bytes": 1234567, "storedBytes": 345678 }   (staged, not yet visible)
 *   CacheCommit:        { "key": "…", "version": "…", "reservation": "…", "discard": false }
 *   CacheCommitted:     { "committed": true } | { "committed": false,
 *                                                 "reason": "exists" | "discarded" | "expired" }
 *   CacheList:          { "keyPrefix": "deps-" }                  (optional; all when absent)
 *   CacheListing:       { "entries": [ { "key": …, "version": …, "sizeBytes": …, "createdAt": …,
 *                                        "lastUsedAt": … } ] }
 *   CachePrune:         { "maxSizeBytes": 10000000000, "olderThanSeconds": 604800,
 *                         "keyPrefix": "deps-", "all": false }   (all optional)
 *     Removes entries older than the age, then least recently used first until the total fits;
 *     `all` with `keyPrefix` is `nixactions cache clear PREFIX`. Removing one entry is atomic;
 *     a restore already reading an entry that is removed finishes (POSIX unlink semantics;
 *     S3 a miss).
 *   CachePruned:        { "removedEntries": 12, "freedBytes": 123456789 }
 *   Failure (status not OK): {"error": {"message": "...", "hint": "..."}}
 */
#ifndef NIXACTIONS_CACHE_H
#define NIXACTIONS_CACHE_H

#include "plugin.h"
#include "stream.h"

#define NXA_CACHE_INTERFACE_V1 "nixactions.cache/1"

typedef struct nxa_cache_v1 {
    /* sizeof(nxa_cache_v1) as compiled into the plugin. */
    uint32_t struct_size;

    /* [any-thread] Make an instance from a CacheConfiguration message (borrowed for the call).
     * Quick: checks options, contacts no server. On success stores an opaque instance in
     * `*out_instance`, owned by the plugin until `destroy`. */
    nxa_status (*create)(const nxa_plugin *plugin, const uint8_t *config_json, size_t config_len,
                         void **out_instance, nxa_error *error);

    /* [thread-safe] Find an entry: a CacheLookup message (borrowed for the call). Completes with
     * CacheLookupResult; a miss is an OK result with "matchedKey": null. */
    nxa_status (*lookup)(void *instance, nxa_op_id op, const uint8_t *request_json, size_t request_len,
                         nxa_error *error);

    /* [thread-safe] Stream an entry out: a CacheRestore message (borrowed for the call). On
     * NXA_STATUS_OK the backend has taken `stream` (the host's, or an executor's `put` stream
     * passed on by the host): it writes the decompressed tar archive into it from a thread that
     * may block, verifying the stored checksum as it goes; closes it with NXA_STATUS_OK only when
     * the whole entry arrived and verified, else with NXA_STATUS_FAILED and the reason; then
     * completes `op` with CacheRestored or the failure. */
    nxa_status (*restore)(void *instance, nxa_op_id op, const uint8_t *request_json, size_t request_len,
                          const nxa_stream *stream, nxa_error *error);

    /* [thread-safe] Reserve a key for saving: a CacheReserve message (borrowed for the call).
     * Completes with CacheReservation. Not being reserved is a result, not a failure. */
    nxa_status (*reserve)(void *instance, nxa_op_id op, const uint8_t *request_json, size_t request_len,
                          nxa_error *error);

    /* [thread-safe] Receive an entry: a CacheSave message (borrowed for the call) naming a live
     * reservation. On NXA_STATUS_OK stores in `*out_stream` a stream the backend made, valid until
     * its writer closes it (the host, or an executor's `get` the host passed it to). After the
     * close the backend finishes staging and completes `op` with CacheSaved; an aborted stream
     * completes it with the writer's status. Staged data is never visible before `commit`. */
    nxa_status (*save)(void *instance, nxa_op_id op, const uint8_t *request_json, size_t request_len,
                       const nxa_stream **out_stream, nxa_error *error);

    /* [thread-safe] Publish or discard a reservation: a CacheCommit message (borrowed for the
     * call). Called exactly once for every reservation the host obtained, whatever happened.
     * NEVER cancelled; own deadline. Completes with CacheCommitted. Idempotent for one
     * reservation (a second commit reports the first outcome). */
    nxa_status (*commit)(void *instance, nxa_op_id op, const uint8_t *request_json, size_t request_len,
                         nxa_error *error);

    /* [thread-safe] List entries: a CacheList message. Completes with CacheListing. */
    nxa_status (*list)(void *instance, nxa_op_id op, const uint8_t *request_json, size_t request_len,
                       nxa_error *error);

    /* [thread-safe] Evict entries: a CachePrune message. Completes with CachePruned. */
    nxa_status (*prune)(void *instance, nxa_op_id op, const uint8_t *request_json, size_t request_len,
                        nxa_error *error);

    /* [thread-safe] Cancel a running operation other than `commit` (the host never cancels a
     * commit): stop transfers; a restore stops writing and closes its stream with
     * NXA_STATUS_CANCELLED (the host cancels the consumer's operation too, so a blocked write
     * returns); a save makes its stream's blocked `write` return NXA_STATUS_CANCELLED and
     * drops what it staged. Then complete with NXA_STATUS_CANCELLED; or do nothing if the op is
     * unknown or finished. Never blocks for long. */
    void (*cancel)(void *instance, nxa_op_id op);

    /* [any-thread] Free the instance (releasing reservations it still holds). Called once, after
     * every operation completed. Never called if an operation was abandoned. */
    void (*destroy)(void *instance);
} nxa_cache_v1;

#endif
