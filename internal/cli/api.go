package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/agentd-dev/agentd/api/client"
)

// Exit codes of the api commands, past the generic ones of root.go.
const (
	exitAPI     = 3 // the daemon answered with a problem
	exitNetwork = 4 // the daemon could not be reached
)

// defaultEndpoint is where `agentd server` listens by default.
const defaultEndpoint = "http://127.0.0.1:2468"

// apiFactory holds what every `agentd api` command shares: the streams,
// the global flags and a lazily built client, so a command that fails on
// its own flags never touches the network.
type apiFactory struct {
	IO
	Endpoint string
	Token    string
	JSON     bool

	// HTTPClient carries every request; nil means a client of our own
	// without a timeout (streams stay open as long as the daemon sends).
	HTTPClient *http.Client
	// Backoff is the first wait before a stream reconnects (doubling up to
	// maxBackoff); Retries bounds the reconnects in a row that bring no
	// event. Tests shrink both.
	Backoff time.Duration
	Retries int

	// terminal, when set, says whether Out is a terminal (tests).
	terminal func() bool

	client *client.ClientWithResponses
}

const (
	defaultBackoff = 250 * time.Millisecond
	maxBackoff     = 5 * time.Second
	defaultRetries = 8
)

// newAPICmd is `agentd api`: one subcommand per endpoint of the v1 API.
func newAPICmd(streams IO) *cobra.Command {
	return newAPICmdWith(&apiFactory{IO: streams, Backoff: defaultBackoff, Retries: defaultRetries})
}

func newAPICmdWith(f *apiFactory) *cobra.Command {
	cmd := newAPIRootCmd(f)
	cmd.AddCommand(newAPIHealthCmd(f, nil), newAPIAgentsCmd(f), newAPISessionsCmd(f), newAPIPresetsCmd(f), newAPIFsCmd(f), newAPIProcessesCmd(f), newAPITerminalsCmd(f))
	return cmd
}

// newAPIRootCmd is `agentd api` with its global flags and no subcommands.
func newAPIRootCmd(f *apiFactory) *cobra.Command {
	cmd := apiGroup("api", "Call a running agentd's HTTP API",
		"Call a running agentd over its v1 HTTP API: one subcommand per endpoint.\n\n"+
			"Output is a short human-readable form on a terminal, and JSON with --json or whenever stdout is\n"+
			"not a terminal (one object per line; streams print one event per line as it arrives).\n\n"+
			"Exit codes: 0 ok, 1 other failure, 2 usage error, 3 API error (the problem is printed to stderr),\n"+
			"4 network error (the daemon could not be reached).")
	cmd.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return bindAPIEnv(cmd.Flags()) }
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := cmd.PersistentFlags()
	pf.StringVarP(&f.Endpoint, "endpoint", "e", defaultEndpoint, "base URL of the daemon (env AGENTD_ENDPOINT)")
	pf.StringVarP(&f.Token, "token", "t", "", "bearer token of the daemon (env AGENTD_TOKEN)")
	pf.BoolVar(&f.JSON, "json", false, "print JSON even on a terminal")
	return cmd
}

// apiGlobalEnv are the global flags that an AGENTD_* variable can set.
var apiGlobalEnv = []string{"endpoint", "token"}

// bindAPIEnv sets --endpoint and --token from AGENTD_ENDPOINT and
// AGENTD_TOKEN when they were not given, as bindEnv does for the server.
// Only the global flags are bound: AGENTD_MODEL or AGENTD_TITLE in the
// environment must not change what `api sessions create` sends.
func bindAPIEnv(flags *pflag.FlagSet) error {
	for _, name := range apiGlobalEnv {
		f := flags.Lookup(name)
		if f == nil || f.Changed {
			continue
		}
		env := "AGENTD_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if v := os.Getenv(env); v != "" {
			if err := f.Value.Set(v); err != nil {
				return usageError{fmt.Errorf("%s=%q: %w", env, v, err)}
			}
		}
	}
	return nil
}

// apiGroup is a command that only holds subcommands: bare, it prints its
// help; with an unknown subcommand it is a usage error (cobra would print
// the help and succeed).
func apiGroup(use, short, long string) *cobra.Command {
	return &cobra.Command{
		Use: use, Short: short, Long: long,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
			}
			return cmd.Help()
		},
	}
}

// Client returns the API client, building it on first use.
func (f *apiFactory) Client() (*client.ClientWithResponses, error) {
	if f.client != nil {
		return f.client, nil
	}
	base, err := f.baseURL()
	if err != nil {
		return nil, err
	}
	c, err := client.NewClientWithResponses(base, client.WithHTTPClient(f.httpClient()), client.WithRequestEditorFn(f.authorize))
	if err != nil {
		return nil, usageError{fmt.Errorf("--endpoint: %w", err)}
	}
	f.client = c
	return c, nil
}

func (f *apiFactory) httpClient() *http.Client {
	if f.HTTPClient == nil {
		f.HTTPClient = &http.Client{}
	}
	return f.HTTPClient
}

// baseURL checks --endpoint: an absolute http(s) URL.
func (f *apiFactory) baseURL() (string, error) {
	u, err := url.Parse(f.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", usageError{fmt.Errorf("--endpoint %q is not an http:// or https:// URL", f.Endpoint)}
	}
	return strings.TrimRight(f.Endpoint, "/"), nil
}

func (f *apiFactory) authorize(_ context.Context, req *http.Request) error {
	if f.Token != "" {
		req.Header.Set("Authorization", "Bearer "+f.Token)
	}
	return nil
}

// wantJSON reports whether output is JSON: asked for, or not a terminal.
func (f *apiFactory) wantJSON() bool { return f.JSON || !f.isTerminal() }

func (f *apiFactory) isTerminal() bool {
	if f.terminal != nil {
		return f.terminal()
	}
	return isTerminal(f.Out)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	file, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := file.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// newTable aligns the columns of the human-readable listings.
func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

// printJSON writes a JSON document on one line (indented on a terminal).
func (f *apiFactory) printJSON(doc []byte) error {
	var buf bytes.Buffer
	var err error
	if f.isTerminal() {
		err = json.Indent(&buf, doc, "", "  ")
	} else {
		err = json.Compact(&buf, doc)
	}
	if err != nil {
		return fmt.Errorf("daemon sent invalid JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err = f.Out.Write(buf.Bytes())
	return err
}

// printValue writes v as JSON.
func (f *apiFactory) printValue(v any) error {
	doc, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return f.printJSON(doc)
}

// apiResult is what every generated response wrapper has.
type apiResult interface {
	StatusCode() int
	GetBody() []byte
}

// check turns a call's outcome into the command's error: a network error,
// or an API error for any status but want.
func (f *apiFactory) check(res apiResult, err error, want int) error {
	if err != nil {
		return f.transportError(err)
	}
	if res.StatusCode() != want {
		return f.problem(res.StatusCode(), res.GetBody())
	}
	return nil
}

// transportError classifies an error from sending a request. A request
// that ctx cancelled is reported as such; anything else means the daemon
// could not be reached or did not answer.
func (f *apiFactory) transportError(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	var ue usageError
	if errors.As(err, &ue) {
		return err
	}
	var je *json.SyntaxError
	var te *json.UnmarshalTypeError
	if errors.As(err, &je) || errors.As(err, &te) {
		return fmt.Errorf("daemon at %s sent a body this client cannot read: %w", f.Endpoint, err)
	}
	return &networkError{Endpoint: f.Endpoint, Err: err}
}

// problem builds the API error of a response and, in JSON mode, prints the
// whole problem document to stderr.
func (f *apiFactory) problem(status int, body []byte) error {
	e := &apiError{Status: status}
	if json.Unmarshal(body, &e.Problem) != nil || e.Problem.Title == "" {
		// Not a problem document (a proxy's page, say): describe the status.
		e.Problem = client.ProblemDetails{Title: http.StatusText(status), Status: int64(status)}
		if text := strings.TrimSpace(string(body)); text != "" {
			e.Problem.Detail = &text
		}
		body, _ = json.Marshal(e.Problem)
	}
	if f.wantJSON() {
		var buf bytes.Buffer
		if json.Compact(&buf, body) == nil {
			buf.WriteByte('\n')
			_, _ = f.Err.Write(buf.Bytes())
		}
	}
	return e
}

// apiError is a problem the daemon answered with (exit code 3).
type apiError struct {
	Status  int
	Problem client.ProblemDetails
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("%s (%d)", e.Problem.Title, e.Status)
	if d := e.Problem.Detail; d != nil && *d != "" {
		msg += ": " + *d
	}
	if e.Status == http.StatusUnauthorized {
		msg += " (pass --token or set AGENTD_TOKEN)"
	}
	return msg
}

func (e *apiError) exitCode() int { return exitAPI }

// networkError is a daemon that could not be reached (exit code 4).
type networkError struct {
	Endpoint string
	Err      error
}

func (e *networkError) Error() string {
	err := e.Err
	var ue *url.Error // "Get "http://…/v1/health": dial tcp …": the URL says nothing new
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Sprintf("cannot reach agentd at %s: %v", e.Endpoint, err)
}

func (e *networkError) Unwrap() error { return e.Err }

func (e *networkError) exitCode() int { return exitNetwork }

// exitCode is the exit code of an error that is not a usage error: the
// one it names (the api commands' API and network errors), else 1.
func exitCode(err error) int {
	var ec interface{ exitCode() int }
	if errors.As(err, &ec) {
		return ec.exitCode()
	}
	return exitError
}
