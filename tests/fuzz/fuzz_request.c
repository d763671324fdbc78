/*
 * fuzz_request.c: libFuzzer target for every parser of the HTTP request's
 * untrusted bytes: the POST /collect body as JSON and as a form, and the
 * query string.  Beyond "no crash", it checks the parsers' promises: an
 * accepted id is valid, an accepted city list is valid.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "parse.h"
#include "validate.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_accepted(const struct collect_req *r)
{
	const char	*why;
	unsigned int	 dup;

	if (validate_id(r->id, r->idlen, &why) != 0)
		abort();
	if (r->has_cities &&
	    cities_check(r->cities, r->ncities, &dup, &why) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct collect_req r;
	const char	*why = NULL;
	char		 out[ID_MAX];
	long		 n;

	/* Copies without slack, so any read past the end is caught. */
	char *body = malloc(size ? size : 1);

	if (body == NULL)
		return 0;
	memcpy(body, data, size);
	if (parse_collect_json(body, size, &r, &why) == 0)
		check_accepted(&r);
	else if (why == NULL || why[0] == '\0')
		abort();
	why = NULL;
	if (parse_collect_form(body, size, &r, &why) == 0)
		check_accepted(&r);
	else if (why == NULL || why[0] == '\0')
		abort();
	n = parse_query_param(body, size, "id", out, sizeof(out), &why);
	if (n > (long)sizeof(out) || n < -3)
		abort();
	if (json_unescape(body, size, NULL, 0, &why) >= 0 &&
	    !utf8_valid(body, size) && memchr(body, '\\', size) == NULL)
		abort();
	free(body);
	return 0;
}
