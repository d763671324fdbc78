/*
 * sqlvec.c: see sqlvec.h.
 *
 * Each variant is prepared on its connection the first time a list of
 * its length is run, so a connection prepares only the lengths it meets
 * (a worker that always claims full batches: one per template).  The
 * parameter list's room is the most placeholders any template has at
 * nmax, counted once when opened, so no caller sizes it by hand.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sqlvec.h"

int
sqlvec_sql(const char *tmpl, size_t n, struct buf *b)
{
	const char	*s, *rep = NULL;
	size_t		 i;

	if (n == 0)
		return -1;	/* an empty IN list is not SQL */
	buf_reset(b);
	for (s = tmpl; *s; s++) {
		if (strncmp(s, "?*", 2) == 0) {
			for (i = 0; i < n; i++)
				buf_adds(b, i ? ", ?" : "?");
			s++;
		} else if (*s == '[')
			rep = s + 1;
		else if (*s == ']' && rep) {
			for (i = 0; i < n; i++) {
				if (i > 0)
					buf_adds(b, *rep == '(' ? ", " : " ");
				buf_add(b, rep, (size_t)(s - rep));
			}
			rep = NULL;
		} else if (rep == NULL)
			buf_addc(b, *s);
	}
	return buf_cstr(b) ? 0 : -1;
}

/* The most placeholders of any variant (those at nmax), into *cap. */
static int
longest(const struct sqlvec *v, size_t *cap)
{
	struct buf	 b;
	const char	*s;
	size_t		 q;
	int		 kind, rc = 0;

	*cap = 0;
	buf_init(&b, 0);
	for (kind = 0; kind < v->kinds && rc == 0; kind++) {
		if ((rc = sqlvec_sql(v->tmpl[kind], v->nmax, &b)) == -1)
			break;
		for (s = b.data, q = 0; *s; s++)
			q += *s == '?';
		if (q > *cap)
			*cap = q;
	}
	buf_free(&b);
	return rc;
}

/* An error of ours, not the server's: always -1. */
static int __attribute__((format(printf, 2, 3)))
refuse(struct db_err *e, const char *fmt, ...)
{
	va_list	 ap;

	e->code = 0;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int
sqlvec_open(struct sqlvec *v, MYSQL *db, struct db_err *e)
{
	size_t	 cap;

	sqlvec_close(v);
	if (longest(v, &cap) == -1)
		return refuse(e, "statements over lists: out of memory");
	if (cap == 0)
		cap = 1;	/* calloc(0) may be NULL */
	v->st = calloc((size_t)v->kinds * (v->nmax + 1), sizeof(*v->st));
	v->pb = calloc(cap, sizeof(*v->pb));
	v->pv = calloc(cap, sizeof(*v->pv));
	v->plen = calloc(cap, sizeof(*v->plen));
	if (v->st == NULL || v->pb == NULL || v->pv == NULL ||
	    v->plen == NULL) {
		sqlvec_close(v);
		return refuse(e, "statements over lists: out of memory");
	}
	v->cap = cap;
	v->db = db;
	return 0;
}

void
sqlvec_close(struct sqlvec *v)
{
	if (v->st != NULL)
		db_close_stmts(v->st, v->kinds * (int)(v->nmax + 1));
	free(v->st);
	free(v->pb);
	free(v->pv);
	free(v->plen);
	v->st = NULL;
	v->pb = NULL;
	v->pv = NULL;
	v->plen = NULL;
	v->cap = v->np = 0;
	v->db = NULL;
}

void
sqlvec_params(struct sqlvec *v)
{
	v->np = 0;
}

/* Each append counts past the room too: sqlvec_run then refuses. */
void
sqlvec_i64(struct sqlvec *v, long long x)
{
	if (v->np < v->cap) {
		v->pv[v->np] = x;
		db_bind_i64(&v->pb[v->np], &v->pv[v->np]);
	}
	v->np++;
}

void
sqlvec_str(struct sqlvec *v, const char *s)
{
	if (v->np < v->cap)
		db_bind_str(&v->pb[v->np], s, &v->plen[v->np]);
	v->np++;
}

void
sqlvec_null(struct sqlvec *v)
{
	if (v->np < v->cap) {
		memset(&v->pb[v->np], 0, sizeof(v->pb[v->np]));
		v->pb[v->np].buffer_type = MYSQL_TYPE_NULL;
	}
	v->np++;
}

/* The variant of kind for n, prepared on first use. */
static MYSQL_STMT *
variant(struct sqlvec *v, int kind, size_t n, struct db_err *e)
{
	MYSQL_STMT	**q;
	struct buf	 b;

	if (v->db == NULL || kind < 0 || kind >= v->kinds || n < 1 ||
	    n > v->nmax) {
		refuse(e, "statement %d/%zu: none such", kind, n);
		return NULL;
	}
	q = &v->st[(size_t)kind * (v->nmax + 1) + n];
	if (*q != NULL)
		return *q;
	buf_init(&b, 0);
	if (sqlvec_sql(v->tmpl[kind], n, &b) == -1) {
		buf_free(&b);
		refuse(e, "statement %d/%zu: out of memory", kind, n);
		return NULL;
	}
	*q = db_prepare(v->db, b.data, e->msg, sizeof(e->msg));
	if (*q == NULL)
		e->code = mysql_errno(v->db);
	buf_free(&b);
	return *q;
}

MYSQL_STMT *
sqlvec_run(struct sqlvec *v, int kind, size_t n, const char *what,
    struct db_err *e)
{
	MYSQL_STMT	*q;

	if ((q = variant(v, kind, n, e)) == NULL)
		return NULL;
	/* Equal, so within the room: no variant has more than cap. */
	if (mysql_stmt_param_count(q) != v->np) {
		refuse(e, "%s: %lu parameters, %zu bound", what,
		    mysql_stmt_param_count(q), v->np);
		return NULL;
	}
	if (db_run(v->db, q, v->pb, what, e) == -1)
		return NULL;
	return q;
}
