/*
 * owm_client.c: see owm_client.h.
 *
 * Responses are capped at OWM_PARSE_MAX_BODY: past it the write callback
 * refuses the data and curl aborts the transfer, so a hostile 20 MiB body
 * costs a megabyte at most.  Redirects are not followed.
 */
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "config.h"
#include "owm_client.h"

static const struct config	*cf;
static CURLM			*multi;
static CURL			*easy[OWM_CLIENT_MAX_CALLS];
static char			 base[600];

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
	for (i = 0; i < OWM_CLIENT_MAX_CALLS; i++)
		if ((easy[i] = curl_easy_init()) == NULL)
			goto fail;
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

static int
setup(CURL *h, struct owm_call *c, char *url, size_t urllen)
{
	size_t	 i, n;

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
	curl_easy_reset(h);
	if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)cf->owm.connect_timeout_ms) ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)cf->owm.timeout_ms) ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "owmcollect/1") ||
	    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data) ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, c) ||
	    curl_easy_setopt(h, CURLOPT_PRIVATE, c))
		return -1;
	return 0;
}

static void
finish(struct owm_call *c, CURL *h, CURLcode code)
{
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
	if (code == CURLE_OK) {
		c->failed = 0;
		c->err[0] = '\0';
		return;
	}
	if (code == CURLE_WRITE_ERROR && c->body.failed)
		snprintf(c->err, sizeof(c->err), "response too large");
	else if (code == CURLE_OPERATION_TIMEDOUT)
		snprintf(c->err, sizeof(c->err), "timeout");
	else
		snprintf(c->err, sizeof(c->err), "%s",
		    curl_easy_strerror(code));
}

void
owm_client_run(struct owm_call *calls, size_t n, void (*tick)(void))
{
	static char	 url[OWM_CLIENT_MAX_CALLS][1024];
	struct owm_call	*c;
	CURLMsg		*msg;
	size_t		 i;
	int		 running, left;

	if (n > OWM_CLIENT_MAX_CALLS)
		n = OWM_CLIENT_MAX_CALLS;
	for (i = 0; i < n; i++) {
		c = &calls[i];
		c->status = 0;
		c->failed = 1;		/* until curl says it ended well */
		snprintf(c->err, sizeof(c->err), "no answer");
		if (c->body.limit == 0)
			buf_init(&c->body, OWM_PARSE_MAX_BODY);
		buf_reset(&c->body);
		if (setup(easy[i], c, url[i], sizeof(url[i])) == -1 ||
		    curl_multi_add_handle(multi, easy[i]) != CURLM_OK)
			snprintf(c->err, sizeof(c->err), "cannot set up call");
	}
	do {
		if (curl_multi_perform(multi, &running) != CURLM_OK)
			break;
		if (running && curl_multi_poll(multi, NULL, 0, 1000, NULL) !=
		    CURLM_OK)
			break;
		if (tick != NULL)
			tick();
	} while (running);
	while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		c = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE,
		    (char **)&c);
		if (c != NULL)
			finish(c, msg->easy_handle, msg->data.result);
	}
	for (i = 0; i < n; i++)
		curl_multi_remove_handle(multi, easy[i]);
}
