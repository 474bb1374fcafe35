/* broker/manage.h — what a plugin asks of plugbayd itself: its own timers, and other plugins (plugins.manage). */
#ifndef BAY_MANAGE_H
#define BAY_MANAGE_H

#include "broker.h"

/* manage_command answers COMMAND f from worker c, when its name is one a
 * plugin may send: timer.set {name, interval_ms, function}, timer.remove
 * {name}, timer.list; plugins.list, plugins.load / plugins.unload /
 * plugins.reload {id} (each needs plugins.manage or plugins.manage:PATTERN
 * covering the plugin, and answers at once, {id, state}, the lifecycle going
 * on after: a plugin may unload or reload itself). Returns false when f is
 * none of these (nothing answered). */
bool manage_command(broker *b, conn *c, const bay__frame *f);

#endif
