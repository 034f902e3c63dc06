// Package modelproxy is agentd's built-in model proxy: agents talk to it
// with a per-session token, and it forwards their calls to the real
// provider with the real key, which the agent never holds. On the way it
// reads the usage the provider reports, so agentd's token counts do not
// depend on what an agent chooses to print.
//
// It forwards the Anthropic Messages API (/v1/messages, count_tokens, the
// model list) and the OpenAI Responses and Chat Completions APIs
// (/v1/responses, /v1/chat/completions, /v1/models). Streams pass through
// as they arrive: every write is flushed, nothing is held back to parse.
package modelproxy

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
)

// Provider is the upstream API family a request belongs to.
type Provider string

// The providers the proxy forwards to.
const (
	Anthropic Provider = "anthropic"
	OpenAI    Provider = "openai"
)

// Default upstreams, used when Upstream leaves a provider's URL empty.
const (
	DefaultAnthropicURL = "https://api.anthropic.com"
	DefaultOpenAIURL    = "https://api.openai.com"
)

// DefaultMaxBodyBytes caps a request body: model requests carry whole
// conversations (images included), but not without bound.
const DefaultMaxBodyBytes = 32 << 20

// TokenPrefix starts every session token, so a leaked one is recognisable.
const TokenPrefix = "agentd-mp-"

// Upstream is where one provider's calls go and the key they carry.
type Upstream struct {
	// URL is the provider's base URL without /v1 (Bedrock- or Vertex-style
	// gateways are just other URLs); empty means the provider's default.
	URL string
	// Key is the real credential. Anthropic gets it as x-api-key, OpenAI
	// as Authorization: Bearer.
	Key string
}

// Config configures a Proxy.
type Config struct {
	Upstreams    map[Provider]Upstream
	MaxBodyBytes int64             // 0 means DefaultMaxBodyBytes
	Transport    http.RoundTripper // nil means http.DefaultTransport
	Logger       *slog.Logger      // nil discards
	// OnUsage, when set, hears each model call's usage as its reply ends
	// (budgets act on it mid-turn). It must not block.
	OnUsage func(sessionID string, u Usage)
}

// Proxy is the http.Handler agents are pointed at.
type Proxy struct {
	upstreams map[Provider]*url.URL
	keys      map[Provider]string
	maxBody   int64
	logger    *slog.Logger
	onUsage   func(sessionID string, u Usage)
	rp        *httputil.ReverseProxy

	mu       sync.Mutex
	byToken  map[[32]byte]*session // keyed by the token's hash, never the token
	sessions map[string]*session
}

type session struct {
	id    string
	token string
	mu    sync.Mutex
	usage Usage
}

// New makes a proxy. A provider without a key is still routed, but its
// calls are refused: forwarding them keyless would only leak the token.
func New(cfg Config) (*Proxy, error) {
	p := &Proxy{
		upstreams: map[Provider]*url.URL{},
		keys:      map[Provider]string{},
		maxBody:   cfg.MaxBodyBytes,
		logger:    cfg.Logger,
		onUsage:   cfg.OnUsage,
		byToken:   map[[32]byte]*session{},
		sessions:  map[string]*session{},
	}
	if p.maxBody <= 0 {
		p.maxBody = DefaultMaxBodyBytes
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	defaults := map[Provider]string{Anthropic: DefaultAnthropicURL, OpenAI: DefaultOpenAIURL}
	for prov, def := range defaults {
		up := cfg.Upstreams[prov]
		raw := up.URL
		if raw == "" {
			raw = def
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("modelproxy: %s upstream %q: want an http(s) URL", prov, raw)
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		u.RawPath = ""
		p.upstreams[prov] = u
		p.keys[prov] = up.Key
	}
	transport := cfg.Transport
	if transport == nil {
		// Agents run subagents and tool calls in parallel; the default two
		// idle connections per host would redial the provider for most.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 32
		transport = t
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      transport,
		FlushInterval:  -1, // flush after every write: SSE must not wait on a buffer
		ModifyResponse: p.observe,
		ErrorHandler:   p.upstreamError,
		ErrorLog:       slog.NewLogLogger(p.logger.Handler(), slog.LevelWarn),
	}
	return p, nil
}

// Issue returns the token of a session, making one on first use. The same
// token is returned until Revoke, so an agent restarted for the same
// session keeps working.
func (p *Proxy) Issue(sessionID string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.sessions[sessionID]; ok {
		return s.token
	}
	tok := newToken()
	s := &session{id: sessionID, token: tok}
	p.sessions[sessionID] = s
	p.byToken[sha256.Sum256([]byte(tok))] = s
	return tok
}

// Revoke invalidates the session's token and forgets the session,
// returning the usage it had.
func (p *Proxy) Revoke(sessionID string) Usage {
	p.mu.Lock()
	s, ok := p.sessions[sessionID]
	if ok {
		delete(p.sessions, sessionID)
		delete(p.byToken, sha256.Sum256([]byte(s.token)))
	}
	p.mu.Unlock()
	if !ok {
		return Usage{}
	}
	return s.snapshot()
}

// Usage is what the provider reported for the session's calls so far.
func (p *Proxy) Usage(sessionID string) Usage {
	p.mu.Lock()
	s, ok := p.sessions[sessionID]
	p.mu.Unlock()
	if !ok {
		return Usage{}
	}
	return s.snapshot()
}

func (s *session) snapshot() Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.usage
}

func (s *session) add(u Usage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.usage = s.usage.plus(u)
}

func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it aborts the program instead)
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func (p *Proxy) lookup(token string) (*session, bool) {
	if token == "" {
		return nil, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.byToken[sha256.Sum256([]byte(token))]
	return s, ok
}

// route says which provider and API a request is for; ok is false for
// paths the proxy does not forward.
func route(r *http.Request) (Provider, api, bool) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case path == "/v1/messages/count_tokens":
		return Anthropic, apiOther, true
	case path == "/v1/messages" || strings.HasPrefix(path, "/v1/messages/"):
		return Anthropic, apiMessages, true
	case path == "/v1/responses" || strings.HasPrefix(path, "/v1/responses/"):
		return OpenAI, apiResponses, true
	case path == "/v1/chat/completions":
		return OpenAI, apiChat, true
	case path == "/v1/models" || strings.HasPrefix(path, "/v1/models/"):
		// Both providers serve a model list here; Anthropic's clients say
		// who they are with anthropic-version or x-api-key.
		if r.Header.Get("Anthropic-Version") != "" || r.Header.Get("X-Api-Key") != "" {
			return Anthropic, apiOther, true
		}
		return OpenAI, apiOther, true
	}
	return "", apiOther, false
}

// credential is the session token the agent sent, in either header.
func credential(h http.Header) string {
	if k := h.Get("X-Api-Key"); k != "" {
		return k
	}
	if a, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer "); ok {
		return strings.TrimSpace(a)
	}
	return ""
}

type ctxKey struct{}

// call is what one forwarded request carries from ServeHTTP to the
// reverse proxy's hooks.
type call struct {
	provider Provider
	api      api
	session  *session
}

// ServeHTTP checks the token and forwards the call.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	prov, a, ok := route(r)
	if !ok {
		writeError(w, guessProvider(r), http.StatusNotFound, "not_found", "modelproxy: no route for "+r.Method+" "+r.URL.Path)
		return
	}
	s, ok := p.lookup(credential(r.Header))
	if !ok {
		writeError(w, prov, http.StatusUnauthorized, "authentication", "modelproxy: invalid or revoked session token")
		return
	}
	if p.keys[prov] == "" {
		writeError(w, prov, http.StatusServiceUnavailable, "unavailable", "modelproxy: agentd has no "+string(prov)+" credential")
		return
	}
	if r.ContentLength > p.maxBody {
		writeError(w, prov, http.StatusRequestEntityTooLarge, "too_large", "modelproxy: request body too large")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, p.maxBody)
	ctx := context.WithValue(r.Context(), ctxKey{}, &call{provider: prov, api: a, session: s})
	p.rp.ServeHTTP(w, r.WithContext(ctx))
}

// rewrite points the request at the upstream and swaps the session token
// for the real key. ReverseProxy has already dropped hop-by-hop headers.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	c := pr.In.Context().Value(ctxKey{}).(*call)
	up := p.upstreams[c.provider]
	pr.Out.URL.Scheme = up.Scheme
	pr.Out.URL.Host = up.Host
	pr.Out.URL.Path = up.Path + pr.In.URL.Path
	pr.Out.URL.RawPath = ""
	pr.Out.Host = up.Host
	h := pr.Out.Header
	h.Del("Authorization")
	h.Del("X-Api-Key")
	h.Del("Api-Key")
	// Rewrite already drops X-Forwarded-*; the agent's address is nobody's
	// business upstream in the standard header either.
	h.Del("Forwarded")
	if c.api != apiOther {
		// The agent's own Accept-Encoding would get it a reply compressed
		// past the tee; without it the transport asks for gzip itself and
		// hands the proxy the reply decoded.
		h.Del("Accept-Encoding")
	}
	switch c.provider {
	case Anthropic:
		h.Set("X-Api-Key", p.keys[c.provider])
	case OpenAI:
		h.Set("Authorization", "Bearer "+p.keys[c.provider])
	}
}

// observe tees successful model replies into the usage reader.
func (p *Proxy) observe(resp *http.Response) error {
	c := resp.Request.Context().Value(ctxKey{}).(*call)
	if c.api == apiOther || resp.StatusCode != http.StatusOK {
		return nil
	}
	sse := strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
	resp.Body = newUsageTee(resp.Body, c.api, sse, func(u Usage) {
		c.session.add(u)
		if p.onUsage != nil {
			p.onUsage(c.session.id, u)
		}
	})
	return nil
}

func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	c := r.Context().Value(ctxKey{}).(*call)
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		writeError(w, c.provider, http.StatusRequestEntityTooLarge, "too_large", "modelproxy: request body too large")
		return
	}
	if errors.Is(err, context.Canceled) {
		return // the agent went away; nobody to answer
	}
	p.logger.Warn("modelproxy: upstream call failed", "provider", c.provider, "path", r.URL.Path, "err", err)
	writeError(w, c.provider, http.StatusBadGateway, "upstream", "modelproxy: upstream unreachable")
}

func guessProvider(r *http.Request) Provider {
	if r.Header.Get("Anthropic-Version") != "" || r.Header.Get("X-Api-Key") != "" {
		return Anthropic
	}
	return OpenAI
}
