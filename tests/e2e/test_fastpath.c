/* tests/e2e/test_fastpath.c — fast channels: grants, refusals, revocation, crashes on both sides, hostile hosts
 * (their HELLO, frame words, indexes, torn frames, and uploads they break or leave). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "ring.h"
#include "value_convert.h"

static harness h;
static bay_conn *c;

static void start(void)
{
    const char *ids[] = {"example/hello", "example/audit", "test/slow", "conform/c", NULL};
    setenv("PLUGBAY_FASTPATH", "1", 1);
    h_setup(&h, ids);
    h_start(&h, NULL);
    c = h_connect(&h, "test-fastpath");
    h_wait_loaded(c, ids);
}

static void stop(void)
{
    bay_close(c);
    h_cleanup(&h);
}

TestSuite(fastpath, .init = start, .fini = stop, .timeout = 120);

/* ask asks plugbayd for a channel for name; returns the code and, on success, the grant in *grant. */
static int ask(const char *name, bay_value **grant, bay_error *err)
{
    bay_value *a = bay_map();
    bay_map_set(a, "name", bay_str(name));
    int rc = bay_command(c, "channel", a, 10000, grant, err);
    bay_value_free(a);
    return rc;
}

static void expect_greet(const char *want)
{
    char out[256];
    bay_error err;
    cr_assert_eq(h_call_str(c, "greet", "world", 5000, out, sizeof out, &err), 0, "%s", err.message);
    cr_assert_str_eq(out, want);
}

/* event_through_plugbayd calls app.started from a host whose calls all go through plugbayd. */
static bay_value *event_through_plugbayd(void)
{
    setenv("PLUGBAY_FASTPATH", "0", 1);
    bay_conn *slow = h_connect(&h, "test-fastpath-nng");
    setenv("PLUGBAY_FASTPATH", "1", 1);
    bay_value *res = NULL;
    bay_error err;
    cr_assert_eq(bay_call(slow, "app.started", NULL, NULL, &res, &err), 0, "%s", err.message);
    bay_close(slow);
    return res;
}

Test(fastpath, an_event_fans_out_over_a_channel_to_each_provider_in_load_order)
{
    expect_greet("Hello, world!");
    cr_assert_eq(h_fast_channels(c), 1, "the first call of greet opened a channel to example/hello");
    bay_value *res = NULL, *via = event_through_plugbayd();
    bay_error err;
    cr_assert_eq(bay_call(c, "app.started", NULL, NULL, &res, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_len(res), 2, "the event reaches both providers");
    cr_assert_str_eq(bay_value_str(bay_map_get(bay_array_get(res, 0), "plugin"), NULL), "example/hello");
    cr_assert_str_eq(bay_value_str(bay_map_get(bay_array_get(res, 1), "plugin"), NULL), "example/audit");
    char *j1 = NULL, *j2 = NULL;
    bay_value_to_json(res, &j1);
    bay_value_to_json(via, &j2);
    for (size_t i = 0; i < 2; i++) { /* the same but for the time each provider saw it */
        const bay_value *mine = bay_array_get(res, i), *theirs = bay_array_get(via, i);
        cr_assert(bay_value_equal(bay_map_get(mine, "plugin"), bay_map_get(theirs, "plugin")) &&
                      bay_value_equal(bay_map_get(bay_map_get(mine, "value"), "plugin"),
                                      bay_map_get(bay_map_get(theirs, "value"), "plugin")) &&
                      bay_value_len(mine) == bay_value_len(theirs),
                  "gathered as plugbayd gathers it: %s vs %s", j1, j2);
    }
    free(j1);
    free(j2);
    bay_value_free(res);
    bay_value_free(via);
    cr_assert_eq(h_fast_channels(c), 2, "hello's channel serves the event too; audit got one");
    /* plugbayd says how many providers there are and grants each by its number */
    cr_assert_eq(ask("app.started", &res, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_int(bay_map_get(res, "providers")), 2);
    cr_assert_str_eq(bay_value_str(bay_map_get(res, "plugin"), NULL), "example/hello");
    bay_value_free(res);
    bay_value *a = bay_map();
    bay_map_set(a, "name", bay_str("app.started"));
    bay_map_set(a, "provider", bay_int(2));
    int rc = bay_command(c, "channel", a, 10000, &res, &err);
    cr_assert_eq(rc, BAY_EINVAL, "got %s: %s", bay_errname(rc), err.message);
    bay_map_set(a, "provider", bay_str("1"));
    cr_assert_eq(bay_command(c, "channel", a, 10000, &res, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "\"provider\""), "%s", err.message);
    bay_value_free(a);
    /* a provider unloaded: the route is revoked, and the event reaches the one left */
    cr_assert_eq(h_command(c, "unload", "example/audit", &err), 0, "%s", err.message);
    cr_assert_eq(bay_call(c, "app.started", NULL, NULL, &res, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_len(res), 1, "only example/hello provides it now");
    bay_value_free(res);
    cr_assert_eq(h_command(c, "load", "example/audit", &err), 0, "%s", err.message);
    cr_assert_eq(bay_call(c, "app.started", NULL, NULL, &res, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_len(res), 2, "and both again once it is back");
    bay_value_free(res);
}

static int started(const bay_value *args, bay_value **result, bay_error *err, void *user)
{
    *result = bay_str("host saw it");
    return 0;
}

Test(fastpath, an_event_a_host_provides_goes_through_plugbayd)
{
    bay_error err;
    cr_assert_eq(bay_provide(c, "app.started", BAY_EVENT, NULL, started, NULL, &err), 0, "%s", err.message);
    bay_value *res = NULL;
    int rc = ask("app.started", &res, &err);
    cr_assert_eq(rc, BAY_EUNAVAIL, "got %s: %s", bay_errname(rc), err.message);
    cr_assert(strstr(err.message, "host:test-fastpath"), "%s", err.message);
    cr_assert_eq(bay_call(c, "app.started", NULL, NULL, &res, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_len(res), 3, "both plugins and the host");
    cr_assert_str_eq(bay_value_str(bay_map_get(bay_array_get(res, 2), "value"), NULL), "host saw it");
    bay_value_free(res);
    cr_assert_eq(h_fast_channels(c), 0, "no channel for it");
}

static int echo(const bay_value *args, bay_value **result, bay_error *err, void *user)
{
    *result = bay_value_copy(args);
    return 0;
}

Test(fastpath, a_request_that_cannot_be_granted_says_why_and_calls_still_work)
{
    bay_value *g = NULL;
    bay_error err;
    cr_assert_eq(ask("no.such.thing", &g, &err), BAY_ENOENT);
    cr_assert(strstr(err.message, "no.such.thing"), "%s", err.message);
    cr_assert_eq(bay_provide(c, "host.echo", BAY_HANDLE, NULL, echo, NULL, &err), 0, "%s", err.message);
    cr_assert_eq(ask("host.echo", &g, &err), BAY_EUNAVAIL);
    cr_assert(strstr(err.message, "host:test-fastpath") && strstr(err.message, "plugins"), "%s", err.message);
    cr_assert_eq(bay_command(c, "channel", NULL, 10000, &g, &err), BAY_EINVAL);
    cr_assert(strstr(err.message, "\"name\""), "%s", err.message);
    bay_value *args = bay_array(), *res = NULL;
    bay_array_push(args, bay_int(7));
    cr_assert_eq(bay_call(c, "host.echo", args, NULL, &res, &err), 0, "%s", err.message);
    cr_assert(bay_value_equal(args, res), "a host provider answers through plugbayd");
    bay_value_free(res);
    bay_value_free(args);
    expect_greet("Hello, world!");
}

Test(fastpath, unload_revokes_and_calls_follow_the_registry)
{
    expect_greet("Hello, world!");
    bay_error err;
    cr_assert_eq(h_command(c, "unload", "example/hello", &err), 0, "%s", err.message);
    expect_greet("Greetings, world (from example/audit)");
    cr_assert_eq(h_command(c, "load", "example/hello", &err), 0, "%s", err.message);
    expect_greet("Hello, world!");
    cr_assert_eq(h_fast_channels(c), 2, "one channel to each plugin that served greet");
}

struct call_result {
    bay_conn *conn; /* NULL: the suite's */
    const char *name;
    int64_t arg;
    int timeout_ms;
    int rc;
    long long took_ms;
    bay_error err;
};

static void *call_thread(void *arg)
{
    struct call_result *r = arg;
    bay_value *args = bay_array(), *res = NULL;
    bay_array_push(args, bay_int(r->arg));
    bay_call_opts o = {.timeout_ms = r->timeout_ms};
    long long t0 = h_now_ms();
    r->rc = bay_call(r->conn ? r->conn : c, r->name, args, &o, &res, &r->err);
    r->took_ms = h_now_ms() - t0;
    bay_value_free(res);
    bay_value_free(args);
    return NULL;
}

static bool slow_answers(void *arg)
{
    bay_value *res = NULL;
    int rc = bay_call(c, "slow.echo", NULL, NULL, &res, NULL);
    bay_value_free(res);
    return rc == 0;
}

/* start_sleep makes test/slow sleep ms (over a fast channel) in thread t and
 * returns its worker's pid once the call runs there. */
static pid_t start_sleep(struct call_result *r, int64_t ms, int timeout_ms, pthread_t *t)
{
    cr_assert(slow_answers(NULL));
    pid_t pid = h_worker_pid(c, "test/slow");
    *r = (struct call_result){.name = "slow.sleep", .arg = ms, .timeout_ms = timeout_ms};
    pthread_create(t, NULL, call_thread, r);
    cr_assert(h_wait_until(h_main_thread_sleeps, &pid, H_WAIT_MS), "test/slow never started the call");
    return pid;
}

Test(fastpath, a_worker_killed_during_a_fast_call_is_a_crash_error_within_the_timeout)
{
    struct call_result r;
    pthread_t t;
    kill(start_sleep(&r, 20000, 4000, &t), SIGKILL);
    pthread_join(t, NULL);
    cr_assert_eq(r.rc, BAY_ECRASHED, "got %s: %s", bay_errname(r.rc), r.err.message);
    cr_assert_str_eq(r.err.plugin, "test/slow");
    cr_assert(strstr(r.err.message, "slow.sleep") && strstr(r.err.message, "SIGKILL"), "%s", r.err.message);
    cr_assert(r.took_ms < 4000, "the caller waited %lld ms", r.took_ms);
    expect_greet("Hello, world!");
    cr_assert(h_wait_until(slow_answers, NULL, H_WAIT_MS), "test/slow was not restarted");
}

Test(fastpath, unload_waits_for_the_fast_call_in_hand)
{
    struct call_result r;
    pthread_t t;
    start_sleep(&r, 600, 5000, &t);
    bay_error err;
    cr_assert_eq(h_command(c, "unload", "test/slow", &err), 0, "%s", err.message);
    pthread_join(t, NULL);
    cr_assert_eq(r.rc, 0, "the call in hand finished before the unload: %s", r.err.message);
    int rc = h_call_str(c, "slow.echo", NULL, 2000, NULL, 0, &err);
    cr_assert_eq(rc, BAY_ENOPROVIDER, "got %s: %s", bay_errname(rc), err.message);
    cr_assert_eq(h_command(c, "load", "test/slow", &err), 0, "%s", err.message);
    cr_assert(slow_answers(NULL));
}

/* bay_close ends a call another thread waits on (a fast channel's, or plugbayd's on the other path) with
 * BAY_ECONN at once, instead of waiting for its answer or its deadline; the plugin serves on. */
Test(fastpath, closing_a_connection_ends_the_call_another_thread_waits_on)
{
    cr_assert(slow_answers(NULL));
    pid_t pid = h_worker_pid(c, "test/slow");
    struct call_result r = {.conn = h_connect(&h, "test-closer"), .name = "slow.sleep", .arg = 3000,
                            .timeout_ms = 20000};
    pthread_t t;
    pthread_create(&t, NULL, call_thread, &r);
    cr_assert(h_wait_until(h_main_thread_sleeps, &pid, H_WAIT_MS), "test/slow never started the call");
    long long t0 = h_now_ms();
    bay_close(r.conn);
    pthread_join(t, NULL);
    long long took = h_now_ms() - t0;
    cr_assert_eq(r.rc, BAY_ECONN, "got %s: %s", bay_errname(r.rc), r.err.message);
    cr_assert(strstr(r.err.message, "closed by bay_close"), "%s", r.err.message);
    cr_assert(took < 1500, "bay_close and the call took %lld ms: it waited for the answer", took);
    cr_assert(h_wait_until(slow_answers, NULL, H_WAIT_MS), "test/slow does not serve on");
}

/* fd_count counts the open descriptors of process pid. */
static int fd_count(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", pid);
    DIR *d = opendir(path);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

struct fds {
    pid_t pid;
    int want;
};

static bool fds_back_to(void *arg)
{
    struct fds *f = arg;
    return fd_count(f->pid) == f->want;
}

static bool one_channel(void *arg)
{
    return h_fast_channels(c) == 1;
}

Test(fastpath, a_host_that_dies_holding_a_channel_is_cleaned_up)
{
    cr_assert(slow_answers(NULL));
    pid_t worker = h_worker_pid(c, "test/slow");
    int before = fd_count(worker);
    int out[2];
    cr_assert(pipe(out) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    char *argv[] = {BAY_FASTPATH_HOST, h.url, NULL};
    pid_t doomed;
    extern char **environ;
    cr_assert(posix_spawn(&doomed, argv[0], &fa, NULL, argv, environ) == 0);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    char line[16] = "";
    cr_assert(read(out[0], line, sizeof line - 1) > 0 && strncmp(line, "ready", 5) == 0, "the host did not start");
    close(out[0]);
    cr_assert_eq(h_fast_channels(c), 2, "the test's channel and the doomed host's");
    cr_assert(h_wait_until(h_main_thread_sleeps, &worker, H_WAIT_MS), "the doomed host's call did not start");
    kill(doomed, SIGKILL);
    waitpid(doomed, NULL, 0);
    cr_assert(h_wait_until(one_channel, NULL, H_WAIT_MS), "plugbayd still counts the dead host's channel");
    struct fds f = {worker, before};
    cr_assert(h_wait_until(fds_back_to, &f, H_WAIT_MS), "the worker holds %d descriptors, %d before the host came",
              fd_count(worker), before);
    long long t0 = h_now_ms();
    cr_assert(slow_answers(NULL));
    cr_assert(h_now_ms() - t0 < 1000, "the dead host's 30 s call was cancelled, not waited for");
    cr_assert_eq(h_worker_pid(c, "test/slow"), worker, "the worker lived on");
}

/* dial_raw connects to a granted worker address like a host would, without libplugbay. */
static int dial_raw(const bay_value *grant)
{
    const char *address = bay_value_str(bay_map_get(grant, "address"), NULL);
    cr_assert(address && address[0] == '@', "address %s", address ? address : "(none)");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    memcpy(a.sun_path + 1, address + 1, strlen(address) - 1);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    cr_assert(connect(fd, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(address))) ==
              0);
    return fd;
}

/* hello_raw sends HELLO with token and returns the answer's type, its message in why and any memfd in *memfd. */
static int64_t hello_raw(int fd, const char *token, char *why, size_t len, int *memfd)
{
    bay__frame hello = {.type = BAY_F_HELLO, .role = "host", .name = "raw", .pid = getpid(), .token = token}, f;
    cr_assert_eq(bay__chan_send(fd, &hello, -1), 0);
    char buf[2048];
    bay_error err;
    cr_assert_eq(bay__chan_recv(fd, buf, sizeof buf, 5000, &f, memfd, &err), 0, "%s", err.message);
    int64_t type = f.type;
    snprintf(why, len, "%s", f.type == BAY_F_ERROR ? f.message : "");
    bay__frame_release(&f);
    return type;
}

static bool hung_up(void *arg)
{
    char b;
    return recv(*(int *)arg, &b, 1, MSG_DONTWAIT) == 0;
}

Test(fastpath, hostile_hosts_are_refused_and_the_worker_keeps_serving)
{
    bay_value *grant = NULL;
    bay_error err;
    cr_assert_eq(ask("greet", &grant, &err), 0, "%s", err.message);
    char why[512];
    int memfd;
    int fd = dial_raw(grant);
    cr_assert_eq(hello_raw(fd, "00000000000000000000000000000000", why, sizeof why, &memfd), BAY_F_ERROR);
    cr_assert_eq(memfd, -1, "a refused host gets no memory");
    cr_assert(strstr(why, "token") && strstr(why, "example/hello"), "%s", why);
    close(fd);
    fd = dial_raw(grant);
    cr_assert_eq(bay__chan_send(fd, &(bay__frame){.type = BAY_F_CANCEL, .id = 1}, -1), 0);
    bay__frame f;
    char buf[2048];
    cr_assert_eq(bay__chan_recv(fd, buf, sizeof buf, 5000, &f, NULL, &err), 0, "%s", err.message);
    cr_assert(f.type == BAY_F_ERROR && strstr(f.message, "HELLO"), "a first frame that is not HELLO is named");
    bay__frame_release(&f);
    close(fd);

    /* The right token: admitted; then a lying frame length in the ring drops only this channel. */
    fd = dial_raw(grant);
    const char *token = bay_value_str(bay_map_get(grant, "token"), NULL);
    cr_assert_eq(hello_raw(fd, token, why, sizeof why, &memfd), BAY_F_WELCOME, "%s", why);
    cr_assert(memfd >= 0);
    void *mem = mmap(NULL, BAY_CHAN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    cr_assert(mem != MAP_FAILED);
    cr_assert(ftruncate(memfd, 4096) != 0, "the worker sealed the channel's size");
    close(memfd);
    bay__ring in, out;
    bay__chan_rings(mem, false, &in, &out);
    bay__ring_wait w = {.until_ns = bay__now_ns() + 5000000000LL};
    cr_assert_eq(bay__ring_write(&out, "\xff\xff\xff\x7f", 4, &w), 0);
    cr_assert(h_wait_until(hung_up, &fd, H_WAIT_MS), "the worker kept a channel that broke the rules");
    int again = dial_raw(grant);
    cr_assert_eq(hello_raw(again, token, why, sizeof why, &memfd), BAY_F_ERROR, "a token works once");
    close(again);
    munmap(mem, BAY_CHAN_SIZE);
    close(fd);
    bay_value_free(grant);
    expect_greet("Hello, world!");
}

/* hostile_channel asks for a channel to the provider of name as a raw host,
 * maps its memory and gives the host's two rings; *fd is the channel's socket, *mem its mapping. */
static void hostile_channel(const char *name, int *fd, void **mem, bay__ring *in, bay__ring *out)
{
    bay_value *grant = NULL;
    bay_error err;
    char why[512];
    int memfd;
    cr_assert_eq(ask(name, &grant, &err), 0, "%s", err.message);
    *fd = dial_raw(grant);
    cr_assert_eq(hello_raw(*fd, bay_value_str(bay_map_get(grant, "token"), NULL), why, sizeof why, &memfd),
                 BAY_F_WELCOME, "%s", why);
    *mem = mmap(NULL, BAY_CHAN_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    cr_assert(*mem != MAP_FAILED);
    close(memfd);
    bay__chan_rings(*mem, false, in, out);
    bay_value_free(grant);
}

/* lie_word writes the frame word v at the start of the ring to the worker, followed by n garbage bytes, and
 * publishes the ring's index at head. */
static void lie_word(void *mem, uint32_t v, size_t n, uint64_t head)
{
    bay__chan_hdr *hdr = mem;
    uint8_t *ring = (uint8_t *)mem + 4096;
    memset(ring + 4, 0xc1, n); /* 0xc1: never valid msgpack */
    atomic_store((_Atomic uint32_t *)(void *)ring, v);
    atomic_store(&hdr->to_worker.head, head);
    bay__bell_ring(&hdr->to_worker.data);
}

Test(fastpath, a_host_whose_frame_word_claims_more_than_the_ring_loses_its_channel)
{
    int fd;
    void *mem;
    bay__ring in, out;
    hostile_channel("greet", &fd, &mem, &in, &out);
    lie_word(mem, BAY_RING_WHOLE | BAY_RING_CAP, 0, 0);
    cr_assert(h_wait_until(hung_up, &fd, H_WAIT_MS), "the worker kept a channel whose word lied");
    munmap(mem, BAY_CHAN_SIZE);
    close(fd);
    expect_greet("Hello, world!");
}

Test(fastpath, a_host_streaming_behind_an_impossible_index_loses_its_channel)
{
    int fd;
    void *mem;
    bay__ring in, out;
    hostile_channel("greet", &fd, &mem, &in, &out);
    lie_word(mem, 100, 0, (uint64_t)1 << 62); /* a streamed frame, the index wrapped far past the ring */
    cr_assert(h_wait_until(hung_up, &fd, H_WAIT_MS), "the worker kept a channel whose index lied");
    munmap(mem, BAY_CHAN_SIZE);
    close(fd);
    expect_greet("Hello, world!");
}

Test(fastpath, a_torn_frame_costs_only_itself)
{
    int fd;
    void *mem;
    bay__ring in, out;
    hostile_channel("greet", &fd, &mem, &in, &out);
    lie_word(mem, BAY_RING_WHOLE | 40, 20, 0); /* said whole, half written */
    void *buf = NULL;
    size_t len = 0;
    bay__ring_wait w = {.until_ns = bay__now_ns() + 10000000000LL};
    cr_assert_eq(bay__ring_read_frame(&in, BAY_FRAME_MAX, &buf, &len, &w), 0, "the worker answers the torn frame");
    bay__frame f;
    bay_error err;
    cr_assert_eq(bay__frame_decode(buf, len, &f, &err), 0, "%s", err.message);
    cr_assert(f.type == BAY_F_ERROR && f.code == BAY_EPROTO && strstr(f.message, "frame"), "got %s: %s",
              bay__frame_type_name(f.type), f.type == BAY_F_ERROR ? f.message : "");
    bay__frame_release(&f);
    free(buf);
    /* the channel goes on: a real call on it is answered */
    uint64_t at = out.pos = BAY_RING_ALIGN;
    const unsigned char args[] = {0x91, 0xa4, 'r', 'a', 'w', '!'};
    bay__frame call = {.type = BAY_F_CALL, .id = 77, .name = "greet", .raw = args, .raw_len = sizeof args,
                       .timeout_ms = 5000};
    atomic_store(&((bay__chan_hdr *)mem)->to_worker.head, at);
    cr_assert_eq(bay__ring_write_frame(&out, &call, &w), 0);
    cr_assert_eq(bay__ring_read_frame(&in, BAY_FRAME_MAX, &buf, &len, &w), 0);
    cr_assert_eq(bay__frame_decode(buf, len, &f, &err), 0, "%s", err.message);
    cr_assert(f.type == BAY_F_RESULT && f.id == 77, "got %s", bay__frame_type_name(f.type));
    bay__frame_release(&f);
    free(buf);
    munmap(mem, BAY_CHAN_SIZE);
    close(fd);
    expect_greet("Hello, world!");
}

/* A raw upload: conform.upload("sum") as CALL id, then its chunks, written to the worker's ring by hand. */
static const unsigned char sum_args[] = {0x91, 0xa3, 's', 'u', 'm'};

/* CHUNK_OF_7 is the chunk 7 of upload id_. */
#define CHUNK_OF_7(id_) ((bay__frame){.type = BAY_F_CHUNK, .id = (id_), .raw = (const unsigned char *)"\x07", .raw_len = 1})

/* write_frame writes f to the ring to the worker. */
static void write_frame(bay__ring *out, const bay__frame *f)
{
    bay__ring_wait w = {.until_ns = bay__now_ns() + 10000000000LL};
    cr_assert_eq(bay__ring_write_frame(out, f, &w), 0);
}

/* read_answer reads the worker's next frame from in within 10 s into f (its bytes in *buf, which the caller frees
 * after releasing f). */
static void read_answer(bay__ring *in, bay__frame *f, void **buf)
{
    size_t len = 0;
    bay_error err;
    bay__ring_wait w = {.until_ns = bay__now_ns() + 10000000000LL};
    cr_assert_eq(bay__ring_read_frame(in, BAY_FRAME_MAX, buf, &len, &w), 0, "the worker answers");
    cr_assert_eq(bay__frame_decode(*buf, len, f, &err), 0, "%s", err.message);
}

/* call_raw writes frame call to out and reads the answer from in, which must be of type want and call's id; returns
 * its value (NULL: none). */
static bay_value *call_raw(bay__ring *in, bay__ring *out, const bay__frame *call, int64_t want)
{
    bay__frame f;
    void *buf = NULL;
    write_frame(out, call);
    read_answer(in, &f, &buf);
    cr_assert(f.type == want && f.id == call->id, "got %s to %llu", bay__frame_type_name(f.type),
              (unsigned long long)f.id);
    bay_value *v = NULL;
    cr_assert(f.value == NULL || bay__value_from_object(f.value, &v, NULL) == 0);
    bay__frame_release(&f);
    free(buf);
    return v;
}

/* leave_raw checks that the raw channel (fd, mem) serves on, leaves it, and that the worker answers hosts as ever. */
static void leave_raw(int fd, void *mem)
{
    cr_assert(!hung_up(&fd), "the channel serves on");
    munmap(mem, BAY_CHAN_SIZE);
    close(fd);
    expect_greet("Hello, world!");
}

/* raw_upload opens a raw channel to conform/c (as hostile_channel does) and writes CALL id of conform.upload("sum"),
 * with input, within timeout_ms. */
static void raw_upload(uint64_t id, int timeout_ms, int *fd, void **mem, bay__ring *in, bay__ring *out)
{
    hostile_channel("conform.upload", fd, mem, in, out);
    write_frame(out, &(bay__frame){.type = BAY_F_CALL, .id = id, .name = "conform.upload", .raw = sum_args,
                                   .raw_len = sizeof sum_args, .timeout_ms = timeout_ms, .input = 1});
}

/* expect_sum uploads chunks integers to conform/c's conform.upload("sum") from c and expects them counted. */
static void expect_sum(int64_t chunks)
{
    bay_value *args = bay_array(), *res = NULL;
    bay_array_push(args, bay_str("sum"));
    bay_stream *s = NULL;
    bay_error err;
    cr_assert_eq(bay_call_upload(c, "conform.upload", args, &(bay_call_opts){.timeout_ms = 10000}, &s, &err), 0,
                 "%s", err.message);
    for (int64_t i = 0; i < chunks; i++) {
        bay_value *v = bay_int(i);
        cr_assert_eq(bay_stream_send(s, v, -1, &err), 0, "%s", err.message);
        bay_value_free(v);
    }
    cr_assert_eq(bay_stream_send_end(s, &err), 0, "%s", err.message);
    cr_assert_eq(bay_stream_next(s, -1, &res, &err), 0, "%s", err.message);
    cr_assert_eq(bay_value_int(bay_map_get(res, "chunks")), chunks);
    bay_value_free(res);
    bay_value_free(args);
    bay_stream_free(s);
}

/* break_upload starts an upload on a raw channel, sends one chunk of it and then forged: the worker drops the
 * channel, and serves on. During an upload its ring carries only that call's input. */
static void break_upload(const bay__frame *forged)
{
    int fd;
    void *mem;
    bay__ring in, out;
    raw_upload(8, 20000, &fd, &mem, &in, &out);
    write_frame(&out, &CHUNK_OF_7(8));
    write_frame(&out, forged);
    cr_assert(h_wait_until(hung_up, &fd, H_WAIT_MS), "the worker kept the channel");
    cr_assert(h_wait_log(&h, "a frame other than its upload's input came during it"));
    munmap(mem, BAY_CHAN_SIZE);
    close(fd);
    expect_sum(3); /* the worker serves on, uploads too */
    expect_greet("Hello, world!");
}

Test(fastpath, a_host_that_sends_a_call_during_its_upload_loses_its_channel)
{
    break_upload(&(bay__frame){.type = BAY_F_CALL, .id = 9, .name = "conform.echo", .raw = sum_args,
                               .raw_len = sizeof sum_args, .timeout_ms = 5000});
}

Test(fastpath, a_host_that_sends_another_calls_input_during_its_upload_loses_its_channel)
{
    break_upload(&CHUNK_OF_7(99));
}

Test(fastpath, an_unreadable_chunk_of_input_costs_only_itself)
{
    int fd;
    void *mem;
    bay__ring in, out;
    raw_upload(4, 20000, &fd, &mem, &in, &out);
    unsigned char forged[BAY_RING_ALIGN] = {8, 0, 0, 0}; /* a frame of 8 bytes, none of them valid msgpack */
    memset(forged + 4, 0xc1, 8);
    bay__ring_wait w = {.until_ns = bay__now_ns() + 10000000000LL};
    cr_assert_eq(bay__ring_write(&out, forged, sizeof forged, &w), 0);
    bay__frame f;
    void *buf = NULL;
    read_answer(&in, &f, &buf); /* conform/c returns what bay_call_receive gave it */
    cr_assert(f.type == BAY_F_ERROR && f.id == 4 && f.code == BAY_EPROTO && strstr(f.message, "cannot be read"),
              "got %s: %s", bay__frame_type_name(f.type), f.type == BAY_F_ERROR ? f.message : "");
    bay__frame_release(&f);
    free(buf);
    write_frame(&out, &(bay__frame){.type = BAY_F_END, .id = 4}); /* the rest of its input is skipped */
    bay_value_free(call_raw(&in, &out, &(bay__frame){.type = BAY_F_CALL, .id = 5, .name = "conform.echo",
                                                     .raw = sum_args, .raw_len = sizeof sum_args, .timeout_ms = 5000},
                            BAY_F_RESULT));
    leave_raw(fd, mem);
}

Test(fastpath, an_upload_its_host_leaves_unended_stops_at_its_deadline_and_the_channel_serves_on)
{
    int fd;
    void *mem;
    bay__ring in, out;
    long long t0 = h_now_ms();
    raw_upload(5, 500, &fd, &mem, &in, &out);
    write_frame(&out, &CHUNK_OF_7(5)); /* and no END */
    bay__frame f;
    void *buf = NULL;
    read_answer(&in, &f, &buf);
    cr_assert(f.type == BAY_F_ERROR && f.id == 5 && f.code == BAY_ETIMEDOUT, "got %s %lld",
              bay__frame_type_name(f.type), (long long)f.code);
    cr_assert_lt(h_now_ms() - t0, 8000);
    bay__frame_release(&f);
    free(buf);
    /* Its END coming late is skipped as input of a call that ended; the next call on the channel is answered. */
    write_frame(&out, &(bay__frame){.type = BAY_F_END, .id = 5});
    write_frame(&out, &(bay__frame){.type = BAY_F_CALL, .id = 6, .name = "conform.upload", .raw = sum_args,
                                    .raw_len = sizeof sum_args, .timeout_ms = 5000, .input = 1});
    for (int i = 0; i < 3; i++)
        write_frame(&out, &CHUNK_OF_7(6));
    bay_value *v = call_raw(&in, &out, &(bay__frame){.type = BAY_F_END, .id = 6}, BAY_F_RESULT);
    cr_assert_eq(bay_value_int(bay_map_get(v, "sum")), 21);
    bay_value_free(v);
    leave_raw(fd, mem);
}
