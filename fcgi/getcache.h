/*
 * getcache.h: each FastCGI process's small cache of GET /get documents.
 *
 * Only finished requests' documents are kept: they never change again.
 * An entry is keyed by the request id and versioned by its requests row
 * id, so a copy is never served for another row of the same id (one
 * retention purged and the same id posted again, a database recreated
 * under the running program).  store_get checks the version with one
 * unique-key lookup and rebuilds only when it moved.
 */
#ifndef OWM_GETCACHE_H
#define OWM_GETCACHE_H

#include <stddef.h>

#include "buf.h"

/* The cached document of id, or NULL; *version receives its version. */
const struct buf *getcache_find(const char *id, size_t idlen,
	    unsigned long long *version);
void	getcache_put(const char *id, size_t idlen, unsigned long long version,
	    const struct buf *doc);

#endif
