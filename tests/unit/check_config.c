/*
 * check_config.c: unit tests for lib/config.c: defaults, the libconfig
 * file (one temporary file per case), environment overrides, the
 * cross-setting rules, the world-readable-secret warning and config_dump.
 *
 * The table cases name themselves in every failure message.  An expected
 * error substring may hold "@", which stands for the case's file name, so
 * "@:3: owm.batch_size" checks the "file:line:" prefix.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_run.h"

#include "config.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define MAXENV		4
#define MAXDUMP		4

extern char **environ;

/* Remove every OWMCOLLECT_* variable, so cases do not leak into others. */
static void
clear_env(void)
{
	char	 name[256];
	int	 again = 1;

	while (again) {
		char **e;

		again = 0;
		for (e = environ; e && *e; e++) {
			const char *eq = strchr(*e, '=');
			size_t	 n = eq ? (size_t)(eq - *e) : strlen(*e);

			if (strncmp(*e, "OWMCOLLECT_", 11) != 0 ||
			    n >= sizeof(name))
				continue;
			memcpy(name, *e, n);
			name[n] = '\0';
			unsetenv(name);
			again = 1;
			break;
		}
	}
}

static void
set_env(const char *const *env)
{
	int	 i;

	for (i = 0; i < MAXENV && env[i]; i++) {
		char	 name[256];
		const char *eq = strchr(env[i], '=');

		ck_assert_msg(eq != NULL && (size_t)(eq - env[i]) < sizeof(name),
		    "bad env spec %s", env[i]);
		memcpy(name, env[i], (size_t)(eq - env[i]));
		name[eq - env[i]] = '\0';
		ck_assert_int_eq(setenv(name, eq + 1, 1), 0);
	}
}

/* Write text to a fresh temporary file with the given mode. */
static void
temp_conf(char *path, size_t len, const char *text, mode_t mode)
{
	int	 fd;
	size_t	 n = strlen(text);

	snprintf(path, len, "/tmp/check_config.XXXXXX");
	fd = mkstemp(path);
	ck_assert_msg(fd != -1, "mkstemp failed");
	ck_assert_msg(write(fd, text, n) == (ssize_t)n, "write %s", path);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

/* Replace each "@" in pat by file. */
static void
expand(char *dst, size_t len, const char *pat, const char *file)
{
	size_t	 k = 0;

	for (; *pat && k + 1 < len; pat++) {
		if (*pat == '@') {
			k += (size_t)snprintf(dst + k, len - k, "%s", file);
			if (k >= len)
				k = len - 1;
		} else
			dst[k++] = *pat;
	}
	dst[k] = '\0';
}

static char *
dump_to_string(const struct config *cf)
{
	char	*s = NULL;
	size_t	 n = 0;
	FILE	*fp = open_memstream(&s, &n);

	ck_assert_ptr_nonnull(fp);
	config_dump(cf, fp);
	fclose(fp);
	return s;
}

/* The dump line with the same "name = " as want, for failure messages. */
static const char *
dump_line(const char *dump, const char *want)
{
	static char line[256];
	const char *eq = strstr(want, " = "), *p = dump;
	size_t	 klen = eq ? (size_t)(eq - want) + 3 : strlen(want);

	while (p && *p) {
		if (strncmp(p, want, klen) == 0) {
			snprintf(line, sizeof(line), "%.*s",
			    (int)strcspn(p, "\n"), p);
			return line;
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	return "(no such line)";
}

/* ---- defaults ------------------------------------------------------ */

static const struct {
	const char	*name;
	const char	*dump;		/* a line config_dump must print */
} default_cases[] = {
	{ "owm.url", "owm.url = \"https://api.openweathermap.org/data/2.5\"\n" },
	{ "owm.key empty", "owm.key = (empty)\n" },
	{ "owm.mode", "owm.mode = \"single\"\n" },
	{ "owm.cities_per_minute", "owm.cities_per_minute = 60\n" },
	{ "owm.cities_per_month", "owm.cities_per_month = 0\n" },
	{ "owm.batch_size", "owm.batch_size = 20\n" },
	{ "worker.children", "worker.children = 2\n" },
	{ "worker.max_attempts", "worker.max_attempts = 5\n" },
	{ "worker.reuse_seconds", "worker.reuse_seconds = 600\n" },
	{ "http.token empty", "http.token = (empty)\n" },
	{ "cities", "cities = 167 ids\n" },
};

START_TEST(test_defaults)
{
	struct config cf;
	char	 err[512] = "", warn[512] = "x";
	char	*dump;

	clear_env();
	ck_assert_msg(config_load(&cf, NULL, err, sizeof(err), warn,
	    sizeof(warn)) == 0, "defaults case \"%s\": load failed: %s",
	    default_cases[_i].name, err);
	ck_assert_msg(warn[0] == '\0', "defaults case \"%s\": warning \"%s\"",
	    default_cases[_i].name, warn);
	dump = dump_to_string(&cf);
	ck_assert_msg(strstr(dump, default_cases[_i].dump) != NULL,
	    "defaults case \"%s\": dump lacks \"%.*s\", has \"%s\"",
	    default_cases[_i].name,
	    (int)strcspn(default_cases[_i].dump, "\n"),
	    default_cases[_i].dump, dump_line(dump, default_cases[_i].dump));
	free(dump);
	config_free(&cf);
}
END_TEST

/* http.defer: each word its mode; anything else an error naming them. */
static const struct {
	const char	*value;
	int		 defer;		/* -1: an error */
} defer_cases[] = {
	{ "never", DEFER_NEVER },
	{ "behind", DEFER_BEHIND },
	{ "always", DEFER_ALWAYS },
	{ "Behind", -1 },
	{ "", -1 },
	{ "sometimes", -1 },
};

START_TEST(test_defer)
{
	struct config cf;
	char	 err[512] = "";
	int	 rc;

	clear_env();
	ck_assert_int_eq(setenv("OWMCOLLECT_HTTP_DEFER", defer_cases[_i].value,
	    1), 0);
	rc = config_load(&cf, NULL, err, sizeof(err), NULL, 0);
	unsetenv("OWMCOLLECT_HTTP_DEFER");
	if (defer_cases[_i].defer == -1) {
		ck_assert_msg(rc == -1, "defer \"%s\" loaded",
		    defer_cases[_i].value);
		ck_assert_msg(strstr(err, "OWMCOLLECT_HTTP_DEFER: must be "
		    "\"never\", \"behind\" or \"always\"") != NULL,
		    "defer \"%s\": error \"%s\"", defer_cases[_i].value, err);
		return;
	}
	ck_assert_msg(rc == 0, "defer \"%s\": %s", defer_cases[_i].value, err);
	ck_assert_int_eq(cf.http.defer, defer_cases[_i].defer);
	config_free(&cf);
}
END_TEST

START_TEST(test_defaults_struct)
{
	struct config cf;
	char	 err[512] = "";
	size_t	 i;

	clear_env();
	ck_assert_msg(config_load(&cf, NULL, err, sizeof(err), NULL, 0) == 0,
	    "defaults: %s", err);
	ck_assert_msg(cf.file == NULL, "defaults: file set");
	ck_assert_int_eq(cf.owm.batch_size, 20);
	ck_assert_int_eq(cf.owm.mode, OWM_MODE_SINGLE);
	ck_assert_str_eq(cf.owm.mode_name, "single");
	ck_assert_int_eq(cf.http.defer, DEFER_BEHIND);
	ck_assert_str_eq(cf.owm.key, "");
	ck_assert_str_eq(cf.http.token, "");
	ck_assert_int_eq(cf.owm.cities_per_minute, 60);
	ck_assert_int_eq(cf.worker.children, 2);
	ck_assert_uint_eq(cf.ncities, 167);
	ck_assert_uint_eq(config_default_ncities, 167);
	for (i = 0; i < cf.ncities; i++)
		ck_assert_msg(cf.cities[i] == config_default_cities[i] &&
		    cf.cities[i] != 0, "defaults: city %zu is %u", i,
		    cf.cities[i]);
	config_free(&cf);
	ck_assert_msg(cf.cities == NULL && cf.owm.key == NULL,
	    "config_free did not clear");
}
END_TEST

/* The shipped etc/owmcollect.conf loads cleanly. */
START_TEST(test_shipped_conf)
{
	static const char *const paths[] = { "etc/owmcollect.conf",
	    "../etc/owmcollect.conf", "../../etc/owmcollect.conf" };
	struct config cf;
	char	 err[512] = "";
	size_t	 i;

	clear_env();
	for (i = 0; i < NELEM(paths); i++)
		if (access(paths[i], R_OK) == 0)
			break;
	ck_assert_msg(i < NELEM(paths),
	    "etc/owmcollect.conf not found (run from the repository root)");
	ck_assert_msg(config_load(&cf, paths[i], err, sizeof(err), NULL,
	    0) == 0, "shipped config: %s", err);
	ck_assert_int_eq(cf.owm.batch_size, 20);
	ck_assert_uint_eq(cf.ncities, 167);
	config_free(&cf);
}
END_TEST

/* ---- table of files and environments -------------------------------- */

struct file_case {
	const char	*name;
	const char	*text;			/* NULL: no file */
	const char	*env[MAXENV];		/* "NAME=value" */
	int		 ok;			/* 1 ok, 0 error, 2 either */
	const char	*err;			/* substring, "@" = file */
	const char	*dump[MAXDUMP];		/* lines the dump must hold */
	int		 mode;			/* -1: not checked */
};

#define GRP(body)	"owm:\n{\n" body "};\n"

static const struct file_case file_cases[] = {
	/* int bounds, each on line 3 */
	{ "batch_size 0", GRP("  batch_size = 0;\n"), { NULL }, 0,
	    "@:3: owm.batch_size must be between 1 and 20", { NULL }, -1 },
	{ "batch_size 1", GRP("  batch_size = 1;\n"), { NULL }, 1, NULL,
	    { "owm.batch_size = 1\n" }, -1 },
	{ "batch_size 20", GRP("  batch_size = 20;\n"), { NULL }, 1, NULL,
	    { "owm.batch_size = 20\n" }, -1 },
	{ "batch_size 21", GRP("  batch_size = 21;\n"), { NULL }, 0,
	    "@:3: owm.batch_size must be between 1 and 20 (got 21)",
	    { NULL }, -1 },
	{ "batch_size -1", GRP("  batch_size = -1;\n"), { NULL }, 0,
	    "@:3: owm.batch_size", { NULL }, -1 },
	{ "cities_per_minute 0", GRP("  cities_per_minute = 0;\n"), { NULL },
	    0, "@:3: owm.cities_per_minute must be between 1", { NULL }, -1 },
	{ "cities_per_minute 1", GRP("  cities_per_minute = 1;\n"), { NULL },
	    1, NULL, { "owm.cities_per_minute = 1\n" }, -1 },
	{ "cities_per_minute 600", GRP("  cities_per_minute = 600;\n"),
	    { NULL }, 1, NULL, { "owm.cities_per_minute = 600\n" }, -1 },
	{ "children 0", "worker:\n{\n  children = 0;\n};\n", { NULL }, 0,
	    "@:3: worker.children must be between 1 and 64", { NULL }, -1 },
	{ "children 64", "worker:\n{\n  children = 64;\n};\n", { NULL }, 1,
	    NULL, { "worker.children = 64\n" }, -1 },
	{ "children 65", "worker:\n{\n  children = 65;\n};\n", { NULL }, 0,
	    "@:3: worker.children must be between 1 and 64 (got 65)",
	    { NULL }, -1 },
	{ "int64 suffix", GRP("  cities_per_month = 5000000000L;\n"),
	    { NULL }, 1, NULL, { "owm.cities_per_month = 5000000000\n" }, -1 },
	/* Values past 32 bits must not wrap into range (libconfig 1.5
	 * truncates decimal literals without the L suffix). */
	{ "cities_per_month 5000000000 no suffix",
	    GRP("  cities_per_month = 5000000000;\n"), { NULL }, 2,
	    "@:3: integer too large",
	    { "owm.cities_per_month = 5000000000\n" }, -1 },
	{ "cities_per_minute 2^32+60 must not wrap to 60",
	    GRP("  cities_per_minute = 4294967356;\n"), { NULL }, 0,
	    "@:3: integer too large", { "owm.cities_per_minute = " }, -1 },
	{ "batch_size 2^32+1 must not wrap to 1",
	    GRP("  batch_size = 4294967297;\n"), { NULL }, 0,
	    "@:3: integer too large", { "owm.batch_size = " }, -1 },
	{ "city id 2^32+1 must not wrap to 1", "\ncities = [4294967297];\n",
	    { NULL }, 0, "@:2:", { "cities = " }, -1 },
	/* types */
	{ "string for int", GRP("  batch_size = \"20\";\n"), { NULL }, 0,
	    "@:3: owm.batch_size must be an integer", { NULL }, -1 },
	{ "float for int", GRP("  batch_size = 20.0;\n"), { NULL }, 0,
	    "@:3: owm.batch_size must be an integer", { NULL }, -1 },
	{ "bool for int", GRP("  batch_size = true;\n"), { NULL }, 0,
	    "@:3: owm.batch_size must be an integer", { NULL }, -1 },
	{ "int for string", GRP("  url = 5;\n"), { NULL }, 0,
	    "@:3: owm.url must be a string", { NULL }, -1 },
	/* unknown names */
	{ "unknown setting", GRP("  batch_size = 5;\n  bach_size = 5;\n"),
	    { NULL }, 0, "@:4: unknown setting owm.bach_size", { NULL }, -1 },
	{ "unknown group", "\n\nown:\n{\n  key = \"k\";\n};\n", { NULL }, 0,
	    "@:3: unknown setting own", { NULL }, -1 },
	{ "unknown empty group", "\n\nmysq:\n{\n};\n", { NULL }, 0,
	    "@:3:", { NULL }, -1 },
	{ "unknown top-level scalar", "\nbatch_size = 3;\n", { NULL }, 0,
	    "@:2: unknown setting batch_size", { NULL }, -1 },
	{ "setting of another group", GRP("  children = 3;\n"), { NULL }, 0,
	    "@:3: unknown setting owm.children", { NULL }, -1 },
	/* syntax */
	{ "syntax error", GRP("  batch_size = 5;\n  mode = ;\n"), { NULL },
	    0, "@:4: syntax error", { NULL }, -1 },
	{ "unclosed group", "owm:\n{\n  batch_size = 5;\n", { NULL }, 0,
	    "@:", { NULL }, -1 },
	{ "duplicate setting",
	    GRP("  batch_size = 1;\n  batch_size = 2;\n"), { NULL }, 0,
	    "@:4:", { NULL }, -1 },
	/* strings */
	{ "mode group", GRP("  mode = \"group\";\n"), { NULL }, 1, NULL,
	    { "owm.mode = \"group\"\n" }, OWM_MODE_GROUP },
	{ "mode single", GRP("  mode = \"single\";\n"), { NULL }, 1, NULL,
	    { "owm.mode = \"single\"\n" }, OWM_MODE_SINGLE },
	{ "bad mode", GRP("  mode = \"batch\";\n"), { NULL }, 0,
	    "@:3: owm.mode must be \"single\" or \"group\"", { NULL }, -1 },
	{ "mode wrong case", GRP("  mode = \"Group\";\n"), { NULL }, 0,
	    "@:3: owm.mode", { NULL }, -1 },
	{ "url http", GRP("  url = \"http://127.0.0.1:9000/data/2.5\";\n"),
	    { NULL }, 1, NULL,
	    { "owm.url = \"http://127.0.0.1:9000/data/2.5\"\n" }, -1 },
	{ "bad url scheme", GRP("  url = \"ftp://example.com\";\n"),
	    { NULL }, 0, "@:3: owm.url must start with http:// or https://",
	    { NULL }, -1 },
	{ "bad url space", GRP("  url = \"http://a b\";\n"), { NULL }, 0,
	    "@:3: owm.url", { NULL }, -1 },
	{ "bad url query", GRP("  url = \"http://a/?x=1\";\n"), { NULL }, 0,
	    "@:3: owm.url", { NULL }, -1 },
	{ "empty url", GRP("  url = \"\";\n"), { NULL }, 0, "@:3: owm.url",
	    { NULL }, -1 },
	{ "key with a space", GRP("  key = \"abc def\";\n"), { NULL }, 0,
	    "@:3: owm.key must be printable ASCII", { NULL }, -1 },
	{ "key with &", GRP("  key = \"abc&def\";\n"), { NULL }, 0,
	    "@:3: owm.key", { NULL }, -1 },
	{ "key too long", GRP("  key = \""
	    "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789"
	    "0123456789\";\n"), { NULL }, 0, "@:3: owm.key is too long",
	    { NULL }, -1 },
	{ "key ok", GRP("  key = \"0123abcdef\";\n"), { NULL }, 1, NULL,
	    { "owm.key = (set)\n" }, -1 },
	/* cities */
	{ "cities ok", "\n\ncities = [ 3439525, 3439781, 1 ];\n", { NULL }, 1,
	    NULL, { "cities = 3 ids\n" }, -1 },
	{ "cities list form", "cities = ( 5, 6 );\n", { NULL }, 1, NULL,
	    { "cities = 2 ids\n" }, -1 },
	{ "cities max id", "cities = [ 4294967295L ];\n", { NULL }, 1, NULL,
	    { "cities = 1 ids\n" }, -1 },
	{ "cities empty", "\n\ncities = [ ];\n", { NULL }, 0,
	    "@:3: cities must hold 1 to 1000 city ids", { NULL }, -1 },
	{ "cities duplicate", "\ncities = [ 1, 2, 1 ];\n", { NULL }, 0,
	    "@:2: cities must not repeat a city id", { NULL }, -1 },
	{ "cities zero", "\ncities = [ 1, 0 ];\n", { NULL }, 0,
	    "@:2: cities: city id 0 is out of range", { NULL }, -1 },
	{ "cities negative", "\ncities = [ -5 ];\n", { NULL }, 0,
	    "@:2: cities: city id -5 is out of range", { NULL }, -1 },
	{ "cities non-integer", "\ncities = ( 1, \"2\" );\n", { NULL }, 0,
	    "@:2: cities must hold integer city ids", { NULL }, -1 },
	{ "cities float", "\ncities = ( 1.5 );\n", { NULL }, 0,
	    "@:2: cities must hold integer city ids", { NULL }, -1 },
	{ "cities scalar", "\ncities = 5;\n", { NULL }, 0,
	    "@:2: cities must be a list of city ids", { NULL }, -1 },
	{ "cities group", "\ncities:\n{\n  a = 1;\n};\n", { NULL }, 0,
	    "@:2: cities must be a list of city ids", { NULL }, -1 },
	/* cross checks */
	{ "lease vs timeout: equal is refused",
	    "owm:\n{\n  timeout_ms = 30000;\n};\n", { NULL }, 0,
	    "@: worker.lease_seconds (60) must be longer than twice "
	    "owm.timeout_ms (30000 ms)", { NULL }, -1 },
	{ "lease vs timeout: just under is fine",
	    "owm:\n{\n  timeout_ms = 29999;\n};\n", { NULL }, 1, NULL,
	    { "owm.timeout_ms = 29999\n" }, -1 },
	{ "lease vs timeout: longer lease",
	    "owm:\n{\n  timeout_ms = 30000;\n};\n"
	    "worker:\n{\n  lease_seconds = 61;\n};\n", { NULL }, 1, NULL,
	    { "worker.lease_seconds = 61\n" }, -1 },
	{ "lease vs timeout via env",
	    "worker:\n{\n  lease_seconds = 20;\n};\n", { NULL }, 0,
	    "worker.lease_seconds (20) must be longer than twice", { NULL },
	    -1 },
	{ "connect timeout over timeout",
	    GRP("  connect_timeout_ms = 5000;\n  timeout_ms = 4000;\n"),
	    { NULL }, 0, "@: owm.connect_timeout_ms must not exceed",
	    { NULL }, -1 },
	/* environment overrides */
	{ "env batch_size wins", GRP("  batch_size = 7;\n"),
	    { "OWMCOLLECT_OWM_BATCH_SIZE=5" }, 1, NULL,
	    { "owm.batch_size = 5\n" }, -1 },
	{ "env batch_size 21", GRP("  batch_size = 7;\n"),
	    { "OWMCOLLECT_OWM_BATCH_SIZE=21" }, 0,
	    "OWMCOLLECT_OWM_BATCH_SIZE: must be between 1 and 20", { NULL },
	    -1 },
	{ "env batch_size negative", NULL, { "OWMCOLLECT_OWM_BATCH_SIZE=-1" },
	    0, "OWMCOLLECT_OWM_BATCH_SIZE: ", { NULL }, -1 },
	{ "env batch_size 05", NULL, { "OWMCOLLECT_OWM_BATCH_SIZE=05" },
	    0, "OWMCOLLECT_OWM_BATCH_SIZE: ", { NULL }, -1 },
	{ "env mode group", GRP("  mode = \"single\";\n"),
	    { "OWMCOLLECT_OWM_MODE=group" }, 1, NULL,
	    { "owm.mode = \"group\"\n" }, OWM_MODE_GROUP },
	{ "env mode bad", NULL, { "OWMCOLLECT_OWM_MODE=both" }, 0,
	    "OWMCOLLECT_OWM_MODE: must be \"single\" or \"group\"", { NULL },
	    -1 },
	{ "env children abc", NULL, { "OWMCOLLECT_WORKER_CHILDREN=abc" }, 0,
	    "OWMCOLLECT_WORKER_CHILDREN: ", { NULL }, -1 },
	{ "env children 65", NULL, { "OWMCOLLECT_WORKER_CHILDREN=65" }, 0,
	    "OWMCOLLECT_WORKER_CHILDREN: must be between 1 and 64", { NULL },
	    -1 },
	{ "env children 8", NULL, { "OWMCOLLECT_WORKER_CHILDREN=8" }, 1,
	    NULL, { "worker.children = 8\n" }, -1 },
	{ "env cities 1,2,3", "cities = [ 7, 8 ];\n",
	    { "OWMCOLLECT_CITIES=1,2,3" }, 1, NULL, { "cities = 3 ids\n" },
	    -1 },
	{ "env cities 1,,2", NULL, { "OWMCOLLECT_CITIES=1,,2" }, 0,
	    "OWMCOLLECT_CITIES: ", { NULL }, -1 },
	{ "env cities duplicate", NULL, { "OWMCOLLECT_CITIES=4,4" }, 0,
	    "OWMCOLLECT_CITIES: cities must not repeat", { NULL }, -1 },
	{ "env cities 0", NULL, { "OWMCOLLECT_CITIES=0" }, 0,
	    "OWMCOLLECT_CITIES: ", { NULL }, -1 },
	{ "env cities empty", NULL, { "OWMCOLLECT_CITIES=" }, 0,
	    "OWMCOLLECT_CITIES: ", { NULL }, -1 },
	{ "env cities too big", NULL, { "OWMCOLLECT_CITIES=4294967296" }, 0,
	    "OWMCOLLECT_CITIES: ", { NULL }, -1 },
	{ "env key", NULL, { "OWMCOLLECT_OWM_KEY=abcdef0123" }, 1, NULL,
	    { "owm.key = (set)\n" }, -1 },
	{ "env key bad", NULL, { "OWMCOLLECT_OWM_KEY=abc def" }, 0,
	    "OWMCOLLECT_OWM_KEY: must be printable ASCII", { NULL }, -1 },
	{ "env url", NULL, { "OWMCOLLECT_OWM_URL=http://127.0.0.1:1/x" }, 1,
	    NULL, { "owm.url = \"http://127.0.0.1:1/x\"\n" }, -1 },
	{ "env url bad", NULL, { "OWMCOLLECT_OWM_URL=localhost" }, 0,
	    "OWMCOLLECT_OWM_URL: must start with", { NULL }, -1 },
	{ "env cities_per_minute", NULL,
	    { "OWMCOLLECT_OWM_CITIES_PER_MINUTE=600" }, 1, NULL,
	    { "owm.cities_per_minute = 600\n" }, -1 },
	{ "env lease fixes cross check", "owm:\n{\n  timeout_ms = 30000;\n};\n",
	    { "OWMCOLLECT_WORKER_LEASE_SECONDS=120" }, 1, NULL,
	    { "worker.lease_seconds = 120\n" }, -1 },
	{ "env several", NULL, { "OWMCOLLECT_OWM_BATCH_SIZE=3",
	    "OWMCOLLECT_WORKER_CHILDREN=4", "OWMCOLLECT_MYSQL_PORT=3307" }, 1,
	    NULL, { "owm.batch_size = 3\n", "worker.children = 4\n",
	    "mysql.port = 3307\n" }, -1 },
	{ "file error before env", GRP("  batch_size = 0;\n"),
	    { "OWMCOLLECT_OWM_BATCH_SIZE=5" }, 0, "@:3: owm.batch_size",
	    { NULL }, -1 },
};

START_TEST(test_file_cases)
{
	const struct file_case *c = &file_cases[_i];
	struct config cf;
	char	 path[64] = "", err[512] = "", warn[512] = "";
	char	 want[512], fail[1024] = "";
	int	 rc, k;

	clear_env();
	set_env(c->env);
	if (c->text != NULL)
		temp_conf(path, sizeof(path), c->text, 0600);
	memset(&cf, 0xa5, sizeof(cf));
	rc = config_load(&cf, c->text ? path : NULL, err, sizeof(err), warn,
	    sizeof(warn));
	clear_env();
	if (c->text != NULL)
		unlink(path);
	if (c->ok == 0 || (c->ok == 2 && rc == -1)) {
		expand(want, sizeof(want), c->err, path);
		if (rc == 0) {
			char	*dump = dump_to_string(&cf);

			/* Free before failing: ck_assert does not return. */
			snprintf(fail, sizeof(fail), "config case \"%s\": "
			    "loaded, expected an error with \"%s\" (loaded: %s)",
			    c->name, want, c->dump[0] ? dump_line(dump,
			    c->dump[0]) : "");
			free(dump);
			config_free(&cf);
			ck_abort_msg("%s", fail);
		}
		ck_assert_msg(strstr(err, want) != NULL,
		    "config case \"%s\": error \"%s\" lacks \"%s\"", c->name,
		    err, want);
		ck_assert_msg(cf.cities == NULL && cf.owm.url == NULL,
		    "config case \"%s\": cf not freed on error", c->name);
		return;
	}
	ck_assert_msg(rc == 0, "config case \"%s\": error \"%s\"", c->name,
	    err);
	if (warn[0] != '\0')
		snprintf(fail, sizeof(fail), "config case \"%s\": warning "
		    "\"%s\" for a 0600 file", c->name, warn);
	else if (c->text != NULL && (cf.file == NULL ||
	    strcmp(cf.file, path) != 0))
		snprintf(fail, sizeof(fail), "config case \"%s\": cf.file not "
		    "set", c->name);
	else if (c->mode != -1 && cf.owm.mode != c->mode)
		snprintf(fail, sizeof(fail), "config case \"%s\": mode %d, "
		    "expected %d", c->name, cf.owm.mode, c->mode);
	else if (c->dump[0] != NULL) {
		char	*dump = dump_to_string(&cf);

		for (k = 0; k < MAXDUMP && c->dump[k]; k++)
			if (strstr(dump, c->dump[k]) == NULL) {
				snprintf(fail, sizeof(fail), "config case "
				    "\"%s\": dump lacks \"%.*s\", has \"%s\"",
				    c->name, (int)strcspn(c->dump[k], "\n"),
				    c->dump[k], dump_line(dump, c->dump[k]));
				break;
			}
		free(dump);
	}
	config_free(&cf);
	ck_assert_msg(fail[0] == '\0', "%s", fail);
}
END_TEST

/* ---- focused checks ------------------------------------------------ */

START_TEST(test_env_values)
{
	struct config cf;
	char	 err[512] = "";

	clear_env();
	setenv("OWMCOLLECT_CITIES", "1,2,3", 1);
	setenv("OWMCOLLECT_OWM_KEY", "k3yV4lue", 1);
	setenv("OWMCOLLECT_OWM_MODE", "group", 1);
	ck_assert_msg(config_load(&cf, NULL, err, sizeof(err), NULL, 0) == 0,
	    "env values: %s", err);
	clear_env();
	ck_assert_uint_eq(cf.ncities, 3);
	ck_assert_msg(cf.cities[0] == 1 && cf.cities[1] == 2 &&
	    cf.cities[2] == 3, "env values: cities %u,%u,%u", cf.cities[0],
	    cf.cities[1], cf.cities[2]);
	ck_assert_str_eq(cf.owm.key, "k3yV4lue");
	ck_assert_int_eq(cf.owm.mode, OWM_MODE_GROUP);
	ck_assert_str_eq(cf.owm.mode_name, "group");
	config_free(&cf);
}
END_TEST

/* A file that cannot be read: the error names it and says why. */
static const struct {
	const char	*path;
	const char	*why;		/* substring of the reason */
} unreadable_cases[] = {
	{ "/nonexistent/owmcollect.conf", "No such file" },
	{ "/tmp/check_config.does-not-exist.conf", "No such file" },
	{ "/tmp", "directory" },	/* not "cannot read: Success" */
	{ "/", "directory" },
};

START_TEST(test_unreadable_file)
{
	struct config cf;
	char	 err[512] = "";

	clear_env();
	ck_assert_msg(config_load(&cf, unreadable_cases[_i].path, err,
	    sizeof(err), NULL, 0) == -1, "unreadable file case %s: loaded",
	    unreadable_cases[_i].path);
	ck_assert_msg(strncmp(err, unreadable_cases[_i].path,
	    strlen(unreadable_cases[_i].path)) == 0,
	    "unreadable file case %s: error \"%s\" does not start with it",
	    unreadable_cases[_i].path, err);
	ck_assert_msg(strstr(err, unreadable_cases[_i].why) != NULL,
	    "unreadable file case %s: error \"%s\" lacks \"%s\"",
	    unreadable_cases[_i].path, err, unreadable_cases[_i].why);
}
END_TEST

static const struct {
	const char	*name;
	const char	*text;
	mode_t		 mode;
	const char	*env;		/* NULL or "NAME=value" */
	int		 warn;
} warn_cases[] = {
	{ "key 0644", "owm:\n{\n  key = \"s3cr3tKEY\";\n};\n", 0644, NULL, 1 },
	{ "key 0604", "owm:\n{\n  key = \"s3cr3tKEY\";\n};\n", 0604, NULL, 1 },
	{ "key 0600", "owm:\n{\n  key = \"s3cr3tKEY\";\n};\n", 0600, NULL, 0 },
	{ "key 0640", "owm:\n{\n  key = \"s3cr3tKEY\";\n};\n", 0640, NULL, 0 },
	{ "password 0644", "mysql:\n{\n  password = \"pw\";\n};\n", 0644,
	    NULL, 1 },
	{ "token 0644", "http:\n{\n  token = \"tok\";\n};\n", 0644, NULL, 1 },
	{ "no secret 0644", "owm:\n{\n  batch_size = 5;\n};\n", 0644, NULL,
	    0 },
	{ "empty key 0644", "owm:\n{\n  key = \"\";\n};\n", 0644, NULL, 0 },
	{ "key only from env 0644", "owm:\n{\n  batch_size = 5;\n};\n", 0644,
	    "OWMCOLLECT_OWM_KEY=envkey", 0 },
};

START_TEST(test_world_readable_warning)
{
	struct config cf;
	char	 path[64], err[512] = "", warn[512] = "";
	char	 spec[128];
	const char *env[MAXENV] = { NULL };

	clear_env();
	if (warn_cases[_i].env) {
		snprintf(spec, sizeof(spec), "%s", warn_cases[_i].env);
		env[0] = spec;
		set_env(env);
	}
	temp_conf(path, sizeof(path), warn_cases[_i].text,
	    warn_cases[_i].mode);
	ck_assert_msg(config_load(&cf, path, err, sizeof(err), warn,
	    sizeof(warn)) == 0, "warning case \"%s\": %s",
	    warn_cases[_i].name, err);
	clear_env();
	unlink(path);
	if (warn_cases[_i].warn) {
		ck_assert_msg(warn[0] != '\0' && strstr(warn, path) != NULL,
		    "warning case \"%s\": warning \"%s\" missing or does not "
		    "name the file", warn_cases[_i].name, warn);
		ck_assert_msg(strstr(warn, "s3cr3tKEY") == NULL,
		    "warning case \"%s\": warning shows the key",
		    warn_cases[_i].name);
	} else
		ck_assert_msg(warn[0] == '\0',
		    "warning case \"%s\": unexpected warning \"%s\"",
		    warn_cases[_i].name, warn);
	config_free(&cf);
}
END_TEST

/* Secrets never appear in config_dump, nor in error messages. */
START_TEST(test_dump_hides_secrets)
{
	static const char text[] =
	    "owm:\n{\n  key = \"KEYzx81Qq7\";\n};\n"
	    "mysql:\n{\n  password = \"PWDzx81Qq7\";\n};\n"
	    "http:\n{\n  token = \"TOKzx81Qq7\";\n};\n";
	static const char *const secrets[] = { "KEYzx81Qq7", "PWDzx81Qq7",
	    "TOKzx81Qq7", "zx81Qq7" };
	struct config cf;
	char	 path[64], err[512] = "";
	char	*dump;
	size_t	 k;

	clear_env();
	temp_conf(path, sizeof(path), text, 0600);
	ck_assert_msg(config_load(&cf, path, err, sizeof(err), NULL, 0) == 0,
	    "dump secrets: %s", err);
	unlink(path);
	dump = dump_to_string(&cf);
	for (k = 0; k < NELEM(secrets); k++)
		ck_assert_msg(strstr(dump, secrets[k]) == NULL,
		    "dump secrets case %s: printed:\n%s", secrets[k], dump);
	ck_assert_msg(strstr(dump, "owm.key = (set)\n") &&
	    strstr(dump, "mysql.password = (set)\n") &&
	    strstr(dump, "http.token = (set)\n"),
	    "dump secrets: (set) markers missing:\n%s", dump);
	ck_assert_msg(strstr(dump, path) != NULL,
	    "dump secrets: file name missing:\n%s", dump);
	free(dump);
	config_free(&cf);

	/* Same through the environment. */
	setenv("OWMCOLLECT_OWM_KEY", "ENVzx81Qq7", 1);
	ck_assert_msg(config_load(&cf, NULL, err, sizeof(err), NULL, 0) == 0,
	    "dump secrets env: %s", err);
	clear_env();
	dump = dump_to_string(&cf);
	ck_assert_msg(strstr(dump, "ENVzx81Qq7") == NULL,
	    "dump secrets env: key printed:\n%s", dump);
	free(dump);
	config_free(&cf);
}
END_TEST

static const struct {
	const char	*name;
	const char	*text;		/* NULL: the secret comes from env */
	const char	*env;
	const char	*secret;
} leak_cases[] = {
	{ "file key with space", "owm:\n{\n  key = \"LEAK 9q2w\";\n};\n",
	    NULL, "LEAK 9q2w" },
	{ "file key too long", "owm:\n{\n  key = \"LEAK9q2w"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "\";\n};\n", NULL, "LEAK9q2w" },
	{ "file token with %", "http:\n{\n  token = \"LEAK%9q2w\";\n};\n",
	    NULL, "LEAK%9q2w" },
	{ "env key with space", NULL, "OWMCOLLECT_OWM_KEY=LEAK 9q2w",
	    "LEAK 9q2w" },
	{ "env token with +", NULL, "OWMCOLLECT_HTTP_TOKEN=LEAK+9q2w",
	    "LEAK+9q2w" },
};

START_TEST(test_errors_hide_secrets)
{
	struct config cf;
	char	 path[64] = "", err[512] = "", spec[128];
	const char *env[MAXENV] = { NULL };
	int	 rc;

	clear_env();
	if (leak_cases[_i].env) {
		snprintf(spec, sizeof(spec), "%s", leak_cases[_i].env);
		env[0] = spec;
		set_env(env);
	}
	if (leak_cases[_i].text)
		temp_conf(path, sizeof(path), leak_cases[_i].text, 0600);
	rc = config_load(&cf, leak_cases[_i].text ? path : NULL, err,
	    sizeof(err), NULL, 0);
	clear_env();
	if (leak_cases[_i].text)
		unlink(path);
	ck_assert_msg(rc == -1, "secret error case \"%s\": loaded",
	    leak_cases[_i].name);
	ck_assert_msg(strstr(err, leak_cases[_i].secret) == NULL &&
	    strstr(err, "9q2w") == NULL,
	    "secret error case \"%s\": error shows the secret: %s",
	    leak_cases[_i].name, err);
}
END_TEST

/* ---- runner -------------------------------------------------------- */

static Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc;

	tc = tcase_create("defaults");
	tcase_add_loop_test(tc, test_defaults, 0, NELEM(default_cases));
	tcase_add_test(tc, test_defaults_struct);
	tcase_add_loop_test(tc, test_defer, 0, NELEM(defer_cases));
	tcase_add_test(tc, test_shipped_conf);
	suite_add_tcase(s, tc);

	tc = tcase_create("file_and_env");
	tcase_add_loop_test(tc, test_file_cases, 0, NELEM(file_cases));
	tcase_add_test(tc, test_env_values);
	tcase_add_loop_test(tc, test_unreadable_file, 0,
	    NELEM(unreadable_cases));
	suite_add_tcase(s, tc);

	tc = tcase_create("secrets");
	tcase_add_loop_test(tc, test_world_readable_warning, 0,
	    NELEM(warn_cases));
	tcase_add_test(tc, test_dump_hides_secrets);
	tcase_add_loop_test(tc, test_errors_hide_secrets, 0,
	    NELEM(leak_cases));
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	return check_run(config_suite());
}
