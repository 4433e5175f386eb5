/*
 * nixactions/version.h: the plugin ABI version.
 *
 * Rules (SQLite's and CLAP's):
 *  - A host speaks exactly one ABI major. A plugin whose major differs is refused.
 *  - Minor versions only ever append fields to the end of structs or add interfaces.
 *    Each side reads no field beyond the `struct_size` the other side reported.
 *  - An interface (e.g. "nixactions.executor/1") is never edited in place: a change is a new id.
 */
#ifndef NIXACTIONS_VERSION_H
#define NIXACTIONS_VERSION_H

#define NXA_ABI_MAJOR 1u
#define NXA_ABI_MINOR 5u  /* 1.5: options' check; 1.4: options; 1.3: complete_here; 1.2: streams, executor files, secrets, cache, deadlines (below) */

/*
 * Changelog (each minor only appends; see the rules above):
 *
 *  1.0  nixactions_plugin_entry, nxa_plugin, nxa_host_info, nxa_host_services (log,
 *       write_output, register_secret, is_cancelled, complete), "nixactions.executor/1".
 *  1.1  "nixactions.functions/1" (functions.h), NXA_KIND_FUNCTIONS.
 *  1.2  - stream.h: nxa_stream, one writable byte stream shape for both directions.
 *       - files.h: "nixactions.executor.files/1", put/get a tree into/out of a job as a tar stream.
 *       - secrets.h: "nixactions.secrets/1", provider entries resolved into name/value pairs,
 *         values delivered only through the host service `secret_value`, never in JSON.
 *       - cache.h: "nixactions.cache/1", lookup / restore / reserve / save / commit / list / prune.
 *       - types.h: NXA_STATUS_TIMED_OUT, nxa_time_ns (CLOCK_MONOTONIC ns), NXA_NO_DEADLINE.
 *       - host.h: nxa_host_services grows (appended): op_deadline, secret_value, log_op, progress;
 *         nxa_host_services_has_v1_2() tells a plugin whether the host it runs in has them.
 *       - executor.h: contract only, the struct is unchanged: every operation has a deadline;
 *         finish_job is never cancelled and has its own deadline; start_job and finish_job write
 *         output with their own op id; abandoned operations.
 *       - Messages (JSON, optional fields): ExecutorConfiguration.cgroup / trackingID.
 *       A 1.1 plugin works unchanged in a 1.2 host. A plugin that uses 1.2 services checks
 *       `abi_minor >= 2` (or nxa_host_services_has_v1_2) and otherwise does without them.
 *  1.3  - host.h: nxa_host_services grows (appended): complete_here, a `complete` after which the
 *         host may go on with the waiting job on the calling thread (and call the plugin from
 *         inside it); nxa_host_services_has_v1_3(). A plugin that calls it checks
 *         nxa_host_services_has_v1_3 and calls `complete` otherwise. 1.1 and 1.2 plugins work
 *         unchanged in a 1.3 host (they call `complete`, which never runs host work inline).
 *       Later optional JSON fields (no version change; each is absent in an older host or
 *       plugin, and each side does without it): ExecutorConfiguration.openFilesLimit;
 *       JobStarted.writesThroughFiles, keepsEnvironment, services, container (after 1.5); StepSpec.jobEnvironment,
 *       usesJobEnvironment; ExecutorConfiguration.startRetries with a start_job failure's
 *       `retryAfterSeconds` (executor.h, "No room now").
 *  1.4  - options.h: "nixactions.options/1", the option names a plugin's executor, secret provider
 *         entries and cache backend accept, for `validate` (a pure `describe`, no instance).
 *         Nothing else changes: a 1.3 plugin has no such interface and gets no early check; a 1.4
 *         plugin in a 1.3 host is never asked.
 */

/* The one symbol every plugin exports (a function, so that dlsym is guaranteed to find it). */
#define NXA_ENTRY_SYMBOL "nixactions_plugin_entry"

#endif
