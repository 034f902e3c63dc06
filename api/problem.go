package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentd-dev/agentd/internal/apierr"
)

// ProblemDetails is an RFC 9457 problem in the reference's shape: its error
// type as a URN, plus the camelCase extensions agent, sessionId and details.
type ProblemDetails struct {
	Type      string         `json:"type" doc:"urn:sandbox-agent:error:<error_type>"`
	Title     string         `json:"title"`
	Status    int            `json:"status" minimum:"0"`
	Detail    string         `json:"detail,omitempty"`
	Instance  string         `json:"instance,omitempty"`
	Agent     string         `json:"agent,omitempty"`
	SessionID string         `json:"sessionId,omitempty"`
	Details   map[string]any `json:"details,omitempty"`
	// Errors is additive: each field that failed validation, and why.
	Errors []*huma.ErrorDetail `json:"errors,omitempty"`
}

func (p *ProblemDetails) Error() string  { return p.Detail }
func (p *ProblemDetails) GetStatus() int { return p.Status }

// ContentType makes huma send problems as application/problem+json.
func (p *ProblemDetails) ContentType(ct string) string {
	if ct == "application/json" {
		return "application/problem+json"
	}
	return ct
}

const typePrefix = "urn:sandbox-agent:error:"

// fromKind builds the problem for an engine error.
func fromKind(e *apierr.Error) *ProblemDetails {
	return &ProblemDetails{
		Type: typePrefix + string(e.Kind), Title: e.Kind.Title(), Status: e.Kind.Status(),
		Detail: e.Detail, Agent: e.Agent, SessionID: e.SessionID, Details: e.Details,
	}
}

// kindForStatus picks the error type for framework errors (bad JSON,
// validation, unknown route…), which the reference leaves untyped.
func kindForStatus(status int) apierr.Kind {
	switch status {
	case http.StatusUnauthorized:
		return apierr.TokenInvalid
	case http.StatusForbidden:
		return apierr.PermissionDenied
	case http.StatusGatewayTimeout:
		return apierr.Timeout
	}
	return apierr.InvalidRequest
}

func init() { huma.NewError = newFrameworkError }

// newFrameworkError replaces huma's error constructor so every error the
// framework raises has our shape.
func newFrameworkError(status int, msg string, errs ...error) huma.StatusError {
	return frameworkProblem(status, msg, errs...)
}

func frameworkProblem(status int, msg string, errs ...error) *ProblemDetails {
	if status == http.StatusUnprocessableEntity && onlyParameterErrors(errs) {
		status = http.StatusBadRequest // a query or path that does not parse, as the reference answers
	}
	p := &ProblemDetails{
		Type: typePrefix + string(kindForStatus(status)), Title: http.StatusText(status), Status: status,
		Detail: strings.ToLower(msg[:min(1, len(msg))]) + msg[min(1, len(msg)):],
	}
	for _, err := range errs {
		var d *huma.ErrorDetail
		if errors.As(err, &d) {
			p.Errors = append(p.Errors, d)
		} else if err != nil {
			p.Errors = append(p.Errors, &huma.ErrorDetail{Message: err.Error()})
		}
	}
	return p
}

// problem maps any error from the engine to a problem response. Errors
// without a kind are internal: they are logged and their text is not sent.
func problem(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	if e, ok := apierr.As(err); ok {
		return fromKind(e)
	}
	var se huma.StatusError
	if errors.As(err, &se) {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return fromKind(apierr.New(apierr.Timeout, "request cancelled"))
	}
	log.ErrorContext(ctx, "internal error", slog.Any("err", err))
	return &ProblemDetails{Type: typePrefix + "internal", Title: "Internal Server Error",
		Status: http.StatusInternalServerError, Detail: "internal error; see the daemon's log"}
}

// onlyParameterErrors reports whether every validation error is about the
// query string or the path rather than the body.
func onlyParameterErrors(errs []error) bool {
	if len(errs) == 0 {
		return false
	}
	for _, err := range errs {
		var d *huma.ErrorDetail
		if !errors.As(err, &d) || !(strings.HasPrefix(d.Location, "query.") || strings.HasPrefix(d.Location, "path.")) {
			return false
		}
	}
	return true
}
