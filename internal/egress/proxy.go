// Package egress is agentd's egress policy: an HTTP(S) forward proxy that
// agent processes are pointed at (HTTPS_PROXY and friends), which lets a
// session's connections through only to the hosts its allowlist names and
// reports every decision.
//
// HTTPS goes through CONNECT tunnels matched on the requested host and
// port; the proxy never looks inside TLS. Plain-HTTP requests in
// absolute-URI form are matched the same way and forwarded. Each session
// has its own credential (basic proxy authentication, carried in the proxy
// URL), which is how the proxy knows whose allowlist applies.
//
// It confines only programs that honour the proxy variables: see
// docs/egress.md for what it does not stop.
package egress

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Decision is one connection the proxy allowed or refused.
type Decision struct {
	SessionID string
	Method    string // CONNECT, or the method of a plain-HTTP request
	Host      string // as the client asked for it, lower case
	Port      int
	Allowed   bool
	Reason    string
}

// Reasons a Decision gives.
const (
	ReasonAllowed      = "allowlisted"
	ReasonHost         = "host not allowed"
	ReasonPort         = "port not allowed"
	ReasonInternal     = "resolves to an internal address"
	ReasonLookupFailed = "host name lookup failed"
)

// Resolver looks host names up; net.DefaultResolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config configures a Proxy.
type Config struct {
	// Allow is every session's allowlist (the daemon's default); a session
	// may add to it when it is opened.
	Allow       []string
	Resolver    Resolver      // nil means net.DefaultResolver
	DialTimeout time.Duration // 0 means 30s
	Logger      *slog.Logger  // nil discards
}

// TokenPrefix starts every session credential, so a leaked one is
// recognisable.
const TokenPrefix = "agentd-eg-"

// proxyUser is the user name of every session's proxy URL: the password
// alone says which session it is, and a fixed name keeps client ids (which
// may hold any character) out of URLs that clients parse each their own way.
const proxyUser = "agentd"

// Proxy is the http.Handler agents' proxy variables point at.
type Proxy struct {
	base     policy
	resolver Resolver
	dialer   net.Dialer
	logger   *slog.Logger
	rp       *httputil.ReverseProxy

	mu       sync.Mutex
	byToken  map[[32]byte]*session // keyed by the token's hash, never the token
	sessions map[string]*session
	closed   bool
	tunnels  sync.WaitGroup
}

type session struct {
	id     string
	token  string
	rules  policy
	report func(context.Context, Decision)
	conns  map[net.Conn]struct{} // both ends of every live tunnel, cut when the session closes
}

// New makes a proxy; an entry of cfg.Allow that does not parse is an error.
func New(cfg Config) (*Proxy, error) {
	base, err := ParseRules(cfg.Allow)
	if err != nil {
		return nil, err
	}
	p := &Proxy{base: base, resolver: cfg.Resolver, logger: cfg.Logger,
		dialer:  net.Dialer{Timeout: cfg.DialTimeout},
		byToken: map[[32]byte]*session{}, sessions: map[string]*session{}}
	if p.resolver == nil {
		p.resolver = net.DefaultResolver
	}
	if p.dialer.Timeout <= 0 {
		p.dialer.Timeout = 30 * time.Second
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite: rewrite,
		// Connections are not pooled: a pooled one was checked against
		// another session's rules, and the addresses a name resolved to
		// for it.
		Transport:     &http.Transport{Proxy: nil, DialContext: p.dialChecked, DisableKeepAlives: true, ForceAttemptHTTP2: false},
		FlushInterval: -1,
		ErrorHandler:  p.forwardError,
		ErrorLog:      slog.NewLogLogger(p.logger.Handler(), slog.LevelWarn),
	}
	return p, nil
}

// Open registers a session with its own allowlist entries, which add to
// the daemon's, and returns its credential. report sees every decision on
// the session's connections, with the request's context; it runs before
// the client is answered, so a refusal the client sees is already
// reported. A session is opened once; its rules never change while its
// connections read them.
func (p *Proxy) Open(sessionID string, allow []string, report func(context.Context, Decision)) (string, error) {
	extra, err := ParseRules(allow)
	if err != nil {
		return "", err
	}
	rules := append(append(policy{}, p.base...), extra...)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return "", errors.New("egress: proxy closed")
	}
	if _, ok := p.sessions[sessionID]; ok {
		return "", fmt.Errorf("egress: session %q is open already", sessionID)
	}
	s := &session{id: sessionID, token: newToken(), rules: rules, report: report, conns: map[net.Conn]struct{}{}}
	p.sessions[sessionID] = s
	p.byToken[sha256.Sum256([]byte(s.token))] = s
	return s.token, nil
}

// Close forgets a session: its credential is refused from then on and its
// live tunnels are cut.
func (p *Proxy) Close(sessionID string) {
	p.mu.Lock()
	s, ok := p.sessions[sessionID]
	if !ok {
		p.mu.Unlock()
		return
	}
	delete(p.sessions, sessionID)
	delete(p.byToken, sha256.Sum256([]byte(s.token)))
	conns := s.takeConns()
	p.mu.Unlock()
	closeAll(conns)
}

// shutdown closes every session and waits for their tunnels to end.
func (p *Proxy) shutdown() {
	p.mu.Lock()
	p.closed = true
	var conns []net.Conn
	for id, s := range p.sessions {
		conns = append(conns, s.takeConns()...)
		delete(p.sessions, id)
	}
	clear(p.byToken)
	p.mu.Unlock()
	closeAll(conns)
	p.tunnels.Wait()
}

// takeConns empties the session's live connections. Caller holds p.mu.
func (s *session) takeConns() []net.Conn {
	conns := make([]net.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	clear(s.conns)
	return conns
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		_ = c.Close()
	}
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it aborts the program instead)
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// authenticate finds the session whose credential the request carries.
func (p *Proxy) authenticate(r *http.Request) (*session, bool) {
	v := r.Header.Get("Proxy-Authorization")
	if v == "" {
		return nil, false
	}
	_, token, ok := (&http.Request{Header: http.Header{"Authorization": {v}}}).BasicAuth()
	if !ok || token == "" {
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.byToken[sha256.Sum256([]byte(token))]
	return s, ok
}

// ServeHTTP authenticates the request and tunnels or forwards it when the
// session's allowlist lets it through.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s, ok := p.authenticate(r)
	if !ok {
		w.Header().Set("Proxy-Authenticate", `Basic realm="agentd egress"`)
		writeProblem(w, http.StatusProxyAuthRequired, "egress: missing, unknown or revoked session credential")
		return
	}
	switch {
	case r.Method == http.MethodConnect:
		p.connect(w, r, s)
	case r.URL.IsAbs() && r.URL.Scheme == "http":
		p.forward(w, r, s)
	default:
		writeProblem(w, http.StatusBadRequest, "egress: want CONNECT host:port, or a request for an absolute http:// URL")
	}
}

// decide applies the session's rules to host:port and reports the outcome.
// An allowed name comes back with the addresses it may be dialled at.
func (p *Proxy) decide(ctx context.Context, s *session, method, host string, port int) ([]netip.Addr, Decision) {
	host = canonicalHost(host)
	d := Decision{SessionID: s.id, Method: method, Host: host, Port: port}
	addrs, reason := p.check(ctx, s.rules, host, port)
	d.Allowed = addrs != nil
	d.Reason = reason
	if s.report != nil {
		s.report(ctx, d)
	}
	return addrs, d
}

func (p *Proxy) check(ctx context.Context, rules policy, host string, port int) ([]netip.Addr, string) {
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		if ok, why := rules.addrAllowed(a, port); !ok {
			return nil, why
		}
		return []netip.Addr{a}, ReasonAllowed
	}
	if ok, why := rules.nameAllowed(host, port); !ok {
		return nil, why
	}
	// The name is checked, then the addresses it resolves to, and only
	// those are dialled: a second lookup could answer differently.
	found, err := p.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(found) == 0 {
		return nil, ReasonLookupFailed
	}
	var addrs []netip.Addr
	for _, a := range found {
		if a = a.Unmap(); rules.allowsAddr(a, port) {
			addrs = append(addrs, a)
		}
	}
	if addrs == nil {
		return nil, ReasonInternal
	}
	return addrs, ReasonAllowed
}

// dial connects to the first of addrs that answers.
func (p *Proxy) dial(ctx context.Context, addrs []netip.Addr, port int) (net.Conn, error) {
	var errs []error
	for _, a := range addrs {
		c, err := p.dialer.DialContext(ctx, "tcp", netip.AddrPortFrom(a, uint16(port)).String())
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("egress: dial: %w", errors.Join(errs...))
}

func splitTarget(hostport string) (string, int, bool) {
	host, p, err := net.SplitHostPort(hostport)
	if err != nil || host == "" {
		return "", 0, false
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, false
	}
	return host, port, true
}

// writeProblem answers with an RFC 9457 problem.
func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail,
	})
}

// refuse answers a denied decision.
func refuse(w http.ResponseWriter, d Decision) {
	writeProblem(w, http.StatusForbidden, fmt.Sprintf("egress: %s port %d: %s", d.Host, d.Port, d.Reason))
}

// connect tunnels a CONNECT request: the client's bytes go to the target
// and back untouched, TLS included.
func (p *Proxy) connect(w http.ResponseWriter, r *http.Request, s *session) {
	host, port, ok := splitTarget(r.Host)
	if !ok {
		writeProblem(w, http.StatusBadRequest, "egress: CONNECT target must be host:port")
		return
	}
	addrs, d := p.decide(r.Context(), s, http.MethodConnect, host, port)
	if !d.Allowed {
		refuse(w, d)
		return
	}
	up, err := p.dial(r.Context(), addrs, port)
	if err != nil {
		p.logger.Info("egress: upstream unreachable", "session", s.id, "host", d.Host, "port", port, "err", err)
		writeProblem(w, http.StatusBadGateway, fmt.Sprintf("egress: %s port %d unreachable", d.Host, port))
		return
	}
	client, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		_ = up.Close()
		writeProblem(w, http.StatusInternalServerError, "egress: cannot take over the connection")
		return
	}
	if !p.track(s, client, up) {
		closeAll([]net.Conn{client, up})
		return
	}
	defer p.untrack(s, client, up)
	_ = client.SetDeadline(time.Time{}) // the server's header deadline must not cut a tunnel
	if _, err := buf.WriteString("HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		closeAll([]net.Conn{client, up})
		return
	}
	if err := buf.Flush(); err != nil {
		closeAll([]net.Conn{client, up})
		return
	}
	// A client may send its first bytes (the TLS hello) right behind the
	// CONNECT; the server has read them into its buffer already.
	if n := buf.Reader.Buffered(); n > 0 {
		early, _ := buf.Reader.Peek(n)
		if _, err := up.Write(early); err != nil {
			closeAll([]net.Conn{client, up})
			return
		}
	}
	splice(client, up)
}

// track records a tunnel's connections against its session, refusing
// once the session (or the proxy) is closed.
func (p *Proxy) track(s *session, conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.sessions[s.id] != s {
		return false
	}
	for _, c := range conns {
		s.conns[c] = struct{}{}
	}
	p.tunnels.Add(1)
	return true
}

func (p *Proxy) untrack(s *session, conns ...net.Conn) {
	p.mu.Lock()
	for _, c := range conns {
		delete(s.conns, c)
	}
	p.mu.Unlock()
	p.tunnels.Done()
}

// splice copies both ways until both sides are done. An end that finishes
// sending is half-closed on the other side, so request-then-EOF protocols
// work; an error in either direction ends the whole tunnel.
func splice(client, up net.Conn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		pipe(up, client)
	}()
	pipe(client, up)
	<-done
	closeAll([]net.Conn{client, up})
}

type closeWriter interface{ CloseWrite() error }

func pipe(dst, src net.Conn) {
	_, err := io.Copy(dst, src)
	if cw, ok := dst.(closeWriter); ok && err == nil {
		if cw.CloseWrite() == nil {
			return
		}
	}
	// Unblocks the other direction too.
	closeAll([]net.Conn{dst, src})
}

type addrsKey struct{}

// forward passes a plain-HTTP request on, to the addresses its host was
// checked at.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, s *session) {
	port := 80
	if ps := r.URL.Port(); ps != "" {
		n, err := strconv.Atoi(ps)
		if err != nil || n < 1 || n > 65535 {
			writeProblem(w, http.StatusBadRequest, "egress: bad port in "+r.URL.Redacted())
			return
		}
		port = n
	}
	addrs, d := p.decide(r.Context(), s, r.Method, r.URL.Hostname(), port)
	if !d.Allowed {
		refuse(w, d)
		return
	}
	ctx := context.WithValue(r.Context(), addrsKey{}, addrs)
	p.rp.ServeHTTP(w, r.WithContext(ctx))
}

// rewrite keeps the absolute URL the client asked for. ReverseProxy has
// already dropped hop-by-hop headers, the proxy credential among them.
func rewrite(pr *httputil.ProxyRequest) {
	pr.Out.Header.Del("Proxy-Authorization")
	pr.Out.Header.Del("Forwarded")
}

// dialChecked dials the addresses forward checked, never a fresh lookup.
func (p *Proxy) dialChecked(ctx context.Context, _, addr string) (net.Conn, error) {
	addrs, _ := ctx.Value(addrsKey{}).([]netip.Addr)
	_, ps, err := net.SplitHostPort(addr)
	if err != nil || addrs == nil {
		return nil, errors.New("egress: dial without a checked address")
	}
	port, err := strconv.Atoi(ps)
	if err != nil {
		return nil, fmt.Errorf("egress: port %q: %w", ps, err)
	}
	return p.dial(ctx, addrs, port)
}

func (p *Proxy) forwardError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client went away; nobody to answer
	}
	p.logger.Info("egress: forward failed", "host", r.URL.Host, "err", err)
	writeProblem(w, http.StatusBadGateway, "egress: "+r.URL.Host+" unreachable")
}
