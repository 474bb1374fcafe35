/* broker/loop.h — plugbayd's event loop, which wires the modules together and runs them. */
#ifndef BAY_LOOP_H
#define BAY_LOOP_H

#include "broker.h"

/* loop_run sets b up (frame table, listeners, workers' supervision, the
 * plugins found, the public socket), then runs plugbayd's thread until a
 * signal stops it and every worker ended: 0, or 1 when it could not start. */
int loop_run(broker *b);

#endif
