/* A C plugin that breaks the rules the host must enforce (audit 50): a secrets provider whose
 * entry's `mode` picks the mistake, an executor whose table lacks `run_step`, and a cache backend
 * whose lookup hangs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nixactions.h"

static const nxa_host_services *host;

static void say(const char *text) { host->log(host->host_data, 1, text, strlen(text)); }

static nxa_status create(const nxa_plugin *plugin, const uint8_t *json, size_t length, void **out, nxa_error *error) {
    (void)plugin, (void)json, (void)length, (void)error;
    *out = (void *)&host;
    return NXA_STATUS_OK;
}

static nxa_status deliver(nxa_op_id op, const char *name, const char *value, size_t length) {
    return host->secret_value(host->host_data, op, name, strlen(name), (const uint8_t *)value, length);
}

static nxa_status resolve(void *instance, nxa_op_id op, const uint8_t *json, size_t length, nxa_error *error) {
    (void)instance;
    char request[4096] = {0};
    memcpy(request, json, length < sizeof request - 1 ? length : sizeof request - 1);
    char line[256];
    const char *result = "{\"names\":[]}";
    if (strstr(request, "\"nul\"")) {
        /* The value a C string of it would show is the part before the NUL. */
        nxa_status status = deliver(op, "NUL_TOKEN", "nulsecret-ABCDEF\0tail", 21);
        snprintf(line, sizeof line, "nul delivery: status %d, value nulsecret-ABCDEF", (int)status);
        say(line);
    } else if (strstr(request, "\"badname\"")) {
        nxa_status status = deliver(op, "LD_PRELOAD=/x.so X", "badname-secret-1234", 19);
        snprintf(line, sizeof line, "bad name delivery: status %d, value badname-secret-1234", (int)status);
        say(line);
    } else if (strstr(request, "\"cancelled\"")) {
        /* Nothing cancelled it. */
        host->complete(host->host_data, op, NXA_STATUS_CANCELLED, 0, 0);
        return NXA_STATUS_OK;
    } else if (strstr(request, "\"lenlie\"")) {
        /* Lengths computed the wrong way round: above SIZE_MAX / 2 (audit 61 ABI H2: the host trapped). */
        host->log(host->host_data, 1, "x", (size_t)-1);
        host->complete(host->host_data, op, NXA_STATUS_OK, (const uint8_t *)result, (size_t)-5);
        return NXA_STATUS_OK;
    } else if (strstr(request, "\"errlie\"")) {
        /* A refusal whose message length is past the buffer, and above SIZE_MAX / 2. */
        error->length = (size_t)-1;
        return NXA_STATUS_FAILED;
    } else if (strstr(request, "\"extra\"")) {
        deliver(op, "EXTRA_A", "extra-secret-aaaa", 17);
        deliver(op, "EXTRA_B", "extra-secret-bbbb", 17);
        result = "{\"names\":[\"EXTRA_A\"]}";
    }
    host->complete(host->host_data, op, NXA_STATUS_OK, (const uint8_t *)result, strlen(result));
    return NXA_STATUS_OK;
}

static void cancel(void *instance, nxa_op_id op) { (void)instance, (void)op; }

static nxa_status release(void *instance, nxa_op_id op, const uint8_t *json, size_t length, nxa_error *error) {
    (void)instance, (void)json, (void)length, (void)error;
    host->complete(host->host_data, op, NXA_STATUS_OK, (const uint8_t *)"{}", 2);
    return NXA_STATUS_OK;
}

/* With MISBEHAVING_DESTROY=stuck: `destroy` never returns (after the run's end, for a provider). */
static void destroy(void *instance) {
    (void)instance;
    const char *mode = getenv("MISBEHAVING_DESTROY");
    if (mode && strcmp(mode, "stuck") == 0) for (;;) pause();
}

static const nxa_secrets_v1 secrets = {
    .struct_size = sizeof(nxa_secrets_v1),
    .create = create, .resolve = resolve, .cancel = cancel, .release = release, .destroy = destroy,
};

/* A cache backend whose lookup never answers until it is cancelled (the job's time limit must
 * cover it), and whose other operations fail at once. One lookup at a time.
 * With MISBEHAVING_CACHE=nullstream: a miss, a reservation, and a save accepted without a stream.
 * With MISBEHAVING_CACHE=exit: the lookup calls exit(3), ending the host's process.
 * With MISBEHAVING_CACHE=stuck: the call to lookup never returns.
 * With MISBEHAVING_CACHE=segv: the lookup writes through a bad pointer (SIGSEGV in its code).
 * With MISBEHAVING_CACHE=print: the lookup writes to descriptor 1 (printf and write), then misses.
 * With MISBEHAVING_CACHE=forge: the lookup first acts on the 64 operations before its own (other
 * plugins' operations, such as a running step's): a log line, output, and a failed completion;
 * then it answers its own lookup with a miss. */
static volatile nxa_op_id hanging;

static int null_stream(void) {
    const char *mode = getenv("MISBEHAVING_CACHE");
    return mode && strcmp(mode, "nullstream") == 0;
}

static void answer(nxa_op_id op, const char *json) {
    host->complete(host->host_data, op, NXA_STATUS_OK, (const uint8_t *)json, strlen(json));
}

static nxa_status lookup(void *instance, nxa_op_id op, const uint8_t *json, size_t length, nxa_error *error) {
    (void)instance, (void)json, (void)length, (void)error;
    const char *mode = getenv("MISBEHAVING_CACHE");
    if (mode && strcmp(mode, "exit") == 0) exit(3);
    /* The call itself never returns (against executor.h's "return promptly"): the host ends the run. */
    if (mode && strcmp(mode, "stuck") == 0) for (;;) pause();
    /* A bad pointer in the plugin's own code: the host's crash is named after the plugin. */
    if (mode && strcmp(mode, "segv") == 0) *(volatile int *)(uintptr_t)op = 1;
    /* Writes to the process's standard output, as a debug printf would: not into the run's stream. */
    if (mode && strcmp(mode, "print") == 0) {
        printf("misbehaving printf on descriptor 1\n");
        fflush(stdout);
        (void)!write(1, "misbehaving write on descriptor 1\n", 34);
        answer(op, "{\"exact\":false}");
        return NXA_STATUS_OK;
    }
    if (mode && strcmp(mode, "forge") == 0) {
        for (nxa_op_id other = op > 64 ? op - 64 : 1; other < op; other++) {
            host->log_op(host->host_data, other, 2, "forged line", 11);
            host->write_output(host->host_data, other, 1, (const uint8_t *)"forged output\n", 14);
            host->complete(host->host_data, other, NXA_STATUS_FAILED, 0, 0);
        }
        answer(op, "{\"exact\":false}");
        return NXA_STATUS_OK;
    }
    if (null_stream()) {
        answer(op, "{\"exact\":false}");
        return NXA_STATUS_OK;
    }
    if (mode && strcmp(mode, "doubleclose") == 0) {
        answer(op, "{\"exact\":true,\"matchedKey\":\"deps-1\",\"sizeBytes\":1}");
        return NXA_STATUS_OK;
    }
    hanging = op;
    return NXA_STATUS_OK;
}

static void cache_cancel(void *instance, nxa_op_id op) {
    (void)instance;
    /* With MISBEHAVING_CANCEL=stuck: the cancel never returns (executor.h: "never blocks for long"). */
    const char *mode = getenv("MISBEHAVING_CANCEL");
    if (mode && strcmp(mode, "stuck") == 0) for (;;) pause();
    if (op == hanging) host->complete(host->host_data, op, NXA_STATUS_CANCELLED, 0, 0);
}

static nxa_status refuse(nxa_error *error) {
    static const char message[] = "not implemented";
    if (error && error->data && error->capacity >= sizeof message - 1) {
        memcpy(error->data, message, sizeof message - 1);
        error->length = sizeof message - 1;
    }
    return NXA_STATUS_FAILED;
}
static nxa_status restore(void *i, nxa_op_id op, const uint8_t *j, size_t l, const nxa_stream *s, nxa_error *e) {
    (void)i, (void)j, (void)l;
    const char *mode = getenv("MISBEHAVING_CACHE");
    if (mode && strcmp(mode, "doubleclose") == 0) {
        /* Closed twice (against stream.h): the host must not free its stream twice. */
        s->close(s->ctx, NXA_STATUS_FAILED, "gone", 4);
        s->close(s->ctx, NXA_STATUS_FAILED, "gone again", 10);
        answer(op, "{\"bytes\":0}");
        return NXA_STATUS_OK;
    }
    return refuse(e);
}
static nxa_status plain(void *i, nxa_op_id op, const uint8_t *j, size_t l, nxa_error *e) {
    (void)i, (void)op, (void)j, (void)l;
    return refuse(e);
}
static nxa_status reserve(void *i, nxa_op_id op, const uint8_t *j, size_t l, nxa_error *e) {
    (void)i, (void)j, (void)l;
    if (!null_stream()) return refuse(e);
    answer(op, "{\"reserved\":true,\"reservation\":\"r1\"}");
    return NXA_STATUS_OK;
}
static nxa_status save(void *i, nxa_op_id op, const uint8_t *j, size_t l, const nxa_stream **s, nxa_error *e) {
    (void)i, (void)op, (void)j, (void)l;
    if (!null_stream()) return refuse(e);
    *s = 0; /* accepted, and no stream to write into: against cache.h */
    return NXA_STATUS_OK;
}

static const nxa_cache_v1 cache = {
    .struct_size = sizeof(nxa_cache_v1),
    .create = create, .lookup = lookup, .restore = restore, .reserve = reserve, .save = save, .commit = plain,
    .list = plain, .prune = plain, .cancel = cache_cancel, .destroy = destroy,
};

/* No run_step: the host refuses the table, naming the plugin, instead of crashing at the first step. */
static const nxa_executor_v1 executor = {
    .struct_size = sizeof(nxa_executor_v1),
    .create = create, .start_job = 0, .run_step = 0, .cancel = cancel, .finish_job = 0, .destroy = destroy,
};

/*
 * "nixactions.options/1" (options.h), by MISBEHAVING_OPTIONS: `garbage` answers bytes that are not
 * JSON, `fail` answers an error, `names` a valid schema (executor: `size`; secrets: `path`);
 * unset: get_interface answers NULL, as a plugin older than ABI 1.4 does.
 */
static nxa_status describe(const nxa_plugin *plugin, const uint8_t **out_json, size_t *out_len, nxa_error *error) {
    (void)plugin;
    const char *mode = getenv("MISBEHAVING_OPTIONS");
    static const char garbage[] = "{\"executor\": [not json";
    static const char names[] = "{\"executor\": {\"names\": [\"size\"]}, \"secrets\": {\"names\": [\"path\"]}}";
    if (mode && strcmp(mode, "fail") == 0) {
        static const char message[] = "the options are in another castle";
        size_t length = sizeof message - 1 < error->capacity ? sizeof message - 1 : error->capacity;
        memcpy(error->data, message, length);
        error->length = length;
        return NXA_STATUS_FAILED;
    }
    const char *json = mode && strcmp(mode, "garbage") == 0 ? garbage : names;
    *out_json = (const uint8_t *)json;
    *out_len = strlen(json);
    return NXA_STATUS_OK;
}

static const nxa_options_v1 options = {.struct_size = sizeof(nxa_options_v1), .describe = describe};

static const char *const interfaces[] = {NXA_SECRETS_INTERFACE_V1, NXA_EXECUTOR_INTERFACE_V1, NXA_CACHE_INTERFACE_V1,
                                         NXA_OPTIONS_INTERFACE_V1, 0};

static const void *get_interface(const nxa_plugin *plugin, const char *interface_id) {
    (void)plugin;
    if (strcmp(interface_id, NXA_SECRETS_INTERFACE_V1) == 0) return &secrets;
    if (strcmp(interface_id, NXA_EXECUTOR_INTERFACE_V1) == 0) return &executor;
    if (strcmp(interface_id, NXA_CACHE_INTERFACE_V1) == 0) return &cache;
    if (strcmp(interface_id, NXA_OPTIONS_INTERFACE_V1) == 0 && getenv("MISBEHAVING_OPTIONS")) return &options;
    return 0;
}

static const nxa_plugin descriptor = {
    .struct_size = sizeof(nxa_plugin),
    .abi_major = NXA_ABI_MAJOR,
    .abi_minor = NXA_ABI_MINOR,
    .id = "misbehaving",
    .name = "misbehaving fixture",
    .version = "0.0.1",
    .description = "breaks the host's rules on purpose",
    .toolchain = "c",
    .kinds = NXA_KIND_SECRETS | NXA_KIND_EXECUTOR | NXA_KIND_CACHE,
    .interfaces = interfaces,
    .get_interface = get_interface,
};

static int entry_calls;

/* For the tests: how often the host called the entry (plugin.h: once). */
__attribute__((visibility("default"))) int misbehaving_entry_calls(void) { return entry_calls; }

__attribute__((visibility("default"))) nxa_status nixactions_plugin_entry(const nxa_host_info *info,
                                                                         const nxa_plugin **out_plugin,
                                                                         nxa_error *error) {
    (void)error;
    entry_calls++;
    /* With MISBEHAVING_ENTRY=hang: never returns (the host stops waiting and refuses the plugin). */
    const char *mode = getenv("MISBEHAVING_ENTRY");
    if (mode && strcmp(mode, "hang") == 0) for (;;) pause();
    host = info->services;
    *out_plugin = &descriptor;
    return NXA_STATUS_OK;
}
