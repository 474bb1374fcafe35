/* tests/e2e/harness.h — starts a real plugbayd with chosen plugins and waits on conditions for the end-to-end tests. */
#ifndef BAY_HARNESS_H
#define BAY_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <plugbay/plugbay.h>

/* Generous deadline for anything the tests wait on; conditions, never fixed sleeps. */
#define H_WAIT_MS 20000

typedef struct harness {
    char dir[256];     /* temporary root, removed by h_cleanup */
    char plugins[300]; /* DIR/plugins: copies of the chosen plugin folders */
    char state[300];   /* DIR/state */
    char log[300];     /* the broker's log file */
    char url[400];     /* the broker's public url */
    pid_t broker;      /* 0 when not running */
    bool manual;       /* h_spawn leaves out --autoinstall: found plugins wait for `install` */
} harness;

/* h_setup makes the temporary folders and copies the plugins named in ids
 * (NULL-terminated; looked up among the built example and test plugins). */
void h_setup(harness *h, const char *const *ids);

/* h_spawn starts plugbayd (--autoinstall unless h->manual, plus extra, NULL-terminated or NULL)
 * without waiting for it (for a plugbayd no host can reach). */
void h_spawn(harness *h, const char *const *extra);

/* h_start starts plugbayd as h_spawn does and waits until it answers a status command. */
void h_start(harness *h, const char *const *extra);

/* h_start_loaded starts plugbayd as h_start does and asserts, through a
 * connection of its own that it closes again, that every plugin of ids
 * (NULL-terminated) loads within H_WAIT_MS: for suites that connect their
 * own way. */
void h_start_loaded(harness *h, const char *const *extra, const char *const *ids);

/* h_listen_public points h->url (after h_setup, before h_start) at
 * DIR/plugbay/plugbayd.sock, a socket another local user can reach (DIR
 * searchable, plugbay/ readable) — where a per-user plugbayd of
 * XDG_RUNTIME_DIR=DIR would listen; start plugbayd with {"--listen", h->url}. */
void h_listen_public(harness *h);

/* h_stop stops the broker with SIGTERM and waits for it to exit cleanly. */
void h_stop(harness *h);

/* h_kill kills the broker with SIGKILL and reaps it. */
void h_kill(harness *h);

/* h_cleanup stops the broker if running and removes the temporary folders. */
void h_cleanup(harness *h);

/* h_connect connects a host named name; asserts on failure. */
bay_conn *h_connect(harness *h, const char *name);

/* h_clone_plugin copies the built plugin src (its code) to DIR/plugins/ID with
 * manifest text instead of src's plugin.json. Call before h_start. */
void h_clone_plugin(harness *h, const char *src, const char *id, const char *manifest);

/* h_copy_plugin copies the built plugin src (its folder as built) to
 * DIR/plugins/ID, its plugin.json last; also while plugbayd runs. */
void h_copy_plugin(harness *h, const char *src, const char *id);

/* h_write_manifest writes text as DIR/plugins/ID/plugin.json (creating the folder). */
void h_write_manifest(harness *h, const char *id, const char *text);

/* h_edit_file replaces the first `from` in the file at path (8 KiB at most) with `to`; the test fails when
 * the file lacks it. */
void h_edit_file(const char *path, const char *from, const char *to);

/* h_wait_until polls cond(arg) every 5 ms until it is true (returns true) or timeout_ms passes. */
bool h_wait_until(bool (*cond)(void *), void *arg, int timeout_ms);

/* h_plugin_state writes the plugin's state (and reason, when not NULL) as the broker reports it. */
void h_plugin_state(bay_conn *c, const char *id, char *state, size_t len, char *reason, size_t rlen);

/* h_wait_state waits until plugin id is in state; returns false on timeout. */
bool h_wait_state(bay_conn *c, const char *id, const char *state, int timeout_ms);

/* h_wait_loaded asserts that every plugin of ids (NULL-terminated; NULL for
 * none) is loaded within H_WAIT_MS, naming the first that is not. */
void h_wait_loaded(bay_conn *c, const char *const *ids);

/* h_finish ends a test: closes *c (when not NULL, then NULL), stops plugbayd,
 * fails the test (cr_expect) when its log holds a sanitizer's report (a
 * worker's stderr is in it), and cleans up. */
void h_finish(harness *h, bay_conn **c);

/* h_finish_greeted ends a test as h_finish does, after checking (cr_expect)
 * that example/hello still answers greet on *c: whatever the test did to
 * other plugins, the plugin beside them serves on. */
void h_finish_greeted(harness *h, bay_conn **c);

/* h_log_contains returns true when the broker's log holds needle now. */
bool h_log_contains(harness *h, const char *needle);

/* h_wait_log waits (H_WAIT_MS at most) until the broker's log holds needle:
 * log lines travel apart from call results, so a line may follow the answer. */
bool h_wait_log(harness *h, const char *needle);

/* h_log_tail copies the last 40 lines of plugbayd's log to stderr, where a
 * CI run keeps them after the test's folder is gone. */
void h_log_tail(const harness *h);

/* h_command runs a broker command with {"id": id} and returns its code. */
int h_command(bay_conn *c, const char *command, const char *id, bay_error *err);

/* h_set_setting sets setting key of plugin id to the value of JSON json (the test fails on bad JSON) as a host
 * does, with the command "config": its code, err its message. */
int h_set_setting(bay_conn *c, const char *id, const char *key, const char *json, bay_error *err);

/* h_install_all installs plugin id granting all it asks, as `install ID --grant-all`: 0 once it settled, or the code. */
int h_install_all(bay_conn *c, const char *id, bay_error *err);

/* h_call_str calls name with one string argument (or none when arg is NULL)
 * and, on success, copies a string result into out. Returns the code. */
int h_call_str(bay_conn *c, const char *name, const char *arg, int timeout_ms, char *out, size_t len,
               bay_error *err);

/* h_call_json calls name with args_json (a JSON array; the test fails on bad
 * JSON) and timeout_ms (0: the default); on success *res is the result the
 * caller frees. Returns the call's code. */
int h_call_json(bay_conn *c, const char *name, const char *args_json, int timeout_ms, bay_value **res,
                bay_error *err);

/* h_run runs the program argv[0] with argv (NULL-terminated) to its end,
 * with its stdout in out and its stderr in err (each NUL-terminated, cut to
 * fit; either may be NULL), and returns its exit status (-1 if a signal ended it). */
int h_run(harness *h, const char *const *argv, char *out, size_t outlen, char *err, size_t errlen);

/* h_plugbay runs the CLI, plugbay --broker h->url, with words (NULL-terminated, at most 28) as h_run does. */
int h_plugbay(harness *h, const char *const *words, char *out, size_t outlen, char *err, size_t errlen);

/* h_free_port writes to addr (len bytes) "127.0.0.1:PORT", a port the kernel just gave a socket of the test (then closed). */
void h_free_port(char *addr, size_t len);

/* h_run_suggested runs the nth (from 0) command that message suggests
 * between backquotes, `plugbay WORD...`, as written (words split at
 * spaces) with --broker set to h's, as h_run does; -2 when message suggests
 * fewer commands. */
int h_run_suggested(harness *h, const char *message, int nth, char *out, size_t outlen, char *err, size_t errlen);

/* h_refused returns how many operations of kind ("syscall kill"; NULL: of
 * every kind) plugin id's sandbox refused, as info reports them. */
int64_t h_refused(bay_conn *c, const char *id, const char *kind);

/* h_wait_refused waits (H_WAIT_MS at most) until h_refused(c, id, kind) is
 * above above: a worker reports its refusals with its heartbeats' answers. */
bool h_wait_refused(bay_conn *c, const char *id, const char *kind, int64_t above);

/* h_plugin_str writes the string field of plugbayd's info on plugin id to out (len bytes; "" when not a string). */
void h_plugin_str(bay_conn *c, const char *id, const char *field, char *out, size_t len);

/* h_plugin_int returns the integer field of plugbayd's info on plugin id ("inflight", "waiting", "calls"...). */
int64_t h_plugin_int(bay_conn *c, const char *id, const char *field);

/* h_worker_pid returns the pid of plugin id's worker (0 when none). */
pid_t h_worker_pid(bay_conn *c, const char *id);

/* h_fast_channels returns how many fast channels plugbayd has granted (`status`: broker.fast_channels). */
int64_t h_fast_channels(bay_conn *c);

/* h_upload starts conform.upload(what) at conform/LANG through c within
 * timeout_ms (0: the default), as bay_call_upload; asserts on failure. */
bay_stream *h_upload(bay_conn *c, const char *lang, const char *what, int timeout_ms);

/* h_main_thread_syscall returns the number of the system call the main thread of process pid is in (x86-64's),
 * or -1 when it runs or cannot be read. */
long h_main_thread_syscall(pid_t pid);

/* h_main_thread_sleeps tells whether the main thread of process *(pid_t *)pid
 * is in nanosleep or clock_nanosleep (a test plugin's nap: the call runs), for h_wait_until. */
bool h_main_thread_sleeps(void *pid);

/* h_now_ms returns CLOCK_MONOTONIC in milliseconds. */
long long h_now_ms(void);

#endif
