/*
 * nixactions/executor.h: the executor interface, "nixactions.executor/1".
 *
 * An executor runs a job's steps somewhere: this machine, a container, a host over SSH, a pod.
 * Requests and results are UTF-8 JSON messages (their shapes are the Codable types in the
 * NixActionsPluginMessages module, e.g. JobSpec, StepSpec, StepResult). JSON keeps the C
 * surface small and lets messages grow by adding optional fields.
 *
 * Lifecycle (per instance):
 *
 *   create ─► start_job(J) ─► run_step(J, s1) ─► run_step(J, s2) … ─► finish_job(J) ─► destroy
 *
 *  - `create` once per executor configuration used by the run; `destroy` once at the end.
 *  - Several jobs run concurrently on one instance: start_job/run_step/finish_job for different
 *    jobs may overlap, from different threads. Steps of one job never overlap.
 *  - Asynchronous calls (start_job, run_step, finish_job) return quickly: NXA_STATUS_OK means
 *    "accepted, `complete(op)` will follow exactly once"; any other status means "not accepted,
 *    no `complete` will follow", with the reason in `error`.
 *  - `cancel(op)` may come at any time, from any thread, also after `complete`: it must end the
 *    operation's whole process tree (first gracefully, then forcibly) and then complete it
 *    with NXA_STATUS_CANCELLED, or do nothing if the op is unknown or finished.
 *  - `finish_job` is idempotent and safe after a failed or never-completed `start_job`: it
 *    removes whatever the job left (processes, containers, temporary files, secret files).
 *    The host calls it for every job it called start_job for, whatever the outcome.
 */
#ifndef NIXACTIONS_EXECUTOR_H
#define NIXACTIONS_EXECUTOR_H

#include "plugin.h"

#define NXA_EXECUTOR_INTERFACE_V1 "nixactions.executor/1"

typedef struct nxa_executor_v1 {
    /* sizeof(nxa_executor_v1) as compiled into the plugin. */
    uint32_t struct_size;

    /* [any-thread] Make an executor instance from its configuration (`config_json`: an
     * ExecutorConfiguration message, borrowed for the call). On success stores an opaque
     * instance in `*out_instance`, owned by the plugin until `destroy`. */
    nxa_status (*create)(const nxa_plugin *plugin, const uint8_t *config_json, size_t config_len,
                         void **out_instance, nxa_error *error);

    /* [thread-safe] Prepare job `J` (a JobSpec message, borrowed for the call): its working
     * directory, its container, its connection. Completes with a JobStarted message. */
    nxa_status (*start_job)(void *instance, nxa_op_id op, const uint8_t *job_json, size_t job_len,
                            nxa_error *error);

    /* [thread-safe] Run one step (a StepSpec message, borrowed for the call). Output goes through
     * `write_output(op, …)` while it runs. Completes with a StepResult message. */
    nxa_status (*run_step)(void *instance, nxa_op_id op, const uint8_t *step_json, size_t step_len,
                           nxa_error *error);

    /* [thread-safe] Cancel a running operation (see the lifecycle above). Never blocks for long. */
    void (*cancel)(void *instance, nxa_op_id op);

    /* [thread-safe] Clean up job `J` (a JobSpec message). Idempotent. Completes with "{}". */
    nxa_status (*finish_job)(void *instance, nxa_op_id op, const uint8_t *job_json, size_t job_len,
                             nxa_error *error);

    /* [any-thread] Release the instance. Called once, after every operation completed. */
    void (*destroy)(void *instance);
} nxa_executor_v1;

#endif
