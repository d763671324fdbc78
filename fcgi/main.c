/*
 * main.c: owmcollect-fcgi, the FastCGI program behind nginx.
 *
 * It owns its unix socket (mode 0660, group http.socket_group), preforks
 * http.processes children through lib/supervise.c, and each child serves
 * requests one at a time with its own database connection.
 *
 * A connection a child accepts is served to the end.  SIGTERM and SIGINT
 * stay blocked in a child except while it waits in ppoll(2) for the
 * listening socket (non-blocking, shared by every child) to be readable,
 * so the handler only sets quit and no signal interrupts an accept, the
 * reading of a request (libfcgi drops a connection whose first read fails,
 * EINTR included), the database or the answer.  A child told to quit
 * accepts nothing more: on a reload (SIGHUP to the supervisor rolls the
 * children) what waits on the socket is for the new children.  A stop
 * first unlinks the socket's path, so that nothing new can come, and a
 * child that finds the path no longer ours serves what is already queued,
 * since no one else will.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "admit.h"
#include "answers.h"
#include "config.h"
#include "daemon.h"
#include "db.h"
#include "handlers.h"
#include "log.h"
#include "parse.h"
#include "store.h"
#include "supervise.h"

#define LISTEN_BACKLOG	1024	/* nginx's connections while children roll */
#define STOP_GRACE_S	10	/* a child still busy then is killed */
#define IDLE_TRIM_S	1	/* idle this long after serving: trim */

static struct config		 conf;
static int			 listen_fd = -1;
static struct sockaddr_un	 sock_sun;	/* the path bound ... */
static struct stat		 sock_st;	/* ... and what it named then */
static volatile sig_atomic_t	 quit;

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

	/* Non-blocking: a child whose wake-up another child's accept
	 * answered goes back to waiting instead of blocking in accept. */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		fatal(1, "socket");
	old = umask(0117);		/* born 0660: never world-writable */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		fatal(1, "bind %s", path);
	umask(old);
	sock_sun = sun;
	if (stat(path, &sock_st) == -1)
		fatal(1, "stat %s", path);
	if (group[0]) {
		if ((gr = getgrnam(group)) == NULL)
			fatalx(2, "http.socket_group: no group named %s",
			    group);
		if (chown(path, (uid_t)-1, gr->gr_gid) == -1)
			fatal(1, "chown %s to group %s", path, group);
	}
	if (listen(fd, LISTEN_BACKLOG) == -1)
		fatal(1, "listen %s", path);
	return fd;
}

/* Whether the socket's path still names the socket this program bound. */
static int
sock_ours(void)
{
	struct stat	 st;

	return stat(sock_sun.sun_path, &st) == 0 &&
	    st.st_dev == sock_st.st_dev &&
	    st.st_ino == sock_st.st_ino;
}

/* Once, at a stop or at the end; never a newer instance's socket. */
static void
sock_unlink(void)
{
	static int	 done;

	if (!done && sock_ours() && unlink(sock_sun.sun_path) == -1)
		log_warn("unlink %s", sock_sun.sun_path);
	done = 1;
}

static void
on_term(int sig)
{
	(void)sig;
	quit = 1;
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

/*
 * Read the body as announced by CONTENT_LENGTH, up to http.max_body: a
 * larger one is refused unread (413), and so is a CONTENT_LENGTH that is
 * no decimal number (400; nginx sends none such, another server might).
 */
static void
read_body(FCGX_Request *fr, struct http_req *rq, char *body, size_t cap)
{
	const char	*cl = FCGX_GetParam("CONTENT_LENGTH", fr->envp);
	const char	*why;
	uint64_t	 want;
	size_t		 got = 0;
	int		 n, rc;

	rq->body = body;
	rq->body_len = 0;
	if (cl == NULL || cl[0] == '\0')
		return;
	if ((rc = parse_content_length(cl, strlen(cl), cap, &want,
	    &why)) == PARSE_LEN_OVER) {
		rq->body_too_large = 1;
		return;
	}
	if (rc == -1) {
		rq->body_refused = why;
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
	char	 h[2048];	/* the extra headers' 1024 and ours */
	int	 n, status = rs->status;

	n = snprintf(h, sizeof(h), "Status: %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "%s\r\n", rs->status, reason(rs->status),
	    rs->content_type ? rs->content_type :
	    "application/json; charset=utf-8", rs->body->len, rs->headers);
	if (n < 0 || (size_t)n >= sizeof(h))
		n = snprintf(h, sizeof(h), "Status: 503 Service Unavailable"
		    "\r\nContent-Length: 0\r\n\r\n"), head = 1, status = 503;
	answers_count(status);
	FCGX_PutStr(h, n, fr->out);
	if (!head && rs->body->len)
		FCGX_PutStr(rs->body->data, (int)rs->body->len, fr->out);
}

/*
 * Wait for a connection on the listening socket with mask (SIGTERM and
 * SIGINT unblocked): 1 when one is queued, 0 when told to quit.  A
 * process that served since it last went idle and now waits IDLE_TRIM
 * frees its answer buffer (body) and the answers it keeps for the next
 * GETs (handlers_idle), and gives malloc's free pages back to the
 * kernel: what a burst of requests left stays dirty, in each process,
 * until then (under load no process waits that long, so the load never
 * pays for it).
 */
static int
wait_conn(const sigset_t *mask, int *served, struct buf *body)
{
	static const struct timespec idle = { IDLE_TRIM_S, 0 };
	struct pollfd	 pfd;
	int		 n;

	pfd.fd = listen_fd;
	pfd.events = POLLIN;
	while (!quit) {
		n = ppoll(&pfd, 1, *served ? &idle : NULL, mask);
		if (n > 0 && !quit)
			return 1;
		if (n == 0) {
			buf_free(body);
			handlers_idle();
			(void)malloc_trim(0);
			*served = 0;
		}
		if (n == -1 && errno != EINTR)
			fatal(1, "ppoll");
	}
	return 0;
}

/*
 * Accept one queued connection and serve it to the end: 0, or -1 when
 * none was waiting (another child took it) or it could not be read.
 */
static int
serve(FCGX_Request *fr, char *in, struct buf *body)
{
	struct http_req	 rq;
	struct http_resp rs;

	if (FCGX_Accept_r(fr) < 0)
		return -1;
	memset(&rq, 0, sizeof(rq));
	rq.method = FCGX_GetParam("REQUEST_METHOD", fr->envp);
	rq.path = FCGX_GetParam("DOCUMENT_URI", fr->envp);
	rq.query = FCGX_GetParam("QUERY_STRING", fr->envp);
	rq.content_type = FCGX_GetParam("CONTENT_TYPE", fr->envp);
	rq.authorization = FCGX_GetParam("HTTP_AUTHORIZATION", fr->envp);
	if (rq.method && strcmp(rq.method, "POST") == 0)
		read_body(fr, &rq, in, (size_t)conf.http.max_body);
	rs.body = body;
	handle(&rq, &rs);
	respond(fr, &rs, rq.method && strcmp(rq.method, "HEAD") == 0);
	FCGX_Finish_r(fr);
	buf_reset(body);	/* a big answer's storage goes back now */
	return 0;
}

static int
child_main(int slot, int restarts)
{
	static struct buf body;
	sigset_t	 term, waiting;
	FCGX_Request	 fr;
	char		*in;
	int		 served = 0;

	(void)slot;
	(void)restarts;
	daemon_child_signals(on_term);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	sigprocmask(SIG_BLOCK, &term, &waiting);
	sigdelset(&waiting, SIGTERM);
	sigdelset(&waiting, SIGINT);

	if ((in = malloc((size_t)conf.http.max_body)) == NULL)
		fatal(1, "malloc");
	buf_init(&body, 0);
	(void)handlers_init(&conf);	/* a database down now is fine */
	/* nginx keeps no FastCGI connection open (no fastcgi_keep_conn):
	 * every request is a connection of its own from the socket. */
	if (FCGX_InitRequest(&fr, listen_fd, 0) != 0)
		fatalx(1, "FCGX_InitRequest failed");

	while (wait_conn(&waiting, &served, &body))
		served |= serve(&fr, in, &body) == 0;
	if (!sock_ours())		/* a stop: drain the queue */
		while (serve(&fr, in, &body) == 0)
			;
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
	return STOP_GRACE_S;
}

static int
reload(void)
{
	struct config	 next;

	if (daemon_reload(&next) == -1)
		return -1;
	if (strcmp(next.http.socket, conf.http.socket) != 0)
		log_warnx("http.socket changed: takes effect at restart");
	if (next.http.posts_while_behind != conf.http.posts_while_behind)
		log_warnx("http.posts_while_behind changed: takes effect at "
		    "restart");
	config_free(&conf);
	conf = next;
	return 0;
}

/*
 * A server too old (or not MariaDB) is a bad configuration: exit 2, never
 * respawned, with the sentence that says which.  One connection, closed
 * before the children start; one that does not answer now is no verdict
 * (each child checks the server it reaches).
 */
static void
server_check(void)
{
	char	 why[256];

	if (db_start_check(&conf, why, sizeof(why)) == -1)
		fatalx(2, "%s", why);
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
		.on_stopping = sock_unlink,
	};
	int	 rc;

	daemon_start(argc, argv, "owmcollect-fcgi", &conf);
	server_check();
	if (FCGX_Init() != 0)
		fatalx(1, "FCGX_Init failed");
	listen_fd = listen_unix(conf.http.socket, conf.http.socket_group);
	if (answers_init() == -1)
		fatal(1, "mmap");
	/* Without its semaphore the program still serves, as with 0. */
	if (admit_init((int)conf.http.posts_while_behind) == -1)
		log_warn("http.posts_while_behind: no semaphore, POSTs will "
		    "not give way to the worker");
	log_info("listening on %s with %lld processes", conf.http.socket,
	    conf.http.processes);
	rc = supervise(&ops);
	sock_unlink();
	admit_free();
	config_free(&conf);
	return rc;
}
