package api

import (
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/agentd-dev/agentd/internal/apierr"
)

// AuthConfig holds the bearer token; empty means no authentication.
type AuthConfig struct {
	Token string
}

// authenticate checks the token on every /v1 route but the health check,
// and on /metrics.
// Accepted forms are the reference's: Bearer, Token and Basic.
func authenticate(cfg AuthConfig) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			open := (!strings.HasPrefix(r.URL.Path, "/v1/") || r.URL.Path == "/v1/health") && r.URL.Path != "/metrics"
			if cfg.Token == "" || open ||
				tokenMatches(cfg.Token, r.Header.Get("Authorization")) || wsProtocolToken(cfg.Token, r) {
				next.ServeHTTP(w, r)
				return
			}
			e := apierr.New(apierr.TokenInvalid, "")
			e.Details = map[string]any{"message": "missing or invalid token"}
			writeProblem(w, fromKind(e))
		})
	}
}

func tokenMatches(token, header string) bool {
	scheme, value, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok {
		return false
	}
	value = strings.TrimSpace(value)
	switch strings.ToLower(scheme) {
	case "bearer", "token":
		return equal(token, value)
	case "basic":
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			b, err := enc.DecodeString(value)
			if err != nil {
				continue
			}
			s := string(b)
			if _, pass, found := strings.Cut(s, ":"); found {
				s = pass
			}
			return equal(token, s)
		}
	}
	return false
}

// WebSocketProtocol is the subprotocol a WebSocket client offers, and
// wsTokenPrefix the one that carries the token: browsers cannot set an
// Authorization header on a WebSocket, only the protocols it offers, so
//
//	new WebSocket(url, ["agentd.v1", "agentd.bearer." + base64url(token)])
//
// authenticates, and the server answers with agentd.v1. The token is
// base64url-encoded (no padding) because a protocol name is an HTTP token.
const (
	WebSocketProtocol = "agentd.v1"
	wsTokenPrefix     = "agentd.bearer."
)

func wsProtocolToken(token string, r *http.Request) bool {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		return false
	}
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			enc, ok := strings.CutPrefix(strings.TrimSpace(p), wsTokenPrefix)
			if !ok {
				continue
			}
			if b, err := base64.RawURLEncoding.DecodeString(enc); err == nil && equal(token, string(b)) {
				return true
			}
		}
	}
	return false
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// CORSConfig is the server's --cors-* flags.
type CORSConfig struct {
	AllowOrigins     []string
	AllowMethods     []string
	AllowHeaders     []string
	AllowCredentials bool
}

// cors answers preflights before auth runs and marks allowed origins.
// With no allowed origins no CORS header is ever sent.
func cors(cfg CORSConfig) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
			if origin == "" || len(cfg.AllowOrigins) == 0 {
				next.ServeHTTP(w, r)
				return
			}
			h := w.Header()
			h.Add("Vary", "origin, access-control-request-method, access-control-request-headers")
			allowed := slices.Contains(cfg.AllowOrigins, origin) || slices.Contains(cfg.AllowOrigins, "*")
			if allowed {
				h.Set("Access-Control-Allow-Origin", origin)
				if cfg.AllowCredentials {
					h.Set("Access-Control-Allow-Credentials", "true")
				}
				h.Set("Access-Control-Expose-Headers", "*")
			}
			if !preflight {
				next.ServeHTTP(w, r)
				return
			}
			if allowed {
				h.Set("Access-Control-Allow-Methods", listOr(cfg.AllowMethods, r.Header.Get("Access-Control-Request-Method")))
				h.Set("Access-Control-Allow-Headers", listOr(cfg.AllowHeaders, r.Header.Get("Access-Control-Request-Headers")))
			}
			w.WriteHeader(http.StatusOK)
		})
	}
}

// listOr joins the configured values, or, with none configured ("any"),
// echoes what the browser asked for.
func listOr(values []string, requested string) string {
	if len(values) == 0 {
		return requested
	}
	return strings.Join(values, ",")
}

func writeProblem(w http.ResponseWriter, p *ProblemDetails) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
