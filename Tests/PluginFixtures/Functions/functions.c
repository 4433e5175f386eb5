/* A C plugin that declares functions of every type, and some malformed ones the host must refuse. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nixactions.h"

static int64_t add(int64_t a, int64_t b) { return a + b; }
static double scale(double value, double factor) { return value * factor; }
static bool both(bool a, bool b) { return a && b; }
static _Thread_local char buffer[256];
static const char *concat(const char *a, const char *b) {
    snprintf(buffer, sizeof buffer, "%s%s", a, b);
    return buffer;
}
static const char *fail(void) { return NULL; }
/* Never returns (a function must): the host ends the command after NIXACTIONS_PLUGIN_CALL_TIMEOUT. */
static int64_t hang(void) {
    for (;;) pause();
}
static int64_t eight(int64_t a, int64_t b, int64_t c, int64_t d, int64_t e, int64_t f, int64_t g, int64_t h) {
    return a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f + 7 * g + 8 * h;
}

static const nxa_function_v1 functions[] = {
    {"add", "l(ll)", "a + b", (const void *)add},
    {"scale", "d(dd)", "value * factor", (const void *)scale},
    {"both", "b(bb)", "a and b", (const void *)both},
    {"concat", "s(ss)", "a then b", (const void *)concat},
    {"fail", "s()", "always fails", (const void *)fail},
    {"hang", "l()", "never returns", (const void *)hang},
    {"eight", "l(llllllll)", "weighted sum of eight arguments", (const void *)eight},
    {"bad_signature", "x(q)", "refused: unknown types", (const void *)add},
    {"Bad-Name", "l()", "refused: not a valid name", (const void *)add},
    {"too_many", "l(lllllllll)", "refused: nine arguments", (const void *)add},
    {"add", "l(ll)", "refused: declared twice", (const void *)add},
};

static const nxa_functions_v1 table = {
    .struct_size = sizeof(nxa_functions_v1),
    .count = sizeof functions / sizeof functions[0],
    .functions = functions,
};

static const char *const interfaces[] = {NXA_FUNCTIONS_INTERFACE_V1, 0};

static const void *get_interface(const nxa_plugin *plugin, const char *interface_id) {
    (void)plugin;
    return strcmp(interface_id, NXA_FUNCTIONS_INTERFACE_V1) == 0 ? &table : 0;
}

static const nxa_plugin descriptor = {
    .struct_size = sizeof(nxa_plugin),
    .abi_major = NXA_ABI_MAJOR,
    .abi_minor = NXA_ABI_MINOR,
    .id = "cfns",
    .name = "C functions fixture",
    .version = "0.0.1",
    .description = "functions of every type, and malformed declarations",
    .toolchain = "c",
    .kinds = NXA_KIND_FUNCTIONS,
    .interfaces = interfaces,
    .get_interface = get_interface,
};

__attribute__((visibility("default"))) nxa_status nixactions_plugin_entry(const nxa_host_info *host,
                                                                         const nxa_plugin **out_plugin,
                                                                         nxa_error *error) {
    (void)error;
    if (host->abi_major != NXA_ABI_MAJOR) return NXA_STATUS_INCOMPATIBLE;
    *out_plugin = &descriptor;
    return NXA_STATUS_OK;
}
