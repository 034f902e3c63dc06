// Package api is agentd's HTTP surface: huma operations grouped by resource,
// the middleware around them (auth, CORS) and the OpenAPI document. Handlers
// are thin: they parse, call the engine and map its errors in one place.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humachi"
	"github.com/go-chi/chi/v5"

	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/internal/inspector"
	"github.com/agentd-dev/agentd/internal/metrics"
	"github.com/agentd-dev/agentd/internal/presets"
	"github.com/agentd-dev/agentd/internal/process"
	"github.com/agentd-dev/agentd/internal/session"
	"github.com/agentd-dev/agentd/internal/terminal"
	"github.com/agentd-dev/agentd/internal/workspace"
)

// Version is agentd's version, stamped at build time.
var Version = "dev"

// Deps is what the API needs from the rest of the daemon. A zero Deps is
// enough to build the OpenAPI document.
type Deps struct {
	Sessions *session.Manager
	Log      *eventlog.Log
	Logger   *slog.Logger
	Auth     AuthConfig
	CORS     CORSConfig
	// Done is closed when the daemon shuts down; open streams end then.
	Done <-chan struct{}
	// KeepAlive is the interval of SSE keep-alive comments (default 15s).
	KeepAlive time.Duration
	// Workspace, Processes and Terminals serve /v1/fs, /v1/processes and
	// /v1/terminals.
	Workspace *workspace.FS
	Processes *process.Service
	Terminals *terminal.Service
	// Metrics, when set, counts requests and is served at GET /metrics
	// (behind the token, like /v1).
	Metrics *metrics.Metrics
	// SinkHealth, when set, reports the event sinks in /v1/health.
	SinkHealth func(context.Context) []SinkHealth
	// Presets are the named session settings a create request may name
	// (nil: none).
	Presets *presets.Set
}

type server struct {
	Deps
}

// New builds the HTTP handler and the huma API it serves.
func New(d Deps) (http.Handler, huma.API) {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.KeepAlive <= 0 {
		d.KeepAlive = 15 * time.Second
	}
	if d.Done == nil {
		d.Done = make(chan struct{})
	}
	router := chi.NewMux()
	if d.Metrics != nil {
		router.Use(func(next http.Handler) http.Handler { return d.Metrics.Middleware(next, routePattern) })
	}
	router.Use(cors(d.CORS), authenticate(d.Auth), withRequest)
	if d.Metrics != nil {
		router.Get("/metrics", d.Metrics.ServeHTTP)
	}
	router.NotFound(notFound)
	router.MethodNotAllowed(methodNotAllowed)
	router.Get("/", banner)

	a := humachi.New(router, config())
	registerSchemas(a)
	s := &server{Deps: d}
	s.registerMeta(a)
	s.registerAgents(a)
	s.registerSessions(a)
	s.registerPresets(a)
	s.registerEvents(a)
	s.registerFs(a)
	s.registerProcesses(a)
	s.registerTerminals(a)
	router.Get("/docs", docsPage(a))
	ui := inspector.Handler()
	router.Handle(inspector.Prefix, ui)
	router.Handle(inspector.Prefix+"/*", ui)
	return router, a
}

// routePattern labels a request with the route chi matched (known once
// the request has been served), never the raw path.
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
		return r.Method + " " + rc.RoutePattern()
	}
	return "other"
}

func config() huma.Config {
	cfg := huma.DefaultConfig("agentd", Version)
	cfg.Info.Description = "One HTTP + SSE API over every coding agent. Wire-compatible superset of the sandbox-agent v1 universal API."
	cfg.Info.License = &huma.License{Name: "Apache-2.0"}
	cfg.CreateHooks = nil // no $schema links in bodies: clients compare bodies with the reference's
	cfg.SchemasPath = ""
	cfg.DocsPath = ""
	cfg.Tags = []*huma.Tag{
		{Name: "meta", Description: "Service metadata"},
		{Name: "agents", Description: "Agent management"},
		{Name: "sessions", Description: "Session management"},
		{Name: "fs", Description: "Files under the daemon's root"},
		{Name: "processes", Description: "Additive: commands run by the daemon"},
		{Name: "terminals", Description: "Additive: interactive PTY sessions"},
	}
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "The token given to `agentd server --token`"},
	}
	cfg.Security = []map[string][]string{{"bearer": {}}, {}}
	return cfg
}

func banner(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("agentd " + Version + "\n\n/v1/health\n/openapi.json\n/docs\n/ui\n"))
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, frameworkProblem(http.StatusNotFound, "no route for "+r.Method+" "+r.URL.Path))
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, frameworkProblem(http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+r.URL.Path))
}

// Document renders the OpenAPI document (3.1, or 3.0 for generators) as
// indented JSON: what `agentd openapi` prints and docs/ commits.
func Document(v30 bool) ([]byte, error) {
	_, a := New(Deps{})
	var raw []byte
	var err error
	if v30 {
		raw, err = a.OpenAPI().Downgrade()
	} else {
		raw, err = json.Marshal(a.OpenAPI())
	}
	if err != nil {
		return nil, fmt.Errorf("render OpenAPI document: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return nil, fmt.Errorf("indent OpenAPI document: %w", err)
	}
	return out.Bytes(), nil
}
