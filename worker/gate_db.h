/*
 * gate_db.h: the shared rate gate through the database (etc/schema.sql:
 * rate_gate, rate_slots).
 *
 * A reservation locks the single rate_gate row, reads the database clock
 * and the slots of the last window, asks rategate_next() for the earliest
 * slot that keeps every window of owm.cities_per_minute, inserts it and
 * commits; the caller sleeps until the slot and then sends.  Every
 * reservation counts, used or not.  The same row holds the pause every
 * child obeys (a 429, an invalid key, the monthly cap).
 */
#ifndef OWM_GATE_DB_H
#define OWM_GATE_DB_H

#include <stdint.h>

#include <mysql.h>

#include "stmt.h"

struct config;

#define GATE_OK		0
#define GATE_PAUSED	1	/* nothing reserved: wait until paused_until */

#define GATE_REASON_429		"429"
#define GATE_REASON_KEY		"invalid key"
#define GATE_REASON_MONTH	"monthly cap"

struct gate_state {
	int64_t		 now;		/* the database clock, microseconds */
	int64_t		 slot;		/* reserved: send at this time */
	unsigned int	 granted;	/* reserved cities (<= asked for) */
	int64_t		 paused_until;
	char		 reason[40];
	unsigned int	 backoff_ms;	/* the 429 backoff in force */
};

int	gate_open(MYSQL *, const struct config *, struct sqlerr *);
void	gate_close(void);

/* A plain read of the pause: GATE_OK, GATE_PAUSED or -1. */
int	gate_check(struct gate_state *, struct sqlerr *);
/* Reserve up to n cities: GATE_OK (granted > 0), GATE_PAUSED or -1. */
int	gate_reserve(unsigned int n, const char *owner, struct gate_state *,
	    struct sqlerr *);
/* A 429 was seen: pause everyone with a growing backoff.  1 if this call
 * started the pause, 0 if one was already running, -1 on error. */
int	gate_pause_429(struct sqlerr *);
/* A 401: pause everyone for pause_s seconds with the invalid-key reason.
 * 1 if this call set it (log loudly), 0 if already set, -1 on error. */
int	gate_pause_key(int pause_s, struct sqlerr *);
/* A new configuration may hold a new key: lift an invalid-key pause. */
int	gate_clear_key(struct sqlerr *);
/* A successful call after 429s: the backoff starts over. */
int	gate_backoff_reset(struct sqlerr *);

#endif
