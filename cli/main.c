/* cli/main.c — plugbay, the command-line tool: parses a command, runs it through libplugbay, prints the reply. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <plugbay/plugbay.h>

#include "dev.h"
#include "key.h"
#include "new.h"
#include "publishing.h"
#include "file.h"
#include "locale_name.h"
#include "manifest.h"
#include "render.h"
#include "send.h"
#include "signing.h"
#include "test.h"
#include "top.h"

#define MAX_OPERANDS 2

typedef enum command_kind { BROKER_COMMAND, CALL, OFFLINE, HELP } command_kind;

typedef struct command {
    const char *name;
    command_kind kind;
    const char *operands[MAX_OPERANDS]; /* names of the positional arguments, NULL when fewer */
    const char *options;                /* the command's own options, for usage lines */
    const char *brief;
    render_fn render;                   /* BROKER_COMMAND: prints the reply for humans */
    const char *remote;                 /* BROKER_COMMAND: plugbayd's name for it, when not name */
    signing_fn offline;                 /* OFFLINE: runs the command, which needs no broker */
} command;

static const command commands[] = {
    {"list", BROKER_COMMAND, {NULL}, "",
     "list the plugins: id, version, language, state, extension points", .render = render_list},
    {"info", BROKER_COMMAND, {"ID"}, "", "show a plugin's manifest and runtime state", .render = render_info},
    {"info", OFFLINE, {"ID"}, " --available --index URL --trusted-keys KEYDIR",
     "fetch the index at URL as search does and show every version of plugin ID in it: what each asks for, "
     "needs and is signed by, and which this plugbay would take", .offline = cli_info_available},
    {"install", BROKER_COMMAND, {"ID|FILE|URL"}, " [--grant PERM]... [--grant-all]",
     "install a discovered plugin, granting the permissions it asks for (asks on a terminal)", .render = render_state},
    {"update", BROKER_COMMAND, {"FILE|URL|ID"}, " [--index URL --trusted-keys KEYDIR] [--grant PERM]... [--grant-all]",
     "update an installed plugin to the version in package FILE (or the newest in the index), without a failed "
     "call; a version that fails to load is rolled back", .render = render_state},
    {"update", BROKER_COMMAND, {NULL}, " --index URL --trusted-keys KEYDIR",
     "update every installed plugin the index has a newer version of, as update ID --index does",
     .render = render_state},
    {"outdated", BROKER_COMMAND, {0}, " --index URL --trusted-keys KEYDIR",
     "list the installed plugins the index has a newer version of", .render = render_outdated},
    {"rollback", BROKER_COMMAND, {"ID"}, "", "return a plugin to the version it ran before an update",
     .render = render_state},
    {"grant", BROKER_COMMAND, {"ID"}, " [--grant PERM]... [--grant-all]",
     "grant an installed plugin more of the permissions it asks for", .render = render_state},
    {"uninstall", BROKER_COMMAND, {"ID"}, "", "unload and uninstall a plugin", .render = render_state},
    {"enable", BROKER_COMMAND, {"ID"}, "", "enable a plugin (it loads now and at every start)", .render = render_state},
    {"disable", BROKER_COMMAND, {"ID"}, "", "disable a plugin (it unloads and stays unloaded)", .render = render_state},
    {"load", BROKER_COMMAND, {"ID"}, "", "load an enabled plugin now", .render = render_state},
    {"unload", BROKER_COMMAND, {"ID"}, "",
     "unload a plugin, letting its calls in flight finish", .render = render_state},
    {"reload", BROKER_COMMAND, {"ID"}, "",
     "load a plugin again, with its plugin.json read again (a loaded one: the new worker takes over once ready)",
     .render = render_state},
    {"status", BROKER_COMMAND, {NULL}, "", "show the broker, every plugin's runtime state and the extension points",
     .render = render_status},
    {"top", BROKER_COMMAND, {NULL}, " [--sort calls|errors|cpu] [--interval SECONDS] [--batch] [-n N]",
     "show the broker, its plugins (calls/s, errors/s, latency, CPU, memory) and its busiest extension points, "
     "polled every --interval seconds (1) as top does; keys c, e and p sort by calls, errors and CPU, q quits; "
     "--batch (or not on a terminal): plain frames, -n N of them", .remote = "status"},
    {"stats", BROKER_COMMAND, {"ID"}, " [--since DURATION]",
     "show a plugin's history over the last DURATION (30s, 10m, 2h, 1d; default 10m): calls, errors, p50/p99, CPU, "
     "memory, restarts and sandbox refusals per second (up to 1h) or per minute, at most 60 rows",
     .render = render_stats},
    {"panels", BROKER_COMMAND, {NULL}, "",
     "list the panels plugins add to the web console: plugin, panel, title (in your locale), address",
     .render = render_panels},
    {"panels", BROKER_COMMAND, {"ID"}, "", "list plugin ID's panels", .render = render_panels},
    {"metrics", BROKER_COMMAND, {NULL}, "",
     "show where plugbayd serves Prometheus metrics (--metrics) and the bearer token they need",
     .render = render_metrics},
    {"console", BROKER_COMMAND, {NULL}, "",
     "print a one-time link (valid 5 minutes) that logs a browser into plugbayd's web console (--console) "
     "with your role", .render = render_console},
    {"order", BROKER_COMMAND, {"ID", "N"}, " | plugbay order ID --clear",
     "load plugin ID at place N (lower first) instead of its manifest's \"order\", now and after restarts; "
     "--clear goes back to the manifest's", .render = render_info},
    {"config", BROKER_COMMAND, {"ID"}, "", "show a plugin's settings: value, default, type, description (a secret "
     "only as set or not)", .render = render_config},
    {"config", BROKER_COMMAND, {"ID", "KEY[=VALUE]"}, " [--reset]",
     "show setting KEY of a plugin, set it to VALUE (read as the setting's type; the plugin hears of it at once), "
     "or --reset it to its default", .render = render_config},
    {"host.add", BROKER_COMMAND, {"NAME"}, " --uid UID|USER|--key FILE.pub --role observer|host|admin [--grant PERM]...",
     "let a local user, or a remote host that proves the key of FILE.pub, talk to plugbayd as NAME in a role; a "
     "host's --grant call:PATTERN and provide:PATTERN say what it may call and provide", .render = render_host},
    {"host.list", BROKER_COMMAND, {NULL}, "", "list the hosts let in: name, uid or key id, role, grants",
     .render = render_hosts},
    {"host.remove", BROKER_COMMAND, {"NAME"}, "", "stop letting host NAME in and end its connections",
     .render = render_host},
    {"logs", BROKER_COMMAND, {NULL}, " --audit [--lines N]",
     "show plugbayd's last audit lines (up to 1,000): who ran which admin command, and how it ended",
     .render = render_lines, .remote = "audit"},
    {"logs", BROKER_COMMAND, {"ID"}, " [--follow] [--lines N]",
     "show plugin ID's last log lines (up to 1,000): its output and plugbayd's lines about it; --follow keeps "
     "printing new ones until interrupted", .render = render_log},
    {"rescan", BROKER_COMMAND, {NULL}, "",
     "look at the plugins folder again now: new plugin folders, changed plugin.json files, folders gone (plugbayd "
     "also notices them by itself, and on SIGHUP)", .render = render_rescan},
    {"call", CALL, {"EXTPOINT", "JSON-ARGS"}, " [--timeout MS] [--context CTX]",
     "call an extension point with a JSON array of arguments; print the result as JSON", .render = NULL},
    {"keygen", OFFLINE, {NULL}, " --out FILE [--comment TEXT]",
     "make a signing key: FILE (secret, mode 0600) and FILE.pub (public); print its key id", .offline = cli_keygen},
    {"sign", OFFLINE, {"DIR"}, " --key FILE", "sign every file of plugin folder DIR into DIR/plugin.sig",
     .offline = cli_sign},
    {"verify", OFFLINE, {"DIR|FILE"}, " [--trusted-keys KEYDIR]",
     "check DIR/plugin.sig, or the package FILE and the plugin.sig in it: print the signer's key id and OK, or "
     "which files changed", .offline = cli_verify},
    {"pack", OFFLINE, {"DIR"}, " [--key FILE] [-o FILE]",
     "pack plugin folder DIR into one file, ID-VERSION.bayplug (signed into its plugin.sig with --key); print the "
     "file and its sha256", .offline = cli_pack},
    {"index.build", OFFLINE, {"DIR"}, " --key FILE [--verified-keys KEYDIR]",
     "write DIR/index.json, the index of the packages in DIR, and its signature by the secret key FILE into "
     "DIR/index.json.sig; publishers whose key is in KEYDIR are listed as verified", .offline = cli_index_build},
    {"index.revoke", OFFLINE, {"DIR", "ID@VERSION"}, " --reason TEXT --key FILE [--verified-keys KEYDIR]",
     "mark a version in the index DIR revoked, saying why, and sign the index again", .offline = cli_index_revoke},
    {"publish", OFFLINE, {"PACKAGE", "INDEX-DIR"}, " --key FILE [--verified-keys KEYDIR]",
     "copy a package into the index folder INDEX-DIR (as ID-VERSION.bayplug; a published version never changes) "
     "and build and sign the index again", .offline = cli_publish},
    {"search", OFFLINE, {"TEXT"}, " --index URL --trusted-keys KEYDIR",
     "fetch the index at URL, check its signature against KEYDIR/*.pub and list the plugins whose id, name or brief "
     "holds TEXT, at their newest version for this plugbay", .offline = cli_search},
    {"download", OFFLINE, {"ID[@RANGE]"}, " --index URL --trusted-keys KEYDIR [-o FILE]",
     "fetch the index at URL as search does and the package of the newest version of ID in RANGE for this plugbay "
     "(checked against the index's sha256) into FILE, else its file name here", .offline = cli_download},
    {"new", OFFLINE, {"ID"}, " --lang c|lua|python|wasm|ffi [--types FILE]",
     "make a plugin folder ./NAME (NAME: the id's last part) for plugin ID from the kit's template of the language: "
     "plugin.json, the code, its Makefile (c, wasm), tests.json and a README", .offline = cli_new},
    {"new", OFFLINE, {"ID", "DIR"}, " --lang c|lua|python|wasm|ffi [--types FILE]",
     "the same in the folder DIR (absent or empty: nothing is overwritten)", .offline = cli_new},
    {"test", OFFLINE, {"DIR"}, " [--conformance] [--with PLUGIN-DIR]...",
     "build plugin folder DIR (make, when it has a Makefile), load it (and each --with plugin) in a private plugbayd "
     "and run the cases of DIR/tests.json (--conformance: the kit's conformance suite); exit 0 when all pass",
     .offline = cli_test},
    {"dev", OFFLINE, {"DIR"}, " [--with PLUGIN-DIR]...",
     "load plugin folder DIR in a private plugbayd, print its URL, and rebuild and reload the plugin on every "
     "change of its files until interrupted", .offline = cli_dev},
    {"help", HELP, {NULL}, "", "show this help", .render = NULL},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

/* What the command line asked for. */
typedef struct request {
    const char *broker;   /* NULL: libplugbay's default ($PLUGBAY_BROKER, else the well-known places) */
    bool json;
    bool help;
    bool version;         /* --version */
    int timeout_ms;       /* 0: the default of the call or command */
    const char *context;
    const char *key, *out, *comment, *trusted; /* --key, --out (or -o), --comment, --trusted-keys */
    const char *verified, *reason, *index;     /* --verified-keys, --reason, --index */
    const char *uid, *role;                    /* --uid, --role (host add) */
    const char *lang;                          /* --lang (new) */
    const char *types;                         /* --types FILE (new) */
    const char *since;                         /* --since (stats) */
    bool conformance;                          /* --conformance (test) */
    const char *sort, *interval, *frames;      /* --sort, --interval, -n (top) */
    bool batch;                                /* --batch (top) */
    const char **with;    /* --with values (test, dev) */
    size_t nwith;
    const char **grants;  /* --grant values */
    size_t ngrants;
    bool grant_all;       /* --grant-all */
    bool audit;           /* --audit (logs) */
    bool follow;          /* --follow (logs ID) */
    bool clear;           /* --clear (order) */
    bool reset;           /* --reset (config ID KEY) */
    bool available;       /* --available (info ID: the versions in an index) */
    bool verified_only;   /* --verified-only (install and update --index) */
    long lines;           /* --lines (logs), 0 when not given */
    const char **words;   /* the command and its operands */
    size_t nwords;
} request;

static int nargs(const command *cmd)
{
    int n = 0;
    while (n < MAX_OPERANDS && cmd->operands[n])
        n++;
    return n;
}

static void print_synopsis(FILE *f, const command *cmd)
{
    const char *dot = strchr(cmd->name, '.'); /* host.add is typed "host add" */
    fprintf(f, "plugbay %.*s%s%s", dot ? (int)(dot - cmd->name) : (int)strlen(cmd->name), cmd->name, dot ? " " : "",
            dot ? dot + 1 : "");
    for (int i = 0; i < nargs(cmd); i++)
        fprintf(f, " %s", cmd->operands[i]);
    fputs(cmd->options, f);
}

/* json_errors: --json is on the command line, so errors are JSON on stdout too (set before parsing). */
static bool json_errors;

/* report prints one error: with --json one line {"error": {"code", "name",
 * "plugin", "message"}} on stdout, else "plugbay: [PLUGIN: ]MESSAGE (NAME)" on
 * stderr (name NULL: without " (NAME)"), the plugin left out when the message
 * already starts with it. */
static void report(int code, const char *name, const char *plugin, const char *message)
{
    bool named = plugin && plugin[0];
    if (json_errors) {
        bay_value *e = bay_map(), *v = bay_map();
        char *json = NULL;
        bay_map_set(e, "code", bay_int(code));
        bay_map_set(e, "name", bay_str(name ? name : bay_errname(code)));
        bay_map_set(e, "plugin", named ? bay_str(plugin) : bay_nil());
        bay_map_set(e, "message", bay_str(message));
        bay_map_set(v, "error", e);
        if (bay_value_to_json(v, &json) == 0)
            puts(json);
        free(json);
        bay_value_free(v);
        return;
    }
    size_t n = named ? strlen(plugin) : 0;
    if (named && strncmp(message, plugin, n) == 0 && (message[n] == ' ' || message[n] == ':'))
        named = false;
    fprintf(stderr, "plugbay: %s%s%s%s%s%s\n", named ? plugin : "", named ? ": " : "", message, name ? " (" : "",
            name ? name : "", name ? ")" : "");
}

/* usage_error prints one line, the problem and how to use cmd (or the tool
 * when cmd is NULL), and returns exit status 2. */
static int usage_error(const command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int usage_error(const command *cmd, const char *fmt, ...)
{
    char *line = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&line, &len);
    if (f == NULL) {
        fputs("plugbay: out of memory (BAY_ENOMEM)\n", stderr);
        return 2;
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    if (cmd) {
        fputs("; usage: ", f);
        print_synopsis(f, cmd);
    } else {
        fputs("; usage: plugbay [--broker URL] [--json] [--timeout MS] COMMAND ... (see 'plugbay help')", f);
    }
    fclose(f);
    report(BAY_EINVAL, NULL, NULL, line);
    free(line);
    return 2;
}

/* failure prints the one line of a failed command and returns exit status 1. */
static int failure(const bay_error *e)
{
    report(e->code, bay_errname(e->code), e->plugin, e->message);
    return 1;
}

static void print_help(void)
{
    puts("usage: plugbay [--broker URL] [--json] [--timeout MS] COMMAND ...\n"
         "\n"
         "Talks to plugbayd, the plugin broker; keygen, sign, verify, pack, index, publish, search and download run\n"
         "without it, and new, test and dev (which start a private plugbayd of their own). Commands:");
    for (size_t i = 0; i < NCOMMANDS; i++) {
        fputs("  ", stdout);
        print_synopsis(stdout, &commands[i]);
        printf("\n      %s\n", commands[i].brief);
    }
    puts("\n"
         "Options (anywhere on the line; '--' ends them):\n"
         "  --broker URL   plugbayd's URL (default: $PLUGBAY_BROKER, else your own plugbayd's\n"
         "                 $XDG_RUNTIME_DIR/plugbay/plugbayd.sock when there, else /run/plugbay/plugbayd.sock)\n"
         "  --json         print the broker's reply as JSON instead of tables, and errors as\n"
         "                 {\"error\": {\"code\", \"name\", \"plugin\", \"message\"}} on stdout\n"
         "  --version      print plugbay's version and the protocol it speaks\n"
         "  --timeout MS   deadline of the call or command in milliseconds\n"
         "                 (default: 5000 for call, 30000 for the others; search, download: each fetch, 60000)\n"
         "  --grant PERM   (install, grant) grant the plugin permission PERM; repeat for more\n"
         "  --grant-all    (install, grant) grant every permission the plugin asks for\n"
         "  --context CTX  (call) only providers accepting context CTX see the call\n"
         "  --out FILE     (keygen) write the secret key to FILE and the public key to FILE.pub;\n"
         "                 (pack, also -o FILE) write the package to FILE\n"
         "  --comment TEXT (keygen) who owns the key, written after the public key\n"
         "  --key FILE     (sign, pack, index build, index revoke, publish) the secret key to sign with;\n"
         "                 (host add) a remote host's public key,\n"
         "                 FILE.pub, which it proves with PLUGBAY_KEY=FILE\n"
         "  --trusted-keys KEYDIR  (verify) require a signing key among KEYDIR/*.pub; (search, download, info)\n"
         "                 the keys an index must be signed by\n"
         "  --verified-keys KEYDIR (index build, index revoke, publish) list the publishers whose key is\n"
         "                 among KEYDIR/*.pub as verified\n"
         "  --reason TEXT  (index revoke) why the version is revoked, shown to users\n"
         "  --index URL    (search, download, info --available, install, update, outdated) the index:\n"
         "                 http://, https:// or file:// (its folder)\n"
         "  --available    (info ID) the plugin's versions in the index --index URL, not plugbayd's plugin\n"
         "  --verified-only (install, update --index) only packages of publishers the index's owner verified\n"
         "  --uid UID|USER (host add) the local user, by number or name\n"
         "  --audit        (logs) the audit lines; --lines N the last N of them\n"
         "  --follow       (logs ID) keep printing the plugin's new lines until interrupted\n"
         "  --clear        (order) load the plugin at its manifest's \"order\" again\n"
         "  --reset        (config ID KEY) set the setting back to its default\n"
         "  --role ROLE    (host add) observer (list, info, status), host (calls and provides,\n"
         "                 within its --grant call:PATTERN / provide:PATTERN) or admin (everything)\n"
         "  --lang LANG    (new) the plugin's language: c, lua, python, wasm or ffi (a library binding)\n"
         "  --types FILE   (new) also a typed stub for each extension point FILE declares with its types,\n"
         "                 {\"NAME\": {\"kind\": KIND, \"types\": {\"args\": SCHEMA, \"result\": SCHEMA}}}\n"
         "  --conformance  (test) run the kit's conformance suite instead of DIR/tests.json\n"
         "  --with PLUGIN-DIR (test, dev) load this plugin folder too (a dependency); repeat for more\n"
         "  --sort KEY     (top) sort the plugins by calls, errors or cpu, busiest first (default calls)\n"
         "  --interval SECONDS (top) seconds between two polls, like 1 or 0.5 (default 1)\n"
         "  --batch        (top) plain text frames on stdout, no screen handling (also when not on a terminal)\n"
         "  -n N           (top) stop after N frames\n"
         "  --since DURATION (stats) how far back: 30s, 10m, 2h or 1d (default 10m, at most 1d)\n"
         "\n"
         "Exit status: 0 on success, 1 when the broker, the plugin or a signature check\n"
         "reports an error, 2 for a usage error. Errors are one line on stderr:\n"
         "  plugbay: [PLUGIN: ]MESSAGE (BAY_ECODE)\n"
         "or, with --json, one JSON object on stdout.\n"
         "\n"
         "See docs/cli.md for each command's output.");
}

/* print_version prints the CLI's version and the protocol it speaks (--json: {"version", "protocol"}); returns 0. */
static int print_version(bool json)
{
    if (json)
        printf("{\"version\":\"%s\",\"protocol\":%d}\n", BAY_VERSION, BAY_PROTOCOL_VERSION);
    else
        printf("plugbay %s (protocol %d)\n", BAY_VERSION, BAY_PROTOCOL_VERSION);
    return 0;
}

/* user_id reads --uid: a number, or the name of a user of this machine; -1 when it is neither. */
static int64_t user_id(const char *text)
{
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    if (*text && *end == '\0' && errno == 0)
        return n >= 0 && n <= UINT32_MAX ? n : -1;
    struct passwd *pw = getpwnam(text);
    return pw ? (int64_t)pw->pw_uid : -1;
}

/* find_command returns the command named name that takes noperands operands
 * (logs ID beside logs --audit) and runs without plugbayd when offline says
 * so (info ID --available beside info ID), else one named name that takes
 * noperands (new ID DIR), else the first named name, else NULL. */
static const command *find_command(const char *name, int noperands, bool offline)
{
    const command *first = NULL, *fits = NULL;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) {
            if (nargs(&commands[i]) == noperands && (commands[i].kind == OFFLINE) == offline)
                return &commands[i];
            fits = fits || nargs(&commands[i]) != noperands ? fits : &commands[i];
            first = first ? first : &commands[i];
        }
    return fits ? fits : first;
}

/* option_value returns the value of option opt at argv[*i] ("--opt V" or
 * "--opt=V"), advancing *i past it, or NULL when the option is another one. */
static const char *option_value(const char *opt, int argc, char **argv, int *i, bool *missing)
{
    size_t n = strlen(opt);
    if (strncmp(argv[*i], opt, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

/* text_option stores the value of the option at argv[*i] in r when it is one
 * of the options that take a string (advancing *i past it). False when it is
 * another option, or when its value is missing (*missing is then true). */
static bool text_option(request *r, int argc, char **argv, int *i, bool *missing)
{
    const struct {
        const char *name;
        const char **field;
    } texts[] = {
        {"--broker", &r->broker}, {"--context", &r->context}, {"--key", &r->key},
        {"--out", &r->out},       {"-o", &r->out},            {"--comment", &r->comment},
        {"--trusted-keys", &r->trusted}, {"--uid", &r->uid},  {"--role", &r->role},
        {"--verified-keys", &r->verified}, {"--reason", &r->reason}, {"--index", &r->index},
        {"--lang", &r->lang},     {"--sort", &r->sort},       {"--interval", &r->interval},
        {"--types", &r->types},
        {"-n", &r->frames},       {"--since", &r->since},
    };
    for (size_t t = 0; t < sizeof texts / sizeof texts[0] && !*missing; t++) {
        const char *v = option_value(texts[t].name, argc, argv, i, missing);
        if (v) {
            *texts[t].field = v;
            return true;
        }
    }
    return false;
}

/* parse reads argv into r. Returns 0, or 2 after printing a usage error. */
static int parse(int argc, char **argv, request *r)
{
    bool options = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        bool missing = false;
        if (!options || a[0] != '-' || a[1] == '\0' || (a[1] >= '0' && a[1] <= '9')) { /* -3: a number */
            r->words[r->nwords++] = a;
        } else if (strcmp(a, "--") == 0) {
            options = false;
        } else if (strcmp(a, "--grant-all") == 0) {
            r->grant_all = true;
        } else if (strcmp(a, "--audit") == 0) {
            r->audit = true;
        } else if (strcmp(a, "--follow") == 0) {
            r->follow = true;
        } else if (strcmp(a, "--clear") == 0) {
            r->clear = true;
        } else if (strcmp(a, "--reset") == 0) {
            r->reset = true;
        } else if (strcmp(a, "--available") == 0) {
            r->available = true;
        } else if (strcmp(a, "--verified-only") == 0) {
            r->verified_only = true;
        } else if (strcmp(a, "--conformance") == 0) {
            r->conformance = true;
        } else if (strcmp(a, "--batch") == 0) {
            r->batch = true;
        } else if (strcmp(a, "--json") == 0) {
            r->json = true;
        } else if (strcmp(a, "--version") == 0) {
            r->version = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            r->help = true;
        } else if (text_option(r, argc, argv, &i, &missing)) {
            continue;
        } else if ((v = option_value("--grant", argc, argv, &i, &missing)) != NULL) {
            r->grants[r->ngrants++] = v;
        } else if ((v = option_value("--with", argc, argv, &i, &missing)) != NULL) {
            r->with[r->nwith++] = v;
        } else if ((v = option_value("--lines", argc, argv, &i, &missing)) != NULL) {
            char *end;
            r->lines = strtol(v, &end, 10);
            if (*v == '\0' || *end != '\0' || r->lines <= 0 || r->lines > 1000000)
                return usage_error(NULL, "--lines needs a positive number, got \"%s\"", v);
        } else if ((v = option_value("--timeout", argc, argv, &i, &missing)) != NULL) {
            char *end;
            long ms = strtol(v, &end, 10);
            if (*v == '\0' || *end != '\0' || ms <= 0 || ms > INT_MAX / 2)
                return usage_error(NULL, "--timeout needs a positive number of milliseconds, got \"%s\"", v);
            r->timeout_ms = (int)ms;
        } else {
            return usage_error(NULL, missing ? "option %s needs a value" : "unknown option \"%s\"", a);
        }
    }
    return 0;
}

/* command_args builds the map a broker command takes: {"id": ID} (host
 * commands: {"name": NAME}, and for host add "uid" or "key" and "role"), for
 * logs "lines", and, for install, grant and host add, "grant": [PERM, ...]
 * and "grant_all". NULL for commands without operands or options. */
/* add_grants puts --grant's permissions ("grant") and --grant-all ("grant_all") in args; false when out of memory. */
static bool add_grants(bay_value *args, const request *r)
{
    bool ok = true;
    if (r->ngrants) {
        bay_value *grants = bay_array();
        for (size_t i = 0; grants && i < r->ngrants && ok; i++)
            ok = bay_array_push(grants, bay_str(r->grants[i])) == 0;
        ok = ok && grants && bay_map_set(args, "grant", grants) == 0;
    }
    if (ok && r->grant_all)
        ok = bay_map_set(args, "grant_all", bay_bool(true)) == 0;
    return ok;
}

/* localized tells whether cmd answers texts in the user's locale, and writes it to locale (locale_name.h). */
static bool localized(const command *cmd, char locale[BAY_LOCALE_MAX])
{
    static const char *const names[] = {"list", "info", "config", "status", "panels"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(cmd->name, names[i]) == 0)
            return bay__locale_from_env(getenv("LANGUAGE"), getenv("LC_ALL"), getenv("LC_MESSAGES"), getenv("LANG"),
                                        locale);
    return false;
}

static bay_value *command_args(const command *cmd, const request *r, int64_t uid, const char *key64)
{
    char locale[BAY_LOCALE_MAX];
    bool local = localized(cmd, locale);
    if (nargs(cmd) == 0 && !r->lines && !local)
        return NULL;
    bay_value *args = bay_map();
    bool host = strncmp(cmd->name, "host.", 5) == 0;
    bool ok = args != NULL;
    if (ok && nargs(cmd))
        ok = bay_map_set(args, host ? "name" : "id", bay_str(r->words[1])) == 0;
    if (ok && r->lines)
        ok = bay_map_set(args, "lines", bay_int(r->lines)) == 0;
    if (ok && r->role)
        ok = bay_map_set(args, "role", bay_str(r->role)) == 0 &&
             bay_map_set(args, key64 ? "key" : "uid", key64 ? bay_str(key64) : bay_int(uid)) == 0;
    if (ok && local)
        ok = bay_map_set(args, "locale", bay_str(locale)) == 0;
    if (ok)
        ok = add_grants(args, r);
    if (!ok) {
        fputs("plugbay: out of memory (BAY_ENOMEM)\n", stderr);
        exit(1);
    }
    return args;
}

/* order_args adds order's place to args: "order": N, or "clear": true with
 * --clear. Returns 0, or 2 when N is not a whole number that fits. */
static int order_args(const command *cmd, const request *r, bay_value *args)
{
    if (r->clear)
        return bay_map_set(args, "clear", bay_bool(true)) == 0 ? 0 : usage_error(cmd, "out of memory");
    char *end;
    errno = 0;
    long long n = strtoll(r->words[2], &end, 10);
    if (*r->words[2] == '\0' || *end != '\0' || errno || n < INT32_MIN || n > INT32_MAX)
        return usage_error(cmd, "N must be a whole number from -2147483648 to 2147483647, got \"%s\"", r->words[2]);
    return bay_map_set(args, "order", bay_int(n)) == 0 ? 0 : usage_error(cmd, "out of memory");
}

/* config_args adds config's KEY[=VALUE] to args: "set_text" {KEY: VALUE}
 * (plugbayd reads VALUE as the setting's type), "reset" [KEY] with --reset,
 * or "key": KEY to show that one. Returns 0, or 2 when KEY is empty. */
static int config_args(const command *cmd, const request *r, bay_value *args)
{
    char key[128];
    const char *word = r->words[2], *eq = strchr(word, '=');
    size_t n = eq ? (size_t)(eq - word) : strlen(word);
    if (n == 0 || n >= sizeof key)
        return usage_error(cmd, "KEY must be a setting's name (1 to 64 characters), got \"%s\"", word);
    memcpy(key, word, n);
    key[n] = '\0';
    bay_value *change = eq ? bay_map() : bay_array();
    if (eq)
        bay_map_set(change, key, bay_str(eq + 1));
    else
        bay_array_push(change, bay_str(key));
    if (eq || r->reset)
        bay_map_set(args, eq ? "set_text" : "reset", change);
    else
        bay_value_free(change);
    return bay_map_set(args, "key", bay_str(key)) == 0 ? 0 : usage_error(cmd, "out of memory");
}

#define DAY_S 86400

/* stats_args adds stats's "since" to args: --since DURATION (a whole number
 * and s, m, h or d, up to a day) in seconds, else 600. Returns 0, or 2 when
 * DURATION is none of those. */
static int stats_args(const command *cmd, const request *r, bay_value *args)
{
    long long n = 10, unit = 60;
    if (r->since) {
        char *end;
        errno = 0;
        n = strtoll(r->since, &end, 10);
        const char *units = "smhd", *u = *end && end[1] == '\0' ? strchr(units, *end) : NULL;
        static const long long seconds[] = {1, 60, 3600, DAY_S};
        unit = u ? seconds[u - units] : 0;
        if (r->since[0] < '0' || r->since[0] > '9' || errno || u == NULL || n <= 0 || n > DAY_S / unit)
            return usage_error(cmd, "--since needs a duration up to one day such as 30s, 10m, 2h or 1d, got \"%s\"",
                               r->since);
    }
    return bay_map_set(args, "since", bay_int(n * unit)) == 0 ? 0 : usage_error(cmd, "out of memory");
}

/* call_args parses JSON-ARGS, which must be a JSON array. Returns 0 or 2. */
static int call_args(const command *cmd, const char *json, bay_value **out)
{
    char why[256];
    if (bay_value_from_json(json, out, why, sizeof why) != 0)
        return usage_error(cmd, "JSON-ARGS is not valid JSON: %s", why);
    if (bay_value_type(*out) != BAY_ARRAY) {
        int rc = usage_error(cmd, "JSON-ARGS must be a JSON array like '[\"world\", 42]', got a %s",
                             bay_type_name(bay_value_type(*out)));
        bay_value_free(*out);
        return rc;
    }
    return 0;
}

/* run connects, sends the command or call, and prints its reply. */
/* show prints a reply as JSON (with --json, and for a call) or as its command renders it: 0, or print_json's code. */
static int show(const command *cmd, const request *r, const bay_value *reply, bay_error *e)
{
    if (cmd->kind == CALL || r->json)
        return print_json(reply, e);
    cmd->render(reply);
    return 0;
}

static int run(const command *cmd, const request *r, const bay_value *args)
{
    bay_error e;
    bay_conn *conn;
    if (bay_connect(r->broker, "plugbay-cli", &conn, &e) != 0)
        return failure(&e);
    bay_value *reply = NULL;
    int rc;
    if (cmd->kind == CALL) {
        bay_call_opts opts = {.timeout_ms = r->timeout_ms, .context = r->context};
        rc = bay_call(conn, r->words[1], args, &opts, &reply, &e);
    } else {
        rc = bay_command(conn, cmd->remote ? cmd->remote : cmd->name, args, r->timeout_ms, &reply, &e);
    }
    bay_close(conn);
    if (rc == 0)
        rc = show(cmd, r, reply, &e);
    bay_value_free(reply);
    return rc ? failure(&e) : 0;
}

#define FOLLOW_POLL_MS 200

/* follow runs logs ID --follow: prints the plugin's last lines as logs ID
 * does, then asks every FOLLOW_POLL_MS for the lines after the last one
 * printed, and prints them, until interrupted (or plugbayd fails: 1). */
static int follow(const request *r, bay_value *args)
{
    bay_error e;
    bay_conn *conn;
    if (bay_connect(r->broker, "plugbay-cli", &conn, &e) != 0)
        return failure(&e);
    int rc;
    bay_value *reply = NULL;
    while ((rc = bay_command(conn, "logs", args, r->timeout_ms, &reply, &e)) == 0) {
        if (!r->json)
            render_log(reply);
        else if (bay_value_len(bay_map_get(reply, "lines")) > 0 && (rc = print_json(reply, &e)) != 0)
            break;
        if (fflush(stdout) != 0)
            break; /* flushed() says why */
        bay_map_set(args, "after", bay_int(bay_value_int(bay_map_get(reply, "last"))));
        bay_map_set(args, "lines", bay_int(INT32_MAX)); /* every new line, --lines or not */
        bay_value_free(reply);
        reply = NULL;
        nanosleep(&(struct timespec){0, FOLLOW_POLL_MS * 1000000L}, NULL);
    }
    bay_value_free(reply);
    bay_close(conn);
    return rc ? failure(&e) : 0;
}

/* top runs plugbay top, or refuses its options given to another command or --json given to it. Returns the exit status. */
static int top(const command *cmd, const request *r)
{
    if (strcmp(cmd->name, "top") != 0)
        return usage_error(cmd, "--sort, --interval, --batch and -n only go with top");
    if (r->json)
        return usage_error(cmd, "top shows a screen, not JSON: plugbay status --json gives the same figures once");
    top_opts o;
    bay_error e;
    if (top_options(r->sort, r->interval, r->frames, r->batch, &o, &e) != 0)
        return usage_error(cmd, "%s", e.message);
    return cli_top(r->broker, r->timeout_ms, &o, &e) ? failure(&e) : 0;
}

/* public_key reads host add's --key, a public key file, into key64 (base64); 0, or 1 after saying what is wrong. */
static int public_key(const char *path, char key64[BAY_KEY_BASE64_SIZE])
{
    unsigned char pk[BAY_KEY_PUBLIC_BYTES];
    bay_error e;
    if (bay__key_read_public(path, pk, NULL, 0, &e) != 0)
        return failure(&e);
    bay__key_to_base64(pk, key64);
    return 0;
}

/* named tells whether name is one of the space-separated words of names. */
static bool named(const char *names, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = names; (p = strstr(p, name)) != NULL; p += n)
        if ((p == names || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

/* signing_options refuses an option of the commands that run without
 * plugbayd given to another command, such a command without an option it
 * needs, and the broker's options on them. Returns 0 or 2. */
static int signing_options(const command *cmd, const request *r)
{
    const struct {
        const char *option, *takers, *needers, *goes_with; /* takers and needers: command names, space-separated;
                                                             goes_with: where the option goes, said when misplaced */
        bool given;
    } rules[] = {
        {"--out", "keygen pack download", "keygen", "keygen, pack and download", r->out != NULL},
        {"--comment", "keygen", "", "keygen", r->comment != NULL},
        {"--key", "sign pack index.build index.revoke publish", "sign index.build index.revoke publish",
         "sign, pack, index build, index revoke and publish (a secret key) and host add (a public key)",
         r->key != NULL && strcmp(cmd->name, "host.add") != 0},
        {"--trusted-keys", "verify search download info install update outdated", "search download info",
         "verify, search, download, info --available, install, update and outdated", r->trusted != NULL},
        {"--verified-keys", "index.build index.revoke publish", "", "index build, index revoke and publish",
         r->verified != NULL},
        {"--reason", "index.revoke", "index.revoke", "index revoke", r->reason != NULL},
        {"--index", "search download info install update outdated", "search download info",
         "search, download, info --available, install, update and outdated", r->index != NULL},
        {"--available", "info", "", "info ID", r->available},
        {"--verified-only", "install update", "", "install and update with --index", r->verified_only},
        {"--lang", "new", "new", "new", r->lang != NULL},
        {"--types", "new", "", "new", r->types != NULL},
        {"--conformance", "test", "", "test", r->conformance},
        {"--with", "test dev", "", "test and dev", r->nwith > 0},
    };
    char typed[32]; /* the command as typed: "index build" for index.build */
    snprintf(typed, sizeof typed, "%s", cmd->name);
    char *dot = strchr(typed, '.');
    if (dot)
        *dot = ' ';
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (rules[i].given && (!named(rules[i].takers, cmd->name) ||
                               (cmd->kind == BROKER_COMMAND && !named("install update outdated", cmd->name))))
            return usage_error(cmd, "%s only goes with %s", rules[i].option, rules[i].goes_with);
        if (!rules[i].given && named(rules[i].needers, cmd->name) && cmd->kind == OFFLINE)
            return usage_error(cmd, "%s needs %s", typed, rules[i].option);
    }
    bool fetches = named("search download info", cmd->name);
    if (cmd->kind == OFFLINE && (r->broker || (r->timeout_ms && !fetches)))
        return usage_error(cmd, "%s runs without plugbayd: --broker%s do%s not apply", typed,
                           fetches ? "" : " and --timeout", fetches ? "es" : "");
    return 0;
}

/* run_offline runs a command that needs no broker. */
static int run_offline(const command *cmd, const request *r)
{
    signing_args a = {.dir = nargs(cmd) ? r->words[1] : NULL, .key = r->key, .out = r->out,
                      .comment = r->comment, .trusted = r->trusted, .json = r->json,
                      .operand2 = nargs(cmd) > 1 ? r->words[2] : NULL, .verified = r->verified, .reason = r->reason,
                      .index = r->index, .timeout_ms = r->timeout_ms, .lang = r->lang, .types = r->types,
                      .conformance = r->conformance, .with = r->with, .nwith = r->nwith};
    bay_error e;
    return cmd->offline(&a, &e) ? failure(&e) : 0;
}

/* ask shows what plugin `what` asks for (asked: an array of strings) and asks
 * whether to grant it all (setting r->grant_all). Returns 0, or 1 when the
 * answer is no (plugin id says which in the message). */
static int ask(request *r, const char *what, const char *id, const bay_value *asked)
{
    if (bay_value_len(asked) == 0)
        return 0;
    printf("%s asks for these permissions:\n", what);
    for (size_t i = 0; i < bay_value_len(asked); i++)
        printf("  %s\n", bay_value_str(bay_array_get(asked, i), NULL));
    printf("Grant them all and install? [y/N] ");
    fflush(stdout);
    char answer[16] = "";
    r->grant_all = fgets(answer, sizeof answer, stdin) && (answer[0] == 'y' || answer[0] == 'Y');
    if (r->grant_all)
        return 0;
    bay_error no = {.code = BAY_EPERM};
    bay_error_set(&no, BAY_EPERM, id, "not installed: permissions not granted (use --grant PERM or --grant-all)");
    return failure(&no);
}

/* consent shows what a plugin asks for before `install ID` without --grant
 * and, on a terminal, asks whether to grant it all. Without a terminal the
 * broker's refusal lists the permissions. Returns 0 or an exit status. */
static int consent(request *r)
{
    if (!isatty(STDIN_FILENO))
        return 0;
    bay_error e;
    bay_conn *conn;
    bay_value *args = bay_map(), *info = NULL;
    bay_map_set(args, "id", bay_str(r->words[1]));
    int rc = bay_connect(r->broker, "plugbay-cli", &conn, &e);
    if (rc == 0) {
        rc = bay_command(conn, "info", args, r->timeout_ms, &info, &e);
        bay_close(conn);
    }
    bay_value_free(args);
    if (rc)
        return failure(&e);
    rc = ask(r, r->words[1], r->words[1], bay_map_get(info, "requested"));
    bay_value_free(info);
    return rc;
}

/* send_package runs `install FILE` (install true) and `update FILE` for the package file:
 * reads what the package is and asks (for an install, consent as for an id),
 * sends it to plugbayd in parts, and has plugbayd check it and install it or
 * update to it (docs/packages.md). Returns the exit status. */
static int send_package(const command *cmd, request *r, const char *file, bool install)
{
    package_facts f;
    bay_error e;
    bay_conn *conn = NULL;
    char what[600];
    if (package_read(file, &f, &e) != 0)
        return failure(&e);
    snprintf(what, sizeof what, "%s %s (from %s, %s%s)", f.id, f.version, file,
             f.key_id[0] ? "signed with key " : "not signed", f.key_id);
    int rc = install && !r->ngrants && !r->grant_all && isatty(STDIN_FILENO) ? ask(r, what, f.id, f.asked) : 0;
    if (rc) {
        package_facts_free(&f);
        return rc;
    }
    bay_value *args = bay_map(), *reply = NULL;
    bay_map_set(args, "sha256", bay_str(f.sha256));
    add_grants(args, r);
    rc = bay_connect(r->broker, "plugbay-cli", &conn, &e);
    if (rc == 0)
        rc = package_send(conn, file, &f, r->timeout_ms, &e);
    if (rc == 0)
        rc = bay_command(conn, install ? "install.package" : "update.package", args, r->timeout_ms, &reply, &e);
    if (conn)
        bay_close(conn);
    if (rc == 0)
        rc = show(cmd, r, reply, &e);
    bay_value_free(args);
    bay_value_free(reply);
    package_facts_free(&f);
    return rc ? failure(&e) : 0;
}

/* is_url tells whether word names a package by URL rather than a file or an id. */
static bool is_url(const char *word)
{
    return strncmp(word, "http://", 7) == 0 || strncmp(word, "https://", 8) == 0 || strncmp(word, "file://", 7) == 0;
}

/* from_url runs `install URL` and `update URL`: fetches the package into a
 * temporary folder (removed after) and sends it as for a file. */
static int from_url(const command *cmd, request *r, bool install)
{
    bay_error e;
    char tmp[PATH_MAX], file[PATH_MAX + 256];
    if (cli_temp_folder("url", tmp, &e) != 0)
        return failure(&e);
    int rc = package_download(r->words[1], r->timeout_ms, tmp, file, sizeof file, &e) != 0
                 ? failure(&e)
                 : send_package(cmd, r, file, install);
    bay__file_remove_tree(AT_FDCWD, tmp);
    return rc;
}

/* listed_with_deps asks plugbayd for its list, and adds to each installed
 * plugin in it its "dependencies" (from `info`): what package_fetch and
 * package_newer take. Returns 0 or the code with e. */
static int listed_with_deps(bay_conn *conn, const request *r, bay_value **out, bay_error *e)
{
    bay_value *listed = NULL;
    int rc = bay_command(conn, "list", NULL, r->timeout_ms, &listed, e);
    *out = rc ? NULL : bay_array();
    for (size_t i = 0; rc == 0 && i < bay_value_len(listed); i++) {
        bay_value *p = bay_value_copy(bay_array_get(listed, i)), *args = bay_map(), *info = NULL;
        if (strcmp(bay_value_str(bay_map_get(p, "state"), NULL), "available") != 0) {
            bay_map_set(args, "id", bay_value_copy(bay_map_get(p, "id")));
            if ((rc = bay_command(conn, "info", args, r->timeout_ms, &info, e)) == 0)
                bay_map_set(p, "dependencies", bay_value_copy(bay_map_get(info, "dependencies")));
        }
        bay_array_push(*out, p);
        bay_value_free(args);
        bay_value_free(info);
    }
    bay_value_free(listed);
    return rc;
}

/* from_index runs `install ID[@RANGE] --index URL` and `update ID --index
 * URL` (spec: ID[@RANGE]): fetches the newest version that fits, and the dependencies plugbayd
 * lacks, into a temporary folder, and installs each as `install FILE` does,
 * dependencies first (they take --grant-all, not --grant: those name the
 * plugin asked for) — the plugin named last, updated to that version for
 * `update`. Returns the exit status. */
static int from_index(const command *cmd, request *r, const char *spec)
{
    bool update = strcmp(cmd->name, "update") == 0;
    if (r->trusted == NULL)
        return usage_error(cmd, "%s --index needs --trusted-keys KEYDIR, the keys its index is signed with", cmd->name);
    bay_error e;
    bay_conn *conn;
    bay_value *listed = NULL;
    char **files = NULL, **origins = NULL, tmp[PATH_MAX] = "";
    int rc = bay_connect(r->broker, "plugbay-cli", &conn, &e);
    if (rc == 0) {
        rc = listed_with_deps(conn, r, &listed, &e);
        bay_close(conn);
    }
    if (rc == 0 && (rc = cli_temp_folder("index", tmp, &e)) == 0)
        rc = package_fetch(&(package_source){r->index, r->trusted, r->timeout_ms, r->verified_only}, spec, listed,
                           tmp, &files, &origins, &e);
    bay_value_free(listed);
    size_t n = bay__strv_len((const char *const *)files), ngrants = r->ngrants;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        r->ngrants = i + 1 == n ? ngrants : 0;
        if (!r->json)
            printf("%s\n", origins[i]);
        rc = send_package(cmd, r, files[i], !(update && i + 1 == n));
    }
    if (tmp[0])
        bay__file_remove_tree(AT_FDCWD, tmp);
    bay__strv_free(files);
    bay__strv_free(origins);
    return rc && n == 0 ? failure(&e) : rc;
}

/* newer_in_index asks the index r->index which installed plugins it has a
 * newer version of (package_newer): 0 with *newer, or the exit status. */
static int newer_in_index(const command *cmd, const request *r, bay_value **newer)
{
    *newer = NULL;
    if (r->index == NULL || r->trusted == NULL)
        return usage_error(cmd, "%s needs --index URL and --trusted-keys KEYDIR", cmd->name);
    bay_error e;
    bay_conn *conn;
    bay_value *listed = NULL;
    int rc = bay_connect(r->broker, "plugbay-cli", &conn, &e);
    if (rc == 0) {
        rc = listed_with_deps(conn, r, &listed, &e);
        bay_close(conn);
    }
    if (rc == 0)
        rc = package_newer(&(package_source){r->index, r->trusted, r->timeout_ms, false}, listed, newer, &e);
    bay_value_free(listed);
    return rc ? failure(&e) : 0;
}

/* update_all runs `update --index URL`: each installed plugin the index has
 * a newer version of is updated as `update ID --index URL` does, one after
 * the other; the first failure stops. Returns the exit status. */
static int update_all(const command *cmd, request *r)
{
    bay_value *newer;
    int rc = newer_in_index(cmd, r, &newer);
    if (rc == 0 && bay_value_len(newer) == 0 && !r->json)
        printf("every installed plugin is at the newest version the index has\n");
    for (size_t i = 0; rc == 0 && i < bay_value_len(newer); i++)
        rc = from_index(cmd, r, bay_value_str(bay_map_get(bay_array_get(newer, i), "id"), NULL));
    bay_value_free(newer);
    return rc;
}

/* outdated runs `outdated --index URL`: the installed plugins the index has
 * a newer version of, as plugbayd lists them. Returns the exit status. */
static int outdated(const command *cmd, request *r)
{
    bay_value *newer;
    bay_error e;
    int rc = newer_in_index(cmd, r, &newer);
    if (rc == 0 && show(cmd, r, newer, &e) != 0)
        rc = failure(&e);
    bay_value_free(newer);
    return rc;
}

/* flushed makes sure the output reached stdout: a full disk under
 * `plugbay list > FILE` is a failure, not a short file. Returns rc, or 1. */
static int flushed(int rc)
{
    int e = fflush(stdout) != 0 ? errno : ferror(stdout) ? EIO : 0;
    if (e == 0)
        return rc;
    fprintf(stderr, "plugbay: cannot write the output to stdout: %s\n", strerror(e));
    return rc ? rc : 1;
}

static int run_command_line(int argc, char **argv)
{
    /* One call per process: a fast channel would cost a grant it never reuses. */
    setenv("PLUGBAY_FASTPATH", "0", 0);
    const char *grants[argc], *words[argc], *with[argc];
    request r = {.grants = grants, .words = words, .with = with};
    int rc = parse(argc, argv, &r);
    if (rc)
        return rc;
    if (r.nwords == 0 && r.help) {
        print_help();
        return 0;
    }
    if (r.version)
        return r.nwords ? usage_error(NULL, "--version goes alone: plugbay --version [--json]") : print_version(r.json);
    if (r.nwords == 0)
        return usage_error(NULL, "missing COMMAND");
    char joined[32];
    bool host = r.nwords && strcmp(r.words[0], "host") == 0, of_index = r.nwords && strcmp(r.words[0], "index") == 0;
    if (r.nwords == 1 && (host || of_index) && !r.help)
        return usage_error(NULL, host ? "host needs add, list or remove" : "index needs build or revoke");
    if (r.nwords >= 2 && (host || of_index)) { /* "host add" is the command host.add, "index build" index.build */
        snprintf(joined, sizeof joined, "%s.%s", r.words[0], r.words[1]);
        r.words[1] = joined;
        r.words++;
        r.nwords--;
    }
    const command *cmd = find_command(r.words[0], (int)r.nwords - 1, r.available);
    if (cmd == NULL)
        return usage_error(NULL, "unknown command \"%s\"", r.words[0]);
    if (r.help || cmd->kind == HELP) {
        print_help();
        return 0;
    }
    bool order = strcmp(cmd->name, "order") == 0, config = strcmp(cmd->name, "config") == 0;
    if (r.clear && !order)
        return usage_error(cmd, "--clear only goes with order");
    if (r.reset && !(config && r.nwords == 3 && strchr(r.words[2], '=') == NULL))
        return usage_error(cmd, "--reset goes with config ID KEY (no =VALUE)");
    int want = nargs(cmd) - (order && r.clear); /* order ID --clear takes no N */
    if ((int)r.nwords - 1 < want)
        return usage_error(cmd, "missing %s", cmd->operands[r.nwords - 1]);
    if ((int)r.nwords - 1 > want)
        return usage_error(cmd, "unexpected argument \"%s\"", r.words[want + 1]);
    bool add = strcmp(cmd->name, "host.add") == 0;
    if ((r.ngrants || r.grant_all) && strcmp(cmd->name, "install") != 0 && strcmp(cmd->name, "grant") != 0 &&
        strcmp(cmd->name, "update") != 0 && !(add && !r.grant_all))
        return usage_error(cmd, "--grant only goes with install, update, grant and host add, --grant-all with install, "
                                "update and grant");
    if ((r.uid || r.role) && !add)
        return usage_error(cmd, "--uid and --role only go with host add");
    bool logs = strcmp(cmd->name, "logs") == 0;
    if ((r.audit || r.lines || r.follow) && !logs)
        return usage_error(cmd, "--audit, --follow and --lines only go with logs");
    if (logs && nargs(cmd) == 0 && !r.audit)
        return usage_error(cmd, "logs needs a plugin's ID (its lines) or --audit (plugbayd's audit lines)");
    if (logs && nargs(cmd) && r.audit)
        return usage_error(cmd, "logs shows a plugin's lines (ID) or the audit lines (--audit), not both");
    if (logs && r.follow && nargs(cmd) == 0)
        return usage_error(cmd, "--follow goes with logs ID");
    int64_t uid = -1;
    if (add && (!r.role || (r.uid == NULL) == (r.key == NULL)))
        return usage_error(cmd, "host add needs --role, and --uid (a local user) or --key (a remote host's public key "
                                "file), not both");
    if (add && r.uid && (uid = user_id(r.uid)) < 0)
        return usage_error(cmd, "--uid needs a uid or a user name of this machine, got \"%s\"", r.uid);
    char key64[BAY_KEY_BASE64_SIZE];
    if (add && r.key && (rc = public_key(r.key, key64)) != 0)
        return rc;
    bool stats = strcmp(cmd->name, "stats") == 0;
    if (r.since && !stats)
        return usage_error(cmd, "--since only goes with stats");
    if (r.context && cmd->kind != CALL)
        return usage_error(cmd, "--context only goes with call");
    if ((rc = signing_options(cmd, &r)) != 0)
        return rc;
    char why[300];
    if (strcmp(cmd->name, "new") == 0 && new_usage(r.lang, r.words[1], why, sizeof why) != 0)
        return usage_error(cmd, "%s", why);
    if (strcmp(cmd->name, "top") == 0 || r.sort || r.interval || r.frames || r.batch)
        return top(cmd, &r);
    if (cmd->kind == OFFLINE)
        return run_offline(cmd, &r);

    struct stat st;
    bool install = strcmp(cmd->name, "install") == 0, update = strcmp(cmd->name, "update") == 0;
    if (r.verified_only && !r.index)
        return usage_error(cmd, "--verified-only goes with --index: a package file names no publisher the index vouches for");
    if (update && r.index && nargs(cmd) == 0)
        return update_all(cmd, &r);
    if ((install || update) && r.index)
        return from_index(cmd, &r, r.words[1]);
    if (strcmp(cmd->name, "outdated") == 0)
        return outdated(cmd, &r);
    if ((install || update) && is_url(r.words[1]))
        return from_url(cmd, &r, install);
    if (update || (install && stat(r.words[1], &st) == 0 && S_ISREG(st.st_mode)))
        return send_package(cmd, &r, r.words[1], install);
    bay_value *args = NULL;
    if (cmd->kind == CALL && (rc = call_args(cmd, r.words[2], &args)) != 0)
        return rc;
    if (strcmp(cmd->name, "install") == 0 && !r.ngrants && !r.grant_all && (rc = consent(&r)) != 0)
        return rc;
    if (cmd->kind == BROKER_COMMAND)
        args = command_args(cmd, &r, uid, add && r.key ? key64 : NULL);
    if ((order && (rc = order_args(cmd, &r, args)) != 0) || (stats && (rc = stats_args(cmd, &r, args)) != 0) ||
        (config && nargs(cmd) == 2 && (rc = config_args(cmd, &r, args)) != 0)) {
        bay_value_free(args);
        return rc;
    }
    rc = r.follow ? follow(&r, args) : run(cmd, &r, args);
    bay_value_free(args);
    return rc;
}

/* wants_json tells whether --json is among the options (before "--"), so that even a usage error is JSON. */
static bool wants_json(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--json") == 0)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    json_errors = wants_json(argc, argv);
    return flushed(run_command_line(argc, argv));
}
