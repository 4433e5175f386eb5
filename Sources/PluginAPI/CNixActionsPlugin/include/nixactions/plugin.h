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

#endif
