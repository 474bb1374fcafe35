/* protocol/proc.c — reading what the kernel says of a process in /proc. */
#include "proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
