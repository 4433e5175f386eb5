/*
 * nxa_process.h: process spawning for executor plugins (a C shim because posix_spawn's
 * attribute API and the pidfd_open system call are awkward or unavailable from Swift).
 */
#ifndef NXA_PROCESS_H
#define NXA_PROCESS_H

#include <sys/types.h>

/*
 * Spawn `argv[0]` (searched in the parent's PATH) with `envp`, in `cwd` (NULL: inherit),
 * as the leader of a new process group (so the whole tree can be signalled), stdin from
 * /dev/null, stdout and stderr to fresh pipes, every other descriptor closed, all signal
 * dispositions reset to default and the signal mask cleared.
 *
 * On success returns 0 and sets *pid, *stdout_fd, *stderr_fd (read ends, O_CLOEXEC) and
 * *pid_fd (a pidfd that polls readable when the child exits, or -1 if the kernel has none).
 * On failure returns an errno value; nothing is left open.
 */
int nxa_spawn(const char *const argv[], const char *const envp[], const char *cwd, pid_t *pid,
              int *stdout_fd, int *stderr_fd, int *pid_fd);

/* Signal the process group `pgid` (kill(-pgid, sig)); returns 0 or an errno value. */
int nxa_kill_group(pid_t pgid, int sig);

#endif
