/*
 * nixactions/plugin.h: the plugin descriptor and the entry function.
 *
 * Every plugin library exports exactly one symbol (enforced by a linker version script):
 *
 *     nxa_status nixactions_plugin_entry(const nxa_host_info *host, const nxa_plugin **out_plugin,
 *                                         nxa_error *error);
 *
 * Loading (the host): dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE); dlsym the entry;
 * call it once, on one thread, before anything else. The library is never unloaded:
 * dlclose of Swift code crashes the next conformance lookup, so reloading means a new process.
 *
 * Handshake, both ways:
 *  1. The plugin checks `host->abi_major` (and minor if it needs newer features) and returns
 *     NXA_STATUS_INCOMPATIBLE with a message in `error` if it cannot work with this host.
 *  2. The host checks the descriptor's `abi_major` and `toolchain` and refuses a mismatch.
 *     It reads no field beyond the descriptor's `struct_size`.
 *
 * Capabilities are fetched by versioned string id through `get_interface`
 * (e.g. NXA_EXECUTOR_INTERFACE_V1), which returns a struct of function pointers or NULL.
 */
#ifndef NIXACTIONS_PLUGIN_H
#define NIXACTIONS_PLUGIN_H

#include "host.h"
#include "types.h"
#include "version.h"

typedef struct nxa_plugin nxa_plugin;

struct nxa_plugin {
    /* sizeof(nxa_plugin) as compiled into the plugin. */
    uint32_t struct_size;
    /* The ABI the plugin was built against (NXA_ABI_MAJOR / NXA_ABI_MINOR of its headers). */
    uint32_t abi_major;
    uint32_t abi_minor;
    /* NUL-terminated UTF-8, static for the life of the process. `id` is the name workflows use
     * (e.g. "local"): lowercase letters, digits and '-'. */
    const char *id;
    const char *name;
    const char *version;
    const char *description;
    /* The Swift toolchain the plugin was built with ("swift-6.3.1"), or "c" for a plugin with no
     * Swift code. */
    const char *toolchain;
    /* What the plugin provides: a bit set of NXA_KIND_*. */
    nxa_kind kinds;
    /* NULL-terminated list of the interface ids `get_interface` answers, for `plugins list`. */
    const char *const *interfaces;
    /* [thread-safe] The interface struct for `interface_id`, or NULL if not implemented.
     * The returned struct is static: valid for the life of the process. */
    const void *(*get_interface)(const nxa_plugin *plugin, const char *interface_id);
};

/* The type of the entry symbol. `host` is valid for the life of the process. On success the
 * plugin stores a pointer to its static descriptor in `*out_plugin`. On failure it writes a
 * message into `error` and returns a non-OK status. [main-thread: called once, before anything] */
typedef nxa_status (*nxa_plugin_entry_fn)(const nxa_host_info *host, const nxa_plugin **out_plugin,
                                          nxa_error *error);

/*
 * ABI 1.2 notes (nxa_plugin and nxa_host_info are unchanged):
 *  - New interface ids: NXA_EXECUTOR_FILES_INTERFACE_V1 (files.h), NXA_SECRETS_INTERFACE_V1
 *    (secrets.h), NXA_CACHE_INTERFACE_V1 (cache.h). A plugin lists the ones it answers in
 *    `interfaces` and sets NXA_KIND_SECRETS / NXA_KIND_CACHE for the last two.
 *  - A plugin built against 1.2 still accepts a 1.1 host (same major) unless it cannot work
 *    without the 1.2 host services: it checks `services->struct_size` against
 *    nxa_host_services_size_v1_1() at the entry, and nxa_host_services_has_v1_2() before using
 *    op_deadline / secret_value / log_op / progress. A 1.1 host never asks for the 1.2 ids.
 *    A secrets provider cannot work without `secret_value`: it refuses a host with
 *    abi_minor < 2 (NXA_STATUS_INCOMPATIBLE, "needs a host speaking ABI 1.2 or newer").
 *  - The host, in turn, checks each interface struct's `struct_size` against the size of the
 *    interface's FIRST version of the struct (these structs never grow: a change is a new id).
 */

#endif
