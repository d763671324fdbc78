/*
 * owm_client.c: see owm_client.h.
 *
 * Responses are capped at OWM_PARSE_MAX_BODY: past it the write callback
 * refuses the data and curl aborts the transfer, so a hostile 20 MiB body
 * costs a megabyte at most.  Redirects are not followed.
 *
 * Why a warm-up request and not a bare connect: libcurl does not reuse a
 * CONNECT_ONLY connection for a later transfer, and a connection opened
 * by hand would still leave TLS to the slot.  The warm-up names no key,
 * so the API cannot count it against any account.
 *
 * Why CURLOPT_PREREQFUNCTION: it runs once per attempt to send a request,
 * after the connection is up (TCP and TLS) and before a byte of the
 * request is written, so it knows when a request leaves and whether it
 * left at all.  libcurl sends a request again, unasked, when a reused
 * connection turns out dead with no answer on it (up to five times, and
 * for a refused HTTP/2 stream too); the request may have reached the
 * server on the dead connection, and each send counts at the API.  No
 * option turns that off, so the second call of the callback refuses it.
 * A request that would leave after send_by is refused too: the slot's
 * arrival bound assumes none leaves later.
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "config.h"
#include "daemon.h"
#include "owm_client.h"

#define FRESH_US	1000000LL	/* connections used this recently
					 * are taken to be still open */

/* A call as the client runs it: what became of its sends. */
struct running {
	struct owm_call	*c;
	int64_t		 send_by;
	int		 refused;	/* REFUSED_* */
};
#define REFUSED_LATE	1	/* would have left after send_by */
#define REFUSED_AGAIN	2	/* libcurl's resend after a dead connection */

static const struct config	*cf;
static CURLM			*multi;
static CURL			*easy[OWM_CLIENT_MAX_CALLS];
static struct running		 run[OWM_CLIENT_MAX_CALLS];
static char			 base[600];
static int64_t			 last_used;	/* end of the last batch */
static size_t			 last_open;	/* connections it left open */

int
owm_client_init(const struct config *conf, char *err, size_t errlen)
{
	size_t	 n;
	int	 i;

	cf = conf;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		snprintf(err, errlen, "curl_global_init failed");
		return -1;
	}
	snprintf(base, sizeof(base), "%s", cf->owm.url);
	for (n = strlen(base); n > 0 && base[n - 1] == '/'; n--)
		base[n - 1] = '\0';
	if ((multi = curl_multi_init()) == NULL)
		goto fail;
	/* Room for a batch's connections between batches. */
	if (curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS,
	    (long)OWM_CLIENT_MAX_CALLS) != CURLM_OK)
		goto fail;
	for (i = 0; i < OWM_CLIENT_MAX_CALLS; i++)
		if ((easy[i] = curl_easy_init()) == NULL)
			goto fail;
	last_used = 0;
	last_open = 0;
	return 0;
fail:
	snprintf(err, errlen, "curl: cannot create handles");
	owm_client_free();
	return -1;
}

void
owm_client_free(void)
{
	int	 i;

	for (i = 0; i < OWM_CLIENT_MAX_CALLS; i++)
		if (easy[i]) {
			curl_easy_cleanup(easy[i]);
			easy[i] = NULL;
		}
	if (multi) {
		curl_multi_cleanup(multi);
		multi = NULL;
	}
	curl_global_cleanup();
}

static size_t
on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct owm_call *c = arg;

	buf_add(&c->body, p, size * nmemb);
	return c->body.failed ? 0 : size * nmemb;
}

/* The first header line is the answer's first byte: the request was in. */
static size_t
on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct owm_call *c = arg;

	(void)p;
	if (c->arrive == 0)
		c->arrive = daemon_mono_us();
	return size * nmemb;
}

/*
 * Every attempt to send a call's request: the first leaves (if in time)
 * and is stamped; another one is libcurl resending it, refused.
 */
static int
on_prereq(void *arg, char *ip, char *local_ip, int port, int local_port)
{
	struct running	*r = arg;
	int64_t		 now = daemon_mono_us();

	(void)ip;
	(void)local_ip;
	(void)port;
	(void)local_port;
	if (r->c->sent != 0) {
		r->refused = REFUSED_AGAIN;
		return CURL_PREREQFUNC_ABORT;
	}
	if (now > r->send_by) {
		r->refused = REFUSED_LATE;
		return CURL_PREREQFUNC_ABORT;
	}
	r->c->sent = now;
	return CURL_PREREQFUNC_OK;
}

static size_t
discard(char *p, size_t size, size_t nmemb, void *arg)
{
	(void)p;
	(void)arg;
	return size * nmemb;
}

/* Milliseconds from now until t, at least 1 (0 would mean "none"). */
static long
ms_until(int64_t t, int64_t now)
{
	return t - now > 1000 ? (long)((t - now) / 1000) : 1L;
}

/* What every request shares: protocols, TLS, timeouts. */
static int
common(CURL *h, const char *url, int64_t connect_by, int64_t end_by)
{
	int64_t	 now = daemon_mono_us();

	curl_easy_reset(h);
	if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L) ||
	    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L) ||
	    (cf->owm.ca_file[0] != '\0' &&
	    curl_easy_setopt(h, CURLOPT_CAINFO, cf->owm.ca_file)) ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    ms_until(connect_by, now)) ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms_until(end_by, now)) ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "owmcollect/1") ||
	    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L))
		return -1;
	return 0;
}

static int
setup(CURL *h, struct running *r, char *url, size_t urllen,
    int64_t connect_by, int64_t end_by)
{
	struct owm_call	*c = r->c;
	size_t		 i, n;

	n = (size_t)snprintf(url, urllen, "%s/%s?id=", base,
	    c->group ? "group" : "weather");
	for (i = 0; i < c->nids && n < urllen; i++)
		n += (size_t)snprintf(url + n, urllen - n, "%s%u",
		    i ? "," : "", c->ids[i]);
	if (n < urllen)
		n += (size_t)snprintf(url + n, urllen - n,
		    "&units=metric&appid=%s", cf->owm.key);
	if (n >= urllen)
		return -1;
	if (common(h, url, connect_by, end_by) == -1 ||
	    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) ||
	    curl_easy_setopt(h, CURLOPT_HEADERDATA, c) ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, c) ||
	    curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_prereq) ||
	    curl_easy_setopt(h, CURLOPT_PREREQDATA, r) ||
	    curl_easy_setopt(h, CURLOPT_PRIVATE, r))
		return -1;
	return 0;
}

static void
finish(struct running *r, CURL *h, CURLcode code)
{
	struct owm_call	*c = r->c;

	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
	if (code == CURLE_OK) {
		c->failed = 0;
		c->err[0] = '\0';
		return;
	}
	if (r->refused == REFUSED_AGAIN)
		snprintf(c->err, sizeof(c->err), "connection lost before an "
		    "answer (not sent again)");
	else if (r->refused == REFUSED_LATE)
		snprintf(c->err, sizeof(c->err), "not sent: connected after "
		    "its slot");
	else if (code == CURLE_WRITE_ERROR && c->body.failed)
		snprintf(c->err, sizeof(c->err), OWM_CLIENT_TOO_LARGE);
	else if (code == CURLE_OPERATION_TIMEDOUT)
		snprintf(c->err, sizeof(c->err), OWM_CLIENT_TIMEOUT);
	else
		snprintf(c->err, sizeof(c->err), "%s",
		    curl_easy_strerror(code));
}

/*
 * Drive the transfers added to the multi handle until all have ended or
 * until (when not 0); done() for each one that ended, with its result.
 * Returns how many ended well.
 */
static size_t
drive(int64_t until, void (*tick)(void),
    void (*done)(CURL *, CURLcode))
{
	CURLMsg		*msg;
	size_t		 ok = 0;
	int		 running, left, wait_ms;
	int64_t		 now;

	do {
		if (curl_multi_perform(multi, &running) != CURLM_OK)
			break;
		while ((msg = curl_multi_info_read(multi, &left)) != NULL)
			if (msg->msg == CURLMSG_DONE) {
				if (msg->data.result == CURLE_OK)
					ok++;
				if (done != NULL)
					done(msg->easy_handle,
					    msg->data.result);
			}
		if (!running)
			break;
		now = daemon_mono_us();
		if (until != 0 && now >= until)
			break;
		wait_ms = 1000;
		if (until != 0 && until - now < 1000000)
			wait_ms = (int)((until - now) / 1000) + 1;
		if (curl_multi_poll(multi, NULL, 0, wait_ms, NULL) != CURLM_OK)
			break;
		if (tick != NULL)
			tick();
	} while (running);
	return ok;
}

/*
 * The latest moment a call's request can have reached the server: the
 * first byte of its answer (on_header), else, once sent, owm.hold_ms
 * after it left (the server may still read it after we have gone),
 * else never.
 */
static void
arrival_bound(struct owm_call *c)
{
	if (c->arrive == 0 && c->sent != 0)
		c->arrive = c->sent + cf->owm.hold_ms * 1000;
}

static void
call_done(CURL *h, CURLcode code)
{
	struct running	*r = NULL;

	curl_easy_getinfo(h, CURLINFO_PRIVATE, (char **)&r);
	if (r == NULL)
		return;
	finish(r, h, code);
	arrival_bound(r->c);
}

void
owm_client_warm(size_t n, int64_t by, void (*tick)(void))
{
	char		 url[sizeof(base) + 16];
	size_t		 i, added = 0;
	int64_t		 now = daemon_mono_us();

	if (n > OWM_CLIENT_MAX_CALLS)
		n = OWM_CLIENT_MAX_CALLS;
	if (n == 0 || by <= now ||
	    (now - last_used < FRESH_US && last_open >= n))
		return;
	snprintf(url, sizeof(url), "%s/weather", base);
	for (i = 0; i < n; i++) {
		if (common(easy[i], url, by, by) == -1 ||
		    curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, discard) ||
		    curl_multi_add_handle(multi, easy[i]) != CURLM_OK)
			break;
		added++;
	}
	/* Connections not up by the slot are dropped with their handle:
	 * the calls then connect on their own, by send_by. */
	last_open = drive(by, tick, NULL);
	last_used = daemon_mono_us();
	for (i = 0; i < added; i++)
		curl_multi_remove_handle(multi, easy[i]);
}

void
owm_client_run(struct owm_call *calls, size_t n, int64_t connect_by,
    int64_t send_by, int64_t end_by, void (*tick)(void))
{
	static char	 url[OWM_CLIENT_MAX_CALLS][1024];
	struct owm_call	*c;
	size_t		 i;

	if (n > OWM_CLIENT_MAX_CALLS)
		n = OWM_CLIENT_MAX_CALLS;
	for (i = 0; i < n; i++) {
		c = &calls[i];
		c->status = 0;
		c->sent = 0;
		c->arrive = 0;
		c->failed = 1;		/* until curl says it ended well */
		snprintf(c->err, sizeof(c->err), "no answer");
		if (c->body.limit == 0)
			buf_init(&c->body, OWM_PARSE_MAX_BODY);
		buf_reset(&c->body);
		run[i].c = c;
		run[i].send_by = send_by;
		run[i].refused = 0;
		if (setup(easy[i], &run[i], url[i], sizeof(url[i]), connect_by,
		    end_by) == -1 ||
		    curl_multi_add_handle(multi, easy[i]) != CURLM_OK)
			snprintf(c->err, sizeof(c->err), "cannot set up call");
	}
	last_open = drive(0, tick, call_done);
	last_used = daemon_mono_us();
	for (i = 0; i < n; i++) {
		curl_multi_remove_handle(multi, easy[i]);
		/* One that never ran: 0, or its send's bound. */
		arrival_bound(&calls[i]);
	}
}
