package cti

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/ccswitch/ccswitch/internal/auth"
	pbx "github.com/ccswitch/ccswitch/switch"
)

// hardLimitFactor: frames up to this many times MaxMessageBytes are read
// and discarded with an EventError; larger ones close the connection.
const hardLimitFactor = 16

var connIDs atomic.Uint64

// conn is one client connection. Its outgoing queue and kill switch are
// safe from any goroutine; the fields under "loop" belong to the loop.
type conn struct {
	s      *Server
	id     uint64
	ws     *websocket.Conn // nil for connections without a network (fuzzing)
	cork   *corkConn       // under ws; nil if the server's writer could not be wrapped
	remote string

	out  chan any // messages for the writer, bounded
	wbuf []byte   // the writer's encoding buffer

	// Chat lines made durable, to acknowledge: the spool makes many
	// durable at once, and the writer acknowledges them in one burst.
	ackMu    sync.Mutex
	acks     []uint64
	killed   chan struct{} // closed by kill
	killOnce sync.Once
	code     websocket.StatusCode
	reason   string

	// loop
	// principal is who the connection acts as: nobody (the zero value)
	// until RequestAgentLogin or RequestLogin succeeds.
	principal auth.Principal
	session   *session
	watches   map[watchKey]func()       // registrations, with their undo
	customers map[string]*customerWatch // customers monitored, by customer number
	stamp     uint64                    // the last event queued here, to send it once
}

func (s *Server) newConn(ws *websocket.Conn, remote string) *conn {
	return &conn{
		s: s, id: connIDs.Add(1), ws: ws, remote: remote,
		out: make(chan any, s.sendQ), killed: make(chan struct{}),
		watches: map[watchKey]func(){},
	}
}

// send queues m for the client. It never blocks: a full queue closes the
// connection (the client is too slow) and drops m. It reports whether m
// was queued.
func (c *conn) send(m any) bool {
	select {
	case <-c.killed:
		return false
	default:
	}
	select {
	case c.out <- m:
		return true
	default:
		c.kill(websocket.StatusPolicyViolation, "send queue full: client too slow")
		return false
	}
}

// kill closes the connection with code and reason; the first call wins.
func (c *conn) kill(code websocket.StatusCode, reason string) {
	c.killOnce.Do(func() {
		c.code, c.reason = code, reason
		close(c.killed)
	})
}

// dead reports whether the connection was killed.
func (c *conn) dead() bool {
	select {
	case <-c.killed:
		return true
	default:
		return false
	}
}

// why says why the connection ended, once it has.
func (c *conn) why() string {
	if !c.dead() {
		return ""
	}
	return c.reason
}

// serve runs the connection: the reader here, the writer and the pinger
// on goroutines of their own. It returns when the connection is over and
// every goroutine it started has ended.
func (c *conn) serve() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.ws.SetReadLimit(int64(c.s.maxMsg) * hardLimitFactor)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.writer(ctx) }()
	if c.s.ping > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); c.pinger(ctx) }()
	}
	c.reader(ctx)
	c.kill(websocket.StatusNormalClosure, "")
	wg.Wait()
}

// reader reads requests until the connection fails or is killed.
func (c *conn) reader(ctx context.Context) {
	limit := int64(c.s.maxMsg)
	buf := make([]byte, 0, 512)
	for {
		typ, r, err := c.ws.Reader(ctx)
		if err != nil {
			if websocket.CloseStatus(err) == -1 && !c.dead() {
				c.kill(websocket.StatusInternalError, "read failed")
			}
			return
		}
		var over bool
		buf, over, err = readFrame(r, buf, limit)
		if err == nil && over {
			var rest int64
			rest, err = io.Copy(io.Discard, r)
			if err == nil {
				c.send(c.s.errorReply(0, pbx.Errorf(pbx.Invalid,
					"cti: request too large: %d bytes, the limit is %d", int64(len(buf))+rest, limit)))
				continue
			}
		}
		if err != nil {
			if errors.Is(err, websocket.ErrMessageTooBig) {
				c.kill(websocket.StatusMessageTooBig, "request too large")
			}
			return
		}
		if typ != websocket.MessageText {
			c.send(c.s.errorReply(0, pbx.Errorf(pbx.Invalid, "cti: binary frames are not supported: send JSON text frames")))
			continue
		}
		if !c.s.handle(c, buf) {
			return
		}
	}
}

// readFrame reads a message into buf, reusing it, up to limit bytes; over
// reports that the message is longer (the rest is still unread).
func readFrame(r io.Reader, buf []byte, limit int64) (_ []byte, over bool, err error) {
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case int64(len(buf)) > limit:
			return buf, true, nil
		case err == io.EOF:
			return buf, false, nil
		case err != nil:
			return buf, false, err
		}
	}
}

// writer writes queued messages, then the close frame once killed. It
// writes what is queued (up to maxBurst messages) corked, so that a burst
// of events costs one system call.
func (c *conn) writer(ctx context.Context) {
	for {
		select {
		case <-c.killed:
			c.close()
			return
		default:
		}
		select {
		case <-c.killed:
			c.close()
			return
		case m := <-c.out:
			if err := c.writeBurst(ctx, m); err != nil {
				c.kill(websocket.StatusAbnormalClosure, "write failed")
				_ = c.ws.CloseNow()
				return
			}
		}
	}
}

// maxBurst caps the messages the writer writes before it uncorks.
const maxBurst = 64

// writeBurst writes m and whatever else is queued, up to maxBurst
// messages, while the connection is alive.
func (c *conn) writeBurst(ctx context.Context, m any) error {
	if c.cork == nil {
		return c.writeOne(ctx, m)
	}
	// A corked write goes to memory: the cork's timeout bounds the
	// actual write.
	wctx := context.WithoutCancel(ctx)
	c.cork.cork()
	err := c.writeOne(wctx, m)
	for n := 1; err == nil && n < maxBurst && !c.dead(); n++ {
		var ok bool
		if m, ok = c.queued(); !ok {
			break
		}
		err = c.writeOne(wctx, m)
	}
	if uerr := c.cork.uncork(); err == nil {
		err = uerr
	}
	return err
}

// queued takes the next queued message without waiting.
func (c *conn) queued() (any, bool) {
	select {
	case m := <-c.out:
		return m, true
	default:
		return nil, false
	}
}

// writeOne encodes m and writes it as one frame.
func (c *conn) writeOne(ctx context.Context, m any) error {
	switch e := m.(type) {
	case ackBatch:
		return c.writeAcks(ctx)
	case *ChatEvent:
		if len(e.Lines) == 0 {
			c.wbuf = e.appendJSON(c.wbuf[:0]) // a chat line: the hot path
			return c.writeFrame(ctx, c.wbuf)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		c.s.log.Error().Err(err).Msg("cti: encode message")
		return nil
	}
	return c.writeFrame(ctx, b)
}

// ackBatch, queued for the writer, stands for the acknowledgements in
// conn.acks.
type ackBatch struct{}

// ackLater queues the EventACK of request ref for the writer: the first
// of a batch queues an ackBatch, and the writer writes all that are queued
// by the time it gets to it, in one burst.
func (c *conn) ackLater(ref uint64) {
	c.ackMu.Lock()
	first := len(c.acks) == 0
	c.acks = append(c.acks, ref)
	c.ackMu.Unlock()
	if first {
		c.send(ackBatch{})
	}
}

// writeAcks writes the queued acknowledgements.
func (c *conn) writeAcks(ctx context.Context) error {
	c.ackMu.Lock()
	refs := c.acks
	c.acks = nil
	c.ackMu.Unlock()
	for _, ref := range refs {
		c.wbuf = strconv.AppendUint(append(c.wbuf[:0], `{"event":"EventACK","ref":`...), ref, 10)
		c.wbuf = append(c.wbuf, '}')
		if err := c.writeFrame(ctx, c.wbuf); err != nil {
			return err
		}
	}
	return nil
}

// writeFrame writes one text frame.
func (c *conn) writeFrame(ctx context.Context, b []byte) error {
	if _, ok := ctx.Deadline(); !ok && ctx.Done() != nil {
		wctx, cancel := context.WithTimeout(ctx, c.s.wtime)
		defer cancel()
		ctx = wctx
	}
	return c.ws.Write(ctx, websocket.MessageText, b)
}

// close ends the connection with the status kill chose.
func (c *conn) close() {
	if c.code == websocket.StatusPolicyViolation {
		c.s.log.Warn().Str("remote", c.remote).Uint64("conn", c.id).Int("queue", c.s.sendQ).
			Msg("cti: client too slow, send queue full: disconnecting")
	}
	_ = c.ws.Close(c.code, c.reason)
}

// pinger checks that the peer is alive.
func (c *conn) pinger(ctx context.Context) {
	t := time.NewTicker(c.s.ping)
	defer t.Stop()
	for {
		select {
		case <-c.killed:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, c.s.ping)
			err := c.ws.Ping(pctx)
			cancel()
			if err != nil && !c.dead() {
				c.kill(websocket.StatusPolicyViolation, "ping timeout")
				_ = c.ws.CloseNow()
				return
			}
		}
	}
}

// handle decodes one request frame and runs it on the loop, waiting for it
// so that a connection has one request in the loop at a time. It reports
// false when the connection should stop reading.
func (s *Server) handle(c *conn, data []byte) bool {
	req, err := decodeRequest(data)
	if err != nil {
		c.send(c.s.errorReply(req.Ref, err))
		return true
	}
	if req.Request == RequestLogin {
		req.verdict = s.verifyLogin(c, &req)
	}
	done := make(chan struct{})
	if !s.loop.Post(func() { s.dispatch(c, &req); close(done) }) {
		c.send(c.s.errorReply(req.Ref, pbx.Errorf(pbx.Unavailable, "cti: the switch is shutting down")))
		return false
	}
	select {
	case <-done:
		return true
	case <-c.killed:
		return false
	}
}

// handleNow decodes and runs one frame on the caller's goroutine, which
// must own the T-Server (fuzzing, tests without a network).
func (s *Server) handleNow(c *conn, data []byte) {
	req, err := decodeRequest(data)
	if err != nil {
		c.send(c.s.errorReply(req.Ref, err))
		return
	}
	if req.Request == RequestLogin {
		req.verdict = s.verifyLogin(c, &req)
	}
	s.dispatch(c, &req)
}
