/* broker/role.c — who may talk to plugbayd and what each role lets a connection do. */
#include "role.h"

#include <string.h>

static const char *const names[] = {"none", "observer", "host", "admin"};

bay__role bay__role_parse(const char *name)
{
    for (int r = BAY_ROLE_OBSERVER; name && r <= BAY_ROLE_ADMIN; r++)
        if (strcmp(name, names[r]) == 0)
            return (bay__role)r;
    return BAY_ROLE_NONE;
}

const char *bay__role_name(bay__role role)
{
    return role >= BAY_ROLE_NONE && role <= BAY_ROLE_ADMIN ? names[role] : "none";
}

bool bay__role_allows(bay__role have, bay__role need)
{
    return have != BAY_ROLE_NONE && have >= need;
}

bay__role bay__role_of_uid(uint32_t uid, uint32_t own, bay__role configured)
{
    return uid == own || uid == 0 ? BAY_ROLE_ADMIN : configured;
}
