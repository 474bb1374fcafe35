/* broker/cgroup.c — per-plugin cgroup v2 memory limits, in a delegated cgroup folder the user names. */
#include "broker.h"
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* write_file writes text to dir/name; returns 0 or errno. */
static int write_file(const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    ssize_t n = write(fd, text, strlen(text));
    int rc = n == (ssize_t)strlen(text) ? 0 : errno ? errno : EIO;
    close(fd);
    return rc;
}

void cgroup_init(broker *b)
{
    if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) != 0) {
        bay__log(BAY_LOG_INFO, NULL, "cgroup v2 is not mounted at /sys/fs/cgroup (this machine uses cgroup v1): "
                                    "workers are limited by rlimits only");
        b->opt.cgroup_dir = NULL;
        return;
    }
    if (b->opt.cgroup_dir == NULL) {
        bay__log(BAY_LOG_INFO, NULL, "no --cgroup folder: workers are limited by rlimits only (give plugbayd a "
                                    "delegated cgroup v2 folder with --cgroup DIR for per-plugin memory.max)");
        return;
    }
    char path[1024], controllers[256] = "";
    snprintf(path, sizeof path, "%s/cgroup.subtree_control", b->opt.cgroup_dir);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        bay__log(BAY_LOG_WARN, NULL, "--cgroup %s: cannot read %s: %s; workers are limited by rlimits only",
                b->opt.cgroup_dir, path, strerror(errno));
        b->opt.cgroup_dir = NULL;
        return;
    }
    if (fgets(controllers, sizeof controllers, f) == NULL || strstr(controllers, "memory") == NULL) {
        bay__log(BAY_LOG_WARN, NULL, "--cgroup %s: %s does not enable the memory controller for its children "
                                    "(write \"+memory\" to it, or delegate the folder); workers are limited by rlimits only",
                b->opt.cgroup_dir, path);
        b->opt.cgroup_dir = NULL;
    }
    fclose(f);
}

void cgroup_place(broker *b, const plugin *p, const bay__manifest *m, pid_t pid)
{
    if (b->opt.cgroup_dir == NULL || pid == 0)
        return;
    char dir[1024], text[64];
    snprintf(dir, sizeof dir, "%s/plugbay-%s", b->opt.cgroup_dir, p->id);
    for (char *c = dir + strlen(b->opt.cgroup_dir) + 1; *c; c++)
        if (*c == '/')
            *c = '_'; /* one flat folder per plugin id */
    int64_t mb = m->limits.memory_mb ? m->limits.memory_mb : b->opt.memory_mb;
    snprintf(text, sizeof text, "%lld", (long long)(mb << 20));
    int rc = mkdir(dir, 0755) == 0 || errno == EEXIST ? 0 : errno;
    if (rc == 0)
        rc = write_file(dir, "memory.max", text);
    snprintf(text, sizeof text, "%d", pid);
    if (rc == 0)
        rc = write_file(dir, "cgroup.procs", text);
    if (rc)
        bay__log(BAY_LOG_WARN, p->id, "cannot place worker %d in cgroup %s: %s; it runs with rlimits only", pid,
                dir, strerror(rc));
}
