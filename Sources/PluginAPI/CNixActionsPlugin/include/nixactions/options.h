/*
 * nixactions/options.h: the options a plugin accepts, interface "nixactions.options/1" (since ABI 1.4).
 *
 * Executors, secret providers and cache backends refuse an option they do not know (a typo must
 * not pass as the default). Without this interface the refusal comes when the run first makes the
 * executor (a job's start) or resolves the entry; with it, `nixactions validate` names the option
 * at its FILE:LINE:COLUMN before anything runs, with a did-you-mean.
 *
 *  - The plugin answers get_interface(NXA_OPTIONS_INTERFACE_V1) with a static table, the same
 *    pointer every time. A plugin without the interface gets no such check (nothing else changes).
 *  - `describe` returns an OptionsSchema message (UTF-8 JSON, NixActionsPluginMessages
 *    OptionsMessages.swift), owned by the plugin and valid for the life of the process (the host
 *    may keep the pointer). It is pure: it starts no process, opens no file or connection, reads no
 *    environment. It may be called from any thread, any number of times, before any `create`.
 *
 *      {"executor": {"names": ["engine", "grace-seconds", "image", …]},   executor configuration's options
 *       "secrets":  {"names": ["file", "format", "keys", …]},             one provider entry's options
 *       "cache":    {"names": ["bucket", "endpoint", …]}}                 a cache backend's options
 *
 *    A section is present only for a kind the plugin provides and checks; `names` lists every
 *    option the plugin's `create` (or a provider's `resolve`) accepts: an option outside it is
 *    refused there. The host checks names only: values (types, ranges, an image's syntax) are
 *    still the plugin's to refuse when the run makes the instance, and values holding `${{ }}`
 *    are known only then.
 *  - The list is the plugin's own check, not a copy: PluginKit's protocols derive both from one
 *    `optionNames` set, so validate and run cannot disagree.
 */
#ifndef NIXACTIONS_OPTIONS_H
#define NIXACTIONS_OPTIONS_H

#include "plugin.h"

#define NXA_OPTIONS_INTERFACE_V1 "nixactions.options/1"

typedef struct nxa_options_v1 {
    /* sizeof(nxa_options_v1) as compiled into the plugin. */
    uint32_t struct_size;

    /* [any-thread, pure] Store the plugin's OptionsSchema message in `*out_json` / `*out_len`
     * (owned by the plugin for the life of the process). NXA_STATUS_OK, or an error in `error`. */
    nxa_status (*describe)(const nxa_plugin *plugin, const uint8_t **out_json, size_t *out_len, nxa_error *error);
} nxa_options_v1;

#endif
