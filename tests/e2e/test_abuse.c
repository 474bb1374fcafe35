/* tests/e2e/test_abuse.c — hostile and careless clients against plugbayd while a well-behaved host keeps
 * calling: every one of its calls is answered in time, the broker's descriptors and memory come back, its
 * log stays short, and SIGTERM still stops it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "harness.h"
#include "wire.h"

extern char **environ;

#define GOOD_TIMEOUT_MS 5000

static harness h;

static void start(void)
{
    const char *ids[] = {"example/hello", NULL};
    h_setup(&h, ids);
    h_start_loaded(&h, NULL, ids);
}

static void stop(void)
{
    h_cleanup(&h);
}

TestSuite(abuse, .init = start, .fini = stop, .timeout = 300);

/* The well-behaved host: calls a handle (on the fast path where the run
 * allows) and an event (always through plugbayd) in turn until told to stop. */
typedef struct good {
    atomic_bool stop;
    atomic_long calls, failures;
    long long worst_ms;
    char first_failure[600];
} good;

static void *good_main(void *arg)
{
    good *g = arg;
    bay_conn *c = NULL;
    bay_error err = {0};
    if (bay_connect(h.url, "good", &c, &err) != 0) {
        snprintf(g->first_failure, sizeof g->first_failure, "connect: %s", err.message);
        atomic_fetch_add(&g->failures, 1);
        return NULL;
    }
    bay_call_opts opts = {.timeout_ms = GOOD_TIMEOUT_MS};
    for (long i = 0; !atomic_load(&g->stop); i++) {
        const char *name = i % 2 ? "app.started" : "greet";
        bay_value *args = bay_array(), *res = NULL;
        bay_array_push(args, bay_str("good"));
        long long t0 = h_now_ms();
        int rc = bay_call(c, name, args, &opts, &res, &err);
        long long took = h_now_ms() - t0;
        if (took > g->worst_ms)
            g->worst_ms = took;
        if (rc != 0 && atomic_fetch_add(&g->failures, 1) == 0)
            snprintf(g->first_failure, sizeof g->first_failure, "%s after %lld ms: %s (%s)", name, took, err.message,
                     bay_errname(rc));
        atomic_fetch_add(&g->calls, 1);
        bay_value_free(args);
        bay_value_free(res);
    }
    bay_close(c);
    return NULL;
}

static int broker_fds(void)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", h.broker);
    DIR *d = opendir(path);
    cr_assert(d, "%s", path);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 2;
}

static long broker_rss_kb(void)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", h.broker);
    FILE *f = fopen(path, "r");
    cr_assert(f);
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

typedef struct fds_at_most {
    int limit;
} fds_at_most;

static bool fds_back(void *arg)
{
    return broker_fds() <= ((fds_at_most *)arg)->limit;
}

static bool good_under_way(void *arg)
{
    good *g = arg;
    return atomic_load(&g->calls) >= 20 || atomic_load(&g->failures) > 0;
}

static size_t log_lines_with(const char *needle)
{
    FILE *f = fopen(h.log, "r");
    cr_assert(f, "cannot read %s: %s", h.log, strerror(errno));
    char line[4096];
    size_t n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* abuser is a hostile client process running one abuse (abuser.c). */
typedef struct abuser {
    pid_t pid;
    char out[320];
} abuser;

static void abuser_start(abuser *a, int n, const char *mode, const char *rounds)
{
    snprintf(a->out, sizeof a->out, "%s/abuser-%d-%s.out", h.dir, n, mode);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, a->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const char *argv[] = {BAY_ABUSER, h.url, mode, rounds, NULL};
    cr_assert_eq(posix_spawn(&a->pid, argv[0], &fa, NULL, (char **)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
}

static bool abuser_done(void *arg)
{
    abuser *a = arg;
    int status;
    if (waitpid(a->pid, &status, WNOHANG) != a->pid)
        return false;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the abuser in %s failed (status %d)", a->out, status);
    return true;
}

/* abuser_wait waits for a to finish and adds up what it was served and refused. */
static void abuser_wait(abuser *a, int *served, int *refused)
{
    cr_assert(h_wait_until(abuser_done, a, 60000), "the abuser in %s did not finish", a->out);
    FILE *f = fopen(a->out, "r");
    cr_assert(f);
    int s = 0, r = 0;
    cr_assert_eq(fscanf(f, "served %d refused %d", &s, &r), 2, "%s", a->out);
    fclose(f);
    *served += s;
    *refused += r;
}

/* abuse runs rounds of the given abusers at once, each its own process, for
 * at least ms, while the good host g calls; returns the rounds run. */
static int abuse(const char *const (*modes)[2], int nmodes, long long ms, good *g, int *served)
{
    int refused = 0, rounds = 0;
    long long t0 = h_now_ms();
    for (; rounds < 3 || h_now_ms() - t0 < ms; rounds++) {
        abuser a[4];
        for (int i = 0; i < nmodes; i++)
            abuser_start(&a[i], i, modes[i][0], modes[i][1]);
        for (int i = 0; i < nmodes; i++)
            abuser_wait(&a[i], served, &refused);
    }
    atomic_store(&g->stop, true);
    cr_log_info("good host: %ld calls during %lld ms of abuse (%d rounds), slowest %lld ms; abusers got %d "
                "connections, %d refused",
                atomic_load(&g->calls), h_now_ms() - t0, rounds, g->worst_ms, *served, refused);
    return rounds;
}

/* good_start starts the well-behaved host and waits until it is calling. */
static void good_start(good *g, pthread_t *t)
{
    cr_assert_eq(pthread_create(t, NULL, good_main, g), 0);
    cr_assert(h_wait_until(good_under_way, g, H_WAIT_MS), "the good host made no calls: %s", g->first_failure);
}

/* good_check: the good host got every answer within its deadline. */
static void good_check(good *g, pthread_t t)
{
    pthread_join(t, NULL);
    cr_assert_eq(atomic_load(&g->failures), 0, "%ld of %ld good calls failed; first: %s", atomic_load(&g->failures),
                 atomic_load(&g->calls), g->first_failure);
    cr_assert_gt(atomic_load(&g->calls), 20);
}

/* still_serving_then_stops: a new host is served, and SIGTERM stops plugbayd promptly. */
static void still_serving_then_stops(void)
{
    bay_conn *c = h_connect(&h, "after");
    char out[64];
    bay_error err;
    cr_assert_eq(h_call_str(c, "greet", "after", 5000, out, sizeof out, &err), 0, "%s", err.message);
    bay_close(c);
    long long s0 = h_now_ms();
    h_stop(&h);
    cr_assert_lt(h_now_ms() - s0, 5000, "SIGTERM took %lld ms to stop plugbayd", h_now_ms() - s0);
}

Test(abuse, handshake_abuse_stalls_nothing_and_gives_every_descriptor_back)
{
    good g = {0};
    pthread_t t;
    good_start(&g, &t);
    int fds_before = broker_fds();
    long rss_before = broker_rss_kb();
    static const char *const modes[][2] = {{"wrong-token", "40"}, {"vanish", "12"}, {"wrong-token", "40"}};
    int served = 0, rounds = abuse(modes, 3, 8000, &g, &served);
    good_check(&g, t);
    cr_assert_gt(served, 20 * rounds, "the abusers were refused before they could abuse");

    /* Every socket the abusers opened is closed again (a few descriptors of slack for NNG's own). */
    fds_at_most want = {fds_before + 4};
    cr_assert(h_wait_until(fds_back, &want, H_WAIT_MS), "the broker holds %d descriptors, %d before the abuse",
              broker_fds(), fds_before);
    long rss_after = broker_rss_kb();
#ifdef BAY_SANITIZED
    long slack_kb = 320 * 1024; /* AddressSanitizer keeps up to 256 MB of freed memory in quarantine */
#else
    long slack_kb = 16 * 1024;
#endif
    cr_assert_lt(rss_after, rss_before + slack_kb, "RSS grew from %ld kB to %ld kB", rss_before, rss_after);

    /* The log says what happened without a line per bad handshake. */
    cr_assert_gt(log_lines_with("closing a connection whose first frame was not HELLO"), 0);
    cr_assert_gt(log_lines_with("are suppressed"), 0);
    size_t total = log_lines_with(" WARN ");
    cr_assert_lt(total, 40 * (size_t)rounds, "%zu WARN lines for %d rounds", total, rounds);
    still_serving_then_stops();
}

Test(abuse, protocol_abuse_costs_another_host_no_call)
{
    good g = {0};
    pthread_t t;
    good_start(&g, &t);
    static const char *const modes[][2] = {{"junk", "300"}, {"flood", "20000"}, {"junk", "300"}, {"flood", "20000"}};
    int served = 0, rounds = abuse(modes, 4, 6000, &g, &served);
    good_check(&g, t);
    cr_assert_eq(served, 4 * rounds);
    size_t total = log_lines_with(" WARN ");
    cr_assert_lt(total, 40 * (size_t)rounds, "%zu WARN lines for %d abusive frames", total,
                 rounds * 2 * (600 + 20000));
    still_serving_then_stops();
}

/* rendezvous asks the broker for a connection; false when it refused (then why holds its message). */
static bool rendezvous(char **url, char **token, char *why, size_t len)
{
    bay_error err = {0};
    if (bay__wire_rendezvous(h.url, "host", "holder", 5000, url, token, &err) == 0)
        return true;
    snprintf(why, len, "%s", err.message);
    return false;
}

/* served_again: a rendezvous from this process succeeds. */
static bool served_again(void *arg)
{
    char *url, *token;
    if (!rendezvous(&url, &token, arg, 512))
        return false;
    free(url);
    free(token);
    return true;
}

Test(abuse, a_peer_holding_many_unfinished_handshakes_is_refused_more_and_others_still_connect)
{
    char *urls[32], *tokens[32], why[512] = "";
    nng_socket held[32];
    int n = 0;
    for (; n < 32; n++) {
        if (!rendezvous(&urls[n], &tokens[n], why, sizeof why))
            break;
        cr_assert_eq(bay__wire_open(&held[n]), 0);
        cr_assert_eq(nng_dial(held[n], urls[n], NULL, 0), 0); /* and never says HELLO */
    }
    cr_assert_lt(n, 32, "plugbayd gave one process 32 connections it never finished");
    cr_assert(strstr(why, "holds") && strstr(why, "not past their handshake"), "refusal: %s", why);
    /* Another process is not refused: the CLI, a process of its own. */
    const char *argv[] = {BAY_BIN_DIR "/plugbay", "--broker", h.url, "list", NULL};
    char out[4096], errout[1024];
    cr_assert_eq(h_run(&h, argv, out, sizeof out, errout, sizeof errout), 0, "%s", errout);
    cr_assert(strstr(out, "example/hello"), "%s", out);
    for (int i = 0; i < n; i++) {
        nng_close(held[i]);
        free(urls[i]);
        free(tokens[i]);
    }
    /* Once they are closed (or time out), the same process is served again. */
    cr_assert(h_wait_until(served_again, why, H_WAIT_MS), "%s", why);
}
