/*
 * nixactions/functions.h: functions a plugin offers to workflow expressions,
 * interface "nixactions.functions/1".
 *
 * A plugin lists functions by name with a C signature given as a string. The host checks each
 * signature once, builds a libffi call interface for it, and calls the function when a workflow
 * evaluates `${{ PLUGIN_ID.NAME(arguments) }}`. The signature is known only at run time, which is
 * why the host calls through libffi rather than through a fixed function-pointer type.
 *
 * Signature: `R(A...)`, one character per type:
 *   l  int64_t          (a whole number)
 *   d  double           (a number)
 *   b  bool             (true/false)
 *   s  const char *     (UTF-8, NUL-terminated)
 * e.g. "s(sl)" is `const char *f(const char *, int64_t)`; "b()" takes nothing. At most 8 arguments.
 *
 * Ownership: string arguments are borrowed for the call. A returned string is owned by the plugin
 * and must stay valid until the next call of one of the plugin's functions on the same thread
 * (a thread-local buffer); the host copies it at once. A function signals an error by returning
 * NULL for a string, after which the host reports "PLUGIN.NAME failed". [thread-safe]: the host may
 * call functions from several threads at once.
 */
#ifndef NIXACTIONS_FUNCTIONS_H
#define NIXACTIONS_FUNCTIONS_H

#include "plugin.h"

#define NXA_FUNCTIONS_INTERFACE_V1 "nixactions.functions/1"
#define NXA_FUNCTIONS_MAX_ARGUMENTS 8

typedef struct nxa_function_v1 {
    /* NUL-terminated, static: lowercase letters, digits and '_', starting with a letter. */
    const char *name;
    /* NUL-terminated, static: see above. */
    const char *signature;
    /* NUL-terminated, static: one line for `plugins list`. */
    const char *description;
    /* The function itself, of the C type the signature declares. */
    const void *function;
} nxa_function_v1;

typedef struct nxa_functions_v1 {
    /* sizeof(nxa_functions_v1) as compiled into the plugin. */
    uint32_t struct_size;
    /* Number of entries in `functions`. */
    uint32_t count;
    /* Static for the life of the process. */
    const nxa_function_v1 *functions;
} nxa_functions_v1;

#endif
