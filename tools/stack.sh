#!/usr/bin/env bash
# tools/stack.sh: runs owmcollect on this machine, unprivileged or as root,
# for `make run/start/stop/status/mysql` and for the tests (each stack in
# its own VAR and ports).  It runs, each as a process of its own on
# 127.0.0.1: MariaDB (DB=galera: three Galera nodes behind HAProxy), the
# API stand-in when owm.key is empty (tests/standin/owm_standin.py),
# owmcollect-fcgi, owmcollect-worker, and nginx in front on PORT.
#
# Every process it starts leaves a pid file in $VAR/run (mysqld, db-N,
# haproxy, standin, fcgi, worker, nginx .pid); `stack.sh stop` (make stop)
# stops exactly those pids, each after checking it still runs the program
# it started, and `run` does the same on Ctrl-C.  Nothing is ever stopped
# by name.
#
#   stack.sh start | stop | status | run | mysql | start-one fcgi|worker|mysqld
#   stack.sh db-kill N | db-start N | writer   (DB=galera: kill -9 node N;
#                      start it again, joining the cluster; the node HAProxy
#                      sends the programs to)
#
# Environment: VAR (state dir, default ./var), PORT (nginx, 8080), DB_PORT
# (MariaDB on 127.0.0.1, 3307; with DB=galera HAProxy's port there), B
# (build dir), CONF (etc/owmcollect.conf),
# DB (empty: one MariaDB; galera: three Galera nodes behind HAProxy, on
# DB_NODE_PORTS, DB_GCOMM_PORTS, DB_IST_PORTS, DB_SST_PORTS: three ports
# each, for the clients, group communication, IST and SST),
# POST_RATE (nginx's limit on POST /collect per client address, a second;
# burst twice that; 2000),
# and any OWMCOLLECT_* setting, which reaches the programs.
#
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
DB=${DB:-}
# The kind of database a start chose, for stop, status, mysql and the
# db-* commands, which may run without DB=.
KIND_FILE=$RUN/db.kind
case ${1:-} in
start|run) ;;
*)	if [ -z "$DB" ] && [ -s "$KIND_FILE" ] && [ "$(cat "$KIND_FILE")" = galera ]; then
		DB=galera
	fi ;;
esac
case $DB in ""|galera) ;; *) echo "stack: DB must be empty or galera" >&2; exit 1 ;; esac
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
# start_* before it waits (watch_log: the log file, its size now, the ports
# the server listens on) and cleared once it is up.
FAIL_LOG="" FAIL_MARK=0 FAIL_PORT=""
watch_log() { FAIL_LOG=$1 FAIL_MARK=$(log_mark "$1") FAIL_PORT=$2; }
failed_why() {
	local p
	[ -n "$FAIL_PORT" ] || return 0
	if [ "${FAIL_PORT%% *}" = "$FAIL_PORT" ]; then
		if port_taken "$FAIL_LOG" "$FAIL_MARK"; then
			printf ': port %s is in use' "$FAIL_PORT"
		fi
		return 0
	fi
	# A Galera node has four, and Galera does not always say that a bind
	# failed: name the one something else listens on.
	for p in $FAIL_PORT; do
		if ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
			printf ': port %s is in use' "$p"
			return 0
		fi
	done
}

# The components, by the name of their pid file ($RUN/NAME.pid), in the
# order stop stops them (Galera: HAProxy, then the nodes, node 1 last: the
# last to leave is the one safe to start the cluster from next time).
COMPONENTS="nginx fcgi worker standin mysqld haproxy db-3 db-2 db-1"

# What the command line of component $1 holds: a pid file is trusted only
# while its process still runs that.
cmdline_of() {
	case $1 in
	fcgi|worker)	echo "owmcollect-$1" ;;
	standin)	echo owm_standin ;;
	mysqld)		echo mariadbd ;;
	db-[123])	echo "$1/my.cnf" ;;
	*)		echo "$1" ;;
	esac
}

# The pid of component $1 if its pid file names a live process running it.
live_pid() {
	local f=$RUN/$1.pid pid
	[ -s "$f" ] || return 1
	pid=$(cat "$f" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$(cmdline_of "$1")" ||
	    return 1
	echo "$pid"
}
live() { live_pid "$1" >/dev/null; }

# spawn NAME LOGFILE COMMAND...: COMMAND in a session of its own, its
# output appended to LOGFILE, its pid in $RUN/NAME.pid and in SPAWNED.
SPAWNED=""
spawn() {
	local name=$1 log=$2
	shift 2
	setsid "$@" >> "$log" 2>&1 &
	SPAWNED=$!
	echo "$SPAWNED" > "$RUN/$name.pid"
}

# Until pid $1 is gone, at most $2 seconds; fails if it is still there.
wait_gone() {
	local pid=$1 i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	! kill -0 "$pid" 2>/dev/null
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

# How long stop waits for component $1 after TERM before it kills it.
stop_seconds() {
	case $1 in
	worker)	echo $(( $(setting worker.stop_seconds 2>/dev/null || echo 30) + 5 )) ;;
	mysqld|db-[123])	echo 60 ;;
	fcgi)	echo 15 ;;
	standin)	echo 5 ;;
	*)	echo 10 ;;
	esac
}

# Stop one component: TERM, wait (stop_seconds), then KILL.
stop_one() {
	local name=$1 wait pid
	pid=$(live_pid "$name") || { rm -f "$RUN/$name.pid"; return 0; }
	wait=$(stop_seconds "$name")
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_gone "$pid" "$wait"; then
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

# The mysql client on the server of socket $1, as its owner.
mariadb_on() {
	local sock=$1
	shift
	mariadb --no-defaults --socket="$sock" -u"$ME" "$@"
}
db_admin() { mariadb_on "$SOCK" "$@"; }

# install_datadir DIR CNF LOG: a MariaDB datadir at DIR, made in a scratch
# dir first, so that an interrupted first start leaves no half-initialised
# datadir behind.
install_datadir() {
	local dir=$1 cnf=$2 log=$3
	say "initialising MariaDB in $dir"
	rm -rf "$dir.init"
	mariadb-install-db --defaults-file="$cnf" --datadir="$dir.init" \
	    --auth-root-authentication-method=socket --skip-test-db \
	    > "$log" 2>&1 || die "mariadb-install-db failed: see $log"
	mv "$dir.init" "$dir"
}

# Query a setting in effect (config file + environment) from the program.
setting() { "$B/owmcollect-fcgi" -c "$CONF" -t | sed -n "s/^$1 = //p" | tr -d '"'; }

# The server settings one MariaDB and every Galera node share.
server_settings() {
	cat <<-CNF
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
}

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
	$(server_settings)
	CNF
	[ -d "$VAR/mysql/data" ] ||
	    install_datadir "$VAR/mysql/data" "$MYCNF" "$LOG/mysql-install.log"
	watch_log "$LOG/mysqld.err" "$DB_PORT"
	# mariadbd writes the same pid to its pid file too.
	spawn mysqld "$LOG/mysqld.out" mariadbd --defaults-file="$MYCNF"
	wait_for 120 MariaDB "$SPAWNED" mariadb-admin --no-defaults --socket="$SOCK" -u"$ME" ping
	FAIL_PORT=""
}

apply_schema() {
	local pw db host
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
	# The user over the socket and over TCP; the password goes through
	# stdin, never through arguments.
	for host in localhost 127.0.0.1; do
		cat <<-SQL
		CREATE USER IF NOT EXISTS 'owmcollect'@'$host' IDENTIFIED BY '$pw';
		ALTER USER 'owmcollect'@'$host' IDENTIFIED BY '$pw';
		GRANT SELECT, INSERT, UPDATE, DELETE ON \`$db\`.* TO 'owmcollect'@'$host';
		SQL
	done | db_admin
}

# -- DB=galera: three Galera nodes behind HAProxy ------------------------------
# Node n (1..3) keeps its datadir and its my.cnf in $VAR/mysql/db-n/ (so the
# tests' clean-up of $VAR/mysql takes them too), its socket and pid file in
# $RUN (db-n.sock, db-n.pid), its log in $LOG/db-n.err.  Every address is
# 127.0.0.1: the client port, group communication (gmcast), IST and the
# SST (mariabackup, streamed by socat) each have a port of their own per node.  HAProxy listens on
# DB_PORT, where the programs connect over TCP, and sends every connection
# to one node, the writer (see write_haproxy_cfg).
read -r -a NODE_PORTS <<< "${DB_NODE_PORTS:-3311 3312 3313}"
read -r -a GCOMM_PORTS <<< "${DB_GCOMM_PORTS:-4571 4572 4573}"
read -r -a IST_PORTS <<< "${DB_IST_PORTS:-4581 4582 4583}"
read -r -a SST_PORTS <<< "${DB_SST_PORTS:-4591 4592 4593}"
GALERA_PROVIDER=/usr/lib/galera/libgalera_smm.so
HAPROXY_DIR=$VAR/haproxy
HAPROXY_SOCK=$RUN/haproxy.sock

node_dir() { echo "$VAR/mysql/db-$1"; }
node_sock() { echo "$RUN/db-$1.sock"; }
node_ok() { [[ ${1:-} =~ ^[123]$ ]] || die "a node is 1, 2 or 3"; }
node_live() { live_pid "db-$1"; }
node_admin() {
	local n=$1
	shift
	mariadb_on "$(node_sock "$n")" "$@"
}
# A status variable of node n (empty when it does not answer).
node_status() {
	node_admin "$1" --connect-timeout=2 -BN \
	    -e "SHOW GLOBAL STATUS LIKE '$2'" 2>/dev/null | cut -f2
}
# wsrep_local_state 4: Synced, the only state HAProxy sends clients to.
node_synced() { [ "$(node_status "$1" wsrep_local_state)" = 4 ]; }

check_galera_ports() {
	local p
	[ "${#NODE_PORTS[@]}" = 3 ] && [ "${#GCOMM_PORTS[@]}" = 3 ] &&
	    [ "${#IST_PORTS[@]}" = 3 ] && [ "${#SST_PORTS[@]}" = 3 ] ||
	    die "DB_NODE_PORTS, DB_GCOMM_PORTS, DB_IST_PORTS, DB_SST_PORTS: three ports each"
	for p in "${NODE_PORTS[@]}" "${GCOMM_PORTS[@]}" "${IST_PORTS[@]}" "${SST_PORTS[@]}"; do
		[[ $p =~ ^[1-9][0-9]{0,4}$ ]] && ((p < 65536)) || die "$p is not a port"
	done
	[ -f "$GALERA_PROVIDER" ] ||
	    die "no $GALERA_PROVIDER: install galera-4 (make deps DB=galera)"
	command -v haproxy >/dev/null ||
	    die "no haproxy: install it (make deps DB=galera)"
}

# Node n's configuration: the single node's settings, and what Galera
# needs (MariaDB's "Galera cluster system variables" and its known
# limitations): row-based binlog events (write-sets are rows),
# interleaved auto-increment locks (the appliers insert in parallel with
# local inserts), a durable commit on every node, and per node its own
# gmcast, IST and SST addresses.  gcache holds the write-sets a node that
# was away for a while receives by IST instead of a whole copy (SST): 128M
# is hours of this service's writes (docs/cluster.md, "On one machine").  A node that stops
# answering is evicted after 3 s (evs.suspect_timeout, 5 s by default):
# until then the others cannot commit, so that is most of a failover.
write_node_cnf() {
	local n=$1 i=$(($1 - 1)) d g peers=""
	d=$(node_dir "$n")
	for g in "${GCOMM_PORTS[@]}"; do peers="$peers${peers:+,}127.0.0.1:$g"; done
	mkdir -p "$d/tmp"
	cat > "$d/my.cnf" <<-CNF
	[mysqld]
	user = $ME
	datadir = $d/data
	socket = $(node_sock "$n")
	pid-file = $RUN/db-$n.pid
	tmpdir = $d/tmp
	port = ${NODE_PORTS[i]}
	bind-address = 127.0.0.1
	log-error = $LOG/db-$n.err
	$(server_settings)
	default_storage_engine = InnoDB
	binlog_format = ROW
	innodb_autoinc_lock_mode = 2
	wsrep_on = ON
	wsrep_provider = $GALERA_PROVIDER
	wsrep_cluster_name = owmcollect
	wsrep_cluster_address = gcomm://$peers
	wsrep_node_name = db-$n
	wsrep_node_address = 127.0.0.1:${GCOMM_PORTS[i]}
	wsrep_provider_options = "gmcast.listen_addr=tcp://127.0.0.1:${GCOMM_PORTS[i]}; ist.recv_addr=127.0.0.1:${IST_PORTS[i]}; gcache.size=128M; evs.suspect_timeout=PT3S"
	wsrep_sst_method = mariabackup
	wsrep_sst_receive_address = 127.0.0.1:${SST_PORTS[i]}
	# One writer (HAProxy): every read goes to the node that wrote, which
	# sees its own commits; no causality wait needed.
	wsrep_sync_wait = 0

	# The SST script keeps its logs here, not in /tmp/sst_log_archive.
	[sst]
	sst-log-archive-dir = $VAR/mysql/sst-log
	CNF
}

# grastate.dat's seqno of node n ("" when it has none).
node_seqno() {
	sed -n 's/^seqno:[[:space:]]*//p' "$(node_dir "$1")/data/grastate.dat" 2>/dev/null
}

# The position a crashed node (grastate.dat's seqno -1) had committed, read
# from InnoDB by mariadbd --wsrep-recover (what galera_recovery does under
# systemd), as uuid:seqno; a node that knows its position joins by IST.
recover_position() {
	local n=$1 d log
	d=$(node_dir "$1")
	log=$LOG/db-$n.recover.log
	: > "$log"
	mariadbd --defaults-file="$d/my.cnf" --wsrep-recover --log-error="$log" \
	    >/dev/null 2>&1 || return 1
	sed -n 's/.*WSREP: Recovered position: *\([^ ]*:-\{0,1\}[0-9]*\).*/\1/p' "$log" | tail -n 1
}

# Which node starts the cluster (--wsrep-new-cluster): node 1 on the
# first start (initialised here); later the node grastate.dat marks safe
# to bootstrap (the last to leave: stop stops node 1 last); when they all
# crashed, the one with the highest recovered seqno, marked safe.
bootstrap_node() {
	local n best="" best_seq=-2 pos seq
	if [ ! -d "$(node_dir 1)/data" ] && [ ! -d "$(node_dir 2)/data" ] &&
	    [ ! -d "$(node_dir 3)/data" ]; then
		echo 1
		return 0
	fi
	for n in 1 2 3; do
		if grep -qs '^safe_to_bootstrap: *1' "$(node_dir "$n")/data/grastate.dat"; then
			echo "$n"
			return 0
		fi
	done
	for n in 1 2 3; do
		[ -d "$(node_dir "$n")/data/mysql" ] || continue
		seq=$(node_seqno "$n")
		if [ "$seq" = -1 ] || [ -z "$seq" ]; then
			pos=$(recover_position "$n") || continue
			seq=${pos##*:}
		fi
		[[ $seq =~ ^-?[0-9]+$ ]] || continue
		if ((seq > best_seq)); then best=$n best_seq=$seq; fi
	done
	[ -n "$best" ] || return 1
	sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' \
	    "$(node_dir "$best")/data/grastate.dat"
	echo "$best"
}

# init_node N BOOT: a datadir for node N when it has none: initialised
# when N starts the cluster (node 1 on the first start), empty otherwise:
# a node joining empty receives a whole copy (SST).
init_node() {
	local d
	d=$(node_dir "$1")
	[ -d "$d/data" ] && return 0
	if [ "$1" != "$2" ]; then
		mkdir -p "$d/data"
		return 0
	fi
	install_datadir "$d/data" "$d/my.cnf" "$LOG/db-$1-install.log"
}

# start_node N [new]: node N, starting a new cluster (new) or joining the
# others; returns once it is Synced.  A node that crashed is started at
# the position it recovers, so that it asks for the write-sets it missed
# (IST), not for a whole copy.
start_node() {
	local n=$1 mode=${2:-} d pos args=() i=$(($1 - 1))
	d=$(node_dir "$n")
	[ "$mode" = new ] && args+=(--wsrep-new-cluster)
	if [ -d "$d/data/mysql" ] && [ "$(node_seqno "$n")" = -1 ]; then
		pos=$(recover_position "$n") || pos=""
		[ -n "$pos" ] && args+=(--wsrep-start-position="$pos")
	fi
	watch_log "$LOG/db-$n.err" \
	    "${NODE_PORTS[i]} ${GCOMM_PORTS[i]} ${IST_PORTS[i]} ${SST_PORTS[i]}"
	spawn "db-$n" "$LOG/db-$n.out" mariadbd --defaults-file="$d/my.cnf" "${args[@]}"
	wait_for 300 "Galera node db-$n" "$SPAWNED" node_synced "$n"
	FAIL_PORT=""
}

# Every table needs a primary key under Galera: a write-set names rows by
# it, and a row without one is replicated by a full-table search on
# every node (and DELETE of such rows is not supported).
check_primary_keys() {
	local db missing
	db=$(setting mysql.database)
	missing=$(db_admin -BN -e "SELECT t.table_name FROM information_schema.tables t
	    WHERE t.table_schema = '$db' AND t.table_type = 'BASE TABLE'
	    AND NOT EXISTS (SELECT 1 FROM information_schema.table_constraints c
	        WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name
	        AND c.constraint_type = 'PRIMARY KEY')") ||
	    die "cannot list the tables without a primary key"
	[ -z "$missing" ] || die "tables without a primary key (Galera needs one): $missing"
}

# HAProxy's external check of a node (HAPROXY_SERVER_NAME, db-N): it
# passes while the node answers on its socket within a second, Synced
# (wsrep_local_state 4) and ready (wsrep_ready ON: in the primary
# component).  A joiner or a node cut off from the others fails.  So does
# a donor (2, Donor/Desynced), unless it is the writer, the server with
# sessions (HAPROXY_SERVER_CURCONN): a mariabackup donor, or a node
# desynced for a backup, keeps committing, and moving the writer off it
# would be a failover for nothing; another node in that state may lag and
# must not become the next writer.
write_check() {
	cat > "$HAPROXY_DIR/galera-check" <<-SH
	#!/bin/sh
	# Generated by tools/stack.sh: HAProxy's check of one Galera node.
	s=\$(mariadb --no-defaults --socket="$RUN/\$HAPROXY_SERVER_NAME.sock" -u"$ME" \\
	    --connect-timeout=1 -BN -e "SHOW GLOBAL STATUS WHERE Variable_name IN
	    ('wsrep_local_state', 'wsrep_ready')" 2>/dev/null) || exit 1
	printf '%s\n' "\$s" | awk -v busy="\${HAPROXY_SERVER_CURCONN:-0}" '
	    \$1 == "wsrep_local_state" && (\$2 == "4" || (\$2 == "2" && busy > 0)) { s = 1 }
	    \$1 == "wsrep_ready" && \$2 == "ON" { r = 1 }
	    END { exit !(s && r) }'
	SH
	chmod 0700 "$HAPROXY_DIR/galera-check"
}

# One writer at a time.  All three nodes are in one backend; "balance
# first" picks the first server up in id order (node 1 at start), and the
# stick table of one entry (every connection has the same key) then sends
# every connection to that server for as long as it is up.  When it goes
# down, its sessions are cut (on-marked-down shutdown-sessions), the next
# connection goes to the first server up and the entry names that one: a
# node that comes back does not take the writes back, since writers on two
# nodes would lose the row locks each takes (certification conflicts only
# at COMMIT).  No "option redispatch": a connection that fails to reach
# the writer while it is still marked up is not sent elsewhere (which
# would move the entry while the writer may still hold sessions).  Checks
# every second, down after 2 failures, up after 3 passes.
write_haproxy_cfg() {
	mkdir -p "$HAPROXY_DIR"
	write_check
	cat > "$HAPROXY_DIR/haproxy.cfg" <<-CFG
	# Generated by tools/stack.sh
	global
	    maxconn 2000
	    stats socket $HAPROXY_SOCK mode 600 level admin
	    external-check
	    insecure-fork-wanted
	    log stderr format iso local0 info

	defaults
	    mode tcp
	    log global
	    option dontlognull
	    timeout connect 1s
	    timeout client 8h
	    timeout server 8h
	    timeout check 2s

	listen galera
	    bind 127.0.0.1:$DB_PORT
	    balance first
	    stick-table type integer size 1
	    stick on int(1)
	    option external-check
	    external-check path "/usr/bin:/bin"
	    external-check command "$HAPROXY_DIR/galera-check"
	    default-server check inter 1s fall 2 rise 3 on-marked-down shutdown-sessions
	    server db-1 127.0.0.1:${NODE_PORTS[0]} id 1
	    server db-2 127.0.0.1:${NODE_PORTS[1]} id 2
	    server db-3 127.0.0.1:${NODE_PORTS[2]} id 3
	CFG
}

# A command on HAProxy's stats socket (python3: no socat needed).
haproxy_cmd() {
	python3 - "$HAPROXY_SOCK" "$1" <<-'PY'
	import socket, sys
	s = socket.socket(socket.AF_UNIX)
	s.settimeout(5)
	s.connect(sys.argv[1])
	s.sendall(sys.argv[2].encode() + b"\n")
	out = b""
	while True:
	    d = s.recv(65536)
	    if not d:
	        break
	    out += d
	sys.stdout.write(out.decode(errors="replace"))
	PY
}

# Lines "db-N UP|DOWN|..." of HAProxy's view of the servers.
haproxy_servers() {
	haproxy_cmd "show stat" | awk -F, '$1 == "galera" && $2 ~ /^db-[123]$/ { print $2, $18 }'
}

# The writer's node number, as HAProxy sees it: the server the stick
# table names if it is up, else the first up (where the next connection
# goes).  Fails when none is up.
haproxy_writer() {
	local servers stuck n
	servers=$(haproxy_servers) || return 1
	stuck=$(haproxy_cmd "show table galera" | sed -n 's/.* server_id=\([0-9]*\).*/\1/p' | head -n 1)
	if [ -n "$stuck" ] && grep -qx "db-$stuck UP.*" <<< "$servers"; then
		echo "$stuck"
		return 0
	fi
	n=$(awk '$2 ~ /^UP/ { sub("db-", "", $1); print $1; exit }' <<< "$servers")
	[ -n "$n" ] && echo "$n"
}

writer_is() { [ "$(haproxy_writer 2>/dev/null)" = "$1" ]; }

start_haproxy() {
	write_haproxy_cfg
	haproxy -q -c -f "$HAPROXY_DIR/haproxy.cfg" ||
	    die "HAProxy configuration test failed"
	watch_log "$LOG/haproxy.log" "$DB_PORT"
	spawn haproxy "$LOG/haproxy.log" haproxy -db -f "$HAPROXY_DIR/haproxy.cfg"
	wait_for 60 HAProxy "$SPAWNED" writer_is 1
	FAIL_PORT=""
}

start_galera() {
	local n boot
	check_galera_ports
	mkdir -p "$VAR/mysql" "$RUN" "$LOG"
	echo galera > "$KIND_FILE"
	for n in 1 2 3; do write_node_cnf "$n"; done
	boot=$(bootstrap_node) || die "no node can start the cluster (see $LOG/db-*.recover.log)"
	init_node "$boot" "$boot"
	say "starting the Galera cluster from db-$boot"
	start_node "$boot" new
	# The schema and the user through the only node so far: they replicate.
	SOCK=$(node_sock "$boot")
	apply_schema
	check_primary_keys
	for n in 1 2 3; do
		[ "$n" = "$boot" ] && continue
		init_node "$n" "$boot"
		say "db-$n joins"
		start_node "$n"
	done
	start_haproxy
	say "Galera: 3 nodes synced; HAProxy on 127.0.0.1:$DB_PORT, writer db-$(haproxy_writer)"
}

galera_status() {
	local n pid rc=0 w servers="" seen
	if live haproxy; then
		servers=$(haproxy_servers 2>/dev/null) || servers=""
	fi
	for n in 1 2 3; do
		# What HAProxy's check makes of it: UP, DOWN, or on the way.
		seen=$(awk -v s="db-$n" '$1 == s { $1 = ""; print substr($0, 2) }' <<< "$servers")
		if pid=$(node_live "$n"); then
			printf '%-8s running (pid %s), wsrep_local_state %s (%s), cluster size %s%s\n' \
			    "db-$n" "$pid" "$(node_status "$n" wsrep_local_state)" \
			    "$(node_status "$n" wsrep_local_state_comment)" \
			    "$(node_status "$n" wsrep_cluster_size)" "${seen:+, HAProxy $seen}"
		else
			printf '%-8s stopped%s\n' "db-$n" "${seen:+, HAProxy $seen}"
			rc=3
		fi
	done
	if pid=$(live_pid haproxy); then
		if w=$(haproxy_writer); then
			printf '%-8s running (pid %s), writer db-%s\n' haproxy "$pid" "$w"
		else
			printf '%-8s running (pid %s), no node up\n' haproxy "$pid"
			rc=3
		fi
	else
		printf '%-8s stopped\n' haproxy
		rc=3
	fi
	return $rc
}

do_db_kill() {
	local pid
	node_ok "${1:-}"
	pid=$(node_live "$1") || die "db-$1 is not running"
	kill -KILL "$pid"
	wait_gone "$pid" 10 || true
	say "db-$1 (pid $pid) killed"
}

do_db_start() {
	local n others=0
	node_ok "${1:-}"
	node_live "$1" >/dev/null && { say "db-$1 is running"; return 0; }
	[ -s "$(node_dir "$1")/my.cnf" ] || die "db-$1 was never started (make start DB=galera)"
	# A node joins a cluster that runs; with none, the whole cluster must
	# start again (from the node that knows most).
	for n in 1 2 3; do
		node_live "$n" >/dev/null && others=$((others + 1))
	done
	[ "$others" -gt 0 ] || die "no other node runs: make stop, then make start DB=galera"
	start_node "$1"
	say "db-$1 synced"
}

start_standin() {
	local key limit
	rm -f "$RUN/standin.port"
	(umask 077; head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n' \
	    > "$VAR/secrets/standin-key")
	key=$(cat "$VAR/secrets/standin-key")
	limit=$(setting owm.cities_per_minute)
	watch_log "$LOG/standin.log" "${STANDIN_PORT:-}"
	OWM_STANDIN_KEY=$key spawn standin "$LOG/standin.log" \
	    python3 "$ROOT/tests/standin/owm_standin.py" \
	    --listen "127.0.0.1:${STANDIN_PORT:-0}" --log "$LOG/standin-access.log" \
	    --pidfile "$RUN/standin.pid" --ready-file "$RUN/standin.port" \
	    --limit "$limit"
	wait_for 60 "the API stand-in" "$SPAWNED" test -s "$RUN/standin.port"
	FAIL_PORT=""
	say "owm.key is empty: using the local API stand-in at 127.0.0.1:$(tr -d ' \n' < "$RUN/standin.port")"
}

# The environment the programs get: where the database is, its password,
# the socket, and the stand-in when it stands in for the API.
program_env() {
	if [ "$DB" = galera ]; then
		# Over TCP through HAProxy, to whichever node writes.
		export OWMCOLLECT_MYSQL_SOCKET="" OWMCOLLECT_MYSQL_HOST=127.0.0.1
		export OWMCOLLECT_MYSQL_PORT=$DB_PORT
	else
		# Set, even empty, by the caller: kept (empty: TCP to mysql.host
		# and mysql.port, as a test's proxy in front of this MariaDB asks).
		export OWMCOLLECT_MYSQL_SOCKET=${OWMCOLLECT_MYSQL_SOCKET-$SOCK}
	fi
	export OWMCOLLECT_MYSQL_PASSWORD
	OWMCOLLECT_MYSQL_PASSWORD=$(cat "$VAR/secrets/mysql-password")
	if [ -n "$FCGI_SOCK" ]; then
		export OWMCOLLECT_HTTP_SOCKET=$FCGI_SOCK
	fi
	if [ "$AS_ROOT" = 1 ]; then
		export OWMCOLLECT_HTTP_SOCKET_GROUP=$WEB_USER
	fi
	if live standin; then
		export OWMCOLLECT_OWM_URL="http://127.0.0.1:$(tr -d ' \n' < "$RUN/standin.port")/data/2.5"
		export OWMCOLLECT_OWM_KEY
		OWMCOLLECT_OWM_KEY=$(cat "$VAR/secrets/standin-key")
	fi
}

start_fcgi() {
	spawn fcgi "$LOG/fcgi.log" "$B/owmcollect-fcgi" -c "$CONF"
	wait_for 60 owmcollect-fcgi "$SPAWNED" test -S "$FCGI_SOCK"
}

start_worker() {
	[ -x "$B/owmcollect-worker" ] || return 0
	# As its unit runs it: GnuTLS, which it never uses, not set up
	# (etc/systemd/owmcollect-worker.service says why).
	spawn worker "$LOG/worker.log" env GNUTLS_NO_IMPLICIT_INIT=1 \
	    "$B/owmcollect-worker" -c "$CONF"
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
	watch_log "$LOG/nginx-error.log" "$PORT"
	setsid nginx -e "$LOG/nginx-error.log" -p "$VAR/nginx" -c "$VAR/nginx/nginx.conf" ||
	    die "nginx did not start$(failed_why) (logs in $LOG)"
	wait_for 60 nginx "" test -s "$RUN/nginx.pid"
	wait_for 60 "the HTTP API" "" sh -c "curl -s -o /dev/null -w '%{http_code}' \
	    'http://127.0.0.1:$PORT/get' | grep -q 400"
	FAIL_PORT=""
}

running() {
	local n
	for n in $COMPONENTS; do
		live "$n" && return 0
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
	if [ "$DB" = galera ]; then
		start_galera
	else
		rm -f "$KIND_FILE"
		start_db
		apply_schema
	fi
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
	local n
	for n in $COMPONENTS; do
		stop_one "$n"
	done
	rm -f "$KIND_FILE"
	remove_webdir
}

do_status() {
	local n pid rc=0 first=mysqld
	if [ "$DB" = galera ]; then
		galera_status || rc=$?
		first=""
	fi
	for n in $first standin fcgi worker nginx; do
		if pid=$(live_pid "$n"); then
			printf '%-8s running (pid %s)\n' "$n" "$pid"
		else
			printf '%-8s stopped\n' "$n"
			case $n in
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
		if ! live nginx || ! live fcgi ||
		    { [ "$DB" = galera ] && ! live haproxy; } ||
		    { [ "$DB" != galera ] && ! live mysqld; }; then
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
	local w sock=$SOCK
	if [ "$DB" = galera ]; then
		w=$(haproxy_writer) || die "no Galera node is up in $VAR"
		sock=$(node_sock "$w")
	else
		live mysqld || die "MariaDB is not running in $VAR (make start)"
	fi
	exec mariadb --no-defaults --socket="$sock" -u"$ME" "$(setting mysql.database)"
}

# Start one component again if it is not running, as systemd would after
# a crash (the fault tests kill them) or a stop (test_reload): fcgi,
# worker or mysqld.
do_start_one() {
	case $1 in
	fcgi)	live fcgi && return 0
		program_env; start_fcgi ;;
	worker)	live worker && return 0
		program_env; start_worker ;;
	mysqld)	live mysqld && return 0
		start_db ;;
	*)	die "start-one: fcgi, worker or mysqld" ;;
	esac
}

case ${1:-} in
start-one) do_start_one "${2:-}" ;;
db-kill|db-start|writer)
	[ "$DB" = galera ] || die "$1: the stack in $VAR is not DB=galera"
	case $1 in
	db-kill) do_db_kill "${2:-}" ;;
	db-start) do_db_start "${2:-}" ;;
	writer) haproxy_writer || die "no Galera node is up" ;;
	esac ;;
mysql)	do_mysql ;;
start)	do_start ;;
stop)	do_stop ;;
status)	do_status ;;
run)	do_run ;;
*)	echo "usage: $0 start|stop|status|run|mysql|start-one|db-kill N|db-start N|writer" >&2; exit 2 ;;
esac
