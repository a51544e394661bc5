package store

import (
	"errors"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// faultyFile fails its writes and syncs while *full is set, as a file on
// a full disk does.
type faultyFile struct {
	f    *os.File
	full *atomic.Bool
}

func (f faultyFile) Write(p []byte) (int, error) {
	if f.full.Load() {
		return 0, &os.PathError{Op: "write", Path: f.f.Name(), Err: syscall.ENOSPC}
	}
	return f.f.Write(p)
}

func (f faultyFile) Sync() error {
	if f.full.Load() {
		return &os.PathError{Op: "sync", Path: f.f.Name(), Err: syscall.ENOSPC}
	}
	return f.f.Sync()
}

func (f faultyFile) Close() error { return f.f.Close() }

// A write that fails loses what it held: the Sync waiting for it fails,
// OnFailure is told, appends are refused; once the disk takes writes
// again the spool opens a new segment by itself and syncs again. What
// was synced before the failure and after it is replayed; what the
// failed write held is not (its caller kept it).
func TestSpoolRecoversFromAFailedWrite(t *testing.T) {
	dir := t.TempDir()
	var full atomic.Bool
	failures := make(chan error, 4)
	opts := SpoolConfig{
		RetryAfter: time.Millisecond,
		OnFailure:  func(err error) { failures <- err },
		Open: func(path string) (SpoolFile, error) {
			f, err := OpenSpoolFile(path)
			if err != nil {
				return nil, err
			}
			return faultyFile{f, &full}, nil
		},
	}
	sp, _, err := OpenSpool(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	appendRec(t, sp, "before")
	syncSpool(t, sp)
	full.Store(true)
	appendRec(t, sp, "lost")
	done := make(chan error, 1)
	sp.Sync(func(err error) { done <- err })
	if err := <-done; !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Sync on a full disk: %v, want ENOSPC", err)
	}
	if err := <-failures; !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("OnFailure got %v", err)
	}
	if _, err := sp.Append([]byte("refused")); err == nil || sp.Err() == nil {
		t.Fatalf("Append after a failed write: %v (Err %v), want the failure", err, sp.Err())
	}
	full.Store(false)
	deadline := time.Now().Add(10 * time.Second)
	for sp.Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the spool did not take appends again")
		}
		time.Sleep(time.Millisecond) // polling for the spool's own retry
	}
	appendRec(t, sp, "after")
	syncSpool(t, sp)
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	sp2, left, err := OpenSpool(dir, SpoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp2.Close()
	got := recStrings(left)
	if len(got) != 2 || got[0] != "before" || got[1] != "after" {
		t.Fatalf("replayed %q, want before and after", got)
	}
}
