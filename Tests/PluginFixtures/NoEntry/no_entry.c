/* A library that looks like a plugin but misspells the entry symbol. The host must refuse it
 * with a message naming the missing symbol. */
#include "nixactions.h"

__attribute__((visibility("default"))) nxa_status nixactions_plugin_entry_v0(const nxa_host_info *host,
                                                                            const nxa_plugin **out_plugin,
                                                                            nxa_error *error) {
    (void)host;
    (void)out_plugin;
    (void)error;
    return NXA_STATUS_FAILED;
}
