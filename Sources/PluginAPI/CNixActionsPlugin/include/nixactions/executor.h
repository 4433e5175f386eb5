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
 *  - Every call the host makes into the plugin returns promptly, in every interface (the work
 *    goes on on the plugin's own threads), but a stream's `write`, which may wait for room
 *    (stream.h). The host watches each call: start_job and finish_job may take until their
 *    operation's deadline and the host's grace after it (an executor may prepare or remove a
 *    workspace inside them); any other call NIXACTIONS_PLUGIN_CALL_TIMEOUT (60 s by default). One still running then holds a host
 *    thread nothing can take back, so the host reports the plugin and the call, kills the run's
 *    processes, runs its cleanup scripts and exits with 1 (2 outside `run`).
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

/*
 * ─── ABI 1.2: the contract of "nixactions.executor/1", made precise (the struct is unchanged;
 *     a 1.1 executor keeps working, these rules are what a 1.2 host does and expects) ───
 *
 * Lifecycle with the 1.2 parts (files.h) and who may cancel what:
 *
 *   create ─► start_job(J) ─► { run_step(J, s) | put(J) | get(J) }* ─► finish_job(J) ─► destroy
 *             [cancellable]        [cancellable]                        [NEVER cancelled,
 *                                                                       own deadline]
 *
 *  - Deadlines. Every operation (start_job, run_step, files put/get, finish_job) has a deadline,
 *    read with the host service `op_deadline(op)` (host.h) from the start of the call that
 *    starts it. The host calls `cancel(op)` before the deadline (a step's `timeout-minutes`
 *    cancels it at the timeout, with the deadline = timeout + the host's grace); at the deadline
 *    the host abandons the operation. A 1.1 host has no `op_deadline`: no deadline.
 *
 *  - Cleanup is never cancelled. The host never calls `cancel` for a finish_job operation and
 *    `is_cancelled(finish_op)` stays false even while the run is cancelled: cleanup of a
 *    cancelled job must not itself be cut short (`podman rm -f`, removing a remote folder).
 *    finish_job runs on the host outside the job's cancellation, with its own deadline (the
 *    host's cleanup budget, 60 s by default, from the moment it is called, whatever happened to
 *    the job). As the deadline nears the executor moves from graceful to forcible means
 *    (SIGTERM then SIGKILL of the process group, `podman rm -f`, `kill -9` over ssh). When the
 *    deadline passes it stops waiting and completes with NXA_STATUS_TIMED_OUT and a message
 *    naming what it left behind (container id, remote path, pid); it leaves those marked with
 *    the run's label / tracking id so that the next `create` of this executor removes a
 *    previous run's leftovers. It never calls the host for that op after completing it.
 *
 *  - No room now (an optional field added after 1.2). A start_job that fails with
 *    `{"error": {"message": …, "retryAfterSeconds": S}}` says the executor cannot take the job yet
 *    (every host of its pool busy) and made nothing for it: the host asks again after S seconds
 *    (doubling to at most 1 s between tries), for as long as the job is not cancelled, each try
 *    with the start's deadline, the waiting with none. Only start_job; elsewhere the field is
 *    ignored. A host that does this says so in ExecutorConfiguration: `startRetries: true`;
 *    without it (an older host) an executor must wait for room inside start_job itself.
 *
 *  - Operations of one job never overlap: the host runs start_job, run_step and files put/get
 *    of job J one at a time, and finish_job(J) after the last of them completed, or after it
 *    was abandoned; in that case finish_job must also end what the abandoned operation left
 *    running. Operations of different jobs overlap freely.
 *
 *  - Job-level output. start_job and finish_job have operation ids like steps, so an executor
 *    writes their output with `write_output(op, …)` exactly as for a step (an image pull, a
 *    helper's start-up messages, a cleanup warning); the host shows each line as one of the
 *    job's lines (`PLUGIN: LINE` in its log and the console, a `message` event; stderr's lines
 *    as warnings), through the redactor. `log_op(op, level, …)` is for the
 *    executor's own lines about the operation ("pulling image alpine:3.20"), `progress(op, …)`
 *    for byte counts (an image pull, a workspace upload).
 *
 *  - Files. An executor that can move trees into and out of a job also answers
 *    NXA_EXECUTOR_FILES_INTERFACE_V1 (files.h) for the SAME instance pointer; `cancel` above
 *    cancels those operations too. Without it, the host uses the job's workspace directly only
 *    if it is on this machine (the local executor), and refuses artifacts/caches otherwise.
 *
 *  - Abandoned operations. An operation abandoned at its deadline may still be running in the
 *    plugin: the plugin must keep its state valid; the host never calls `destroy` on an instance
 *    with an abandoned operation. Anything the plugin does for it later is ignored.
 *
 *  - JobStarted (1.2, optional JSON fields): the job's OS, architecture, workspace and temporary
 *    folder as the executor sees them; `runner.*`, `RUNNER_*` and `GITHUB_WORKSPACE` come from it.
 *    `hostPaths: true` says the workspace and temporary folder are folders of the host's machine
 *    at the same paths (a local or mounting executor): the host may then copy files there itself
 *    instead of going through NXA_EXECUTOR_FILES_INTERFACE_V1. `writesThroughFiles: true` (an
 *    optional field added after 1.2) narrows that: files move in and out only with `put` and
 *    `get`, the host reading by path only what it checks after opening (hashFiles). For folders
 *    that belong to another user than the host's, or that the job's processes share from a
 *    sandbox (a container): a copy by path would follow the links they put or swap in, with the
 *    host's rights. `services` (optional, added after 1.2): the job's service containers by name
 *    (`id`, `ports`, `network`), GitHub's `job.services`; `container` (optional, added after 1.5):
 *    the job's own container (`id`, `network`), GitHub's `job.container`.
 *
 *  - A job's environment, sent once (optional JSON fields added after 1.2). An executor whose
 *    JobStarted says `keepsEnvironment: true` keeps the StepSpec field `jobEnvironment` of job J
 *    (replacing what it kept for J) and runs that step, and every later step of J that says
 *    `usesJobEnvironment: true`, with the kept environment under the step's own `environment`.
 *    A step with `usesJobEnvironment: true` when nothing was kept for J fails with a message; a
 *    step with neither field runs with its `environment` alone, as before. finish_job(J) forgets
 *    it. The host sends `jobEnvironment` with the first step of a job that has more than one,
 *    then only what each step changes (GITHUB_ENV, its `env:`, GITHUB_ACTION), so a step's
 *    message stays small whatever the size of the environment. PluginKit does all of this for
 *    every executor built with it; an executor that does not set `keepsEnvironment` gets every
 *    step's whole environment, as in 1.2.
 *
 *  - A step's command files (optional JSON fields added after 1.2). The executor makes each of
 *    the StepSpec's `captureFiles` an empty file before the step starts, as GitHub's runner does
 *    (`@actions/core` refuses to write to a missing one). StepSpec `capturePaths` names where: the
 *    host chose them (in JobStarted `commandFilesFolder`, else `temporaryDirectory`) so that
 *    `github.env`, `github.output`, … name them; an executor that knows the field uses exactly
 *    those paths, one that does not picks its own (those context values then name other files).
 *    With StepSpec `filesWhenCancelled: true`, a step the host cancels (its time limit, the run's
 *    cancellation) is ended as above and then completed with NXA_STATUS_OK and a StepResult whose
 *    `cancelled` is true and whose `files` hold what the step wrote, which the host uses (GitHub
 *    reads them whatever ended the step); without it, NXA_STATUS_CANCELLED as before. The host
 *    honours `cancelled` only when it did cancel the step.
 *
 *  - Output left open (optional, added after 1.2): when the step's main process has ended and
 *    the executor stops reading its output while processes it left still hold the pipes, its
 *    StepResult says `outputLeftOpen: true`; the host then says that what they write later is not
 *    kept. An executor that cannot tell leaves the field out.
 *
 *  - Every function of the table but `cancel` must be set: the host refuses a plugin whose table
 *    has a NULL where a function must be (and a descriptor without `get_interface`), naming it.
 */

#endif
