-- owmcollect schema, for MariaDB 10.7 or later; not MySQL, whatever its
-- version.  The minimum is what this file and the programs' SQL use:
-- JSON_EQUALS (10.7.0: fcgi/post.c), JSON_TABLE and SKIP LOCKED (10.6),
-- JSON_ARRAYAGG with ORDER BY (10.5), WITH RECURSIVE (10.2), ADD COLUMN
-- and ADD INDEX IF NOT EXISTS (10.0.2); MySQL lacks JSON_EQUALS and ADD
-- COLUMN IF NOT EXISTS.  Both programs check the server's version when
-- they connect (lib/db.h: DB_MIN_SERVER; docs/production.md, "Database
-- requirements").
-- Idempotent: applying it
-- again, or applying a newer version over an older one, just works
-- (CREATE ... IF NOT EXISTS, ADD COLUMN IF NOT EXISTS, CREATE OR REPLACE VIEW).
-- Applied by `make start` / the stack script as the database owner; the
-- programs connect as an application user with SELECT, INSERT, UPDATE,
-- DELETE on this database only.
--
-- Flow (by reference): POST /collect inserts one `requests` row holding
-- the whole city list (requests.cities), each city with either the fresh
-- `city_latest` reading that fulfils it at once, or the id of the fetch
-- that will: its city's `city_tasks` entry (a plain read, no lock), or
-- one it queues.  The worker claims `city_tasks` (one entry per city,
-- however many requests wait for it), passes the rate gate, fetches, and
-- in one transaction inserts the reading, writes the fetch's outcome to
-- `fetches` and deletes the entry: a batch changes its own few rows,
-- however many requests point at them.  A request's progress is read
-- through those references (the request_data view); the worker's
-- housekeeping child settles each request's counts and finished_at into
-- its row (worker/settle.c) shortly after, for lists, reports and
-- /metrics.

-- One row per collection request.  ext_id is the user's id, the exact bytes
-- sent (validated UTF-8), unique forever: the unique key decides races.
-- cities: the request's city list in order, as JSON [[city_id,
-- reading_id, fetch_id], ...]: reading_id the fresh reading that
-- fulfilled the city at POST time (fetch_id 0), or 0 and fetch_id the
-- fetch that fulfils it (city_tasks.fetch_id; its outcome in `fetches`
-- once done).  One row per request, however many cities.
-- Settled by worker/settle.c (and by a cancel): collected, failed and
-- finished_at as the references said when last settled; wait_fetch a
-- fetch the request still waits for (NULL once finished), so a settle
-- finds the requests a finished fetch may finish through its index.
-- wait_fetch 0 (no fetch has that id): a deferred POST's request whose
-- cities are not resolved yet (every one [city_id, 0, 0]); the worker's
-- resolver finds it through the same index (worker/resolve.c).
-- cancelled_at: DELETE /collect; cities not done by then failed.
CREATE TABLE IF NOT EXISTS requests (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
	ext_id		VARBINARY(128) NOT NULL,
	requested_at	DATETIME(6) NOT NULL,
	finished_at	DATETIME(6) NULL,
	total		SMALLINT UNSIGNED NOT NULL,
	collected	SMALLINT UNSIGNED NOT NULL DEFAULT 0,
	failed		SMALLINT UNSIGNED NOT NULL DEFAULT 0,
	cities		JSON NULL,
	wait_fetch	BIGINT UNSIGNED NULL,
	cancelled_at	DATETIME(6) NULL,
	PRIMARY KEY (id),
	UNIQUE KEY ext_id (ext_id),
	KEY requested_at (requested_at),
	KEY wait_fetch (wait_fetch)
) ENGINE=InnoDB;
ALTER TABLE requests ADD COLUMN IF NOT EXISTS cities JSON NULL;
ALTER TABLE requests ADD COLUMN IF NOT EXISTS wait_fetch BIGINT UNSIGNED NULL;
ALTER TABLE requests ADD COLUMN IF NOT EXISTS cancelled_at DATETIME(6) NULL;
ALTER TABLE requests ADD INDEX IF NOT EXISTS wait_fetch (wait_fetch);

-- The ids of the requests retention purged (worker/purge.c, in the same
-- transaction as the request): an id stays used forever, so a POST of one
-- is a 409 and no cache can mistake a new request for the purged one.
CREATE TABLE IF NOT EXISTS purged_requests (
	ext_id		VARBINARY(128) NOT NULL,
	PRIMARY KEY (ext_id)
) ENGINE=InnoDB;

-- Every reading fetched; temperature in Celsius, observed_at is the API's
-- dt (UTC), fetched_at the database clock when it was stored.  name,
-- country, lat, lon: what the same answer said of the city (as in
-- `cities`), kept with the reading and never changed, so a finished
-- request shows the same place forever, however the API renames the
-- city later; place = 1 when the answer gave one the worker accepted,
-- 0 when not (the place columns NULL).  A row has them the moment it is
-- written: a reading is one immutable fact.
CREATE TABLE IF NOT EXISTS readings (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
	city_id		INT UNSIGNED NOT NULL,
	temperature	DECIMAL(5,2) NOT NULL,
	humidity	TINYINT UNSIGNED NOT NULL,
	observed_at	DATETIME NOT NULL,
	fetched_at	DATETIME(6) NOT NULL,
	place		TINYINT UNSIGNED NULL,
	name		VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
			    NULL,
	country		VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NULL,
	lat		DECIMAL(8,6) NULL,
	lon		DECIMAL(9,6) NULL,
	PRIMARY KEY (id),
	KEY city_fetched (city_id, fetched_at)
) ENGINE=InnoDB;
-- Retention (worker/purge.c) deletes the readings older than a cut-off
-- oldest first through this index, a range from its start: never a scan.
ALTER TABLE readings ADD INDEX IF NOT EXISTS fetched_at (fetched_at);

-- The newest reading of each city, so a POST can reuse fresh readings
-- (worker.reuse_seconds) with one indexed join instead of a scan.
CREATE TABLE IF NOT EXISTS city_latest (
	city_id		INT UNSIGNED NOT NULL,
	reading_id	BIGINT UNSIGNED NOT NULL,
	fetched_at	DATETIME(6) NOT NULL,
	PRIMARY KEY (city_id)
) ENGINE=InnoDB;

-- What the API said of each city it answered for: its name and country
-- exactly as sent (valid UTF-8, no control characters; the worker refuses
-- and never stores anything else, worker/owm_parse.c), and its
-- coordinates.  Upserted by the batch that stored the reading, in the
-- same transaction; the newest answer wins.  A city the API never
-- answered for has no row (GET shows nulls).
CREATE TABLE IF NOT EXISTS cities (
	city_id		INT UNSIGNED NOT NULL,
	name		VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
			    NOT NULL,
	country		VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NULL,
	lat		DECIMAL(8,6) NOT NULL,
	lon		DECIMAL(9,6) NOT NULL,
	seen_at		DATETIME(6) NOT NULL,
	PRIMARY KEY (city_id)
) ENGINE=InnoDB;

-- Upgrade: readings written before their place was kept with them
-- (place NULL) take it, once, from the city's row as it is now, which is
-- what a request showed of them until then; from then on they keep it.
ALTER TABLE readings ADD COLUMN IF NOT EXISTS place TINYINT UNSIGNED NULL;
ALTER TABLE readings ADD COLUMN IF NOT EXISTS
	name VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;
ALTER TABLE readings ADD COLUMN IF NOT EXISTS
	country VARCHAR(8) CHARACTER SET ascii COLLATE ascii_bin NULL;
ALTER TABLE readings ADD COLUMN IF NOT EXISTS lat DECIMAL(8,6) NULL;
ALTER TABLE readings ADD COLUMN IF NOT EXISTS lon DECIMAL(9,6) NULL;
UPDATE readings rd LEFT JOIN cities c ON c.city_id = rd.city_id
SET rd.place = c.city_id IS NOT NULL, rd.name = c.name,
    rd.country = c.country, rd.lat = c.lat, rd.lon = c.lon
WHERE rd.place IS NULL;

-- Work queue: one row per city some request still waits for; fetch_id
-- names this fetch of the city for good (an auto-increment, never
-- reused: the requests that point at it find its outcome in `fetches`).
-- created_by: the request that queued it (a cancel of that request drops
-- it).
-- turn orders the queue fairly: a request's city at position p gets turn
-- V + p, where V is the smallest turn still queued when it was posted, so
-- requests interleave round-robin by position (a small request posted
-- during a big one is served within its first few turns).
-- ready_at: not claimable before (a lease's expiry, or a retry's backoff).
-- Claiming: the candidates WHERE ready_at <= NOW(6) ORDER BY turn LIMIT n
-- through the `claim` index (a plain read: a locking scan would check
-- every delete-marked entry at its head), then those still due locked FOR
-- UPDATE SKIP LOCKED by primary key, and leased.
CREATE TABLE IF NOT EXISTS city_tasks (
	city_id		INT UNSIGNED NOT NULL,
	fetch_id	BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
	turn		BIGINT UNSIGNED NOT NULL,
	ready_at	DATETIME(6) NOT NULL,
	lease_owner	VARCHAR(64) NULL,
	attempts	SMALLINT UNSIGNED NOT NULL DEFAULT 0,
	last_error	VARCHAR(200) NULL,
	created_at	DATETIME(6) NOT NULL,
	created_by	BIGINT UNSIGNED NULL,
	PRIMARY KEY (city_id),
	UNIQUE KEY fetch_id (fetch_id),
	KEY claim (turn, ready_at),
	-- a worker sets the leases of its batch when it has its rate slot,
	-- and gives back a dead child's by its id: lease_owner LIKE 'id:%'
	KEY lease_owner (lease_owner)
) ENGINE=InnoDB;
ALTER TABLE city_tasks ADD INDEX IF NOT EXISTS lease_owner (lease_owner);
-- GET /health's oldest queued city: the head of this index, not a scan.
ALTER TABLE city_tasks ADD INDEX IF NOT EXISTS created_at (created_at);
ALTER TABLE city_tasks ADD COLUMN IF NOT EXISTS
	fetch_id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT UNIQUE AFTER city_id;
ALTER TABLE city_tasks ADD COLUMN IF NOT EXISTS
	created_by BIGINT UNSIGNED NULL;

-- Every fetch that ended, by its city_tasks.fetch_id, written by the
-- batch that ended it (or the cancel that dropped it): 'collected' with
-- its reading (a new one, or one fresh enough to reuse), 'failed' with
-- the reason, or 'dropped' (its request was cancelled: a request that
-- still wants the city gets it queued again by its next settle).
-- Retention deletes those done long before the oldest request stored.
CREATE TABLE IF NOT EXISTS fetches (
	id		BIGINT UNSIGNED NOT NULL,
	city_id		INT UNSIGNED NOT NULL,
	state		ENUM('collected', 'failed', 'dropped') NOT NULL,
	reading_id	BIGINT UNSIGNED NULL,
	error		VARCHAR(200) NULL,
	done_at		DATETIME(6) NOT NULL,
	PRIMARY KEY (id),
	KEY done_at (done_at)
) ENGINE=InnoDB;

-- The shared rate gate: one row, locked (SELECT ... FOR UPDATE) by every
-- reservation, so reservations from all children of all hosts serialise.
-- paused_until: nobody sends before it (a 429, an invalid key, the monthly
-- cap, the API unreachable); pause_reason says which.
-- outage_since: the API has not been reached since then (every call of a
-- batch failed without an answer, or with a 5xx: worker/gate_db.c); while
-- it is set, a reservation carries one city only (a probe), holding the
-- gate until its calls' end, and the pause between probes grows
-- (outage_backoff_ms) up to 30 s.  outage_error: the last call's error.
-- Cleared by the first answer of the API.
CREATE TABLE IF NOT EXISTS rate_gate (
	id		TINYINT UNSIGNED NOT NULL,
	paused_until	DATETIME(6) NOT NULL DEFAULT '1970-01-01 00:00:01',
	pause_reason	VARCHAR(32) NULL,
	backoff_ms	INT UNSIGNED NOT NULL DEFAULT 0,
	month		CHAR(7) NOT NULL DEFAULT '',
	month_used	BIGINT UNSIGNED NOT NULL DEFAULT 0,
	outage_since	DATETIME(6) NULL,
	outage_error	VARCHAR(160) NULL,
	outage_backoff_ms INT UNSIGNED NOT NULL DEFAULT 0,
	PRIMARY KEY (id)
) ENGINE=InnoDB;
ALTER TABLE rate_gate ADD COLUMN IF NOT EXISTS outage_since DATETIME(6) NULL;
ALTER TABLE rate_gate ADD COLUMN IF NOT EXISTS
	outage_error VARCHAR(160) NULL;
ALTER TABLE rate_gate ADD COLUMN IF NOT EXISTS
	outage_backoff_ms INT UNSIGNED NOT NULL DEFAULT 0;
-- Until when the worker says it is behind: its children have found the
-- gate open (their slots at once, their batches full) for a second or
-- more, so what holds the collection back is not the limit but the
-- machine; POSTs then give way (http.posts_while_behind).
ALTER TABLE rate_gate ADD COLUMN IF NOT EXISTS behind_until DATETIME(6) NULL;
INSERT IGNORE INTO rate_gate (id) VALUES (1);

-- The sliding-window log: each reservation of n cities at slot_at (database
-- clock).  A reservation is admitted only if the cities of every slot in
-- the 60 s (+ margin) before it, plus n, stay within the limit.
CREATE TABLE IF NOT EXISTS rate_slots (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
	slot_at		DATETIME(6) NOT NULL,
	cities		SMALLINT UNSIGNED NOT NULL,
	owner		VARCHAR(64) NOT NULL,
	PRIMARY KEY (id),
	KEY slot_at (slot_at)
) ENGINE=InnoDB;
-- The running count of cities through each slot: the cities in any window
-- are a difference of two counts, found through this index.
ALTER TABLE rate_slots ADD COLUMN IF NOT EXISTS
	cum BIGINT UNSIGNED NOT NULL DEFAULT 0;
ALTER TABLE rate_slots ADD INDEX IF NOT EXISTS cum (cum);
-- The latest moment a slot's calls may have reached the API, when that is
-- past slot_at + owm.margin_ms: the calls' deadline while they are in
-- flight, then the first byte of their answer if it came late; NULL once
-- they arrived within the margin (or were never sent).  A late slot counts
-- in the window until 60 s after this.  Its own index: the gate reads
-- these few rows one by one, and the many normal ones by their count.
ALTER TABLE rate_slots ADD COLUMN IF NOT EXISTS
	arrive_by DATETIME(6) NULL;
ALTER TABLE rate_slots ADD INDEX IF NOT EXISTS arrive_by (arrive_by);
-- Whether a dead child's batch had its calls sent (a slot of its owner,
-- due): the replacement's release reads it per city it gives back.
ALTER TABLE rate_slots ADD INDEX IF NOT EXISTS owner (owner);

-- Every API minute's reserved cities, kept for good (rate_slots only
-- keeps 10 minutes).  Upserted inside the gate's reservation transaction,
-- so it counts exactly what rate_slots admitted: reserved cities, which
-- include the few released unsent (a pause, a shutdown).  minute is the
-- database clock's UTC minute of the slot.
CREATE TABLE IF NOT EXISTS api_minutes (
	minute		DATETIME NOT NULL,
	cities		INT UNSIGNED NOT NULL DEFAULT 0,
	PRIMARY KEY (minute)
) ENGINE=InnoDB;

-- One row per running worker child, upserted by the child itself every
-- ~2 s (and at start), deleted when it exits cleanly.  A child killed
-- outright leaves its row to age; rows older than 10 minutes are removed
-- by the other children, and a replacement child removes its
-- predecessor's when it starts.  owner is the child's id, drawn at random
-- by its supervisor (the prefix of its batches' owners, "<id>:<pid>:<n>"
-- in city_tasks.lease_owner and rate_slots.owner): host names and pids
-- repeat across containers, pid namespaces and reboots.  host is the
-- whole host name (up to 64 bytes), for display; ppid its supervisor's
-- pid (in the child's pid namespace); restarts is how often
-- the supervisor had replaced this slot's child before this one (passed
-- in at fork: the supervisor does no database work); gate_wait_us is the
-- time this child slept at the rate gate until its reserved slots.
-- GET /health and /metrics read it: a heartbeat younger than 10 s is a
-- child alive.
CREATE TABLE IF NOT EXISTS worker_children (
	owner		VARCHAR(64) NOT NULL,
	host		VARCHAR(64) NOT NULL,
	pid		INT UNSIGNED NOT NULL,
	ppid		INT UNSIGNED NOT NULL,
	slot		SMALLINT UNSIGNED NOT NULL,
	started_at	DATETIME(6) NOT NULL,
	heartbeat_at	DATETIME(6) NOT NULL,
	restarts	INT UNSIGNED NOT NULL DEFAULT 0,
	gate_wait_us	BIGINT UNSIGNED NOT NULL DEFAULT 0,
	batches		BIGINT UNSIGNED NOT NULL DEFAULT 0,
	cities		BIGINT UNSIGNED NOT NULL DEFAULT 0,
	PRIMARY KEY (owner),
	KEY heartbeat_at (heartbeat_at)
) ENGINE=InnoDB;
ALTER TABLE worker_children ADD COLUMN IF NOT EXISTS
    ppid INT UNSIGNED NOT NULL DEFAULT 0 AFTER pid;

-- API calls by outcome, for ever (GET /metrics: owmcollect_api_calls_total).
-- Each child adds its batch's counts with one upsert after the batch:
-- ok, not_found ("city not found"), 401, 429, http_4xx, http_5xx (other
-- statuses), timeout, transport (no answer: refused, reset, DNS),
-- broken_json (a 200 whose body did not parse).  A /group call is one
-- call; in single mode each city is one.
CREATE TABLE IF NOT EXISTS api_calls (
	outcome		VARCHAR(32) NOT NULL,
	n		BIGINT UNSIGNED NOT NULL DEFAULT 0,
	PRIMARY KEY (outcome)
) ENGINE=InnoDB;
-- Every outcome has a row from the start, so /metrics shows zeros.
INSERT IGNORE INTO api_calls (outcome) VALUES ('ok'), ('not_found'),
    ('401'), ('429'), ('http_4xx'), ('http_5xx'), ('timeout'),
    ('transport'), ('broken_json');

-- Running counts for GET /metrics and /health, so a scrape reads a few
-- rows, never the requests table or the queue.  Each is changed in the
-- transaction that changes what it counts (lib/counters.c: a POST, a
-- cancel, a batch's completion, the settle), by adding to its own
-- shard's row: CONNECTION_ID() % 32 + 1, so concurrent POSTs do not wait
-- on one another's row lock until commit; a scrape sums the rows.  Every
-- transaction takes this row last, so it adds no deadlock.
--   requests   requests accepted (POST 202)
--   cities     cities of those requests (their totals)
--   collected  cities collected (at POST time from a fresh reading, or
--              by the worker)
--   failed     cities failed (by the worker, or cancelled)
--   queued     city_tasks rows (inserted by POST, deleted by a batch's
--              completion or a cancel)
--   ended      fetches ended (a batch's, a cancel's drops; a cancel also
--              adds 1 for itself): it moves whenever any request's GET
--              document may have, so a cached document is current while
--              it stands still (fcgi/read.c)
-- pending cities = cities - collected - failed.  Shard 0 holds what the
-- tables held when this table was created (an older database), counted
-- once here, only while the table is still empty.
CREATE TABLE IF NOT EXISTS counters (
	shard		SMALLINT UNSIGNED NOT NULL,
	requests	BIGINT NOT NULL DEFAULT 0,
	cities		BIGINT NOT NULL DEFAULT 0,
	collected	BIGINT NOT NULL DEFAULT 0,
	failed		BIGINT NOT NULL DEFAULT 0,
	queued		BIGINT NOT NULL DEFAULT 0,
	ended		BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (shard)
) ENGINE=InnoDB;
ALTER TABLE counters ADD COLUMN IF NOT EXISTS
	ended BIGINT NOT NULL DEFAULT 0;
INSERT INTO counters (shard, requests, cities, collected, failed, queued)
SELECT 0, r.n, r.cities, r.collected, r.failed, q.n
FROM (SELECT COUNT(*) AS n, COALESCE(SUM(total), 0) AS cities,
	COALESCE(SUM(collected), 0) AS collected,
	COALESCE(SUM(failed), 0) AS failed FROM requests
	WHERE NOT EXISTS (SELECT 1 FROM counters)) r,
    (SELECT COUNT(*) AS n FROM city_tasks
	WHERE NOT EXISTS (SELECT 1 FROM counters)) q
WHERE NOT EXISTS (SELECT 1 FROM counters);
-- Every shard's row exists from the start: the programs' upserts then
-- only ever update a row (a record lock), never insert one.
INSERT IGNORE INTO counters (shard)
WITH RECURSIVE s (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 32)
SELECT i FROM s;

-- Upgrade: before fetches (schemas up to 2026-11-30) every city that
-- waited for the worker had a request_cities row, and a batch wrote its
-- outcome into every such row.  Each done row becomes a fetch of its own,
-- each pending row points at its city's queue entry, the references go
-- into requests.cities, and the table goes.  Up to 2026-11-27 there was
-- no requests.cities either: every city had a row, built into the list
-- first.  On a database already upgraded every statement finds nothing.
CREATE TABLE IF NOT EXISTS request_cities (
	request_id	BIGINT UNSIGNED NOT NULL,
	pos		SMALLINT UNSIGNED NOT NULL,
	city_id		INT UNSIGNED NOT NULL,
	state		ENUM('pending', 'collected', 'failed') NOT NULL
			    DEFAULT 'pending',
	reading_id	BIGINT UNSIGNED NULL,
	error		VARCHAR(200) NULL,
	done_at		DATETIME(6) NULL,
	PRIMARY KEY (request_id, pos)
) ENGINE=InnoDB;
UPDATE requests r SET r.cities = (
	SELECT JSON_ARRAYAGG(JSON_ARRAY(rc.city_id, 0) ORDER BY rc.pos)
	FROM request_cities rc WHERE rc.request_id = r.id)
WHERE r.cities IS NULL;
ALTER TABLE request_cities ADD COLUMN IF NOT EXISTS fetch_id BIGINT UNSIGNED NULL;
SET @fetch = (SELECT COALESCE(MAX(fetch_id), 0) FROM city_tasks)
	+ (SELECT COALESCE(MAX(id), 0) FROM fetches);
UPDATE request_cities SET fetch_id = (@fetch := @fetch + 1)
WHERE state <> 'pending' ORDER BY request_id, pos;
INSERT INTO fetches (id, city_id, state, reading_id, error, done_at)
SELECT fetch_id, city_id, state, reading_id, error, COALESCE(done_at, NOW(6))
FROM request_cities WHERE state <> 'pending';
SET @bump = CONCAT('ALTER TABLE city_tasks AUTO_INCREMENT = ', @fetch + 1);
PREPARE bump FROM @bump;
EXECUTE bump;
DEALLOCATE PREPARE bump;
-- A running worker may take a pending city's queue entry and end its
-- fetch at any moment: queueing the pending cities and reading their
-- entries' fetch ids is one transaction, whose INSERT IGNORE locks every
-- entry it finds (or creates one the worker has just ended), so none can
-- end in between unseen.
START TRANSACTION;
INSERT IGNORE INTO city_tasks (city_id, turn, ready_at, created_at)
SELECT DISTINCT city_id, 0, NOW(6), NOW(6) FROM request_cities
WHERE state = 'pending' ORDER BY city_id;
UPDATE request_cities rc JOIN city_tasks t ON t.city_id = rc.city_id
SET rc.fetch_id = t.fetch_id WHERE rc.state = 'pending';
COMMIT;
UPDATE requests r SET r.cities = (
	SELECT JSON_ARRAYAGG(JSON_ARRAY(j.city_id, j.reading_id,
	    COALESCE(rc.fetch_id, 0)) ORDER BY j.pos)
	FROM JSON_TABLE(r.cities, '$[*]' COLUMNS (pos FOR ORDINALITY,
	    city_id INT UNSIGNED PATH '$[0]',
	    reading_id BIGINT UNSIGNED PATH '$[1]')) j
	LEFT JOIN request_cities rc
	    ON rc.request_id = r.id AND rc.pos = j.pos - 1),
    r.wait_fetch = (SELECT MAX(rc.fetch_id) FROM request_cities rc
	WHERE rc.request_id = r.id AND rc.state = 'pending')
WHERE r.id IN (SELECT request_id FROM request_cities);
DROP TABLE request_cities;

-- Report views for `mysql` users.  ids are shown as text.  They show what
-- is stored: everything, unless retention is on (worker/purge.c;
-- docs/configuration.md, "What is kept"), which deletes finished requests requested more than
-- retention.requests_days ago, and readings and fetches older than
-- retention.readings_days that no request still stored can show.
-- request_progress shows each request as last settled (worker/settle.c,
-- within a second of its cities' batches); request_data is exact now.
CREATE OR REPLACE VIEW request_progress AS
SELECT	CONVERT(r.ext_id USING utf8mb4) AS id,
	r.requested_at,
	r.finished_at,
	r.total,
	r.collected,
	r.failed,
	r.total - r.collected - r.failed AS pending,
	TRUNCATE((r.collected + r.failed) * 100 / r.total, 2) AS progress
FROM requests r;

-- A request's every city in order with its state and data: city id, its
-- name, country and coordinates as the answer of the request's reading
-- gave them (readings: never changed, so neither a later rename nor a
-- place first learnt later changes a finished document that caches keep
-- for good), NULL without a reading, Celsius, humidity.  The one statement of a city's state, which GET
-- /get, the settle and a cancel read too: 'collected' when fresh at POST
-- time or its fetch collected it; 'failed' when its fetch failed; a
-- cancelled request's cities not done when it was cancelled are
-- 'failed' with "cancelled"; otherwise 'pending' (a dropped fetch too:
-- the settle queues the city again).  done_at: when the city was done
-- (NULL if served at POST time or pending).  Complete for every request
-- still stored: retention keeps what a stored request shows.
CREATE OR REPLACE VIEW request_data AS
SELECT	CONVERT(r.ext_id USING utf8mb4) AS id,
	r.id AS request_id,
	j.pos - 1 AS pos,
	j.city_id,
	rd.name,
	rd.country,
	rd.lat,
	rd.lon,
	rd.temperature,
	rd.humidity,
	rd.observed_at,
	CASE WHEN j.reading_id > 0 THEN 'collected'
	    WHEN f.state <> 'dropped' AND (r.cancelled_at IS NULL OR
		f.done_at <= r.cancelled_at) THEN f.state
	    WHEN r.cancelled_at IS NOT NULL THEN 'failed'
	    ELSE 'pending' END AS state,
	CASE WHEN j.reading_id > 0 THEN NULL
	    WHEN f.state <> 'dropped' AND (r.cancelled_at IS NULL OR
		f.done_at <= r.cancelled_at) THEN f.error
	    WHEN r.cancelled_at IS NOT NULL THEN 'cancelled'
	    END AS error,
	CASE WHEN j.reading_id > 0 THEN NULL
	    WHEN f.state <> 'dropped' AND (r.cancelled_at IS NULL OR
		f.done_at <= r.cancelled_at) THEN f.done_at
	    WHEN r.cancelled_at IS NOT NULL THEN r.cancelled_at
	    END AS done_at,
	j.fetch_id,
	f.state AS fetch_state
FROM requests r
JOIN JSON_TABLE(r.cities, '$[*]' COLUMNS (pos FOR ORDINALITY,
	city_id INT UNSIGNED PATH '$[0]',
	reading_id BIGINT UNSIGNED PATH '$[1]',
	fetch_id BIGINT UNSIGNED PATH '$[2]' DEFAULT '0' ON EMPTY)) j
LEFT JOIN fetches f ON f.id = j.fetch_id
LEFT JOIN readings rd ON rd.id = IF(j.reading_id > 0, j.reading_id,
	IF(f.state = 'collected' AND (r.cancelled_at IS NULL OR
	    f.done_at <= r.cancelled_at), f.reading_id, NULL));

-- The newest reading of each city (from city_latest, so one row per city
-- without a scan of readings); with retention.readings_days, only cities
-- fetched within that time (a city's row goes with its reading).
CREATE OR REPLACE VIEW latest_readings AS
SELECT	cl.city_id,
	c.name,
	c.country,
	c.lat,
	c.lon,
	rd.temperature,
	rd.humidity,
	rd.observed_at,
	rd.fetched_at
FROM city_latest cl
JOIN readings rd ON rd.id = cl.reading_id
LEFT JOIN cities c ON c.city_id = cl.city_id;

-- Why cities failed: each reason, the distinct cities and requests it hit,
-- over the requests still stored (a pass over every request's cities).
-- Reasons carry the attempts ("HTTP 503 after 5 attempts"); "cancelled"
-- is DELETE /collect.
CREATE OR REPLACE VIEW failures_by_reason AS
SELECT	d.error AS reason,
	COUNT(DISTINCT d.city_id) AS cities,
	COUNT(DISTINCT d.request_id) AS requests
FROM request_data d
WHERE d.state = 'failed'
GROUP BY d.error;

-- Cities sent to the API per minute (database clock, UTC), from the
-- durable api_minutes counter (reserved cities: see api_minutes), kept
-- for good whatever the retention.
CREATE OR REPLACE VIEW api_use_per_minute AS
SELECT	minute,
	cities
FROM api_minutes;
