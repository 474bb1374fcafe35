/* broker/state.h — the broker's persistent state: installed plugins, enabled, grants, failures. */
#ifndef BAY_STATE_H
#define BAY_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <plugbay/error.h>

#include "key.h"
#include "role.h"

/* The state folder DIR holds:
 *   DIR/state.json   the state, replaced atomically on every change
 *                    ({"format": 1, "plugins": {ID: {"enabled": bool,
 *                    "granted": [strings], "failed": string (absent when none),
 *                    "order": integer (absent when none), "settings":
 *                    {KEY: value} (absent when none set), "version": string
 *                    (absent before its first load)}},
 *                    "hosts": {NAME: {"uid": N or "key": BASE64, "role": "host",
 *                    "granted": [strings]}} (absent when no host was added)})
 *   DIR/state.lock   held (flock) while a broker has the state open
 *   DIR/data/ID/     each plugin's private data folder
 *   DIR/run/         sockets and other files of a running broker
 * A broker killed at any moment finds either the previous or the new state.json.
 * Each call below that can fail returns 0 or a bay_errno code and fills err
 * (NULL allowed): its message says what failed; its plugin is the id the call
 * was given when the failure is about that plugin's entry or data folder, and
 * "" when it is about the state file or folder. */
typedef struct bay__state bay__state;

/* One installed plugin. Owned by the state: valid until the plugin is
 * uninstalled or the state closed; read it, change it only through the
 * bay__state_set_* calls. */
typedef struct bay__state_plugin {
    char *id;       /* plugin id ("example/hello") */
    bool enabled;   /* loaded when the broker starts */
    char **granted; /* NULL-terminated permissions the user granted; never NULL */
    char *failed;   /* why it stays failed (not loaded until cleared), or NULL */
    bool ordered;   /* an operator set its place in load order (plugbay order) */
    int64_t order;  /* that place, when ordered: used instead of the manifest's "order" */
    json_t *settings; /* the settings an admin set: {KEY: value} (setting.h); never NULL */
    char *version;  /* the version that last loaded (its on_install or on_update done), or NULL: none yet */
} bay__state_plugin;

/* A local user, or a holder of a key, an admin let connect (plugbay host
 * add). Owned by the state: valid until it is removed or the state closed. */
typedef struct bay__state_host {
    char *name;     /* what the admin called it; [a-z0-9._-], 1 to 63 characters */
    uint32_t uid;   /* the user it is (0 when keyed) */
    bool keyed;     /* a remote host that proves key (plugbay host add --key), not a local user */
    unsigned char key[BAY_KEY_PUBLIC_BYTES]; /* its Ed25519 public key, when keyed */
    char key_id[BAY_KEY_ID_SIZE];            /* that key's id, when keyed */
    bay__role role; /* observer, host or admin */
    char **granted; /* NULL-terminated call:PATTERN and provide:PATTERN a host may use; never NULL */
} bay__state_host;

/* bay__state_mkdirs creates the folder path (non-empty) and its parents,
 * mode 0700; plugin is the plugin whose data folder it is, or NULL. Returns 0
 * or BAY_EIO. */
int bay__state_mkdirs(const char *path, const char *plugin, bay_error *err);

/* bay__state_open opens the state folder dir: creates dir, dir/data and dir/run
 * (mode 0700) when missing, takes dir/state.lock (BAY_EBUSY when another
 * process holds it), drops a state.json.tmp left by an interrupted save, and
 * reads dir/state.json when present. An unreadable or corrupt state.json is
 * BAY_EIO with a message naming the file; it is never discarded. On success
 * *out is a state the caller closes with bay__state_close(); on failure err
 * says why. */
int bay__state_open(const char *dir, bay__state **out, bay_error *err);

/* bay__state_close releases the lock and frees s and every bay__state_plugin of
 * it. NULL is ignored. Nothing is written: every change was saved when made. */
void bay__state_close(bay__state *s);

/* bay__state_dir returns the state folder as given to bay__state_open. Borrowed. */
const char *bay__state_dir(const bay__state *s);

/* bay__state_count returns the number of installed plugins. */
size_t bay__state_count(const bay__state *s);

/* bay__state_at returns the i-th installed plugin in id order (i < count), or NULL. Borrowed. */
bay__state_plugin *bay__state_at(bay__state *s, size_t i);

/* bay__state_find returns the installed plugin id, or NULL. Borrowed. */
bay__state_plugin *bay__state_find(bay__state *s, const char *id);

/* bay__state_install records plugin id (a valid plugin id) as installed and
 * enabled, with the NULL-terminated permissions granted (copied; NULL = none),
 * and saves. A data folder left by an interrupted uninstall is removed first.
 * Returns 0 and, when out is not NULL, *out (borrowed); BAY_EEXIST when id is
 * installed; BAY_EINVAL when id is not a plugin id or nests with an installed
 * one ("a" and "a/b" would share a data folder); BAY_EIO when saving fails, in
 * which case nothing changed. Every call below may also return BAY_ENOMEM. */
int bay__state_install(bay__state *s, const char *id, const char *const *granted, bay__state_plugin **out,
                       bay_error *err);

/* bay__state_forget removes plugin id and saves, leaving its data folder
 * (bay__state_remove_data deletes it once no worker uses it). BAY_ENOENT
 * when not installed; BAY_EIO when saving fails (nothing changed). */
int bay__state_forget(bay__state *s, const char *id, bay_error *err);

/* bay__state_remove_data deletes DIR/data/ID of plugin id, which is not
 * installed (BAY_EBUSY otherwise), and the parents it leaves empty below
 * DIR/data. BAY_EIO when it cannot be deleted. */
int bay__state_remove_data(bay__state *s, const char *id, bay_error *err);

/* bay__state_uninstall removes plugin id, saves, then deletes DIR/data/ID.
 * BAY_ENOENT when not installed; BAY_EIO when saving fails (nothing changed)
 * or the data folder cannot be deleted (the plugin is uninstalled anyway).
 * Pointers to the plugin's entry are invalid afterwards. */
int bay__state_uninstall(bay__state *s, const char *id, bay_error *err);

/* bay__state_set_enabled sets whether plugin id is enabled and saves.
 * BAY_ENOENT when not installed; BAY_EIO when saving fails (nothing changed). */
int bay__state_set_enabled(bay__state *s, const char *id, bool enabled, bay_error *err);

/* bay__state_set_failed records why plugin id stays failed (copied), or clears
 * it when reason is NULL, and saves. Same errors as bay__state_set_enabled. */
int bay__state_set_failed(bay__state *s, const char *id, const char *reason, bay_error *err);

/* bay__state_set_granted replaces plugin id's granted permissions with a copy of
 * granted (NULL-terminated; NULL = none), each kept once however often it is
 * listed, and saves. Same errors as above. */
int bay__state_set_granted(bay__state *s, const char *id, const char *const *granted, bay_error *err);

/* bay__state_add_granted adds more (NULL-terminated; NULL = none) to plugin
 * id's granted permissions, each kept once, and saves. Same errors as above. */
int bay__state_add_granted(bay__state *s, const char *id, const char *const *more, bay_error *err);

/* bay__state_set_order sets plugin id's place in load order to *order, or
 * forgets it when order is NULL (the manifest's "order" counts again), and
 * saves. BAY_EINVAL when *order is outside -2147483648..2147483647; else the
 * same errors as above. */
int bay__state_set_order(bay__state *s, const char *id, const int64_t *order, bay_error *err);

/* bay__state_set_settings replaces plugin id's settings with a copy of
 * settings (an object; NULL = none) and saves. Same errors as above. */
int bay__state_set_settings(bay__state *s, const char *id, const json_t *settings, bay_error *err);

/* bay__state_set_version records version (copied) as the one plugin id last
 * loaded, and saves. Same errors as above. */
int bay__state_set_version(bay__state *s, const char *id, const char *version, bay_error *err);

/* bay__state_data_dir writes DIR/data/ID to path (len bytes) and creates the
 * folder (mode 0700) when missing. BAY_ENOENT when id is not installed,
 * BAY_EINVAL when path is too small, BAY_EIO when the folder cannot be made. */
int bay__state_data_dir(bay__state *s, const char *id, char *path, size_t len, bay_error *err);

/* bay__state_host_add records local user uid as host name with role (not
 * BAY_ROLE_NONE) and the NULL-terminated grants (copied; NULL = none), and
 * saves. BAY_EINVAL when name is not 1 to 63 of [a-z0-9._-] or role is none;
 * BAY_EEXIST when name or uid is taken (remove it first); BAY_EIO when saving
 * fails (nothing changed). */
int bay__state_host_add(bay__state *s, const char *name, uint32_t uid, bay__role role, const char *const *granted,
                        bay_error *err);

/* bay__state_host_add_key records the holder of Ed25519 public key key as
 * host name, as bay__state_host_add does a local user: BAY_EEXIST when name
 * or key is taken, else the same errors. */
int bay__state_host_add_key(bay__state *s, const char *name, const unsigned char key[BAY_KEY_PUBLIC_BYTES],
                            bay__role role, const char *const *granted, bay_error *err);

/* bay__state_host_remove forgets host name and saves. BAY_ENOENT when there
 * is none; BAY_EIO when saving fails (nothing changed). Pointers to its entry
 * are invalid afterwards. */
int bay__state_host_remove(bay__state *s, const char *name, bay_error *err);

/* bay__state_host_count returns how many hosts were added. */
size_t bay__state_host_count(const bay__state *s);

/* bay__state_host_at returns the i-th host in the order added (i < count), or NULL. Borrowed. */
const bay__state_host *bay__state_host_at(const bay__state *s, size_t i);

/* bay__state_host_named returns host name, or NULL. Borrowed. */
const bay__state_host *bay__state_host_named(const bay__state *s, const char *name);

/* bay__state_host_of_uid returns the host added for uid, or NULL. Borrowed. */
const bay__state_host *bay__state_host_of_uid(const bay__state *s, uint32_t uid);

/* bay__state_host_of_key returns the host added for public key key, or NULL. Borrowed. */
const bay__state_host *bay__state_host_of_key(const bay__state *s, const unsigned char key[BAY_KEY_PUBLIC_BYTES]);

/* bay__state_save writes the state to DIR/state.json atomically: the JSON goes
 * to state.json.tmp, which is flushed to disk, renamed over state.json, and
 * the folder flushed. Returns 0, BAY_ENOMEM, or BAY_EIO (state.json then
 * still holds the previous state, unless only the final folder flush failed)
 * with a message naming the step, the file and the system's reason
 * ("cannot write DIR/state.json.tmp: No space left on device").
 * The mutating calls above save by themselves; on any failure of theirs the
 * state in memory is left as it was. */
int bay__state_save(bay__state *s, bay_error *err);

#endif
