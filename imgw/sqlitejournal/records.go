package sqlitejournal

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"

	"github.com/ccswitch/ccswitch/internal/store"
)

// spoolRecord is a journal record as the spool keeps it.
type spoolRecord struct {
	Conversation *store.Conversation    `json:"c,omitempty"`
	Line         *store.TranscriptLine  `json:"l,omitempty"`
	Device       *deviceRecordJSON      `json:"d,omitempty"`
	Callback     *store.CallbackRequest `json:"b,omitempty"`
	Link         *linkRecordJSON        `json:"k,omitempty"`
	Route        *store.Route           `json:"r,omitempty"`
	RouteEnd     string                 `json:"re,omitempty"`
}

type linkRecordJSON struct {
	Network, User string
	Customer      int64
}

type deviceRecordJSON struct {
	Network, User, Device string
	Client                *store.Client   `json:",omitempty"`
	Presence              *store.Presence `json:",omitempty"`
}

// addTo adds the record to b; once makes a callback request idempotent
// (a replay).
func (r *spoolRecord) addTo(b *store.Batch, once bool) bool {
	switch {
	case r.Conversation != nil:
		b.Conversation(*r.Conversation)
	case r.Line != nil:
		b.Line(*r.Line)
	case r.Device != nil:
		d := r.Device
		if d.Client != nil {
			b.DeviceClient(d.Network, d.User, d.Device, *d.Client)
		}
		if d.Presence != nil {
			b.DevicePresence(d.Network, d.User, d.Device, *d.Presence)
		}
	case r.Link != nil:
		b.LinkDevice(r.Link.Network, r.Link.User, r.Link.Customer, store.LinkVerified)
	case r.Route != nil:
		b.Route(*r.Route)
	case r.RouteEnd != "":
		b.RouteEnded(r.RouteEnd)
	case r.Callback != nil && once:
		b.CallbackOnce(*r.Callback)
	case r.Callback != nil:
		b.Callback(*r.Callback)
	default:
		return false
	}
	return true
}

// A spool record is JSON (a spoolRecord), except a transcript line, the
// record of every relayed message, which is binary: lineTag, then the
// number, the time (Unix ns) and the lengths of the four strings as
// varints, then the conversation, sender, agent id and text.
const lineTag = 'L'

func appendLineRecord(b []byte, l *store.TranscriptLine) []byte {
	b = append(b, lineTag)
	b = binary.AppendVarint(b, l.Seq)
	b = binary.AppendVarint(b, l.Time.UnixNano())
	for _, f := range [...]string{l.Conversation, l.From, l.AgentID, l.Text} {
		b = binary.AppendUvarint(b, uint64(len(f)))
	}
	return append(append(append(append(b, l.Conversation...), l.From...), l.AgentID...), l.Text...)
}

var errBadLineRecord = errors.New("sqlitejournal: a damaged line record")

func decodeLineRecord(b []byte) (store.TranscriptLine, error) {
	if len(b) == 0 || b[0] != lineTag {
		return store.TranscriptLine{}, errBadLineRecord
	}
	b = b[1:]
	var nums [2]int64
	for i := range nums {
		v, n := binary.Varint(b)
		if n <= 0 {
			return store.TranscriptLine{}, errBadLineRecord
		}
		nums[i], b = v, b[n:]
	}
	var lens [4]uint64
	total := uint64(0)
	for i := range lens {
		v, n := binary.Uvarint(b)
		if n <= 0 || v > uint64(len(b)) {
			return store.TranscriptLine{}, errBadLineRecord
		}
		lens[i], b = v, b[n:]
		total += v
	}
	if total != uint64(len(b)) {
		return store.TranscriptLine{}, errBadLineRecord
	}
	var f [4]string
	for i, n := range lens {
		f[i], b = string(b[:n]), b[n:]
	}
	return store.TranscriptLine{Conversation: f[0], Seq: nums[0], Time: time.Unix(0, nums[1]).UTC(), From: f[1], AgentID: f[2], Text: f[3]}, nil
}

// decodeRecord reads a spool record.
func decodeRecord(raw []byte) (spoolRecord, error) {
	if len(raw) > 0 && raw[0] == lineTag {
		l, err := decodeLineRecord(raw)
		return spoolRecord{Line: &l}, err
	}
	var r spoolRecord
	err := json.Unmarshal(raw, &r)
	return r, err
}

// encodeRecord is r as the spool keeps it.
func encodeRecord(r *spoolRecord) ([]byte, error) {
	if r.Line != nil {
		return appendLineRecord(make([]byte, 0, 64+len(r.Line.Text)), r.Line), nil
	}
	return json.Marshal(r)
}
