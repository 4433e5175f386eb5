/*
 * nxa_process.h: process spawning for executor plugins (a C shim: a vfork child that moves
 * itself into a cgroup before exec, pidfds and prctl are unavailable or awkward from Swift).
 */
#ifndef NXA_PROCESS_H
#define NXA_PROCESS_H

#include <spawn.h>
#include <sys/types.h>

/* The first executable file named `name` (no slash) in the colon-separated folders of `path`,
 * written into `out` (PATH_MAX bytes), as execvp looks: empty entries and a folder of that name
 * are passed over. Returns 0, or ENOENT (none) / EACCES (only ones not executable). The one
 * PATH rule of the spawn and of `FastFiles.resolve`. */
int nxa_find_in_path(const char *name, const char *path, char *out);

/*
 * Spawn `argv[0]` (a path, or a name searched in envp's PATH) with `envp`, in `cwd` (NULL:
 * inherit), as the leader of a new session (so of a new process group, with no controlling
 * terminal), stdin from `stdin_fd` (-1: /dev/null; the
 * caller keeps and closes it), stdout and stderr to fresh pipes, every other descriptor closed, all signal dispositions reset to default and the
 * signal mask cleared. With `cgroup_fd` >= 0 (the folder of a cgroup v2, opened O_DIRECTORY) the
 * child is made inside that cgroup (clone3 with CLONE_INTO_CGROUP where there is one) or else
 * moves itself into it (through its `cgroup.procs`) before it execs, so nothing it starts can be
 * outside it.
 *
 * On success returns 0 and sets *pid, *stdout_fd, *stderr_fd (read ends, O_CLOEXEC) and
 * *pid_fd (a pidfd that polls readable when the child exits, or -1 if the kernel has none).
 * On failure returns an errno value (also for a failed exec or cgroup move); nothing is left
 * open and no child is left running.
 *
 * As execvp: an executable file the kernel cannot run (execve fails with ENOEXEC: a script
 * without a `#!` line, or a damaged binary) is started again as `/bin/sh FILE ARGS…`; what the
 * shell makes of it (running the script, or failing with its message on standard error) is then
 * the child's outcome.
 *
 * `flags`: 0, or NXA_SPAWN_DIES_WITH_CALLER: the child gets SIGKILL when the thread that spawned
 * it exits, so also when this process dies, even of SIGKILL (PR_SET_PDEATHSIG, kept across its
 * exec). Only for a child that the spawning thread waits for to its end, started before anything
 * else would end it after this process (the host's own commands before a run's supervisor is
 * up). Its own children do not inherit it.
 */
#define NXA_SPAWN_DIES_WITH_CALLER 1
int nxa_spawn(const char *const argv[], const char *const envp[], const char *cwd, int cgroup_fd, int stdin_fd,
              int flags, pid_t *pid, int *stdout_fd, int *stderr_fd, int *pid_fd);

/* The soft open-files limit (RLIMIT_NOFILE) processes spawned by nxa_spawn start with, from now
 * on; negative: the caller's own (the default). Only ever lowers a child's limit, never raises it.
 * The host raises its own soft limit to the hard limit (it holds pipes and logs of many jobs);
 * steps get back the one it was started with, as the user's shell would give them (a program that
 * walks every possible descriptor, or uses select(), is not handed a limit of a million). Each
 * image that links this file (the host, each plugin) keeps its own setting. */
void nxa_set_child_open_files(long long soft);

/* Name the calling thread (`ps -L`, `perf`, gdb; Linux keeps the first 15 bytes). */
void nxa_name_thread(const char *name);

/* pidfd_open(pid): a descriptor that keeps naming this process even if its pid is reused; -1 on error. */
int nxa_pidfd_open(pid_t pid);

/* pidfd_send_signal: returns 0 or an errno value (ESRCH once the process has exited). */
int nxa_pidfd_signal(int pid_fd, int sig);

/* Signal the process group `pgid` (kill(-pgid, sig)); returns 0 or an errno value. Only call it
 * while the group's leader is known to be unreaped (so the id cannot have been reused). */
int nxa_kill_group(pid_t pgid, int sig);

/* prctl(PR_SET_CHILD_SUBREAPER): orphaned descendants are re-parented to this process. */
int nxa_set_child_subreaper(void);

/* mallopt(M_TOP_PAD, bytes): how much more than asked malloc takes from the kernel each time a heap
 * grows (glibc's default, 128 KiB, grows a thread's arena one mprotect call at a time). Returns 1
 * on success, 0 otherwise. (malloc.h is not in Swift's Glibc module.) */
int nxa_malloc_top_pad(long bytes);

/* Whether child `pid` has exited, without reaping it (waitid WNOWAIT): 1 and a wait status in
 * *status_out, 0 while it runs, or -errno. */
int nxa_peek_exit(pid_t pid, int *status_out);

/* fcntl(F_SETPIPE_SZ): make the pipe of `fd` hold `size` bytes. Returns 0 or an errno value
 * (EPERM above /proc/sys/fs/pipe-max-size or over the user's pipe-page limit, EBUSY when the
 * pipe holds more than `size`). */
int nxa_set_pipe_size(int fd, int size);

/* pipe2(O_CLOEXEC): a pipe whose ends no child inherits, not even one another thread starts
 * while it is made. Returns 0 or an errno value. */
int nxa_pipe_cloexec(int fds[2]);

/* For tests of the ways a spawned child's descriptors above 2 are closed: 0 close_range (the
 * default), 1 as if close_range were missing (/proc/self/fd), 2 as if /proc were missing too
 * (every number up to the open-files limit). */
void nxa_test_close_fallback(int level);

/* Tests only: non-zero makes nxa_spawn take the vfork way into a cgroup (the child writes
 * cgroup.procs) even where clone3 works, as on a kernel without it. */
void nxa_test_spawn_without_clone3(int on);

/* posix_spawn_file_actions_addclosefrom_np (glibc 2.34): the spawned process starts with no
 * descriptor from `lowest` up but those the other actions give it. Returns 0 or an errno value
 * (ENOSYS on an older C library). */
int nxa_spawn_actions_close_from(posix_spawn_file_actions_t *actions, int lowest);

/* renameat2(RENAME_NOREPLACE): returns 0 or an errno value (EEXIST when `to` exists). */
int nxa_rename_noreplace(const char *from, const char *to);

/* Mark the folder `path` (one this process made) as the top of a hierarchy, as `chattr +T` does,
 * when it is on an ext4 without a journal: ext4 then places each folder made in it in a block group
 * of its own choosing (the Orlov allocator's rule for the root's folders) instead of beside the
 * parent. Without a journal, a new inode skips every inode of its group freed in the last minutes,
 * checking each; beside a folder where earlier runs made and removed thousands, every mkdir and
 * create pays for all of them. A journaled ext4 does not check, so there is nothing to gain and the
 * flag is not set. Returns 0 or an errno value: EOPNOTSUPP where it does not apply (another file
 * system, ext4 with a journal, or a kernel that does not say: /sys/fs/ext4/DEV/journal_task),
 * ENOTTY where the flag cannot be set. Links are not followed. */
int nxa_spread_subfolders(const char *path);

/* open(2)'s O_PATH (Linux), which Swift's Glibc module leaves out (it needs _GNU_SOURCE): a
 * descriptor that names a file without opening it (no device's open runs). */
#define NXA_O_PATH 010000000

/* Open `path`, relative to the open folder `dirfd`, without following a symbolic link anywhere
 * on the way and without leaving `dirfd` (no "..", no absolute path): openat2 with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, or where the kernel has no
 * openat2 (before 5.6) a walk of `openat(O_NOFOLLOW | O_DIRECTORY)` per folder. For a folder
 * shared with processes that may swap any part of the path for a link while this runs (a
 * container's workspace, handled by root on the host). `flags` are open(2)'s (O_CLOEXEC and
 * O_NOFOLLOW are added; O_CREAT is not allowed). "" or "." opens `dirfd`'s folder again.
 * Returns a descriptor, or -1 with errno: ELOOP or EXDEV for a link or a way out, ENOENT,
 * ENOTDIR, EINVAL for O_CREAT. */
int nxa_open_beneath(int dirfd, const char *path, int flags);

/* As nxa_open_beneath, but a link on the way is followed while it stays below `dirfd` (openat2
 * with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): EXDEV for one that leads out (an absolute link
 * too), ENOSYS where the kernel has no openat2. */
int nxa_open_beneath_links(int dirfd, const char *path, int flags);

/* Copy the regular file `from` to the new file `to` (created exclusively, same permission bits,
 * links not followed): a copy-on-write clone where the file system can (FICLONE), else an
 * in-kernel copy (copy_file_range), else reads and writes. A sparse file keeps its holes (its
 * data found with SEEK_DATA/SEEK_HOLE, its size set with ftruncate). Returns 0 or an errno
 * value; a failed copy leaves no file behind. */
int nxa_copy_file(const char *from, const char *to);

/* Remove `path` and everything below it, links not followed, without a stat per file (d_type):
 * unlinkat relative to each folder's descriptor, folders made writable first where a step took
 * the write bit away. Returns 0 (also when `path` does not exist) or the first errno value. */
int nxa_remove_tree(const char *path);

/* Empty the `count` folders `names` inside the folder `path`, which must hold those and nothing
 * else, each a real folder (a link is refused: ENOTDIR or ELOOP) with permission bits `mode`
 * (EPERM otherwise). `path` is opened once and the others relative to it, none updating its access
 * time. Returns 0 when all of that holds and the folders are empty, else the first errno value
 * (ENOTEMPTY: `path` holds something else). */
int nxa_empty_subfolders(const char *path, const char *const names[], int count, unsigned mode);

/* Whether the cgroup folder `path` holds a process ("populated 1" in its cgroup.events):
 * 1 yes, 0 no, -1 unreadable. With `wait_ms` > 0 and populated, waits (poll on cgroup.events,
 * which the kernel signals on change) until it is empty or the time is up. */
int nxa_cgroup_populated(const char *path, int wait_ms);

/* The file name of the image (executable or library, as the dynamic linker knows it) of each of
 * the calling thread's frames, innermost first (glibc's backtrace and dladdr): at most `capacity`,
 * NULL where unknown; returns how many. For naming the library a call came from. */
int nxa_frame_images(const char **names, int capacity);

/* Flush stdio's standard output: 0 when everything written to it reached it, else the errno value
 * of the failure (-1 when an earlier write failed and the reason is gone). Clears the error. */
int nxa_flush_stdout(void);

/* Room on the file system for `length` bytes of `fd` from `offset`, its size unchanged
 * (fallocate with FALLOC_FL_KEEP_SIZE; `release` non-zero: give such room back, with
 * FALLOC_FL_PUNCH_HOLE). 0, or the errno value (EOPNOTSUPP where the file system has none). */
int nxa_keep_room(int fd, long long offset, long long length, int release);

/* A crash (SIGSEGV, SIGBUS, SIGILL, SIGFPE) whose instruction lies in the loaded image the dynamic
 * linker knows as `linker_name` says `text` (the plugin, "plugin 'ID' (PATH)") on standard error
 * and, after nxa_crash_set_pipe, on that descriptor as "fail TEXT crashed in its own code (signal
 * N (NAME))\n" (the run's supervisor closes its events with it); then the signal's previous action
 * runs as if nothing had been installed (the instruction faults again under it; a signal sent by
 * kill is sent again). The first call installs the handlers; calling again for the same image
 * renames it. At most 64 images; 0, or -1 when the image is not loaded or there is no room. */
int nxa_crash_name_image(const char *linker_name, const char *text);

/* Where crashes are told for the run's supervisor (-1: nowhere). */
void nxa_crash_set_pipe(int fd);

/* Install the crash handlers now (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT), for every
 * crash of the process, not only a named image's. `chain` non-zero: after naming a plugin the
 * previous action runs (Swift's backtracer); zero: the handler writes the signal and the return
 * addresses (backtrace_symbols_fd: image, offset, address; no memory contents) to standard error
 * once, then the default action ends the process. */
void nxa_crash_install(int chain);

/* The soft RLIMIT_CORE to 0 (the hard limit stays): no core file of this process, nor of the
 * programs it starts unless they raise it again (`ulimit -c unlimited`), as on GitHub's runners.
 * 0, or the errno value. */
int nxa_no_core_dumps(void);

#endif
