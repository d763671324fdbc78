#!/usr/bin/env bash
# tests/stack.sh: the local owmcollect stack, used by `make run/start/stop/
# status` and by the integration tests (each in its own VAR and ports).
#
#   stack.sh start | stop | status | run | mysql | start-one fcgi|worker|mysqld
#
# Environment: VAR (state dir, default ./var), PORT (nginx, 8080), DB_PORT
# (MariaDB on 127.0.0.1, 3307), B (build dir), CONF (etc/owmcollect.conf),
# POST_RATE (nginx's limit on POST /collect per client address, a second;
# burst twice that; 2000),
# and any OWMCOLLECT_* setting, which reaches the programs.
#
# Everything it starts leaves a pid file in $VAR/run; stop signals exactly
# those pids (after checking each still runs the program it started).
# Daemons run in their own sessions (setsid), so a Ctrl-C reaches only this
# script, which then stops them in order.
#
# A clone may live anywhere, /root or a mode-0700 home included, and
# nothing here chmods it.  As an ordinary user everything runs as that
# user, so nginx's files stay in $VAR/nginx.  As root, nginx's workers run
# as www-data and must not need to enter the clone or VAR: what they touch
# (the cache, the temp files, a copy of nginx/www and the FastCGI socket)
# goes in a private directory, root:www-data 0750, made at each start as
# /run/owmcollect-nginx.XXXXXXXX (/tmp/... when /run is not writable) and
# named in $VAR/run/nginx.dir; stop removes it.  $VAR/run/fcgi.sock then
# links to the socket there.  nginx's master (root) reads the
# configuration and writes the logs and its pid file under VAR.
set -euo pipefail
# nginx and mariadbd are in /usr/sbin, not in an ordinary user's PATH.
PATH=$PATH:/usr/sbin:/sbin

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VAR=${VAR:-$ROOT/var}
PORT=${PORT:-8080}
DB_PORT=${DB_PORT:-3307}
B=${B:-build}
case $B in /*) ;; *) B=$ROOT/$B ;; esac
CONF=${CONF:-$ROOT/etc/owmcollect.conf}
POST_RATE=${POST_RATE:-2000}
[[ $POST_RATE =~ ^[1-9][0-9]{0,5}$ ]] || { echo "stack: POST_RATE must be 1-999999" >&2; exit 1; }
RUN=$VAR/run
LOG=$VAR/log
MYCNF=$VAR/mysql/my.cnf
SOCK=$RUN/mysqld.sock
ME=$(id -un)
AS_ROOT=0
[ "$(id -u)" = 0 ] && AS_ROOT=1
WEB_USER=www-data		# nginx's workers when root
WEBDIR_FILE=$RUN/nginx.dir

STARTING=0
say() { printf '%s\n' "$*"; }
# A failed start stops whatever it had started: no half-running stack.
die() {
	printf 'stack: %s\n' "$*" >&2
	if [ "$STARTING" = 1 ]; then STARTING=0; do_stop >/dev/null 2>&1 || true; fi
	exit 1
}
# However the start ends early (a command failing under set -e, a signal),
# the same: the EXIT trap stops what it started, by pid file.
on_exit() {
	local rc=$?
	if [ "$STARTING" = 1 ]; then
		STARTING=0
		printf 'stack: start failed (exit %s): stopping what it started\n' "$rc" >&2
		do_stop >/dev/null 2>&1 || true
	fi
}
trap on_exit EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# The size of a log now, and whether what it got since says a server could
# not bind its port (nginx, MariaDB and Python all say it so).
log_mark() { stat -c %s "$1" 2>/dev/null || echo 0; }
port_taken() {
	[ -f "$1" ] && tail -c +"$(( $2 + 1 ))" "$1" | grep -q 'Address already in use'
}
# What wait_for says when the server it waits for failed: set by each
# start_* before it waits (log file, its mark, the port it listens on).
FAIL_LOG="" FAIL_MARK=0 FAIL_PORT=""
failed_why() {
	if [ -n "$FAIL_PORT" ] && port_taken "$FAIL_LOG" "$FAIL_MARK"; then
		printf ': port %s is in use' "$FAIL_PORT"
	fi
}

# pid from a pid file if that process is alive and runs $2.
live_pid() {
	local f=$RUN/$1.pid pid
	[ -s "$f" ] || return 1
	pid=$(cat "$f" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2" || return 1
	echo "$pid"
}

# The directory nginx's workers use (WEB) and the FastCGI socket.  As root:
# the private directory named in $RUN/nginx.dir, if it is one this script
# made (named as it names them, a directory and not a link, ours); empty
# before the first start.
recorded_webdir() {
	local d
	[ -s "$WEBDIR_FILE" ] || return 1
	d=$(cat "$WEBDIR_FILE" 2>/dev/null) || return 1
	[[ $d =~ ^/(run|tmp)/owmcollect-nginx\.[A-Za-z0-9]{8}$ ]] || return 1
	[ -d "$d" ] && [ ! -L "$d" ] && [ -O "$d" ] || return 1
	echo "$d"
}
if [ "$AS_ROOT" = 1 ]; then
	WEB=$(recorded_webdir) || WEB=""
	FCGI_SOCK=${WEB:+$WEB/fcgi.sock}
else
	WEB=$VAR/nginx
	FCGI_SOCK=$RUN/fcgi.sock
fi

# As root, at each start: a new private directory for nginx's workers.
make_webdir() {
	local base=/run d old
	getent group "$WEB_USER" >/dev/null ||
	    die "no group $WEB_USER: nginx's workers run as $WEB_USER when root"
	if old=$(recorded_webdir); then rm -rf -- "$old"; fi
	rm -f "$WEBDIR_FILE"
	[ -d /run ] && [ -w /run ] || base=/tmp
	d=$(mktemp -d "$base/owmcollect-nginx.XXXXXXXX") ||
	    die "cannot make a directory for nginx under $base"
	echo "$d" > "$WEBDIR_FILE"
	chgrp "$WEB_USER" "$d" && chmod 0750 "$d" &&
	    install -d -m 0750 -g "$WEB_USER" "$d/tmp" &&
	    cp -R "$ROOT/nginx/www" "$d/www" &&
	    chgrp -R "$WEB_USER" "$d/www" && chmod -R u=rwX,g=rX,o= "$d/www" ||
	    die "cannot prepare $d for nginx"
	WEB=$d
	FCGI_SOCK=$d/fcgi.sock
	ln -sfn "$FCGI_SOCK" "$RUN/fcgi.sock"	# where it is without root
}

remove_webdir() {
	local d
	if [ "$AS_ROOT" = 1 ]; then
		if d=$(recorded_webdir); then rm -rf -- "$d"; fi
		rm -f "$WEBDIR_FILE" "$RUN/fcgi.sock"
	else
		rm -f "$FCGI_SOCK"
	fi
}

# Stop one component: TERM, wait up to $3 s, then KILL.
stop_one() {
	local name=$1 match=$2 wait=${3:-15} pid i
	pid=$(live_pid "$name" "$match") || { rm -f "$RUN/$name.pid"; return 0; }
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < wait * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		say "$name (pid $pid) did not stop in ${wait}s: killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$RUN/$name.pid"
}

# wait_for SECONDS DESCRIPTION PID COMMAND...: until COMMAND succeeds,
# giving up early if PID (when not empty) has died.
wait_for() {
	local secs=$1 what=$2 pid=$3 i
	shift 3
	for ((i = 0; i < secs * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			die "$what exited during start-up$(failed_why) (logs in $LOG)"
		fi
		sleep 0.1
	done
	die "$what did not come up within ${secs}s$(failed_why) (logs in $LOG)"
}

db_admin() { mariadb --no-defaults --socket="$SOCK" -u"$ME" "$@"; }

# Query a setting in effect (config file + environment) from the program.
setting() { "$B/owmcollect-fcgi" -c "$CONF" -t | sed -n "s/^$1 = //p" | tr -d '"'; }

start_db() {
	mkdir -p "$VAR/mysql" "$VAR/mysql/tmp" "$RUN" "$LOG"
	cat > "$MYCNF" <<-CNF
	[mysqld]
	user = $ME
	datadir = $VAR/mysql/data
	socket = $SOCK
	pid-file = $RUN/mysqld.pid
	tmpdir = $VAR/mysql/tmp
	port = $DB_PORT
	bind-address = 127.0.0.1
	log-error = $LOG/mysqld.err
	skip-name-resolve
	character-set-server = utf8mb4
	collation-server = utf8mb4_unicode_ci
	transaction-isolation = READ-COMMITTED
	innodb_buffer_pool_size = 128M
	innodb_log_file_size = 64M
	innodb_flush_log_at_trx_commit = 1
	innodb_lock_wait_timeout = 5
	performance_schema = OFF
	max_connections = 300
	CNF
	if [ ! -d "$VAR/mysql/data" ]; then
		# Into a scratch dir first: an interrupted first start must not
		# leave a half-initialised datadir behind.
		say "initialising MariaDB in $VAR/mysql/data"
		rm -rf "$VAR/mysql/data.init"
		mariadb-install-db --defaults-file="$MYCNF" \
		    --datadir="$VAR/mysql/data.init" \
		    --auth-root-authentication-method=socket --skip-test-db \
		    > "$LOG/mysql-install.log" 2>&1 ||
		    die "mariadb-install-db failed: see $LOG/mysql-install.log"
		mv "$VAR/mysql/data.init" "$VAR/mysql/data"
	fi
	FAIL_LOG=$LOG/mysqld.err FAIL_MARK=$(log_mark "$LOG/mysqld.err") FAIL_PORT=$DB_PORT
	setsid mariadbd --defaults-file="$MYCNF" >> "$LOG/mysqld.out" 2>&1 &
	echo $! > "$RUN/mysqld.pid"	# mariadbd writes the same pid there too
	wait_for 120 MariaDB $! mariadb-admin --no-defaults --socket="$SOCK" -u"$ME" ping
	FAIL_PORT=""
}

apply_schema() {
	local pw db
	db=$(setting mysql.database)
	mkdir -p "$VAR/secrets"
	chmod 700 "$VAR/secrets"
	if [ ! -s "$VAR/secrets/mysql-password" ]; then
		(umask 077; head -c 18 /dev/urandom | base64 | tr '+/' '-_' \
		    > "$VAR/secrets/mysql-password")
	fi
	pw=$(cat "$VAR/secrets/mysql-password")
	db_admin -e "CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4"
	db_admin "$db" < "$ROOT/etc/schema.sql"
	# The password goes through stdin, never through arguments.
	db_admin <<-SQL
	CREATE USER IF NOT EXISTS 'owmcollect'@'localhost' IDENTIFIED BY '$pw';
	CREATE USER IF NOT EXISTS 'owmcollect'@'127.0.0.1' IDENTIFIED BY '$pw';
	ALTER USER 'owmcollect'@'localhost' IDENTIFIED BY '$pw';
	ALTER USER 'owmcollect'@'127.0.0.1' IDENTIFIED BY '$pw';
	GRANT SELECT, INSERT, UPDATE, DELETE ON \`$db\`.* TO 'owmcollect'@'localhost';
	GRANT SELECT, INSERT, UPDATE, DELETE ON \`$db\`.* TO 'owmcollect'@'127.0.0.1';
	SQL
}

start_standin() {
	local key limit
	rm -f "$RUN/standin.port"
	(umask 077; head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' \
	    > "$VAR/secrets/standin-key")
	key=$(cat "$VAR/secrets/standin-key")
	limit=$(setting owm.cities_per_minute)
	FAIL_LOG=$LOG/standin.log FAIL_MARK=$(log_mark "$LOG/standin.log") FAIL_PORT=${STANDIN_PORT:-}
	OWM_STANDIN_KEY=$key setsid python3 "$ROOT/tests/standin/owm_standin.py" \
	    --listen "127.0.0.1:${STANDIN_PORT:-0}" --log "$LOG/standin-access.log" \
	    --pidfile "$RUN/standin.pid" --ready-file "$RUN/standin.port" \
	    --limit "$limit" >> "$LOG/standin.log" 2>&1 &
	echo $! > "$RUN/standin.pid"
	wait_for 60 "the API stand-in" $! test -s "$RUN/standin.port"
	FAIL_PORT=""
	say "owm.key is empty: using the local API stand-in at 127.0.0.1:$(tr -d ' \n' < "$RUN/standin.port")"
}

# The environment the programs get: where the database is, its password,
# the socket, and the stand-in when it stands in for the API.
program_env() {
	# Set, even empty, by the caller: kept (empty: TCP to mysql.host and
	# mysql.port, as a test's proxy in front of this MariaDB asks).
	export OWMCOLLECT_MYSQL_SOCKET=${OWMCOLLECT_MYSQL_SOCKET-$SOCK}
	export OWMCOLLECT_MYSQL_PASSWORD
	OWMCOLLECT_MYSQL_PASSWORD=$(cat "$VAR/secrets/mysql-password")
	if [ -n "$FCGI_SOCK" ]; then
		export OWMCOLLECT_HTTP_SOCKET=$FCGI_SOCK
	fi
	if [ "$AS_ROOT" = 1 ]; then
		export OWMCOLLECT_HTTP_SOCKET_GROUP=$WEB_USER
	fi
	if live_pid standin owm_standin >/dev/null; then
		export OWMCOLLECT_OWM_URL="http://127.0.0.1:$(tr -d ' \n' < "$RUN/standin.port")/data/2.5"
		export OWMCOLLECT_OWM_KEY
		OWMCOLLECT_OWM_KEY=$(cat "$VAR/secrets/standin-key")
	fi
}

start_fcgi() {
	setsid "$B/owmcollect-fcgi" -c "$CONF" >> "$LOG/fcgi.log" 2>&1 &
	echo $! > "$RUN/fcgi.pid"
	wait_for 60 owmcollect-fcgi $! test -S "$FCGI_SOCK"
}

start_worker() {
	[ -x "$B/owmcollect-worker" ] || return 0
	setsid "$B/owmcollect-worker" -c "$CONF" >> "$LOG/worker.log" 2>&1 &
	echo $! > "$RUN/worker.pid"
}

start_nginx() {
	local user="" www=$ROOT/nginx/www
	mkdir -p "$VAR/nginx" "$WEB/tmp"
	if [ "$AS_ROOT" = 1 ]; then
		user="user $WEB_USER;"
		www=$WEB/www
	fi
	sed -e "s|@LISTEN@|127.0.0.1:$PORT|" -e "s|@SOCKET@|$FCGI_SOCK|" \
	    -e "s|@CACHE@|$WEB/cache|" -e "s|@WWW@|$www|" \
	    -e "s|@POST_RATE@|$POST_RATE|" -e "s|@POST_BURST@|$((POST_RATE * 2))|" \
	    "$ROOT/nginx/owmcollect-site.conf.in" > "$VAR/nginx/owmcollect-site.conf"
	sed -e "s|@VAR@|$VAR|g" -e "s|@WEB@|$WEB|g" -e "s|@USER@|$user|" \
	    "$ROOT/nginx/nginx.conf.in" > "$VAR/nginx/nginx.conf"
	# -e: nginx's start-up messages go to our log, not to /var/log/nginx
	# (which an ordinary user cannot open).
	nginx -q -e "$LOG/nginx-error.log" -p "$VAR/nginx" -c "$VAR/nginx/nginx.conf" -t ||
	    die "nginx configuration test failed"
	# nginx binds its port before it becomes a daemon: when it cannot,
	# this command fails.
	FAIL_LOG=$LOG/nginx-error.log FAIL_MARK=$(log_mark "$LOG/nginx-error.log") FAIL_PORT=$PORT
	setsid nginx -e "$LOG/nginx-error.log" -p "$VAR/nginx" -c "$VAR/nginx/nginx.conf" ||
	    die "nginx did not start$(failed_why) (logs in $LOG)"
	wait_for 60 nginx "" test -s "$RUN/nginx.pid"
	wait_for 60 "the HTTP API" "" sh -c "curl -s -o /dev/null -w '%{http_code}' \
	    'http://127.0.0.1:$PORT/get' | grep -q 400"
	FAIL_PORT=""
}

running() {
	local n
	for n in "nginx:nginx" "fcgi:owmcollect-fcgi" "worker:owmcollect-worker" \
	    "standin:owm_standin" "mysqld:mariadbd"; do
		live_pid "${n%%:*}" "${n#*:}" >/dev/null && return 0
	done
	return 1
}

do_start() {
	[ -x "$B/owmcollect-fcgi" ] || die "$B/owmcollect-fcgi is not built: run make"
	[ -s "$ROOT/nginx/www/vendor/d3-geo.min.js" ] ||
	    die "the status page's map files (nginx/www/vendor/) are not built: run make"
	if running; then
		say "owmcollect is already running in $VAR (make stop first); nothing started"
		return 0
	fi
	STARTING=1
	mkdir -p "$RUN" "$LOG"
	"$B/owmcollect-fcgi" -c "$CONF" -t >/dev/null || die "bad configuration"
	start_db
	apply_schema
	if [ "$(setting owm.key)" = "(empty)" ]; then
		start_standin
	fi
	if [ "$AS_ROOT" = 1 ]; then
		make_webdir
		say "nginx's workers run as $WEB_USER; their files and the FastCGI socket: $WEB"
	fi
	program_env
	start_fcgi
	start_worker
	start_nginx
	STARTING=0
	say "owmcollect is up: http://127.0.0.1:$PORT/ (state and logs in $VAR)"
}

do_stop() {
	stop_one nginx nginx 10
	stop_one fcgi owmcollect-fcgi 15
	stop_one worker owmcollect-worker "$(( $(setting worker.stop_seconds 2>/dev/null || echo 30) + 5 ))"
	stop_one standin owm_standin 5
	stop_one mysqld mariadbd 60
	remove_webdir
}

do_status() {
	local n pid rc=0
	for n in "mysqld:mariadbd" "standin:owm_standin" "fcgi:owmcollect-fcgi" \
	    "worker:owmcollect-worker" "nginx:nginx"; do
		if pid=$(live_pid "${n%%:*}" "${n#*:}"); then
			printf '%-8s running (pid %s)\n' "${n%%:*}" "$pid"
		else
			printf '%-8s stopped\n' "${n%%:*}"
			case ${n%%:*} in
			standin) ;;	# only when no key is configured
			worker) [ -x "$B/owmcollect-worker" ] && rc=3 ;;
			*) rc=3 ;;
			esac
		fi
	done
	return $rc
}

do_run() {
	trap 'say ""; say "stopping..."; do_stop; exit 0' INT TERM
	do_start
	cat <<-MSG

	  owmcollect is running at http://127.0.0.1:$PORT/   (Ctrl-C stops everything)

	  curl -H 'Content-Type: application/json' -d '{"id": "first"}' http://127.0.0.1:$PORT/collect
	  curl 'http://127.0.0.1:$PORT/get?id=first'

	  logs: $LOG
	MSG
	while :; do
		if ! live_pid nginx nginx >/dev/null || ! live_pid fcgi owmcollect-fcgi >/dev/null ||
		    ! live_pid mysqld mariadbd >/dev/null; then
			say "a component stopped unexpectedly (see $LOG): stopping everything"
			do_stop
			exit 1
		fi
		sleep 1 & wait $!
	done
}

# The mysql client on the local instance, as its owner; reads SQL from
# standard input when piped (make mysql < report.sql).
do_mysql() {
	live_pid mysqld mariadbd >/dev/null || die "MariaDB is not running in $VAR (make start)"
	exec mariadb --no-defaults --socket="$SOCK" -u"$ME" "$(setting mysql.database)"
}

# Start one component again if it is not running, as systemd would after
# a crash (the fault tests kill them) or a stop (test_reload): fcgi,
# worker or mysqld.
do_start_one() {
	case $1 in
	fcgi)	live_pid fcgi owmcollect-fcgi >/dev/null && return 0
		program_env; start_fcgi ;;
	worker)	live_pid worker owmcollect-worker >/dev/null && return 0
		program_env; start_worker ;;
	mysqld)	live_pid mysqld mariadbd >/dev/null && return 0
		start_db ;;
	*)	die "start-one: fcgi, worker or mysqld" ;;
	esac
}

case ${1:-} in
start-one) do_start_one "${2:-}" ;;
mysql)	do_mysql ;;
start)	do_start ;;
stop)	do_stop ;;
status)	do_status ;;
run)	do_run ;;
*)	echo "usage: $0 start|stop|status|run|mysql" >&2; exit 2 ;;
esac
