/* broker/command.h — the commands of plugbay, the CLI. */
#ifndef BAY_COMMAND_H
#define BAY_COMMAND_H

#include "broker.h"

void command_handle(broker *b, conn *c, const bay__frame *f);
/* command_init keeps the last audit lines and plugins' lines for `plugbay logs`
 * (logs.c) and makes the folder packages are sent to (incoming.h): 0, or
 * BAY_ENOMEM or BAY_EIO with err set. */
int command_init(broker *b, bay_error *err);
/* command_install_placed installs plugin p, which incoming_place just put in
 * the plugins folder, as `install` does with args' grants (already installed
 * by the scan under --autoinstall: nothing to do); when that fails its
 * folder goes again, and when its first load then fails too. 0 or the code
 * with err. */
int command_install_placed(broker *b, plugin *p, const bay_value *args, bay_error *err);
/* command_answer_settled answers request id of session about p once p
 * settles (at once when it has). */
void command_answer_settled(broker *b, plugin *p, uint64_t session, uint64_t id);
/* command_free forgets them (at shutdown). */
void command_free(broker *b);

#endif
