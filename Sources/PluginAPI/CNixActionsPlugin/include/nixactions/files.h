/*
 * nixactions/files.h: moving trees into and out of a job, interface "nixactions.executor.files/1"
 * (since ABI 1.2).
 *
 * An executor whose jobs run somewhere else (a container, a host over SSH) has no workspace on
 * the host's disk. This interface moves a tree into a job (checkout, downloaded artifacts, a
 * restored cache) and out of it (artifacts, a cache to save, files to hash for `hashFiles`) as a
 * tar stream (stream.h). It is answered by the same plugin as "nixactions.executor/1" and works
 * on the same `instance` that `nxa_executor_v1.create` made; cancelling goes through
 * `nxa_executor_v1.cancel` (operation ids are unique in the process).
 *
 * Lifecycle: put/get for job J only between start_job(J) completing OK and finish_job(J), never
 * overlapping another operation of J (executor.h). Asynchronous like run_step: NXA_STATUS_OK
 * means "accepted, `complete(op)` will follow exactly once"; anything else means "not accepted,
 * no `complete` will follow, no stream taken or given" with the reason in `error`. Both are
 * cancellable and have a deadline (`op_deadline(op)`, host.h); output and messages go through
 * `write_output` / `log_op` / `progress` with the op id.
 *
 * The archive (the only format across the boundary, so that any producer feeds any consumer):
 *  - POSIX.1-2001 pax tar ("tar --format=pax", libarchive's pax writer), NOT compressed.
 *    Compression is the business of whoever stores or carries the bytes (the cache compresses
 *    with zstd; an ssh executor may compress its own transport).
 *  - Entry types: regular files, directories, symbolic links, hard links (to an earlier entry).
 *    Others (devices, fifos, sockets) are skipped by `get` and counted in `skipped`.
 *  - Kept: permission bits (setuid/setgid/sticky are dropped by `put`), mtime, symlink targets
 *    as they are. Not applied by `put`: owner and group (the job's user owns what it gets).
 *  - Names are relative, '/'-separated, without "." or ".." components; directories come before
 *    their contents. The first component is the ROOT NAME (see FilesGet.roots) unless the
 *    request has a single root named "" (then names are relative to that root).
 *  - A named root taken whole (include "**") that is a folder has an entry of its own, `NAME/`,
 *    first: its mode and mtime. `put` gives them to the root: a root that does not exist is that
 *    folder, one that exists gets them after the merge (as `tar -x` treats an existing folder;
 *    where the job's user may not change them, the merge stands). An archive without the entry
 *    (made before it existed) leaves an existing root's mode and mtime alone.
 *
 * Messages (UTF-8 JSON; types in the NixActionsPluginMessages module, FilesMessages.swift):
 *
 *   FilesPut (put's request):
 *     { "jobKey": "build",
 *       "roots": [ { "name": "0", "path": "~/.npm" }, { "name": "1", "path": "node_modules" } ] }
 *     `path`: a folder as the job sees it, relative to the workspace, absolute, or starting with
 *     "~/" (the job user's home); made with its parents when missing. An entry goes under the
 *     root whose `name` is its first component; an entry matching no root fails the put.
 *   FilesPutResult (put's result):   { "files": 1234, "bytes": 56789012 }
 *
 *   FilesGet (get's request):
 *     { "jobKey": "build",
 *       "roots": [ { "name": "0", "path": "~/.npm", "include": ["**"], "exclude": [] } ],
 *       "followSymlinks": false }
 *     `include` / `exclude`: globs on the path relative to the root ("*", "?", "**" across
 *     folders); default include ["**"]. A root that does not exist is not an error: it is listed
 *     in `missing` and contributes nothing. Symlinks are archived as links, never followed out of
 *     the root, unless `followSymlinks` (then only links that stay inside the root are followed).
 *   FilesGetResult (get's result):   { "files": 1234, "bytes": 56789012, "skipped": 0,
 *                                      "missing": ["~/.npm"] }
 */
#ifndef NIXACTIONS_FILES_H
#define NIXACTIONS_FILES_H

#include "plugin.h"
#include "stream.h"

#define NXA_EXECUTOR_FILES_INTERFACE_V1 "nixactions.executor.files/1"

typedef struct nxa_executor_files_v1 {
    /* sizeof(nxa_executor_files_v1) as compiled into the plugin. */
    uint32_t struct_size;

    /* [thread-safe] Put a tree into job J: a FilesPut message (borrowed for the call). On
     * NXA_STATUS_OK stores in `*out_stream` a stream the executor made, valid until the host
     * closes it; the host writes a tar archive into it and closes it (stream.h: the host is the
     * writer). The executor completes `op` with FilesPutResult after the close, once everything
     * is in place, or with the failure.
     *
     * All or nothing: entries become visible under the roots only after `close(NXA_STATUS_OK)`
     * and a complete, valid archive. On an aborted stream, a malformed archive, a cancel or the
     * deadline, nothing of this put is left under the roots (extract into a staging folder on the
     * same file system, e.g. in the job's temporary folder or next to the root, then rename into
     * place; merge into an existing folder entry by entry). Files of the same name are replaced;
     * nothing else under a root is removed.
     *
     * Safety, whatever the archive says: refuse (fail the put) absolute names, ".." components,
     * and any entry whose path would pass through a symlink (libarchive:
     * ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS |
     * ARCHIVE_EXTRACT_SECURE_SYMLINKS); nothing is ever written outside the roots. */
    nxa_status (*put)(void *instance, nxa_op_id op, const uint8_t *request_json, size_t request_len,
                      const nxa_stream **out_stream, nxa_error *error);

    /* [thread-safe] Get a tree out of job J: a FilesGet message (borrowed for the call). On
     * NXA_STATUS_OK the executor has taken `stream` (made by the host, or by another plugin and
     * passed on by the host): it writes a tar archive of the matching entries into it from a
     * thread that may block, closes it (NXA_STATUS_OK when the archive is complete, another
     * status if it failed half-way), and then completes `op` with FilesGetResult. A stream write
     * returning non-OK means the consumer gave up: close, and complete `op` with that status.
     * Files changing while read are archived as read (no snapshot), with a warning via log_op. */
    nxa_status (*get)(void *instance, nxa_op_id op, const uint8_t *request_json, size_t request_len,
                      const nxa_stream *stream, nxa_error *error);
} nxa_executor_files_v1;

#endif
