// CSandbox: runs a program with limits set in the child between fork and exec, which Foundation's
// Process cannot do: rlimits, its own process group killed whole when it ends or times out, an
// unprivileged uid when started as root, and on Linux new user, mount, network, PID, IPC and UTS
// namespaces with every mount read-only but the work directory.
#ifndef FEATHERWEIGHT_CSANDBOX_H
#define FEATHERWEIGHT_CSANDBOX_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Exit status of the program when setting up the sandbox failed; the reason is on its stderr.
#define FW_SANDBOX_SETUP_FAILED 125
/// The uid and gid a program started by root runs as (nobody / nogroup).
#define FW_SANDBOX_UNPRIVILEGED_ID 65534

typedef struct {
    const char *const *argv;   // argv[0] is an absolute path
    const char *const *envp;
    const char *workdir;       // the working directory; the only writable place when isolated
    const char *stderrPath;    // the program's stderr goes here; stdin and stdout are /dev/null
    long cpuSeconds;           // RLIMIT_CPU
    long memoryBytes;          // RLIMIT_AS
    long fileBytes;            // RLIMIT_FSIZE
    long maxProcesses;         // RLIMIT_NPROC
    double wallSeconds;        // then the program's process group is killed
    int isolate;               // nonzero: namespaces and read-only mounts (Linux only)
} fw_sandbox_spec;

typedef struct {
    int started;               // 0: fork or the stderr file failed (errno is in exitCode)
    int timedOut;
    int exitCode;              // -1 when killed by a signal
    int signal;
    pid_t processGroup;        // the program's process group id (its pid, outside any PID namespace)
} fw_sandbox_result;

/// Runs the program and returns when it and its process group are gone (or after wallSeconds + 10 s
/// whatever happens). A supervisor process, in its own session, forks the program into a process group
/// of its own, kills that group with SIGKILL when the program ends or the time is up, and reaps what
/// was left (it is the child subreaper), so processes left behind neither run on nor linger as zombies
/// that count against RLIMIT_NPROC.
fw_sandbox_result fw_sandbox_run(const fw_sandbox_spec *spec);

#ifdef __cplusplus
}
#endif

#endif
