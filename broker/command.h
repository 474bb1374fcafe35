/* broker/command.h — the commands of plugbay, the CLI. */
#ifndef BAY_COMMAND_H
#define BAY_COMMAND_H

#include "broker.h"

void command_handle(broker *b, conn *c, const bay__frame *f);

#endif
