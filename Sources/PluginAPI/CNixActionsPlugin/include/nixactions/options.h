/*
 * nixactions/options.h: the options a plugin accepts, interface "nixactions.options/1" (since ABI 1.4;
 * `check` since 1.5).
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
 *  - `check` (since ABI 1.5; present when `struct_size` reaches it and not NULL) checks the values
 *    of one instance's options as `create` (or a provider's `resolve`) would: `request_json` is an
 *    OptionsCheck message, {"kind": "executor" | "secrets" | "cache", "options": {…}}, holding the
 *    options as written, those whose value holds `${{ }}` left out (known only when the run makes
 *    the instance). When none was left out the message also says {"complete": true}: the options
 *    are all the instance will get, so a required option's absence may be refused too (a host
 *    before this field sends none: check what is there only). A plugin should ignore fields it does
 *    not know (PluginKit's decoding does); one that refuses this message only costs `validate` and
 *    the run's start that early check (a warning). NXA_STATUS_OK: they would be taken. NXA_STATUS_FAILED: refused, the reason in
 *    `error` as `create` words it (a hint on a last line "\n  hint: TEXT"). It is pure but for
 *    reading the environment (a default that comes from it, such as $HOME): it makes no instance,
 *    file, folder, process or connection, and may be called from any thread, any number of times.
 *    A kind it does not check values of answers NXA_STATUS_OK. The host calls it only when the
 *    names passed `describe`'s list.
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

    /* [any-thread, pure] (since ABI 1.5) Check one instance's option values (an OptionsCheck
     * message, above). NXA_STATUS_OK, or NXA_STATUS_FAILED with the refusal in `error`. */
    nxa_status (*check)(const nxa_plugin *plugin, const uint8_t *request_json, size_t request_len, nxa_error *error);
} nxa_options_v1;

#endif
