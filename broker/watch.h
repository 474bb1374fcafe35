/* broker/watch.h — the plugins folder watched with inotify: its changes, once quiet, become one rescan. */
#ifndef BAY_WATCH_H
#define BAY_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include <plugbay/error.h>

typedef struct watch watch;

/* watch_open makes *out, an inotify instance watching nothing yet: 0, or the
 * code with err (the kernel's limit of instances reached, out of memory). */
int watch_open(watch **out, bay_error *err);

/* watch_fd returns the descriptor to poll for input (watch_read then). */
int watch_fd(const watch *w);

/* watch_mark starts a round of watch_folder calls: folders not named again
 * before watch_sweep stop being watched. */
void watch_mark(watch *w);

/* watch_folder watches the folder path (no symbolic link followed): in a
 * plugin folder (plugin true) only plugin.json and the folder itself count,
 * in any other folder every entry made, moved or removed. Returns 0, or the
 * code with err (BAY_EBUSY past 4096 folders; BAY_EIO when the kernel's
 * limit of watches is reached: see /proc/sys/fs/inotify/max_user_watches). */
int watch_folder(watch *w, const char *path, bool plugin, bay_error *err);

/* watch_sweep stops watching the folders not named since watch_mark. */
void watch_sweep(watch *w);

/* watch_read reads what the kernel reported; a change that counts makes a
 * rescan due once nothing changed for 200 ms (at most 2 s after the first). */
void watch_read(watch *w, int64_t now_ms);

/* watch_due tells whether the rescan is due at now_ms (it then counts as
 * done); *next becomes when it will be, or stays as it was when none waits. */
bool watch_due(watch *w, int64_t now_ms, int64_t *next);

/* watch_close ends the watches and frees w (NULL is ignored). */
void watch_close(watch *w);

#endif
