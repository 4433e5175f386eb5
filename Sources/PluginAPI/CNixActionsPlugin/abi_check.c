/* Compiles every header with -Wall -Wextra -Werror -std=c11 so the headers stay valid C. */
#include "nixactions.h"

_Static_assert(sizeof(nxa_op_id) == 8, "operation ids are 64-bit");
_Static_assert(NXA_ABI_MAJOR == 1u, "this tree speaks ABI 1");

/* The version the headers were compiled with, for debuggers and `strings`. */
const char nxa_abi_check_marker[] = "nixactions-abi-1";

/* ─── Since ABI 1.2 ───────────────────────────────────────────────────────────────────────── */

_Static_assert(NXA_ABI_MINOR == 5u, "this tree speaks ABI 1.5");
_Static_assert(sizeof(nxa_time_ns) == 8, "deadlines are 64-bit CLOCK_MONOTONIC nanoseconds");

/* Append-only: the 1.2 services start exactly where a 1.1 host's table ended, in this order. */
_Static_assert(offsetof(nxa_host_services, complete) + sizeof(void (*)(void)) ==
                   offsetof(nxa_host_services, op_deadline),
               "op_deadline directly follows complete");
_Static_assert(offsetof(nxa_host_services, op_deadline) < offsetof(nxa_host_services, secret_value) &&
                   offsetof(nxa_host_services, secret_value) < offsetof(nxa_host_services, log_op) &&
                   offsetof(nxa_host_services, log_op) < offsetof(nxa_host_services, progress),
               "1.2 services in declaration order");
_Static_assert(offsetof(nxa_host_services, progress) + sizeof(void (*)(void)) ==
                   offsetof(nxa_host_services, complete_here),
               "complete_here (1.3) directly follows progress, the last 1.2 service");

/* ─── Since ABI 1.3 ───────────────────────────────────────────────────────────────────────── */

_Static_assert(sizeof(nxa_host_services) ==
                   offsetof(nxa_host_services, complete_here) + sizeof(void (*)(void)),
               "complete_here is the last field");

/* Every new interface and stream starts with its struct_size, as the rule says. */
_Static_assert(offsetof(nxa_stream, struct_size) == 0, "stream starts with struct_size");
_Static_assert(offsetof(nxa_executor_files_v1, struct_size) == 0, "files starts with struct_size");
_Static_assert(offsetof(nxa_secrets_v1, struct_size) == 0, "secrets starts with struct_size");
_Static_assert(offsetof(nxa_cache_v1, struct_size) == 0, "cache starts with struct_size");

/* ─── Since ABI 1.4 ───────────────────────────────────────────────────────────────────────── */

_Static_assert(offsetof(nxa_options_v1, struct_size) == 0, "options starts with struct_size");

/* ─── Since ABI 1.5 ───────────────────────────────────────────────────────────────────────── */

/* Append-only: `check` starts exactly where a 1.4 options table (struct_size, describe) ended. */
_Static_assert(offsetof(nxa_options_v1, describe) + sizeof(void (*)(void)) == offsetof(nxa_options_v1, check),
               "check (1.5) directly follows describe");
_Static_assert(sizeof(nxa_options_v1) == offsetof(nxa_options_v1, check) + sizeof(void (*)(void)), "check is the last field");

const char nxa_abi_check_marker_1_2[] = "nixactions-abi-1.2";
const char nxa_abi_check_marker_1_3[] = "nixactions-abi-1.3";
const char nxa_abi_check_marker_1_4[] = "nixactions-abi-1.4";
const char nxa_abi_check_marker_1_5[] = "nixactions-abi-1.5";

/* A size check a plugin does at its entry (the helpers are static inline: used here so that
 * they are compiled, and warned about, with the rest). */
bool nxa_abi_check_services(const nxa_host_services *services);
bool nxa_abi_check_services(const nxa_host_services *services) {
    return services != NULL && services->struct_size >= nxa_host_services_size_v1_1() &&
           (services->struct_size < sizeof(nxa_host_services) ||
            (nxa_host_services_has_v1_2(services) && nxa_host_services_has_v1_3(services)));
}
