package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/agentd-dev/agentd/api"
	"github.com/agentd-dev/agentd/internal/metrics"
)

// catBuffer is the buffer GNU cat and cp read and write with (128 KiB).
const catBuffer = 128 << 10

// BenchmarkFsThroughput writes (PUT) and reads (GET) a 64 MiB file through
// the API over loopback and, interleaved in the same iteration, moves the
// same bytes the way cat and cp would, and reports the API's median rates
// and the medians of the per-iteration ratios against them:
//
//	read-vs-cat   GET against cat of the file into a loopback TCP socket
//	              (`cat f | nc`, done with sendfile, so stronger than cat),
//	              the far end drained by the same reader as the API's client
//	write-vs-cat  PUT against the bytes sent over a loopback TCP socket and
//	              written to a file by a read/write loop (`nc -l > f`)
//	write-vs-cp   PUT against cp of the file (copy_file_range: in the kernel,
//	              no socket; the bound no network write can reach)
//	read-vs-file  GET against reading the file into that reader (no socket)
//
// The socket baselines are the fair ones: the API's bytes cross a socket,
// and both ends of it run in this process, on the same cores, for the
// baseline as for the API. With -metrics the daemon's Prometheus
// middleware wraps every response, as `agentd server --metrics` does.
func BenchmarkFsThroughput(b *testing.B) {
	for _, withMetrics := range []bool{false, true} {
		b.Run(fmt.Sprintf("metrics=%v", withMetrics), func(b *testing.B) {
			var deps []func(*api.Deps)
			if withMetrics {
				deps = append(deps, func(d *api.Deps) { d.Metrics = metrics.New() })
			}
			benchFsThroughput(b, deps...)
		})
	}
}

func benchFsThroughput(b *testing.B, deps ...func(*api.Deps)) {
	url, client := benchSandbox(b, deps...)
	const size = 64 << 20
	data := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	dir := b.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		b.Fatal(err)
	}
	sock := newLoopback(b)
	// One duration per iteration and kind, so that ratios are taken within
	// an iteration and their median shrugs off the bursts of a shared machine.
	const apiW, apiR, catW, catR, cpW, fileR = 0, 1, 2, 3, 4, 5
	took := make([][6]time.Duration, b.N)
	timed := func(d *time.Duration, f func() error) {
		start := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		*d = time.Since(start)
	}
	b.SetBytes(size)
	for i := range b.N {
		t := &took[i]
		timed(&t[apiW], func() error { return putFile(client, url+"/v1/fs/file?path=big", data) })
		timed(&t[apiR], func() error { return getFile(client, url+"/v1/fs/file?path=big", size) })
		timed(&t[catW], func() error { return sock.receive(data, filepath.Join(dir, "received")) })
		timed(&t[catR], func() error { return sock.send(src, size) })
		timed(&t[cpW], func() error { return copyFile(src, filepath.Join(dir, "copy")) })
		timed(&t[fileR], func() error { return readFile(src, size) })
	}
	// rate is the median rate of kind k in MiB/s; ratio the median of the
	// per-iteration ratios of k's rate to base's.
	median := func(f func(t [6]time.Duration) float64) float64 {
		v := make([]float64, len(took))
		for i, t := range took {
			v[i] = f(t)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	rate := func(k int) float64 {
		return median(func(t [6]time.Duration) float64 { return size / t[k].Seconds() / (1 << 20) })
	}
	ratio := func(k, base int) float64 {
		return median(func(t [6]time.Duration) float64 { return float64(t[base]) / float64(t[k]) })
	}
	b.ReportMetric(rate(apiW), "write-MiB/s")
	b.ReportMetric(rate(apiR), "read-MiB/s")
	b.ReportMetric(ratio(apiW, catW), "write-vs-cat")
	b.ReportMetric(ratio(apiR, catR), "read-vs-cat")
	b.ReportMetric(ratio(apiW, cpW), "write-vs-cp")
	b.ReportMetric(ratio(apiR, fileR), "read-vs-file")
}

func putFile(client *http.Client, url string, data []byte) error {
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(data))
	if err != nil {
		return err
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT: %s", res.Status)
	}
	_, err = io.Copy(io.Discard, res.Body)
	return err
}

func getFile(client *http.Client, url string, size int64) error {
	res, err := client.Get(url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET: %s", res.Status)
	}
	return drain(res.Body, size)
}

// drain reads r to its end as cat does, with plain reads of catBuffer,
// and checks that size bytes came.
func drain(r io.Reader, size int64) error {
	n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, struct{ io.Reader }{r}, make([]byte, catBuffer))
	if err == nil && n != size {
		err = fmt.Errorf("read %d bytes, want %d", n, size)
	}
	return err
}

// loopback is a connected pair of loopback TCP sockets: near is the
// sandbox's end, far the client's.
type loopback struct{ near, far net.Conn }

func newLoopback(b *testing.B) loopback {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	far, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	near := <-accepted
	if near == nil {
		b.Fatal("accept failed")
	}
	b.Cleanup(func() { near.Close(); far.Close() })
	return loopback{near: near, far: far}
}

// send is cat of the file into the socket (sendfile), drained at the far end.
func (l loopback) send(path string, size int64) error {
	sent := make(chan error, 1)
	go func() {
		f, err := os.Open(path)
		if err == nil {
			_, err = io.Copy(l.near, f) // *os.File into a TCP socket: sendfile
			f.Close()
		}
		sent <- err
	}()
	err := drain(io.LimitReader(l.far, size), size)
	if serr := <-sent; err == nil {
		err = serr
	}
	return err
}

// receive sends data from the far end and writes what arrives to a file
// with a read/write loop, as `nc -l > file` (or cat) would.
func (l loopback) receive(data []byte, path string) error {
	sent := make(chan error, 1)
	go func() {
		_, err := l.far.Write(data)
		sent <- err
	}()
	err := copyPlain(path, io.LimitReader(l.near, int64(len(data))))
	if serr := <-sent; err == nil {
		err = serr
	}
	return err
}

// copyPlain writes r to a new file at path with plain reads and writes of
// catBuffer.
func copyPlain(path string, r io.Reader) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.CopyBuffer(struct{ io.Writer }{f}, struct{ io.Reader }{r}, make([]byte, catBuffer))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyFile is cp: file to file, which Go (like GNU cp) does with
// copy_file_range.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// readFile is cat of the file into the reader the API's client uses.
func readFile(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return drain(f, size)
}
