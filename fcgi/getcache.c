/*
 * getcache.c: a least-recently-used table of a few documents; see
 * getcache.h.  Documents larger than GETCACHE_MAX_BODY are not kept, so the
 * cache costs at most GETCACHE_SLOTS * GETCACHE_MAX_BODY per process.
 */
#include <stdio.h>
#include <string.h>

#include "getcache.h"

/*
 * The first byte of a key when it is not a request's JSON (keyed by its
 * id alone): a byte no request id holds.
 */
#define KEY_PAGE	'\001'
#define KEY_CSV		'\002'

struct entry {
	char			 key[GETCACHE_KEY_MAX];
	size_t			 keylen;
	struct getcache_version	 version;
	int			 finished;
	unsigned long long	 used;
	struct buf		 doc;
};

static struct entry		 slots[GETCACHE_SLOTS];
static unsigned long long	 tick;

static struct entry *
lookup(const char *key, size_t keylen)
{
	int	 i;

	for (i = 0; i < GETCACHE_SLOTS; i++)
		if (slots[i].used && slots[i].keylen == keylen &&
		    memcmp(slots[i].key, key, keylen) == 0)
			return &slots[i];
	return NULL;
}

size_t
getcache_doc_key(char *key, const char *id, size_t idlen, int csv)
{
	size_t	 n = 0;

	if (idlen > ID_MAX)
		return 0;
	if (csv)
		key[n++] = KEY_CSV;
	memcpy(key + n, id, idlen);
	return n + idlen;
}

size_t
getcache_page_key(char *key, unsigned long long before,
    unsigned long long limit)
{
	int	 n = snprintf(key, GETCACHE_KEY_MAX, "%c%llu:%llu", KEY_PAGE,
		    before, limit);

	return n < 0 || n >= GETCACHE_KEY_MAX ? 0 : (size_t)n;
}

static int
same(const struct getcache_version *a, const struct getcache_version *b)
{
	return a->row == b->row && a->ended == b->ended &&
	    a->final == b->final;
}

int
getcache_copy(const char *key, size_t keylen,
    const struct getcache_version *v, struct buf *out, int *finished)
{
	struct entry	*e;

	if (keylen == 0 || (e = lookup(key, keylen)) == NULL ||
	    !same(v, &e->version))
		return 0;
	e->used = ++tick;
	buf_add(out, e->doc.data, e->doc.len);
	if (finished)
		*finished = e->finished;
	return 1;
}

void
getcache_put(const char *key, size_t keylen,
    const struct getcache_version *v, int finished, const struct buf *doc)
{
	struct entry	*e;
	int		 i;

	if (keylen == 0 || keylen > GETCACHE_KEY_MAX || doc->failed ||
	    doc->len > GETCACHE_MAX_BODY)
		return;
	if ((e = lookup(key, keylen)) == NULL) {
		e = &slots[0];
		for (i = 1; i < GETCACHE_SLOTS; i++)
			if (slots[i].used < e->used)
				e = &slots[i];
		memcpy(e->key, key, keylen);
		e->keylen = keylen;
	}
	buf_reset(&e->doc);
	buf_add(&e->doc, doc->data, doc->len);
	if (e->doc.failed) {
		e->used = 0;
		return;
	}
	e->version = *v;
	e->finished = finished;
	e->used = ++tick;
}

void
getcache_drop(void)
{
	int	 i;

	for (i = 0; i < GETCACHE_SLOTS; i++) {
		buf_free(&slots[i].doc);
		slots[i].keylen = 0;
		slots[i].used = 0;
	}
}
