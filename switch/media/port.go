package media

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"syscall"
)

// ListenRTP binds a UDP socket on an even port in [minPort, maxPort] on ip
// (RTP takes even ports, RFC 3550 §11; the odd port above is left for
// RTCP) and returns it with its port. An empty ip means the loopback
// address 127.0.0.1. Ports are tried from a random starting point so
// concurrent calls spread over the range; it fails when every even port in
// the range is taken, or at once when the address cannot be bound at all.
func ListenRTP(ip string, minPort, maxPort int) (net.PacketConn, int, error) {
	if ip == "" {
		ip = "127.0.0.1"
	}
	if net.ParseIP(ip) == nil {
		return nil, 0, fmt.Errorf("media: listen rtp: %q is not an IP address", ip)
	}
	if minPort < 1 || maxPort > 65535 || minPort > maxPort {
		return nil, 0, fmt.Errorf("media: listen rtp: bad port range %d-%d", minPort, maxPort)
	}
	first := minPort + minPort%2
	if first > maxPort {
		return nil, 0, fmt.Errorf("media: listen rtp: no even port in %d-%d", minPort, maxPort)
	}
	count := (maxPort-first)/2 + 1
	start := rand.IntN(count)
	var err error
	for i := range count {
		port := first + 2*((start+i)%count)
		var c net.PacketConn
		c, err = net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err == nil {
			return c, port, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			return nil, 0, fmt.Errorf("media: listen rtp: %w", err)
		}
	}
	return nil, 0, fmt.Errorf("media: listen rtp: every even port in %d-%d on %s is in use: %w", minPort, maxPort, ip, err)
}
