-- owmcollect schema (MariaDB 10.6+ / MySQL 8).  Idempotent: applying it
-- again, or applying a newer version over an older one, just works
-- (CREATE ... IF NOT EXISTS, ADD COLUMN IF NOT EXISTS, CREATE OR REPLACE VIEW).
-- Applied by `make start` / the stack script as the database owner; the
-- programs connect as an application user with SELECT, INSERT, UPDATE,
-- DELETE on this database only.
--
-- Flow: POST /collect inserts one `requests` row and one `request_cities`
-- row per city (state 'pending'), fulfils cities from fresh `city_latest`
-- readings at once, and upserts a `city_tasks` row per remaining city.
-- The worker claims `city_tasks` (one task per city, however many requests
-- wait for it), passes the rate gate, fetches, and in one transaction
-- inserts the reading, fulfils every pending `request_cities` row of that
-- city, bumps the requests' counters and deletes the task.

-- One row per collection request.  ext_id is the user's id, the exact bytes
-- sent (validated UTF-8), unique forever: the unique key decides races.
CREATE TABLE IF NOT EXISTS requests (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
	ext_id		VARBINARY(128) NOT NULL,
	requested_at	DATETIME(6) NOT NULL,
	finished_at	DATETIME(6) NULL,
	total		SMALLINT UNSIGNED NOT NULL,
	collected	SMALLINT UNSIGNED NOT NULL DEFAULT 0,
	failed		SMALLINT UNSIGNED NOT NULL DEFAULT 0,
	PRIMARY KEY (id),
	UNIQUE KEY ext_id (ext_id),
	KEY requested_at (requested_at)
) ENGINE=InnoDB;

-- A request's cities in the order given.  state moves once, from 'pending'
-- to 'collected' (reading_id set) or 'failed' (error set); never back.
CREATE TABLE IF NOT EXISTS request_cities (
	request_id	BIGINT UNSIGNED NOT NULL,
	pos		SMALLINT UNSIGNED NOT NULL,
	city_id		INT UNSIGNED NOT NULL,
	state		ENUM('pending', 'collected', 'failed') NOT NULL
			    DEFAULT 'pending',
	reading_id	BIGINT UNSIGNED NULL,
	error		VARCHAR(200) NULL,
	done_at		DATETIME(6) NULL,
	PRIMARY KEY (request_id, pos),
	UNIQUE KEY request_city (request_id, city_id),
	-- the worker fulfils every pending row of a city through this
	KEY city_state (city_id, state)
) ENGINE=InnoDB;

-- Every reading fetched; temperature in Celsius, observed_at is the API's
-- dt (UTC), fetched_at the database clock when it was stored.
CREATE TABLE IF NOT EXISTS readings (
	id		BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
	city_id		INT UNSIGNED NOT NULL,
	temperature	DECIMAL(5,2) NOT NULL,
	humidity	TINYINT UNSIGNED NOT NULL,
	observed_at	DATETIME NOT NULL,
	fetched_at	DATETIME(6) NOT NULL,
	PRIMARY KEY (id),
	KEY city_fetched (city_id, fetched_at)
) ENGINE=InnoDB;

-- The newest reading of each city, so a POST can reuse fresh readings
-- (worker.reuse_seconds) with one indexed join instead of a scan.
CREATE TABLE IF NOT EXISTS city_latest (
	city_id		INT UNSIGNED NOT NULL,
	reading_id	BIGINT UNSIGNED NOT NULL,
	fetched_at	DATETIME(6) NOT NULL,
	PRIMARY KEY (city_id)
) ENGINE=InnoDB;

-- Work queue: one row per city some request still waits for.
-- turn orders the queue fairly: a request's city at position p gets turn
-- V + p, where V is the smallest turn still queued when it was posted, so
-- requests interleave round-robin by position (a small request posted
-- during a big one is served within its first few turns).
-- ready_at: not claimable before (a lease's expiry, or a retry's backoff).
-- The claiming query: WHERE ready_at <= NOW(6) ORDER BY turn LIMIT n
-- FOR UPDATE SKIP LOCKED, through the `claim` index.
CREATE TABLE IF NOT EXISTS city_tasks (
	city_id		INT UNSIGNED NOT NULL,
	turn		BIGINT UNSIGNED NOT NULL,
	ready_at	DATETIME(6) NOT NULL,
	lease_owner	VARCHAR(64) NULL,
	attempts	SMALLINT UNSIGNED NOT NULL DEFAULT 0,
	last_error	VARCHAR(200) NULL,
	created_at	DATETIME(6) NOT NULL,
	PRIMARY KEY (city_id),
	KEY claim (turn, ready_at),
	-- a worker extends the leases of its batch while it waits at the gate
	KEY lease_owner (lease_owner)
) ENGINE=InnoDB;
ALTER TABLE city_tasks ADD INDEX IF NOT EXISTS lease_owner (lease_owner);

-- The shared rate gate: one row, locked (SELECT ... FOR UPDATE) by every
-- reservation, so reservations from all children of all hosts serialise.
-- paused_until: nobody sends before it (a 429, an invalid key, the monthly
-- cap); pause_reason says which.
CREATE TABLE IF NOT EXISTS rate_gate (
	id		TINYINT UNSIGNED NOT NULL,
	paused_until	DATETIME(6) NOT NULL DEFAULT '1970-01-01 00:00:01',
	pause_reason	VARCHAR(32) NULL,
	backoff_ms	INT UNSIGNED NOT NULL DEFAULT 0,
	month		CHAR(7) NOT NULL DEFAULT '',
	month_used	BIGINT UNSIGNED NOT NULL DEFAULT 0,
	PRIMARY KEY (id)
) ENGINE=InnoDB;
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

-- Report views for `mysql` users.  ids are shown as text.
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

-- A request's data in the challenge's shape: city id, Celsius, humidity.
CREATE OR REPLACE VIEW request_data AS
SELECT	CONVERT(r.ext_id USING utf8mb4) AS id,
	rc.pos,
	rc.city_id,
	rd.temperature,
	rd.humidity,
	rd.observed_at,
	rc.state,
	rc.error
FROM requests r
JOIN request_cities rc ON rc.request_id = r.id
LEFT JOIN readings rd ON rd.id = rc.reading_id;
