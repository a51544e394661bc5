package store

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// syncSpool waits for a Sync of sp.
func syncSpool(t *testing.T, sp *Spool) {
	t.Helper()
	done := make(chan error, 1)
	sp.Sync(func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func appendRec(t *testing.T, sp *Spool, rec string) uint64 {
	t.Helper()
	seg, err := sp.Append([]byte(rec))
	if err != nil {
		t.Fatal(err)
	}
	return seg
}

// segmentCount is how many segment files dir holds.
func segmentCount(t *testing.T, dir string) int {
	t.Helper()
	names, err := segmentNames(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(names)
}

func recStrings(recs [][]byte) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r)
	}
	return out
}

func TestSpoolReplaysWhatWasNotApplied(t *testing.T) {
	dir := t.TempDir()
	sp, left, err := OpenSpool(dir, SpoolConfig{})
	if err != nil || len(left) != 0 {
		t.Fatalf("fresh spool: %v, %d records", err, len(left))
	}
	var want []string
	for i := range 100 {
		r := "record " + strconv.Itoa(i) + strings.Repeat("x", i)
		appendRec(t, sp, r)
		want = append(want, r)
	}
	appendRec(t, sp, "") // an empty record is a record
	want = append(want, "")
	syncSpool(t, sp)
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := sp.Append([]byte("late")); err != ErrSpoolClosed {
		t.Fatalf("append after close: %v", err)
	}

	sp2, left, err := OpenSpool(dir, SpoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp2.Close()
	if got := recStrings(left); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("replayed %d records, want %d:\n%q", len(got), len(want), got)
	}
	if err := sp2.ReplayDone(); err != nil {
		t.Fatal(err)
	}
	if n := segmentCount(t, dir); n != 1 {
		t.Fatalf("%d segments after ReplayDone, want the current one", n)
	}
	sp2.Close()
	if _, left, _ := OpenSpool(dir, SpoolConfig{}); len(left) != 0 {
		t.Fatalf("%d records replayed again", len(left))
	}
}

// Full segments are removed once all their records are applied, and
// only then; the current one stays.
func TestSpoolRemovesAppliedSegments(t *testing.T) {
	dir := t.TempDir()
	sp, _, err := OpenSpool(dir, SpoolConfig{SegmentBytes: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	perSeg := map[uint64]int{}
	var order []uint64
	for i := range 40 {
		seg := appendRec(t, sp, "line "+strconv.Itoa(i)+" of a conversation")
		if perSeg[seg] == 0 {
			order = append(order, seg)
		}
		perSeg[seg]++
		syncSpool(t, sp) // one write per record: segments fill one by one
	}
	if len(order) < 5 {
		t.Fatalf("records went to %d segments; the test needs several", len(order))
	}
	before := segmentCount(t, dir)
	if before < len(order) {
		t.Fatalf("%d segment files for %d segments", before, len(order))
	}
	// All but one record of the first segment: it stays.
	sp.Applied(order[0], perSeg[order[0]]-1)
	if segmentCount(t, dir) != before {
		t.Fatal("a segment with an unapplied record was removed")
	}
	sp.Applied(order[0], 1)
	if segmentCount(t, dir) != before-1 {
		t.Fatalf("%d segments, want %d", segmentCount(t, dir), before-1)
	}
	for _, seg := range order[1:] {
		sp.Applied(seg, perSeg[seg])
	}
	// The current segment is never removed (it is not sealed).
	if n := segmentCount(t, dir); n != 1 {
		t.Fatalf("%d segments left, want 1", n)
	}
	sp.Close()
	if _, left, _ := OpenSpool(dir, SpoolConfig{}); len(left) > perSeg[order[len(order)-1]] {
		t.Fatalf("%d records replayed; at most the current segment's %d may be", len(left), perSeg[order[len(order)-1]])
	}
}

// A torn or damaged frame ends a segment's records; the records before
// it are kept.
func TestSpoolTornTail(t *testing.T) {
	dir := t.TempDir()
	sp, _, err := OpenSpool(dir, SpoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"one", "two", "three"} {
		appendRec(t, sp, r)
	}
	syncSpool(t, sp)
	sp.Close()
	names, _ := segmentNames(dir)
	path := filepath.Join(dir, names[0])
	b, _ := os.ReadFile(path)

	// Torn: the last frame is cut short.
	if err := os.WriteFile(path, b[:len(b)-2], 0o640); err != nil {
		t.Fatal(err)
	}
	if _, left, err := OpenSpool(dir, SpoolConfig{}); err != nil || strings.Join(recStrings(left), ",") != "one,two" {
		t.Fatalf("torn tail: %q, %v", recStrings(left), err)
	}
	// Damaged: a payload byte of the second frame flipped.
	d := append([]byte(nil), b...)
	d[8+3+8] ^= 0xff
	if err := os.WriteFile(path, d, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, left, err := OpenSpool(dir, SpoolConfig{}); err != nil || strings.Join(recStrings(left), ",") != "one" {
		t.Fatalf("damaged frame: %q, %v", recStrings(left), err)
	}
}

func TestSpoolRefusesHugeRecord(t *testing.T) {
	sp, _, err := OpenSpool(t.TempDir(), SpoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if _, err := sp.Append(make([]byte, maxRecordBytes+1)); err == nil {
		t.Fatal("a record over the limit was taken")
	}
}

// A real crash: a child process appends records and reports each one it
// saw synced; it is killed mid-stream (SIGKILL). Every record it reported
// is replayed, in order.
func TestSpoolCrashKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	last := killAfterAcks(t, "TestSpoolCrashChild", "STORE_SPOOL_DIR="+dir, spoolAckStep)
	_, left, err := OpenSpool(dir, SpoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed after %d acknowledgements; %d records replayed", last, len(left))
	if int64(len(left)) < last {
		t.Fatalf("%d records replayed, %d were acknowledged", len(left), last)
	}
	for i, r := range left {
		if string(r) != "rec "+strconv.Itoa(i+1) {
			t.Fatalf("record %d is %q", i, r)
		}
	}
}

// spoolAckStep: the child syncs, and acknowledges, every seventh record.
const spoolAckStep = 7

// TestSpoolCrashChild is the child of TestSpoolCrashKill; alone, it skips.
func TestSpoolCrashChild(t *testing.T) {
	dir := os.Getenv("STORE_SPOOL_DIR")
	if dir == "" {
		t.Skip("run by TestSpoolCrashKill")
	}
	sp, _, err := OpenSpool(dir, SpoolConfig{SegmentBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; ; i++ {
		if _, err := sp.Append([]byte("rec " + strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
		if i%spoolAckStep == 0 {
			sp.Sync(func(err error) {
				if err != nil {
					os.Stdout.WriteString("error " + err.Error() + "\n")
					return
				}
				os.Stdout.WriteString("ack " + strconv.Itoa(i) + "\n")
			})
		}
	}
}

// Appends share fsyncs: a hundred records synced one by one without
// waiting take a few fsyncs, not a hundred; each gets its callback.
func TestSpoolSyncsInGroups(t *testing.T) {
	sp, _, err := OpenSpool(t.TempDir(), SpoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	const n = 100
	done := make(chan error, n)
	for i := range n {
		appendRec(t, sp, "r"+strconv.Itoa(i))
		sp.Sync(func(err error) { done <- err })
	}
	for range n {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if got := sp.Fsyncs(); got < 1 || got > n/4 {
		t.Fatalf("%d fsyncs for %d synced appends", got, n)
	}
}

// With a linger, an fsync right after another waits out the rest of the
// linger first (gathering what comes meanwhile); the first does not wait.
func TestSpoolLingersBetweenFsyncs(t *testing.T) {
	const linger = time.Hour
	waits := make(chan time.Duration, 4)
	dir := t.TempDir()
	sp, _, err := OpenSpool(dir, SpoolConfig{Linger: linger})
	if err != nil {
		t.Fatal(err)
	}
	sp.mu.Lock()
	sp.sleep = func(d time.Duration) { waits <- d } // returns at once: the test does not wait an hour
	sp.mu.Unlock()
	defer sp.Close()
	appendRec(t, sp, "first")
	syncSpool(t, sp)
	if len(waits) != 0 {
		t.Fatalf("the first fsync waited %v", <-waits)
	}
	appendRec(t, sp, "second")
	syncSpool(t, sp)
	select {
	case d := <-waits:
		if d <= 0 || d > linger {
			t.Fatalf("waited %v before the second fsync, want up to %v", d, linger)
		}
	default:
		t.Fatal("the second fsync came right after the first, without lingering")
	}
}
