package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/adapters/amp"
	"github.com/agentd-dev/agentd/adapters/catalog"
	"github.com/agentd-dev/agentd/adapters/claude"
	"github.com/agentd-dev/agentd/adapters/codex"
	"github.com/agentd-dev/agentd/adapters/mock"
	"github.com/agentd-dev/agentd/adapters/opencode"
	"github.com/agentd-dev/agentd/api"
	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/internal/install"
	"github.com/agentd-dev/agentd/internal/metrics"
	"github.com/agentd-dev/agentd/internal/modelproxy"
	"github.com/agentd-dev/agentd/internal/presets"
	"github.com/agentd-dev/agentd/internal/process"
	"github.com/agentd-dev/agentd/internal/session"
	"github.com/agentd-dev/agentd/internal/terminal"
	"github.com/agentd-dev/agentd/internal/workspace"
	"github.com/agentd-dev/agentd/schema"
)

type serverOptions struct {
	IO
	Token           string
	NoToken         bool
	Host            string
	Port            int
	CORSOrigins     []string
	CORSMethods     []string
	CORSHeaders     []string
	CORSCredentials bool
	DataDir         string
	ShutdownGrace   time.Duration
	FS              workspace.Options
	Sinks           sinkOptions
	ModelProxy      modelProxyOptions
	Egress          egressOptions
	Metrics         bool
	Presets         string
	BudgetMaxTokens int64
	// ready, when set, receives the address the server listens on (tests).
	ready func(addr string)
}

func newServerCmd(streams IO, runF func(context.Context, *serverOptions) error) *cobra.Command {
	opts := &serverOptions{IO: streams}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the agentd daemon",
		Long: "Run the agentd daemon. Every flag can also be set with an AGENTD_* environment variable, " +
			"e.g. AGENTD_TOKEN, AGENTD_PORT or AGENTD_DATA_DIR.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runServer(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Token, "token", "t", "", "bearer token clients must send")
	f.BoolVarP(&opts.NoToken, "no-token", "n", false, "run without authentication")
	f.StringVarP(&opts.Host, "host", "H", "127.0.0.1", "address to listen on")
	f.IntVarP(&opts.Port, "port", "p", 2468, "port to listen on (0 picks a free one)")
	f.StringSliceVarP(&opts.CORSOrigins, "cors-allow-origin", "O", nil, "origin allowed by CORS (repeatable)")
	f.StringSliceVarP(&opts.CORSMethods, "cors-allow-method", "M", nil, "method allowed by CORS (repeatable; default any)")
	f.StringSliceVarP(&opts.CORSHeaders, "cors-allow-header", "A", nil, "header allowed by CORS (repeatable; default any)")
	f.BoolVarP(&opts.CORSCredentials, "cors-allow-credentials", "C", false, "allow credentials in CORS requests")
	f.StringVar(&opts.DataDir, "data-dir", defaultDataDir(), "where sessions and events are stored")
	f.DurationVar(&opts.ShutdownGrace, "shutdown-grace", 10*time.Second, "how long shutdown waits for requests and agents")
	home, _ := os.UserHomeDir()
	f.StringVar(&opts.FS.Root, "fs-root", home, "the directory the file, process and terminal APIs are confined to")
	f.Int64Var(&opts.FS.MaxWriteBytes, "fs-max-write", workspace.DefaultMaxWriteBytes, "largest file PUT /v1/fs/file accepts, in bytes")
	f.Int64Var(&opts.FS.MaxUploadBytes, "fs-max-upload", workspace.DefaultMaxUploadBytes, "most bytes an upload batch may extract")
	f.IntVar(&opts.FS.MaxUploadEntries, "fs-max-upload-entries", workspace.DefaultMaxUploadEntries, "most entries an upload batch may hold")
	f.Int64Var(&opts.FS.MaxArchiveBytes, "fs-max-archive", workspace.DefaultMaxArchiveBytes, "most bytes of files a directory download may hold")
	f.IntVar(&opts.FS.MaxArchiveEntries, "fs-max-archive-entries", workspace.DefaultMaxArchiveEntries, "most entries a directory download may hold")
	f.IntVar(&opts.FS.MaxWatchEntries, "fs-max-watch-entries", workspace.DefaultMaxWatchEntries, "most entries under a watched directory")
	f.DurationVar(&opts.FS.WatchInterval, "fs-watch-interval", workspace.DefaultWatchInterval, "how often a watched directory is compared")
	opts.Sinks.register(f)
	opts.ModelProxy.register(f)
	opts.Egress.register(f)
	f.BoolVar(&opts.Metrics, "metrics", false, "serve Prometheus metrics at GET /metrics (behind the token)")
	f.StringVar(&opts.Presets, "presets", "", "JSON file of named session presets (docs/presets.md)")
	f.Int64Var(&opts.BudgetMaxTokens, "budget-max-tokens", 0, "token budget of all sessions together since the daemon started: reaching it interrupts the running turn and refuses messages (0: none)")
	return cmd
}

func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "agentd")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "agentd")
	}
	return ".agentd"
}

func (o *serverOptions) validate() error {
	switch {
	case o.Token == "" && !o.NoToken:
		return usageError{errors.New("no token: pass --token <T> (or AGENTD_TOKEN), or --no-token to run without authentication")}
	case o.Token != "" && o.NoToken:
		return usageError{errors.New("--token and --no-token exclude each other")}
	case o.Port < 0 || o.Port > 65535:
		return usageError{fmt.Errorf("--port %d is out of range", o.Port)}
	case o.BudgetMaxTokens < 0:
		return usageError{fmt.Errorf("--budget-max-tokens %d is negative", o.BudgetMaxTokens)}
	}
	return nil
}

// runServer serves until ctx ends (SIGINT/SIGTERM), then stops accepting,
// ends every session, flushes the log and returns nil.
func runServer(ctx context.Context, opts *serverOptions) error {
	if err := opts.validate(); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(opts.Err, nil))
	var sets *presets.Set
	if opts.Presets != "" {
		var err error
		if sets, err = presets.Load(opts.Presets); err != nil {
			return usageError{err}
		}
	}
	log, err := eventlog.Open(ctx, opts.DataDir, eventlog.Options{})
	if err != nil {
		return err
	}
	defer log.Close()
	sinks, err := startSinks(ctx, opts.Sinks, opts.DataDir, log, logger)
	if err != nil {
		return err
	}
	defer sinks.Stop(opts.ShutdownGrace) // before log.Close; idempotent
	inst, err := install.New(install.Config{DataDir: opts.DataDir})
	if err != nil {
		return err
	}
	defer inst.Wait()
	var met *metrics.Metrics // nil: every hook does nothing
	if opts.Metrics {
		met = metrics.New()
	}
	// The proxy starts before the engine it reports usage to.
	var engine atomic.Pointer[session.Manager]
	proxy, err := startModelProxy(ctx, opts.ModelProxy, logger, func(id string, u modelproxy.Usage) {
		if m := engine.Load(); m != nil {
			m.ObserveUsage(id, u.Schema())
		}
	})
	if err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), opts.ShutdownGrace)
		defer cancel()
		proxy.stop(stopCtx)
	}()
	gate, err := startEgress(ctx, opts.Egress, proxy, logger)
	if err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), opts.ShutdownGrace)
		defer cancel()
		gate.stop(stopCtx)
	}()
	installer := agentInstaller{inst: inst, metrics: met}
	// OpenCode runs one server for every session; it stops after them.
	openCode := opencode.New(append(proxy.openCodeOptions(), opencode.WithResolver(installer.resolver(install.OpenCode, opencode.DefaultResolver)),
		opencode.WithStateDir(filepath.Join(opts.DataDir, "agents", "opencode-state")))...)
	defer closeAgent(logger, openCode, opts.ShutdownGrace) // also on the error paths; idempotent
	agents := catalog.Agents(mock.New(),
		claude.New(append(proxy.claudeOptions(), claude.WithResolver(installer.resolver(install.Claude, claude.DefaultResolver)))...),
		// Default-mode Codex sessions ask before every command, which is what
		// the permission API is for; agentd's sandbox (the VM or container it
		// runs in) is the isolation, so Codex's own one (which needs
		// bubblewrap) is not layered on top.
		codex.New(append(proxy.codexOptions(), codex.WithResolver(installer.resolver(install.Codex, codex.DefaultResolver)),
			codex.WithDefaultPolicy("untrusted", "danger-full-access"))...),
		amp.New(amp.WithResolver(installer.resolver(install.Amp, amp.DefaultResolver))),
		openCode)
	manager, err := session.New(ctx, log, agents, append(gate.sessionOptions(), session.WithLogger(logger), session.WithInstaller(installer),
		session.WithStartEnv(proxy.sessionEnv), session.WithMetered(proxy.meters), session.WithDaemonBudget(opts.BudgetMaxTokens),
		session.WithObserver(func(id, agent string, typ schema.EventType, data schema.Payload) {
			met.Observe(agent, typ, data)
			if typ == schema.EventSessionEnded {
				proxy.sessionEnded(id)
			}
		}))...)
	if err != nil {
		return err
	}
	engine.Store(manager)
	files, err := workspace.New(opts.FS)
	if err != nil {
		return err
	}
	defer files.Close()
	processes, err := process.New(process.Options{Dir: filepath.Join(opts.DataDir, "processes"), Logger: logger})
	if err != nil {
		return err
	}
	terminals := terminal.New(terminal.Options{Logger: logger})
	defer stopSandbox(processes, terminals, opts.ShutdownGrace) // also on the error paths; idempotent
	done := make(chan struct{})
	handler, _ := api.New(api.Deps{
		Sessions: manager, Log: log, Logger: logger, Done: done,
		Workspace: files, Processes: processes, Terminals: terminals, Metrics: met, SinkHealth: sinkHealth(sinks), Presets: sets,
		Auth: api.AuthConfig{Token: opts.Token},
		CORS: api.CORSConfig{AllowOrigins: opts.CORSOrigins, AllowMethods: opts.CORSMethods,
			AllowHeaders: opts.CORSHeaders, AllowCredentials: opts.CORSCredentials},
	})
	ln, err := net.Listen("tcp", net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	logger.Info("agentd listening", "addr", "http://"+ln.Addr().String(), "version", api.Version, "data_dir", opts.DataDir, "auth", opts.Token != "")
	if opts.ready != nil {
		opts.ready(ln.Addr().String())
	}
	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("agentd shutting down")
	close(done) // ends open event streams, which would otherwise hold Shutdown
	shutdown(logger, srv, manager, opts.ShutdownGrace)
	closeAgent(logger, openCode, opts.ShutdownGrace)
	stopSandbox(processes, terminals, opts.ShutdownGrace)
	sinks.Stop(opts.ShutdownGrace) // ships the sessions' last events
	if err := log.Close(); err != nil {
		return fmt.Errorf("close event log: %w", err)
	}
	logger.Info("agentd stopped")
	return nil
}

// shutdown stops accepting, gives requests the grace period to finish, then
// closes whatever connections are left (a client that stopped reading must
// not hold the daemon), and ends every session with a deadline of its own.
func shutdown(logger *slog.Logger, srv *http.Server, manager *session.Manager, grace time.Duration) {
	httpCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(httpCtx); err != nil {
		logger.Warn("closing connections that outlived the shutdown grace", "err", err)
		_ = srv.Close()
	}
	sessCtx, cancelSess := context.WithTimeout(context.Background(), grace)
	defer cancelSess()
	manager.Shutdown(sessCtx)
}

// closeAgent stops what an agent keeps running across sessions.
func closeAgent(logger *slog.Logger, a interface{ Close(context.Context) error }, grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		logger.Warn("stopping an agent's shared server", "err", err)
	}
}

// stopSandbox ends every terminal and process the API started, SIGKILL
// once the grace period is over.
func stopSandbox(processes *process.Service, terminals *terminal.Service, grace time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		terminals.Shutdown(ctx)
	}()
	processes.Shutdown(ctx)
	<-done
}
