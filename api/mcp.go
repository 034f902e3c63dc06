package api

import (
	"encoding/json"

	"github.com/danielgtaylor/huma/v2"

	"github.com/agentd-dev/agentd/schema"
)

// McpServerConfig is one MCP server for a session, local (stdio) or remote
// (http). It is stored and echoed as given; adapters read it.
type McpServerConfig json.RawMessage

func (c McpServerConfig) MarshalJSON() ([]byte, error) { return schema.RawJSON(c).MarshalJSON() }
func (c *McpServerConfig) UnmarshalJSON(b []byte) error {
	return (*schema.RawJSON)(c).UnmarshalJSON(b)
}

func (McpServerConfig) Schema(r huma.Registry) *huma.Schema {
	return schema.Named(r, "McpServerConfig", func() *huma.Schema {
		str := &huma.Schema{Type: huma.TypeString}
		nStr := &huma.Schema{Type: huma.TypeString, Nullable: true}
		nBool := &huma.Schema{Type: huma.TypeBoolean, Nullable: true}
		strMap := &huma.Schema{Type: huma.TypeObject, AdditionalProperties: str, Nullable: true}
		timeout := &huma.Schema{Type: huma.TypeInteger, Format: "int64", Minimum: schema.Ptr(0.0), Nullable: true}
		command := schema.Named(r, "McpCommand", func() *huma.Schema {
			return &huma.Schema{OneOf: []*huma.Schema{str, {Type: huma.TypeArray, Items: str}}}
		})
		oauth := schema.Named(r, "McpOAuthConfig", func() *huma.Schema {
			return &huma.Schema{Type: huma.TypeObject, Properties: map[string]*huma.Schema{
				"clientId": nStr, "clientSecret": nStr, "scope": nStr}}
		})
		oauthOr := schema.Named(r, "McpOAuthConfigOrDisabled", func() *huma.Schema {
			return &huma.Schema{OneOf: []*huma.Schema{oauth, {Type: huma.TypeBoolean}}}
		})
		transport := schema.EnumSchema(r, "McpRemoteTransport", []string{"http", "sse"})
		return &huma.Schema{
			OneOf: []*huma.Schema{
				{Type: huma.TypeObject, Required: []string{"command", "type"}, Properties: map[string]*huma.Schema{
					"type": {Type: huma.TypeString, Enum: []any{"local"}}, "command": command,
					"args": {Type: huma.TypeArray, Items: str}, "cwd": nStr, "enabled": nBool, "env": strMap, "timeoutMs": timeout,
				}},
				{Type: huma.TypeObject, Required: []string{"url", "type"}, Properties: map[string]*huma.Schema{
					"type": {Type: huma.TypeString, Enum: []any{"remote"}}, "url": str,
					"bearerTokenEnvVar": nStr, "enabled": nBool, "envHeaders": strMap, "headers": strMap,
					"oauth": oauthOr, "timeoutMs": timeout, "transport": transport,
				}},
			},
			Discriminator: &huma.Discriminator{PropertyName: "type"},
		}
	})
}

// SkillSource names where skills come from.
type SkillSource struct {
	Type    string   `json:"type"`
	Source  string   `json:"source"`
	Skills  []string `json:"skills,omitempty"`
	Ref     *string  `json:"ref,omitempty"`
	Subpath *string  `json:"subpath,omitempty"`
}

type SkillsConfig struct {
	Sources []SkillSource `json:"sources" nullable:"false"`
}
