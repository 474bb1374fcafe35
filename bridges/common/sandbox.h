/* bridges/common/sandbox.h — the OS sandbox every worker enters before it runs any plugin code. */
#ifndef BAY_SANDBOX_H
#define BAY_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

#include <plugbay/error.h>

/* What the sandbox allows; plugbayd passes it in the worker's environment
 * (see bay__sandbox_from_env). Strings are borrowed. */
typedef struct bay__sandbox {
    const char *plugin_dir;  /* read and execute */
    const char *data_dir;    /* read and write */
    const char *grants;      /* the granted permissions, one per line */
    int64_t memory_mb;       /* what the plugin may allocate, on top of the worker's own; 0 = no limit */
    int64_t open_files;      /* RLIMIT_NOFILE; 0 = unchanged */
    int64_t cpu_seconds;     /* RLIMIT_CPU; 0 = none */
    const char *hide;        /* plugbayd's socket files and folders the worker must not reach, one per line */
    const char *keep;        /* the worker's own socket file, reachable where it is even in a hidden folder */
} bay__sandbox;

/* bay__sandbox_from_env fills s from PLUGBAY_SANDBOX_* variables. Returns 1
 * when the broker asked for a sandbox, 0 when it did not (--no-sandbox). */
int bay__sandbox_from_env(bay__sandbox *s);

/* bay__sandbox_apply enters the sandbox for the rest of the process's life:
 * a user and mount namespace of its own in which plugbayd's sockets (hide)
 * are covered and every capability is dropped, resource limits (but memory:
 * see bay__sandbox_limit_memory), no new privileges, Landlock file and network rules (where
 * the kernel has Landlock) and scopes (no signal to, no abstract Unix socket
 * of, a process outside the worker: ABI 6), and a seccomp filter refusing
 * execve, fork, sockets other than Unix ones, signals to other processes,
 * pidfds, io_uring, ptrace and system administration calls unless the grants
 * allow them. Call it while the process has one thread, so
 * every thread started later inherits it. Returns 0, or BAY_EPERM/BAY_EIO with
 * err saying which layer failed; notes (a layer the kernel lacks) go to
 * warn(line) when warn is not NULL. */
int bay__sandbox_apply(const bay__sandbox *s, void (*warn)(const char *line), bay_error *err);

/* bay__sandbox_user_namespace puts the calling process, which must have one
 * thread, in a new user namespace with its uid and gid mapped to 0: it keeps
 * no capability in the namespace it leaves. NULL, or the step that failed
 * with errno set. */
const char *bay__sandbox_user_namespace(void);

/* Address space a worker may map beyond its own and memory_mb: libraries the
 * plugin loads and stacks of threads started later (8 MiB each; the fast
 * channels' thread is one). Measured: at most 8 MiB in the e2e tests of every
 * language (docs/security.md has the figures). */
#define BAY_SANDBOX_AS_SLACK_MB 32

/* bay__sandbox_limit_memory caps private writable memory (RLIMIT_DATA) at what
 * the worker maps now plus s->memory_mb, and all its mappings, shared ones
 * (MAP_SHARED, memfd, files) included, at what it maps now plus s->memory_mb
 * plus BAY_SANDBOX_AS_SLACK_MB (RLIMIT_AS). Call it once the worker's own
 * threads run, just before the plugin loads: thread stacks count too. Not
 * under AddressSanitizer, whose shadow memory would not fit (plugbayd's
 * watch on shared memory still holds there). Returns 0, or BAY_EIO with err
 * saying which limit failed. */
int bay__sandbox_limit_memory(const bay__sandbox *s, bay_error *err);

#endif
