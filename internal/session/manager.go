// Package session is agentd's engine: it owns every session's state, turns
// adapter output into numbered, normalised events committed to the event
// log, and keeps pending permissions and questions.
package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentd-dev/agentd/adapters"
	"github.com/agentd-dev/agentd/internal/apierr"
	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/schema"
)

// Manager holds every session, live and ended.
type Manager struct {
	log       *eventlog.Log
	agents    []adapters.Agent
	logger    *slog.Logger
	now       func() time.Time
	installer Installer
	startEnv  func(agent, sessionID string) []string
	egress    Egress
	observe   Observer
	metered   func(agent string) bool
	daemonMax int64

	daemonUsed atomic.Int64
	// bg runs budget enforcement off the proxy's goroutines; Shutdown
	// cancels bgCtx and waits for it.
	bg       sync.WaitGroup
	bgCtx    context.Context
	bgCancel context.CancelFunc

	mu       sync.RWMutex
	sessions map[string]*Session
	creating map[string]bool
	closed   bool
}

// Installer fetches agents that are not installed yet.
type Installer interface {
	// Installable reports whether the installer knows how to fetch agent.
	Installable(agent string) bool
	// Install fetches agent at version ("" for the pinned default); with
	// reinstall it replaces an existing install. progress, when not nil,
	// is called as the install goes on.
	Install(ctx context.Context, agent, version string, reinstall bool, progress func(InstallProgress)) error
}

// InstallProgress is one step of an install.
type InstallProgress struct {
	Phase   string `json:"phase" enum:"resolving,downloading,extracting,done" doc:"resolving the version, downloading the package, verifying and extracting it, done"`
	Version string `json:"version,omitempty"`
	Package string `json:"package,omitempty" doc:"The npm package being installed"`
	// Downloaded and Total count bytes of the package; Total is -1 when
	// the registry did not say.
	Downloaded int64 `json:"downloaded"`
	Total      int64 `json:"total"`
}

// Observer sees every event once it is committed (metrics, the model
// proxy's token revocation). It must not block.
type Observer func(sessionID, agent string, typ schema.EventType, data schema.Payload)

// WithObserver sets the Observer.
func WithObserver(f Observer) Option { return func(m *Manager) { m.observe = f } }

// WithStartEnv adds variables to each session's agent, e.g. a per-session
// credential.
func WithStartEnv(f func(agent, sessionID string) []string) Option {
	return func(m *Manager) { m.startEnv = f }
}

// WithInstaller lets sessions install their agent on first use.
func WithInstaller(i Installer) Option { return func(m *Manager) { m.installer = i } }

// Option configures a Manager.
type Option func(*Manager)

// WithClock sets the clock used for event times (tests).
func WithClock(now func() time.Time) Option { return func(m *Manager) { m.now = now } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(m *Manager) { m.logger = l } }

// New loads every stored session from the log. Sessions that were still
// running when the daemon last stopped are ended with a reason saying so:
// their agents died with the daemon.
func New(ctx context.Context, log *eventlog.Log, agents []adapters.Agent, opts ...Option) (*Manager, error) {
	m := &Manager{
		log: log, agents: agents, logger: slog.Default(), now: time.Now,
		sessions: map[string]*Session{}, creating: map[string]bool{},
	}
	for _, o := range opts {
		o(m)
	}
	m.bgCtx, m.bgCancel = context.WithCancel(context.Background())
	stored, err := log.Sessions(ctx)
	if err != nil {
		return nil, err
	}
	for _, row := range stored {
		var info SessionInfo
		if err := json.Unmarshal(row.Info, &info); err != nil {
			return nil, fmt.Errorf("decode stored session %q: %w", row.ID, err)
		}
		info.UpdatedAt = row.UpdatedAt // the row's column is kept current; the info blob only on change
		agent, _ := m.Agent(info.Agent)
		var agentInfo adapters.Info
		if agent != nil {
			agentInfo = agent.Info(ctx)
		}
		s := newSession(m, info, agentInfo)
		close(s.ready)
		s.lastSeq = row.LastSeq
		s.publish()
		m.sessions[row.ID] = s
		if !info.Ended {
			detail := "agentd stopped while the session was running"
			err := s.end(ctx, schema.SessionEndedData{
				Reason: schema.EndError, TerminatedBy: schema.ByDaemon, Message: &detail, Detail: &detail,
			}, nil)
			if err != nil {
				return nil, fmt.Errorf("end interrupted session %q: %w", row.ID, err)
			}
		}
	}
	return m, nil
}

// Install fetches an agent. Agents that need no install (the mock) or that
// are installed already succeed at once unless reinstall is asked for.
// progress, when not nil, sees the install's steps.
func (m *Manager) Install(ctx context.Context, id, version string, reinstall bool, progress func(InstallProgress)) error {
	agent, err := m.Agent(id)
	if err != nil {
		return err
	}
	info := agent.Info(ctx)
	if info.Installed && !reinstall && version == "" {
		return nil
	}
	if m.installer == nil || !m.installer.Installable(id) {
		if info.Installed {
			return nil
		}
		e := apierr.New(apierr.InstallFailed, "%s", id)
		e.Agent = id
		e.Details = map[string]any{"stderr": "agentd cannot install " + id}
		return e
	}
	if err := m.installer.Install(ctx, id, version, reinstall, progress); err != nil {
		if _, ok := apierr.As(err); ok {
			return err
		}
		e := apierr.New(apierr.InstallFailed, "%s", id)
		e.Agent = id
		e.Details = map[string]any{"stderr": err.Error()}
		return e
	}
	return nil
}

// Agents lists the agents in the order the API reports them.
func (m *Manager) Agents() []adapters.Agent { return m.agents }

// Agent finds an agent by id.
func (m *Manager) Agent(id string) (adapters.Agent, error) {
	for _, a := range m.agents {
		if a.ID() == id {
			return a, nil
		}
	}
	return nil, apierr.Unsupported(id)
}

// Get finds a session.
func (m *Manager) Get(id string) (*Session, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s, ok := m.sessions[id]
	if !ok {
		return nil, apierr.NotFound(id)
	}
	return s, nil
}

// List returns every session, newest first.
func (m *Manager) List() []SessionInfo {
	m.mu.RLock()
	all := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		all = append(all, s)
	}
	m.mu.RUnlock()
	infos := make([]SessionInfo, len(all))
	for i, s := range all {
		infos[i] = s.Info()
	}
	slices.SortFunc(infos, func(a, b SessionInfo) int {
		if a.CreatedAt != b.CreatedAt {
			return int(b.CreatedAt - a.CreatedAt)
		}
		return strings.Compare(a.SessionID, b.SessionID)
	})
	return infos
}

// Create starts a session. The id is reserved first, so two concurrent
// creates of one id cannot both succeed.
func (m *Manager) Create(ctx context.Context, id string, req CreateRequest) (SessionInfo, error) {
	agent, err := m.Agent(req.Agent)
	if err != nil {
		return SessionInfo{}, err
	}
	if err := m.reserve(id); err != nil {
		return SessionInfo{}, err
	}
	defer m.release(id)
	agentInfo := agent.Info(ctx)
	info, err := newInfo(id, req, agentInfo, m.now())
	if err != nil {
		return SessionInfo{}, err
	}
	// Secret references are resolved here, once, and live only in the
	// start request: the stored info keeps the references.
	mcp, err := adapters.ParseMCP(req.MCP, os.LookupEnv)
	if err != nil {
		return SessionInfo{}, err
	}
	if agentInfo.Runnable && !agentInfo.Installed {
		if err := m.Install(ctx, req.Agent, req.AgentVersion, false, nil); err != nil {
			return SessionInfo{}, err
		}
		agentInfo = agent.Info(ctx)
	}
	if !agentInfo.Runnable || !agentInfo.Installed {
		e := apierr.New(apierr.AgentNotInstalled, "%s", req.Agent)
		e.Agent = req.Agent
		return SessionInfo{}, e
	}
	start, err := m.starter(agent, req, &info)
	if err != nil {
		return SessionInfo{}, err
	}
	s := newSession(m, info, agentInfo)
	s.metered = m.metered != nil && m.metered(info.Agent)
	sr := startRequest(info)
	sr.MCP = mcp
	if m.startEnv != nil {
		sr.Env = m.startEnv(info.Agent, info.SessionID)
	}
	egressEnv, err := m.openEgress(s, req.Network)
	if err != nil {
		return SessionInfo{}, err
	}
	sr.Env = append(sr.Env, egressEnv...)
	running, err := start(context.WithoutCancel(ctx), sr, s)
	if err != nil {
		m.closeEgress(id)
		s.info.Ended = true // refuse what the proxy reports meanwhile
		close(s.ready)
		return SessionInfo{}, startError(req.Agent, err)
	}
	if n := running.NativeSessionID(); n != "" {
		s.info.NativeSessionID = &n
	}
	s.agent = running
	if err := m.store(ctx, s); err != nil {
		s.info.Ended = true // refuse whatever the agent emits meanwhile
		close(s.ready)
		m.closeEgress(id)
		if stopErr := running.Stop(ctx); stopErr != nil {
			m.logger.Warn("stopping agent of unstored session", slog.String("session", id), slog.Any("err", stopErr))
		}
		return SessionInfo{}, err
	}
	close(s.ready)
	m.add(s)
	return s.Info(), nil
}

// starter picks how the agent starts: fresh, or resuming the native
// session of the ended session req.Resume names, in that session's
// directory unless another is given (agents keep their sessions per
// directory).
func (m *Manager) starter(agent adapters.Agent, req CreateRequest, info *SessionInfo) (func(context.Context, adapters.StartRequest, adapters.Emitter) (adapters.Session, error), error) {
	if req.Resume == "" {
		return agent.Start, nil
	}
	old, err := m.Get(req.Resume)
	if err != nil {
		return nil, apierr.New(apierr.InvalidRequest, "resume: no session %s", req.Resume)
	}
	prev := old.Info()
	resumer, ok := agent.(adapters.Resumer)
	switch {
	case prev.Agent != req.Agent:
		return nil, apierr.New(apierr.InvalidRequest, "resume: session %s is a %s session, not %s", req.Resume, prev.Agent, req.Agent)
	case !ok:
		return nil, apierr.New(apierr.InvalidRequest, "resume: %s cannot resume sessions", req.Agent)
	case !prev.Ended:
		return nil, apierr.New(apierr.InvalidRequest, "resume: session %s is still running; terminate it first", req.Resume)
	case prev.NativeSessionID == nil:
		return nil, apierr.New(apierr.InvalidRequest, "resume: session %s has no native session to resume", req.Resume)
	}
	if other := m.resumedBy(req.Resume); other != "" {
		// Two processes on one native session would interleave its history.
		return nil, apierr.New(apierr.InvalidRequest, "resume: session %s is already resumed by running session %s", req.Resume, other)
	}
	if info.Directory == nil {
		info.Directory = prev.Directory
	}
	info.ResumedFrom = req.Resume
	native := *prev.NativeSessionID
	return func(ctx context.Context, sr adapters.StartRequest, emit adapters.Emitter) (adapters.Session, error) {
		return resumer.Resume(ctx, sr, native, emit)
	}, nil
}

// resumedBy returns the running session that resumed id, if any.
func (m *Manager) resumedBy(id string) string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for sid, s := range m.sessions {
		if info := s.Info(); !info.Ended && info.ResumedFrom == id {
			return sid
		}
	}
	return ""
}

func (m *Manager) reserve(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return apierr.New(apierr.InvalidRequest, "agentd is shutting down")
	}
	if _, ok := m.sessions[id]; ok || m.creating[id] {
		e := apierr.New(apierr.SessionAlreadyExists, "%s", id)
		e.SessionID = id
		return e
	}
	m.creating[id] = true
	return nil
}

func (m *Manager) release(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.creating, id)
}

func (m *Manager) add(s *Session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sessions[s.id] = s
}

// store writes the session row with its session.started event.
func (m *Manager) store(ctx context.Context, s *Session) error {
	meta, err := json.Marshal(map[string]any{
		"agent": s.info.Agent, "agentMode": s.info.AgentMode, "permissionMode": s.info.PermissionMode,
		"model": s.info.Model, "variant": s.info.Variant,
	})
	if err != nil {
		return err
	}
	d := draft{typ: schema.EventSessionStarted, data: schema.SessionStartedData{Metadata: meta}, synthetic: true}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.encode(1, m.now(), d)
	if err != nil {
		return err
	}
	s.info.UpdatedAt = s.info.CreatedAt
	infoJSON, err := json.Marshal(s.info)
	if err != nil {
		return err
	}
	row := eventlog.Session{ID: s.id, Info: infoJSON, CreatedAt: s.info.CreatedAt, UpdatedAt: s.info.UpdatedAt}
	if err := m.log.CreateSession(ctx, row, []eventlog.Record{rec}); err != nil {
		if errors.Is(err, eventlog.ErrExists) {
			e := apierr.New(apierr.SessionAlreadyExists, "%s", s.id)
			e.SessionID = s.id
			return e
		}
		return err
	}
	s.lastSeq = 1
	s.publish()
	return nil
}

func startError(agent string, err error) error {
	if _, ok := apierr.As(err); ok {
		return err
	}
	if errors.Is(err, adapters.ErrNotInstalled) {
		e := apierr.New(apierr.AgentNotInstalled, "%s", agent)
		e.Agent = agent
		return e
	}
	return apierr.New(apierr.StreamError, "%v", err)
}

func startRequest(in SessionInfo) adapters.StartRequest {
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return adapters.StartRequest{
		SessionID: in.SessionID, AgentMode: in.AgentMode, PermissionMode: in.PermissionMode,
		Model: deref(in.Model), Variant: deref(in.Variant), Directory: deref(in.Directory),
		SystemPrompt: in.SystemPrompt, AllowedTools: in.AllowedTools, DisallowedTools: in.DisallowedTools,
	}
}

// Shutdown ends every running session, stopping its agent, and refuses new
// ones. It is what SIGTERM does.
func (m *Manager) Shutdown(ctx context.Context) {
	m.mu.Lock()
	m.closed = true
	all := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		all = append(all, s)
	}
	m.mu.Unlock()
	detail := "agentd shut down"
	var wg sync.WaitGroup
	for _, s := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.end(ctx, schema.SessionEndedData{Reason: schema.EndTerminated, TerminatedBy: schema.ByDaemon, Detail: &detail}, nil)
			if err != nil {
				m.logger.Warn("ending session at shutdown", slog.String("session", s.id), slog.Any("err", err))
			}
		}()
	}
	wg.Wait()
	m.bgCancel()
	m.bg.Wait()
}
