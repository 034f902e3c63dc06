package egress

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// deadline bounds every wait: generous, so a loaded machine does not flake.
const deadline = 60 * time.Second

// fakeDNS answers from a table; names not in it do not resolve.
type fakeDNS map[string][]netip.Addr

func (f fakeDNS) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

var localhost4 = []netip.Addr{netip.MustParseAddr("127.0.0.1")}

// upstream is a TCP server on loopback running handle for each connection.
type upstream struct {
	ln   net.Listener
	port int
	wg   sync.WaitGroup
}

func newUpstream(t testing.TB, handle func(net.Conn)) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{ln: ln, port: ln.Addr().(*net.TCPAddr).Port}
	u.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(deadline))
				handle(c)
			})
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		u.wg.Wait()
	})
	return u
}

// echo writes back what it reads, as it reads it.
func echo(c net.Conn) { _, _ = io.Copy(c, c) }

// answerAfterEOF reads until the client half-closes, then answers with
// what it read, reversed in case, and closes.
func answerAfterEOF(c net.Conn) {
	b, err := io.ReadAll(c)
	if err != nil {
		return
	}
	_, _ = c.Write(bytes.ToUpper(b))
}

// recorder collects decisions.
type recorder struct {
	mu  sync.Mutex
	got []Decision
}

func (r *recorder) report(_ context.Context, d Decision) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, d)
}

func (r *recorder) all() []Decision {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Decision(nil), r.got...)
}

type harness struct {
	proxy *Proxy
	srv   *Server
	rec   *recorder
	token string
}

func newHarness(t testing.TB, base []string, session []string, dns fakeDNS) *harness {
	t.Helper()
	p, err := New(Config{Allow: base, Resolver: dns})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Listen(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		srv.Close(ctx)
	})
	h := &harness{proxy: p, srv: srv, rec: &recorder{}}
	h.token, err = p.Open("s1", session, h.rec.report)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func basic(token string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(proxyUser+":"+token))
}

// connect opens a tunnel to target with the given credential ("" for
// none) and returns the connection and the proxy's answer.
func (h *harness) connect(t testing.TB, target, token string, early []byte) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	c, err := net.Dial("tcp", h.srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(deadline))
	req := "CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n"
	if token != "" {
		req += "Proxy-Authorization: " + basic(token) + "\r\n"
	}
	if _, err := c.Write(append([]byte(req+"\r\n"), early...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	return c, br, resp
}

func TestConnectDecisions(t *testing.T) {
	up := newUpstream(t, echo)
	port := strconv.Itoa(up.port)
	dns := fakeDNS{"api.test": localhost4, "a.b.wild.test": localhost4, "wild.test": localhost4,
		"rebind.test": localhost4, "sess.test": localhost4}
	base := []string{"api.test", "*.wild.test", "rebind.test", "nxdomain.test", "127.0.0.1:" + port, "portonly.test:1"}
	cases := []struct {
		name, target string
		session      []string
		status       int
		reason       string
	}{
		{"exact name", "api.test:" + port, nil, 200, ReasonAllowed},
		{"name in upper case", "API.Test.:" + port, nil, 200, ReasonAllowed},
		{"not listed", "denied.example:443", nil, 403, ReasonHost},
		{"wildcard", "a.b.wild.test:" + port, nil, 200, ReasonAllowed},
		{"wildcard does not cover the domain itself", "wild.test:" + port, nil, 403, ReasonHost},
		{"port mismatch", "portonly.test:443", nil, 403, ReasonPort},
		{"name resolving to loopback without an address rule", "rebind.test:443", nil, 403, ReasonInternal},
		{"lookup fails", "nxdomain.test:443", nil, 403, ReasonLookupFailed},
		{"IP literal listed", "127.0.0.1:" + port, nil, 200, ReasonAllowed},
		{"IP literal on another port", "127.0.0.1:1", nil, 403, ReasonPort},
		{"IP literal not listed", "10.1.2.3:443", nil, 403, ReasonHost},
		{"IPv6 literal not listed", "[::1]:443", nil, 403, ReasonHost},
		{"session adds a host", "sess.test:" + port, []string{"sess.test"}, 200, ReasonAllowed},
		{"session entries are the session's only", "sess.test:" + port, nil, 403, ReasonHost},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, base, tc.session, dns)
			c, br, resp := h.connect(t, tc.target, h.token, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			got := h.rec.all()
			host, p, _ := net.SplitHostPort(tc.target)
			wantPort, _ := strconv.Atoi(p)
			want := Decision{SessionID: "s1", Method: "CONNECT", Host: canonicalHost(host), Port: wantPort,
				Allowed: tc.status == 200, Reason: tc.reason}
			if len(got) != 1 || got[0] != want {
				t.Fatalf("decisions %+v, want [%+v]", got, want)
			}
			if tc.status != 200 {
				if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("content type %q", ct)
				}
				return
			}
			roundTrip(t, c, br, "ping")
		})
	}
}

// roundTrip sends msg through an echo tunnel and checks it comes back.
func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	back := make([]byte, len(msg))
	if _, err := io.ReadFull(br, back); err != nil || string(back) != msg {
		t.Fatalf("read %q, %v; want %q", back, err, msg)
	}
}

func TestBadRequests(t *testing.T) {
	h := newHarness(t, []string{"api.test"}, nil, fakeDNS{})
	revoked := newHarness(t, []string{"api.test"}, nil, fakeDNS{})
	revoked.proxy.Close("s1")
	cases := []struct {
		name, target, token string
		status              int
	}{
		{"no credential", "api.test:443", "", http.StatusProxyAuthRequired},
		{"unknown credential", "api.test:443", TokenPrefix + "nope", http.StatusProxyAuthRequired},
		{"revoked credential", "api.test:443", revoked.token, http.StatusProxyAuthRequired},
		{"CONNECT without a port", "api.test", h.token, http.StatusBadRequest},
		{"CONNECT with port 0", "api.test:0", h.token, http.StatusBadRequest},
		{"CONNECT with a port out of range", "api.test:70000", h.token, http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, resp := h.connect(t, tc.target, tc.token, nil)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status == http.StatusProxyAuthRequired && !strings.HasPrefix(resp.Header.Get("Proxy-Authenticate"), "Basic") {
				t.Errorf("Proxy-Authenticate %q", resp.Header.Get("Proxy-Authenticate"))
			}
		})
	}
	if got := h.rec.all(); len(got) != 0 {
		t.Errorf("refused requests made decisions: %+v", got)
	}
	t.Run("origin-form request", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+h.srv.Addr+"/", nil)
		req.Header.Set("Proxy-Authorization", basic(h.token))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}

func TestPlainHTTP(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Proxy-Authorization") != "" {
			http.Error(w, "credential leaked", http.StatusTeapot)
			return
		}
		fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
	}))
	defer web.Close()
	port := web.Listener.Addr().(*net.TCPAddr).Port
	h := newHarness(t, []string{"web.test", "127.0.0.1"}, nil, fakeDNS{"web.test": localhost4, "other.test": localhost4})
	proxyURL, _ := url.Parse(h.srv.URL(h.token))
	tr := &http.Transport{Proxy: http.ProxyURL(proxyURL)}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: deadline}
	cases := []struct {
		host   string
		status int
		body   string
	}{
		{"web.test", 200, "GET /x"},
		{"other.test", 403, ""},
	}
	for _, tc := range cases {
		resp, err := client.Get(fmt.Sprintf("http://%s:%d/x", tc.host, port))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.body != "" && string(b) != tc.body) {
			t.Errorf("%s: %d %q, want %d %q", tc.host, resp.StatusCode, b, tc.status, tc.body)
		}
	}
	want := []Decision{
		{SessionID: "s1", Method: "GET", Host: "web.test", Port: port, Allowed: true, Reason: ReasonAllowed},
		{SessionID: "s1", Method: "GET", Host: "other.test", Port: port, Allowed: false, Reason: ReasonHost},
	}
	if got := h.rec.all(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("decisions %+v\nwant %+v", got, want)
	}
}

func TestTunnelHalfCloseAndEarlyData(t *testing.T) {
	up := newUpstream(t, answerAfterEOF)
	h := newHarness(t, []string{"127.0.0.1"}, nil, nil)
	// The first bytes ride in the same write as the CONNECT, as a client
	// racing its TLS hello would send them.
	c, br, resp := h.connect(t, "127.0.0.1:"+strconv.Itoa(up.port), h.token, []byte("early "))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if _, err := io.WriteString(c, "and late"); err != nil {
		t.Fatal(err)
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(br)
	if err != nil || string(got) != "EARLY AND LATE" {
		t.Fatalf("read %q, %v", got, err)
	}
}

// A client that stops reading holds up its own tunnel only; once it reads
// again, every byte arrives.
func TestSlowClient(t *testing.T) {
	payload := make([]byte, 8<<20)
	_, _ = rand.Read(payload)
	flood := newUpstream(t, func(c net.Conn) { _, _ = c.Write(payload) })
	up := newUpstream(t, echo)
	h := newHarness(t, []string{"127.0.0.1"}, nil, nil)
	_, slowBuf, resp := h.connect(t, "127.0.0.1:"+strconv.Itoa(flood.port), h.token, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	c, br, resp := h.connect(t, "127.0.0.1:"+strconv.Itoa(up.port), h.token, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	roundTrip(t, c, br, "not held up")
	got := make([]byte, len(payload))
	if _, err := io.ReadFull(slowBuf, got); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("slow client lost data: %v", err)
	}
}

func TestManyConcurrentTunnels(t *testing.T) {
	up := newUpstream(t, echo)
	h := newHarness(t, []string{"api.test", "127.0.0.1"}, nil, fakeDNS{"api.test": localhost4})
	target := "api.test:" + strconv.Itoa(up.port)
	const n = 64
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs <- tunnelOnce(h, target, fmt.Sprintf("tunnel %d", i)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if got := len(h.rec.all()); got != n {
		t.Errorf("%d decisions, want %d", got, n)
	}
}

// tunnelOnce is roundTrip for goroutines: it reports instead of failing.
func tunnelOnce(h *harness, target, msg string) error {
	c, err := net.Dial("tcp", h.srv.Addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(deadline))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: %s\r\n\r\n", target, target, basic(h.token))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if _, err := io.WriteString(c, msg); err != nil {
		return err
	}
	back := make([]byte, len(msg))
	if _, err := io.ReadFull(br, back); err != nil || string(back) != msg {
		return fmt.Errorf("read %q, %v", back, err)
	}
	return nil
}

// Closing a session cuts its tunnels and refuses its credential; closing
// the server cuts the rest (goleak in TestMain checks nothing is left).
func TestCloseCutsTunnels(t *testing.T) {
	up := newUpstream(t, echo)
	h := newHarness(t, []string{"127.0.0.1"}, nil, nil)
	other, err := h.proxy.Open("s2", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	target := "127.0.0.1:" + strconv.Itoa(up.port)
	c1, br1, _ := h.connect(t, target, h.token, nil)
	roundTrip(t, c1, br1, "one")
	c2, br2, _ := h.connect(t, target, other, nil)
	roundTrip(t, c2, br2, "two")

	if _, err := h.proxy.Open("s2", nil, nil); err == nil {
		t.Fatal("a session opened twice")
	}
	h.proxy.Close("s1")
	h.proxy.Close("s1") // closing twice is harmless
	if _, err := br1.ReadByte(); err == nil {
		t.Fatal("tunnel of a closed session still open")
	}
	roundTrip(t, c2, br2, "still two")
	if _, _, resp := h.connect(t, target, h.token, nil); resp.StatusCode != http.StatusProxyAuthRequired {
		t.Fatalf("closed session's credential: status %d", resp.StatusCode)
	}

	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	h.srv.Close(ctx)
	if _, err := br2.ReadByte(); err == nil {
		t.Fatal("tunnel open after the server closed")
	}
	if _, err := h.proxy.Open("s3", nil, nil); err == nil {
		t.Fatal("Open after close succeeded")
	}
}

func TestParseRules(t *testing.T) {
	good := []string{"example.com", "*.example.com", "example.com:443", "*.example.com:8443", "1.2.3.4",
		"1.2.3.4:443", "10.0.0.0/8", "10.0.0.0/8:443", "::1", "[::1]:443", "fd00::/8", "EXAMPLE.com.", " spaced.test ", "", "under_score.test"}
	if rules, err := ParseRules(good); err != nil || len(rules) != len(good)-1 {
		t.Fatalf("%d rules, %v", len(rules), err)
	}
	for _, bad := range []string{"*.", "*", "exa mple.com", "host:0", "host:65536", "host:http", "http://x.test",
		"a..b", "*.*.example.com", "example.com/path", strings.Repeat("a", 64) + ".test"} {
		if _, err := ParseRules([]string{bad}); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestInternal(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true, "169.254.169.254": true,
		"100.64.0.1": true, "0.0.0.0": true, "::1": true, "fe80::1": true, "fd00::1": true, "::ffff:127.0.0.1": true,
		"224.0.0.1": true, "8.8.8.8": false, "2606:4700::1111": false, "::ffff:1.1.1.1": false,
	} {
		if got := internal(netip.MustParseAddr(addr)); got != want {
			t.Errorf("internal(%s) = %v", addr, got)
		}
	}
}

func TestEnv(t *testing.T) {
	env := Env("http://agentd:tok@127.0.0.1:1")
	want := []string{"HTTPS_PROXY=", "https_proxy=", "HTTP_PROXY=", "http_proxy=", "ALL_PROXY=", "all_proxy=",
		"NO_PROXY=" + NoProxy, "no_proxy=" + NoProxy}
	if len(env) != len(want) {
		t.Fatalf("env %q", env)
	}
	for i, w := range want {
		if !strings.HasPrefix(env[i], w) {
			t.Errorf("env[%d] = %q, want prefix %q", i, env[i], w)
		}
	}
	u, err := url.Parse(strings.TrimPrefix(env[0], "HTTPS_PROXY="))
	if p, _ := u.User.Password(); err != nil || p != "tok" {
		t.Errorf("proxy URL %q: %v", env[0], err)
	}
}
