/* A plugin built against a future ABI major (99). The host must refuse it, not call into it. */
#include "nixactions.h"

static const char *const interfaces[] = {NXA_EXECUTOR_INTERFACE_V1, 0};

static const void *get_interface(const nxa_plugin *plugin, const char *interface_id) {
    (void)plugin;
    (void)interface_id;
    return 0;
}

static const nxa_plugin descriptor = {
    .struct_size = sizeof(nxa_plugin),
    .abi_major = 99,
    .abi_minor = 0,
    .id = "wrong-abi",
    .name = "Wrong ABI fixture",
    .version = "0.0.1",
    .description = "built for plugin ABI 99",
    .toolchain = "c",
    .kinds = NXA_KIND_EXECUTOR,
    .interfaces = interfaces,
    .get_interface = get_interface,
};

__attribute__((visibility("default"))) nxa_status nixactions_plugin_entry(const nxa_host_info *host,
                                                                         const nxa_plugin **out_plugin,
                                                                         nxa_error *error) {
    (void)host;
    (void)error;
    *out_plugin = &descriptor;
    return NXA_STATUS_OK;
}
