/*
 * check_worker_parse.c: worker/owm_parse.c, the mapping of API answers,
 * table-driven: good single and group bodies, cod as string or number,
 * missing fields, NaN, strings where numbers belong, wrong types, huge,
 * deep nesting, foreign ids, truncated bodies.  Also worker/tasks.c's
 * batch statements: sqlvec.c's template markup, the SQL of a variant, and
 * every variant's placeholders against what the completion binds.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "check_run.h"
#include "owm_parse.h"
#include "sqlvec.h"
#include "tasks.h"

#define NOW	1700000400LL
#define DT	"1700000000"

#define CITY(id, temp, hum) \
	"{\"coord\":{\"lon\":1.5,\"lat\":2.5},\"weather\":[{\"id\":800," \
	"\"main\":\"Clear\",\"description\":\"clear sky\",\"icon\":\"01d\"}]," \
	"\"base\":\"stations\",\"main\":{\"temp\":" temp ",\"feels_like\":1," \
	"\"pressure\":1000,\"humidity\":" hum "},\"visibility\":10000," \
	"\"dt\":" DT ",\"sys\":{\"country\":\"GB\"},\"timezone\":0," \
	"\"id\":" id ",\"name\":\"City " id "\""

struct scase {
	const char	*name;
	const char	*body;
	unsigned int	 want_id;
	int		 ok;
	double		 temp;
	unsigned int	 hum;
};

static const struct scase scases[] = {
	{ "plain", CITY("42", "12.5", "81") ",\"cod\":200}", 42, 1, 12.5, 81 },
	{ "cod as string", CITY("42", "-3.25", "0") ",\"cod\":\"200\"}", 42, 1,
	    -3.25, 0 },
	{ "no cod", CITY("42", "100", "100") "}", 42, 1, 100, 100 },
	{ "negative zero and exponent", CITY("42", "-0.0e1", "5") "}", 42, 1,
	    0, 5 },
	{ "white space", " \n" CITY("42", "1", "2") "} \r\n", 42, 1, 1, 2 },
	{ "escaped key", "{\"id\":42,\"dt\":" DT ",\"m\\u0061in\":{"
	    "\"temp\":3,\"humidity\":4}}", 42, 1, 3, 4 },
	{ "foreign id", CITY("43", "12.5", "81") "}", 42, 0, 0, 0 },
	{ "temp too hot", CITY("42", "100.01", "81") "}", 42, 0, 0, 0 },
	{ "temp too cold", CITY("42", "-273.15", "81") "}", 42, 0, 0, 0 },
	{ "humidity 101", CITY("42", "1", "101") "}", 42, 0, 0, 0 },
	{ "humidity negative", CITY("42", "1", "-1") "}", 42, 0, 0, 0 },
	{ "humidity fraction", CITY("42", "1", "50.5") "}", 42, 0, 0, 0 },
	{ "NaN", CITY("42", "NaN", "81") "}", 42, 0, 0, 0 },
	{ "Infinity", CITY("42", "Infinity", "81") "}", 42, 0, 0, 0 },
	{ "huge exponent", CITY("42", "1e999", "81") "}", 42, 0, 0, 0 },
	{ "temp as string", CITY("42", "\"12.5\"", "81") "}", 42, 0, 0, 0 },
	{ "humidity as string", CITY("42", "1", "\"50\"") "}", 42, 0, 0, 0 },
	{ "temp true", CITY("42", "true", "81") "}", 42, 0, 0, 0 },
	{ "temp null", CITY("42", "null", "81") "}", 42, 0, 0, 0 },
	{ "bad number", CITY("42", "1.2.3", "81") "}", 42, 0, 0, 0 },
	{ "leading zero", CITY("42", "01", "81") "}", 42, 0, 0, 0 },
	{ "plus sign", CITY("42", "+1", "81") "}", 42, 0, 0, 0 },
	{ "id as string", CITY("\"42\"", "1", "2") "}", 42, 0, 0, 0 },
	{ "id zero", "{\"id\":0,\"dt\":" DT ",\"main\":{\"temp\":1,"
	    "\"humidity\":2}}", 0, 0, 0, 0 },
	{ "id fraction", "{\"id\":42.0,\"dt\":" DT ",\"main\":{\"temp\":1,"
	    "\"humidity\":2}}", 42, 0, 0, 0 },
	{ "id too big", "{\"id\":4294967296,\"dt\":" DT ",\"main\":{"
	    "\"temp\":1,\"humidity\":2}}", 0, 0, 0, 0 },
	{ "main is an array", "{\"id\":42,\"dt\":" DT ",\"main\":[{"
	    "\"temp\":1,\"humidity\":2}]}", 42, 0, 0, 0 },
	{ "main missing", "{\"id\":42,\"dt\":" DT "}", 42, 0, 0, 0 },
	{ "temp missing", "{\"id\":42,\"dt\":" DT ",\"main\":{"
	    "\"humidity\":2}}", 42, 0, 0, 0 },
	{ "humidity missing", "{\"id\":42,\"dt\":" DT ",\"main\":{"
	    "\"temp\":2}}", 42, 0, 0, 0 },
	{ "dt missing", "{\"id\":42,\"main\":{\"temp\":1,\"humidity\":2}}",
	    42, 0, 0, 0 },
	{ "id missing", "{\"dt\":" DT ",\"main\":{\"temp\":1,"
	    "\"humidity\":2}}", 42, 0, 0, 0 },
	{ "dt far past", "{\"id\":42,\"dt\":1000,\"main\":{\"temp\":1,"
	    "\"humidity\":2}}", 42, 0, 0, 0 },
	{ "dt future", "{\"id\":42,\"dt\":1800000000,\"main\":{\"temp\":1,"
	    "\"humidity\":2}}", 42, 0, 0, 0 },
	{ "dt negative", "{\"id\":42,\"dt\":-1,\"main\":{\"temp\":1,"
	    "\"humidity\":2}}", 42, 0, 0, 0 },
	{ "duplicate temp", "{\"id\":42,\"dt\":" DT ",\"main\":{\"temp\":1,"
	    "\"temp\":5,\"humidity\":2}}", 42, 0, 0, 0 },
	{ "duplicate id", "{\"id\":42,\"id\":43,\"dt\":" DT ",\"main\":{"
	    "\"temp\":1,\"humidity\":2}}", 42, 0, 0, 0 },
	{ "truncated", CITY("42", "12.5", "81"), 42, 0, 0, 0 },
	{ "truncated in number", "{\"id\":42,\"dt\":17", 42, 0, 0, 0 },
	{ "empty", "", 42, 0, 0, 0 },
	{ "not an object", "[1,2]", 42, 0, 0, 0 },
	{ "a number", "42", 42, 0, 0, 0 },
	{ "trailing garbage", CITY("42", "1", "2") "}x", 42, 0, 0, 0 },
	{ "two values", CITY("42", "1", "2") "}{}", 42, 0, 0, 0 },
	{ "missing value", "{\"id\":42,\"dt\":" DT ",\"main\":{\"temp\":1,"
	    "\"humidity\"}}", 42, 0, 0, 0 },
	{ "html", "<html><body>502 Bad Gateway</body></html>", 42, 0, 0, 0 },
	{ "mangled", "{\"id\":42,\"dt\":" DT ",\"main\":{\"temp\":,"
	    "\"humidity\":2}}", 42, 0, 0, 0 },
	{ "error body", "{\"cod\":\"404\",\"message\":\"city not found\"}",
	    42, 0, 0, 0 },
};

START_TEST(test_single)
{
	const struct scase *c = &scases[_i];
	struct owm_reading r;
	const char	*why = NULL;
	int		 rc;

	rc = owm_parse_single(c->body, strlen(c->body), c->want_id, NOW, &r,
	    &why);
	if (!c->ok) {
		ck_assert_msg(rc == -1, "%s: accepted", c->name);
		ck_assert_msg(why != NULL && why[0], "%s: no reason", c->name);
		return;
	}
	ck_assert_msg(rc == 0, "%s: refused: %s", c->name, why);
	ck_assert_uint_eq(r.id, c->want_id);
	ck_assert_msg(fabs(r.temp - c->temp) < 1e-9, "%s: temp %g", c->name,
	    r.temp);
	ck_assert_uint_eq(r.humidity, c->hum);
	ck_assert_int_eq(r.dt, 1700000000LL);
}
END_TEST

struct gcase {
	const char	*name;
	const char	*body;
	int		 ok;
	int		 found[3];	/* for ids 1, 2, 3 */
};

#define G(body)	"{\"cnt\":2,\"list\":[" body "]}"

static const struct gcase gcases[] = {
	{ "all three", G(CITY("1", "1", "1") "}," CITY("2", "2", "2") "},"
	    CITY("3", "3", "3") "}"), 1, { 1, 1, 1 } },
	{ "one left out", G(CITY("3", "3", "3") "}," CITY("1", "1", "1") "}"),
	    1, { 1, 0, 1 } },
	{ "none", "{\"cnt\":0,\"list\":[]}", 1, { 0, 0, 0 } },
	{ "no cnt", "{\"list\":[" CITY("2", "2", "2") "}]}", 1, { 0, 1, 0 } },
	{ "foreign id", G(CITY("1", "1", "1") "}," CITY("4", "2", "2") "}"),
	    0, { 0, 0, 0 } },
	{ "twice", G(CITY("1", "1", "1") "}," CITY("1", "1", "1") "}"), 0,
	    { 0, 0, 0 } },
	{ "one bad item", G(CITY("1", "1", "1") "}," CITY("2", "NaN", "2")
	    "}"), 0, { 0, 0, 0 } },
	{ "string numbers", G(CITY("1", "\"1\"", "\"1\"") "}"), 0,
	    { 0, 0, 0 } },
	{ "list missing", "{\"cnt\":1}", 0, { 0, 0, 0 } },
	{ "list an object", "{\"cnt\":1,\"list\":{}}", 0, { 0, 0, 0 } },
	{ "item not an object", "{\"cnt\":1,\"list\":[1]}", 0, { 0, 0, 0 } },
	{ "truncated", "{\"cnt\":1,\"list\":[" CITY("1", "1", "1") "}", 0,
	    { 0, 0, 0 } },
	{ "single body", CITY("1", "1", "1") ",\"cod\":200}", 0, { 0, 0, 0 } },
};

START_TEST(test_group)
{
	static const uint32_t ids[3] = { 1, 2, 3 };
	const struct gcase *c = &gcases[_i];
	struct owm_reading out[3];
	const char	*why = NULL;
	int		 found[3], rc, j;

	rc = owm_parse_group(c->body, strlen(c->body), ids, 3, NOW, out,
	    found, &why);
	ck_assert_msg(rc == (c->ok ? 0 : -1), "%s: rc %d (%s)", c->name, rc,
	    why ? why : "");
	for (j = 0; j < 3; j++) {
		ck_assert_msg(found[j] == c->found[j], "%s: id %d found %d",
		    c->name, j + 1, found[j]);
		if (found[j]) {
			ck_assert_uint_eq(out[j].id, ids[j]);
			ck_assert(fabs(out[j].temp - (j + 1)) < 1e-9);
		}
	}
}
END_TEST

/* The stand-in's hostile bodies, built at run time. */
START_TEST(test_hostile)
{
	struct owm_reading r, out[20];
	const char	*why;
	char		*b;
	size_t		 n, i, len;
	int		 found[20];
	uint32_t	 ids[20];

	/* huge: past the size cap */
	n = OWM_PARSE_MAX_BODY + 100;
	b = malloc(n + 200);
	ck_assert_ptr_nonnull(b);
	len = (size_t)snprintf(b, 100, "{\"padding\":\"");
	memset(b + len, 'x', n - len);
	strcpy(b + n, "\"," "\"id\":1,\"dt\":" DT ",\"main\":{\"temp\":1,"
	    "\"humidity\":1}}");
	ck_assert_int_eq(owm_parse_single(b, strlen(b), 1, NOW, &r, &why), -1);
	free(b);

	/* deep: 100000 nested arrays */
	n = 100000;
	b = malloc(2 * n + 200);
	ck_assert_ptr_nonnull(b);
	len = (size_t)sprintf(b, "{\"main\":");
	memset(b + len, '[', n);
	memset(b + len + n, ']', n);
	strcpy(b + len + 2 * n, ",\"dt\":" DT ",\"id\":1}");
	ck_assert_int_eq(owm_parse_single(b, strlen(b), 1, NOW, &r, &why), -1);
	free(b);

	/* many items: more tokens than the budget */
	n = 10000;
	b = malloc(n * 80 + 100);
	ck_assert_ptr_nonnull(b);
	len = (size_t)sprintf(b, "{\"cnt\":%zu,\"list\":[", n);
	for (i = 0; i < n; i++)
		len += (size_t)sprintf(b + len, "%s{\"id\":%zu,\"dt\":" DT
		    ",\"main\":{\"temp\":1,\"humidity\":1}}", i ? "," : "",
		    i + 1);
	strcpy(b + len, "]}");
	for (i = 0; i < 20; i++)
		ids[i] = (uint32_t)(i + 1);
	ck_assert_int_eq(owm_parse_group(b, strlen(b), ids, 20, NOW, out,
	    found, &why), -1);
	free(b);

	/* NUL inside */
	ck_assert_int_eq(owm_parse_single("{\"id\":1\0}", 9, 1, NOW, &r, &why),
	    -1);
}
END_TEST

struct mcase {
	const char	*body;
	int		 rc;
	const char	*msg;
};

static const struct mcase mcases[] = {
	{ "{\"cod\":\"404\",\"message\":\"city not found\"}", 0,
	    "city not found" },
	{ "{\"cod\":401, \"message\": \"Invalid API key.\"}", 0,
	    "Invalid API key." },
	{ "{\"message\":\"a\\u00e9\\n\"}", 0, "a\xc3\xa9\n" },
	{ "{\"message\":5}", -1, "" },
	{ "Service Temporarily Unavailable\n", -1, "" },
	{ "{\"cod\":\"404\"}", -1, "" },
};

START_TEST(test_message)
{
	const struct mcase *c = &mcases[_i];
	char		 msg[64];

	ck_assert_int_eq(owm_parse_message(c->body, strlen(c->body), msg,
	    sizeof(msg)), c->rc);
	ck_assert_str_eq(msg, c->msg);
}
END_TEST

/* worker/sqlvec.c's template markup on its own. */
static const struct {
	const char	*tmpl;
	size_t		 n;
	const char	*sql;		/* NULL: refused */
} vcases[] = {
	{ "x IN (?*)", 3, "x IN (?, ?, ?)" },
	{ "x IN (?*) AND y = ?", 1, "x IN (?) AND y = ?" },
	{ "VALUES [(?, 1)]", 2, "VALUES (?, 1), (?, 1)" },
	{ "WHERE 1[ AND x <> ?]", 3, "WHERE 1 AND x <> ?  AND x <> ?  AND "
	    "x <> ?" },
	{ "no list", 2, "no list" },
	{ "x IN (?*)", 0, NULL },
};

START_TEST(test_sqlvec)
{
	struct buf	 b;

	buf_init(&b, 0);
	if (vcases[_i].sql == NULL)
		ck_assert_int_eq(sqlvec_sql(vcases[_i].tmpl, vcases[_i].n, &b),
		    -1);
	else {
		ck_assert_int_eq(sqlvec_sql(vcases[_i].tmpl, vcases[_i].n, &b),
		    0);
		ck_assert_str_eq(b.data, vcases[_i].sql);
	}
	buf_free(&b);
}
END_TEST

/* Exact SQL of a few of tasks.c's variants. */
struct sqlcase {
	int		 kind;
	size_t		 n;
	const char	*sql;
};

static const struct sqlcase sqlcases[] = {
	{ V_TAKE, 2, "SELECT city_id, attempts, fetch_id FROM city_tasks "
	    "WHERE city_id IN (?, ?) AND ready_at <= NOW(6) "
	    "ORDER BY city_id FOR UPDATE SKIP LOCKED" },
	{ V_CLAIM, 1, "UPDATE city_tasks SET lease_owner = ?, "
	    "ready_at = NOW(6) + INTERVAL ? SECOND, attempts = attempts + 1 "
	    "WHERE city_id IN (?)" },
	{ V_DELETE, 3, "DELETE FROM city_tasks WHERE city_id IN (?, ?, ?) "
	    "AND lease_owner = ?" },
	{ V_READINGS, 2, "INSERT INTO readings (city_id, temperature, "
	    "humidity, observed_at, fetched_at) VALUES "
	    "(?, ?, ?, FROM_UNIXTIME(?), NOW(6)), "
	    "(?, ?, ?, FROM_UNIXTIME(?), NOW(6))" },
	{ V_LATEST, 2, "INSERT INTO city_latest (city_id, reading_id, "
	    "fetched_at) VALUES (?, ?, NOW(6)), (?, ?, NOW(6)) ON DUPLICATE "
	    "KEY UPDATE reading_id = VALUES(reading_id), "
	    "fetched_at = VALUES(fetched_at)" },
	{ V_LOCK, 2, "SELECT city_id, fetch_id FROM city_tasks "
	    "WHERE city_id IN (?, ?) AND lease_owner = ? ORDER BY city_id "
	    "FOR UPDATE" },
	{ V_FETCHES, 1, "INSERT INTO fetches (id, city_id, state, "
	    "reading_id, error, done_at) VALUES (?, ?, ?, ?, ?, NOW(6))" },
	{ V_FETCHES, 3, "INSERT INTO fetches (id, city_id, state, "
	    "reading_id, error, done_at) VALUES (?, ?, ?, ?, ?, NOW(6)), "
	    "(?, ?, ?, ?, ?, NOW(6)), (?, ?, ?, ?, ?, NOW(6))" },
};

START_TEST(test_sql)
{
	const struct sqlcase *c = &sqlcases[_i];
	struct buf	 b;

	buf_init(&b, 0);
	ck_assert_int_eq(tasks_sql(c->kind, c->n, &b), 0);
	ck_assert_str_eq(b.data, c->sql);
	buf_free(&b);
}
END_TEST

/*
 * Placeholders per variant: per * n + fixed, what tasks.c binds (the
 * comments of enum tasks_sql_kind).  Every n, and nothing of the
 * template's markup left over.
 */
static const struct {
	int		 kind;
	size_t		 per, fixed;
} sqlparams[] = {
	{ V_TAKE, 1, 0 }, { V_CLAIM, 1, 2 }, { V_LOCK, 1, 1 },
	{ V_DELETE, 1, 1 }, { V_READINGS, 4, 0 }, { V_READ_IDS, 1, 1 },
	{ V_LATEST, 2, 0 }, { V_FRESH, 1, 1 }, { V_FETCHES, 5, 0 },
};

START_TEST(test_sql_params)
{
	struct buf	 b;
	const char	*p;
	size_t		 n, q;

	ck_assert_int_eq(sizeof(sqlparams) / sizeof(sqlparams[0]), V_COUNT);
	buf_init(&b, 0);
	for (n = 1; n <= OWM_GROUP_MAX; n++) {
		ck_assert_int_eq(tasks_sql(sqlparams[_i].kind, n, &b), 0);
		for (q = 0, p = b.data; *p; p++)
			q += *p == '?';
		ck_assert_uint_eq(q, sqlparams[_i].per * n +
		    sqlparams[_i].fixed);
		ck_assert_ptr_null(strpbrk(b.data, "[]*"));
	}
	ck_assert_int_eq(tasks_sql(sqlparams[_i].kind, 0, &b), -1);
	ck_assert_int_eq(tasks_sql(sqlparams[_i].kind, OWM_GROUP_MAX + 1, &b),
	    -1);
	ck_assert_int_eq(tasks_sql(V_COUNT, 1, &b), -1);
	buf_free(&b);
}
END_TEST

static Suite *
suite(void)
{
	Suite	*s = suite_create("owm_parse");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_single, 0,
	    sizeof(scases) / sizeof(scases[0]));
	tcase_add_loop_test(tc, test_group, 0,
	    sizeof(gcases) / sizeof(gcases[0]));
	tcase_add_test(tc, test_hostile);
	tcase_add_loop_test(tc, test_message, 0,
	    sizeof(mcases) / sizeof(mcases[0]));
	suite_add_tcase(s, tc);
	tc = tcase_create("tasks_sql");
	tcase_add_loop_test(tc, test_sqlvec, 0,
	    sizeof(vcases) / sizeof(vcases[0]));
	tcase_add_loop_test(tc, test_sql, 0,
	    sizeof(sqlcases) / sizeof(sqlcases[0]));
	tcase_add_loop_test(tc, test_sql_params, 0,
	    sizeof(sqlparams) / sizeof(sqlparams[0]));
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return check_run(suite());
}
