package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Spool is a write-ahead log in front of the store. A busy IM gateway
// journals a transcript line for every message it relays; inserting each
// into SQLite as it comes costs a B-tree page write per conversation per
// commit. The spool makes records durable cheaply instead (appended to a
// segment file, fsync'ed in groups), and the caller applies them to the
// store later, in whatever grouping is cheapest (a conversation's lines
// together), telling the spool when they are in (Applied). A segment file
// is removed once every record in it has been applied. At open, the
// records a crash left in the files are handed back for replay: applying
// them must be idempotent, since some may be in the store already.
//
// Records are opaque bytes. A segment is a sequence of frames: the
// payload's length (4 bytes, little-endian), its CRC-32C (4 bytes), the
// payload. A torn frame at the end of a segment (a crash during a write
// that was never acknowledged) ends the segment's records.
//
// A write or fsync that fails (a full disk, a read-only or failing file
// system) loses what it held: the records appended since the last
// successful Sync. The spool then calls SpoolOptions.OnFailure, refuses
// appends and syncs, and every RetryAfter tries a new segment file; once
// it has one, it takes appends again. The caller keeps whatever was not
// synced until the store has it.
type Spool struct {
	dir        string
	maxSize    int64
	linger     time.Duration
	retryAfter time.Duration
	open       func(path string) (SpoolFile, error)
	onFailure  func(error)

	mu       sync.Mutex
	buf      []byte        // frames not yet written
	waiting  []func(error) // Sync callbacks for what buf holds
	wake     chan struct{}
	err      error // a failed write or fsync: refused until a new segment opens
	closed   bool
	segs     map[uint64]*segment
	cur      uint64 // the segment being appended to
	leftover []string
	stopped  chan struct{}
	fsyncs   atomic.Int64
	sleep    func(time.Duration) // time.Sleep; tests watch it
}

// segment counts a segment's records: written, and applied to the store.
type segment struct {
	appended, applied int
	sealed            bool // no more appends: removable once all are applied
}

// SpoolConfig configures a Spool.
type SpoolConfig struct {
	// SegmentBytes is the size after which appends go to a new segment
	// (default 8 MiB).
	SegmentBytes int64
	// Linger is the least time between two fsyncs: under load, what is
	// appended meanwhile waits (up to Linger) to share the next one. An
	// fsync costs the CPU of many appends; 0 syncs as soon as it can.
	Linger time.Duration
	// RetryAfter is how long a spool whose write or fsync failed waits
	// before it tries a new segment file (default 1 s).
	RetryAfter time.Duration
	// OnFailure, if set, is called on the spool's goroutine when a write
	// or fsync fails, before any later Sync can succeed: the records
	// appended and not yet synced are lost from the spool.
	OnFailure func(error)
	// Open opens a new segment file for appending (default: create it,
	// exclusively, with os.OpenFile). Tests put a failing file system here.
	Open func(path string) (SpoolFile, error)
}

// SpoolFile is a segment file as the spool writes it (an *os.File).
type SpoolFile interface {
	Write(p []byte) (int, error)
	Sync() error
	Close() error
}

// OpenSpoolFile creates a segment file for appending: SpoolOptions.Open's
// default.
func OpenSpoolFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o640)
}

// spoolExt is a segment file's extension; its name is its number, in
// hexadecimal, zero-padded so that names sort in number order.
const spoolExt = ".spool"

// maxRecordBytes bounds one record: a bigger length in a frame is damage.
const maxRecordBytes = 16 << 20

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// OpenSpool opens (creating it if need be) the spool directory dir and
// returns the records left in it, in the order they were appended. Apply
// them, then call ReplayDone to remove their segments.
func OpenSpool(dir string, o SpoolConfig) (*Spool, [][]byte, error) {
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = 8 << 20
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Second
	}
	if o.Open == nil {
		o.Open = func(path string) (SpoolFile, error) { return OpenSpoolFile(path) }
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("store: spool: %w", err)
	}
	names, err := segmentNames(dir)
	if err != nil {
		return nil, nil, err
	}
	var recs [][]byte
	next := uint64(1)
	for _, n := range names {
		rs, err := readSegment(filepath.Join(dir, n))
		if err != nil {
			return nil, nil, err
		}
		recs = append(recs, rs...)
		num, _ := strconv.ParseUint(strings.TrimSuffix(n, spoolExt), 16, 64)
		next = max(next, num+1)
	}
	s := &Spool{
		dir: dir, maxSize: o.SegmentBytes, linger: o.Linger, retryAfter: o.RetryAfter, open: o.Open, onFailure: o.OnFailure,
		wake: make(chan struct{}, 1),
		segs: map[uint64]*segment{next: {}}, cur: next, leftover: names, stopped: make(chan struct{}),
		sleep: time.Sleep,
	}
	f, err := s.openSegment(next)
	if err != nil {
		return nil, nil, err
	}
	go s.run(f, next)
	return s, recs, nil
}

// segmentNames lists dir's segment files in order.
func segmentNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("store: spool: %w", err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(n, spoolExt) {
			continue
		}
		if _, err := strconv.ParseUint(strings.TrimSuffix(n, spoolExt), 16, 64); err != nil {
			continue
		}
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// readSegment returns a segment file's records, up to the first frame
// that is torn or damaged.
func readSegment(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("store: spool: %w", err)
	}
	var recs [][]byte
	for len(b) >= 8 {
		n := binary.LittleEndian.Uint32(b)
		sum := binary.LittleEndian.Uint32(b[4:])
		if n > maxRecordBytes || int(n) > len(b)-8 {
			break
		}
		p := b[8 : 8+n]
		if crc32.Checksum(p, crcTable) != sum {
			break
		}
		recs = append(recs, p)
		b = b[8+n:]
	}
	return recs, nil
}

func (s *Spool) segmentPath(n uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%016x%s", n, spoolExt))
}

// openSegment creates segment file n for appending; the directory is
// synced so that the file survives a crash.
func (s *Spool) openSegment(n uint64) (SpoolFile, error) {
	f, err := s.open(s.segmentPath(n))
	if err != nil {
		return nil, fmt.Errorf("store: spool: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: spool: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: spool: sync %s: %w", dir, err)
	}
	return nil
}

// ErrSpoolClosed is the error of an Append or Sync after Close.
var ErrSpoolClosed = errors.New("store: spool closed")

// Append adds rec (copied) to the spool and returns the number of the
// segment it went to, for Applied. It is durable once a later Sync's
// callback has run without error. Append never waits for the disk.
func (s *Spool) Append(rec []byte) (uint64, error) {
	if len(rec) > maxRecordBytes {
		return 0, fmt.Errorf("store: spool: a record of %d bytes (at most %d): %w", len(rec), maxRecordBytes, ErrInvalid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrSpoolClosed
	}
	if s.err != nil {
		return 0, s.err
	}
	var h [8]byte
	binary.LittleEndian.PutUint32(h[:], uint32(len(rec)))
	binary.LittleEndian.PutUint32(h[4:], crc32.Checksum(rec, crcTable))
	s.buf = append(append(s.buf, h[:]...), rec...)
	s.segs[s.cur].appended++
	s.signal()
	return s.cur, nil
}

// Sync calls done once everything appended so far is on disk (nil), or
// could not be written (the error; at once while the spool has failed
// and has no new segment yet). done runs on the spool's goroutine, or on
// the caller's, and must not block.
func (s *Spool) Sync(done func(error)) {
	s.mu.Lock()
	if s.closed || s.err != nil {
		err := s.err
		if err == nil {
			err = ErrSpoolClosed
		}
		s.mu.Unlock()
		done(err)
		return
	}
	s.waiting = append(s.waiting, done)
	s.signal()
	s.mu.Unlock()
}

func (s *Spool) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Applied records that n records of segment seg are in the store; a
// sealed segment whose records all are is removed.
func (s *Spool) Applied(seg uint64, n int) {
	s.mu.Lock()
	g := s.segs[seg]
	if g == nil {
		s.mu.Unlock()
		return
	}
	g.applied += n
	remove := g.sealed && g.applied >= g.appended
	if remove {
		delete(s.segs, seg)
	}
	s.mu.Unlock()
	if remove {
		_ = os.Remove(s.segmentPath(seg))
	}
}

// ReplayDone removes the segments whose records OpenSpool returned: call
// it once they are all in the store.
func (s *Spool) ReplayDone() error {
	s.mu.Lock()
	names := s.leftover
	s.leftover = nil
	s.mu.Unlock()
	for _, n := range names {
		if err := os.Remove(filepath.Join(s.dir, n)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("store: spool: %w", err)
		}
	}
	return nil
}

// Err returns the error of a failed write or fsync while the spool refuses
// appends for it (nil when it takes them).
func (s *Spool) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Fsyncs returns how many times the spool has synced its file.
func (s *Spool) Fsyncs() int64 { return s.fsyncs.Load() }

// Close writes and syncs what was appended, and stops. The segments whose
// records are all applied are removed; the others stay, and what was not
// applied is replayed at the next open.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.stopped
		return nil
	}
	s.closed = true
	s.signal()
	s.mu.Unlock()
	<-s.stopped
	s.seal(s.cur) // gone now if all of it is applied, else replayed at the next open
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// run writes and syncs whatever was appended, in groups, until Close.
// f is the file of segment seg, the current one.
func (s *Spool) run(f SpoolFile, seg uint64) {
	defer close(s.stopped)
	var (
		buf      []byte
		dues     []func(error)
		size     int64
		lastSync time.Time
	)
	for {
		s.mu.Lock()
		// Syncs asked for after the last write: it covered them.
		var covered []func(error)
		if len(s.buf) == 0 && len(s.waiting) > 0 {
			covered, s.waiting = s.waiting, nil
		}
		idle := len(s.buf) == 0 && !s.closed && size < s.maxSize
		lastErr := s.err
		closing := s.closed
		s.mu.Unlock()
		for _, d := range covered {
			d(lastErr)
		}
		if lastErr != nil && !closing {
			// Failed: try a new segment now and then; what was written
			// to this one before the failure stays readable for replay.
			if nf, ok := s.recover(seg); ok {
				_ = f.Close()
				s.seal(seg)
				f, seg, size = nf, seg+1, 0
			}
			continue
		}
		if lastErr != nil {
			_ = f.Close()
			return
		}
		if idle {
			<-s.wake
			continue
		}
		if wait := s.linger - time.Since(lastSync); wait > 0 {
			s.sleep(wait) // gather: this fsync serves all that comes meanwhile
		}
		// A full segment: appends go to the next one from the moment
		// the pending bytes (all counted in this one) are taken.
		var next SpoolFile
		if size >= s.maxSize {
			next, _ = s.openSegment(seg + 1) // on error, this segment grows on
		}
		s.mu.Lock()
		buf, s.buf = s.buf, buf[:0]
		dues, s.waiting = s.waiting, dues[:0]
		closed := s.closed
		if next != nil {
			s.cur = seg + 1
			s.segs[seg+1] = &segment{}
		}
		s.mu.Unlock()
		var err error
		if len(buf) > 0 || len(dues) > 0 {
			if len(buf) > 0 {
				_, err = f.Write(buf)
				size += int64(len(buf))
			}
			if err == nil {
				err = f.Sync()
				lastSync = time.Now()
				s.fsyncs.Add(1)
			}
			if err != nil {
				// What this write held, and what was appended since, is
				// lost from the spool: refuse all until a new segment.
				s.mu.Lock()
				s.err = fmt.Errorf("store: spool: %w", err)
				err = s.err
				s.buf = s.buf[:0]
				dues = append(dues, s.waiting...)
				s.waiting = nil
				s.mu.Unlock()
				if s.onFailure != nil {
					s.onFailure(err)
				}
			}
			for _, d := range dues {
				d(err)
			}
			clear(dues)
		}
		if next != nil {
			_ = f.Close()
			s.seal(seg)
			f, seg, size = next, seg+1, 0
		}
		if closed {
			s.mu.Lock()
			pending := len(s.buf) > 0 || len(s.waiting) > 0
			s.mu.Unlock()
			if pending {
				continue
			}
			if cerr := f.Close(); cerr != nil {
				s.mu.Lock()
				if s.err == nil {
					s.err = fmt.Errorf("store: spool: %w", cerr)
				}
				s.mu.Unlock()
			}
			return
		}
	}
}

// recover waits RetryAfter (or until Close), then opens segment seg+1;
// on success the spool takes appends again, in it.
func (s *Spool) recover(seg uint64) (SpoolFile, bool) {
	t := time.NewTimer(s.retryAfter)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.wake: // Close (or a signal left from before the failure)
		return nil, false
	}
	nf, err := s.openSegment(seg + 1)
	if err != nil {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		_ = nf.Close()
		_ = os.Remove(s.segmentPath(seg + 1))
		return nil, false
	}
	s.cur = seg + 1
	s.segs[seg+1] = &segment{}
	s.err = nil
	return nf, true
}

// seal marks seg full; it goes at once if all its records are applied.
func (s *Spool) seal(seg uint64) {
	s.mu.Lock()
	g := s.segs[seg]
	if g == nil {
		s.mu.Unlock()
		return
	}
	g.sealed = true
	remove := g.applied >= g.appended
	if remove {
		delete(s.segs, seg)
	}
	s.mu.Unlock()
	if remove {
		_ = os.Remove(s.segmentPath(seg))
	}
}
