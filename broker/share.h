/* broker/share.h — fair shares: how many calls each connection has in flight, or waiting, at each provider. */
#ifndef BAY_SHARE_H
#define BAY_SHARE_H

#include <stdbool.h>
#include <stdint.h>

/* The counts, by connection (session) and provider (any pointer that names
 * one: plugbayd uses the plugin). route.c keeps one and decides with
 * bay__share_must_wait whether a host's next call to a provider waits its
 * turn, so that a host flooding a plugin cannot stand in front of every
 * other caller's call in the plugin's queue. */
typedef struct bay__shares bay__shares;

/* The calls one host may have in flight at one provider while another host
 * calls it too; past it, its next calls wait in plugbayd for their turn. */
#define BAY_SHARE_CALLS 1

/* How long after another host's last call a provider counts as shared. */
#define BAY_SHARE_WINDOW_MS 200

/* The last two hosts (sessions; 0: none) that called one provider, and when. */
typedef struct bay__share_callers {
    uint64_t session[2];
    int64_t at_ms[2];
} bay__share_callers;

/* bay__share_called records that session called the provider at now_ms. */
void bay__share_called(bay__share_callers *c, uint64_t session, int64_t now_ms);

/* bay__share_shared tells whether a host other than session called the
 * provider within BAY_SHARE_WINDOW_MS of now_ms. */
bool bay__share_shared(const bay__share_callers *c, uint64_t session, int64_t now_ms);

/* bay__shares_new returns empty counts, or NULL when out of memory. */
bay__shares *bay__shares_new(void);

/* bay__shares_free frees s (NULL is fine). */
void bay__shares_free(bay__shares *s);

/* What is counted of a connection's calls at a provider. */
typedef enum bay__share_kind {
    BAY_SHARE_IN_FLIGHT, /* sent to the provider, not answered yet */
    BAY_SHARE_WAITING,   /* waiting their turn in plugbayd */
} bay__share_kind;

/* bay__shares_add counts one more call of session at provider (delta 1) or
 * one fewer (delta -1; a count that is 0 stays 0), as kind. Returns 0, or
 * BAY_ENOMEM when a new count could not be made (then nothing was counted,
 * and the caller must not count that call down). */
int bay__shares_add(bay__shares *s, uint64_t session, const void *provider, bay__share_kind kind, int delta);

/* bay__shares_count returns the calls of session at provider, of kind. */
unsigned bay__shares_count(const bay__shares *s, uint64_t session, const void *provider, bay__share_kind kind);

/* bay__share_must_wait tells whether a host's next call to a provider waits:
 * when it has its share (BAY_SHARE_CALLS for each of the provider's workers,
 * its replicas; mine) there already and the
 * provider is shared (another host called it lately, bay__share_shared, or
 * has calls waiting there) or its in_flight calls (from every caller) include
 * others'. A host alone at a provider is never held back, nor one that serves
 * a call itself (serving: its call may be part of that one, which waits for
 * it). */
bool bay__share_must_wait(unsigned mine, unsigned in_flight, unsigned workers, bool shared, bool serving);

#endif
