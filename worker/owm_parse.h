/*
 * owm_parse.h: maps an OpenWeatherMap answer body into readings.
 *
 * jsmn in strict mode with a fixed token budget and a size cap; the whole
 * body is mapped and validated before anything touches the database.
 * Pure: never logs, fills a reason on failure.  A reading is valid when
 * main.temp is a finite number in [-100, 100] (Celsius: the client always
 * asks for units=metric), main.humidity an integer 0..100, dt an integer
 * within [now - 30 days, now + 1 hour] and id one of the ids asked for.
 * cod is ignored: the HTTP status is what counts.
 */
#ifndef OWM_OWM_PARSE_H
#define OWM_OWM_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define OWM_PARSE_MAX_BODY	(1024 * 1024)
#define OWM_PARSE_MAX_TOKENS	4096
#define OWM_GROUP_MAX		20

struct owm_reading {
	uint32_t	 id;
	double		 temp;		/* Celsius */
	unsigned int	 humidity;	/* percent */
	int64_t		 dt;		/* Unix seconds */
};

/* A /weather answer for want.  0, or -1 with why. */
int	owm_parse_single(const char *body, size_t len, uint32_t want,
	    int64_t now, struct owm_reading *out, const char **why);

/*
 * A /group answer for ids[0..n).  found[i] is set and out[i] filled for
 * every id in the list; ids left out are the caller's to confirm.  An item
 * for an id not asked for, twice the same id, or any invalid item makes
 * the whole answer invalid: -1 with why.
 */
int	owm_parse_group(const char *body, size_t len, const uint32_t *ids,
	    size_t n, int64_t now, struct owm_reading *out, int *found,
	    const char **why);

/* The "message" string of an error body into msg (NUL-terminated). */
int	owm_parse_message(const char *body, size_t len, char *msg,
	    size_t msglen);

#endif
