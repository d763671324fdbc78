/*
 * rules.h: the vocabulary owmcollect-fcgi and owmcollect-worker share, so
 * that no number or word two programs must agree on is written twice:
 * the API's window, a worker child's alive age, the gate's pause reasons
 * (the rate_gate.reason column /health reads), and the city-list rules.
 */
#ifndef OWM_RULES_H
#define OWM_RULES_H

#include <stddef.h>

/* The API's limit counts cities a minute, in any 60 s window. */
#define RULES_WINDOW_S		60
#define RULES_WINDOW_SQL	"INTERVAL 60 SECOND"
/* A worker child is alive while its heartbeat (every 2 s) is younger. */
#define RULES_ALIVE_S		10
#define RULES_ALIVE_SQL		"INTERVAL 10 SECOND"

/* Why the gate pauses every child (rate_gate.reason). */
#define RULES_PAUSE_429		"429"
#define RULES_PAUSE_KEY		"invalid key"
#define RULES_PAUSE_MONTH	"monthly cap"
#define RULES_PAUSE_DOWN	"API unreachable"

/* A city list: 1..CITIES_MAX ids, each 1..CITY_ID_MAX, none repeated. */
#define CITIES_MAX		1000
#define CITY_ID_MAX		4294967295ULL
#define CITIES_WHY_COUNT	"cities must hold 1 to 1000 city ids"
#define CITIES_WHY_RANGE	"cities must be at most 4294967295"

/*
 * 0 when ids[n] is a valid city list, else -1 with *why one sentence (and
 * *dup the repeated id when one is).  Never logs, never allocates.
 */
int	cities_check(const unsigned int *ids, size_t n, unsigned int *dup,
	    const char **why);

#endif
