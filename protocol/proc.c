/* protocol/proc.c — reading what the kernel says of a process in /proc, and of a cgroup. */
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5; Debian 12's headers stop before it */
#endif

/* Files told apart when adding up memfds; a worker holds at most 256 descriptors (its RLIMIT_NOFILE). */
#define MEMFDS_MAX 1024

int64_t bay__kernel_field(const char *path, const char *field, char sep)
{
    char line[256];
    FILE *f = fopen(path, "re");
    size_t n = strlen(field);
    int64_t value = -1;
    while (f && value < 0 && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == sep)
            value = strtoll(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return value;
}

int64_t bay__proc_kb(pid_t pid, const char *file, const char *field)
{
    char path[96];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    else
        snprintf(path, sizeof path, "/proc/self/%s", file);
    return bay__kernel_field(path, field, ':');
}

int64_t bay__proc_memfd_kb(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (d == NULL) {
        if (dfd >= 0)
            close(dfd);
        return -1;
    }
    ino_t seen[MEMFDS_MAX];
    size_t nseen = 0;
    int64_t kb = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        char link[16];
        ssize_t n = readlinkat(dfd, e->d_name, link, sizeof link - 1);
        struct stat st;
        if (n < 7 || strncmp(link, "/memfd:", 7) != 0 || fstatat(dfd, e->d_name, &st, 0) != 0)
            continue;
        bool again = false;
        for (size_t i = 0; i < nseen && !again; i++)
            again = seen[i] == st.st_ino;
        if (again)
            continue;
        if (nseen < MEMFDS_MAX)
            seen[nseen++] = st.st_ino;
        kb += (int64_t)st.st_blocks / 2; /* 512-byte blocks allocated, not the size a truncate claims */
    }
    closedir(d);
    return kb;
}

int bay__proc_parent(pid_t pid, pid_t *ppid, pid_t *sid)
{
    char path[64], buf[1024];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    else
        snprintf(path, sizeof path, "/proc/self/stat");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int e = n < 0 ? errno : 0;
    close(fd);
    if (n <= 0)
        return e ? e : ENOENT; /* an empty stat: the process is going */
    buf[n] = '\0';
    /* After the command name, which may hold spaces and parentheses: state, ppid, pgrp, session. */
    const char *rest = strrchr(buf, ')');
    int p, s;
    if (rest == NULL || sscanf(rest + 1, " %*c %d %*d %d", &p, &s) != 2)
        return EPROTO;
    *ppid = p;
    *sid = s;
    return 0;
}

pid_t bay__proc_self(void)
{
    char link[32];
    ssize_t n = readlink("/proc/self", link, sizeof link - 1);
    if (n <= 0)
        return -1;
    link[n] = '\0';
    return (pid_t)atol(link);
}

pid_t bay__proc_peer(int fd)
{
    int pidfd = -1;
    socklen_t len = sizeof pidfd;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) != 0) {
        struct ucred cred;
        len = sizeof cred;
        return errno == ENOPROTOOPT && getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : 0;
    }
    /* A pidfd's fdinfo gives its pid as this /proc's PID namespace numbers it (-1 once it has exited). */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
    int64_t pid = pidfd >= 0 ? bay__kernel_field(path, "Pid", ':') : -1;
    if (pidfd >= 0)
        close(pidfd);
    return pid > 0 ? (pid_t)pid : 0;
}
