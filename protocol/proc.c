/* protocol/proc.c — reading what the kernel says of a process in /proc. */
#include "proc.h"

#include <dirent.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Files told apart when adding up memfds; a worker holds at most 256 descriptors (its RLIMIT_NOFILE). */
#define MEMFDS_MAX 1024

int64_t bay_proc_kb(pid_t pid, const char *file, const char *field)
{
    char path[96], line[256];
    if (pid > 0)
        snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    else
        snprintf(path, sizeof path, "/proc/self/%s", file);
    FILE *f = fopen(path, "re");
    size_t n = strlen(field);
    int64_t kb = -1;
    while (f && kb < 0 && fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            kb = strtoll(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

int64_t bay_proc_memfd_kb(pid_t pid)
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
