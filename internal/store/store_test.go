package store

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/internal/doctest"
)

var update = flag.Bool("update", false, "rewrite the schema in README.md")

// t0 is when the test clock starts.
var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// testClock returns a clock that starts at t0 and ticks one second per
// reading.
func testClock() func() time.Time {
	var mu sync.Mutex
	now := t0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
}

// MustOpen opens a store on a new file in a temporary directory, closed at
// the end of the test.
func MustOpen(tb testing.TB) *Store {
	tb.Helper()
	return MustOpenPath(tb, filepath.Join(tb.TempDir(), "ccswitch.db"), Config{Now: testClock()})
}

// MustOpenPath opens the store at path, closed at the end of the test.
func MustOpenPath(tb testing.TB, path string, opts Config) *Store {
	tb.Helper()
	s, err := Open(path, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

// MustCustomer puts a customer.
func MustCustomer(tb testing.TB, s *Store, number, name, email string) Customer {
	tb.Helper()
	c, err := s.PutCustomer(context.Background(), Customer{Number: number, Name: name, Email: email})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// MustConversation puts a conversation.
func MustConversation(tb testing.TB, s *Store, c Conversation) {
	tb.Helper()
	if err := s.PutConversation(context.Background(), c); err != nil {
		tb.Fatal(err)
	}
}

// wantErr checks err against a wanted kind (nil: no error) and, when
// given, a fragment of its text.
func wantErr(tb testing.TB, err, kind error, text string) {
	tb.Helper()
	switch {
	case kind == nil && err != nil:
		tb.Fatalf("unexpected error: %v", err)
	case kind != nil && !errors.Is(err, kind):
		tb.Fatalf("error %v, want one wrapping %v", err, kind)
	case kind != nil && !strings.Contains(err.Error(), text):
		tb.Fatalf("error %q does not mention %q", err, text)
	}
}

// count counts the rows of a table.
func count(tb testing.TB, s *Store, table string) int {
	tb.Helper()
	var n int
	if err := s.rdb.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

func TestOpenPragmas(t *testing.T) {
	s := MustOpen(t)
	for _, c := range []struct {
		db     *sql.DB
		pragma string
		want   string
	}{
		{s.wdb, "journal_mode", "wal"},
		{s.wdb, "synchronous", "2"}, // FULL
		{s.wdb, "foreign_keys", "1"},
		{s.wdb, "busy_timeout", "5000"},
		{s.wdb, "query_only", "0"},
		{s.wdb, "temp_store", "2"}, // MEMORY: savepoints' journal
		{s.rdb, "synchronous", "2"},
		{s.rdb, "foreign_keys", "1"},
		{s.rdb, "query_only", "1"},
	} {
		var got string
		if err := c.db.QueryRow("PRAGMA " + c.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s = %s, want %s (writer %v)", c.pragma, got, c.want, c.db == s.wdb)
		}
	}
	if _, err := s.rdb.Exec("INSERT INTO subscribers VALUES ('x', 'y', 0)"); err == nil {
		t.Error("a reader connection wrote")
	}
}

func TestOpenBadPath(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not a database\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, path string
		kind       error
	}{
		{"empty", "", ErrInvalid},
		{"memory", ":memory:", ErrInvalid},
		{"uri", "file:x.db", ErrInvalid},
		{"directory", dir, nil},
		{"missing directory", filepath.Join(dir, "no", "such", "x.db"), nil},
		{"not a database", junk, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := Open(c.path, Config{})
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if c.kind != nil && !errors.Is(err, c.kind) {
				t.Errorf("error %v, want %v", err, c.kind)
			}
			if !strings.HasPrefix(err.Error(), "store: open") {
				t.Errorf("error %q does not say where", err)
			}
		})
	}
}

// A path is a path: characters that mean something in a URI name a file.
func TestOpenOddPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "my center ?#%20&x=1.db")
	s := MustOpenPath(t, path, Config{})
	MustCustomer(t, s, "C1", "Ann", "")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the file is not where asked: %v", err)
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
}

func TestMigrateEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := MustOpenPath(t, path, Config{})
	ctx := context.Background()
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != LatestSchema() {
		t.Fatalf("version %d, %v; want %d", v, err, LatestSchema())
	}
	rows, err := queryAll(ctx, s.rdb, func(r scanner) (string, error) {
		var v int
		var name string
		err := r.Scan(&v, &name)
		return strings.Repeat("+", v) + name, err
	}, "SELECT version, name FROM schema_version ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range migrations {
		if want := strings.Repeat("+", i+1) + m.name; i >= len(rows) || rows[i] != want {
			t.Errorf("schema_version rows %q, want %q at %d", rows, want, i)
		}
	}
}

// Migrations apply in order on a file an older build wrote, and keep its
// data.
func TestMigrateFromOlder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	for n := 1; n < len(migrations); n++ {
		old, err := open(path, Config{}, migrations[:n])
		if err != nil {
			t.Fatalf("version %d: %v", n, err)
		}
		if v, _ := old.SchemaVersion(context.Background()); v != n {
			t.Fatalf("version %d, want %d", v, n)
		}
		if n == 1 {
			mustOldCustomer(t, old, "C1", "Ann Old", "ann@example.test")
		}
		old.Close()
	}
	s := MustOpenPath(t, path, Config{})
	if v, _ := s.SchemaVersion(context.Background()); v != LatestSchema() {
		t.Fatalf("version %d, want %d", v, LatestSchema())
	}
	c, ok, err := s.FindCustomer(context.Background(), "ann old")
	if err != nil || !ok || c.Number != "C1" {
		t.Fatalf("customer from version 1: %v %v %v", c, ok, err)
	}
	// Reopening at the latest version applies nothing.
	s2 := MustOpenPath(t, path, Config{})
	if n := count(t, s2, "schema_version"); n != LatestSchema() {
		t.Errorf("%d schema_version rows, want %d", n, LatestSchema())
	}
}

// A migration that fails leaves the file at the version before it.
func TestMigrationFailsWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	bad := append(migrations[:1:1], migration{"broken", "CREATE TABLE half (a); CREATE TABLE customers (b);"})
	_, err := open(path, Config{}, bad)
	if err == nil || !strings.Contains(err.Error(), "migration 2 (broken)") {
		t.Fatalf("error %v, want one naming migration 2", err)
	}
	s, err := open(path, Config{}, migrations[:1])
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, _ := s.SchemaVersion(context.Background()); v != 1 {
		t.Errorf("version %d after a failed migration 2, want 1", v)
	}
	var n int
	s.rdb.QueryRow("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'half'").Scan(&n)
	if n != 0 {
		t.Error("the failed migration left a table behind")
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "new.db")
	s, err := Open(path, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.wdb.Exec("INSERT INTO schema_version VALUES (99, 'from the future', 0)"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(path, Config{})
	wantErr(t, err, ErrSchemaTooNew, fmt.Sprintf("schema version 99 is newer than this build knows (%d)", LatestSchema()))
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestClose(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "x.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	w := s.Writer()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.PutCustomer(context.Background(), Customer{Number: "C1"}); err == nil {
		t.Error("PutCustomer after Close succeeded")
	}
	var got error
	w.Submit(func(*sql.Tx) error { return nil }, func(err error) { got = err })
	wantErr(t, got, ErrClosed, "writer")
	var late error
	s.Writer().Submit(func(*sql.Tx) error { return nil }, func(err error) { late = err })
	wantErr(t, late, ErrClosed, "writer")
}

// README.md shows the schema the migrations build.
func TestReadmeSchema(t *testing.T) {
	doctest.CheckBlock(t, "README.md", "schema", "sql", schemaText(), *update)
}

// Migration 5 gives the customers of an older file an empty postcode and
// the store keeps the postcodes written after it.
func TestMigratePostcodes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	old, err := open(path, Config{}, migrations[:4])
	if err != nil {
		t.Fatal(err)
	}
	mustOldCustomer(t, old, "C1", "Ann Old", "ann@example.test")
	old.Close()
	s := MustOpenPath(t, path, Config{})
	ctx := context.Background()
	c, ok, err := s.FindCustomer(ctx, "C1")
	if err != nil || !ok || c.Postcode != "" {
		t.Fatalf("migrated customer %+v %v %v, want an empty postcode", c, ok, err)
	}
	c.Postcode = " AB1 2CD "
	if _, err := s.PutCustomer(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.Seed(ctx, []Customer{{Number: "C2", Name: "Bea New", Postcode: "10115"}}, nil); err != nil {
		t.Fatal(err)
	}
	for number, want := range map[string]string{"C1": "AB1 2CD", "C2": "10115"} {
		if c, _, _ := s.FindCustomer(ctx, number); c.Postcode != want {
			t.Errorf("%s postcode %q, want %q", number, c.Postcode, want)
		}
	}
	if n := count(t, s, "device_links"); n != 0 {
		t.Errorf("%d device links after the migration", n)
	}
}

// mustOldCustomer inserts a customer with the columns of schema version 1,
// as an older build wrote it.
func mustOldCustomer(tb testing.TB, s *Store, number, name, email string) {
	tb.Helper()
	_, err := s.wdb.Exec(`INSERT INTO customers (number, name, name_key, email, email_key, language, created)
		VALUES (?, ?, ?, ?, ?, '', 1)`, number, name, NameKey(name), email, emailKey(email))
	if err != nil {
		tb.Fatal(err)
	}
}

// TestPageCachesAreBounded: every connection's page cache is set, not
// SQLite's default of 2 MiB that fills as the file grows.
func TestPageCachesAreBounded(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "cache.db"), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		db   *sql.DB
		want int
	}{{s.wdb, -512}, {s.rdb, -128}} {
		var got int
		if err := c.db.QueryRow("PRAGMA cache_size").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("cache_size %d, want %d", got, c.want)
		}
	}
}
