package egress

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"testing"
)

// BenchmarkRoundTrip compares a small echo round trip over a tunnel with
// the same round trip over a direct connection: the tunnel's added latency,
// as a ratio measured in the same run.
func BenchmarkRoundTrip(b *testing.B) {
	up := newUpstream(b, echo)
	target := "127.0.0.1:" + strconv.Itoa(up.port)
	msg := make([]byte, 512)
	back := make([]byte, len(msg))
	run := func(b *testing.B, c net.Conn, r io.Reader) {
		for b.Loop() {
			if _, err := c.Write(msg); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(r, back); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("direct", func(b *testing.B) {
		c, err := net.Dial("tcp", target)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		run(b, c, bufio.NewReader(c))
	})
	b.Run("tunnel", func(b *testing.B) {
		h := newHarness(b, []string{"127.0.0.1"}, nil, nil)
		c, br, resp := h.connect(b, target, h.token, nil)
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		run(b, c, br)
	})
}
