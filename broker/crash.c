/* broker/crash.c — plugbayd's last words: a crash leaves its signal and a backtrace in the log. */
#include "crash.h"
#include "log.h"

#include <execinfo.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define FRAMES_MAX 64

static char altstack[64 * 1024]; /* the handler runs here when the crash was a stack overflow */

/* say writes s to fd, as a signal handler may (write(2) only). */
static void say(int fd, const char *s)
{
    size_t len = strlen(s);
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

/* on_crash writes the report to the log and to stderr, then dies of the same
 * signal (SA_RESETHAND restored its default), so whoever waits sees it. */
static void on_crash(int sig)
{
    void *frames[FRAMES_MAX];
    int n = backtrace(frames, FRAMES_MAX);
    char line[160];
    snprintf(line, sizeof line, "plugbayd crashed: signal %d (%s); its stack, innermost first:\n", sig,
             sigabbrev_np(sig) ? sigabbrev_np(sig) : "?");
    int fds[2] = {bay__log_fd(), STDERR_FILENO};
    for (int i = 0; i < 2; i++) {
        if (i == 1 && fds[1] == fds[0])
            break;
        say(fds[i], line);
        backtrace_symbols_fd(frames, n, fds[i]);
    }
    raise(sig);
}

void crash_report_install(void)
{
    /* backtrace() loads libgcc on its first use, which allocates: not in the handler. */
    void *warm[1];
    backtrace(warm, 1);
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack};
    sigaltstack(&ss, NULL);
    struct sigaction sa = {.sa_handler = on_crash, .sa_flags = SA_ONSTACK | SA_RESETHAND | SA_NODEFER};
    sigemptyset(&sa.sa_mask);
    static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
        sigaction(fatal[i], &sa, NULL);
}
