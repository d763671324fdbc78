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
/* Copies a process keeps, the least recently used replaced first, and
 * the largest it keeps. */
#define GETCACHE_SLOTS		16
#define GETCACHE_MAX_BODY	(64 * 1024)

struct getcache_version {
	unsigned long long	 row, ended, final;
};

/*
 * The key of request id's document, JSON or (csv) CSV, into key (room for
 * GETCACHE_KEY_MAX): its length; 0, never cached, for an id over ID_MAX
 * (which validation never lets through).
 */
size_t	getcache_doc_key(char *key, const char *id, size_t idlen, int csv);
/* The key of GET /collect's page of before and limit. */
size_t	getcache_page_key(char *key, unsigned long long before,
	    unsigned long long limit);

/*
 * Append the copy of key to out if it is of version v: 1 if it was, and
 * *finished (when not NULL) says whether it is a finished request's
 * document; 0 if there is no such copy.
 */
int	getcache_copy(const char *key, size_t keylen,
	    const struct getcache_version *v, struct buf *out, int *finished);
/* Keep doc, built after version v was read, as key's copy. */
void	getcache_put(const char *key, size_t keylen,
	    const struct getcache_version *v, int finished,
	    const struct buf *doc);
/*
 * Forget every copy and give back its storage: a process gone idle.  The
 * copies serve a burst of the same GETs; after one, each process would
 * otherwise keep up to GETCACHE_SLOTS of them for good.
 */
void	getcache_drop(void);

#endif
