// Package store is ccswitch's embedded store: customers and their orders,
// conversations and their transcripts, customers' IM devices (client
// software and presence), the subscribers of an XMPP component and callback
// requests, kept in one SQLite file through modernc.org/sqlite (pure Go, no
// cgo).
//
// Durability rule: a method returns nil, and a Writer calls done(nil), only
// after the COMMIT that holds the change has returned, and the database runs
// in WAL mode with synchronous=FULL, so that COMMIT has reached the disk.
// What the store acknowledged survives a crash of the process or of the
// machine. Bad input is refused with an error that names what is wrong and
// wraps ErrInvalid, and changes nothing: every method runs in one
// transaction.
//
// One connection writes (SQLite admits one writer at a time); reads use a
// small pool of read-only connections and never wait for the writer. The IM
// gateway must not wait for an fsync per chat line on its event loop: it
// submits its writes to a Writer, which commits the ops submitted close
// together in one transaction (group commit) and reports each op's outcome
// afterwards.
//
// Times are stored as Unix nanoseconds and come back in UTC; a zero
// time.Time is stored as NULL where a time is optional.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Error kinds. Errors returned by the store wrap one of them where one
// applies; test with errors.Is.
var (
	// ErrInvalid: the input is malformed or refers to something that does
	// not exist (an unknown customer id in an order, say). Nothing was
	// changed.
	ErrInvalid = errors.New("invalid input")
	// ErrNotFound: the record to change does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the input contradicts what is stored (a transcript line
	// number already used for another text, a conversation id already used
	// for another user).
	ErrConflict = errors.New("conflict")
	// ErrAmbiguous: FindCustomer matched several customers; ask for
	// something unique, such as the customer number.
	ErrAmbiguous = errors.New("ambiguous")
	// ErrClosed: the store or the Writer is closed.
	ErrClosed = errors.New("closed")
	// ErrSchemaTooNew: the file was written by a newer ccswitch.
	ErrSchemaTooNew = errors.New("schema too new")
)

// Config tunes a Store. The zero value is ready to use.
type Config struct {
	// BusyTimeout is how long a statement waits for a lock held by
	// another process (a backup, the sqlite3 shell) before failing.
	// Default 5s.
	BusyTimeout time.Duration
	// ReadConns is the size of the read-only connection pool. Default 4.
	ReadConns int
	// Now stamps records that arrive without a time. Default time.Now.
	Now func() time.Time
	// Writer configures the Writer that Store.Writer returns.
	Writer WriterConfig
}

// Store is an open database. Its methods are safe for concurrent use.
type Store struct {
	path string
	now  func() time.Time
	wdb  *sql.DB // one connection: every write
	rdb  *sql.DB // read-only pool

	// prepared holds the write path's hot statements (writeQueries),
	// prepared once on the write connection: parsing the SQL of every
	// statement again was most of the Writer's cost. Read-only after Open.
	prepared map[string]*sql.Stmt

	mu      sync.Mutex
	closed  bool
	shared  *Writer
	writers []*Writer
	wopts   WriterConfig
}

// Open opens the database file at path, creating it when missing, and
// brings its schema up to date, one migration per transaction. A file whose
// schema is newer than this code knows is refused with ErrSchemaTooNew.
func Open(path string, opts Config) (*Store, error) {
	return open(path, opts, migrations)
}

func open(path string, opts Config, migs []migration) (*Store, error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("store: open %q: want the path of a database file: %w", path, ErrInvalid)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = 4
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Store{path: abs, now: opts.Now, wopts: opts.Writer}

	s.wdb, err = sql.Open("sqlite", dsn(abs, opts.BusyTimeout, false))
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	ctx := context.Background()
	var mode string
	if err := s.wdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		s.wdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		s.wdb.Close()
		return nil, fmt.Errorf("store: open %s: journal mode is %q, not wal (a file system without shared memory?)", path, mode)
	}
	if err := migrate(ctx, s.wdb, path, migs); err != nil {
		s.wdb.Close()
		return nil, err
	}
	if len(migs) == len(migrations) { // tests open older schemas
		s.prepared = make(map[string]*sql.Stmt, len(writeQueries))
		for _, q := range writeQueries {
			st, err := s.wdb.PrepareContext(ctx, q)
			if err != nil {
				s.wdb.Close()
				return nil, fmt.Errorf("store: open %s: prepare %q: %w", path, q, err)
			}
			s.prepared[q] = st
		}
	}

	s.rdb, err = sql.Open("sqlite", dsn(abs, opts.BusyTimeout, true))
	if err != nil {
		s.wdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s.rdb.SetMaxOpenConns(opts.ReadConns)
	s.rdb.SetMaxIdleConns(opts.ReadConns)
	if err := s.rdb.PingContext(ctx); err != nil {
		s.rdb.Close()
		s.wdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return s, nil
}

// dsn builds the driver's name for the file: an SQLite URI (so that '?',
// '#' and '%' in the path are escaped rather than parsed) with the pragmas
// every connection gets. Writers begin their transactions IMMEDIATE, so a
// transaction never fails half-way on a lock upgrade.
func dsn(abs string, busy time.Duration, readOnly bool) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(abs))
	if !strings.HasPrefix(esc, "/") {
		esc = "/" + esc // a Windows drive letter
	}
	q := []string{
		"_pragma=busy_timeout(" + strconv.FormatInt(busy.Milliseconds(), 10) + ")",
		"_pragma=foreign_keys(1)",
		"_pragma=synchronous(FULL)",
	}
	// Page caches are bounded explicitly (SQLite's default is 2 MiB a
	// connection, and they fill as the file grows: a long-running center
	// saw its memory creep by that much per reader): readers look up
	// small things (a customer, an order, a transcript) and get 128 KiB,
	// the writer, which walks the hot end of the indexes of every insert,
	// 512 KiB.
	if readOnly {
		q = append(q, "_query_only=1", "_pragma=cache_size(-128)")
	} else {
		// The Writer's savepoints keep page copies in a statement
		// journal, which otherwise goes to a temporary file past 64 KiB
		// (an open, writes and a close per batch); it is only for
		// rolling back within a transaction, never for recovery, so
		// memory does not weaken durability.
		q = append(q, "_pragma=journal_mode(WAL)", "_pragma=temp_store(MEMORY)", "_pragma=cache_size(-512)", "_txlock=immediate")
	}
	return "file:" + esc + "?" + strings.Join(q, "&")
}

// Path is the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// SchemaVersion is the schema version of the open file.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.rdb.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0) FROM schema_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return v, nil
}

// Close drains and stops the store's Writers, then closes the database.
// Calling it again does nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	ws := s.writers
	s.writers = nil
	s.mu.Unlock()
	var errs []error
	for i := len(ws) - 1; i >= 0; i-- {
		errs = append(errs, ws[i].Close())
	}
	for _, st := range s.prepared {
		st.Close()
	}
	if err := s.rdb.Close(); err != nil {
		errs = append(errs, fmt.Errorf("store: close readers: %w", err))
	}
	if err := s.wdb.Close(); err != nil {
		errs = append(errs, fmt.Errorf("store: close writer: %w", err))
	}
	return errors.Join(errs...)
}

// writeQueries are the statements prepared at Open; prep adds one.
var writeQueries []string

func prep(query string) string {
	writeQueries = append(writeQueries, query)
	return query
}

// txn is a write transaction that runs the store's prepared statements
// for the queries that have one.
type txn struct {
	*sql.Tx
	prepared map[string]*sql.Stmt
}

func (s *Store) txn(tx *sql.Tx) txn { return txn{tx, s.prepared} }

// ExecContext runs query, prepared if it is one of writeQueries.
func (t txn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st, ok := t.prepared[query]; ok {
		return t.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryRowContext runs query, prepared if it is one of writeQueries.
func (t txn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st, ok := t.prepared[query]; ok {
		return t.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

// update runs fn in one write transaction and commits it: nil means the
// change is on disk, an error means nothing changed.
func (s *Store) update(ctx context.Context, what string, fn func(tx txn) error) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: %s: begin: %w", what, err)
	}
	if err := fn(s.txn(tx)); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: %s: commit: %w", what, err)
	}
	return nil
}

// Times: Unix nanoseconds, zero as NULL.

func encTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func decTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// nullID stores 0 as NULL (no customer).
func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// queryer is a *sql.DB or *sql.Tx.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queryAll runs a query and scans every row with scan.
func queryAll[T any](ctx context.Context, q queryer, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

var qCustomerExists = prep("SELECT 1 FROM customers WHERE id = ?")

// customerExists reports whether a customer with that id exists.
func customerExists(ctx context.Context, q queryer, id int64) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, qCustomerExists, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}
