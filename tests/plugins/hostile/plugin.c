/* tests/plugins/hostile/plugin.c — test/hostile: each function tries one thing a plugin is not allowed to do.
 *
 * Every attempt answers what the operating system said ("refused: Permission
 * denied") or, if the attempt worked, "ALLOWED ..." — which the end-to-end
 * tests treat as a sandbox failure. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_plugin.h"

/* outcome answers "refused: <errno text>" when rc < 0, else "ALLOWED <what>". */
static int outcome(bay_value **result, int rc, const char *what)
{
    char text[300];
    if (rc < 0)
        snprintf(text, sizeof text, "refused: %s", strerror(errno));
    else
        snprintf(text, sizeof text, "ALLOWED %s", what);
    return reply_str(result, text);
}

/* open_path tries to open argument 0 with flags. */
static int open_path(bay_call *call, const bay_value *args, bay_value **result, int flags)
{
    const char *path;
    if (bay_arg_str(call, args, 0, &path))
        return BAY_ETYPE;
    int fd = open(path, flags, 0600);
    if (fd >= 0)
        close(fd);
    return outcome(result, fd, path);
}

static int read_file(bay_call *call, const bay_value *args, bay_value **result)
{
    return open_path(call, args, result, O_RDONLY);
}

static int write_file(bay_call *call, const bay_value *args, bay_value **result)
{
    return open_path(call, args, result, O_WRONLY | O_CREAT | O_TRUNC);
}

static int open_socket(bay_call *call, const bay_value *args, bay_value **result)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        connect(fd, (struct sockaddr *)&a, sizeof a);
        close(fd);
    }
    return outcome(result, fd, "a TCP socket");
}

static int run_shell(bay_call *call, const bay_value *args, bay_value **result)
{
    char *argv[] = {"/bin/sh", "-c", "id", NULL};
    int rc = execve(argv[0], argv, NULL); /* returns only when refused */
    return outcome(result, rc, "execve of /bin/sh");
}

static int fork_bomb(bay_call *call, const bay_value *args, bay_value **result)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return outcome(result, pid, "fork");
}

/* allocate touches 1 MiB blocks until malloc fails, then frees them and says how far it got. */
static int allocate(bay_call *call, const bay_value *args, bay_value **result)
{
    void **blocks = NULL;
    size_t n = 0;
    for (;;) {
        void **grown = realloc(blocks, (n + 1) * sizeof *grown);
        void *b = grown ? malloc(1 << 20) : NULL;
        if (grown)
            blocks = grown;
        if (b == NULL)
            break;
        memset(b, 1, 1 << 20);
        blocks[n++] = b;
    }
    for (size_t i = 0; i < n; i++)
        free(blocks[i]);
    free(blocks);
    return bay_call_error(call, BAY_ENOMEM, "allocation refused after %zu MiB", n);
}

static int spin(bay_call *call, const bay_value *args, bay_value **result)
{
    for (volatile unsigned long i = 0;; i++)
        ;
    return 0;
}

static int ping(bay_call *call, const bay_value *args, bay_value **result)
{
    return reply_str(result, "pong");
}

BAY_PLUGIN(NULL, NULL, {"read_file", read_file}, {"write_file", write_file}, {"open_socket", open_socket},
           {"run_shell", run_shell}, {"fork_bomb", fork_bomb}, {"allocate", allocate}, {"spin", spin},
           {"ping", ping});
