package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/agentd-dev/agentd/api/client"
)

type apiSessionsCreateOptions struct {
	*apiFactory
	SessionID       string
	Agent           string
	AgentMode       string
	PermissionMode  string
	Model           string
	Variant         string
	AgentVersion    string
	Directory       string
	Title           string
	Resume          string
	MCP             string // JSON object: server name → McpServerConfig
	Skills          string // JSON object: {"sources": [...]}
	Preset          string
	SystemPrompt    string
	AllowedTools    []string
	DisallowedTools []string
}

func newAPISessionsCreateCmd(f *apiFactory, runF func(context.Context, *apiSessionsCreateOptions) error) *cobra.Command {
	opts := &apiSessionsCreateOptions{apiFactory: f}
	cmd := &cobra.Command{
		Use:   "create <session-id> --agent <agent>",
		Short: "Create a session (POST /v1/sessions/{session_id})",
		Example: "  agentd api sessions create my-session --agent codex\n" +
			"  agentd api sessions create s1 --agent claude --permission-mode plan --title 'fix the build'",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.SessionID = args[0]
			if opts.Agent == "" {
				return usageError{errors.New("--agent is required")}
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAPISessionsCreate(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&opts.Agent, "agent", "a", "", "agent to run: "+strings.Join(knownAgents, ", ")+" (required)")
	fl.StringVar(&opts.AgentMode, "agent-mode", "", "agent mode, e.g. build or plan (default build)")
	fl.StringVar(&opts.PermissionMode, "permission-mode", "", "default, plan, bypass or acceptEdits (default default)")
	fl.StringVar(&opts.Model, "model", "", "model (default: the agent's default model)")
	fl.StringVar(&opts.Variant, "variant", "", "model variant, e.g. a reasoning effort")
	fl.StringVar(&opts.AgentVersion, "agent-version", "", "version to install if the agent is missing")
	fl.StringVar(&opts.Directory, "directory", "", "working directory to record for the session")
	fl.StringVar(&opts.Resume, "resume", "", "an ended session of the same agent whose conversation this one continues")
	fl.StringVar(&opts.Title, "title", "", "title of the session")
	fl.StringVar(&opts.MCP, "mcp", "", `MCP servers as a JSON object, e.g. '{"fs":{"type":"local","command":"mcp-fs"}}'`)
	fl.StringVar(&opts.Preset, "preset", "", "preset whose settings fill the flags not given (agentd api presets list)")
	fl.StringVar(&opts.SystemPrompt, "system-prompt", "", "text appended to the agent's system prompt")
	fl.StringSliceVar(&opts.AllowedTools, "allowed-tool", nil, "tool the agent may run without asking, by the agent's name for it (repeatable)")
	fl.StringSliceVar(&opts.DisallowedTools, "disallowed-tool", nil, "tool the agent may not run, by the agent's name for it (repeatable)")
	fl.StringVar(&opts.Skills, "skills", "", `skills as a JSON object, e.g. '{"sources":[{"type":"local","source":"./skills"}]}'`)
	_ = cmd.RegisterFlagCompletionFunc("agent", cobra.FixedCompletions(knownAgents, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("permission-mode", cobra.FixedCompletions(
		[]string{"default", "plan", "bypass", "acceptEdits"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// request builds the body; only flags that were given are sent.
func (o *apiSessionsCreateOptions) request() (client.CreateSessionRequest, error) {
	req := client.CreateSessionRequest{Agent: o.Agent}
	for _, f := range []struct {
		v   string
		dst **string
	}{
		{o.AgentMode, &req.AgentMode}, {o.PermissionMode, &req.PermissionMode}, {o.Model, &req.Model},
		{o.Variant, &req.Variant}, {o.AgentVersion, &req.AgentVersion}, {o.Directory, &req.Directory},
		{o.Title, &req.Title}, {o.Resume, &req.Resume}, {o.Preset, &req.Preset}, {o.SystemPrompt, &req.SystemPrompt},
	} {
		if f.v != "" {
			v := f.v
			*f.dst = &v
		}
	}
	if o.AllowedTools != nil {
		req.AllowedTools = &o.AllowedTools
	}
	if o.DisallowedTools != nil {
		req.DisallowedTools = &o.DisallowedTools
	}
	if o.MCP != "" {
		var mcp map[string]client.McpServerConfig
		if err := json.Unmarshal([]byte(o.MCP), &mcp); err != nil {
			return req, usageError{fmt.Errorf("--mcp is not a JSON object of servers: %w", err)}
		}
		req.Mcp = &mcp
	}
	if o.Skills != "" {
		var skills client.SkillsConfig
		if err := json.Unmarshal([]byte(o.Skills), &skills); err != nil {
			return req, usageError{fmt.Errorf(`--skills is not a JSON object {"sources":[…]}: %w`, err)}
		}
		req.Skills = &skills
	}
	return req, nil
}

func runAPISessionsCreate(ctx context.Context, opts *apiSessionsCreateOptions) error {
	body, err := opts.request()
	if err != nil {
		return err
	}
	c, err := opts.Client()
	if err != nil {
		return err
	}
	res, err := c.CreateSessionWithResponse(ctx, opts.SessionID, body)
	if err := opts.check(res, err, http.StatusOK); err != nil {
		return err
	}
	if opts.wantJSON() || res.JSON200 == nil {
		return opts.printJSON(res.Body)
	}
	line := fmt.Sprintf("created session %s (%s)", opts.SessionID, opts.Agent)
	if n := deref(res.JSON200.NativeSessionId, ""); n != "" {
		line += ", native session " + n
	}
	_, err = fmt.Fprintln(opts.Out, line)
	return err
}
