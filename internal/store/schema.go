package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// A migration brings the schema from version n-1 to n, where n is its
// position in migrations counting from 1. Migrations are append-only: a
// released one is never edited, a change is a new migration.
type migration struct {
	name string
	sql  string
}

// migrations, in order. README.md shows the resulting schema (a test keeps
// it equal).
var migrations = []migration{
	{"customers and orders", `
CREATE TABLE customers (
	id        INTEGER PRIMARY KEY,
	number    TEXT NOT NULL UNIQUE COLLATE NOCASE CHECK (number <> ''),
	name      TEXT NOT NULL DEFAULT '',
	name_key  TEXT NOT NULL DEFAULT '',  -- name folded: case, spaces, Unicode form
	email     TEXT NOT NULL DEFAULT '',
	email_key TEXT NOT NULL DEFAULT '',  -- email in lower case
	language  TEXT NOT NULL DEFAULT '',
	created   INTEGER NOT NULL           -- Unix ns
);
CREATE INDEX customers_name_key ON customers (name_key) WHERE name_key <> '';
CREATE INDEX customers_email_key ON customers (email_key) WHERE email_key <> '';

CREATE TABLE orders (
	id          TEXT PRIMARY KEY CHECK (id <> ''),
	customer_id INTEGER NOT NULL REFERENCES customers (id),
	status      TEXT NOT NULL CHECK (status <> ''),
	updated     INTEGER NOT NULL
);
CREATE INDEX orders_customer ON orders (customer_id, updated);
`},
	{"conversations and transcripts", `
CREATE TABLE conversations (
	id          TEXT PRIMARY KEY CHECK (id <> ''),
	network     TEXT NOT NULL CHECK (network <> ''),
	im_user     TEXT NOT NULL CHECK (im_user <> ''),
	customer_id INTEGER REFERENCES customers (id),  -- NULL until identified
	queue       TEXT NOT NULL DEFAULT '',
	reason      TEXT NOT NULL DEFAULT '',
	language    TEXT NOT NULL DEFAULT '',
	started     INTEGER NOT NULL,
	ended       INTEGER,                             -- NULL while open
	outcome     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX conversations_customer ON conversations (customer_id, started);
CREATE INDEX conversations_user ON conversations (network, im_user, started);

-- A line belongs to its conversation; the customer is found through it.
CREATE TABLE transcript (
	conversation TEXT NOT NULL REFERENCES conversations (id),
	seq          INTEGER NOT NULL CHECK (seq > 0),
	time         INTEGER NOT NULL,
	sender       TEXT NOT NULL CHECK (sender IN ('customer', 'agent', 'bot', 'system', 'supervisor')),
	agent_id     TEXT NOT NULL DEFAULT '',
	text         TEXT NOT NULL,
	PRIMARY KEY (conversation, seq)
) WITHOUT ROWID;
`},
	{"devices, subscribers and callback requests", `
CREATE TABLE devices (
	network   TEXT NOT NULL,
	im_user   TEXT NOT NULL,
	device    TEXT NOT NULL,  -- '' when the network has no devices
	family    TEXT NOT NULL DEFAULT '',
	version   TEXT NOT NULL DEFAULT '',
	os        TEXT NOT NULL DEFAULT '',
	source    TEXT NOT NULL DEFAULT '',
	category  TEXT NOT NULL DEFAULT '',
	type      TEXT NOT NULL DEFAULT '',
	node      TEXT NOT NULL DEFAULT '',
	available INTEGER NOT NULL DEFAULT 0,
	show      TEXT NOT NULL DEFAULT '',
	status    TEXT NOT NULL DEFAULT '',
	priority  INTEGER NOT NULL DEFAULT 0,
	updated   INTEGER NOT NULL,
	PRIMARY KEY (network, im_user, device)
) WITHOUT ROWID;

CREATE TABLE subscribers (
	network TEXT NOT NULL,
	im_user TEXT NOT NULL,
	added   INTEGER NOT NULL,
	PRIMARY KEY (network, im_user)
) WITHOUT ROWID;

CREATE TABLE callback_requests (
	id           INTEGER PRIMARY KEY,
	conversation TEXT NOT NULL DEFAULT '',  -- where it was asked for, if in chat
	network      TEXT NOT NULL DEFAULT '',
	im_user      TEXT NOT NULL DEFAULT '',
	customer_id  INTEGER REFERENCES customers (id),
	queue        TEXT NOT NULL,
	number       TEXT NOT NULL DEFAULT '',
	requested    INTEGER NOT NULL,
	state        TEXT NOT NULL
);
CREATE INDEX callback_requests_open ON callback_requests (requested)
	WHERE state IN ('pending', 'dialing');
`},
	{"transcripts in chunks", `
-- A run of a conversation's lines with consecutive numbers, as a JSON
-- array of {"s": seq, "t": time (Unix ns), "f": sender, "a": agent id
-- (absent when empty), "x": text}. Chunks of a conversation do not
-- overlap.
CREATE TABLE transcript_chunks (
	conversation TEXT NOT NULL REFERENCES conversations (id),
	first_seq    INTEGER NOT NULL CHECK (first_seq > 0),
	last_seq     INTEGER NOT NULL CHECK (last_seq >= first_seq),
	lines        TEXT NOT NULL,  -- written by the store (encodeChunk) or the view's trigger
	PRIMARY KEY (conversation, first_seq)
) WITHOUT ROWID;

INSERT INTO transcript_chunks (conversation, first_seq, last_seq, lines)
	SELECT conversation, seq, seq, json_array(json_object('s', seq, 't', time, 'f', sender, 'a', agent_id, 'x', text))
	FROM transcript;
DROP TABLE transcript;

-- One row per line, as the table it replaces was.
CREATE VIEW transcript (conversation, seq, time, sender, agent_id, text) AS
	SELECT c.conversation, l.value ->> 's', l.value ->> 't', l.value ->> 'f', COALESCE(l.value ->> 'a', ''), l.value ->> 'x'
	FROM transcript_chunks AS c, json_each(c.lines) AS l;

-- A line written through the view is a chunk of its own.
CREATE TRIGGER transcript_insert INSTEAD OF INSERT ON transcript
BEGIN
	SELECT RAISE(ABORT, 'UNIQUE constraint failed: transcript.conversation, transcript.seq')
	WHERE EXISTS (SELECT 1 FROM transcript_chunks
		WHERE conversation = NEW.conversation AND first_seq <= NEW.seq AND last_seq >= NEW.seq);
	INSERT INTO transcript_chunks (conversation, first_seq, last_seq, lines)
	VALUES (NEW.conversation, NEW.seq, NEW.seq,
		json_array(json_object('s', NEW.seq, 't', NEW.time, 'f', NEW.sender, 'a', COALESCE(NEW.agent_id, ''), 'x', NEW.text)));
END;
`},
	{"customer postcodes and linked devices", `
-- A second fact the bot may ask to verify a customer (im.bot.identify.verify).
ALTER TABLE customers ADD COLUMN postcode TEXT NOT NULL DEFAULT '';

-- An IM user (an XMPP bare JID, ...) that belongs to a customer: the
-- customer verified from it, or it was registered for the customer. A
-- linked user's chats open the customer's data without asking again.
CREATE TABLE device_links (
	network     TEXT NOT NULL CHECK (network <> ''),
	im_user     TEXT NOT NULL CHECK (im_user <> ''),
	customer_id INTEGER NOT NULL REFERENCES customers (id),
	via         TEXT NOT NULL CHECK (via IN ('verified', 'registered')),
	linked      INTEGER NOT NULL,  -- Unix ns
	PRIMARY KEY (network, im_user)
) WITHOUT ROWID;
CREATE INDEX device_links_customer ON device_links (customer_id);
`},
	{"routing state, registrations and queue statistics", `
-- Where a routed conversation is (queued or with an agent), journaled at
-- each change and deleted at its end: at start, the conversations that
-- have a row are put back in their queues.
CREATE TABLE conversation_routes (
	conversation   TEXT PRIMARY KEY REFERENCES conversations (id),
	phase          TEXT NOT NULL CHECK (phase IN ('queued', 'connected')),
	queue          TEXT NOT NULL CHECK (queue <> ''),
	priority       INTEGER NOT NULL DEFAULT 0,
	enqueued       INTEGER NOT NULL,           -- Unix ns: its wait counts from here
	agent_id       TEXT NOT NULL DEFAULT '',   -- the agent it is with (connected)
	customer_id    INTEGER,
	network        TEXT NOT NULL,
	im_user        TEXT NOT NULL,
	device         TEXT NOT NULL DEFAULT '',   -- where to write to the customer
	client_family  TEXT NOT NULL DEFAULT '',
	client_version TEXT NOT NULL DEFAULT '',
	language       TEXT NOT NULL DEFAULT '',
	reason         TEXT NOT NULL DEFAULT '',
	updated        INTEGER NOT NULL
) WITHOUT ROWID;

-- A SIP registrar's bindings (switch/registrar), so that phones stay
-- registered across a restart.
CREATE TABLE sip_bindings (
	aor         TEXT NOT NULL CHECK (aor <> ''),   -- the extension (user)
	contact     TEXT NOT NULL CHECK (contact <> ''),
	expires     INTEGER NOT NULL,                  -- Unix ns
	source      TEXT NOT NULL DEFAULT '',          -- host:port the REGISTER came from
	transport   TEXT NOT NULL DEFAULT '',
	call_id     TEXT NOT NULL DEFAULT '',
	cseq        INTEGER NOT NULL DEFAULT 0,
	user_agent  TEXT NOT NULL DEFAULT '',
	updated     INTEGER NOT NULL,
	PRIMARY KEY (aor, contact)
) WITHOUT ROWID;

-- Each queue's statistics per 15-minute interval: what was counted in it.
CREATE TABLE queue_stats (
	interval_start INTEGER NOT NULL,   -- Unix ns, a multiple of 15 minutes
	queue          TEXT NOT NULL CHECK (queue <> ''),
	offered        INTEGER NOT NULL DEFAULT 0,
	answered       INTEGER NOT NULL DEFAULT 0,
	abandoned      INTEGER NOT NULL DEFAULT 0,
	waited         INTEGER NOT NULL DEFAULT 0,
	answered_in_sl INTEGER NOT NULL DEFAULT 0,
	wait_answered  INTEGER NOT NULL DEFAULT 0,  -- ns
	wait_abandoned INTEGER NOT NULL DEFAULT 0,  -- ns
	handled        INTEGER NOT NULL DEFAULT 0,
	handle_time    INTEGER NOT NULL DEFAULT 0,  -- ns
	PRIMARY KEY (interval_start, queue)
) WITHOUT ROWID;
`},
	{"queue statistics count callbacks", `
-- Waiting customers who took a callback instead (a chat's bot offer, a
-- caller pressing 1) leave the queue counted here, not as abandoned.
ALTER TABLE queue_stats ADD COLUMN callback INTEGER NOT NULL DEFAULT 0;
ALTER TABLE queue_stats ADD COLUMN wait_callback INTEGER NOT NULL DEFAULT 0;  -- ns
`},
	{"the callback server's requests and alerts", `
-- A callback request as the callback server keeps it: the columns it is
-- found by, and the whole request (attempts and all) as JSON, rewritten
-- at each change. At start, the requests are put back in the scheduler.
CREATE TABLE callbacks (
	id        TEXT PRIMARY KEY CHECK (id <> ''),
	state     TEXT NOT NULL CHECK (state IN ('pending', 'dialing', 'done', 'failed', 'cancelled')),
	queue     TEXT NOT NULL CHECK (queue <> ''),
	requested INTEGER NOT NULL,  -- Unix ns
	updated   INTEGER NOT NULL,  -- Unix ns
	doc       TEXT NOT NULL CHECK (json_valid(doc))
) WITHOUT ROWID;
CREATE INDEX callbacks_state ON callbacks (state, id);

-- A customer's alert ("tell me when the wait is under N minutes"), as JSON.
CREATE TABLE callback_alerts (
	id      TEXT PRIMARY KEY CHECK (id <> ''),
	updated INTEGER NOT NULL,
	doc     TEXT NOT NULL CHECK (json_valid(doc))
) WITHOUT ROWID;
`},
}

// LatestSchema is the schema version this build of the store writes.
func LatestSchema() int { return len(migrations) }

const schemaTable = `CREATE TABLE IF NOT EXISTS schema_version (
	version INTEGER PRIMARY KEY,
	name    TEXT NOT NULL,
	applied INTEGER NOT NULL  -- Unix ns
)`

// migrate applies the migrations db lacks, in order, each in its own
// transaction with its schema_version row.
func migrate(ctx context.Context, db *sql.DB, path string, migs []migration) error {
	if _, err := db.ExecContext(ctx, schemaTable); err != nil {
		return fmt.Errorf("store: open %s: schema_version: %w", path, err)
	}
	for {
		done, err := migrateOne(ctx, db, path, migs)
		if err != nil || done {
			return err
		}
	}
}

// migrateOne applies the next migration, if any. It reads the version
// inside the transaction, so two processes opening the file at once apply
// each migration once.
func migrateOne(ctx context.Context, db *sql.DB, path string, migs []migration) (done bool, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("store: open %s: migrate: %w", path, err)
	}
	defer tx.Rollback()
	var cur int
	if err := tx.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_version").Scan(&cur); err != nil {
		return false, fmt.Errorf("store: open %s: schema version: %w", path, err)
	}
	switch {
	case cur > len(migs):
		return false, fmt.Errorf("store: open %s: schema version %d is newer than this build knows (%d): %w",
			path, cur, len(migs), ErrSchemaTooNew)
	case cur == len(migs):
		return true, nil
	}
	m := migs[cur]
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("store: open %s: migration %d (%s): %w", path, cur+1, m.name, err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_version (version, name, applied) VALUES (?, ?, ?)",
		cur+1, m.name, time.Now().UnixNano()); err != nil {
		return false, fmt.Errorf("store: open %s: migration %d (%s): %w", path, cur+1, m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("store: open %s: migration %d (%s): commit: %w", path, cur+1, m.name, err)
	}
	return false, nil
}

// schemaText is the schema as README.md shows it.
func schemaText() string {
	var b strings.Builder
	b.WriteString(schemaTable + ";\n")
	for i, m := range migrations {
		fmt.Fprintf(&b, "\n-- %d: %s\n%s", i+1, m.name, strings.TrimLeft(m.sql, "\n"))
	}
	return b.String()
}
