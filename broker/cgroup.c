/* broker/cgroup.c — per-plugin memory cgroups: children of a delegated cgroup v2 folder (--cgroup), or of plugbayd's own cgroup v1 memory group. */
#include "broker.h"
#include "cgroup.h"
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Where cgroup v1's memory controller is mounted on Debian and most systems. */
#define V1_MEMORY "/sys/fs/cgroup/memory"
/* The folder plugbayd makes in its own v1 memory group, "plugbayd-PID". */
#define OWN_PREFIX "plugbayd-"
/* Room for a group's folder and a file in it. */
#define PATH_LEN 1400

/* write_file writes text to dir/name; returns 0 or errno. */
static int write_file(const char *dir, const char *name, const char *text)
{
    char path[PATH_LEN];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    ssize_t n = write(fd, text, strlen(text));
    int rc = n == (ssize_t)strlen(text) ? 0 : errno ? errno : EIO;
    close(fd);
    return rc;
}

/* group_of writes the folder of p's group to dir: one flat folder per plugin id. */
static void group_of(const broker *b, const plugin *p, char *dir, size_t len)
{
    snprintf(dir, len, "%s/plugbay-%s", b->cg.dir, p->id);
    for (char *c = dir + strlen(b->cg.dir) + 1; *c; c++)
        if (*c == '/')
            *c = '_';
}

/* remove_group removes the empty groups inside dir, then dir itself. */
static void remove_group(const char *dir)
{
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        if (e->d_type == DT_DIR && e->d_name[0] != '.') {
            char sub[PATH_LEN];
            snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
            rmdir(sub);
        }
    if (d)
        closedir(d);
    rmdir(dir);
}

/* remove_stale removes what plugbayds no longer running left in parent (their
 * groups are empty: their workers died with them). */
static void remove_stale(const char *parent)
{
    DIR *d = opendir(parent);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        size_t n = strlen(OWN_PREFIX);
        pid_t pid = strncmp(e->d_name, OWN_PREFIX, n) == 0 ? (pid_t)atol(e->d_name + n) : 0;
        if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) {
            char dir[PATH_LEN];
            snprintf(dir, sizeof dir, "%s/%s", parent, e->d_name);
            remove_group(dir);
        }
    }
    if (d)
        closedir(d);
}

/* own_v1_group writes the folder of plugbayd's own cgroup v1 memory group to
 * dir (from /proc/self/cgroup's "N:memory:/PATH" line); false when it has none. */
static bool own_v1_group(char *dir, size_t len)
{
    char line[1024];
    bool found = false;
    FILE *f = fopen("/proc/self/cgroup", "re");
    while (f && !found && fgets(line, sizeof line, f)) {
        char *controllers = strchr(line, ':'), *path = controllers ? strchr(controllers + 1, ':') : NULL;
        if (path == NULL)
            continue;
        *path++ = '\0';
        path[strcspn(path, "\n")] = '\0';
        for (char *c = strtok(controllers + 1, ","); c && !found; c = strtok(NULL, ","))
            found = strcmp(c, "memory") == 0 &&
                    (size_t)snprintf(dir, len, "%s%s", V1_MEMORY, strcmp(path, "/") == 0 ? "" : path) < len;
    }
    if (f)
        fclose(f);
    return found;
}

/* init_v2 checks the delegated cgroup v2 folder --cgroup names. */
static void init_v2(broker *b, const char *dir)
{
    char path[PATH_LEN], controllers[256] = "";
    snprintf(path, sizeof path, "%s/cgroup.subtree_control", dir);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        bay__log(BAY_LOG_WARN, NULL, "--cgroup %s: cannot read %s: %s; workers are limited by rlimits only", dir, path,
                strerror(errno));
        return;
    }
    bool memory = fgets(controllers, sizeof controllers, f) != NULL && strstr(controllers, "memory") != NULL;
    fclose(f);
    if (!memory) {
        bay__log(BAY_LOG_WARN, NULL, "--cgroup %s: %s does not enable the memory controller for its children "
                                    "(write \"+memory\" to it, or delegate the folder); workers are limited by rlimits only",
                dir, path);
        return;
    }
    snprintf(b->cg.dir, sizeof b->cg.dir, "%s", dir);
    b->cg.version = 2;
    bay__log(BAY_LOG_INFO, NULL, "each worker gets a cgroup v2 group in %s with memory.max at its memory limit", dir);
}

/* init_v1 makes plugbayd's folder of groups in its own cgroup v1 memory group,
 * or in the v1 memory folder --cgroup names. */
static void init_v1(broker *b, const char *given)
{
    char parent[900];
    if (given)
        snprintf(parent, sizeof parent, "%s", given);
    else if (!own_v1_group(parent, sizeof parent)) {
        bay__log(BAY_LOG_INFO, NULL, "no cgroup v2 at /sys/fs/cgroup and plugbayd is in no cgroup v1 memory group: "
                                    "workers are limited by rlimits and plugbayd's memory watch only");
        return;
    }
    char probe[PATH_LEN];
    snprintf(probe, sizeof probe, "%s/memory.limit_in_bytes", parent);
    if (access(probe, F_OK) != 0) {
        bay__log(BAY_LOG_WARN, NULL, "%s%s is no cgroup v1 memory folder (it has no memory.limit_in_bytes): workers are "
                                    "limited by rlimits and plugbayd's memory watch only",
                given ? "--cgroup " : "", parent);
        return;
    }
    if (given) {
        snprintf(b->cg.dir, sizeof b->cg.dir, "%s", given);
    } else {
        remove_stale(parent);
        snprintf(b->cg.dir, sizeof b->cg.dir, "%s/" OWN_PREFIX "%d", parent, (int)getpid());
        if (mkdir(b->cg.dir, 0755) != 0 && errno != EEXIST) {
            bay__log(BAY_LOG_INFO, NULL, "cannot make %s (%s): workers are limited by rlimits and plugbayd's memory "
                                        "watch only (as root, plugbayd gives each worker a cgroup v1 memory group)",
                    b->cg.dir, strerror(errno));
            b->cg.dir[0] = '\0';
            return;
        }
        b->cg.made = true;
    }
    b->cg.version = 1;
    bay__log(BAY_LOG_INFO, NULL,
            "each worker gets a cgroup v1 memory group in %s with memory.limit_in_bytes at its memory limit", b->cg.dir);
}

void cgroup_init(broker *b)
{
    const char *given = b->opt.cgroup_dir;
    if (given && strcmp(given, "none") == 0) {
        bay__log(BAY_LOG_INFO, NULL, "--cgroup none: workers are limited by rlimits and plugbayd's memory watch only");
        return;
    }
    if (!b->opt.sandbox)
        return;
#ifdef __SANITIZE_ADDRESS__
    /* AddressSanitizer's shadow and quarantine would count against every limit. */
    bay__log(BAY_LOG_INFO, NULL, "memory cgroups are off in AddressSanitizer builds");
    return;
#endif
    bool v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
    if (v2 && given == NULL)
        bay__log(BAY_LOG_INFO, NULL, "no --cgroup folder: workers are limited by rlimits and plugbayd's memory watch "
                                    "only (give plugbayd a delegated cgroup v2 folder with --cgroup DIR for "
                                    "per-plugin memory.max)");
    else if (v2)
        init_v2(b, given);
    else
        init_v1(b, given);
}

void cgroup_place(broker *b, const plugin *p, int64_t mb, worker_proc *w)
{
    if (b->cg.version == 0 || w->pid == 0)
        return;
    char dir[PATH_LEN], text[64];
    group_of(b, p, dir, sizeof dir);
    snprintf(text, sizeof text, "%lld", (long long)(mb << 20));
    int rc = mkdir(dir, 0755) == 0 || errno == EEXIST ? 0 : errno;
    if (rc == 0 && b->cg.version == 2)
        rc = write_file(dir, "memory.max", text);
    if (rc == 0 && b->cg.version == 1) {
        /* Swap too where the kernel counts it, or shared memory could swap out past the limit. The
         * memsw limit (memory and swap) may not go below limit_in_bytes: written before (raising
         * both) and, when that failed, again after (lowering both, or a new group's first). */
        int grow = write_file(dir, "memory.memsw.limit_in_bytes", text);
        rc = write_file(dir, "memory.limit_in_bytes", text);
        if (grow != 0 && grow != ENOENT)
            write_file(dir, "memory.memsw.limit_in_bytes", text);
    }
    w->oom_kills = cgroup_oom_kills(b, p);
    snprintf(text, sizeof text, "%d", w->pid);
    if (rc == 0)
        rc = write_file(dir, "cgroup.procs", text);
    if (rc)
        bay__log(BAY_LOG_WARN, p->id, "cannot place worker %d in cgroup %s: %s; it runs with rlimits only", w->pid,
                dir, strerror(rc));
}

int64_t cgroup_oom_kills(const broker *b, const plugin *p)
{
    if (b->cg.version == 0)
        return -1;
    char dir[PATH_LEN];
    group_of(b, p, dir, sizeof dir);
    char path[PATH_LEN + 32];
    snprintf(path, sizeof path, "%s/%s", dir, b->cg.version == 2 ? "memory.events" : "memory.oom_control");
    return bay__kernel_field(path, "oom_kill", ' ');
}

void cgroup_end(broker *b)
{
    if (b->cg.version == 0)
        return;
    for (size_t i = 0; i < b->nplugins; i++) {
        char dir[PATH_LEN];
        group_of(b, b->plugins[i], dir, sizeof dir);
        rmdir(dir);
    }
    if (b->cg.made)
        remove_group(b->cg.dir);
}
