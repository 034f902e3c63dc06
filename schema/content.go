package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/danielgtaylor/huma/v2"
)

// ContentPartType tags a content part.
type ContentPartType string

const (
	PartText       ContentPartType = "text"
	PartJSON       ContentPartType = "json"
	PartToolCall   ContentPartType = "tool_call"
	PartToolResult ContentPartType = "tool_result"
	PartFileRef    ContentPartType = "file_ref"
	PartReasoning  ContentPartType = "reasoning"
	PartImage      ContentPartType = "image"
	PartStatus     ContentPartType = "status"
)

// ContentPart is one piece of an item's content. Which fields apply depends
// on Type; MarshalJSON writes exactly those, in the reference's order.
type ContentPart struct {
	Type       ContentPartType
	Text       string              // text, reasoning
	JSON       json.RawMessage     // json
	Name       string              // tool_call
	Arguments  string              // tool_call
	CallID     string              // tool_call, tool_result
	Output     string              // tool_result
	Path       string              // file_ref, image
	Action     FileAction          // file_ref
	Diff       *string             // file_ref
	Visibility ReasoningVisibility // reasoning
	Mime       *string             // image
	Label      string              // status
	Detail     *string             // status
}

func TextPart(text string) ContentPart { return ContentPart{Type: PartText, Text: text} }

type (
	textPart struct {
		Type ContentPartType `json:"type"`
		Text string          `json:"text"`
	}
	jsonPart struct {
		Type ContentPartType `json:"type"`
		JSON RawJSON         `json:"json"`
	}
	toolCallPart struct {
		Type      ContentPartType `json:"type"`
		Name      string          `json:"name"`
		Arguments string          `json:"arguments"`
		CallID    string          `json:"call_id"`
	}
	toolResultPart struct {
		Type   ContentPartType `json:"type"`
		CallID string          `json:"call_id"`
		Output string          `json:"output"`
	}
	fileRefPart struct {
		Type   ContentPartType `json:"type"`
		Path   string          `json:"path"`
		Action FileAction      `json:"action"`
		Diff   *string         `json:"diff"`
	}
	reasoningPart struct {
		Type       ContentPartType     `json:"type"`
		Text       string              `json:"text"`
		Visibility ReasoningVisibility `json:"visibility"`
	}
	imagePart struct {
		Type ContentPartType `json:"type"`
		Path string          `json:"path"`
		Mime *string         `json:"mime"`
	}
	statusPart struct {
		Type   ContentPartType `json:"type"`
		Label  string          `json:"label"`
		Detail *string         `json:"detail"`
	}
)

func (p ContentPart) MarshalJSON() ([]byte, error) {
	switch p.Type {
	case PartText:
		return json.Marshal(textPart{p.Type, p.Text})
	case PartJSON:
		return json.Marshal(jsonPart{p.Type, RawJSON(p.JSON)})
	case PartToolCall:
		return json.Marshal(toolCallPart{p.Type, p.Name, p.Arguments, p.CallID})
	case PartToolResult:
		return json.Marshal(toolResultPart{p.Type, p.CallID, p.Output})
	case PartFileRef:
		return json.Marshal(fileRefPart{p.Type, p.Path, p.Action, p.Diff})
	case PartReasoning:
		return json.Marshal(reasoningPart{p.Type, p.Text, p.Visibility})
	case PartImage:
		return json.Marshal(imagePart{p.Type, p.Path, p.Mime})
	case PartStatus:
		return json.Marshal(statusPart{p.Type, p.Label, p.Detail})
	}
	return nil, fmt.Errorf("unknown content part type %q", p.Type)
}

func (p *ContentPart) UnmarshalJSON(b []byte) error {
	var w struct {
		Type       ContentPartType     `json:"type"`
		Text       string              `json:"text"`
		JSON       json.RawMessage     `json:"json"`
		Name       string              `json:"name"`
		Arguments  string              `json:"arguments"`
		CallID     string              `json:"call_id"`
		Output     string              `json:"output"`
		Path       string              `json:"path"`
		Action     FileAction          `json:"action"`
		Diff       *string             `json:"diff"`
		Visibility ReasoningVisibility `json:"visibility"`
		Mime       *string             `json:"mime"`
		Label      string              `json:"label"`
		Detail     *string             `json:"detail"`
	}
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return errors.New("content part is null")
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	// Keep only the fields of the part's type, so that what decodes is
	// exactly what MarshalJSON writes back; an unknown type is an error here
	// rather than when the part is next written.
	q := ContentPart{Type: w.Type}
	switch w.Type {
	case PartText:
		q.Text = w.Text
	case PartJSON:
		q.JSON = w.JSON
	case PartToolCall:
		q.Name, q.Arguments, q.CallID = w.Name, w.Arguments, w.CallID
	case PartToolResult:
		q.CallID, q.Output = w.CallID, w.Output
	case PartFileRef:
		q.Path, q.Action, q.Diff = w.Path, w.Action, w.Diff
	case PartReasoning:
		q.Text, q.Visibility = w.Text, w.Visibility
	case PartImage:
		q.Path, q.Mime = w.Path, w.Mime
	case PartStatus:
		q.Label, q.Detail = w.Label, w.Detail
	default:
		return fmt.Errorf("unknown content part type %q", w.Type)
	}
	*p = q
	return nil
}

// Schema describes the tagged union, one variant per part type.
func (ContentPart) Schema(r huma.Registry) *huma.Schema {
	return Named(r, "ContentPart", func() *huma.Schema {
		str := &huma.Schema{Type: huma.TypeString}
		nullStr := &huma.Schema{Type: huma.TypeString, Nullable: true}
		variant := func(t ContentPartType, props map[string]*huma.Schema, required ...string) *huma.Schema {
			props["type"] = &huma.Schema{Type: huma.TypeString, Enum: []any{string(t)}}
			return &huma.Schema{Type: huma.TypeObject, Properties: props, Required: append(required, "type")}
		}
		return &huma.Schema{OneOf: []*huma.Schema{
			variant(PartText, map[string]*huma.Schema{"text": str}, "text"),
			variant(PartJSON, map[string]*huma.Schema{"json": {}}, "json"),
			variant(PartToolCall, map[string]*huma.Schema{"name": str, "arguments": str, "call_id": str}, "arguments", "call_id", "name"),
			variant(PartToolResult, map[string]*huma.Schema{"call_id": str, "output": str}, "call_id", "output"),
			variant(PartFileRef, map[string]*huma.Schema{"path": str, "action": FileAction("").Schema(r), "diff": nullStr}, "action", "path"),
			variant(PartReasoning, map[string]*huma.Schema{"text": str, "visibility": ReasoningVisibility("").Schema(r)}, "text", "visibility"),
			variant(PartImage, map[string]*huma.Schema{"path": str, "mime": nullStr}, "path"),
			variant(PartStatus, map[string]*huma.Schema{"label": str, "detail": nullStr}, "label"),
		}}
	})
}
