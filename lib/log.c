/*
 * log.c: level-prefixed lines on stderr (after OpenBSD relayd's log.c).
 *
 * log_warn and fatal append strerror(errno); the "x" variants do not.
 * Each line is formatted into one buffer and written with one write(2), so
 * lines from preforked processes sharing stderr never interleave.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char	*log_prog = "owmcollect";
static int		 log_verbose;

void
log_init(const char *prog, int verbose)
{
	log_prog = prog;
	log_verbose = verbose;
}

static void
vlog(int pri, int with_errno, const char *fmt, va_list ap)
{
	char	 line[2048];
	int	 saved = errno, n, m;

	n = snprintf(line, sizeof(line), "<%d>%s[%ld]: ", pri, log_prog,
	    (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (m < 0)
		return;
	n = (size_t)(n + m) >= sizeof(line) - 2 ? (int)sizeof(line) - 2 : n + m;
	if (with_errno) {
		m = snprintf(line + n, sizeof(line) - n, ": %s", strerror(saved));
		if (m > 0)
			n = (size_t)(n + m) >= sizeof(line) - 2 ?
			    (int)sizeof(line) - 2 : n + m;
	}
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
	errno = saved;
}

#define LOGFN(name, pri, witherr, cond)				\
void								\
name(const char *fmt, ...)					\
{								\
	va_list	ap;						\
								\
	if (!(cond))						\
		return;						\
	va_start(ap, fmt);					\
	vlog(pri, witherr, fmt, ap);				\
	va_end(ap);						\
}

LOGFN(log_debug, 7, 0, log_verbose)
LOGFN(log_info, 6, 0, 1)
LOGFN(log_notice, 5, 0, 1)
LOGFN(log_warnx, 4, 0, 1)
LOGFN(log_warn, 4, 1, 1)
LOGFN(log_errx, 3, 0, 1)

void
fatalx(int code, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(2, 0, fmt, ap);
	va_end(ap);
	exit(code);
}

void
fatal(int code, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog(2, 1, fmt, ap);
	va_end(ap);
	exit(code);
}
