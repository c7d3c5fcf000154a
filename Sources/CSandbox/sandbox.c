#define _GNU_SOURCE
#include "csandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/mount.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

// Between fork and exec, and in the supervisor, only async-signal-safe calls: the parent is
// multi-threaded.

enum { REPORT_FD = 3 };

static size_t length(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

static void say(const char *s) { (void)!write(2, s, length(s)); }

/// Writes "feather sandbox: WHAT failed (errno N)" to stderr and exits with FW_SANDBOX_SETUP_FAILED.
static void fail(const char *what) {
    int e = errno;
    char digits[12];
    int n = 0;
    do { digits[n++] = (char)('0' + e % 10); e /= 10; } while (e > 0 && n < 11);
    say("feather sandbox: ");
    say(what);
    say(" failed (errno ");
    while (n > 0) (void)!write(2, &digits[--n], 1);
    say(")\n");
    _exit(FW_SANDBOX_SETUP_FAILED);
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void pause_briefly(void) {
    struct timespec t = { 0, 10 * 1000 * 1000 };
    nanosleep(&t, NULL);
}

static void limit(int resource, long value, const char *what) {
    if (value <= 0) return;
    struct rlimit r = { (rlim_t)value, (rlim_t)value };
    if (setrlimit(resource, &r) != 0) fail(what);
}

static void close_from(int first) {
#if defined(__linux__) && defined(SYS_close_range)
    if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0) return;
#endif
    struct rlimit r;
    long last = (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur != RLIM_INFINITY && r.rlim_cur < 65536) ? (long)r.rlim_cur : 65536;
    for (long fd = first; fd < last; fd++) close((int)fd);
}

static void write_all(int fd, const void *data, size_t n) {
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

/// The program: its limits, then exec.
static void exec_program(const fw_sandbox_spec *spec) {
    close(REPORT_FD);
    limit(RLIMIT_CPU, spec->cpuSeconds, "RLIMIT_CPU");
    limit(RLIMIT_AS, spec->memoryBytes, "RLIMIT_AS");
    limit(RLIMIT_FSIZE, spec->fileBytes, "RLIMIT_FSIZE");
    // After the user namespace exists: the kernel counts each namespace's processes apart, so
    // parallel sandboxes do not share one count.
    limit(RLIMIT_NPROC, spec->maxProcesses, "RLIMIT_NPROC");
    struct rlimit none = { 0, 0 };
    setrlimit(RLIMIT_CORE, &none);
    if (chdir(spec->workdir) != 0) fail("chdir to the work directory");
    execve(spec->argv[0], (char *const *)spec->argv, (char *const *)spec->envp);
    fail("execve");
}

/// A process group of its own, killed with the supervisor.
static void lead_group(void) {
    close(REPORT_FD);
    if (setpgid(0, 0) != 0) fail("setpgid");
#ifdef __linux__
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail("PR_SET_PDEATHSIG");
#endif
}

#ifdef __linux__
static void write_file(const char *path, const char *text, const char *what) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, length(text)) != (ssize_t)length(text)) fail(what);
    close(fd);
}

/// New namespaces for the supervisor's children; the program it forks next is pid 1 of the new PID
/// namespace, so every process in it is killed when the program ends.
static void isolate(const fw_sandbox_spec *spec, const char *uidMap, const char *gidMap) {
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS) != 0) fail("unshare");
    write_file("/proc/self/setgroups", "deny", "writing /proc/self/setgroups");
    write_file("/proc/self/uid_map", uidMap, "writing /proc/self/uid_map");
    write_file("/proc/self/gid_map", gidMap, "writing /proc/self/gid_map");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) fail("making mounts private");
    if (mount(spec->workdir, spec->workdir, NULL, MS_BIND | MS_REC, NULL) != 0) fail("bind-mounting the work directory");
    struct mount_attr readOnly = { .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID };
    if (syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &readOnly, sizeof readOnly) != 0) fail("mount_setattr read-only /");
    struct mount_attr writable = { .attr_clr = MOUNT_ATTR_RDONLY };
    if (syscall(SYS_mount_setattr, AT_FDCWD, spec->workdir, AT_RECURSIVE, &writable, sizeof writable) != 0) fail("mount_setattr writable work directory");
}

/// Process 1 of the PID namespace: forks the program, reaps every orphan (so zombies do not count
/// against RLIMIT_NPROC, and the program is not process 1, which ignores signals it has no handler
/// for), and when the program ends sends its wait status on `statusFd` and exits, which kills every
/// process left in the namespace.
static void run_init(const fw_sandbox_spec *spec, int statusFd) {
    lead_group();
    pid_t program = fork();
    if (program < 0) fail("fork in the PID namespace");
    if (program == 0) exec_program(spec);
    for (;;) {
        int status = 0;
        pid_t w = waitpid(-1, &status, 0);
        if (w == program) {
            int32_t raw = status;
            write_all(statusFd, &raw, sizeof raw);
            _exit(0);
        }
        if (w < 0 && errno == ECHILD) _exit(FW_SANDBOX_SETUP_FAILED);
    }
}
#endif

/// Forks the program, waits for it until the deadline, kills its process group, reaps what is left
/// (for at most 2 s: a process that left the group may hold zombies), and reports on REPORT_FD.
static void supervise(const fw_sandbox_spec *spec) {
#ifdef __linux__
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) fail("PR_SET_CHILD_SUBREAPER");
#endif
    double deadline = now() + spec->wallSeconds;
    int initStatus[2] = { -1, -1 };
#ifdef __linux__
    if (spec->isolate && pipe2(initStatus, O_CLOEXEC) != 0) fail("pipe2");
#endif
    pid_t program = fork();
    if (program < 0) fail("fork");
    if (program == 0) {
#ifdef __linux__
        if (spec->isolate) run_init(spec, initStatus[1]);
#endif
        lead_group();
        exec_program(spec);
    }
    int32_t report[3] = { (int32_t)program, 0, 0 };
    write_all(REPORT_FD, report, sizeof report[0]);
    int status = 0, ended = 0;
    while (!ended) {
        pid_t w = waitpid(program, &status, WNOHANG);
        if (w == program) ended = 1;
        else if (w < 0 && errno != EINTR) { ended = 1; status = FW_SANDBOX_SETUP_FAILED << 8; }
        else if (now() > deadline) break;
        else pause_briefly();
    }
    kill(-program, SIGKILL);
    if (!ended) {
        kill(program, SIGKILL);
        while (waitpid(program, &status, 0) < 0 && errno == EINTR) {}
    }
    double reapDeadline = now() + 2;
    for (;;) {
        while (waitpid(-1, NULL, WNOHANG) > 0) {}
        if (kill(-program, SIGKILL) != 0 && errno == ESRCH) break;
        if (now() > reapDeadline) break;
        pause_briefly();
    }
    if (initStatus[0] >= 0) {
        // The program's own status, when process 1 lived to send it.
        int32_t raw;
        close(initStatus[1]);
        fcntl(initStatus[0], F_SETFL, O_NONBLOCK);
        if (read(initStatus[0], &raw, sizeof raw) == (ssize_t)sizeof raw) status = raw;
    }
    report[1] = !ended;
    report[2] = status;
    write_all(REPORT_FD, &report[1], sizeof report - sizeof report[0]);
    _exit(0);
}

fw_sandbox_result fw_sandbox_run(const fw_sandbox_spec *spec) {
    fw_sandbox_result result = { 0, 0, -1, 0, -1 };
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    int err = open(spec->stderrPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int report[2] = { -1, -1 };
#ifdef __linux__
    int piped = pipe2(report, O_CLOEXEC);
#else
    int piped = pipe(report);
#endif
    if (devnull < 0 || err < 0 || piped != 0) {
        result.exitCode = errno;
        if (devnull >= 0) close(devnull);
        if (err >= 0) close(err);
        return result;
    }
    fcntl(report[0], F_SETFD, FD_CLOEXEC);
    fcntl(report[1], F_SETFD, FD_CLOEXEC);
    int drop = geteuid() == 0;
    unsigned outerUid = drop ? FW_SANDBOX_UNPRIVILEGED_ID : (unsigned)geteuid();
    unsigned outerGid = drop ? FW_SANDBOX_UNPRIVILEGED_ID : (unsigned)getegid();
    char uidMap[32], gidMap[32];
    snprintf(uidMap, sizeof uidMap, "0 %u 1", outerUid);
    snprintf(gidMap, sizeof gidMap, "0 %u 1", outerGid);
    pid_t supervisor = fork();
    if (supervisor == 0) {
        if (dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0 || dup2(err, 2) < 0 || dup2(report[1], REPORT_FD) < 0)
            _exit(FW_SANDBOX_SETUP_FAILED);
        close_from(REPORT_FD + 1);
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
        if (setsid() < 0) fail("setsid");
        if (drop) {
#ifdef __linux__
            // Raw syscalls: glibc's wrappers would try to change the credentials of every thread.
            if (syscall(SYS_setgroups, 0, NULL) != 0) fail("setgroups");
            if (syscall(SYS_setresgid, outerGid, outerGid, outerGid) != 0) fail("setresgid");
            if (syscall(SYS_setresuid, outerUid, outerUid, outerUid) != 0) fail("setresuid");
            // Changing uid made the process non-dumpable, which leaves /proc/self/uid_map owned by root.
            if (prctl(PR_SET_DUMPABLE, 1) != 0) fail("PR_SET_DUMPABLE");
#else
            if (setgroups(0, NULL) != 0) fail("setgroups");
            if (setgid(outerGid) != 0) fail("setgid");
            if (setuid(outerUid) != 0) fail("setuid");
#endif
        }
        if (spec->isolate) {
#ifdef __linux__
            isolate(spec, uidMap, gidMap);
#else
            errno = ENOSYS;
            fail("namespaces (Linux only)");
#endif
        }
        supervise(spec);
    }
    int forkError = errno;
    close(devnull);
    close(err);
    close(report[1]);
    if (supervisor < 0) {
        close(report[0]);
        result.exitCode = forkError;
        return result;
    }
    result.started = 1;
    // The supervisor keeps its own deadline; this one only guards against a supervisor that hangs.
    double deadline = now() + spec->wallSeconds + 10;
    int status = 0;
    for (;;) {
        pid_t w = waitpid(supervisor, &status, WNOHANG);
        if (w == supervisor || (w < 0 && errno != EINTR)) break;
        if (now() > deadline) {
            kill(-supervisor, SIGKILL);
            while (waitpid(supervisor, &status, 0) < 0 && errno == EINTR) {}
            break;
        }
        pause_briefly();
    }
    int32_t report_values[3] = { -1, 1, 0 };
    fcntl(report[0], F_SETFL, O_NONBLOCK);
    ssize_t got = read(report[0], report_values, sizeof report_values);
    close(report[0]);
    if (got >= (ssize_t)sizeof report_values[0]) result.processGroup = report_values[0];
    if (got == (ssize_t)sizeof report_values) {
        result.timedOut = report_values[1];
        int programStatus = report_values[2];
        result.exitCode = WIFEXITED(programStatus) ? WEXITSTATUS(programStatus) : -1;
        result.signal = WIFSIGNALED(programStatus) ? WTERMSIG(programStatus) : 0;
    } else {
        // The supervisor failed to set up (its reason is on stderr) or was killed.
        if (result.processGroup > 0) kill(-result.processGroup, SIGKILL);
        result.timedOut = WIFSIGNALED(status);
        result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (result.exitCode == 0) result.exitCode = FW_SANDBOX_SETUP_FAILED;  // never a pass without a report
        result.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    }
    return result;
}
