/* A plugin that needs a newer host than any that exists: it refuses in the handshake, with a message. */
#include <string.h>

#include "nixactions.h"

__attribute__((visibility("default"))) nxa_status nixactions_plugin_entry(const nxa_host_info *host,
                                                                         const nxa_plugin **out_plugin,
                                                                         nxa_error *error) {
    (void)out_plugin;
    if (host->abi_major == NXA_ABI_MAJOR && host->abi_minor >= 9) return NXA_STATUS_FAILED;
    static const char message[] = "needs a host speaking ABI 1.9 or newer";
    size_t length = sizeof(message) - 1;
    if (error && error->data) {
        if (length > error->capacity) length = error->capacity;
        memcpy(error->data, message, length);
        error->length = length;
    }
    return NXA_STATUS_INCOMPATIBLE;
}
