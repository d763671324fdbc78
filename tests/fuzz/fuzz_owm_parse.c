/*
 * fuzz_owm_parse.c: libFuzzer target for worker/owm_parse.c, the parser of
 * the API's (untrusted) answers.  Every input goes through the single,
 * group and message mappers; a reading that passes must be valid, and so
 * must its place when one was kept (a refused one says why).
 */
#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "owm_parse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_place(const struct owm_reading *r)
{
	switch (r->place_state) {
	case OWM_PLACE_OK:
		assert(owm_place_check(&r->place) == NULL);
		assert(strlen(r->place.name) == r->place.namelen);
		assert(strlen(r->place.country) == r->place.countrylen);
		break;
	case OWM_PLACE_REFUSED:
		assert(r->place_why != NULL && r->place.namelen == 0);
		break;
	default:
		assert(r->place_state == OWM_PLACE_NONE);
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t ids[3] = { 1, 42, 2643743 };
	struct owm_reading r, out[3];
	const char	*why;
	char		 msg[64];
	int		 found[3], i;

	if (owm_parse_single((const char *)data, size, 42, 1700000000, &r,
	    &why) == 0) {
		assert(r.id == 42 && isfinite(r.temp) && r.temp >= -100 &&
		    r.temp <= 100 && r.humidity <= 100);
		check_place(&r);
	}
	if (owm_parse_group((const char *)data, size, ids, 3, 1700000000, out,
	    found, &why) == 0)
		for (i = 0; i < 3; i++) {
			assert(!found[i] || out[i].id == ids[i]);
			if (found[i])
				check_place(&out[i]);
		}
	(void)owm_parse_message((const char *)data, size, msg, sizeof(msg));
	return 0;
}
