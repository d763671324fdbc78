/*
 * getcache.c: a least-recently-used table of a few documents; see
 * getcache.h.  Documents larger than GETCACHE_MAX_BODY are not kept, so the
 * cache costs at most GETCACHE_SLOTS * GETCACHE_MAX_BODY per process.
 */
#include <string.h>

#include "getcache.h"

#define GETCACHE_SLOTS		16
#define GETCACHE_MAX_BODY	(64 * 1024)

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

const struct buf *
getcache_find(const char *key, size_t keylen, struct getcache_version *v,
    int *finished)
{
	struct entry	*e;

	if ((e = lookup(key, keylen)) == NULL)
		return NULL;
	e->used = ++tick;
	*v = e->version;
	*finished = e->finished;
	return &e->doc;
}

int
getcache_same(const struct getcache_version *a,
    const struct getcache_version *b)
{
	return a->row == b->row && a->ended == b->ended &&
	    a->final == b->final;
}

void
getcache_put(const char *key, size_t keylen,
    const struct getcache_version *v, int finished, const struct buf *doc)
{
	struct entry	*e;
	int		 i;

	if (keylen > GETCACHE_KEY_MAX || doc->failed ||
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
