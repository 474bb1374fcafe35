/* cli/private.h — a private plugbayd for plugbay test and dev: temporary folders, the plugin folders copied in, waited on, stopped. */
#ifndef BAY_CLI_PRIVATE_H
#define BAY_CLI_PRIVATE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <plugbay/plugbay.h>

#include "kit.h"

/* A private plugbayd, its folders and a connection to it. */
typedef struct private_broker {
    char tmp[PATH_MAX];      /* the temporary folder: plugins/, state/, plugbayd.log; "" when none */
    char plugins[PATH_MAX + 16]; /* TMP/plugins, the --plugins folder */
    char url[PATH_MAX + 64];  /* ipc://TMP/state/plugbayd.sock */
    pid_t pid;               /* plugbayd's, 0 when it does not run */
    bay_conn *conn;          /* NULL until it answered */
} private_broker;

/* The longest language name private_plugin_id writes, with its NUL. */
#define PRIVATE_LANG_MAX 8

/* private_plugin_id reads the plugin folder dir's plugin.json (checked as
 * plugbayd checks it) and writes its id (its "id" field, else the folder's
 * name) to id (len bytes) and, when lang is not NULL, its language to lang:
 * "c", "ffi" (a library binding), "lua", "python" or "wasm". Returns 0, or
 * the manifest's code with err set. */
int private_plugin_id(const char *dir, char *id, size_t len, char lang[PRIVATE_LANG_MAX], bay_error *err);

/* private_place copies the plugin folder dir to PLUGINS/id (files replaced
 * by a rename each, so that a running worker keeps its own; hidden names and
 * symbolic links left out), plugin.json last. Returns 0 or BAY_EIO with err. */
int private_place(private_broker *pb, const char *dir, const char *id, bay_error *err);

/* private_start makes the temporary folders and starts k's plugbayd on them
 * with --autoinstall (every plugin found is installed with all it asks
 * granted) and SIGINT and SIGTERM caught (private_interrupted says they came,
 * and plugbayd is killed at once, calls in flight and all), then connects once it answers. Place the
 * plugins before, or after (plugbayd watches its plugins folder). Returns 0,
 * or the code with err; private_stop cleans up either way. */
int private_start(private_broker *pb, const kit_paths *k, bay_error *err);

/* private_wait_loaded waits until plugin id is loaded. When it fails (or
 * does not load within two minutes) it prints the plugin's log lines after
 * mark to stderr and returns BAY_EUNAVAIL with err saying why. */
int private_wait_loaded(private_broker *pb, const char *id, int64_t mark, bay_error *err);

/* private_log_mark returns the number of plugin id's last log line (0: none yet), to print the lines after it. */
int64_t private_log_mark(private_broker *pb, const char *id);

/* private_print_log prints plugin id's log lines numbered after mark to f, each after indent; false when none. */
bool private_print_log(private_broker *pb, const char *id, int64_t mark, const char *indent, FILE *f);

/* private_open builds (kit_make) each plugin folder of with (nwith of
 * them) and then dir, starts pb (private_start), places them in its plugins
 * folder and waits until each is loaded; id (len bytes) receives dir's
 * plugin id. Returns 0, or the code with err (the build's output, or the
 * plugin's log lines, printed); private_stop cleans up either way. */
int private_open(private_broker *pb, const kit_paths *k, const char *dir, const char *const *with, size_t nwith,
                 char *id, size_t len, bay_error *err);

/* private_interrupted tells whether SIGINT or SIGTERM came since private_start. */
bool private_interrupted(void);

/* private_stop closes the connection, stops plugbayd (SIGTERM, then SIGKILL
 * after 10 s) and removes the temporary folders. */
void private_stop(private_broker *pb);

#endif
