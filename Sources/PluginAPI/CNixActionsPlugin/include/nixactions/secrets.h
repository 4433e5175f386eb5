/*
 * nixactions/secrets.h: secret providers, interface "nixactions.secrets/1" (since ABI 1.2).
 *
 * A provider turns one provider entry of a workflow's `secrets:` list (e.g. `- provider: sops`
 * with `file: secrets.enc.yaml`) into name/value pairs. Values cross the boundary ONLY through
 * the host service `secret_value(op, name, value)` (host.h), which copies each value and
 * registers it with the redactor before it returns. A value never travels in a JSON message,
 * a result, an error buffer, a log line or a progress label: those may be printed or stored.
 *
 * Lifecycle (one instance per provider plugin per run):
 *
 *   create ─► resolve(E1) ┐
 *             resolve(E2) ├─ concurrently ─► release ─► destroy
 *             …           ┘                  [NEVER cancelled, own deadline]
 *             [cancellable]
 *
 *  - `create` once per run, before any job starts, with the run's SecretsConfiguration.
 *  - `resolve` once per entry that names this provider, all before any job starts; resolves of
 *    different entries may run at once, from different threads (the host bounds how many).
 *    Asynchronous: NXA_STATUS_OK means "accepted, `complete(op)` will follow exactly once";
 *    anything else means "not accepted, no `complete`", with the reason in `error`.
 *    During the operation the plugin calls `secret_value(op, name, value)` once per secret,
 *    then completes `op` with SecretsResolved (names only). A failed resolve stops the run
 *    before any job starts; the host prints the entry's FILE:LINE with the plugin's message.
 *  - `cancel(op)` (a resolve only) may come at any time, from any thread, also after
 *    `complete`: stop network calls and child processes, remove what this op wrote to disk,
 *    complete with NXA_STATUS_CANCELLED; or do nothing if the op is unknown or finished.
 *  - `release` exactly once per instance, after every resolve completed or was abandoned,
 *    whatever the run's outcome (success, failure, cancel, a failed resolve). It is never
 *    cancelled and has its own deadline (10 s by default). It removes every temporary file the
 *    instance made, revokes what it obtained for the run (a Vault token from an AppRole login,
 *    leases), and drops values it still holds. Idempotent; safe when no resolve succeeded.
 *    At the deadline: stop waiting for the network (a token not revoked expires with its TTL),
 *    make sure local files are gone (that is always quick), and complete with
 *    NXA_STATUS_TIMED_OUT and a message naming what was left (a token accessor, never a token).
 *  - `destroy` after `release` completed. Never called if an operation was abandoned.
 *  - If `create` fails it leaves nothing behind (no release follows).
 *
 * Deadlines: every resolve has one (`op_deadline(op)`, 30 s by default, the entry's `timeout:`
 * overrides). HTTP timeouts and bounded retries (e.g. on 5xx) must end before it; a plugin that
 * gives up because of it completes with NXA_STATUS_TIMED_OUT.
 *
 * Hygiene, required of every provider (docs/secrets.md states it to users):
 *  - No secret on a command line (`ps` shows them): pass to child processes (sops) by stdin,
 *    environment or a 0600 file in `secretsDirectory`.
 *  - No secret in a file others can read; temporary files only in `secretsDirectory` (see
 *    SecretsConfiguration; the host also removes it after a crash, at its next start); removed
 *    by the op that made them as soon as it can, at the latest by `release`.
 *  - Values are held as bytes ([UInt8] in Swift, overwritten after `secret_value` returned),
 *    not as String, and never in a Codable type that could be encoded.
 *  - Messages (`error`, failure JSON, `log`, `log_op`) name the provider entry, the key and what
 *    failed (e.g. "key API_KEY not found in ci/deploy (KV v2, mount secret)"), never a value,
 *    never a token. The host redacts them anyway; that is a second line, not the first.
 *  - The environment of the host process is the plugin's to read (VAULT_TOKEN, BAO_TOKEN,
 *    SOPS_AGE_KEY_FILE, the `env` provider's names): it is never sent in JSON.
 *  - `write_output` is not used by providers (its output is dropped): use `log_op`.
 *
 * Messages (UTF-8 JSON; types in the NixActionsPluginMessages module, SecretsMessages.swift):
 *
 *   SecretsConfiguration (create):
 *     { "runID": "RUN_ID",
 *       "runDirectory": "/home/u/src/app/.nixactions/runs/RUN_ID",
 *       "projectDirectory": "/home/u/src/app",
 *       "secretsDirectory": "/tmp/nixactions-RUN_ID-XXXXXX/secrets",
 *       "options": { … } }
 *     `secretsDirectory`: 0700, made by the host as "secrets" in the run's private folder (in
 *     TMPDIR); removed by the host when the run ends.
 *     `options`: the provider's settings from `.nixactions/config.yml` (`secrets: { providers:
 *     { vault: { address: …, ca-file: … } } }`), free-form per provider; {} when none.
 *     `trackingID` (optional, added after 1.2): a process the provider starts should carry
 *     `NIXACTIONS_TRACKING_ID=<trackingID>/…` in its environment: the run's supervisor ends every
 *     such process if the host dies before it could.
 *
 *   SecretsEntry (resolve):
 *     { "provider": "vault",
 *       "options": { "path": "ci/deploy", "keys": ["API_KEY"], "mount": "secret" },
 *       "source": { "file": ".github/workflows/ci.yml", "line": 12, "column": 7 } }
 *     `options`: the entry's own keys, minus the host's (`provider`, `required`, `as`, `env`,
 *     `timeout`), which the host applies to the names the provider delivers. Relative paths in
 *     `options` are relative to `projectDirectory`. `source` says where the entry is written,
 *     for messages; the host adds "FILE:LINE:" in front of a failure message itself.
 *
 *   SecretsResolved (resolve's result):   { "names": ["API_KEY", "DB_PASSWORD"] }
 *     Exactly the names delivered with `secret_value` (the host checks). A provider entry that
 *     asked for specific keys and did not find one fails instead (message names the key).
 *
 *   SecretsRelease (release):             { "reason": "finished" | "failed" | "cancelled" }
 *   release's result:                     {}
 *
 *   Failure (any operation, status not OK): {"error": {"message": "...", "hint": "..."}}, e.g.
 *     {"error": {"message": "vault: permission denied (403) reading secret/data/ci/deploy",
 *                "hint": "the token's policy must allow read on secret/data/ci/deploy"}}
 *
 * Names: environment variable names, [A-Za-z_][A-Za-z0-9_]*, at most 256 bytes. Providers that
 * read nested documents (YAML, JSON) flatten keys to names by one documented rule: path
 * components joined with '_', upper-cased, other characters replaced by '_'
 * (db.password → DB_PASSWORD).
 */
#ifndef NIXACTIONS_SECRETS_H
#define NIXACTIONS_SECRETS_H

#include "plugin.h"

#define NXA_SECRETS_INTERFACE_V1 "nixactions.secrets/1"

typedef struct nxa_secrets_v1 {
    /* sizeof(nxa_secrets_v1) as compiled into the plugin. */
    uint32_t struct_size;

    /* [any-thread] Make the run's instance from a SecretsConfiguration message (borrowed for
     * the call). Synchronous and quick: it checks options, it does not contact servers. On
     * success stores an opaque instance in `*out_instance`, owned by the plugin until `destroy`.
     * On failure writes the reason into `error` and leaves nothing behind. */
    nxa_status (*create)(const nxa_plugin *plugin, const uint8_t *config_json, size_t config_len,
                         void **out_instance, nxa_error *error);

    /* [thread-safe] Resolve one provider entry (a SecretsEntry message, borrowed for the call).
     * Delivers each value with `secret_value(op, …)` while it runs, then completes `op` with
     * SecretsResolved. Cancellable; has a deadline. */
    nxa_status (*resolve)(void *instance, nxa_op_id op, const uint8_t *entry_json, size_t entry_len,
                          nxa_error *error);

    /* [thread-safe] Cancel a running resolve (see the lifecycle above). Never blocks for long.
     * The host never calls it for a release operation. */
    void (*cancel)(void *instance, nxa_op_id op);

    /* [thread-safe] The run is over: clean up (a SecretsRelease message, borrowed for the call).
     * Called once, after every resolve completed or was abandoned. NEVER cancelled; own
     * deadline. Completes with "{}" (or a failure naming what was left behind). */
    nxa_status (*release)(void *instance, nxa_op_id op, const uint8_t *request_json, size_t request_len,
                          nxa_error *error);

    /* [any-thread] Free the instance. Called once, after `release` completed. */
    void (*destroy)(void *instance);
} nxa_secrets_v1;

#endif
