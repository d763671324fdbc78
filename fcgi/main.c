/*
 * main.c: owmcollect-fcgi, the FastCGI program behind nginx.
 *
 * It owns its unix socket (mode 0660, group http.socket_group), preforks
 * http.processes children through lib/supervise.c, and each child serves
 * requests one at a time with its own database connection.  A child that
 * gets SIGTERM while idle exits at once; one busy with a request finishes
 * it first.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "config.h"
#include "daemon.h"
#include "handlers.h"
#include "json.h"
#include "log.h"
#include "store.h"
#include "supervise.h"

static struct config		 conf;
static int			 listen_fd = -1;
static volatile sig_atomic_t	 quit, busy;

static int
listen_unix(const char *path, const char *group)
{
	struct sockaddr_un sun;
	struct group	*gr;
	mode_t		 old;
	int		 fd, probe;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		fatalx(2, "http.socket: path too long (%zu bytes, at most "
		    "%zu): %s", strlen(path), sizeof(sun.sun_path) - 1, path);
	strcpy(sun.sun_path, path);

	/* A socket that still answers belongs to a running instance. */
	if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal(1, "socket");
	if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		fatalx(1, "%s: another owmcollect-fcgi is listening there",
		    path);
	close(probe);
	if (unlink(path) == -1 && errno != ENOENT)
		fatal(1, "unlink %s", path);

	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		fatal(1, "socket");
	old = umask(0117);		/* born 0660: never world-writable */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal(1, "bind %s", path);
	umask(old);
	if (group[0]) {
		if ((gr = getgrnam(group)) == NULL)
			fatalx(2, "http.socket_group: no group named %s",
			    group);
		if (chown(path, (uid_t)-1, gr->gr_gid) == -1)
			fatal(1, "chown %s to group %s", path, group);
	}
	if (listen(fd, 1024) == -1)
		fatal(1, "listen %s", path);
	return fd;
}

static void
on_term(int sig)
{
	(void)sig;
	quit = 1;
	if (!busy)
		_exit(0);
}

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 503: return "Service Unavailable";
	default:  return "Internal Server Error";
	}
}

/* Read the body as announced by CONTENT_LENGTH, up to http.max_body. */
static void
read_body(FCGX_Request *fr, struct http_req *rq, char *body, size_t cap)
{
	const char	*cl = FCGX_GetParam("CONTENT_LENGTH", fr->envp);
	uint64_t	 want;
	size_t		 got = 0;
	int		 n;

	rq->body = body;
	rq->body_len = 0;
	if (cl == NULL || cl[0] == '\0')
		return;
	if (num_parse_u64(cl, strlen(cl), UINT64_MAX, &want) == -1 ||
	    want > cap) {
		rq->body_too_large = 1;
		return;
	}
	while (got < want) {
		n = FCGX_GetStr(body + got, (int)(want - got), fr->in);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	rq->body_len = got;
	rq->body_truncated = got < want;
}

/* libfcgi's FCGX_FPrintF knows no %zu: format the head ourselves. */
static void
respond(FCGX_Request *fr, const struct http_resp *rs, int head)
{
	char	 h[1024];
	int	 n;

	n = snprintf(h, sizeof(h), "Status: %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "%s\r\n", rs->status, reason(rs->status),
	    rs->content_type ? rs->content_type :
	    "application/json; charset=utf-8", rs->body->len, rs->headers);
	if (n < 0 || (size_t)n >= sizeof(h))
		n = snprintf(h, sizeof(h), "Status: 503 Service Unavailable"
		    "\r\nContent-Length: 0\r\n\r\n"), head = 1;
	FCGX_PutStr(h, n, fr->out);
	if (!head && rs->body->len)
		FCGX_PutStr(rs->body->data, (int)rs->body->len, fr->out);
}

static int
child_main(int slot, int restarts)
{
	static struct buf body;
	struct sigaction sa;
	FCGX_Request	 fr;
	struct http_req	 rq;
	struct http_resp rs;
	char		*in;

	(void)slot;
	(void)restarts;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;	/* no SA_RESTART: accept must wake */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	if ((in = malloc((size_t)conf.http.max_body)) == NULL)
		fatal(1, "malloc");
	buf_init(&body, 0);
	handlers_init(&conf);
	store_init(&conf);
	if (FCGX_InitRequest(&fr, listen_fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0)
		fatalx(1, "FCGX_InitRequest failed");

	while (!quit) {
		if (FCGX_Accept_r(&fr) < 0) {
			if (quit)
				break;
			continue;
		}
		busy = 1;
		memset(&rq, 0, sizeof(rq));
		rq.method = FCGX_GetParam("REQUEST_METHOD", fr.envp);
		rq.path = FCGX_GetParam("DOCUMENT_URI", fr.envp);
		rq.query = FCGX_GetParam("QUERY_STRING", fr.envp);
		rq.content_type = FCGX_GetParam("CONTENT_TYPE", fr.envp);
		rq.authorization = FCGX_GetParam("HTTP_AUTHORIZATION",
		    fr.envp);
		if (rq.method && strcmp(rq.method, "POST") == 0)
			read_body(&fr, &rq, in, (size_t)conf.http.max_body);
		rs.body = &body;
		handle(&rq, &rs);
		respond(&fr, &rs, rq.method && strcmp(rq.method, "HEAD") == 0);
		FCGX_Finish_r(&fr);
		busy = 0;
	}
	store_close();
	return 0;
}

static int
nchildren(void)
{
	return (int)conf.http.processes;
}

static int
stop_seconds(void)
{
	return 10;
}

static int
reload(void)
{
	struct config	 next;

	if (daemon_reload(&next) == -1)
		return -1;
	if (strcmp(next.http.socket, conf.http.socket) != 0)
		log_warnx("http.socket changed: takes effect at restart");
	config_free(&conf);
	conf = next;
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct supervise_ops ops = {
		.child_name = "process",
		.nchildren = nchildren,
		.stop_seconds = stop_seconds,
		.child_main = child_main,
		.reload = reload,
	};
	int	 rc;

	daemon_start(argc, argv, "owmcollect-fcgi", &conf);
	if (FCGX_Init() != 0)
		fatalx(1, "FCGX_Init failed");
	listen_fd = listen_unix(conf.http.socket, conf.http.socket_group);
	log_info("listening on %s with %lld processes", conf.http.socket,
	    conf.http.processes);
	rc = supervise(&ops);
	unlink(conf.http.socket);
	config_free(&conf);
	return rc;
}
