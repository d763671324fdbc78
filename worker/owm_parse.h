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
 *
 * The city's place (name, sys.country, coord.lat, coord.lon) is optional
 * metadata, mapped apart: a place that breaks a rule (owm_place_check) is
 * refused with a short reason, never its content, and the reading stays
 * valid.  name or coord absent, or an empty name: no place, nothing to
 * say.  Strings are unescaped (\u escapes, surrogate pairs, raw UTF-8)
 * before they are judged.
 */
#ifndef OWM_OWM_PARSE_H
#define OWM_OWM_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define OWM_PARSE_MAX_BODY	(1024 * 1024)
#define OWM_PARSE_MAX_TOKENS	4096
#define OWM_GROUP_MAX		20

/* The columns they go to (etc/schema.sql: cities). */
#define OWM_NAME_MAX		255	/* name: bytes of UTF-8 */
#define OWM_COUNTRY_MAX		8	/* country: VARCHAR(8) ascii */

/* Each string holds its length in bytes and a NUL after them. */
struct owm_place {
	char		 name[OWM_NAME_MAX + 1];
	size_t		 namelen;
	char		 country[OWM_COUNTRY_MAX + 1];
	size_t		 countrylen;	/* 0: none (NULL) */
	double		 lat, lon;
};

enum owm_place_state {
	OWM_PLACE_NONE,		/* name or coord absent */
	OWM_PLACE_OK,		/* place holds a place to keep */
	OWM_PLACE_REFUSED	/* place_why says which rule it broke */
};

struct owm_reading {
	uint32_t	 id;
	double		 temp;		/* Celsius */
	unsigned int	 humidity;	/* percent */
	int64_t		 dt;		/* Unix seconds */
	enum owm_place_state place_state;
	const char	*place_why;	/* a constant string */
	struct owm_place place;		/* OWM_PLACE_OK only */
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

/*
 * NULL if p is a place to keep, else why not (a constant string).  name:
 * 1..OWM_NAME_MAX bytes of valid UTF-8 without control characters
 * (U+0000-U+001F, U+007F-U+009F), not starting with = + - or @ (a
 * spreadsheet would take it for a formula: the service serves CSV, and
 * no real city's name starts so); country: none, or two letters A-Z (ISO
 * 3166-1 alpha-2, as the API sends it); lat a finite number in [-90, 90],
 * lon in [-180, 180].
 */
const char *owm_place_check(const struct owm_place *p);

/* The "message" string of an error body into msg (NUL-terminated). */
int	owm_parse_message(const char *body, size_t len, char *msg,
	    size_t msglen);

#endif
