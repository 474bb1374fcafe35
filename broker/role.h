/* broker/role.h — who may talk to plugbayd and what each role lets a connection do. */
#ifndef BAY_ROLE_H
#define BAY_ROLE_H

#include <stdbool.h>
#include <stdint.h>

/* A connection's role. Each includes those below it: an admin may do what a
 * host may, a host what an observer may. */
typedef enum bay__role {
    BAY_ROLE_NONE = 0, /* may not connect */
    BAY_ROLE_OBSERVER, /* list, info, status; hears notices */
    BAY_ROLE_HOST,     /* declares, provides, calls (within its grants) */
    BAY_ROLE_ADMIN,    /* installs, grants, loads, ... and adds hosts */
} bay__role;

/* bay__role_parse returns the role named name ("admin", "host", "observer"),
 * or BAY_ROLE_NONE for anything else (NULL included). */
bay__role bay__role_parse(const char *name);

/* bay__role_name returns the role's name ("none" for BAY_ROLE_NONE). Static. */
const char *bay__role_name(bay__role role);

/* bay__role_allows tells whether a connection of role have may do what needs role need. */
bool bay__role_allows(bay__role have, bay__role need);

/* bay__role_of_uid decides the role of a local peer running as uid: plugbayd's
 * own uid (own) and root are admins; another uid has the role an admin gave it
 * (configured: BAY_ROLE_NONE when it was given none). */
bay__role bay__role_of_uid(uint32_t uid, uint32_t own, bay__role configured);

#endif
