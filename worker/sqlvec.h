/*
 * sqlvec.h: statements over a list of n values (IN lists, multi-row
 * inserts), written once as a template and prepared per n, 1..nmax, when
 * first needed.
 *
 * Templates: "?*" stands for n placeholders ("?, ?, ?"), "[...]" for a
 * part written n times (joined by ", " when the part opens with '(', else
 * by " "); nothing else is special.
 *
 * A struct sqlvec is one module's templates on one connection: the
 * prepared variants and one parameter list, room for the longest variant
 * (counted from the templates when opened).  sqlvec_params starts the
 * list, sqlvec_i64/str/null append to it (integers are copied, a string's
 * bytes must live until the run), sqlvec_run checks the list against the
 * variant's placeholders, binds and executes.  sqlvec_close frees it all;
 * call it when the connection goes.  Errors fill a struct db_err.
 */
#ifndef OWM_SQLVEC_H
#define OWM_SQLVEC_H

#include <stddef.h>

#include <mysql.h>

#include "db.h"

struct buf;

struct sqlvec {
	const char *const *tmpl;	/* [kinds] */
	int		 kinds;
	size_t		 nmax;		/* lists of 1..nmax values */
	/* sqlvec_open sets these, sqlvec_close clears them */
	MYSQL		*db;
	MYSQL_STMT	**st;		/* [kind * (nmax + 1) + n] */
	MYSQL_BIND	*pb;		/* the parameter list, cap long */
	long long	*pv;
	unsigned long	*plen;
	size_t		 cap, np;
};
#define SQLVEC(tmpl, nmax)	{ (tmpl), \
			    (int)(sizeof(tmpl) / sizeof((tmpl)[0])), (nmax), \
			    NULL, NULL, NULL, NULL, NULL, 0, 0 }

/* The SQL of template for n values into b: 0, or -1 (no memory). */
int		 sqlvec_sql(const char *tmpl, size_t n, struct buf *b);

int		 sqlvec_open(struct sqlvec *, MYSQL *, struct db_err *);
void		 sqlvec_close(struct sqlvec *);

/* Start a parameter list; the others append to it. */
void		 sqlvec_params(struct sqlvec *);
void		 sqlvec_i64(struct sqlvec *, long long);
void		 sqlvec_str(struct sqlvec *, const char *);
void		 sqlvec_null(struct sqlvec *);
/*
 * Run the variant of kind for n (prepared now if it is the first time)
 * with the list: the statement (its results, affected rows, insert id
 * the caller's to read), or NULL with e filled.
 */
MYSQL_STMT	*sqlvec_run(struct sqlvec *, int kind, size_t n,
		    const char *what, struct db_err *e);

#endif
