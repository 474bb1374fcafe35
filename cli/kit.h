/* cli/kit.h — where the plugin authors' kit is (templates, conformance cases, headers, the wasm SDK, plugbayd), and builds with make. */
#ifndef BAY_CLI_KIT_H
#define BAY_CLI_KIT_H

#include <limits.h>
#include <stdbool.h>

#include <plugbay/plugbay.h>

/* Where the kit's parts are, for a plugbay in its build tree or installed. */
typedef struct kit_paths {
    bool installed;              /* beside an installed plugbay (PREFIX/bin/plugbay), not its build tree */
    char templates[PATH_MAX];    /* one folder per language: sdk/templates, or PREFIX/share/plugbay/templates */
    char conformance[PATH_MAX];  /* the conformance suite: its cases.json */
    char include[PATH_MAX];      /* plugbay's public headers */
    char wasm_sdk[PATH_MAX];     /* plugbay_wasm.h and plugbay_wasm.c */
    char pkgconfig[PATH_MAX];    /* installed: PREFIX/lib/pkgconfig, where plugbay.pc is */
    char plugbayd[PATH_MAX];     /* $PLUGBAYD, else the plugbayd beside this plugbay */
} kit_paths;

/* kit_locate fills k: installed when the folder PREFIX/share/plugbay exists,
 * PREFIX being the folder above the one of plugbay's real path; else the
 * source tree plugbay was built from (BAY_SOURCE_DIR). Returns 0, or BAY_EIO
 * with err set when plugbay cannot find its own path. */
int kit_locate(kit_paths *k, bay_error *err);

/* kit_make runs `make -C dir` when dir has a Makefile (telling make where
 * plugbay's headers and wasm SDK are: in the build tree through
 * PLUGBAY_INCLUDE and PLUGBAY_WASM_SDK, installed through PKG_CONFIG_PATH),
 * its output kept and printed on stdout only when it fails. Returns 0
 * (built, or nothing to build), or BAY_EPLUGIN with err saying the build
 * failed (BAY_EIO: make could not run). */
int kit_make(const kit_paths *k, const char *dir, bay_error *err);

#endif
