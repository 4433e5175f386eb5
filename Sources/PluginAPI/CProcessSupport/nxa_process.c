#define _GNU_SOURCE
#include "nxa_process.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdint.h>
#include <linux/sched.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

int nxa_find_in_path(const char *name, const char *path, char *out) {
    size_t length = strlen(name);
    int result = ENOENT;
    while (*path) {
        const char *end = strchrnul(path, ':');
        size_t dir = (size_t)(end - path);
        if (dir > 0 && dir + 1 + length < PATH_MAX) {
            memcpy(out, path, dir);
            out[dir] = '/';
            memcpy(out + dir + 1, name, length + 1);
            struct stat info;
            if (access(out, X_OK) == 0) {
                if (stat(out, &info) == 0 && !S_ISDIR(info.st_mode)) return 0;
                result = EACCES;
            } else if (errno == EACCES) {
                result = EACCES;
            }
        }
        path = *end ? end + 1 : end;
    }
    return result;
}

/* The executable for argv0: itself when it has a slash, else its file in the PATH of envp (or
 * the default path), found by `nxa_find_in_path`. Writes into `out` (PATH_MAX bytes). */
static int resolve(const char *argv0, const char *const envp[], char *out) {
    if (strchr(argv0, '/')) {
        if (strlen(argv0) >= PATH_MAX) return ENAMETOOLONG;
        strcpy(out, argv0);
        return 0;
    }
    const char *path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *const *e = envp; *e; e++) {
        if (strncmp(*e, "PATH=", 5) == 0) {
            path = *e + 5;
            break;
        }
    }
    return nxa_find_in_path(argv0, path, out);
}

/* What the child needs between the fork and its exec, and where it reports why it failed. */
struct spawn_child {
    const char *executable;
    const char *const *argv;
    const char *const *envp;
    const char *cwd;
    int cgroup_procs_fd; /* the cgroup's cgroup.procs to move into; -1: none, or made inside (clone3) */
    int stdin_fd;
    int out_write, err_write;
    pid_t parent;   /* with NXA_SPAWN_DIES_WITH_CALLER: the process that spawns; else 0 */
    volatile int error;
};

/* Close every descriptor from 3 up, in a vfork child (no allocation, no locks): close_range
 * (Linux 5.9), else each entry of /proc/self/fd read with getdents64 into a buffer on the stack
 * (an older kernel, or a seccomp profile without close_range), else every number up to the
 * open-files limit. */
static volatile int close_fallback_level = 0;

void nxa_test_close_fallback(int level) { close_fallback_level = level; }

static void close_from_3(void) {
    int level = close_fallback_level;
    if (level < 1 && syscall(SYS_close_range, 3U, ~0U, 0) == 0) return;
    int dir = level < 2 ? open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dir >= 0) {
        char buffer[4096] __attribute__((aligned(8)));
        for (;;) {
            long count = syscall(SYS_getdents64, dir, buffer, sizeof buffer);
            if (count <= 0) break;
            for (long offset = 0; offset < count;) {
                /* struct linux_dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name */
                unsigned short length;
                memcpy(&length, buffer + offset + 16, sizeof length);
                const char *name = buffer + offset + 19;
                int fd = 0, digits = 0;
                for (; name[digits] >= '0' && name[digits] <= '9'; digits++) fd = fd * 10 + (name[digits] - '0');
                if (digits > 0 && name[digits] == 0 && fd >= 3 && fd != dir) close(fd);
                offset += length;
            }
        }
        close(dir);
        return;
    }
    long limit = sysconf(_SC_OPEN_MAX);
    if (limit < 0 || limit > 65536) limit = 65536;
    for (int fd = 3; fd < limit; fd++) close(fd);
}

static volatile long long child_open_files = -1;

void nxa_set_child_open_files(long long soft) { child_open_files = soft; }

/* The child's side: runs in the parent's memory (vfork or CLONE_VM|CLONE_VFORK) until it execs.
 * Never returns. */
static void child_exec(struct spawn_child *c) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, NULL);
    }
    sigset_t none;
    sigemptyset(&none);
    /* Into the job's cgroup before anything can fork: nothing the step starts escapes it. */
    if (c->cgroup_procs_fd >= 0 && write(c->cgroup_procs_fd, "0", 1) != 1) goto fail;
    /* A session of its own (so also a process group of its own, led by the child): no
     * controlling terminal, as on a CI machine. A step that opens /dev/tty gets ENXIO at once
     * instead of being stopped by SIGTTIN/SIGTTOU while the host is the terminal's foreground
     * group (and then ignoring SIGTERM until its grace ran out). */
    if (setsid() < 0) goto fail;
    /* SIGKILL when the thread that spawned it exits (so also when the whole process dies). A
     * parent that died before the call is seen as a new parent pid: exit at once. */
    if (c->parent && (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != c->parent)) goto fail;
    int input = c->stdin_fd >= 0 ? c->stdin_fd : open("/dev/null", O_RDONLY);
    if (input < 0) goto fail;
    if (dup2(input, 0) < 0 || dup2(c->out_write, 1) < 0 || dup2(c->err_write, 2) < 0) goto fail;
    close_from_3();
    if (c->cwd && chdir(c->cwd) != 0) goto fail;
    long long soft = child_open_files;
    struct rlimit files;
    if (soft >= 0 && getrlimit(RLIMIT_NOFILE, &files) == 0 && (rlim_t)soft < files.rlim_cur) {
        files.rlim_cur = (rlim_t)soft;
        setrlimit(RLIMIT_NOFILE, &files); /* best effort: a failure leaves the host's limit */
    }
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(c->executable, (char *const *)c->argv, (char *const *)c->envp);
fail:
    c->error = errno ? errno : EINVAL;
    _exit(127);
}

#if defined(__x86_64__) && defined(CLONE_INTO_CGROUP)
#define NXA_HAVE_CLONE3 1
#ifndef SYS_clone3
#define SYS_clone3 435
#endif

/* Set once clone3 answered ENOSYS (an old kernel, or a seccomp profile that hides it): later
 * spawns go straight to vfork. A race only costs one more failed call. */
static volatile int clone3_missing = 0;
static volatile int clone3_test_off = 0;

void nxa_test_spawn_without_clone3(int on) { clone3_test_off = on; }

static int clone3_child_main(void *argument) {
    child_exec((struct spawn_child *)argument);
    return 127;
}

/* clone3 with the child on its own stack, calling `fn(arg)` there and exiting with its result.
 * glibc has no clone3 wrapper, and a raw syscall() cannot return into a frame the child shares
 * with its parent, so the child's first instructions are here. Returns the child's pid or -errno. */
static long clone3_run(struct clone_args *args, int (*fn)(void *), void *arg) {
    long result;
    register void *function __asm__("r12") = (void *)fn;
    register void *argument __asm__("r13") = arg;
    __asm__ volatile(
        "syscall\n\t"
        "testq %%rax, %%rax\n\t"
        "jnz 1f\n\t"
        /* The child: on its own stack (16-byte aligned at its top), no frame to return to. */
        "xorl %%ebp, %%ebp\n\t"
        "movq %%r13, %%rdi\n\t"
        "callq *%%r12\n\t"
        "movl %%eax, %%edi\n\t"
        "movl $60, %%eax\n\t" /* exit */
        "syscall\n\t"
        "ud2\n\t"
        "1:\n\t"
        : "=a"(result)
        : "a"((long)SYS_clone3), "D"(args), "S"(sizeof *args), "r"(function), "r"(argument)
        : "rcx", "r11", "memory");
    return result;
}
#endif

#ifdef NXA_HAVE_CLONE3
/* Child stacks, reused: the parent waits in clone3 until its child has exec'd or exited, so a
 * stack is free again when clone3 returns. Kept, a spawn neither grows and trims the thread's
 * heap (mprotect, madvise) nor makes the child fault fresh zeroed pages in. */
enum { spawn_stack_size = 64 * 1024, spawn_stack_pool = 8 };
static pthread_mutex_t spawn_stack_lock = PTHREAD_MUTEX_INITIALIZER;
static void *spawn_stacks[spawn_stack_pool];
static int spawn_stack_count = 0;

static void *take_stack(void) {
    void *stack = NULL;
    pthread_mutex_lock(&spawn_stack_lock);
    if (spawn_stack_count > 0) stack = spawn_stacks[--spawn_stack_count];
    pthread_mutex_unlock(&spawn_stack_lock);
    return stack ? stack : malloc(spawn_stack_size);
}

static void give_stack(void *stack) {
    pthread_mutex_lock(&spawn_stack_lock);
    if (spawn_stack_count < spawn_stack_pool) {
        spawn_stacks[spawn_stack_count++] = stack;
        stack = NULL;
    }
    pthread_mutex_unlock(&spawn_stack_lock);
    free(stack);
}
#endif

static int spawn_resolved(const char *executable, const char *const argv[], const char *const envp[], const char *cwd,
                          int cgroup_fd, int stdin_fd, int flags, pid_t *pid, int *stdout_fd, int *stderr_fd, int *pid_fd) {
    int rc;
    int out[2] = {-1, -1}, err[2] = {-1, -1};
    if (pipe2(out, O_CLOEXEC) != 0) return errno;
    if (pipe2(err, O_CLOEXEC) != 0) {
        rc = errno;
        close(out[0]);
        close(out[1]);
        return rc;
    }
    struct spawn_child c = {
        .executable = executable, .argv = argv, .envp = envp, .cwd = cwd, .cgroup_procs_fd = -1,
        .stdin_fd = stdin_fd, .out_write = out[1], .err_write = err[1], .error = 0,
        .parent = (flags & NXA_SPAWN_DIES_WITH_CALLER) ? getpid() : 0,
    };

    /* The child shares our memory until it execs: no signal handler of ours may run in it, so
     * every signal is blocked across the fork and reset to its default in the child. SIGCHLD is
     * left out when it has no handler (nothing can run for it): this thread is often woken from
     * the vfork onto the child's CPU and waits there until the step ends, still inside this
     * function, and a SIGCHLD blocked here at that moment would wake the main thread (see below). */
    sigset_t all, previous;
    sigfillset(&all);
    struct sigaction child_action;
    if (sigaction(SIGCHLD, NULL, &child_action) == 0 && !(child_action.sa_flags & SA_SIGINFO) &&
        (child_action.sa_handler == SIG_DFL || child_action.sa_handler == SIG_IGN))
        sigdelset(&all, SIGCHLD);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t child = -1;
#ifdef NXA_HAVE_CLONE3
    /* Made inside its cgroup (CLONE_INTO_CGROUP, Linux 5.7): a process that moves itself by
     * writing cgroup.procs takes the cgroup threadgroup lock for writing, which waits for an RCU
     * grace period when no move happened recently (about 20 ms here, on the first step of a run).
     * Any failure (an older kernel, a cgroup that refuses) falls back to vfork and the write. */
    if (cgroup_fd >= 0 && !clone3_missing && !clone3_test_off) {
        void *stack = take_stack();
        if (stack) {
            struct clone_args args;
            memset(&args, 0, sizeof args);
            args.flags = CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP;
            args.exit_signal = SIGCHLD;
            args.stack = (uint64_t)(uintptr_t)stack;
            args.stack_size = spawn_stack_size;
            args.cgroup = (uint64_t)cgroup_fd;
            long made = clone3_run(&args, clone3_child_main, &c);
            give_stack(stack);
            if (made > 0) child = (pid_t)made;
            else if (made == -ENOSYS) clone3_missing = 1;
        }
    }
#endif
    if (child < 0) {
        /* The child moves itself: cgroup.procs is opened only for this way. */
        if (cgroup_fd >= 0) c.cgroup_procs_fd = openat(cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
        if (cgroup_fd >= 0 && c.cgroup_procs_fd < 0) {
            child = -1;
        } else {
            child = vfork();
            if (child == 0) child_exec(&c);
        }
    }
    rc = child < 0 ? errno : c.error;
    if (c.cgroup_procs_fd >= 0) close(c.cgroup_procs_fd);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    /* SIGCHLD stays unblocked in this thread from now on. At a child's exit the kernel checks its
     * parent thread (this one): with SIGCHLD blocked there (libdispatch's threads block every
     * signal) the signal is queued for the process and wakes the one thread that takes it, the
     * main thread in sigsuspend, at every step; unblocked, its default action (ignore) drops it.
     * Nothing here waits for SIGCHLD: exits are seen through pidfds. */
    sigset_t child_signal;
    sigemptyset(&child_signal);
    sigaddset(&child_signal, SIGCHLD);
    pthread_sigmask(SIG_UNBLOCK, &child_signal, NULL);
    close(out[1]);
    close(err[1]);
    if (child > 0 && rc != 0) {
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    }
    if (rc != 0) {
        close(out[0]);
        close(err[0]);
        return rc;
    }
    *pid = child;
    *stdout_fd = out[0];
    *stderr_fd = err[0];
    /* Safe: the child is ours and unreaped, so its pid cannot have been reused. */
    *pid_fd = (int)syscall(SYS_pidfd_open, child, 0);
    return 0;
}

int nxa_spawn(const char *const argv[], const char *const envp[], const char *cwd, int cgroup_fd, int stdin_fd,
              int flags, pid_t *pid, int *stdout_fd, int *stderr_fd, int *pid_fd) {
    char *executable = malloc(PATH_MAX);
    if (!executable) return ENOMEM;
    int rc = resolve(argv[0], envp, executable);
    if (rc == 0) rc = spawn_resolved(executable, argv, envp, cwd, cgroup_fd, stdin_fd, flags, pid, stdout_fd, stderr_fd, pid_fd);
    if (rc == ENOEXEC) {
        /* An executable file the kernel cannot run (a script without a `#!` line): run it with
         * /bin/sh, as execvp does. The argument vector is made here, in the parent: the child
         * of a vfork may not allocate. */
        size_t count = 0;
        while (argv[count]) count++;
        const char **shell = malloc((count + 2) * sizeof *shell);
        if (!shell) {
            rc = ENOMEM;
        } else {
            shell[0] = "/bin/sh";
            shell[1] = executable;
            for (size_t i = 1; i <= count; i++) shell[i + 1] = argv[i];
            rc = spawn_resolved("/bin/sh", shell, envp, cwd, cgroup_fd, stdin_fd, flags, pid, stdout_fd, stderr_fd, pid_fd);
            free(shell);
        }
    }
    free(executable);
    return rc;
}

void nxa_name_thread(const char *name) { prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0); }

int nxa_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

int nxa_pidfd_signal(int pid_fd, int sig) {
    return syscall(SYS_pidfd_send_signal, pid_fd, sig, NULL, 0) == 0 ? 0 : errno;
}

int nxa_kill_group(pid_t pgid, int sig) {
    if (pgid <= 1) return EINVAL;
    return kill(-pgid, sig) == 0 ? 0 : errno;
}

int nxa_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 ? 0 : errno; }

#include <malloc.h>
int nxa_malloc_top_pad(long bytes) { return mallopt(M_TOP_PAD, (int)bytes); }

int nxa_peek_exit(pid_t pid, int *status_out) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    for (;;) {
        int rc = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT);
        if (rc == 0) break;
        if (errno == EINTR) continue;
        return -errno;
    }
    if (info.si_pid == 0) return 0;
    *status_out = info.si_code == CLD_EXITED ? (info.si_status & 0xff) << 8 : (info.si_status & 0x7f);
    return 1;
}

int nxa_set_pipe_size(int fd, int size) { return fcntl(fd, F_SETPIPE_SZ, size) >= 0 ? 0 : errno; }

int nxa_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC) == 0 ? 0 : errno; }

int nxa_spawn_actions_close_from(posix_spawn_file_actions_t *actions, int lowest) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    return posix_spawn_file_actions_addclosefrom_np(actions, lowest);
#else
    (void)actions;
    (void)lowest;
    return ENOSYS;
#endif
}

int nxa_rename_noreplace(const char *from, const char *to) {
    return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0 ? 0 : errno;
}

#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>

/* Whether the open folder `fd` is on an ext4 without a journal: its device's
 * /sys/fs/ext4/NAME/journal_task reads `<none>` (NAME from /sys/dev/block/MAJOR:MINOR). */
static int on_ext4_without_journal(int fd) {
    struct statfs fs;
    struct stat info;
    if (fstatfs(fd, &fs) != 0 || fs.f_type != EXT4_SUPER_MAGIC || fstat(fd, &info) != 0) return 0;
    char link[64], target[PATH_MAX], file[PATH_MAX];
    snprintf(link, sizeof link, "/sys/dev/block/%u:%u", major(info.st_dev), minor(info.st_dev));
    ssize_t length = readlink(link, target, sizeof target - 1);
    if (length <= 0) return 0;
    target[length] = 0;
    const char *name = strrchr(target, '/');
    name = name ? name + 1 : target;
    if (snprintf(file, sizeof file, "/sys/fs/ext4/%s/journal_task", name) >= (int)sizeof file) return 0;
    int journal = open(file, O_RDONLY | O_CLOEXEC);
    if (journal < 0) return 0;
    char text[16] = {0};
    ssize_t got = read(journal, text, sizeof text - 1);
    close(journal);
    return got >= 6 && memcmp(text, "<none>", 6) == 0;
}

int nxa_spread_subfolders(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return errno;
    int result = 0;
    if (!on_ext4_without_journal(fd)) {
        result = EOPNOTSUPP;
    } else {
        /* The kernel reads and writes an int, whatever the ioctl's declared type. */
        int flags = 0;
        if (ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
            result = errno;
        } else if (!(flags & FS_TOPDIR_FL)) {
            flags |= FS_TOPDIR_FL;
            if (ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0) result = errno;
        }
    }
    close(fd);
    return result;
}

/* openat2(2)'s argument and flags, declared here: the C library may have no header for them. */
struct nxa_open_how {
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};
#define NXA_RESOLVE_NO_MAGICLINKS 0x02
#define NXA_RESOLVE_NO_SYMLINKS 0x04
#define NXA_RESOLVE_BENEATH 0x08

int nxa_open_beneath(int dirfd, const char *path, int flags) {
    if (flags & O_CREAT) {
        errno = EINVAL;
        return -1;
    }
    flags |= O_CLOEXEC | O_NOFOLLOW;
    const char *relative = (path[0] == 0) ? "." : path;
    struct nxa_open_how how = {(uint64_t)flags, 0, NXA_RESOLVE_BENEATH | NXA_RESOLVE_NO_SYMLINKS | NXA_RESOLVE_NO_MAGICLINKS};
    long fd = syscall(SYS_openat2, dirfd, relative, &how, sizeof how);
    if (fd >= 0 || (errno != ENOSYS && errno != EPERM)) return (int)fd;
    /* No openat2 (or a seccomp filter that refuses it): one folder at a time. */
    if (relative[0] == '/') {
        errno = EXDEV;
        return -1;
    }
    int current = dup(dirfd);
    if (current < 0) return -1;
    const char *part = relative;
    while (1) {
        while (*part == '/') part++;
        const char *end = strchrnul(part, '/');
        const char *next = end;
        while (*next == '/') next++;
        size_t length = (size_t)(end - part);
        if (length >= NAME_MAX + 1) {
            close(current);
            errno = ENAMETOOLONG;
            return -1;
        }
        char name[NAME_MAX + 1];
        memcpy(name, part, length);
        name[length] = 0;
        if (length == 2 && name[0] == '.' && name[1] == '.') {
            close(current);
            errno = EXDEV;
            return -1;
        }
        int last = (*next == 0);
        int opened;
        if (length == 0 || (length == 1 && name[0] == '.')) {
            opened = last ? openat(current, ".", flags) : dup(current);
        } else {
            opened = openat(current, name, last ? flags : (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        }
        int saved = errno;
        close(current);
        if (opened < 0) {
            errno = saved;
            return -1;
        }
        if (last) return opened;
        current = opened;
        part = next;
    }
}

int nxa_open_beneath_links(int dirfd, const char *path, int flags) {
    if (flags & O_CREAT) {
        errno = EINVAL;
        return -1;
    }
    struct nxa_open_how how = {(uint64_t)(flags | O_CLOEXEC), 0, NXA_RESOLVE_BENEATH | NXA_RESOLVE_NO_MAGICLINKS};
    return (int)syscall(SYS_openat2, dirfd, path[0] == 0 ? "." : path, &how, sizeof how);
}

/* Copy `length` bytes at `offset` of `in` to the same offset of `out`: in the kernel
 * (copy_file_range) where it can, else by reads and writes. Returns 0 or an errno value. */
static int nxa_copy_range(int in, int out, off_t offset, off_t length) {
    off_t end = offset + length;
    int in_kernel = 1;
    while (offset < end) {
        if (in_kernel) {
            loff_t from = offset, to = offset;
            ssize_t copied = copy_file_range(in, &from, out, &to, (size_t)(end - offset), 0);
            if (copied < 0 && errno == EINTR) continue;
            if (copied > 0) {
                offset += copied;
                continue;
            }
            if (copied == 0) return 0; /* the file got shorter while it was copied */
            if (errno != EXDEV && errno != ENOSYS && errno != EOPNOTSUPP && errno != EINVAL) return errno;
            in_kernel = 0; /* not possible between these files: plain reads and writes */
        }
        char buffer[65536];
        size_t want = (size_t)(end - offset) < sizeof buffer ? (size_t)(end - offset) : sizeof buffer;
        ssize_t got = pread(in, buffer, want, offset);
        if (got < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (got == 0) return 0;
        for (ssize_t done = 0; done < got;) {
            ssize_t put = pwrite(out, buffer + done, (size_t)(got - done), offset + done);
            if (put < 0) {
                if (errno == EINTR) continue;
                return errno;
            }
            done += put;
        }
        offset += got;
    }
    return 0;
}

int nxa_copy_file(const char *from, const char *to) {
    int in = open(from, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (in < 0) return errno;
    struct stat info;
    if (fstat(in, &info) != 0) {
        int saved = errno;
        close(in);
        return saved;
    }
    int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, info.st_mode & 07777);
    if (out < 0) {
        int saved = errno;
        close(in);
        return saved;
    }
    int rc = 0;
    /* A copy-on-write clone where the file system has them (btrfs, xfs): no data is copied. */
    if (ioctl(out, FICLONE, in) != 0) {
        int copied = 0;
        /* A sparse file (fewer blocks than its size: a disk image, a core file) keeps its holes:
         * only its data is copied, and the size is set at the end (audit 57 M2: a 2 GiB image of
         * a few blocks was written in full into every workspace). */
        if ((off_t)info.st_blocks * 512 < info.st_size) {
            off_t position = 0;
            copied = 1;
            while (position < info.st_size) {
                off_t data = lseek(in, position, SEEK_DATA);
                if (data < 0) {
                    if (errno == ENXIO) break; /* only a hole is left */
                    copied = 0;                /* no SEEK_DATA here: copy it all */
                    break;
                }
                if (data >= info.st_size) break;
                off_t hole = lseek(in, data, SEEK_HOLE);
                if (hole < 0 || hole > info.st_size) hole = info.st_size;
                rc = nxa_copy_range(in, out, data, hole - data);
                if (rc != 0) break;
                position = hole;
            }
            if (copied && rc == 0 && ftruncate(out, info.st_size) != 0) rc = errno;
        }
        if (!copied && rc == 0) rc = nxa_copy_range(in, out, 0, info.st_size);
    }
    close(in);
    if (close(out) != 0 && rc == 0) rc = errno;
    if (rc != 0) unlink(to);
    return rc;
}

#include <dirent.h>
#include <poll.h>
#include <time.h>

/* Empty the folder open as `dir` (the descriptor stays open; the caller closes it). */
/* "." or "..". */
static int nxa_is_dot_entry(const char *name) {
    return name[0] == '.' && (name[1] == 0 || (name[1] == '.' && name[2] == 0));
}

#include <sys/mount.h>

/* The mount id of `name` in the folder `dir` ("" with AT_EMPTY_PATH: `dir` itself), not following
   a link; 0 when it cannot be told. */
static unsigned long long nxa_mount_id(int dir, const char *name) {
    struct statx info;
    int flags = AT_SYMLINK_NOFOLLOW | (name[0] ? 0 : AT_EMPTY_PATH);
    if (statx(dir, name, flags, STATX_MNT_ID, &info) != 0 || !(info.stx_mask & STATX_MNT_ID)) return 0;
    return info.stx_mnt_id;
}

/* `name` in `dir` is a mount point (a step bind-mounted a folder into its workspace and left it):
   never entered, since what is mounted is not the run's (a shared cache, a folder of the host).
   It is detached (MNT_DETACH, allowed to root), after which the folder under it is removed like any
   other. 0 when detached; otherwise EBUSY: it stays, and so does the folder holding it. */
static int nxa_detach_mount(int dir, const char *name) {
    char path[64 + NAME_MAX];
    snprintf(path, sizeof path, "/proc/self/fd/%d/%s", dir, name);
    return umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) == 0 ? 0 : EBUSY;
}

/* Make the folder `name` in `dir` 0700 without following a link swapped in at `name` (review 52:
 * fchmodat without a flag follows it): named with O_PATH | O_NOFOLLOW, checked to be a folder,
 * changed through its descriptor's /proc path. Returns 0 or -1 with errno. */
static int chmod_folder_at(int dir, const char *name) {
    int handle = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (handle < 0) return -1;
    struct stat info;
    int rc = -1;
    if (fstat(handle, &info) == 0 && S_ISDIR(info.st_mode)) {
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", handle);
        rc = chmod(path, 0700);
    } else {
        errno = ENOTDIR;
    }
    int saved = errno;
    close(handle);
    errno = saved;
    return rc;
}

static int nxa_remove_contents(int dir, int depth) {
    int first_error = 0;
    unsigned long long here = nxa_mount_id(dir, "");
    for (int pass = 0; pass < 8; pass++) {
        int copy = dup(dir);
        if (copy < 0) return errno;
        DIR *stream = fdopendir(copy);
        if (!stream) {
            int saved = errno;
            close(copy);
            return saved;
        }
        rewinddir(stream);
        int removed = 0, left = 0;
        struct dirent *entry;
        while ((entry = readdir(stream)) != NULL) {
            const char *name = entry->d_name;
            if (nxa_is_dot_entry(name)) continue;
            int is_dir = entry->d_type == DT_DIR;
            if (!is_dir) {
                if (unlinkat(dir, name, 0) == 0 || errno == ENOENT) { removed++; continue; }
                if (errno != EISDIR && errno != EBUSY) { if (!first_error) first_error = errno; left++; continue; }
                is_dir = errno == EISDIR; /* DT_UNKNOWN on some file systems; EBUSY: a file mounted over */
            }
            if (is_dir && (unlinkat(dir, name, AT_REMOVEDIR) == 0 || errno == ENOENT)) { removed++; continue; }
            unsigned long long there = nxa_mount_id(dir, name);
            if (here && there && there != here) {
                int rc = nxa_detach_mount(dir, name);
                if (rc == 0) { removed++; left++; continue; } /* another pass removes the folder under it */
                if (!first_error) first_error = rc;
                left++;
                continue;
            }
            if (!is_dir) { if (!first_error) first_error = EBUSY; left++; continue; }
            if (depth > 4096) { if (!first_error) first_error = ELOOP; left++; continue; }
            int child = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (child < 0 && errno == EACCES && chmod_folder_at(dir, name) == 0)
                child = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (child < 0) { if (errno != ENOENT && !first_error) first_error = errno; left++; continue; }
            fchmod(child, 0700); /* a step may have made the folder read-only */
            int rc = nxa_remove_contents(child, depth + 1);
            close(child);
            if (unlinkat(dir, name, AT_REMOVEDIR) == 0 || errno == ENOENT) { removed++; continue; }
            if (!first_error) first_error = rc ? rc : errno;
            left++;
        }
        closedir(stream);
        if (left == 0 || removed == 0) return left == 0 ? 0 : first_error;
        first_error = 0; /* entries that appeared or moved while reading: another pass */
    }
    return first_error;
}

int nxa_remove_tree(const char *path) {
    if (unlink(path) == 0 || errno == ENOENT) return 0;
    if (errno != EISDIR && errno != EPERM) return errno;
    if (rmdir(path) == 0 || errno == ENOENT) return 0;
    int dir = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    /* A folder of ours a step made unreadable (chmod 000): readable again, then removed (audit 66
       hardening L2: left behind for good). chmod follows a link: only when lstat says a folder. */
    struct stat info;
    if (dir < 0 && errno == EACCES && lstat(path, &info) == 0 && S_ISDIR(info.st_mode) && chmod(path, 0700) == 0)
        dir = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0) return errno == ENOENT ? 0 : errno;
    fchmod(dir, 0700);
    int rc = nxa_remove_contents(dir, 0);
    close(dir);
    if (rmdir(path) == 0 || errno == ENOENT) return 0;
    return rc ? rc : errno;
}

/* The entries of the open folder `dir` other than . and .., counted from its current offset (a
   fresh descriptor's is 0) and up to `limit` at most; -1 on error. With getdents64 directly: an
   empty folder, the usual case at job end, costs two calls, where opendir and readdir cost a dup,
   an fstat, two fcntl, an lseek and a close more. */
static int nxa_count_entries(int dir, int limit) {
    char buffer[2048] __attribute__((aligned(8)));
    int count = 0;
    for (;;) {
        ssize_t got = getdents64(dir, buffer, sizeof buffer);
        if (got < 0) return -1;
        if (got == 0) return count;
        for (ssize_t at = 0; at < got;) {
            struct dirent64 *entry = (struct dirent64 *)(buffer + at);
            if (!nxa_is_dot_entry(entry->d_name) && ++count >= limit) return count;
            at += entry->d_reclen;
        }
    }
}

/* A folder opened for reading without updating its access time (O_NOATIME: allowed to its owner;
   without it, the first read after each change writes the inode back). */
static int nxa_open_folder_at(int at, const char *name) {
    int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(at, name, flags | O_NOATIME);
    if (fd < 0 && errno == EPERM) fd = openat(at, name, flags);
    return fd;
}

int nxa_empty_subfolders(const char *path, const char *const names[], int count, unsigned mode) {
    int dir = nxa_open_folder_at(AT_FDCWD, path);
    if (dir < 0) return errno;
    int rc = 0;
    for (int i = 0; i < count && rc == 0; i++) {
        int sub = nxa_open_folder_at(dir, names[i]);
        if (sub < 0) {
            rc = errno;
            break;
        }
        struct stat info;
        if (fstat(sub, &info) != 0) rc = errno;
        else if ((info.st_mode & 07777) != mode) rc = EPERM;
        /* Not empty: nxa_remove_contents reads it again from the top (its rewinddir moves the
           offset this descriptor shares with its dup). */
        else if (nxa_count_entries(sub, 1) != 0) rc = nxa_remove_contents(sub, 0);
        close(sub);
    }
    if (rc == 0) {
        int entries = nxa_count_entries(dir, count + 1);
        if (entries < 0) rc = errno;
        else if (entries != count) rc = ENOTEMPTY;
    }
    close(dir);
    return rc;
}

static int nxa_events_populated(int fd) {
    char buffer[256];
    ssize_t got = pread(fd, buffer, sizeof buffer - 1, 0);
    if (got < 0) return -1;
    buffer[got] = 0;
    return strstr(buffer, "populated 1") != NULL;
}

int nxa_cgroup_populated(const char *path, int wait_ms) {
    char file[PATH_MAX];
    if (snprintf(file, sizeof file, "%s/cgroup.events", path) >= (int)sizeof file) return -1;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int populated = nxa_events_populated(fd);
    if (populated == 1 && wait_ms > 0) {
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
            if (elapsed >= wait_ms) break;
            /* The kernel flags a change of cgroup.events with POLLPRI; a short cap guards against a
             * change that happened between the read and the poll. */
            struct pollfd watch = {.fd = fd, .events = POLLPRI};
            long slice = wait_ms - elapsed < 50 ? wait_ms - elapsed : 50;
            int rc = poll(&watch, 1, (int)slice);
            if (rc < 0 && errno != EINTR) break;
            populated = nxa_events_populated(fd);
            if (populated != 1) break;
        }
    }
    close(fd);
    return populated;
}

#include <dlfcn.h>
#include <execinfo.h>

int nxa_frame_images(const char **names, int capacity) {
    void *frames[128];
    int count = backtrace(frames, capacity < 128 ? capacity : 128);
    for (int i = 0; i < count; i++) {
        Dl_info info;
        names[i] = dladdr(frames[i], &info) && info.dli_fname ? info.dli_fname : NULL;
    }
    return count;
}

int nxa_flush_stdout(void) {
    errno = 0;
    int flushed = fflush(stdout);
    int error = errno;
    if (flushed == 0 && !ferror(stdout)) return 0;
    clearerr(stdout);
    return error ? error : -1;
}

int nxa_keep_room(int fd, long long offset, long long length, int release) {
    int mode = FALLOC_FL_KEEP_SIZE | (release ? FALLOC_FL_PUNCH_HOLE : 0);
    return fallocate(fd, mode, (off_t)offset, (off_t)length) == 0 ? 0 : errno;
}

/* ─── Naming the plugin a crash happened in (audit 61 ABI M3) ─── */

#include <execinfo.h>
#include <link.h>
#include <ucontext.h>

#define NXA_CRASH_IMAGES 64
#define NXA_CRASH_TEXT 600

struct nxa_crash_image {
    uintptr_t start, end;
    char text[NXA_CRASH_TEXT];
};

static struct nxa_crash_image crash_images[NXA_CRASH_IMAGES];
static volatile sig_atomic_t crash_image_count;
static volatile sig_atomic_t crash_pipe = -1;
static struct sigaction crash_previous[NSIG];
static pthread_mutex_t crash_lock = PTHREAD_MUTEX_INITIALIZER;
static int crash_installed;
/* Whether a crash goes on to the action from before (Swift's backtracer); else to the default. */
static volatile sig_atomic_t crash_chain = 1;
static volatile sig_atomic_t crash_reported;

struct crash_search {
    const char *name;
    uintptr_t start, end;
};

static int crash_find_image(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct crash_search *search = data;
    if (!info->dlpi_name || strcmp(info->dlpi_name, search->name) != 0) return 0;
    uintptr_t low = UINTPTR_MAX, high = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *header = &info->dlpi_phdr[i];
        if (header->p_type != PT_LOAD) continue;
        uintptr_t start = info->dlpi_addr + header->p_vaddr;
        uintptr_t end = start + header->p_memsz;
        if (start < low) low = start;
        if (end > high) high = end;
    }
    if (high <= low) return 0;
    search->start = low;
    search->end = high;
    return 1;
}

static size_t crash_append(char *buffer, size_t used, size_t capacity, const char *text) {
    while (*text && used + 1 < capacity) buffer[used++] = *text++;
    buffer[used] = 0;
    return used;
}

static const char *crash_signal_name(int sig) {
    switch (sig) {
    case SIGSEGV: return "11 (SIGSEGV)";
    case SIGBUS: return "7 (SIGBUS)";
    case SIGILL: return "4 (SIGILL)";
    case SIGFPE: return "8 (SIGFPE)";
    case SIGTRAP: return "5 (SIGTRAP)";
    case SIGABRT: return "6 (SIGABRT)";
    default: return "?";
    }
}

static void crash_handler(int sig, siginfo_t *info, void *context) {
    int saved = errno;
    uintptr_t pc = 0;
#if defined(__x86_64__)
    pc = (uintptr_t)((ucontext_t *)context)->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    pc = (uintptr_t)((ucontext_t *)context)->uc_mcontext.pc;
#else
    (void)context;
#endif
    int count = crash_image_count;
    for (int i = 0; i < count && pc; i++) {
        if (pc < crash_images[i].start || pc >= crash_images[i].end) continue;
        char line[NXA_CRASH_TEXT + 200];
        size_t used = 0;
        used = crash_append(line, used, sizeof line, "fail ");
        used = crash_append(line, used, sizeof line, crash_images[i].text);
        used = crash_append(line, used, sizeof line, " crashed in its own code (signal ");
        used = crash_append(line, used, sizeof line, crash_signal_name(sig));
        used = crash_append(line, used, sizeof line, ")\n");
        int pipe_fd = crash_pipe;
        if (pipe_fd >= 0) (void)!write(pipe_fd, line, used);
        (void)!write(STDERR_FILENO, "\nnixactions: error: ", 20);
        (void)!write(STDERR_FILENO, line + 5, used - 5);
        break;
    }
    if (crash_chain) {
        /* The action from before: the instruction faults again under it (a backtrace, a core dump);
         * a signal that was sent rather than caused is sent again. */
        sigaction(sig, &crash_previous[sig], NULL);
    } else {
        /* The host's own: the signal and the return addresses (images and offsets, never memory:
         * Swift's backtracer prints 16 bytes at each register, which may be a secret's; audit 63
         * secrets M2), once, whichever thread crashes first; then the default action. */
        if (!__atomic_exchange_n(&crash_reported, 1, __ATOMIC_SEQ_CST)) {
            /* Should the unwinder hang (a lock the crashed thread held), SIGALRM's default ends it. */
            alarm(5);
            char line[160];
            size_t used = crash_append(line, 0, sizeof line, "\nnixactions: crashed with signal ");
            used = crash_append(line, used, sizeof line, crash_signal_name(sig));
            used = crash_append(line, used, sizeof line, "; return addresses (SWIFT_BACKTRACE=enable=yes for Swift's backtrace):\n");
            (void)!write(STDERR_FILENO, line, used);
            void *frames[48];
            int depth = backtrace(frames, 48);
            backtrace_symbols_fd(frames, depth, STDERR_FILENO);
        }
        struct sigaction fallback;
        memset(&fallback, 0, sizeof fallback);
        fallback.sa_handler = SIG_DFL;
        sigemptyset(&fallback.sa_mask);
        sigaction(sig, &fallback, NULL);
    }
    /* A signal sent, not caused, is sent again; so is a trap (int3): the instruction after it
     * would run on (review 63). */
    if ((info && info->si_code <= 0) || sig == SIGTRAP || sig == SIGABRT) raise(sig);
    errno = saved;
}

/* Install the handlers (under crash_lock). */
static void crash_install_locked(void) {
    if (crash_installed) return;
    crash_installed = 1;
    static const int signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT};
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = crash_handler;
        action.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&action.sa_mask);
        sigaction(signals[i], &action, &crash_previous[signals[i]]);
    }
}

void nxa_crash_install(int chain) {
    /* backtrace() loads its unwinder on its first call, which a signal handler must not do. */
    void *frame[1];
    (void)backtrace(frame, 1);
    pthread_mutex_lock(&crash_lock);
    crash_chain = chain ? 1 : 0;
    crash_install_locked();
    pthread_mutex_unlock(&crash_lock);
}

int nxa_crash_name_image(const char *linker_name, const char *text) {
    struct crash_search search = {linker_name, 0, 0};
    if (!dl_iterate_phdr(crash_find_image, &search)) return -1;
    pthread_mutex_lock(&crash_lock);
    int count = crash_image_count;
    int slot = count;
    for (int i = 0; i < count; i++)
        if (crash_images[i].start == search.start) slot = i;
    if (slot >= NXA_CRASH_IMAGES) {
        pthread_mutex_unlock(&crash_lock);
        return -1;
    }
    /* A slot is whole before the count names it (the handler reads without the lock); a renamed
     * one is rewritten in place, which a crash at that moment may see half done. */
    crash_images[slot].start = search.start;
    crash_images[slot].end = search.end;
    size_t length = strlen(text);
    if (length >= NXA_CRASH_TEXT) length = NXA_CRASH_TEXT - 1;
    memcpy(crash_images[slot].text, text, length);
    crash_images[slot].text[length] = 0;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    if (slot == count) crash_image_count = count + 1;
    crash_install_locked();
    pthread_mutex_unlock(&crash_lock);
    return 0;
}

void nxa_crash_set_pipe(int fd) { crash_pipe = fd; }

int nxa_no_core_dumps(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_CORE, &limit) != 0) return errno;
    limit.rlim_cur = 0;
    return setrlimit(RLIMIT_CORE, &limit) == 0 ? 0 : errno;
}
