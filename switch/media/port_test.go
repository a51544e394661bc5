package media

import (
	"strconv"
	"strings"
	"testing"
)

func TestListenRTP(t *testing.T) {
	c, port, err := ListenRTP("", 20001, 60000)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if port%2 != 0 || port < 20002 || port > 60000 {
		t.Errorf("port %d: want even, in 20001-60000", port)
	}
	if got := c.LocalAddr().String(); got != "127.0.0.1:"+strconv.Itoa(port) {
		t.Errorf("bound %s, want 127.0.0.1:%d", got, port)
	}

	// The only even port of [port, port+1] is taken.
	if _, _, err := ListenRTP("127.0.0.1", port, port+1); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("ListenRTP on a taken port: %v, want an in-use error", err)
	}

	bad := []struct {
		ip       string
		min, max int
		want     string
	}{
		{"localhost", 20000, 20010, "not an IP address"},
		{"", 0, 10, "bad port range"},
		{"", 20010, 20000, "bad port range"},
		{"", 20000, 70000, "bad port range"},
		{"", 20001, 20001, "no even port"},
		{"192.0.2.1", 20000, 20010, "listen rtp"}, // not an address of this machine
	}
	for _, b := range bad {
		c, _, err := ListenRTP(b.ip, b.min, b.max)
		if err == nil {
			c.Close()
			t.Errorf("ListenRTP(%q, %d, %d) succeeded", b.ip, b.min, b.max)
			continue
		}
		if !strings.Contains(err.Error(), b.want) || !strings.HasPrefix(err.Error(), "media: ") {
			t.Errorf("ListenRTP(%q, %d, %d) = %v, want %q", b.ip, b.min, b.max, err, b.want)
		}
	}
}
