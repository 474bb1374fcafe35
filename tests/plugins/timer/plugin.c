/* tests/plugins/timer/plugin.c — test/timer: a slow 50 ms timer whose ticks log their start and end times. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "test_plugin.h"

/* open_data opens file name in the plugin's data folder; on failure it
 * records why when call is not NULL. */
static FILE *open_data(bay_invocation *call, const char *name, const char *mode)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", bay_plugin_data_dir(), name);
    FILE *f = fopen(path, mode);
    if (f == NULL && call)
        bay_call_error(call, BAY_EIO, "cannot open %s: %s", path, strerror(errno));
    return f;
}

/* read_count returns the ticks counted in the data folder's "count" (0 before the first). */
static long long read_count(void)
{
    long long n = 0;
    FILE *f = open_data(NULL, "count", "r");
    if (f) {
        if (fscanf(f, "%lld", &n) != 1)
            n = 0;
        fclose(f);
    }
    return n;
}

/* tick appends "start NS" to ticks.log, works for 120 ms (longer than the
 * interval), counts itself in "count" and appends "end NS". */
static int tick(bay_invocation *call, const bay_value *args, bay_value **result)
{
    FILE *log = open_data(call, "ticks.log", "a");
    if (log == NULL)
        return BAY_EIO;
    fprintf(log, "start %lld\n", (long long)mono_ns());
    fflush(log);
    sleep_ms(120);
    long long n = read_count() + 1;
    FILE *count = open_data(call, "count", "w");
    if (count) {
        fprintf(count, "%lld\n", n);
        fclose(count);
    }
    fprintf(log, "end %lld\n", (long long)mono_ns());
    fclose(log);
    return count ? 0 : BAY_EIO;
}

static int timer_count(bay_invocation *call, const bay_value *args, bay_value **result)
{
    *result = bay_int(read_count());
    return *result ? 0 : BAY_ENOMEM;
}

BAY_PLUGIN(NULL, NULL, {"tick", tick}, {"timer_count", timer_count});
