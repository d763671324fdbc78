/*
 * parse.h: parsers of untrusted request bytes: the POST /collect body (JSON
 * or form) and the query string (percent-encoding, the inverse of its
 * decoding, is reply.c's, which writes URLs).  Bounded by their length
 * arguments, pure (no logging, no allocation), fuzzed (tests/fuzz).  On
 * failure they return -1 with *why set to the sentence the client gets in
 * its 400.
 */
#ifndef OWM_FCGI_PARSE_H
#define OWM_FCGI_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "validate.h"

struct collect_req {
	char		 id[ID_MAX];
	size_t		 idlen;
	int		 has_cities;
	size_t		 ncities;
	unsigned int	 cities[CITIES_MAX];
	char		 whybuf[96];	/* room for messages naming a value */
};

int	parse_collect_json(const char *body, size_t len, struct collect_req *,
	    const char **why);
int	parse_collect_form(const char *body, size_t len, struct collect_req *,
	    const char **why);

/*
 * Find the query parameter "name" in qs and percent-decode it into out.
 * Returns the decoded length; -1 on a malformed or repeated parameter
 * (*why set); -2 when it is absent; -3 when it does not fit in cap.
 */
long	parse_query_param(const char *qs, size_t len, const char *name,
	    char *out, size_t cap, const char **why);

/*
 * Decode %XX (and '+' as space when plus is set): the decoded length, -1
 * on malformed input (*why set), -3 when it does not fit in cap.
 */
long	percent_decode(const char *s, size_t n, char *out, size_t cap,
	    int plus, const char **why);

/*
 * A CONTENT_LENGTH: RFC 9110's 1*DIGIT, so leading zeros are allowed and
 * change nothing ("010" is 10, as nginx reads it); nothing else is (no
 * sign, space or hex).  0 with *v the value; PARSE_LEN_OVER when it is
 * larger than max, however many digits it has; -1 when it is not a
 * decimal number (*why set).
 */
#define PARSE_LEN_OVER	(-2)
int	parse_content_length(const char *s, size_t n, uint64_t max,
	    uint64_t *v, const char **why);

/* GET /get's answer: ?format=json (the default) or ?format=csv. */
enum get_format {
	GET_JSON,
	GET_CSV
};

/* The format parameter of query qs into *f; -1 when it is neither
 * (*why set). */
int	parse_get_format(const char *qs, size_t len, enum get_format *f,
	    const char **why);

#endif
