/* broker/main.c — plugbayd's command line. */
#include "broker.h"
#include "crash.h"
#include "loop.h"
#include "package.h"
#include "places.h"
#include "uids.h"
#include "zygote.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/lsan_interface.h> /* the leak check exit() would run, run before _exit */
#endif

static void usage(FILE *to)
{
    fprintf(to,
            "usage: plugbayd [options]\n"
            "  --plugins DIR        plugin folders, one per plugin with a plugin.json (default ./plugins)\n"
            "  --state DIR          installed plugins, data folders, sockets (default $XDG_STATE_HOME/plugbay,\n"
            "                       else ~/.local/state/plugbay; as root /var/lib/plugbay)\n"
            "  --listen URL         where hosts connect: ipc://PATH or tls+tcp://HOST:PORT\n"
            "                       (default ipc://$XDG_RUNTIME_DIR/plugbay/plugbayd.sock, as root\n"
            "                       ipc:///run/plugbay/plugbayd.sock; with --state alone ipc://STATE/plugbayd.sock)\n"
            "  --tls-cert FILE      (tls+tcp) a PEM file with plugbayd's certificate and private key\n"
            "  --tls-client-ca FILE (tls+tcp) the certificate authority remote hosts' certificates must chain to\n"
            "  --remote-role ROLE   (tls+tcp) the role of a remote host until it proves a key (PLUGBAY_KEY):\n"
            "                       none (it must prove one), observer, host (default) or admin\n"
            "  --max-connections N  host connections one local user, or one remote address, may have open\n"
            "                       at once (default 256)\n"
            "  --autoinstall        install and enable every plugin found that is not installed yet\n"
            "  --worker-dir DIR     where the plugbay-worker-LANG programs are (default: " BAY_WORKER_RELDIR " from\n"
            "                       the folder of plugbayd's real path when that folder exists, as installed;\n"
            "                       else that folder itself, as in a build tree)\n"
            "  --log FILE           append the log to FILE instead of stderr (SIGHUP opens it again, after\n"
            "                       logrotate moved it, and rescans the plugins folder)\n"
            "  --heartbeat-ms N     heartbeat interval to each worker (default 1000)\n"
            "  --heartbeat-misses N missed heartbeats before a worker counts as hung (default 3)\n"
            "  --hang-grace-ms N    time a plugin gets to return after its call's deadline or cancel\n"
            "                       before its worker is killed and restarted (default 2000)\n"
            "  --restart-limit N/S  a plugin failing N times within S seconds stays failed (default 5/60)\n"
            "  --drain-timeout-ms N longest an unload waits for in-flight calls (default 30000)\n"
            "  --memory-mb N        a worker's memory limit when its manifest sets none (default 1024)\n"
            "  --replicas-max N     the most workers a plugin's \"replicas\" may ask for (default 8, at most 64)\n"
            "  --start-timeout-ms N longest a worker may take to load its plugin, once its wasm\n"
            "                       module is compiled (default 30000)\n"
            "  --compile-timeout-ms N longest plugbayd lets a wasm module's compile run before it kills it\n"
            "                       and fails the plugin's load (default 600000)\n"
            "  --no-sandbox         run workers without their OS sandbox (debugging only)\n"
            "  --no-namespaces      workers keep plugbayd's mount namespace: its sockets stay reachable by\n"
            "                       path, refused only by its peer check (docs/security.md)\n"
            "  --zygotes LANGS      the languages whose workers fork from a zygote, started once (c, lua,\n"
            "                       python, wasm, comma-separated), all or none (default python;\n"
            "                       docs/security.md says what forked workers share)\n"
            "  --check-types MODE   strict (default): the arguments and results of typed extension points\n"
            "                       are checked against their schemas in plugbayd; off: not (docs/types.md)\n"
            "  --trusted-keys DIR   the *.pub keys plugins may be signed with (default STATE/trusted-keys)\n"
            "  --signature-policy P require-signed, warn or off: what an unsigned, untrusted or altered\n"
            "                       plugin gets (default warn; docs/signing.md)\n"
            "  --exit-with-parent   stop (as on SIGTERM) when the process that started plugbayd exits\n"
            "  --cgroup DIR|none    each worker gets a memory cgroup in DIR, a delegated cgroup v2 folder\n"
            "                       (memory.max) or a cgroup v1 memory folder (memory.limit_in_bytes);\n"
            "                       default on cgroup v1: a folder in plugbayd's own memory group, when\n"
            "                       it may make one (root); none: no memory cgroups\n"
            "  --package-max-mb N   the largest package an admin may send, and all it unpacks to (default 256)\n"
            "  --package-max-files N the most files and folders a package may unpack to (default 10000)\n"
            "  --index URL          follow the plugin index at URL (repeatable): an installed version it revokes\n"
            "                       is disabled with its reason (docs/packages.md)\n"
            "  --index-interval-s N how often each --index is read again (default 600)\n"
            "  --verified-only      install and update only packages signed by a publisher the owner of an\n"
            "                       --index verified\n"
            "  --plugin-uids A-B    (root) run each plugin's worker as a uid of its own from A to B, its\n"
            "                       data folder its own (docs/security.md)\n"
            "  --metrics HOST:PORT  serve Prometheus metrics at http://HOST:PORT/metrics to requests bearing\n"
            "                       the token `plugbay metrics` prints (docs/metrics.md)\n"
            "  --metrics-token-file FILE  (--metrics) the bearer token /metrics wants, instead of a new\n"
            "                       random one written to STATE/metrics.token at each start\n"
            "  --console HOST:PORT  serve the web console there (loopback only, unless --console-cert);\n"
            "                       `plugbay console` prints a login link (docs/console.md)\n"
            "  --console-cert FILE  (--console) serve it over https with the certificate and key in FILE (PEM)\n"
            "  --version, --help\n");
}

/* number parses a positive int option or explains what was expected. */
static int number(const char *opt, const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v <= 0 || v > INT_MAX) {
        fprintf(stderr, "plugbayd: %s expects a positive whole number, got \"%s\"\n", opt, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* well_known_places fills in where plugbayd keeps its state and listens when
 * no --state or --listen says (protocol/places.h): a given --state alone
 * keeps the socket inside it (STATE/plugbayd.sock, a private plugbayd); with
 * neither, the socket goes in the user's (or the system's) run folder, made
 * here: 0700 for a user, 0755 for the system's (the uid decides who gets in).
 * state is a PATH_MAX buffer for the default state folder, listen one of
 * PATH_MAX + 32 for the URL. Returns 0, or 1 with a message on stderr. */
static int well_known_places(bay__options *o, char *state, char *listen)
{
    bool state_given = o->state_dir != NULL;
    if (!state_given && !bay__place_state_dir((unsigned)geteuid(), state, PATH_MAX)) {
        fprintf(stderr, "plugbayd: no state folder: neither $XDG_STATE_HOME nor $HOME is set; pass --state DIR\n");
        return 1;
    }
    if (!state_given)
        o->state_dir = state;
    char run[PATH_MAX];
    if (o->listen_url || state_given || !bay__place_run_dir((unsigned)geteuid(), run, sizeof run))
        return 0; /* --listen, STATE/plugbayd.sock, or (no run folder) the default state's */
    if (mkdir(run, geteuid() == 0 ? 0755 : 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "plugbayd: cannot create %s for its socket: %s; pass --listen ipc://PATH\n", run,
                strerror(errno));
        return 1;
    }
    snprintf(listen, PATH_MAX + 32, "ipc://%s/plugbayd.sock", run);
    o->listen_url = listen;
    return 0;
}

/* check_listen refuses a --listen plugbayd must not or cannot use: plain
 * tcp://, and tls+tcp:// without its certificate. Returns 0 or 2. */
static int check_listen(const bay__options *o)
{
    const char *url = o->listen_url ? o->listen_url : "ipc://";
    bool tls = strncmp(url, "tls+tcp://", 10) == 0;
    if (strncmp(url, "tcp://", 6) == 0 || strncmp(url, "tcp4://", 7) == 0 || strncmp(url, "tcp6://", 7) == 0) {
        fprintf(stderr, "plugbayd: will not listen on %s: commands and calls would cross the network in clear text, "
                        "from anyone who reaches the port; listen on tls+tcp://%s with --tls-cert FILE and "
                        "--tls-client-ca FILE (docs/remote-hosts.md)\n",
                url, strstr(url, "://") + 3);
        return 2;
    }
    if (tls && (o->tls_cert == NULL || o->tls_client_ca == NULL)) {
        fprintf(stderr, "plugbayd: --listen %s needs --tls-cert FILE, a PEM file holding plugbayd's certificate and "
                        "its private key, and --tls-client-ca FILE, the certificate authority that signs the "
                        "certificates of the hosts allowed in (docs/remote-hosts.md)\n", url);
        return 2;
    }
    if (!tls && (o->tls_cert || o->tls_client_ca)) {
        fprintf(stderr, "plugbayd: --tls-cert and --tls-client-ca go with --listen tls+tcp://HOST:PORT\n");
        return 2;
    }
    const char *files[] = {o->tls_cert, o->tls_client_ca}, *names[] = {"--tls-cert", "--tls-client-ca"};
    for (int i = 0; tls && i < 2; i++)
        if (access(files[i], R_OK) != 0) {
            fprintf(stderr, "plugbayd: %s %s: %s\n", names[i], files[i], strerror(errno));
            return 2;
        }
    return 0;
}

static int parse(int argc, char **argv, bay__options *o)
{
    enum { O_PLUGINS = 256, O_STATE, O_LISTEN, O_AUTO, O_WORKERS, O_LOG, O_BEAT, O_MISSES, O_GRACE, O_RESTART,
           O_DRAIN, O_MEMORY, O_REPLICAS, O_NOSANDBOX, O_NONS, O_ZYGOTES, O_TYPES, O_PARENT, O_CGROUP, O_START, O_COMPILE, O_TRUSTED, O_POLICY, O_TLS_CERT, O_TLS_CA, O_REMOTE_ROLE, O_MAX_CONNS, O_UIDS, O_INDEX, O_INDEX_S, O_PKG_MB, O_PKG_FILES, O_VERIFIED, O_METRICS, O_METRICS_TOKEN, O_CONSOLE, O_CONSOLE_CERT, O_VERSION, O_HELP };
    static const struct option opts[] = {
        {"plugins", required_argument, 0, O_PLUGINS},     {"state", required_argument, 0, O_STATE},
        {"listen", required_argument, 0, O_LISTEN},       {"autoinstall", no_argument, 0, O_AUTO},
        {"worker-dir", required_argument, 0, O_WORKERS},  {"log", required_argument, 0, O_LOG},
        {"heartbeat-ms", required_argument, 0, O_BEAT},   {"heartbeat-misses", required_argument, 0, O_MISSES},
        {"hang-grace-ms", required_argument, 0, O_GRACE}, {"restart-limit", required_argument, 0, O_RESTART},
        {"drain-timeout-ms", required_argument, 0, O_DRAIN}, {"version", no_argument, 0, O_VERSION},
        {"memory-mb", required_argument, 0, O_MEMORY},    {"no-sandbox", no_argument, 0, O_NOSANDBOX},
        {"replicas-max", required_argument, 0, O_REPLICAS},
        {"no-namespaces", no_argument, 0, O_NONS},        {"zygotes", required_argument, 0, O_ZYGOTES},
        {"check-types", required_argument, 0, O_TYPES},
        {"exit-with-parent", no_argument, 0, O_PARENT},  {"cgroup", required_argument, 0, O_CGROUP},
        {"start-timeout-ms", required_argument, 0, O_START},
        {"compile-timeout-ms", required_argument, 0, O_COMPILE},
        {"trusted-keys", required_argument, 0, O_TRUSTED}, {"signature-policy", required_argument, 0, O_POLICY},
        {"tls-cert", required_argument, 0, O_TLS_CERT},   {"tls-client-ca", required_argument, 0, O_TLS_CA},
        {"remote-role", required_argument, 0, O_REMOTE_ROLE}, {"max-connections", required_argument, 0, O_MAX_CONNS},
        {"plugin-uids", required_argument, 0, O_UIDS},    {"index", required_argument, 0, O_INDEX},
        {"index-interval-s", required_argument, 0, O_INDEX_S}, {"package-max-mb", required_argument, 0, O_PKG_MB},
        {"package-max-files", required_argument, 0, O_PKG_FILES}, {"verified-only", no_argument, 0, O_VERIFIED},
        {"metrics", required_argument, 0, O_METRICS}, {"metrics-token-file", required_argument, 0, O_METRICS_TOKEN},
        {"console", required_argument, 0, O_CONSOLE}, {"console-cert", required_argument, 0, O_CONSOLE_CERT},
        {"help", no_argument, 0, O_HELP},                 {0, 0, 0, 0},
    };
    int c, window = 60;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case O_PLUGINS: o->plugins_dir = optarg; break;
        case O_STATE: o->state_dir = optarg; break;
        case O_LISTEN: o->listen_url = optarg; break;
        case O_TLS_CERT: o->tls_cert = optarg; break;
        case O_TLS_CA: o->tls_client_ca = optarg; break;
        case O_REMOTE_ROLE:
            if ((o->remote_role = bay__role_parse(optarg)) == BAY_ROLE_NONE && strcmp(optarg, "none") != 0) {
                fprintf(stderr, "plugbayd: --remote-role expects none, observer, host or admin, got \"%s\"\n",
                        optarg);
                return 2;
            }
            break;
        case O_AUTO: o->autoinstall = true; break;
        case O_WORKERS: o->worker_dir = optarg; break;
        case O_LOG: o->log_path = optarg; break;
        case O_BEAT: rc = number("--heartbeat-ms", optarg, &o->heartbeat_ms); break;
        case O_MISSES: rc = number("--heartbeat-misses", optarg, &o->heartbeat_misses); break;
        case O_GRACE: rc = number("--hang-grace-ms", optarg, &o->hang_grace_ms); break;
        case O_MAX_CONNS: rc = number("--max-connections", optarg, &o->max_connections); break;
        case O_INDEX:
            if (o->nindexes == BAY_INDEXES_MAX) {
                fprintf(stderr, "plugbayd: at most %d --index options\n", BAY_INDEXES_MAX);
                return 2;
            }
            o->indexes[o->nindexes++] = optarg;
            break;
        case O_INDEX_S: rc = number("--index-interval-s", optarg, &o->index_interval_s); break;
        case O_PKG_MB: rc = number("--package-max-mb", optarg, &o->package_max_mb); break;
        case O_PKG_FILES: rc = number("--package-max-files", optarg, &o->package_max_files); break;
        case O_VERIFIED: o->verified_only = true; break;
        case O_METRICS: o->metrics_addr = optarg; break;
        case O_METRICS_TOKEN: o->metrics_token_file = optarg; break;
        case O_CONSOLE: o->console_addr = optarg; break;
        case O_CONSOLE_CERT: o->console_cert = optarg; break;
        case O_UIDS:
            if (uids_parse(optarg, &o->uid_first, &o->uid_count) != 0) {
                fprintf(stderr, "plugbayd: --plugin-uids expects FIRST-LAST, uids above 0 like 2100000000-2100065535, "
                                "got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case O_DRAIN: rc = number("--drain-timeout-ms", optarg, &o->drain_timeout_ms); break;
        case O_MEMORY: rc = number("--memory-mb", optarg, &o->memory_mb); break;
        case O_REPLICAS:
            if ((rc = number("--replicas-max", optarg, &o->replicas_max)) == 0 && o->replicas_max > BAY_REPLICAS_MAX) {
                fprintf(stderr, "plugbayd: --replicas-max is at most %d, got %d\n", BAY_REPLICAS_MAX, o->replicas_max);
                rc = -1;
            }
            break;
        case O_NOSANDBOX: o->sandbox = false; break;
        case O_NONS: o->namespaces = false; break;
        case O_ZYGOTES:
            if (!zygote_languages_valid(optarg)) {
                fprintf(stderr, "plugbayd: --zygotes expects languages among c, lua, python and wasm, "
                                "comma-separated, or all, or none, got \"%s\"\n", optarg);
                return 2;
            }
            o->zygotes = optarg;
            break;
        case O_TYPES:
            if (strcmp(optarg, "strict") != 0 && strcmp(optarg, "off") != 0) {
                fprintf(stderr, "plugbayd: --check-types expects strict or off, got \"%s\"\n", optarg);
                return 2;
            }
            o->check_types = strcmp(optarg, "strict") == 0;
            break;
        case O_TRUSTED: o->trusted_keys = optarg; break;
        case O_POLICY:
            if (bay__signature_policy_parse(optarg, &o->sig_policy) != 0) {
                fprintf(stderr, "plugbayd: --signature-policy expects require-signed, warn or off, got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case O_CGROUP: o->cgroup_dir = optarg; break;
        case O_START: rc = number("--start-timeout-ms", optarg, &o->start_timeout_ms); break;
        case O_COMPILE: rc = number("--compile-timeout-ms", optarg, &o->compile_timeout_ms); break;
        case O_PARENT: {
            /* SIGTERM goes to the signalfd like any stop request; the check covers a parent gone meanwhile. */
            pid_t parent = getppid();
            if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
                return 1;
            break;
        }
        case O_RESTART: {
            char n[32] = "", s[32] = "";
            if (sscanf(optarg, "%31[0-9]/%31[0-9]", n, s) != 2 || number("--restart-limit N", n, &o->restart_limit) ||
                number("--restart-limit S", s, &window)) {
                fprintf(stderr, "plugbayd: --restart-limit expects N/SECONDS like 5/60, got \"%s\"\n", optarg);
                return 2;
            }
            break;
        }
        case O_VERSION: printf("plugbayd %s (protocol %d)\n", BAY_VERSION, BAY_WIRE_VERSION); exit(0);
        case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); return 2;
        }
        if (rc)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "plugbayd: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    o->restart_window_ms = window * 1000;
    if (o->verified_only && o->nindexes == 0) {
        fprintf(stderr, "plugbayd: --verified-only needs --index URL: an index says which publishers its owner "
                        "verified\n");
        return 2;
    }
    if (o->metrics_token_file && !o->metrics_addr) {
        fprintf(stderr, "plugbayd: --metrics-token-file goes with --metrics HOST:PORT\n");
        return 2;
    }
    if (o->console_cert && !o->console_addr) {
        fprintf(stderr, "plugbayd: --console-cert goes with --console HOST:PORT\n");
        return 2;
    }
    return check_listen(o);
}

int main(int argc, char **argv)
{
    broker b = {.opt = {.plugins_dir = "./plugins", .heartbeat_ms = 1000,
                        .heartbeat_misses = 3, .hang_grace_ms = 2000, .restart_limit = 5,
                        .restart_window_ms = 60000, .drain_timeout_ms = 30000, .memory_mb = 1024, .replicas_max = 8,
                        .start_timeout_ms = 30000, .compile_timeout_ms = 600000,
                        .sandbox = true, .namespaces = true, .zygotes = "python", .check_types = true, .sig_policy = BAY_SIG_WARN,
                        .remote_role = BAY_ROLE_HOST, .max_connections = 256, .index_interval_s = 600,
                        .package_max_mb = (int)(BAY_PKG_MAX_BYTES >> 20), .package_max_files = BAY_PKG_MAX_FILES}};
    int rc = parse(argc, argv, &b.opt);
    if (rc)
        return rc;
    snprintf(b.version, sizeof b.version, "%s", BAY_VERSION);
    bay_error err;
    if (bay__log_open(b.opt.log_path) != 0) {
        fprintf(stderr, "plugbayd: cannot open log file %s: %s\n", b.opt.log_path, strerror(errno));
        return 1;
    }
#ifndef __SANITIZE_ADDRESS__ /* AddressSanitizer reports crashes itself */
    crash_report_install();
#endif
    /* Absolute paths: workers run in their data folders. */
    char plugins[PATH_MAX], state[PATH_MAX];
    if (realpath(b.opt.plugins_dir, plugins) == NULL) {
        fprintf(stderr, "plugbayd: plugins folder %s does not exist; create it or pass --plugins DIR\n",
                b.opt.plugins_dir);
        return 1;
    }
    b.opt.plugins_dir = plugins;
    char state_default[PATH_MAX], listen[PATH_MAX + 32];
    if ((rc = well_known_places(&b.opt, state_default, listen)) != 0)
        return rc;
    if (bay__state_mkdirs(b.opt.state_dir, NULL, &err) != 0) {
        fprintf(stderr, "plugbayd: cannot create the state folder: %s\n", err.message);
        return 1;
    }
    if (realpath(b.opt.state_dir, state) == NULL) {
        fprintf(stderr, "plugbayd: cannot resolve the state folder %s: %s\n", b.opt.state_dir, strerror(errno));
        return 1;
    }
    if (bay__state_open(state, &b.state, &err) != 0) {
        fprintf(stderr, "plugbayd: %s\n", err.message);
        return 1;
    }
    b.opt.state_dir = state;
    char trusted[PATH_MAX + sizeof "/trusted-keys"];
    if (b.opt.trusted_keys == NULL) { /* the default folder is made on first start */
        snprintf(trusted, sizeof trusted, "%s/trusted-keys", state);
        if (mkdir(trusted, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "plugbayd: cannot create the trusted-keys folder %s: %s\n", trusted, strerror(errno));
            return 1;
        }
        b.opt.trusted_keys = trusted;
    }
    b.reg = bay__registry_new();
    b.conns = bay__idmap_new();
    b.started_ms = bay__now_ms();
    if (!b.reg || !b.conns) {
        fprintf(stderr, "plugbayd: out of memory\n");
        return 1;
    }
    rc = loop_run(&b);
    bay__registry_free(b.reg);
    bay__idmap_free(b.conns);
    bay__state_close(b.state);
    /* Not exit(): NNG's exit handler closes every socket, and a socket whose
     * peer is still sending can wedge it (broker/conn.c); the kernel closes
     * them instead. The leak check exit() would run is run here, unless a
     * socket was still being closed (its memory is on its way back then). */
    fflush(NULL);
#ifdef __SANITIZE_ADDRESS__
    if (b.sockets_settled)
        __lsan_do_leak_check();
#endif
    _exit(rc);
}
