// Package webhook is the HTTP destination of the event shipper: each event
// is POSTed, in commit order, with an idempotency key and an HMAC-SHA256
// signature. Delivery is at least once; receivers dedupe on the key. An event
// the receiver keeps refusing is set aside in a local dead-letter file after
// a number of attempts, so it never holds back the events after it.
package webhook

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/agentd-dev/agentd/internal/eventlog"
	"github.com/agentd-dev/agentd/internal/sink"
)

// Headers of every delivery.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderEventID        = "X-Agentd-Event-Id"
	HeaderSessionID      = "X-Agentd-Session-Id"
	HeaderDaemonID       = "X-Agentd-Daemon-Id"
	HeaderTimestamp      = "X-Agentd-Timestamp"
	HeaderSignature      = "X-Agentd-Signature"
	HeaderAttempt        = "X-Agentd-Attempt"
)

// Options configure a webhook sink; zero values take defaults.
type Options struct {
	URL      string
	DaemonID string
	// Secret keys the signature; without one, deliveries are unsigned.
	Secret []byte
	// DeadLetterPath is the JSON-lines file refused events are kept in.
	DeadLetterPath string
	// MaxAttempts is how many deliveries an event gets before it is
	// dead-lettered (default 8).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait between attempts (defaults
	// 500ms and 30s).
	MinBackoff, MaxBackoff time.Duration
	Client                 *http.Client
	Logger                 *slog.Logger
}

// Sink delivers events to one URL.
type Sink struct {
	opts        Options
	deadLetters atomic.Int64

	mu sync.Mutex // one Ship at a time; guards failing
	// failing counts the attempts of the event that last failed, across
	// Ship calls: the shipper may give up on a batch and offer it again.
	failing struct {
		key      string
		attempts int
	}
}

// New checks the options and counts the dead letters already stored.
func New(opts Options) (*Sink, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webhook sink: %q is not an http(s) URL", Redact(opts.URL))
	}
	if opts.DaemonID == "" || opts.DeadLetterPath == "" {
		return nil, errors.New("webhook sink: a daemon id and a dead-letter path are required")
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 8
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(30*time.Second, opts.MinBackoff)
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Sink{opts: opts}
	n, err := countLines(opts.DeadLetterPath)
	if err != nil {
		return nil, err
	}
	s.deadLetters.Store(n)
	return s, nil
}

// Redact returns the URL without its user information and query, which may
// carry credentials.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(malformed URL)"
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// Kind names the destination kind.
func (*Sink) Kind() string { return "webhook" }

// Close releases nothing: each delivery is a plain request.
func (*Sink) Close() error { return nil }

// DeadLetters is how many events were set aside, ever.
func (s *Sink) DeadLetters() int64 { return s.deadLetters.Load() }

// Ship delivers the events one by one, in order.
func (s *Sink) Ship(ctx context.Context, b sink.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range b.Events {
		if err := s.deliver(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// deliver returns nil once the event is delivered or dead-lettered; an
// error only when ctx ended first.
func (s *Sink) deliver(ctx context.Context, e eventlog.Entry) error {
	key := s.key(e)
	if s.failing.key != key {
		s.failing.key, s.failing.attempts = key, 0
	}
	body := e.JSON(true)
	for {
		s.failing.attempts++
		attempt := s.failing.attempts
		err := s.post(ctx, e, key, body, attempt)
		if err == nil {
			s.failing.key = ""
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var perm permanent
		if errors.As(err, &perm) || attempt >= s.opts.MaxAttempts {
			s.failing.key = ""
			return s.deadLetter(e, key, body, attempt, err)
		}
		s.opts.Logger.Warn("webhook delivery failed; retrying", "url", Redact(s.opts.URL), "key", key, "attempt", attempt, "err", err)
		if err := wait(ctx, s.backoff(attempt)); err != nil {
			return err
		}
	}
}

// key identifies the event across every daemon: event ids are only unique
// within their session, session ids within their daemon.
func (s *Sink) key(e eventlog.Entry) string {
	return s.opts.DaemonID + "/" + url.PathEscape(e.SessionID) + "/" + strconv.FormatUint(e.Seq, 10)
}

// permanent marks a refusal that retrying cannot change.
type permanent struct{ error }

func (s *Sink) post(ctx context.Context, e eventlog.Entry, key string, body []byte, attempt int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.URL, bytes.NewReader(body))
	if err != nil {
		return permanent{fmt.Errorf("build request: %w", err)}
	}
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set(HeaderIdempotencyKey, key)
	h.Set(HeaderEventID, "evt_"+strconv.FormatUint(e.Seq, 10))
	h.Set(HeaderSessionID, e.SessionID)
	h.Set(HeaderDaemonID, s.opts.DaemonID)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderAttempt, strconv.Itoa(attempt))
	if len(s.opts.Secret) > 0 {
		h.Set(HeaderSignature, Sign(s.opts.Secret, ts, body))
	}
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		// url.Error repeats the URL, which may hold credentials.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return fmt.Errorf("POST %s: %w", Redact(s.opts.URL), err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return nil
	case code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests:
		return permanent{fmt.Errorf("POST %s: %s", Redact(s.opts.URL), resp.Status)}
	default:
		return fmt.Errorf("POST %s: %s", Redact(s.opts.URL), resp.Status)
	}
}

// Sign is the signature header's value: the hex HMAC-SHA256, keyed by the
// secret, of the timestamp header, a dot and the body.
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (s *Sink) backoff(attempt int) time.Duration {
	d := s.opts.MinBackoff
	for i := 1; i < attempt && d < s.opts.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, s.opts.MaxBackoff)
}

func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// DeadLetter is one line of the dead-letter file.
type DeadLetter struct {
	At        time.Time       `json:"at"`
	Key       string          `json:"key"`
	SessionID string          `json:"sessionId"`
	Sequence  uint64          `json:"sequence"`
	Attempts  int             `json:"attempts"`
	Error     string          `json:"error"`
	Event     json.RawMessage `json:"event"`
}

func (s *Sink) deadLetter(e eventlog.Entry, key string, body []byte, attempts int, cause error) error {
	line, err := json.Marshal(DeadLetter{At: time.Now().UTC(), Key: key, SessionID: e.SessionID, Sequence: e.Seq,
		Attempts: attempts, Error: cause.Error(), Event: body})
	if err != nil {
		return fmt.Errorf("dead-letter %s: %w", key, err)
	}
	if err := appendSynced(s.opts.DeadLetterPath, append(line, '\n')); err != nil {
		return fmt.Errorf("dead-letter %s: %w", key, err)
	}
	s.deadLetters.Add(1)
	s.opts.Logger.Error("webhook event dead-lettered", "url", Redact(s.opts.URL), "key", key, "attempts", attempts, "err", cause, "file", s.opts.DeadLetterPath)
	return nil
}

func appendSynced(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func countLines(path string) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read dead letters: %w", err)
	}
	defer f.Close()
	var n int64
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		n++
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read dead letters: %w", err)
	}
	return n, nil
}
