package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ccswitch/ccswitch/tserver/cti"
)

// fullDisk makes the store's file system full and frees it again: a small
// tmpfs filled with a ballast file, or, where mounting is not permitted,
// a fault given to the child serve's journal (envFaultFullDisk: while its
// file exists, the journal's writes fail with ENOSPC).
type fullDisk struct {
	t       *testing.T
	dir     string // the store's directory
	ballast string // tmpfs: the file that fills it
	flag    string // hook: the file whose presence fails writes
}

// newFullDisk mounts a 3 MB tmpfs for the store, or sets up the hook.
func newFullDisk(t *testing.T) *fullDisk {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Logf("no tmpfs (%v: %s): the disk fills through serve's fault hook", err, strings.TrimSpace(string(out)))
		flag := filepath.Join(t.TempDir(), "full")
		t.Setenv(envFaultFullDisk, flag)
		return &fullDisk{t: t, dir: dir, flag: flag}
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	t.Log("the store is on a 3 MB tmpfs")
	return &fullDisk{t: t, dir: dir, ballast: filepath.Join(dir, "ballast")}
}

// fill takes the file system's last free byte.
func (d *fullDisk) fill() {
	d.t.Helper()
	if d.flag != "" {
		if err := os.WriteFile(d.flag, nil, 0o600); err != nil {
			d.t.Fatal(err)
		}
		return
	}
	f, err := os.OpenFile(d.ballast, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		d.t.Fatal(err)
	}
	defer f.Close()
	for _, size := range []int{64 << 10, 4 << 10, 1} {
		buf := make([]byte, size)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					d.t.Fatal(err)
				}
				break
			}
		}
	}
}

// free gives the space back.
func (d *fullDisk) free() {
	d.t.Helper()
	name := d.ballast
	if d.flag != "" {
		name = d.flag
	}
	if err := os.Remove(name); err != nil {
		d.t.Fatal(err)
	}
}

// readyz returns /readyz's status code and body.
func readyz(t *testing.T, ctx context.Context, addr string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// waitReadyz waits until /readyz answers code, and returns its body.
func waitReadyz(t *testing.T, ctx context.Context, addr string, code int) string {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		got, body := readyz(t, ctx, addr)
		if got == code {
			return body
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("/readyz still %d (%s), want %d", got, body, code)
		}
	}
}

// The store's disk fills up under `ccswitch serve`: an agent's chat lines
// then get EventError (none is acknowledged while it cannot be stored)
// and /readyz says 503 with the reason; serve keeps running. Once there is
// room again, /readyz is 200 and lines are acknowledged again. serve is
// then killed (SIGKILL) and started again on the same store: every line
// ever acknowledged is in the transcript, exactly once.
func TestServeFullDiskKeepsAcknowledgedChatLines(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	disk := newFullDisk(t)
	path := filepath.Join(disk.dir, "cc.db")

	first := startServeChild(t, ctx, "first", path)
	c := &imCenter{http: first.http, store: path}
	ann := c.agentDesk(t, ctx, "ann")
	v := dialWebChat(t, ctx, c.http, chromeUA)
	v.askAsAliceForTechSupport(ctx)
	ring := expectChat(t, ctx, ann, "EventRinging", nil)
	if err := ann.Answer(ctx, ring.ConnID); err != nil {
		t.Fatal(err)
	}
	v.expect(ctx, "You are now chatting with Ann.")
	go func() { // the customer reads everything
		for {
			if _, _, err := v.c.Read(ctx); err != nil {
				return
			}
		}
	}()

	const refBase = 2_000_000
	var n int64
	acked := map[int64]bool{}
	// send sends the next line and returns its reply: nil for EventACK.
	send := func() error {
		n++
		b, err := json.Marshal(cti.Request{Request: "RequestChatMessage", Ref: refBase + uint64(n), ConnID: ring.ConnID, Text: lineText(n)})
		if err != nil {
			t.Fatal(err)
		}
		if err := ann.SendRaw(ctx, b); err != nil {
			t.Fatal(err)
		}
		for {
			m, err := ann.Next(ctx)
			if err != nil {
				t.Fatalf("line %d: %v", n, err)
			}
			if !m.IsReply() || m.Ref != refBase+uint64(n) {
				continue
			}
			if m.Event == cti.EventACK {
				acked[n] = true
				return nil
			}
			return errors.New(m.Event + ": " + m.Error)
		}
	}
	for range 20 {
		if err := send(); err != nil {
			t.Fatalf("line %d before the disk is full: %v", n, err)
		}
	}

	disk.fill()
	errs, firstErr := 0, ""
	for errs < 10 {
		if n > 400 {
			t.Fatalf("%d lines after the disk filled, %d refused: the disk never ran out", n-20, errs)
		}
		if err := send(); err != nil {
			errs++
			if firstErr == "" {
				firstErr = err.Error()
			}
		}
	}
	full := n
	t.Logf("disk full: %d of lines 21-%d acknowledged, %d refused (%s)", len(acked)-20, full, errs, firstErr)
	body := waitReadyz(t, ctx, first.http, http.StatusServiceUnavailable)
	t.Logf("/readyz on a full disk: %s", body)
	if !strings.Contains(body, "store") {
		t.Errorf("/readyz gives no reason: %q", body)
	}

	disk.free()
	waitReadyz(t, ctx, first.http, http.StatusOK)
	for range 20 {
		if err := send(); err != nil {
			t.Fatalf("line %d after the disk has room: %v", n, err)
		}
	}

	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := first.wait(); !isKilled(err) {
		t.Fatalf("the first serve ended with %v, want killed", err)
	}
	restartAndStop(t, ctx, path)
	tr := storedTranscript(t, ctx, path, v.key)
	count := map[int64]int{}
	for _, l := range tr {
		if s, ok := strings.CutPrefix(l.Text, "line "); ok && l.From == "agent" {
			k, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				t.Fatalf("an agent's line reads %q", l.Text)
			}
			count[k]++
		}
	}
	for k := int64(1); k <= n; k++ {
		switch {
		case count[k] > 1:
			t.Errorf("%q is in the transcript %d times", lineText(k), count[k])
		case acked[k] && count[k] != 1:
			t.Errorf("%q was acknowledged but is not in the transcript", lineText(k))
		}
	}
	refusedKept := 0
	for k := int64(21); k <= full; k++ {
		if !acked[k] && count[k] == 1 {
			refusedKept++
		}
	}
	t.Logf("%d lines sent, %d acknowledged, all of them stored; %d of the %d refused were kept and stored too",
		n, len(acked), refusedKept, errs)
}
