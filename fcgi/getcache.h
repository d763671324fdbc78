/*
 * getcache.h: each FastCGI process's small cache of GET /get documents.
 *
 * An entry is keyed by the request id and versioned by its request row
 * and its number of outcomes (collected + failed): outcomes are only ever
 * added, so a document built at version v is exact for as long as the
 * database still says v.  store_get checks the version with one indexed lookup and
 * rebuilds only when it moved.
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
