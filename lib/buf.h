/*
 * buf.h: a growable byte buffer, reused across requests (after Redis' sds).
 *
 * Appends never fail visibly: an allocation failure or passing the buffer's
 * limit sets b->failed and further appends are ignored, so a builder checks
 * once at the end instead of after every append.
 */
#ifndef OWM_BUF_H
#define OWM_BUF_H

#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
	size_t	 limit;		/* 0 = no limit */
	int	 failed;
};

/*
 * A buffer reused across requests keeps its storage up to BUF_KEEP bytes;
 * buf_reset gives back a larger one, so one big answer does not hold its
 * high-water mark in every process for good.
 */
#define BUF_KEEP	(128 * 1024)

void	buf_init(struct buf *, size_t limit);
void	buf_reset(struct buf *);
void	buf_free(struct buf *);
void	buf_add(struct buf *, const void *, size_t);
void	buf_adds(struct buf *, const char *);
void	buf_addc(struct buf *, char);
/* Decimal digits of an unsigned number: the JSON lists' hot path. */
void	buf_addu(struct buf *, unsigned long long);
void	buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* NUL-terminates without counting the NUL; returns data or NULL if failed. */
const char *buf_cstr(struct buf *);

#endif
