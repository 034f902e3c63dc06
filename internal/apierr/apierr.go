// Package apierr holds the typed errors that the engine returns and the API
// turns into problem details. Kinds are the reference's ErrorType values, so
// a kind fixes the status code, title and problem type of the response.
package apierr

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Kind is one of the reference's error types.
type Kind string

const (
	InvalidRequest       Kind = "invalid_request"
	UnsupportedAgent     Kind = "unsupported_agent"
	AgentNotInstalled    Kind = "agent_not_installed"
	InstallFailed        Kind = "install_failed"
	AgentProcessExited   Kind = "agent_process_exited"
	TokenInvalid         Kind = "token_invalid"
	PermissionDenied     Kind = "permission_denied"
	SessionNotFound      Kind = "session_not_found"
	SessionAlreadyExists Kind = "session_already_exists"
	ModeNotSupported     Kind = "mode_not_supported"
	StreamError          Kind = "stream_error"
	Timeout              Kind = "timeout"
	// BudgetExceeded is additive: a session or the daemon spent its token
	// budget.
	BudgetExceeded Kind = "budget_exceeded"
)

// Kinds lists every kind in the reference's order.
var Kinds = []Kind{InvalidRequest, UnsupportedAgent, AgentNotInstalled, InstallFailed, AgentProcessExited,
	TokenInvalid, PermissionDenied, SessionNotFound, SessionAlreadyExists, ModeNotSupported, StreamError, Timeout,
	BudgetExceeded}

var statuses = map[Kind]int{
	InvalidRequest:       http.StatusBadRequest,
	UnsupportedAgent:     http.StatusBadRequest,
	AgentNotInstalled:    http.StatusNotFound,
	InstallFailed:        http.StatusInternalServerError,
	AgentProcessExited:   http.StatusInternalServerError,
	TokenInvalid:         http.StatusUnauthorized,
	PermissionDenied:     http.StatusForbidden,
	SessionNotFound:      http.StatusNotFound,
	SessionAlreadyExists: http.StatusConflict,
	ModeNotSupported:     http.StatusBadRequest,
	StreamError:          http.StatusBadGateway,
	Timeout:              http.StatusGatewayTimeout,
	BudgetExceeded:       http.StatusConflict,
}

// Status is the HTTP status code of the kind.
func (k Kind) Status() int {
	if s, ok := statuses[k]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Title is the kind in words: "session_not_found" → "Session Not Found".
func (k Kind) Title() string {
	words := strings.Split(string(k), "_")
	for i, w := range words {
		if w != "" {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return strings.Join(words, " ")
}

// Error is an engine error that maps onto a problem response.
type Error struct {
	Kind Kind
	// Detail is the whole human-readable detail, e.g. "session not found: s1".
	Detail    string
	Agent     string
	SessionID string
	Details   map[string]any
}

func (e *Error) Error() string { return e.Detail }

// New builds an error whose detail is "<kind in words>: <msg>", as the
// reference words them (e.g. "invalid request: session terminated").
func New(kind Kind, format string, args ...any) *Error {
	prefix := strings.ReplaceAll(string(kind), "_", " ")
	msg := fmt.Sprintf(format, args...)
	if msg == "" {
		return &Error{Kind: kind, Detail: prefix}
	}
	return &Error{Kind: kind, Detail: prefix + ": " + msg}
}

func NotFound(sessionID string) *Error {
	e := New(SessionNotFound, "%s", sessionID)
	e.SessionID = sessionID
	return e
}

func Unsupported(agent string) *Error {
	e := New(UnsupportedAgent, "%s", agent)
	e.Agent = agent
	return e
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
