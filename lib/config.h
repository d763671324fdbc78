/*
 * config.h: owmcollect's settings, shared by every program.
 *
 * One table (config.c) names each setting, its type, default and bounds.
 * config_load() applies, in order: the defaults, the libconfig file, then
 * the environment (OWMCOLLECT_<GROUP>_<NAME>, e.g. OWMCOLLECT_OWM_KEY), and
 * validates the result.  An error is reported as "file:line: what is wrong"
 * (or "OWMCOLLECT_X: what is wrong"); programs exit 2 on it.
 */
#ifndef OWM_CONFIG_H
#define OWM_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#define OWM_MODE_SINGLE	0
#define OWM_MODE_GROUP	1

/* http.defer: when a POST leaves its cities to the worker's resolver. */
#define DEFER_NEVER	0
#define DEFER_BEHIND	1	/* while the worker says it is behind */
#define DEFER_ALWAYS	2


struct config {
	char		*file;

	struct {
		char		*url;
		char		*key;
		char		*mode_name;
		char		*ca_file;	/* "": the system's CA bundle */
		int		 mode;		/* OWM_MODE_* */
		long long	 cities_per_minute;
		long long	 cities_per_month;
		long long	 batch_size;
		long long	 margin_ms;
		long long	 connect_timeout_ms;
		long long	 timeout_ms;
		long long	 hold_ms;	/* a request sent may be read
						 * this late (worker/gate_db.c) */
	} owm;

	struct {
		long long	 children;
		long long	 max_attempts;
		long long	 give_up_seconds;
		long long	 reuse_seconds;
		long long	 lease_seconds;
		long long	 poll_ms;
		long long	 stop_seconds;
	} worker;

	/* Retention (worker/purge.c): rows older than this many days are
	 * purged; 0 = kept forever. */
	struct {
		long long	 readings_days;
		long long	 requests_days;
	} retention;

	struct {
		char		*socket;
		char		*socket_group;
		long long	 processes;
		long long	 posts_while_behind;
		char		*defer_name;
		int		 defer;		/* DEFER_* */
		long long	 max_body;
		char		*token;
	} http;

	struct {
		char		*host;
		long long	 port;
		char		*socket;
		char		*user;
		char		*password;
		char		*database;
		long long	 connect_timeout;
		long long	 read_timeout;
	} mysql;

	unsigned int	*cities;
	size_t		 ncities;
};

/*
 * Load file (NULL: defaults and environment only).  On error returns -1
 * with a message in err; cf is then freed.  Warnings (e.g. a secret in a
 * world-readable file) go to warn, which may be NULL.
 */
int	config_load(struct config *cf, const char *file, char *err,
	    size_t errlen, char *warn, size_t warnlen);
void	config_free(struct config *);

/* The default city list, compiled in from etc/cities.txt. */
extern const unsigned int config_default_cities[];
extern const size_t config_default_ncities;

/* Print the effective settings for -t; secrets appear only as set/empty. */
void	config_dump(const struct config *, FILE *);

#endif
