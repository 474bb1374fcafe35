/* broker/provide.h — what hosts offer: the extension points they declare, provide and withdraw, and their notices. */
#ifndef BAY_PROVIDE_H
#define BAY_PROVIDE_H

#include "broker.h"

/* provide_frame registers host c's DECLARE or PROVIDE f in the registry and
 * tells subscribers; a bad kind or a conflict is answered with the reason. */
void provide_frame(broker *b, conn *c, const bay__frame *f);
/* provide_withdraw removes host c as a provider of f's name (BAY_ENOENT when it is none). */
void provide_withdraw(broker *b, conn *c, const bay__frame *f);
/* provide_subscribe turns host c's notices on or off (SUBSCRIBE f). */
void provide_subscribe(broker *b, conn *c, const bay__frame *f);
/* provide_declare_typed runs host c's COMMAND declare {name, kind, types}
 * (args): it declares name with its types (bay_declare_typed) and answers;
 * 0, or the code with err when it cannot. */
int provide_declare_typed(broker *b, conn *c, const bay__frame *f, plugin *p, const bay_value *args, bay_error *err);
/* provide_host_gone withdraws what host c provided (a host_gone_fn). */
void provide_host_gone(broker *b, conn *c);

#endif
