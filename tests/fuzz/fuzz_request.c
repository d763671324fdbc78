/*
 * fuzz_request.c: libFuzzer target for every parser of the HTTP request's
 * untrusted bytes: the POST /collect body as JSON and as a form, and the
 * query string (its id and format parameters), and CONTENT_LENGTH.
 * Beyond "no crash", it
 * checks the parsers' promises: an accepted id is valid, an accepted city
 * list is valid, an id sent as a JSON number is accepted only as an
 * integer and then is its decimal text, a format is one of the two, and
 * percent-encoding any bytes (reply.c's, for URLs) decodes back to them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "parse.h"
#include "reply.h"
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

static int
digits(const char *s, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* The length of the run of bytes from set at the start of s[0..n). */
static size_t
strspn_n(const char *s, size_t n, const char *set)
{
	size_t	 i;

	for (i = 0; i < n && s[i] != '\0' && strchr(set, s[i]); i++)
		;
	return i;
}

/*
 * The input as the id's value, {"id":<input>}: when it is accepted and was
 * not a string, it was a JSON integer of at most 128 bytes and the id is
 * its text, "-0" as "0": an optional '-', then "0" or no leading zero.
 */
static void
check_number_id(const uint8_t *data, size_t size)
{
	static struct collect_req r;
	const char	*why = NULL, *v = (const char *)data, *id;
	size_t		 n = size, k;
	char		*body;

	if ((body = malloc(size + 7)) == NULL)
		return;
	memcpy(body, "{\"id\":", 6);
	memcpy(body + 6, data, size);
	body[size + 6] = '}';
	if (parse_collect_json(body, size + 7, &r, &why) != 0) {
		if (why == NULL || why[0] == '\0')
			abort();
		free(body);
		return;
	}
	free(body);
	while (n > 0 && strchr(" \t\r\n", *v) && *v != '\0')
		v++, n--;
	if (n > 0 && v[0] == '"')
		return;
	/* The value is the number at the start; other fields may follow. */
	n = strspn_n(v, n, "-+.0123456789eE");
	id = r.id;
	k = r.idlen;
	if (k > 0 && id[0] == '-')
		id++, k--;
	if (k == 0 || r.idlen > ID_MAX || !digits(id, k) ||
	    (id[0] == '0' && (k > 1 || r.id[0] == '-')))
		abort();
	if (!(r.idlen == n && memcmp(r.id, v, n) == 0) &&
	    !(n == 2 && memcmp(v, "-0", 2) == 0 && r.idlen == 1 &&
	    r.id[0] == '0'))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct collect_req r;
	static char	 enc[ID_MAX * 3], back[ID_MAX];
	const char	*why = NULL;
	char		 out[ID_MAX];
	enum get_format	 f;
	uint64_t	 len;
	long		 n;
	int		 rc;

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
	why = NULL;
	if (parse_get_format(body, size, &f, &why) == 0) {
		if (f != GET_JSON && f != GET_CSV)
			abort();
	} else if (why == NULL || why[0] == '\0')
		abort();
	/* A length is digits only, within the bound when accepted. */
	why = NULL;
	len = 0;
	rc = parse_content_length(body, size, 65536, &len, &why);
	if ((rc == 0 && (len > 65536 || size == 0 || !digits(body, size))) ||
	    (rc == -1 && (why == NULL || why[0] == '\0')) ||
	    (rc != 0 && rc != -1 && rc != PARSE_LEN_OVER))
		abort();
	/* Any id's bytes fit three times over, and decode back. */
	n = reply_percent_encode(body, size, enc, sizeof(enc));
	if (size <= ID_MAX && (n < 0 || percent_decode(enc, (size_t)n, back,
	    sizeof(back), 1, &why) != (long)size ||
	    memcmp(back, body, size) != 0))
		abort();
	if (json_unescape(body, size, NULL, 0, &why) >= 0 &&
	    !utf8_valid(body, size) && memchr(body, '\\', size) == NULL)
		abort();
	free(body);
	check_number_id(data, size);
	return 0;
}
