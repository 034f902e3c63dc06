// Package sinkset runs the sinks a daemon was given: it turns each
// --sink URL into a destination and a shipper, keeps the daemon id that
// tells this daemon's rows from others', and stops them all at shutdown.
package sinkset

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/agentd-dev/agentd/internal/sink"
	"github.com/agentd-dev/agentd/internal/sink/pgsink"
	"github.com/agentd-dev/agentd/internal/sink/webhook"
)

// Config is what the daemon was told.
type Config struct {
	// Specs are sink URLs: postgres:// or postgresql:// for PostgreSQL,
	// https:// or http:// for a webhook. A value may hold several,
	// separated by spaces.
	Specs []string
	// Secret signs webhook deliveries.
	Secret string
	// DaemonID names this daemon in shared destinations; when empty, one
	// is made up once and kept in Dir.
	DaemonID string
	// Dir keeps cursors, dead letters and the daemon id.
	Dir    string
	Logger *slog.Logger
}

// Set is the running sinks.
type Set struct {
	shippers []*sink.Shipper
	dsts     []sink.Destination
	src      sink.Source
	logger   *slog.Logger

	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once
}

// Start builds every sink, failing before any runs if one is wrong, and
// runs them until Stop. They outlive ctx's cancellation on purpose: at
// shutdown the daemon's last events are shipped before Stop ends them.
func Start(ctx context.Context, src sink.Source, cfg Config) (*Set, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	specs := Split(cfg.Specs)
	set := &Set{src: src, logger: cfg.Logger}
	if len(specs) == 0 {
		return set, nil
	}
	daemonID, err := DaemonID(cfg.Dir, cfg.DaemonID)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, spec := range specs {
		sh, dst, err := build(src, spec, daemonID, cfg)
		if err != nil {
			set.closeAll()
			return nil, err
		}
		if seen[sh.Name()] {
			dst.Close()
			set.closeAll()
			return nil, fmt.Errorf("sink %s given twice", redact(spec))
		}
		seen[sh.Name()] = true
		set.shippers, set.dsts = append(set.shippers, sh), append(set.dsts, dst)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	set.cancel = cancel
	for _, sh := range set.shippers {
		set.wg.Go(func() { _ = sh.Run(runCtx) })
		cfg.Logger.Info("sink shipping", "sink", sh.Name(), "daemon_id", daemonID)
	}
	return set, nil
}

// Split separates the URLs of values that hold several.
func Split(values []string) []string {
	var out []string
	for _, v := range values {
		out = append(out, strings.Fields(v)...)
	}
	return out
}

func build(src sink.Source, spec, daemonID string, cfg Config) (*sink.Shipper, sink.Destination, error) {
	u, err := url.Parse(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("sink %s: not a URL", redact(spec))
	}
	var dst sink.Destination
	shown := redact(spec)
	name := nameOf(u.Scheme, shown)
	switch u.Scheme {
	case "postgres", "postgresql":
		dst, err = pgsink.New(spec, daemonID)
	case "https", "http":
		if cfg.Secret == "" {
			cfg.Logger.Warn("webhook sink without a secret: deliveries are unsigned (set AGENTD_SINK_SECRET)", "sink", name)
		}
		dst, err = webhook.New(webhook.Options{URL: spec, DaemonID: daemonID, Secret: []byte(cfg.Secret),
			DeadLetterPath: filepath.Join(cfg.Dir, name+".deadletter.jsonl"), Logger: cfg.Logger})
	default:
		return nil, nil, fmt.Errorf("sink %s: unknown kind %q (want postgres://, https:// or http://)", shown, u.Scheme)
	}
	if err != nil {
		return nil, nil, err
	}
	sh, err := sink.New(src, dst, sink.Options{Name: name, Destination: shown, Logger: cfg.Logger,
		Cursor: sink.FileCursor{Path: filepath.Join(cfg.Dir, name+".cursor")}})
	if err != nil {
		dst.Close()
		return nil, nil, err
	}
	return sh, dst, nil
}

// redact shows a sink URL without password, query or fragment.
func redact(spec string) string {
	u, err := url.Parse(spec)
	if err != nil {
		return "(malformed URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	u.RawQuery, u.Fragment = "", ""
	return u.String()
}

// nameOf names a sink after its kind and destination, stably across
// restarts (the cursor file is found by it) and password changes.
func nameOf(scheme, shown string) string {
	kind := "webhook"
	if strings.HasPrefix(scheme, "postgres") {
		kind = "postgres"
	}
	sum := sha256.Sum256([]byte(shown))
	return kind + "-" + hex.EncodeToString(sum[:5])
}

var (
	validDaemonID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	notInID       = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
)

// DaemonID returns the given id, or the one kept in dir, made up on first use.
func DaemonID(dir, given string) (string, error) {
	if given != "" {
		if !validDaemonID.MatchString(given) {
			return "", fmt.Errorf("daemon id %q: use up to 128 letters, digits, '.', '_' or '-'", given)
		}
		return given, nil
	}
	path := filepath.Join(dir, "daemon-id")
	b, err := os.ReadFile(path)
	if err == nil && validDaemonID.MatchString(strings.TrimSpace(string(b))) {
		return strings.TrimSpace(string(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read daemon id: %w", err)
	}
	id := madeUpID()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("keep daemon id: %w", err)
	}
	if err := os.WriteFile(path, []byte(id+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("keep daemon id: %w", err)
	}
	return id, nil
}

// madeUpID is the host name, for people reading the database, and random
// bytes, for sandboxes that all share one host name.
func madeUpID() string {
	host, _ := os.Hostname()
	host = strings.Trim(notInID.ReplaceAllString(host, "-"), "-.")
	if len(host) > 40 {
		host = host[:40]
	}
	if host == "" {
		host = "agentd"
	}
	return host + "-" + rand.Text()[:10]
}

// Status reports every sink's health.
func (s *Set) Status(ctx context.Context) []sink.Status {
	out := make([]sink.Status, 0, len(s.shippers))
	for _, sh := range s.shippers {
		out = append(out, sh.Status(ctx))
	}
	return out
}

// Stop gives the sinks up to grace to ship what the log holds, then ends
// them; what is left ships at the next start.
func (s *Set) Stop(grace time.Duration) {
	s.stopOnce.Do(func() {
		if s.cancel == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		if head, err := s.src.Head(ctx); err == nil {
			for _, sh := range s.shippers {
				if err := sh.WaitShipped(ctx, head); err != nil {
					s.logger.Warn("sink stopped with a backlog; it ships at the next start", "sink", sh.Name())
				}
			}
		}
		s.cancel()
		s.wg.Wait()
		s.closeAll()
	})
}

func (s *Set) closeAll() {
	for _, d := range s.dsts {
		if err := d.Close(); err != nil {
			s.logger.Warn("closing sink", "err", err)
		}
	}
}
