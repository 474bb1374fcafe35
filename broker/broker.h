/* broker/broker.h — plugbayd's internal state: the types every module of the loop shares. */
#ifndef BAY_BROKER_H
#define BAY_BROKER_H

#include <msgpack.h>
#include <nng/nng.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include <plugbay/plugbay.h>

#include "callstat.h"
#include "clock.h"
#include "frame.h"
#include "idmap.h"
#include "share.h"
#include "log.h"
#include "manifest.h"
#include "registry.h"
#include "signature.h"
#include "permission.h"
#include "role.h"
#include "state.h"
#include "transition.h"

/* What plugbayd can be told on its command line. */
/* At most this many --index options. */
#define BAY_INDEXES_MAX 8

typedef struct bay__options {
    const char *plugins_dir;
    const char *state_dir;
    const char *listen_url;  /* NULL: ipc://STATE/plugbayd.sock; never plain tcp:// (main.c refuses it) */
    const char *tls_cert;    /* with tls+tcp://: PEM file of plugbayd's certificate and private key */
    const char *tls_client_ca; /* with tls+tcp://: the CA every remote host's certificate must chain to */
    bay__role remote_role;   /* the role of a host over tls+tcp:// */
    int max_connections;     /* host connections one local user or remote address may have open */
    const char *worker_dir;  /* where plugbay-worker-LANG live; NULL: next to plugbayd */
    const char *log_path;    /* NULL: stderr */
    bool autoinstall;        /* install and enable every discovered plugin not yet in the state */
    int heartbeat_ms;        /* interval between heartbeats to each worker */
    int heartbeat_misses;    /* missed heartbeats before a worker is declared hung */
    int hang_grace_ms;       /* time a worker gets to finish a call after its deadline and cancel */
    int restart_limit;       /* crashes allowed within restart_window_ms before a plugin stays failed */
    int restart_window_ms;
    int drain_timeout_ms;    /* longest an unload waits for in-flight calls */
    int start_timeout_ms;    /* longest a worker may take from start to loaded (under --plugin-uids a wasm compile included) */
    int compile_timeout_ms;  /* longest a wasm module's compile runs before it is killed (broker/precompile.c) */
    int memory_mb;           /* a worker's memory limit when its manifest sets none */
    int replicas_max;        /* --replicas-max: the most workers one plugin's "replicas" may ask for */
    bool sandbox;            /* workers apply their OS sandbox (--no-sandbox turns it off) */
    bool namespaces;         /* workers cover plugbayd's sockets in namespaces of their own (--no-namespaces) */
    const char *zygotes;     /* --zygotes: the languages whose workers fork from a zygote (zygote.h) */
    bool check_types;        /* --check-types strict (default) or off: values of typed extension points checked */
    const char *trusted_keys;  /* folder of the *.pub keys plugins may be signed with; NULL: STATE/trusted-keys */
    bay__sig_policy sig_policy; /* what an unsigned, untrusted or altered plugin gets (docs/signing.md) */
    const char *indexes[BAY_INDEXES_MAX]; /* --index URL (repeatable): the indexes followed (follow.h) */
    size_t nindexes;
    int index_interval_s;    /* how often each is read again */
    bool verified_only;      /* --verified-only: packages only from publishers a followed index verified */
    int package_max_mb;      /* --package-max-mb: a package sent, and the files it unpacks to, in MiB at most */
    int package_max_files;   /* --package-max-files: the files and folders a package unpacks to, at most */
    uid_t uid_first;         /* --plugin-uids: the first uid a plugin's worker may run as, */
    uint32_t uid_count;      /* and how many (0: workers run as plugbayd's user) */
    const char *cgroup_dir;  /* --cgroup: a delegated cgroup v2 folder, a cgroup v1 memory folder, "none" or NULL */
    const char *metrics_addr; /* --metrics HOST:PORT: where /metrics is served, or NULL */
    const char *console_addr; /* --console HOST:PORT: where the web console is served, or NULL */
    const char *console_cert; /* --console-cert FILE: its certificate and key (https), or NULL */
    const char *metrics_token_file; /* --metrics-token-file: the bearer token /metrics wants; NULL: a new one */
} bay__options;

typedef enum conn_role { ROLE_PENDING, ROLE_HOST, ROLE_WORKER } conn_role;

/* One peer: a host (or CLI) or a worker, each on a pair1 socket of its own.
 * The broker's thread owns every field but the atomics, which NNG's threads
 * also touch (see conn.c for how a connection is closed). */
typedef struct conn {
    uint64_t session;
    conn_role role;
    bool hello_done;
    char name[128];      /* host name, or plugin id for a worker */
    pid_t pid;           /* the peer's pid as it said in HELLO */
    uint64_t peer;       /* who dialled the rendezvous: pid over ipc, address over tcp (for caps) */
    pid_t peer_pid;      /* the pid that did the rendezvous over ipc, the only one that may dial; 0 when unknown */
    bool for_worker;     /* made for a worker: only that worker's pid may dial it */
    nng_socket sock;
    nng_listener listener;
    nng_aio *recv_aio;
    char token[33];
    char path[512];      /* ipc socket file, removed once the peer is connected, or "" */
    int64_t opened_ms;
    bool subscribed;
    int64_t uid;         /* a local host's user (SO_PEERCRED at the rendezvous), -1 over tcp */
    bay__role rights;    /* what a host may do (role.h), decided at the rendezvous */
    char **grants;       /* a host added with role host: the call: and provide: it may use; NULL: unlimited */
    char who[224];       /* a host's name, uid or key and role, set at its HELLO and auth (conn_who) */
    bool auth_over;      /* a host sent its auth, or another frame first: no auth may come any more */
    bool keyed;          /* a remote host that proved key (auth.c), which then decides its rights */
    unsigned char key[BAY_KEY_PUBLIC_BYTES];
    int calls_in_flight; /* its calls and events plugbayd routes now (route.c; capped there) */
    bay__idmap *asked;   /* its calls plugbayd routes now by its own request ids (route.c's), NULL until its first */
    int calls_serving;   /* calls it serves as a provider now, a host or a worker (route.c) */
    bay__log_limit dropped_log; /* the lines about its events dropped past the cap */
    struct plugin *plugin; /* for a worker */
    struct peer_log *log;  /* the rate limit of log lines about this peer (conn.c) */
    struct conn_closer *closer;
    struct peer_guard *guard; /* who may dial it (peer.h) */
    struct broker_queue *queue; /* where its frames go (the broker's) */
    const struct conn_local *local; /* a connection inside plugbayd (the console's): no socket, frames sent go here */
    void *local_data;
    atomic_int pipes;      /* the peer's pipes open now (NNG's pipe callbacks count them) */
    atomic_bool had_pipe;  /* the peer connected once: a second dial is refused */
    atomic_int peer_pipe;  /* the id of the peer's pipe, 0 until it connects */
    atomic_bool dropped;   /* the broker let go: frames are discarded until the socket closes */
    atomic_bool queued;    /* handed to the closer thread */
    atomic_int backlog;    /* its frames queued for the broker's thread */
    atomic_bool paused;    /* not receiving until the broker's thread catches up */
    struct conn *next_close;
} conn;

/* A broker request waiting on a plugin's lifecycle: answered when it settles. */
typedef struct waiter {
    uint64_t session; /* the asking connection */
    uint64_t id;      /* its request id */
    struct waiter *next;
} waiter;

/* A timer of a serving plugin (timer.c's; route.c clears running when a tick ends). */
typedef struct plugin_timer {
    const bay__timer_decl *decl; /* the manifest's, or own */
    bay__timer_decl own;         /* a timer set at run time: its name and function (owned) */
    int64_t next_ms; /* when it fires next */
    bool running;    /* its previous tick has not returned */
    bool removed;    /* removed while its tick ran: freed once that tick ends */
} plugin_timer;

typedef struct plugin_timers {
    plugin_timer **v;
    size_t n;
} plugin_timers;

/* A reload of a loaded plugin starts its new worker beside the serving one
 * (RELOAD_STARTING: other_worker is the new one), switches new calls to it
 * once it loaded, then lets the old finish its calls (RELOAD_DRAINING:
 * other_worker is the old one) and stops it. */
typedef enum reload_phase { RELOAD_NONE, RELOAD_STARTING, RELOAD_DRAINING } reload_phase;

/* A plugin's life: lifecycle.c's alone to change (others read state and
 * reason); it changes state only through its set_state, which logs and
 * tells subscribers. */
typedef struct plugin_life {
    plugin_state state;
    char reason[512];      /* why failed or invalid, "" otherwise */
    char last_failure[512]; /* the reason it last failed or was invalid ("" never), kept once it serves again */
    int64_t last_failure_at; /* when, ms since the epoch (0: never) */
    plugin_state rest;     /* where an unload ends: stopped, or disabled/available for disable/uninstall */
    char rest_why[512];    /* the reason it ends there with (lifecycle_disable's), "" for none */
    bool then_load;        /* load again once unloaded (reload) */
    uint64_t load_id;      /* id of the COMMAND load in flight */
    uint64_t unload_id;    /* id of the COMMAND unload in flight */
    int64_t unload_deadline_ms;
    int64_t crashes[16];   /* times of recent crashes (ms), ring */
    int ncrashes;          /* crashes since it was last enabled or installed */
    int restarts;          /* restarts scheduled after them (counted when scheduled) */
    int64_t restart_at_ms; /* scheduled restart, 0 when none */
    bool no_restart;       /* its failure is not a crash worth restarting (load error) */
    waiter *waiters;       /* requests answered when it settles */
    plugin_timers timers;  /* its timers, while loaded (timer.c) */
    bay__manifest *next;   /* plugin.json as reload read it again: taken once its worker is gone, or at the
                            * switch to the worker a reload of a loaded plugin starts beside the old; or NULL */
    reload_phase reload;   /* where a reload of a loaded plugin is (other_worker's part) */
    bool reload_queued;    /* a reload asked for while the old worker drains: it starts once that one is gone */
    uint64_t other_load_id;   /* id of the COMMAND load in flight to other_worker */
    uint64_t other_unload_id; /* id of the COMMAND unload in flight to other_worker */
    int64_t other_deadline_ms; /* draining: when the old worker is killed (drain timeout, then its exit) */
    plugin_timers old_timers; /* the old worker's timers, which its ticks in flight still point to, until it is gone */
    bool folder_gone;      /* installed, and its folder left the plugins folder: it loads no more until back */
    uint64_t settings_sent, other_settings_sent; /* settings_changes when each worker's COMMAND load went */
} plugin_life;

/* Its worker process: supervise.c's alone (others read pid and kill_sent). */
typedef struct worker_proc {
    pid_t pid;             /* 0 when none */
    uid_t uid;             /* the uid it runs as when it has one of its own (--plugin-uids), else 0 */
    int out_fd;            /* read end of the worker's stdout+stderr, -1 when none */
    char outbuf[4096];
    size_t outlen;
    int64_t out_window_ms; /* the output's rate limit: when its window began, */
    unsigned out_lines;    /* the lines logged in it, */
    uint64_t out_dropped;  /* and those dropped since the last one logged */
    int64_t out_resume_ms; /* while its output is over the limit: when plugbayd reads it again */
    uint64_t beat_seq;     /* the last heartbeat sent */
    int64_t last_beat_ms;  /* last heartbeat answer */
    int64_t next_beat_ms;
    int64_t start_deadline_ms;
    bool kill_sent;        /* SIGKILL sent; kill_why says why */
    int64_t oom_kills;     /* its cgroup's count of memory kills when it was placed there (cgroup.h) */
    char kill_why[512];
    bay_value *refused;    /* what its sandbox refused, over all its workers: kind -> count (a map), or NULL */
    int64_t refused_total;
    bay__log_limit refused_log; /* the lines saying so */
} worker_proc;

/* Its calls: route.c's alone (command.c reads them for info and status). */
typedef struct call_stats {
    int inflight;          /* calls forwarded and not answered */
    int waiting;           /* hosts' calls waiting their turn in plugbayd (fair shares) */
    bay__callstat total;   /* every call ended since plugbayd started: routed, and fast ones its workers told of */
    float latency_us[256]; /* the last routed calls' times, a ring */
    unsigned nlatency;     /* how many were recorded in all */
    bay__share_callers callers; /* the hosts that called it last (fair shares) */
    bay__log_limit fast_log; /* the lines about its workers' malformed reports of fast calls */
} call_stats;

/* What the latest sample read of one of a plugin's workers (metrics.c's). */
typedef struct worker_seen {
    pid_t pid;             /* the worker read, 0 when none ran */
    int64_t cpu_ms;        /* its CPU time then */
    int64_t pss_kb;        /* its PSS then, -1 when unknown */
} worker_seen;

/* What plugbayd samples of a plugin once a second: metrics.c's alone. */
typedef struct plugin_usage {
    struct bay__history *history; /* its last hour by the second and day by the minute (history.h), NULL until
                                   * it first had a worker or a call */
    int64_t cpu_ms;        /* CPU time its serving workers and replicas used, added up over their lives (as sampled) */
    worker_seen seen;      /* its serving worker (each replica has its own) */
    int64_t pss_kb;        /* the PSS of all its workers at the latest sample, -1 when none ran */
} plugin_usage;

/* One more worker of a plugin whose manifest asks for "replicas": replica.c's
 * (supervise.c starts, watches and reaps its process as a plugin's others). */
typedef struct replica {
    int index;             /* its number as the log names it: 2 for the first (the plugin's own worker is 1) */
    conn *worker;          /* its connection, NULL while it has none */
    worker_proc proc;
    uint64_t load_id;      /* the COMMAND load in flight, 0 when none */
    uint64_t unload_id;    /* the COMMAND unload it was sent, 0 when none */
    bool serving;          /* it loaded the plugin: calls may go to it */
    pid_t beside;          /* the plugin's serving worker it was started beside: another one means a reload */
    uint64_t settings_sent; /* the plugin's settings_changes when its load went */
    int64_t restart_at_ms; /* after it ended unasked: when it starts again, 0 when not due */
    int64_t crashes[4];    /* when it ended unasked lately, a ring */
    unsigned ncrashes;
    bool down;             /* it failed to load, or ended too often: not started again until the plugin loads */
    worker_seen seen;      /* metrics.c's */
} replica;

typedef struct plugin {
    char *id;
    bay__manifest *m;       /* NULL when invalid */
    int64_t rank;          /* load order */
    conn *worker;          /* its serving worker's connection (conn.c's) */
    conn *other_worker;    /* during a reload of a loaded plugin, the other worker's (life.reload says which), or NULL */
    plugin_life life;
    worker_proc proc;      /* the serving worker's process */
    worker_proc other;     /* other_worker's process (supervise.c's, as proc) */
    call_stats stats;
    plugin_usage usage;
    uint64_t settings_changes; /* how often an admin changed its settings (config.c's alone) */
    replica **replicas;    /* its workers past the first while its manifest asks for "replicas" (replica.c's;
                            * each stays where it is until the plugin is freed: the loop holds their procs) */
    size_t nreplicas;      /* slots in replicas (some may have no worker) */
} plugin;

struct broker;

/* A module's listener for a host whose connection went away (conn.c calls
 * them in the order registered). */
typedef void (*host_gone_fn)(struct broker *b, conn *c);

/* A module's listener for a notice about extension points and plugin states
 * (lifecycle.c calls them after telling subscribed hosts). */
typedef void (*notice_fn)(struct broker *b, const char *what, const char *name, const char *who, const char *state,
                          const char *reason);

#define LISTENERS_MAX 6

typedef struct broker {
    bay__options opt;
    char version[32];
    char url[600];          /* public rendezvous url */
    char run_dir[512];
    char conn_dir[520];     /* over ipc, the folder of hosts' connection sockets: the public socket's path + ".d" (conn.c) */
    char worker_dir[512];
    bay__state *state;
    bay__registry *reg;
    plugin **plugins;       /* sorted by load order */
    size_t nplugins;
    bay__idmap *conns;       /* session -> conn */
    const struct conn_dispatch *dispatch; /* what each role's frames do (conn.h; loop.c's table) */
    struct route_calls *calls; /* the calls in flight: route.c's alone */
    struct fastpath *fast;  /* fast channels granted to hosts (fastpath.c), NULL until the first */
    struct logs *logs;      /* the last audit lines and each plugin's (logs.c) */
    struct watch *watch;    /* the plugins folder's inotify watches (watch.c), NULL when the kernel gave none */
    uint64_t next_session, next_call;
    struct conn_closer *closer; /* closes sockets off this thread (conn.c) */
    struct peer_guard *guard;   /* refuses plugin workers and their children as peers (peer.h) */
    bool pidns;             /* workers start in user and PID namespaces of their own (launch.h) */
    struct {                /* where workers' memory groups go (cgroup.c's) */
        char dir[1024];     /* "" when none */
        int version;        /* 1 or 2; 0 when none */
        bool made;          /* cgroup_init made dir, removed at exit */
    } cg;
    nng_socket rdv;         /* rendezvous rep socket */
    nng_aio *rdv_aio;
    bay__log_limit rdv_warns; /* rate limit of the lines about refused rendezvous */
    bay__idmap *peer_logs;    /* peer key -> struct peer_log (conn.c) */
    int64_t peer_logs_pruned_ms;
    bool sockets_settled;    /* at exit: the closer finished (conn_close_all) */
    host_gone_fn host_gone[LISTENERS_MAX]; /* registered with conn_on_host_gone */
    size_t nhost_gone;
    notice_fn notice[LISTENERS_MAX];       /* registered with lifecycle_on_notice */
    size_t nnotice;
    /* What the modules below lifecycle.c tell it, without naming it (loop.c
     * sets them to lifecycle.c's): a plugin's worker ended, and why
     * (supervise.c); the last call in flight of an unloading plugin, routed
     * or fast, ended (route.c, fastpath.c); the compile of a plugin's
     * WebAssembly module ended (precompile.c). */
    void (*worker_gone)(struct broker *b, plugin *p, bool other, const char *why); /* other: p->other's */
    void (*replica_gone)(struct broker *b, plugin *p, replica *r, const char *why); /* one of p->replicas */
    void (*drained)(struct broker *b, plugin *p);
    void (*compiled)(struct broker *b, plugin *p);
    /* What lifecycle.c tells the module above it that swaps plugins'
     * versions (loop.c sets it to update.c's): a reload of p ended, its new
     * worker serving (ok) or gone before it loaded (why); a reload that
     * waited for the previous worker's calls and then did not start beside
     * it is told too: refused (why), or taken at the plugin's next load (ok). */
    void (*reloaded)(struct broker *b, plugin *p, bool ok, const char *why);
    struct updates *updates; /* versions swapped whose reload has not ended (update.c) */
    /* What lifecycle.c tells the module above it that places packages
     * (loop.c sets it to incoming.c's): p settled, its waiters answered. */
    void (*settled)(struct broker *b, plugin *p);
    struct incoming *incoming; /* packages placed whose first load has not settled (incoming.c) */
    struct follow *follow;   /* the thread reading the indexes followed, NULL when none (follow.c) */
    struct offer *offer;     /* packages downloading from them for install.index, NULL until the first (offer.c) */
    struct zygotes *zygotes; /* the zygotes running, NULL until the first (zygote.c) */
    struct precompile *precompile; /* wasm modules compiled before their workers start, NULL until the first (precompile.c) */
    int64_t next_memory_check_ms; /* when supervise.c next looks at the workers' memory */
    int64_t last_watch_ms;        /* when supervise.c last watched the workers' heartbeats (0: never) */
    uint64_t frames_received, frames_sent; /* over every connection since start, past the rendezvous (conn.c) */
    struct metrics *metrics; /* the once-a-second sampling and /metrics (metrics.c) */
    struct console *console; /* the web console (--console; console.c), or NULL */
    bool waking, wake_again; /* lifecycle.c is waking waiting plugins; a state change asked for another round */
    struct broker_queue {   /* what NNG's threads hand this thread: frames and departures (conn.c) */
        pthread_mutex_t mtx;
        struct event *head, *tail;
        int wake_fd;        /* eventfd: something was queued */
    } queue;
    int signal_fd;          /* SIGCHLD, SIGTERM, SIGINT, SIGHUP */
    int64_t started_ms;
    bool stopping;
} broker;

/* broker_plugin returns the plugin whose id is id, or NULL. */
static inline plugin *broker_plugin(const broker *b, const char *id)
{
    for (size_t i = 0; i < b->nplugins; i++)
        if (strcmp(b->plugins[i]->id, id) == 0)
            return b->plugins[i];
    return NULL;
}

/* plugin_pick_worker returns the connection of p's worker a call goes to: of its own worker and its replicas
 * that serve beside it, the one with the fewest calls in hand (p->worker, maybe NULL, without replicas). */
static inline conn *plugin_pick_worker(const plugin *p)
{
    conn *best = p->worker;
    for (size_t i = 0; i < p->nreplicas; i++) {
        const replica *r = p->replicas[i];
        if (r->serving && r->worker && r->beside == p->proc.pid &&
            (best == NULL || r->worker->calls_serving < best->calls_serving))
            best = r->worker;
    }
    return best;
}

/* plugin_workers_serving counts p's workers that take calls now, its own included. */
static inline unsigned plugin_workers_serving(const plugin *p)
{
    unsigned n = p->worker != NULL;
    for (size_t i = 0; i < p->nreplicas; i++)
        n += p->replicas[i]->serving && p->replicas[i]->beside == p->proc.pid;
    return n;
}

/* plugin_replica returns the replica of p whose connection is c, or NULL. */
static inline replica *plugin_replica(const plugin *p, const conn *c)
{
    for (size_t i = 0; c && i < p->nreplicas; i++)
        if (p->replicas[i]->worker == c)
            return p->replicas[i];
    return NULL;
}

#endif
