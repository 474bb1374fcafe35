/* cli/stub.h — plugbay new --types: a typed stub for each extension point a file declares with its types. */
#ifndef BAY_CLI_STUB_H
#define BAY_CLI_STUB_H

#include <plugbay/error.h>

/* stub_write reads the file types_path, {"NAME": {"kind": "handle"|"event"|"filter", "types": {"args": SCHEMA,
 * "result": SCHEMA}}, ...} (kind: handle when absent), and adds to the plugin folder dir, just made from the
 * template of lang, a provide with those types to its plugin.json and a stub function in its code for each
 * NAME: its parameters named and typed from "args" (prefixItems' titles), refusing to run until written
 * (BAY_EPLUGIN), a filter's passing the arguments on. Returns 0, or BAY_EINVAL with err saying what in the
 * file is wrong (a schema that does not parse, a name the template provides already, a binding's lang). */
int stub_write(const char *dir, const char *lang, const char *types_path, bay_error *err);

#endif
