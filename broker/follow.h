/* broker/follow.h — the indexes plugbayd follows (--index URL): fetched off the loop thread, an installed version they revoke disabled with their reason.
 *
 * A thread of its own fetches each index (fetch.h: its signature checked
 * against plugbayd's trusted keys) at start and every --index-interval-s,
 * and hands the loop thread what it found through an eventfd: the loop never
 * waits on a network. The loop disables each installed plugin whose version
 * an index revokes (`version 1.0.0 is revoked by the index URL: REASON; …`),
 * and `status` shows each index, when it was last read and how. */
#ifndef BAY_FOLLOW_H
#define BAY_FOLLOW_H

#include "broker.h"

struct bay__index;

/* follow_start starts the thread when plugbayd follows an index. Returns 0
 * or BAY_ENOMEM/BAY_EIO with err set. */
int follow_start(broker *b, bay_error *err);

/* follow_fd returns the descriptor the loop polls for what the thread found (-1: no index followed). */
int follow_fd(const broker *b);

/* follow_apply takes what the thread found, on the loop thread, and disables
 * the installed versions an index revokes. */
void follow_apply(broker *b);

/* follow_status adds to status map v "indexes": each URL, when it was last
 * read (ms since plugbayd started, or nil) and the error of its last read
 * (nil when it was read). */
void follow_status(const broker *b, bay_value *v);

/* follow_verified tells whether key_id (NULL: an unsigned package) is a
 * publisher the owner of an index plugbayd follows verified, as of the last
 * read of each: 0, or BAY_EPERM (it is not, or NULL) or BAY_EBUSY (no index
 * was read yet) with err set. For --verified-only. */
int follow_verified(const broker *b, const char *key_id, bay_error *err);

/* follow_fn is called by follow_offers with one index plugbayd follows (url)
 * as of its last verified read: idx is borrowed, valid during the call only. */
typedef void (*follow_fn)(void *ctx, const char *url, const struct bay__index *idx);

/* follow_offers calls fn(ctx, url, idx) for each index plugbayd follows that
 * was read, in --index order, the indexes locked meanwhile (fn must not call
 * into follow.h): 0, or BAY_ENOENT (plugbayd follows no index) or BAY_EBUSY
 * (none was read yet) with err set saying what to do. */
int follow_offers(const broker *b, follow_fn fn, void *ctx, bay_error *err);

/* follow_stop stops and joins the thread, and frees what it holds (at exit). */
void follow_stop(broker *b);

#endif
