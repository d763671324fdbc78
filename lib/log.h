/*
 * log.h: the one logging module of owmcollect's programs.
 *
 * Lines go to stderr with the syslog level prefix journald understands
 * ("<3>" .. "<7>") and "prog[pid]: ".  Library-level code never logs: it
 * returns an error code and fills a buffer, and its caller logs once.
 * Nothing logged may contain the API key or a password.
 */
#ifndef OWM_LOG_H
#define OWM_LOG_H

#include <stdarg.h>

void	log_init(const char *prog, int verbose);
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_errx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatalx(int, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));
void	fatal(int, const char *, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

#endif
