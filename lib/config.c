/*
 * config.c: the settings table, the libconfig reader and the environment
 * overrides.  Validation never logs: it fills err with "where: what".
 *
 * Every setting the programs read is in settings[] below, so an unknown
 * name in the file is an error (a typo must not silently fall back to a
 * default), and the environment variable of each is derived from its name.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libconfig.h>

#include "config.h"
#include "rules.h"
#include "json.h"
#include "num.h"

enum stype { S_INT, S_STR };

struct setting {
	const char	*group;
	const char	*name;
	enum stype	 type;
	size_t		 off;
	long long	 min, max;	/* S_INT bounds; S_STR max length */
	const char	*def;		/* S_STR default */
	long long	 idef;		/* S_INT default */
	int		(*check)(struct config *, const char *, const char **);
	int		 secret;
};

static int	check_url(struct config *, const char *, const char **);
static int	check_mode(struct config *, const char *, const char **);
static int	check_defer(struct config *, const char *, const char **);
static int	check_token(struct config *, const char *, const char **);

#define I(g, n, f, d, lo, hi) \
	{ #g, #n, S_INT, offsetof(struct config, f), lo, hi, NULL, d, NULL, 0 }
#define S(g, n, f, d, max, chk, sec) \
	{ #g, #n, S_STR, offsetof(struct config, f), 0, max, d, 0, chk, sec }

static const struct setting settings[] = {
	S(owm, url, owm.url, "https://api.openweathermap.org/data/2.5", 512,
	    check_url, 0),
	S(owm, key, owm.key, "", 128, check_token, 1),
	S(owm, mode, owm.mode_name, "single", 16, check_mode, 0),
	S(owm, ca_file, owm.ca_file, "", 255, NULL, 0),
	I(owm, cities_per_minute, owm.cities_per_minute, 60, 1, 10000000),
	I(owm, cities_per_month, owm.cities_per_month, 0, 0, 1000000000000LL),
	I(owm, batch_size, owm.batch_size, 20, 1, 20),
	I(owm, margin_ms, owm.margin_ms, 1000, 0, 60000),
	I(owm, connect_timeout_ms, owm.connect_timeout_ms, 3000, 100, 60000),
	I(owm, timeout_ms, owm.timeout_ms, 10000, 100, 300000),
	I(owm, hold_ms, owm.hold_ms, 10000, 0, 300000),
	I(worker, children, worker.children, 2, 1, 64),
	I(worker, max_attempts, worker.max_attempts, 5, 1, 100),
	I(worker, give_up_seconds, worker.give_up_seconds, 86400, 60,
	    31536000),
	I(worker, reuse_seconds, worker.reuse_seconds, 600, 0, 86400),
	I(worker, lease_seconds, worker.lease_seconds, 60, 5, 3600),
	I(worker, poll_ms, worker.poll_ms, 250, 10, 10000),
	I(worker, stop_seconds, worker.stop_seconds, 30, 1, 600),
	/* 0 = keep forever; at most ten years. */
	I(retention, readings_days, retention.readings_days, 0, 0, 3650),
	I(retention, requests_days, retention.requests_days, 0, 0, 3650),
	S(http, socket, http.socket, "/run/owmcollect/fcgi.sock", 100, NULL, 0),
	S(http, socket_group, http.socket_group, "", 64, NULL, 0),
	I(http, processes, http.processes, 12, 1, 256),
	/* 0: POSTs never give way to the worker. */
	I(http, posts_while_behind, http.posts_while_behind, 1, 0, 256),
	S(http, defer, http.defer_name, "behind", 16, check_defer, 0),
	I(http, max_body, http.max_body, 65536, 1024, 1048576),
	S(http, token, http.token, "", 256, check_token, 1),
	S(mysql, host, mysql.host, "localhost", 255, NULL, 0),
	I(mysql, port, mysql.port, 3306, 1, 65535),
	S(mysql, socket, mysql.socket, "", 255, NULL, 0),
	S(mysql, user, mysql.user, "owmcollect", 80, NULL, 0),
	S(mysql, password, mysql.password, "", 256, NULL, 1),
	S(mysql, database, mysql.database, "owmcollect", 64, NULL, 0),
	I(mysql, connect_timeout, mysql.connect_timeout, 2, 1, 60),
	I(mysql, read_timeout, mysql.read_timeout, 5, 1, 600),
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static long long *
int_at(struct config *cf, const struct setting *s)
{
	return (long long *)((char *)cf + s->off);
}

static char **
str_at(struct config *cf, const struct setting *s)
{
	return (char **)((char *)cf + s->off);
}

static int
check_url(struct config *cf, const char *v, const char **why)
{
	size_t	 i;

	(void)cf;
	if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) {
		*why = "must start with http:// or https://";
		return -1;
	}
	for (i = 0; v[i]; i++)
		if ((unsigned char)v[i] <= 0x20 || v[i] == 0x7f ||
		    v[i] == '?' || v[i] == '#') {
			*why = "must be a URL without spaces, query or fragment";
			return -1;
		}
	return 0;
}

static int
check_mode(struct config *cf, const char *v, const char **why)
{
	if (strcmp(v, "single") == 0)
		cf->owm.mode = OWM_MODE_SINGLE;
	else if (strcmp(v, "group") == 0)
		cf->owm.mode = OWM_MODE_GROUP;
	else {
		*why = "must be \"single\" or \"group\"";
		return -1;
	}
	return 0;
}

static int
check_defer(struct config *cf, const char *v, const char **why)
{
	if (strcmp(v, "never") == 0)
		cf->http.defer = DEFER_NEVER;
	else if (strcmp(v, "behind") == 0)
		cf->http.defer = DEFER_BEHIND;
	else if (strcmp(v, "always") == 0)
		cf->http.defer = DEFER_ALWAYS;
	else {
		*why = "must be \"never\", \"behind\" or \"always\"";
		return -1;
	}
	return 0;
}

/* Keys and tokens travel in URLs and headers: printable ASCII only. */
static int
check_token(struct config *cf, const char *v, const char **why)
{
	size_t	 i;

	(void)cf;
	for (i = 0; v[i]; i++)
		if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7f ||
		    v[i] == '&' || v[i] == '%' || v[i] == '#' || v[i] == '+') {
			*why = "must be printable ASCII without spaces, "
			    "'&', '%', '#' or '+'";
			return -1;
		}
	return 0;
}

static int
set_str(struct config *cf, const struct setting *s, const char *v,
    const char **why)
{
	char	**dst = str_at(cf, s), *copy;

	if ((long long)strlen(v) > s->max) {
		*why = "is too long";
		return -1;
	}
	if (!utf8_valid(v, strlen(v))) {
		*why = "must be valid UTF-8";
		return -1;
	}
	if (s->check && s->check(cf, v, why) == -1)
		return -1;
	if ((copy = strdup(v)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	free(*dst);
	*dst = copy;
	return 0;
}

static int
set_int(struct config *cf, const struct setting *s, long long v, char *why,
    size_t whylen)
{
	if (v < s->min || v > s->max) {
		snprintf(why, whylen, "must be between %lld and %lld (got %lld)",
		    s->min, s->max, v);
		return -1;
	}
	*int_at(cf, s) = v;
	return 0;
}

static int
set_cities(struct config *cf, const unsigned int *ids, size_t n,
    const char **why)
{
	unsigned int	*copy, dup;

	if (cities_check(ids, n, &dup, why) == -1)
		return -1;
	if ((copy = calloc(n, sizeof(*copy))) == NULL) {
		*why = "out of memory";
		return -1;
	}
	memcpy(copy, ids, n * sizeof(*copy));
	free(cf->cities);
	cf->cities = copy;
	cf->ncities = n;
	return 0;
}

static int
defaults(struct config *cf, const char **why)
{
	const struct setting *s;

	memset(cf, 0, sizeof(*cf));
	for (s = settings; s < settings + NSETTINGS; s++) {
		if (s->type == S_INT)
			*int_at(cf, s) = s->idef;
		else if (set_str(cf, s, s->def, why) == -1)
			return -1;
	}
	return set_cities(cf, config_default_cities, config_default_ncities,
	    why);
}

static const struct setting *
find_setting(const char *group, const char *name)
{
	const struct setting *s;

	for (s = settings; s < settings + NSETTINGS; s++)
		if (strcmp(s->group, group) == 0 && strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

/* Read one libconfig value into the setting; why describes a failure. */
static int
file_value(struct config *cf, const struct setting *s, config_setting_t *v,
    char *why, size_t whylen)
{
	const char *msg = NULL;

	if (s->type == S_INT) {
		if (config_setting_type(v) != CONFIG_TYPE_INT &&
		    config_setting_type(v) != CONFIG_TYPE_INT64) {
			snprintf(why, whylen, "must be an integer");
			return -1;
		}
		return set_int(cf, s, config_setting_get_int64(v), why, whylen);
	}
	if (config_setting_type(v) != CONFIG_TYPE_STRING) {
		snprintf(why, whylen, "must be a string");
		return -1;
	}
	if (set_str(cf, s, config_setting_get_string(v), &msg) == -1) {
		snprintf(why, whylen, "%s", msg);
		return -1;
	}
	return 0;
}

static int
file_cities(struct config *cf, config_setting_t *v, char *why, size_t whylen)
{
	unsigned int	 ids[CITIES_MAX];
	const char	*msg = NULL;
	int		 i, n;

	if (!config_setting_is_aggregate(v) || config_setting_is_group(v)) {
		snprintf(why, whylen, "cities must be a list of city ids");
		return -1;
	}
	n = config_setting_length(v);
	if (n > CITIES_MAX) {
		snprintf(why, whylen, CITIES_WHY_COUNT);
		return -1;
	}
	for (i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(v, i);
		long long id;

		if (config_setting_type(e) != CONFIG_TYPE_INT &&
		    config_setting_type(e) != CONFIG_TYPE_INT64) {
			snprintf(why, whylen, "cities must hold integer city ids");
			return -1;
		}
		id = config_setting_get_int64(e);
		if (id < 1 || id > UINT32_MAX) {
			snprintf(why, whylen, "cities: city id %lld is out of "
			    "range", id);
			return -1;
		}
		ids[i] = (unsigned int)id;
	}
	if (set_cities(cf, ids, n, &msg) == -1) {
		snprintf(why, whylen, "%s", msg);
		return -1;
	}
	return 0;
}

#define CONFIG_FILE_MAX	(1024 * 1024)

/* Read a whole regular file; NULL with err filled on failure. */
static char *
slurp(const char *file, char *err, size_t errlen)
{
	struct stat	 st;
	FILE		*fp;
	char		*text;
	size_t		 n;

	if ((fp = fopen(file, "re")) == NULL) {
		snprintf(err, errlen, "%s: cannot read: %s", file,
		    strerror(errno));
		return NULL;
	}
	if (fstat(fileno(fp), &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > CONFIG_FILE_MAX) {
		snprintf(err, errlen, "%s: cannot read: %s", file,
		    S_ISDIR(st.st_mode) ? "is a directory" :
		    !S_ISREG(st.st_mode) ? "not a regular file" :
		    "larger than 1 MiB");
		fclose(fp);
		return NULL;
	}
	if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", file);
		fclose(fp);
		return NULL;
	}
	n = fread(text, 1, (size_t)st.st_size, fp);
	if (ferror(fp)) {
		snprintf(err, errlen, "%s: cannot read: %s", file,
		    strerror(errno));
		fclose(fp);
		free(text);
		return NULL;
	}
	fclose(fp);
	text[n] = '\0';
	return text;
}

/*
 * libconfig 1.5 silently truncates an integer literal without an "L"
 * suffix to 32 bits (4294967297 reads as 1), so refuse such literals
 * before it sees them.  Skips strings and comments; returns the line of
 * the first offender, or 0.
 */
static unsigned
wide_int_line(const char *p)
{
	unsigned	 line = 1;

	for (; *p; p++) {
		if (*p == '\n')
			line++;
		else if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				else if (*p == '\n')
					line++;
			}
			if (*p == '\0')
				break;
		} else if (*p == '#' || (*p == '/' && p[1] == '/')) {
			while (p[1] && p[1] != '\n')
				p++;
		} else if (*p == '/' && p[1] == '*') {
			for (p += 2; *p && !(*p == '*' && p[1] == '/'); p++)
				if (*p == '\n')
					line++;
			if (*p == '\0')
				break;
			p++;
		} else if (isdigit((unsigned char)*p)) {
			char	*end;
			unsigned long long v;

			errno = 0;
			v = strtoull(p, &end, 0);
			if (*end != 'L' && *end != '.' && *end != 'e' &&
			    *end != 'E' && (errno == ERANGE || v > INT32_MAX))
				return line;
			p = end - 1;
			while (isalnum((unsigned char)p[1]) || p[1] == '.')
				p++;
		} else if (isalpha((unsigned char)*p) || *p == '_') {
			while (isalnum((unsigned char)p[1]) || p[1] == '_' ||
			    p[1] == '-')
				p++;
		}
	}
	return 0;
}

static int
known_group(const char *group)
{
	const struct setting *s;

	for (s = settings; s < settings + NSETTINGS; s++)
		if (strcmp(s->group, group) == 0)
			return 1;
	return 0;
}

/* One group of the file (mysql { ... }); -1 with err "file:line: ...". */
static int
file_group(struct config *cf, config_setting_t *g, const char *file,
    char *err, size_t errlen)
{
	const struct setting *s;
	config_setting_t *v;
	char		 why[160];
	int		 j;

	for (j = 0; j < config_setting_length(g); j++) {
		v = config_setting_get_elem(g, j);
		s = find_setting(config_setting_name(g), config_setting_name(v));
		if (s == NULL) {
			snprintf(err, errlen, "%s:%u: unknown setting %s.%s",
			    file, config_setting_source_line(v),
			    config_setting_name(g), config_setting_name(v));
			return -1;
		}
		if (file_value(cf, s, v, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s:%u: %s.%s %s", file,
			    config_setting_source_line(v), s->group, s->name,
			    why);
			return -1;
		}
	}
	return 0;
}

/* The file's top level: the city list and the known groups. */
static int
file_settings(struct config *cf, config_setting_t *root, const char *file,
    char *err, size_t errlen)
{
	config_setting_t *g;
	char		 why[160];
	int		 i;

	for (i = 0; i < config_setting_length(root); i++) {
		g = config_setting_get_elem(root, i);
		if (strcmp(config_setting_name(g), "cities") == 0) {
			if (file_cities(cf, g, why, sizeof(why)) == -1)
				goto bad;
		} else if (!config_setting_is_group(g) ||
		    !known_group(config_setting_name(g))) {
			snprintf(why, sizeof(why), "unknown setting %s",
			    config_setting_name(g));
			goto bad;
		} else if (file_group(cf, g, file, err, errlen) == -1)
			return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "%s:%u: %s", file, config_setting_source_line(g),
	    why);
	return -1;
}

static int
load_file(struct config *cf, const char *file, char *err, size_t errlen)
{
	config_t	 lc;
	char		*text;
	unsigned	 wide;
	int		 rc = -1;

	if ((text = slurp(file, err, errlen)) == NULL)
		return -1;
	if ((wide = wide_int_line(text)) != 0) {
		snprintf(err, errlen, "%s:%u: integer too large (write numbers "
		    "over 2147483647 with an L suffix, e.g. 5000000000L)",
		    file, wide);
		free(text);
		return -1;
	}
	config_init(&lc);
	if (!config_read_string(&lc, text))
		snprintf(err, errlen, "%s:%d: %s", file, config_error_line(&lc),
		    config_error_text(&lc));
	else
		rc = file_settings(cf, config_root_setting(&lc), file, err,
		    errlen);
	config_destroy(&lc);
	free(text);
	return rc;
}

/* "owm", "cities_per_minute" -> "OWMCOLLECT_OWM_CITIES_PER_MINUTE" */
static void
env_name(char *dst, size_t len, const char *group, const char *name)
{
	size_t	 i;

	if (group[0])
		snprintf(dst, len, "OWMCOLLECT_%s_%s", group, name);
	else
		snprintf(dst, len, "OWMCOLLECT_%s", name);
	for (i = 0; dst[i]; i++)
		dst[i] = (char)toupper((unsigned char)dst[i]);
}

static int
env_cities(struct config *cf, const char *v, const char **why)
{
	unsigned int	 ids[CITIES_MAX];
	size_t		 n = 0;
	const char	*p = v, *comma;
	uint64_t	 id;

	for (;;) {
		comma = strchr(p, ',');
		if (n == CITIES_MAX) {
			*why = CITIES_WHY_COUNT;
			return -1;
		}
		if (num_parse_u64(p, comma ? (size_t)(comma - p) : strlen(p),
		    UINT32_MAX, &id) == -1) {
			*why = "cities must be a comma-separated list of ids";
			return -1;
		}
		ids[n++] = (unsigned int)id;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return set_cities(cf, ids, n, why);
}

static int
load_env(struct config *cf, char *err, size_t errlen)
{
	const struct setting *s;
	const char	*v, *msg = NULL;
	char		 name[96], why[160];
	uint64_t	 u;

	if ((v = getenv("OWMCOLLECT_CITIES")) != NULL &&
	    env_cities(cf, v, &msg) == -1) {
		snprintf(err, errlen, "OWMCOLLECT_CITIES: %s", msg);
		return -1;
	}
	for (s = settings; s < settings + NSETTINGS; s++) {
		env_name(name, sizeof(name), s->group, s->name);
		if ((v = getenv(name)) == NULL)
			continue;
		if (s->type == S_STR) {
			if (set_str(cf, s, v, &msg) == -1) {
				snprintf(err, errlen, "%s: %s", name, msg);
				return -1;
			}
			continue;
		}
		if (num_parse_u64(v, strlen(v), INT64_MAX, &u) == -1) {
			snprintf(err, errlen, "%s: must be a non-negative "
			    "integer", name);
			return -1;
		}
		if (set_int(cf, s, (long long)u, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s: %s", name, why);
			return -1;
		}
	}
	return 0;
}

/* Rules between settings, checked once everything is in. */
static int
cross_check(struct config *cf, char *err, size_t errlen)
{
	if (cf->worker.lease_seconds * 1000 <= cf->owm.timeout_ms * 2) {
		snprintf(err, errlen, "%s: worker.lease_seconds (%lld) must be "
		    "longer than twice owm.timeout_ms (%lld ms)",
		    cf->file ? cf->file : "config", cf->worker.lease_seconds,
		    cf->owm.timeout_ms);
		return -1;
	}
	if (cf->owm.connect_timeout_ms > cf->owm.timeout_ms) {
		snprintf(err, errlen, "%s: owm.connect_timeout_ms must not "
		    "exceed owm.timeout_ms", cf->file ? cf->file : "config");
		return -1;
	}
	return 0;
}

static void
secrets_check(struct config *cf, const char *file, char *warn,
    size_t warnlen)
{
	struct stat	 st;

	if (warn == NULL || warnlen == 0)
		return;
	warn[0] = '\0';
	if (stat(file, &st) == -1 || (st.st_mode & S_IROTH) == 0)
		return;
	/* Only a secret that came from the file itself matters here. */
	if (cf->owm.key[0] || cf->mysql.password[0] || cf->http.token[0])
		snprintf(warn, warnlen, "%s is readable by everyone; it should "
		    "be mode 0600 (or 0640) if it holds a key, password or "
		    "token", file);
}

int
config_load(struct config *cf, const char *file, char *err, size_t errlen,
    char *warn, size_t warnlen)
{
	const char	*msg = NULL;

	if (warn && warnlen)
		warn[0] = '\0';
	if (defaults(cf, &msg) == -1) {
		snprintf(err, errlen, "defaults: %s", msg);
		goto fail;
	}
	if (file != NULL) {
		if ((cf->file = strdup(file)) == NULL) {
			snprintf(err, errlen, "%s: out of memory", file);
			goto fail;
		}
		if (load_file(cf, file, err, errlen) == -1)
			goto fail;
		secrets_check(cf, file, warn, warnlen);
	}
	if (load_env(cf, err, errlen) == -1 ||
	    cross_check(cf, err, errlen) == -1)
		goto fail;
	return 0;
fail:
	config_free(cf);
	return -1;
}

void
config_free(struct config *cf)
{
	const struct setting *s;

	for (s = settings; s < settings + NSETTINGS; s++)
		if (s->type == S_STR) {
			char **p = str_at(cf, s);

			if (*p && s->secret)
				explicit_bzero(*p, strlen(*p));
			free(*p);
			*p = NULL;
		}
	free(cf->cities);
	free(cf->file);
	memset(cf, 0, sizeof(*cf));
}

void
config_dump(const struct config *cf, FILE *fp)
{
	const struct setting *s;

	if (cf->file)
		fprintf(fp, "# %s\n", cf->file);
	for (s = settings; s < settings + NSETTINGS; s++) {
		fprintf(fp, "%s.%s = ", s->group, s->name);
		if (s->type == S_INT)
			fprintf(fp, "%lld\n",
			    *int_at((struct config *)cf, s));
		else if (s->secret)
			fprintf(fp, "%s\n", (*str_at((struct config *)cf, s))[0]
			    ? "(set)" : "(empty)");
		else {
			const char *v = *str_at((struct config *)cf, s);

			fputc('"', fp);
			for (; *v; v++) {
				if (*v == '"' || *v == '\\')
					fputc('\\', fp);
				fputc(*v, fp);
			}
			fputs("\"\n", fp);
		}
	}
	fprintf(fp, "cities = %zu ids\n", cf->ncities);
}
