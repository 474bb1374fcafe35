/* bridges/common/sandbox.c — the OS sandbox every worker enters before it runs any plugin code.
 *
 * Layers, each written once for every language: rlimits, PR_SET_NO_NEW_PRIVS,
 * Landlock (files the plugin may read or write, TCP ports it may connect to)
 * and a seccomp filter built with libseccomp. Landlock is called through
 * syscall(2) by hand: glibc has no wrappers and Debian ships no library for it. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <plugbay/error.h>

/* Newer Landlock rights than Debian 12's kernel headers know. */
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#define BAY_LANDLOCK_RULE_NET_PORT 2
#define BAY_LANDLOCK_NET_BIND_TCP (1ULL << 0)
#define BAY_LANDLOCK_NET_CONNECT_TCP (1ULL << 1)

struct bay_landlock_ruleset_attr {
    uint64_t handled_access_fs, handled_access_net;
};

struct bay_landlock_net_port_attr {
    uint64_t allowed_access, port;
} __attribute__((packed));

#if defined(__SANITIZE_ADDRESS__)
#define BAY_UNDER_ASAN 1 /* LeakSanitizer stops the world with clone and ptrace; ASan maps terabytes of shadow */
#else
#define BAY_UNDER_ASAN 0
#endif

static int64_t env_int(const char *name)
{
    const char *v = getenv(name);
    return v ? strtoll(v, NULL, 10) : 0;
}

int bay_sandbox_from_env(bay_sandbox *s)
{
    const char *on = getenv("PLUGBAY_SANDBOX");
    *s = (bay_sandbox){
        .plugin_dir = getenv("PLUGBAY_SANDBOX_PLUGIN_DIR"),
        .data_dir = getenv("PLUGBAY_SANDBOX_DATA_DIR"),
        .grants = getenv("PLUGBAY_SANDBOX_GRANTS") ? getenv("PLUGBAY_SANDBOX_GRANTS") : "",
        .memory_mb = env_int("PLUGBAY_SANDBOX_MEMORY_MB"),
        .open_files = env_int("PLUGBAY_SANDBOX_OPEN_FILES"),
        .cpu_seconds = env_int("PLUGBAY_SANDBOX_CPU_SECONDS"),
    };
    return on && strcmp(on, "1") == 0;
}

/* granted tells whether one of the grants (lines) starts with prefix. */
static bool granted(const bay_sandbox *s, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *g = s->grants; *g; g += strcspn(g, "\n"), g += *g == '\n')
        if (strncmp(g, prefix, n) == 0)
            return true;
    return false;
}

static int fail(char *err, size_t errlen, int code, const char *what)
{
    snprintf(err, errlen, "sandbox: %s: %s", what, strerror(errno));
    return code;
}

static int set_limit(int resource, int64_t value, const char *what, char *err, size_t errlen)
{
    struct rlimit r = {(rlim_t)value, (rlim_t)value};
    return setrlimit(resource, &r) == 0 ? 0 : fail(err, errlen, BAY_EIO, what);
}

static int limits(const bay_sandbox *s, char *err, size_t errlen)
{
    int rc = set_limit(RLIMIT_CORE, 0, "RLIMIT_CORE", err, errlen);
    if (rc == 0 && s->open_files > 0)
        rc = set_limit(RLIMIT_NOFILE, s->open_files, "RLIMIT_NOFILE", err, errlen);
    if (rc == 0 && s->cpu_seconds > 0)
        rc = set_limit(RLIMIT_CPU, s->cpu_seconds, "RLIMIT_CPU", err, errlen);
    return rc;
}

/* ---- Landlock -------------------------------------------------------------- */

#define FS_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)
#define FS_EXEC (FS_READ | LANDLOCK_ACCESS_FS_EXECUTE)
#define FS_WRITE                                                                                                \
    (FS_READ | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |  \
     LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SYM |                   \
     LANDLOCK_ACCESS_FS_TRUNCATE)

/* allow_path lets the process reach path with access (limited to what the ruleset handles). */
static void allow_path(int ruleset, uint64_t handled, const char *path, uint64_t access)
{
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return; /* a path this machine lacks needs no rule */
    struct stat st;
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) /* files take only file rights */
        access &= LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
                  LANDLOCK_ACCESS_FS_TRUNCATE | LANDLOCK_ACCESS_FS_IOCTL_DEV;
    struct landlock_path_beneath_attr rule = {.allowed_access = access & handled, .parent_fd = fd};
    syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
    close(fd);
}

/* allow_grants adds the fs.read:PATH and net.connect:HOST:PORT grants. */
static void allow_grants(const bay_sandbox *s, int ruleset, uint64_t handled, bool net)
{
    for (const char *g = s->grants; *g; g += strcspn(g, "\n"), g += *g == '\n') {
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)strcspn(g, "\n"), g);
        if (strncmp(line, "fs.read:", 8) == 0)
            allow_path(ruleset, handled, line + 8, FS_READ);
        const char *port = strncmp(line, "net.connect:", 12) == 0 ? strrchr(line, ':') : NULL;
        if (port && net) {
            struct bay_landlock_net_port_attr rule = {BAY_LANDLOCK_NET_CONNECT_TCP, strtoull(port + 1, NULL, 10)};
            syscall(SYS_landlock_add_rule, ruleset, BAY_LANDLOCK_RULE_NET_PORT, &rule, 0);
        }
    }
}

static int landlock(const bay_sandbox *s, void (*warn)(const char *), char *err, size_t errlen)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1) {
        if (warn)
            warn("Landlock is not available in this kernel: file access is not restricted beyond Unix permissions");
        return 0;
    }
    uint64_t handled = FS_WRITE | LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
                       LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK;
    if (abi < 3)
        handled &= ~LANDLOCK_ACCESS_FS_TRUNCATE;
    if (abi >= 2)
        handled |= LANDLOCK_ACCESS_FS_REFER;
    /* With net.* granted but no port, TCP stays open to any port; with ports, only those. */
    bool net = abi >= 4 && !granted(s, "net.connect:*");
    struct bay_landlock_ruleset_attr attr = {handled, net ? BAY_LANDLOCK_NET_BIND_TCP | BAY_LANDLOCK_NET_CONNECT_TCP : 0};
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, net ? sizeof attr : sizeof attr.handled_access_fs, 0);
    if (ruleset < 0)
        return fail(err, errlen, BAY_EIO, "landlock_create_ruleset");
    static const char *const system_ro[] = {"/usr", "/lib", "/lib64", "/etc/ld.so.cache", "/etc/localtime",
                                            "/proc/self", "/sys/devices/system/cpu", "/dev/urandom"};
    for (size_t i = 0; i < sizeof system_ro / sizeof *system_ro; i++)
        allow_path(ruleset, handled, system_ro[i], FS_EXEC);
    allow_path(ruleset, handled, "/dev/null", FS_READ | LANDLOCK_ACCESS_FS_WRITE_FILE);
    if (s->plugin_dir)
        allow_path(ruleset, handled, s->plugin_dir, FS_EXEC);
    if (s->data_dir)
        allow_path(ruleset, handled, s->data_dir, FS_WRITE);
    allow_grants(s, ruleset, handled, net);
    int rc = syscall(SYS_landlock_restrict_self, ruleset, 0) == 0 ? 0 : fail(err, errlen, BAY_EIO, "landlock_restrict_self");
    close(ruleset);
    return rc;
}

/* ---- seccomp --------------------------------------------------------------- */

static int deny(scmp_filter_ctx ctx, int nr)
{
    return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
}

static int seccomp(const bay_sandbox *s, char *err, size_t errlen)
{
    static const int admin[] = {
        SCMP_SYS(mount), SCMP_SYS(umount2), SCMP_SYS(pivot_root), SCMP_SYS(chroot), SCMP_SYS(swapon),
        SCMP_SYS(swapoff), SCMP_SYS(reboot), SCMP_SYS(kexec_load), SCMP_SYS(kexec_file_load),
        SCMP_SYS(init_module), SCMP_SYS(finit_module), SCMP_SYS(delete_module), SCMP_SYS(bpf),
        SCMP_SYS(perf_event_open), SCMP_SYS(userfaultfd), SCMP_SYS(keyctl), SCMP_SYS(add_key),
        SCMP_SYS(request_key), SCMP_SYS(unshare), SCMP_SYS(setns), SCMP_SYS(acct), SCMP_SYS(settimeofday),
        SCMP_SYS(clock_settime), SCMP_SYS(adjtimex), SCMP_SYS(iopl), SCMP_SYS(ioperm), SCMP_SYS(quotactl),
        SCMP_SYS(open_by_handle_at), SCMP_SYS(personality), SCMP_SYS(process_vm_writev), SCMP_SYS(sethostname),
        SCMP_SYS(setdomainname), SCMP_SYS(syslog),
    };
    /* LeakSanitizer stops the world with ptrace from a cloned process: sanitizer builds keep both. */
    static const int debug[] = {SCMP_SYS(ptrace), SCMP_SYS(process_vm_readv)};
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == NULL)
        return fail(err, errlen, BAY_EIO, "seccomp_init");
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof admin / sizeof *admin; i++)
        rc = deny(ctx, admin[i]);
    for (size_t i = 0; rc == 0 && !BAY_UNDER_ASAN && i < sizeof debug / sizeof *debug; i++)
        rc = deny(ctx, debug[i]);
    if (rc == 0 && !granted(s, "process.spawn")) {
        rc = deny(ctx, SCMP_SYS(execve)) || deny(ctx, SCMP_SYS(execveat)) || deny(ctx, SCMP_SYS(fork)) ||
             deny(ctx, SCMP_SYS(vfork));
        /* clone3 passes its flags in memory seccomp cannot read: make glibc fall back to clone. */
        if (rc == 0)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
        /* clone without CLONE_THREAD makes a process; threads stay allowed. */
        if (rc == 0 && !BAY_UNDER_ASAN)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                                  SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
    }
    if (rc == 0 && !granted(s, "net.")) {
        /* Only Unix sockets (the broker's connection) without a net.* grant. */
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX)) ||
             seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socketpair), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX));
    }
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc) {
        errno = -rc > 0 ? -rc : EINVAL;
        return fail(err, errlen, BAY_EIO, "seccomp filter");
    }
    return 0;
}

/* data_kb reads how much private writable memory the process maps now (VmData). */
static int64_t data_kb(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    int64_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmData:", 7) == 0)
            kb = strtoll(line + 7, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

int bay_sandbox_limit_memory(const bay_sandbox *s, char *err, size_t errlen)
{
    if (s->memory_mb <= 0 || BAY_UNDER_ASAN)
        return 0;
    return set_limit(RLIMIT_DATA, (data_kb() << 10) + (s->memory_mb << 20), "RLIMIT_DATA", err, errlen);
}

int bay_sandbox_apply(const bay_sandbox *s, void (*warn)(const char *line), char *err, size_t errlen)
{
    int rc = limits(s, err, errlen);
    if (rc == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        rc = fail(err, errlen, BAY_EIO, "PR_SET_NO_NEW_PRIVS");
    if (rc == 0)
        rc = landlock(s, warn, err, errlen);
    if (rc == 0)
        rc = seccomp(s, err, errlen);
    return rc;
}
