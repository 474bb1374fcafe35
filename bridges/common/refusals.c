/* bridges/common/refusals.c — what the sandbox refused a plugin, counted by kind and reported to plugbayd. */
#include "refusals.h"

#include <errno.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#define KINDS_MAX 32
#define SYSCALLS_MAX 512 /* above every syscall number of x86_64 and aarch64 */
#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a seccomp trap */
#endif

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct kind {
    char name[64];
    uint64_t count, taken;
} kinds[KINDS_MAX + 1]; /* the last one is "other" */
static size_t nkinds;

/* Written by the SIGSYS handler, which may take no lock. */
static atomic_uint_fast64_t by_syscall[SYSCALLS_MAX];
static uint64_t syscall_taken[SYSCALLS_MAX]; /* under lock */

void bay__refused(const char *kind)
{
    pthread_mutex_lock(&lock);
    struct kind *k = NULL;
    for (size_t i = 0; k == NULL && i < nkinds; i++)
        if (strcmp(kinds[i].name, kind) == 0)
            k = &kinds[i];
    if (k == NULL && nkinds < KINDS_MAX) {
        k = &kinds[nkinds++];
        snprintf(k->name, sizeof k->name, "%s", kind);
    }
    if (k == NULL) {
        k = &kinds[KINDS_MAX];
        snprintf(k->name, sizeof k->name, "other");
    }
    k->count++;
    pthread_mutex_unlock(&lock);
}

/* on_sigsys runs instead of a refused system call: the call returns -EPERM,
 * as SCMP_ACT_ERRNO(EPERM) would have made it, and is counted. */
static void on_sigsys(int sig, siginfo_t *si, void *context)
{
    if (si->si_code != SYS_SECCOMP)
        return;
    ucontext_t *uc = context;
#if defined(__x86_64__)
    uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
#elif defined(__aarch64__)
    uc->uc_mcontext.regs[0] = (unsigned long long)-EPERM;
#endif
    if (si->si_syscall >= 0 && si->si_syscall < SYSCALLS_MAX)
        atomic_fetch_add(&by_syscall[si->si_syscall], 1);
}

int bay__refusals_trap(void)
{
#if defined(__x86_64__) || defined(__aarch64__)
    struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO | SA_NODEFER};
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGSYS, &sa, NULL) == 0;
#else
    return 0;
#endif
}

/* put adds kind: n to map (made on first use); false when out of memory. */
static bool put(bay_value **map, const char *kind, uint64_t n)
{
    if (*map == NULL && (*map = bay_map()) == NULL)
        return false;
    return bay_map_set(*map, kind, bay_int((int64_t)n)) == 0;
}

bay_value *bay__refusals_take(void)
{
    bay_value *map = NULL;
    bool ok = true;
    pthread_mutex_lock(&lock);
    for (int nr = 0; ok && nr < SYSCALLS_MAX; nr++) {
        uint64_t now = atomic_load(&by_syscall[nr]);
        if (now == syscall_taken[nr])
            continue;
        char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
        char kind[64];
        snprintf(kind, sizeof kind, "syscall %s", name ? name : "?");
        free(name);
        ok = put(&map, kind, now - syscall_taken[nr]);
        syscall_taken[nr] = now;
    }
    for (size_t i = 0; ok && i <= KINDS_MAX; i++) {
        struct kind *k = &kinds[i];
        if (k->count != k->taken)
            ok = put(&map, k->name, k->count - k->taken);
        k->taken = k->count;
    }
    pthread_mutex_unlock(&lock);
    if (!ok) {
        bay_value_free(map);
        return NULL;
    }
    return map;
}
