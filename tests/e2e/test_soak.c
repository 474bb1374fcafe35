/* tests/e2e/test_soak.c — many calls on one plugin: no failure, and no memory growth in worker, broker or host.
 *
 * A short soak for every test run; scripts/bench runs the long one (1,000,000 calls). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define WARMUP_CALLS 2000
#define SOAK_CALLS 20000
/* Growth allowed between the two measures: allocator noise, not a leak (a
 * leak of one byte per call would be 18 kB; a frame or value per call, MBs). */
#define GROWTH_KB 256

#ifdef BAY_SANITIZED
/* AddressSanitizer keeps freed memory in quarantine (256 MB): memory grows by design. The calls still run. */
static const bool check_growth = false;
#else
static const bool check_growth = true;
#endif

static harness h;
static bay_conn *c;

static void start(void)
{
    const char *ids[] = {"example/hello", NULL};
    h_setup(&h, ids);
    h_start(&h, NULL);
    c = h_connect(&h, "test-soak");
    cr_assert(h_wait_state(c, "example/hello", "loaded", H_WAIT_MS));
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(soak, .init = start, .fini = stop, .timeout = 300);

/* anon_kb reads a process's anonymous memory (0 for this process): its heap and stacks, where a leak shows.
 * Not PSS: a process's share of the library pages it maps changes whenever another process mapping them (a
 * test running beside this one) starts or ends, which made its PSS jump by a megabyte during a soak. */
static long anon_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pid ? pid : getpid());
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "Anonymous:", 10) == 0)
            kb = strtol(line + 10, NULL, 10);
    if (f)
        fclose(f);
    cr_assert(kb > 0, "cannot read %s", path);
    return kb;
}

static void calls(bay_value *args, int n)
{
    for (int i = 0; i < n; i++) {
        bay_value *res = NULL;
        bay_error err;
        int rc = bay_call(c, "greet", args, NULL, &res, &err);
        cr_assert_eq(rc, 0, "call %d failed: %s", i + 1, err.message);
        bay_value_free(res);
    }
}

Test(soak, twenty_thousand_calls_on_one_plugin_leave_no_growth)
{
    bay_value *args = bay_array();
    bay_array_push(args, bay_str("soak"));
    calls(args, WARMUP_CALLS);
    pid_t who[3] = {h_worker_pid(c, "example/hello"), h.broker, 0};
    const char *names[3] = {"worker", "broker", "host"};
    long before[3];
    for (int i = 0; i < 3; i++)
        before[i] = anon_kb(who[i]);
    calls(args, SOAK_CALLS - WARMUP_CALLS);
    for (int i = 0; i < 3; i++) {
        long after = anon_kb(who[i]);
        cr_expect(!check_growth || after - before[i] <= GROWTH_KB, "%s anonymous memory grew from %ld to %ld kB over %d calls", names[i], before[i],
                  after, SOAK_CALLS - WARMUP_CALLS);
    }
    bay_value_free(args);
}
