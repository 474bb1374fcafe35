/* broker/command.h — the commands of plugbay, the CLI. */
#ifndef BAY_COMMAND_H
#define BAY_COMMAND_H

#include "broker.h"

void command_handle(broker *b, conn *c, const bay__frame *f);
/* command_init keeps the last audit lines and plugins' lines for `plugbay logs`
 * (logs.c) and makes the folder packages are sent to (incoming.h): 0, or
 * BAY_ENOMEM or BAY_EIO with err set. */
int command_init(broker *b, bay_error *err);
/* command_free forgets them (at shutdown). */
void command_free(broker *b);

#endif
