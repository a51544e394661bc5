package memnet

import (
	"errors"
	"net"
	"os"
	"testing"
	"testing/synctest"
	"time"
)

func TestDeliverDeadlineClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := New()
		a, err := n.Listen("127.0.0.1:1000")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := n.Listen("127.0.0.1:2000")
		if _, err := n.Listen("127.0.0.1:1000"); err == nil {
			t.Fatal("listened twice on one address")
		}
		if _, err := a.WriteTo([]byte("hello"), b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		k, from, err := b.ReadFrom(buf)
		if err != nil || string(buf[:k]) != "hello" || from.String() != "127.0.0.1:1000" {
			t.Fatalf("read %q from %v: %v", buf[:k], from, err)
		}
		start := time.Now()
		_ = b.SetReadDeadline(start.Add(3 * time.Second))
		if _, _, err := b.ReadFrom(buf); !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) != 3*time.Second {
			t.Fatalf("deadline: %v after %v", err, time.Since(start))
		}
		_ = b.SetReadDeadline(time.Time{})
		done := make(chan error)
		go func() { _, _, err := b.ReadFrom(buf); done <- err }()
		synctest.Wait()
		_ = b.Close()
		if err := <-done; !errors.Is(err, net.ErrClosed) {
			t.Fatalf("after close: %v", err)
		}
		// Nobody listens there any more: dropped, no error.
		if _, err := a.WriteTo([]byte("x"), b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	})
}
