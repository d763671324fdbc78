/*
 * getcache.h: each FastCGI process's small cache of answers it built from
 * the database: GET /get documents (a JSON one keyed by its request id, a
 * CSV one by the id after a control byte), and pages of GET /collect
 * (keyed by another such key: no request id holds a control character).
 *
 * An entry carries the version the database had when it was built, read
 * before building it; read.c reads the version again (a lookup or two
 * of a few rows) and serves the copy only when it is equal.  A finished
 * request's document is versioned by its row alone (it never changes
 * again); an unfinished one's also by the fetches ended so far (the
 * counters' `ended`), which any batch, drop or cancel moves; a page by
 * the newest and oldest request rows and the same count.
 */
#ifndef OWM_GETCACHE_H
#define OWM_GETCACHE_H

#include <stddef.h>

#include "buf.h"
#include "validate.h"

/* The longest key: a request id and the byte before it that says CSV. */
#define GETCACHE_KEY_MAX	(ID_MAX + 1)

struct getcache_version {
	unsigned long long	 row, ended, final;
};

/*
 * The cached answer of key, or NULL; *v receives its version, *finished
 * whether it was a finished request's document.
 */
const struct buf *getcache_find(const char *key, size_t keylen,
	    struct getcache_version *v, int *finished);
void	getcache_put(const char *key, size_t keylen,
	    const struct getcache_version *v, int finished,
	    const struct buf *doc);
/* Whether two versions are the same. */
int	getcache_same(const struct getcache_version *,
	    const struct getcache_version *);

#endif
