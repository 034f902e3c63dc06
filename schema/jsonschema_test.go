package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestJSONSchemaUpToDate fails when the committed JSON Schema drifts from
// the Go types.
func TestJSONSchemaUpToDate(t *testing.T) {
	got, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	again, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, again) {
		t.Fatal("JSONSchema is not deterministic")
	}
	committed, err := os.ReadFile(JSONSchemaFile)
	if err != nil {
		t.Fatalf("%v: run `go generate ./schema` and commit %s", err, JSONSchemaFile)
	}
	if !bytes.Equal(got, committed) {
		t.Fatalf("schema/%s is stale: run `go generate ./schema` and commit it", JSONSchemaFile)
	}
}

// draft07Keywords are the keywords a draft-07 schema may use (annotations
// included); the generator must not leave OpenAPI-only ones behind.
var draft07Keywords = map[string]bool{
	"$schema": true, "$id": true, "$ref": true, "$comment": true, "title": true, "description": true,
	"default": true, "readOnly": true, "writeOnly": true, "examples": true, "multipleOf": true,
	"maximum": true, "exclusiveMaximum": true, "minimum": true, "exclusiveMinimum": true,
	"maxLength": true, "minLength": true, "pattern": true, "additionalItems": true, "items": true,
	"maxItems": true, "minItems": true, "uniqueItems": true, "contains": true, "maxProperties": true,
	"minProperties": true, "required": true, "additionalProperties": true, "definitions": true,
	"properties": true, "patternProperties": true, "dependencies": true, "propertyNames": true,
	"const": true, "enum": true, "type": true, "format": true, "contentMediaType": true,
	"contentEncoding": true, "if": true, "then": true, "else": true, "allOf": true, "anyOf": true,
	"oneOf": true, "not": true,
}

var simpleTypes = []string{"array", "boolean", "integer", "null", "number", "object", "string"}

// TestJSONSchemaIsDraft07 stands in for validating the document against the
// draft-07 meta-schema: only draft-07 keywords, well-formed types, required
// lists and enums, every $ref resolvable, and no keyword beside a $ref
// (draft-07 ignores those) other than annotations.
func TestJSONSchemaIsDraft07(t *testing.T) {
	doc := loadJSON(t, JSONSchemaFile)
	if doc["$schema"] != "http://json-schema.org/draft-07/schema#" || doc["title"] != "UniversalEvent" {
		t.Fatalf("$schema %v, title %v", doc["$schema"], doc["title"])
	}
	defs, _ := doc["definitions"].(map[string]any)
	var check func(path string, s any)
	check = func(path string, s any) {
		if _, ok := s.(bool); ok {
			return
		}
		m, ok := s.(map[string]any)
		if !ok {
			t.Errorf("%s: schema is %T", path, s)
			return
		}
		for k, v := range m {
			p := path + "/" + k
			if !draft07Keywords[k] {
				t.Errorf("%s: not a draft-07 keyword", p)
			}
			switch k {
			case "$ref":
				name, ok := strings.CutPrefix(v.(string), "#/definitions/")
				if _, found := defs[name]; !ok || !found {
					t.Errorf("%s: unresolvable %v", p, v)
				}
				for sib := range m {
					if sib != "$ref" && !annotations[sib] {
						t.Errorf("%s: %q beside $ref is ignored by draft-07", path, sib)
					}
				}
			case "type":
				types := []any{v}
				if list, ok := v.([]any); ok {
					types = list
				}
				for _, ty := range types {
					if s, _ := ty.(string); !slices.Contains(simpleTypes, s) {
						t.Errorf("%s: bad type %v", p, ty)
					}
				}
			case "required":
				seen := map[string]bool{}
				for _, r := range v.([]any) {
					if s, ok := r.(string); !ok || seen[s] {
						t.Errorf("%s: bad or repeated %v", p, r)
					} else {
						seen[s] = true
					}
				}
			case "enum":
				if list, ok := v.([]any); !ok || len(list) == 0 {
					t.Errorf("%s: enum must be a non-empty list", p)
				}
			case "items", "additionalProperties", "not":
				check(p, v)
			case "properties", "definitions", "patternProperties":
				for name, sub := range v.(map[string]any) {
					check(p+"/"+name, sub)
				}
			case "allOf", "anyOf", "oneOf":
				for i, sub := range v.([]any) {
					check(fmt.Sprintf("%s/%d", p, i), sub)
				}
			}
		}
	}
	check("#", doc)
}

// ---------------------------------------------------------------------------
// Superset of the reference

// omittedNotNull lists the properties the reference types as nullable that
// agentd never writes as null: they are omitted when absent
// (shared/spec/v1-api.md §1.3), so our schema types them without null.
var omittedNotNull = map[string]string{
	"SessionEndedData.message":   "omitted when absent (§1.3)",
	"SessionEndedData.exit_code": "omitted when absent (§1.3)",
	"SessionEndedData.stderr":    "omitted when absent (§1.3)",
	"StderrOutput.head":          "omitted when absent (§1.3)",
	"StderrOutput.tail":          "omitted when absent (§1.3)",
	"StderrOutput.total_lines":   "omitted when absent (§1.3)",
	"TurnEventData.turn_id":      "omitted when absent (§1.3)",
}

// TestSupersetOfReference holds our schema to the reference's: every
// definition, every property with the same base type, at least its required
// fields, every enum value, every content-part variant and every payload.
func TestSupersetOfReference(t *testing.T) {
	ref := loadJSON(t, referencePath(t, "universal-event.schema.json"))
	ours := loadJSON(t, JSONSchemaFile)
	refDefs := ref["definitions"].(map[string]any)
	ourDefs := ours["definitions"].(map[string]any)
	usedExceptions := map[string]bool{}

	checkObject := func(name string, r, o map[string]any) {
		if baseType(r) != baseType(o) {
			t.Errorf("%s: type %s, reference %s", name, baseType(o), baseType(r))
		}
		rProps, _ := r["properties"].(map[string]any)
		oProps, _ := o["properties"].(map[string]any)
		for field, rp := range rProps {
			op, ok := oProps[field]
			if !ok {
				t.Errorf("%s: missing property %s", name, field)
				continue
			}
			if baseType(rp) != baseType(op) {
				t.Errorf("%s.%s: type %s, reference %s", name, field, baseType(op), baseType(rp))
			}
			switch rn, on := acceptsNull(rp), acceptsNull(op); {
			case rn && !on:
				if why, ok := omittedNotNull[name+"."+field]; ok {
					usedExceptions[name+"."+field] = true
					t.Logf("%s.%s: reference allows null, ours does not: %s", name, field, why)
				} else {
					t.Errorf("%s.%s: reference allows null, ours does not", name, field)
				}
			case on && !rn:
				t.Errorf("%s.%s: ours allows null, the reference does not", name, field)
			}
		}
		oRequired := stringList(o["required"])
		for _, req := range stringList(r["required"]) {
			if !slices.Contains(oRequired, req) {
				t.Errorf("%s: %s is required by the reference, not by ours", name, req)
			}
		}
	}

	// The envelope.
	checkObject("UniversalEvent", ref, ours)
	for _, k := range []string{"$schema", "title", "type"} {
		if ref[k] != ours[k] {
			t.Errorf("%s: %v, reference %v", k, ours[k], ref[k])
		}
	}

	for name, rdef := range refDefs {
		odef, ok := ourDefs[name]
		if !ok {
			t.Errorf("missing definition %s", name)
			continue
		}
		r, o := rdef.(map[string]any), odef.(map[string]any)
		if enum, ok := r["enum"].([]any); ok {
			oenum, _ := o["enum"].([]any)
			for _, v := range enum {
				if !slices.Contains(oenum, v) {
					t.Errorf("%s: missing enum value %v", name, v)
				}
			}
			if baseType(r) != baseType(o) {
				t.Errorf("%s: type %s, reference %s", name, baseType(o), baseType(r))
			}
		}
		switch {
		case r["properties"] != nil:
			checkObject(name, r, o)
		case r["oneOf"] != nil: // ContentPart
			ourVariants := map[string]map[string]any{}
			for _, v := range o["oneOf"].([]any) {
				vm := v.(map[string]any)
				ourVariants[variantTag(vm)] = vm
			}
			for _, v := range r["oneOf"].([]any) {
				vm := v.(map[string]any)
				tag := variantTag(vm)
				ov, ok := ourVariants[tag]
				if !ok {
					t.Errorf("%s: missing variant %q", name, tag)
					continue
				}
				checkObject(name+"["+tag+"]", vm, ov)
				if r, o := sorted(stringList(vm["required"])), sorted(stringList(ov["required"])); !slices.Equal(r, o) {
					t.Errorf("%s[%s]: required %v, reference %v", name, tag, o, r)
				}
			}
		case r["anyOf"] != nil: // UniversalEventData
			var ourRefs []string
			for _, v := range listOf(o["anyOf"]) {
				ourRefs = append(ourRefs, baseType(v))
			}
			for _, v := range r["anyOf"].([]any) {
				if !slices.Contains(ourRefs, baseType(v)) {
					t.Errorf("%s: missing member %s", name, baseType(v))
				}
			}
		}
	}

	// The cases the reference is known to have, so that a reshaped reference
	// (or a lookup that silently found nothing) cannot pass vacuously.
	if n := len(listOf(refDefs["ContentPart"].(map[string]any)["oneOf"])); n != 8 {
		t.Errorf("reference ContentPart has %d variants, want 8", n)
	}
	if n := len(listOf(refDefs["UniversalEventData"].(map[string]any)["anyOf"])); n != 9 {
		t.Errorf("reference UniversalEventData has %d members, want 9", n)
	}
	for k := range omittedNotNull {
		if !usedExceptions[k] {
			t.Errorf("omittedNotNull lists %s, which no longer differs from the reference", k)
		}
	}
}

// baseType names a schema's type for comparison, looking through null in
// type lists, anyOf-null wrappers and one-member allOf wrappers.
func baseType(s any) string {
	m, ok := s.(map[string]any)
	if !ok {
		if s == true {
			return "any"
		}
		return fmt.Sprintf("%v", s)
	}
	if ref, ok := m["$ref"].(string); ok {
		return "ref:" + ref[strings.LastIndex(ref, "/")+1:]
	}
	for _, k := range []string{"anyOf", "allOf"} {
		var members []any
		for _, v := range listOf(m[k]) {
			if !isNullSchema(v) {
				members = append(members, v)
			}
		}
		if len(members) == 1 && len(listOf(m[k])) <= 2 {
			return baseType(members[0])
		}
	}
	var types []string
	switch ty := m["type"].(type) {
	case string:
		types = []string{ty}
	case []any:
		for _, x := range ty {
			if x != "null" {
				types = append(types, x.(string))
			}
		}
	}
	switch {
	case len(types) == 1 && types[0] == "array":
		return "array<" + baseType(m["items"]) + ">"
	case len(types) > 0:
		return strings.Join(types, "|")
	case m["oneOf"] != nil || m["anyOf"] != nil || m["allOf"] != nil:
		return "composite"
	}
	return "any"
}

func isNullSchema(s any) bool {
	m, ok := s.(map[string]any)
	return ok && len(m) == 1 && m["type"] == "null"
}

// acceptsNull reports whether a property schema admits null (judged without
// following $refs: no named definition here is nullable).
func acceptsNull(s any) bool {
	m, ok := s.(map[string]any)
	if !ok {
		return s == true
	}
	if baseType(s) == "any" {
		return true
	}
	switch ty := m["type"].(type) {
	case string:
		return ty == "null"
	case []any:
		return slices.Contains(ty, any("null"))
	}
	return slices.ContainsFunc(listOf(m["anyOf"]), isNullSchema)
}

// variantTag is the single value of a content-part variant's type enum.
func variantTag(v map[string]any) string {
	props, _ := v["properties"].(map[string]any)
	typ, _ := props["type"].(map[string]any)
	if enum := listOf(typ["enum"]); len(enum) == 1 {
		if s, ok := enum[0].(string); ok {
			return s
		}
	}
	return fmt.Sprintf("<no single type: %v>", typ)
}

func stringList(v any) []string {
	var out []string
	for _, x := range listOf(v) {
		out = append(out, x.(string))
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func loadJSON(t testing.TB, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

// referencePath finds shared/reference beside the repository: the directory
// holding go.mod, then ../shared/reference/.
func referencePath(t testing.TB, name string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(dir), "shared", "reference", name)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// ---------------------------------------------------------------------------
// A small draft-07 validator: enough of the vocabulary for this document.
// Keywords it does not implement make it fail rather than pass silently.

type validator struct {
	root map[string]any
}

var ignoredKeywords = map[string]bool{
	"$schema": true, "title": true, "description": true, "format": true, "definitions": true,
	"examples": true, "default": true, "$comment": true, "readOnly": true, "writeOnly": true,
}

func newValidator(t testing.TB) *validator {
	t.Helper()
	return &validator{root: loadJSON(t, JSONSchemaFile)}
}

// validate checks instance (decoded JSON) against the schema at ref ("#" or
// "#/definitions/X").
func (v *validator) validate(ref string, instance any) error {
	s, err := v.resolve(ref)
	if err != nil {
		return err
	}
	return v.check(s, instance, "$")
}

// validateJSON decodes doc and validates it.
func (v *validator) validateJSON(ref string, doc []byte) error {
	var x any
	if err := json.Unmarshal(doc, &x); err != nil {
		return err
	}
	return v.validate(ref, x)
}

func (v *validator) resolve(ref string) (any, error) {
	if ref == "#" {
		return v.root, nil
	}
	name, ok := strings.CutPrefix(ref, "#/definitions/")
	if !ok {
		return nil, fmt.Errorf("unsupported $ref %q", ref)
	}
	s, ok := v.root["definitions"].(map[string]any)[name]
	if !ok {
		return nil, fmt.Errorf("unknown definition %q", name)
	}
	return s, nil
}

func (v *validator) check(schema, x any, path string) error {
	if b, ok := schema.(bool); ok {
		if !b {
			return fmt.Errorf("%s: false schema", path)
		}
		return nil
	}
	s, ok := schema.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: schema is %T", path, schema)
	}
	for k, kv := range s {
		switch k {
		case "$ref":
			target, err := v.resolve(kv.(string))
			if err != nil {
				return err
			}
			if err := v.check(target, x, path); err != nil {
				return err
			}
		case "type":
			types := []any{kv}
			if list, ok := kv.([]any); ok {
				types = list
			}
			if !slices.ContainsFunc(types, func(ty any) bool { return hasType(x, ty.(string)) }) {
				return fmt.Errorf("%s: %s is not of type %v", path, show(x), kv)
			}
		case "enum":
			if !slices.ContainsFunc(kv.([]any), func(e any) bool { return reflect.DeepEqual(e, x) }) {
				return fmt.Errorf("%s: %s is not one of %v", path, show(x), kv)
			}
		case "const":
			if !reflect.DeepEqual(kv, x) {
				return fmt.Errorf("%s: %s is not %v", path, show(x), kv)
			}
		case "minimum":
			if n, ok := x.(float64); ok && n < kv.(float64) {
				return fmt.Errorf("%s: %v < minimum %v", path, n, kv)
			}
		case "maximum":
			if n, ok := x.(float64); ok && n > kv.(float64) {
				return fmt.Errorf("%s: %v > maximum %v", path, n, kv)
			}
		case "required":
			if obj, ok := x.(map[string]any); ok {
				for _, r := range kv.([]any) {
					if _, present := obj[r.(string)]; !present {
						return fmt.Errorf("%s: missing required %q", path, r)
					}
				}
			}
		case "properties":
			if obj, ok := x.(map[string]any); ok {
				for name, ps := range kv.(map[string]any) {
					if val, present := obj[name]; present {
						if err := v.check(ps, val, path+"."+name); err != nil {
							return err
						}
					}
				}
			}
		case "additionalProperties":
			if obj, ok := x.(map[string]any); ok {
				props, _ := s["properties"].(map[string]any)
				for name, val := range obj {
					if _, declared := props[name]; declared {
						continue
					}
					if err := v.check(kv, val, path+"."+name); err != nil {
						return fmt.Errorf("%s: property %q not allowed: %w", path, name, err)
					}
				}
			}
		case "items":
			if arr, ok := x.([]any); ok {
				for i, el := range arr {
					if err := v.check(kv, el, fmt.Sprintf("%s[%d]", path, i)); err != nil {
						return err
					}
				}
			}
		case "allOf":
			for _, sub := range kv.([]any) {
				if err := v.check(sub, x, path); err != nil {
					return err
				}
			}
		case "anyOf", "oneOf":
			matched := 0
			var errs []string
			for _, sub := range kv.([]any) {
				if err := v.check(sub, x, path); err != nil {
					errs = append(errs, err.Error())
				} else {
					matched++
				}
			}
			if matched == 0 {
				return fmt.Errorf("%s: matches none of %s: [%s]", path, k, strings.Join(errs, "; "))
			}
			if k == "oneOf" && matched > 1 {
				return fmt.Errorf("%s: matches %d members of oneOf", path, matched)
			}
		case "not":
			if v.check(kv, x, path) == nil {
				return fmt.Errorf("%s: matches a not schema", path)
			}
		default:
			if !ignoredKeywords[k] {
				return fmt.Errorf("%s: validator does not implement keyword %q", path, k)
			}
		}
	}
	return nil
}

func hasType(x any, ty string) bool {
	switch ty {
	case "null":
		return x == nil
	case "boolean":
		_, ok := x.(bool)
		return ok
	case "string":
		_, ok := x.(string)
		return ok
	case "number":
		_, ok := x.(float64)
		return ok
	case "integer":
		n, ok := x.(float64)
		return ok && n == math.Trunc(n) && !math.IsInf(n, 0)
	case "object":
		_, ok := x.(map[string]any)
		return ok
	case "array":
		_, ok := x.([]any)
		return ok
	}
	return false
}

func show(x any) string {
	b, _ := json.Marshal(x)
	return string(b)
}

// TestValidator makes sure the validator itself rejects what it should, so
// that the example tests cannot pass because it accepts everything.
func TestValidator(t *testing.T) {
	v := &validator{root: map[string]any{"definitions": map[string]any{
		"E": map[string]any{"type": "string", "enum": []any{"a", "b"}},
		"O": map[string]any{
			"type": "object", "required": []any{"e"}, "additionalProperties": false,
			"properties": map[string]any{
				"e": map[string]any{"$ref": "#/definitions/E"},
				"n": map[string]any{"type": []any{"integer", "null"}, "minimum": 0.0},
				"l": map[string]any{"type": "array", "items": map[string]any{"type": "boolean"}},
				"u": map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"enum": []any{"x", 1.0}}}},
				"a": map[string]any{"anyOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "null"}}},
			},
		},
	}}}
	for doc, ok := range map[string]bool{
		`{"e":"a"}`: true, `{"e":"a","n":null,"l":[true],"u":1,"a":null}`: true, `{"e":"b","n":3,"a":"s"}`: true,
		`{}`: false, `{"e":"c"}`: false, `{"e":1}`: false, `{"e":"a","x":1}`: false,
		`{"e":"a","n":1.5}`: false, `{"e":"a","n":-1}`: false, `{"e":"a","l":[1]}`: false,
		`{"e":"a","u":"x"}`: false, `{"e":"a","u":2}`: false, `{"e":"a","a":1}`: false, `[]`: false,
	} {
		if err := v.validateJSON("#/definitions/O", []byte(doc)); (err == nil) != ok {
			t.Errorf("%s: valid=%v, want %v (%v)", doc, err == nil, ok, err)
		}
	}
	v.root["definitions"].(map[string]any)["Bad"] = map[string]any{"pattern": "x"}
	if err := v.validateJSON("#/definitions/Bad", []byte(`"x"`)); err == nil {
		t.Error("unimplemented keyword accepted silently")
	}
}

// ---------------------------------------------------------------------------
// Examples

func exampleParts() []ContentPart {
	return []ContentPart{
		TextPart("hello"),
		{Type: PartJSON, JSON: json.RawMessage(`{"a":[1,true,null,"x"]}`)},
		{Type: PartJSON, JSON: json.RawMessage(`null`)},
		{Type: PartToolCall, Name: "bash", Arguments: `{"cmd":"ls"}`, CallID: "call_1"},
		{Type: PartToolResult, CallID: "call_1", Output: "a.go\n"},
		{Type: PartFileRef, Path: "a.go", Action: FileRead},
		{Type: PartFileRef, Path: "a.go", Action: FilePatch, Diff: Ptr("@@ -1 +1 @@\n-a\n+b\n")},
		{Type: PartReasoning, Text: "thinking", Visibility: VisibilityPrivate},
		{Type: PartReasoning, Text: "", Visibility: VisibilityPublic},
		{Type: PartImage, Path: "shot.png"},
		{Type: PartImage, Path: "shot.png", Mime: Ptr("image/png")},
		{Type: PartStatus, Label: "Indexing"},
		{Type: PartStatus, Label: "Indexing", Detail: Ptr("3 of 4")},
	}
}

var allPartTypes = []ContentPartType{PartText, PartJSON, PartToolCall, PartToolResult, PartFileRef, PartReasoning, PartImage, PartStatus}

func examplePayloads() []struct {
	typ  EventType
	data Payload
} {
	role := func(r ItemRole) *ItemRole { return &r }
	return []struct {
		typ  EventType
		data Payload
	}{
		{EventSessionStarted, SessionStartedData{Metadata: RawJSON(`{"agent":"mock","agentMode":"build","model":null}`)}},
		{EventSessionStarted, SessionStartedData{}},
		{EventSessionEnded, SessionEndedData{Reason: EndCompleted, TerminatedBy: ByAgent}},
		{EventSessionEnded, SessionEndedData{Reason: EndTerminated, TerminatedBy: ByDaemon, Detail: Ptr("daemon restarted")}},
		{EventSessionEnded, SessionEndedData{Reason: EndError, TerminatedBy: ByAgent, Message: Ptr("exited"), ExitCode: Ptr(2),
			Stderr: &StderrOutput{Head: Ptr("a\nb"), Tail: Ptr("y\nz"), Truncated: true, TotalLines: Ptr(120)}}},
		{EventSessionEnded, SessionEndedData{Reason: EndError, TerminatedBy: ByAgent, Stderr: &StderrOutput{}}},
		{EventTurnStarted, TurnEventData{Phase: PhaseStarted}},
		{EventTurnStarted, TurnEventData{Phase: PhaseStarted, TurnID: Ptr("turn_1"), Metadata: RawJSON(`{"k":1}`)}},
		{EventTurnEnded, TurnEventData{Phase: PhaseEnded, Metadata: RawJSON(`null`)}},
		{EventItemStarted, ItemEventData{Item: UniversalItem{ItemID: "itm_1", Kind: KindMessage, Status: StatusInProgress}}},
		{EventItemStarted, ItemEventData{Item: UniversalItem{ItemID: "itm_2", NativeItemID: Ptr("msg_9"), ParentID: Ptr("itm_1"),
			Kind: KindToolCall, Role: role(RoleAssistant), Content: exampleParts(), Status: StatusInProgress}}},
		{EventItemCompleted, ItemEventData{Item: UniversalItem{ItemID: "itm_2", Kind: KindToolResult, Role: role(RoleTool),
			Content: []ContentPart{}, Status: StatusFailed}}},
		{EventItemCompleted, ItemEventData{Item: UniversalItem{ItemID: "itm_3", Kind: KindUnknown, Role: role(RoleSystem),
			Content: exampleParts()[:1], Status: StatusCompleted}}},
		{EventItemDelta, ItemDeltaData{ItemID: "itm_1", Delta: "hel"}},
		{EventItemDelta, ItemDeltaData{ItemID: "itm_1", NativeItemID: Ptr("msg_9"), Delta: "lo"}},
		{EventError, ErrorData{Message: "boom"}},
		{EventError, ErrorData{Message: "boom", Code: Ptr("process_exit"), Details: RawJSON(`{"exit_code":1}`)}},
		{EventPermissionRequested, PermissionEventData{PermissionID: "perm_1", Action: "Bash", Status: PermissionRequested}},
		{EventPermissionResolved, PermissionEventData{PermissionID: "perm_1", Action: "Bash", Status: PermissionAcceptForSession,
			Metadata: RawJSON(`{"input":{"cmd":"ls"}}`)}},
		{EventQuestionRequested, QuestionEventData{QuestionID: "q_1", Prompt: "Which?", Status: QuestionRequested}},
		{EventQuestionRequested, QuestionEventData{QuestionID: "q_1", Prompt: "Which?", Options: []string{"a", "b"}, Status: QuestionRequested}},
		{EventQuestionResolved, QuestionEventData{QuestionID: "q_1", Prompt: "Which?", Options: []string{"a"}, Response: Ptr("a"), Status: QuestionAnswered}},
		{EventQuestionResolved, QuestionEventData{QuestionID: "q_1", Prompt: "Which?", Options: []string{}, Status: QuestionRejected}},
		{EventAgentUnparsed, AgentUnparsedData{Error: "bad line", Location: "stdout"}},
		{EventAgentUnparsed, AgentUnparsedData{Error: "bad line", Location: "stdout", RawHash: Ptr("sha256:00")}},
		{EventNetworkConnection, NetworkConnectionData{Host: "api.example.com", Port: 443, Method: "CONNECT", Allowed: true, Reason: "allowlisted"}},
		{EventNetworkConnection, NetworkConnectionData{Host: "10.0.0.1", Port: 80, Method: "GET", Reason: "host not allowed"}},
	}
}

// payloadDefinition names the definition each event type's data must match.
var payloadDefinition = map[EventType]string{
	EventSessionStarted: "SessionStartedData", EventSessionEnded: "SessionEndedData",
	EventTurnStarted: "TurnEventData", EventTurnEnded: "TurnEventData",
	EventItemStarted: "ItemEventData", EventItemCompleted: "ItemEventData", EventItemDelta: "ItemDeltaData",
	EventError: "ErrorData", EventPermissionRequested: "PermissionEventData", EventPermissionResolved: "PermissionEventData",
	EventQuestionRequested: "QuestionEventData", EventQuestionResolved: "QuestionEventData", EventAgentUnparsed: "AgentUnparsedData",
	EventNetworkConnection: "NetworkConnectionData",
}

// exampleEvents wraps every example payload in an envelope, alternating
// between null and non-null optional envelope fields.
func exampleEvents(t testing.TB) []UniversalEvent {
	t.Helper()
	var out []UniversalEvent
	for i, ex := range examplePayloads() {
		if err := PayloadMatches(ex.typ, ex.data); err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(ex.data)
		if err != nil {
			t.Fatal(err)
		}
		seq := uint64(i + 1)
		ev := UniversalEvent{EventID: EventID(seq), Sequence: seq, Time: "2026-02-11T08:36:10.48213Z",
			SessionID: "s1", Synthetic: i%2 == 0, Source: SourceAgent, Type: ex.typ, Data: EventData(data)}
		if ev.Synthetic {
			ev.Source = SourceDaemon
		} else {
			ev.NativeSessionID = Ptr("mock-s1")
			ev.Raw = RawJSON(`{"raw":"mock","n":[1,2]}`)
		}
		out = append(out, ev)
	}
	return out
}

func TestValidatesExamples(t *testing.T) {
	v := newValidator(t)
	covered := map[EventType]bool{}
	for _, ev := range exampleEvents(t) {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.validateJSON("#", b); err != nil {
			t.Errorf("%s: %v\n%s", ev.Type, err, b)
		}
		if err := v.validateJSON("#/definitions/"+payloadDefinition[ev.Type], ev.Data); err != nil {
			t.Errorf("%s data as %s: %v\n%s", ev.Type, payloadDefinition[ev.Type], err, ev.Data)
		}
		covered[ev.Type] = true
	}
	for _, typ := range EventTypes {
		if !covered[typ] {
			t.Errorf("no example of %s", typ)
		}
	}

	partsCovered := map[string]bool{}
	for _, p := range exampleParts() {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.validateJSON("#/definitions/ContentPart", b); err != nil {
			t.Errorf("%s part: %v\n%s", p.Type, err, b)
		}
		partsCovered[string(p.Type)] = true
	}
	// Every variant the schema declares, and every type this file knows.
	for _, variant := range listOf(v.root["definitions"].(map[string]any)["ContentPart"].(map[string]any)["oneOf"]) {
		if tag := variantTag(variant.(map[string]any)); !partsCovered[tag] {
			t.Errorf("no example of content part %s", tag)
		}
	}
	for _, pt := range allPartTypes {
		if !partsCovered[string(pt)] {
			t.Errorf("no example of content part %s", pt)
		}
	}
}

func TestRejectsBadDocuments(t *testing.T) {
	v := newValidator(t)
	events := exampleEvents(t)
	find := func(typ EventType, pred func(map[string]any) bool) map[string]any {
		for _, ev := range events {
			if ev.Type != typ {
				continue
			}
			b, _ := json.Marshal(ev)
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if pred == nil || pred(m) {
				return m
			}
		}
		t.Fatalf("no example of %s", typ)
		return nil
	}
	withContent := func(m map[string]any) bool {
		return len(listOf(m["data"].(map[string]any)["item"].(map[string]any)["content"])) > 3
	}
	item := func(m map[string]any) map[string]any { return m["data"].(map[string]any)["item"].(map[string]any) }
	part := func(m map[string]any, typ string) map[string]any {
		for _, p := range listOf(item(m)["content"]) {
			if p.(map[string]any)["type"] == typ {
				return p.(map[string]any)
			}
		}
		t.Fatalf("no %s part", typ)
		return nil
	}
	for _, tc := range []struct {
		name   string
		typ    EventType
		pred   func(map[string]any) bool
		mutate func(map[string]any)
	}{
		{"missing event_id", EventError, nil, func(m map[string]any) { delete(m, "event_id") }},
		{"missing raw", EventError, nil, func(m map[string]any) { delete(m, "raw") }},
		{"missing native_session_id", EventError, nil, func(m map[string]any) { delete(m, "native_session_id") }},
		{"bad source", EventError, nil, func(m map[string]any) { m["source"] = "human" }},
		{"bad type", EventError, nil, func(m map[string]any) { m["type"] = "error.raised" }},
		{"sequence as string", EventError, nil, func(m map[string]any) { m["sequence"] = "1" }},
		{"negative sequence", EventError, nil, func(m map[string]any) { m["sequence"] = -1.0 }},
		{"fractional sequence", EventError, nil, func(m map[string]any) { m["sequence"] = 1.5 }},
		{"synthetic as string", EventError, nil, func(m map[string]any) { m["synthetic"] = "yes" }},
		{"native_session_id as number", EventError, nil, func(m map[string]any) { m["native_session_id"] = 5.0 }},
		{"unknown envelope field", EventError, nil, func(m map[string]any) { m["extra"] = 1.0 }},
		{"data not an object", EventError, nil, func(m map[string]any) { m["data"] = "boom" }},
		{"error without message", EventError, nil, func(m map[string]any) { delete(m["data"].(map[string]any), "message") }},
		{"error code as number", EventError, nil, func(m map[string]any) { m["data"].(map[string]any)["code"] = 1.0 }},
		{"bad turn phase", EventTurnStarted, nil, func(m map[string]any) { m["data"].(map[string]any)["phase"] = "middle" }},
		{"bad end reason", EventSessionEnded, nil, func(m map[string]any) { m["data"].(map[string]any)["reason"] = "crashed" }},
		{"stderr without truncated", EventSessionEnded, func(m map[string]any) bool { return m["data"].(map[string]any)["stderr"] != nil },
			func(m map[string]any) { delete(m["data"].(map[string]any)["stderr"].(map[string]any), "truncated") }},
		{"bad permission status", EventPermissionResolved, nil, func(m map[string]any) { m["data"].(map[string]any)["status"] = "maybe" }},
		{"question options null", EventQuestionRequested, nil, func(m map[string]any) { m["data"].(map[string]any)["options"] = nil }},
		{"question option not a string", EventQuestionRequested, nil, func(m map[string]any) { m["data"].(map[string]any)["options"] = []any{1.0} }},
		{"delta without native_item_id", EventItemDelta, nil, func(m map[string]any) { delete(m["data"].(map[string]any), "native_item_id") }},
		{"unparsed without raw_hash", EventAgentUnparsed, nil, func(m map[string]any) { delete(m["data"].(map[string]any), "raw_hash") }},
		{"item role", EventItemStarted, nil, func(m map[string]any) { item(m)["role"] = "robot" }},
		{"item without role", EventItemStarted, nil, func(m map[string]any) { delete(item(m), "role") }},
		{"item kind", EventItemStarted, nil, func(m map[string]any) { item(m)["kind"] = "widget" }},
		{"item status", EventItemCompleted, nil, func(m map[string]any) { item(m)["status"] = "done" }},
		{"item content null", EventItemStarted, nil, func(m map[string]any) { item(m)["content"] = nil }},
		{"part type", EventItemStarted, withContent, func(m map[string]any) { part(m, "text")["type"] = "bogus" }},
		{"tool_call without call_id", EventItemStarted, withContent, func(m map[string]any) { delete(part(m, "tool_call"), "call_id") }},
		{"file_ref action", EventItemStarted, withContent, func(m map[string]any) { part(m, "file_ref")["action"] = "delete" }},
		{"reasoning visibility", EventItemStarted, withContent, func(m map[string]any) { part(m, "reasoning")["visibility"] = "secret" }},
		{"image path as number", EventItemStarted, withContent, func(m map[string]any) { part(m, "image")["path"] = 7.0 }},
		{"status detail as bool", EventItemStarted, withContent, func(m map[string]any) { part(m, "status")["detail"] = true }},
	} {
		m := find(tc.typ, tc.pred)
		if err := v.validate("#", m); err != nil {
			t.Fatalf("%s: the unmutated example is invalid: %v", tc.name, err)
		}
		tc.mutate(m)
		if err := v.validate("#", m); err == nil {
			t.Errorf("%s: accepted %s", tc.name, show(m))
		}
	}
	for _, doc := range []string{`{"type":"text"}`, `{"type":"json"}`, `{"type":"bogus","text":"x"}`, `{"text":"x"}`, `null`, `"text"`} {
		if err := v.validateJSON("#/definitions/ContentPart", []byte(doc)); err == nil {
			t.Errorf("ContentPart accepted %s", doc)
		}
	}
}

// ---------------------------------------------------------------------------
// Wire rules (shared/spec/v1-api.md §1.3 and §8)

func TestWireNullsAndOrder(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"envelope", UniversalEvent{EventID: "evt_1", Sequence: 1, Time: "2026-02-11T08:36:10Z", SessionID: "s1",
			Source: SourceAgent, Type: EventTurnStarted, Data: EventData(`{"phase":"started"}`)},
			`{"event_id":"evt_1","sequence":1,"time":"2026-02-11T08:36:10Z","session_id":"s1","native_session_id":null,"synthetic":false,"source":"agent","type":"turn.started","data":{"phase":"started"},"raw":null}`},
		{"envelope full", UniversalEvent{EventID: "evt_2", Sequence: 2, Time: "t", SessionID: "s1", NativeSessionID: Ptr("n"),
			Synthetic: true, Source: SourceDaemon, Type: EventError, Data: EventData(`{"message":"m","code":null,"details":null}`), Raw: RawJSON(`{"a":1}`)},
			`{"event_id":"evt_2","sequence":2,"time":"t","session_id":"s1","native_session_id":"n","synthetic":true,"source":"daemon","type":"error","data":{"message":"m","code":null,"details":null},"raw":{"a":1}}`},
		{"envelope empty data", UniversalEvent{}, `{"event_id":"","sequence":0,"time":"","session_id":"","native_session_id":null,"synthetic":false,"source":"","type":"","data":{},"raw":null}`},
		{"session.started", SessionStartedData{}, `{"metadata":null}`},
		{"session.ended minimal", SessionEndedData{Reason: EndCompleted, TerminatedBy: ByAgent}, `{"reason":"completed","terminated_by":"agent"}`},
		{"session.ended error", SessionEndedData{Reason: EndError, TerminatedBy: ByAgent, Message: Ptr("m"), ExitCode: Ptr(0), Stderr: &StderrOutput{}},
			`{"reason":"error","terminated_by":"agent","message":"m","exit_code":0,"stderr":{"truncated":false}}`},
		{"stderr full", StderrOutput{Head: Ptr("h"), Tail: Ptr("t"), Truncated: true, TotalLines: Ptr(71)},
			`{"head":"h","tail":"t","truncated":true,"total_lines":71}`},
		{"turn minimal", TurnEventData{Phase: PhaseStarted}, `{"phase":"started"}`},
		{"turn null metadata", TurnEventData{Phase: PhaseEnded, Metadata: RawJSON(`null`)}, `{"phase":"ended"}`},
		{"turn full", TurnEventData{Phase: PhaseEnded, TurnID: Ptr("t1"), Metadata: RawJSON(`{}`)}, `{"phase":"ended","turn_id":"t1","metadata":{}}`},
		{"item.delta", ItemDeltaData{ItemID: "itm_1", Delta: "x"}, `{"item_id":"itm_1","native_item_id":null,"delta":"x"}`},
		{"error", ErrorData{Message: "m"}, `{"message":"m","code":null,"details":null}`},
		{"permission", PermissionEventData{PermissionID: "p", Action: "a", Status: PermissionRequested},
			`{"permission_id":"p","action":"a","status":"requested","metadata":null}`},
		{"question nil options", QuestionEventData{QuestionID: "q", Prompt: "p", Status: QuestionRequested},
			`{"question_id":"q","prompt":"p","options":[],"response":null,"status":"requested"}`},
		{"question answered", QuestionEventData{QuestionID: "q", Prompt: "p", Options: []string{"a"}, Response: Ptr("a"), Status: QuestionAnswered},
			`{"question_id":"q","prompt":"p","options":["a"],"response":"a","status":"answered"}`},
		{"agent.unparsed", AgentUnparsedData{Error: "e", Location: "l"}, `{"error":"e","location":"l","raw_hash":null}`},
		{"item nils", UniversalItem{ItemID: "itm_1", Kind: KindMessage, Status: StatusInProgress},
			`{"item_id":"itm_1","native_item_id":null,"parent_id":null,"kind":"message","role":null,"content":[],"status":"in_progress"}`},
		{"item full", ItemEventData{Item: UniversalItem{ItemID: "itm_1", NativeItemID: Ptr("n"), ParentID: Ptr("itm_0"), Kind: KindMessage,
			Role: Ptr(RoleUser), Content: []ContentPart{TextPart("hi")}, Status: StatusCompleted}},
			`{"item":{"item_id":"itm_1","native_item_id":"n","parent_id":"itm_0","kind":"message","role":"user","content":[{"type":"text","text":"hi"}],"status":"completed"}}`},
		{"text", TextPart("t"), `{"type":"text","text":"t"}`},
		{"json", ContentPart{Type: PartJSON, JSON: json.RawMessage(`{"a": [1, 2]}`)}, `{"type":"json","json":{"a":[1,2]}}`},
		{"json nil", ContentPart{Type: PartJSON}, `{"type":"json","json":null}`},
		{"tool_call", ContentPart{Type: PartToolCall, Name: "n", Arguments: "{}", CallID: "c"}, `{"type":"tool_call","name":"n","arguments":"{}","call_id":"c"}`},
		{"tool_result", ContentPart{Type: PartToolResult, CallID: "c", Output: "o"}, `{"type":"tool_result","call_id":"c","output":"o"}`},
		{"file_ref", ContentPart{Type: PartFileRef, Path: "p", Action: FileWrite}, `{"type":"file_ref","path":"p","action":"write","diff":null}`},
		{"file_ref diff", ContentPart{Type: PartFileRef, Path: "p", Action: FilePatch, Diff: Ptr("d")}, `{"type":"file_ref","path":"p","action":"patch","diff":"d"}`},
		{"reasoning", ContentPart{Type: PartReasoning, Text: "t", Visibility: VisibilityPublic}, `{"type":"reasoning","text":"t","visibility":"public"}`},
		{"image", ContentPart{Type: PartImage, Path: "p"}, `{"type":"image","path":"p","mime":null}`},
		{"image mime", ContentPart{Type: PartImage, Path: "p", Mime: Ptr("image/png")}, `{"type":"image","path":"p","mime":"image/png"}`},
		{"status", ContentPart{Type: PartStatus, Label: "l"}, `{"type":"status","label":"l","detail":null}`},
		{"status detail", ContentPart{Type: PartStatus, Label: "l", Detail: Ptr("d")}, `{"type":"status","label":"l","detail":"d"}`},
		{"part ignores other fields", ContentPart{Type: PartText, Text: "t", Path: "p", Diff: Ptr("d"), JSON: json.RawMessage(`1`)}, `{"type":"text","text":"t"}`},
	} {
		got, err := json.Marshal(tc.v)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
	}
}

func TestMarshalErrors(t *testing.T) {
	for _, v := range []any{
		ContentPart{},
		ContentPart{Type: "bogus"},
		ContentPart{Type: PartJSON, JSON: json.RawMessage(`{`)},
		UniversalEvent{Data: EventData(`{`)},
		UniversalEvent{Raw: RawJSON(`nope`)},
	} {
		if b, err := json.Marshal(v); err == nil {
			t.Errorf("%#v marshalled to %s", v, b)
		}
	}
}

func TestContentPartRoundTrip(t *testing.T) {
	for _, p := range exampleParts() {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var q ContentPart
		if err := json.Unmarshal(b, &q); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Errorf("%s: round trip gave %#v, want %#v", b, q, p)
		}
		again, err := json.Marshal(q)
		if err != nil || !bytes.Equal(again, b) {
			t.Errorf("%s: re-marshalled to %s (%v)", b, again, err)
		}
	}
	// Decoding keeps only the fields of the part's type, fills absent
	// nullable fields with nil, and leaves a json part's value as sent.
	for in, want := range map[string]ContentPart{
		`{"type":"text","text":"t","path":"p","diff":"d","json":1}`: TextPart("t"),
		`{"type":"file_ref","path":"p","action":"read"}`:            {Type: PartFileRef, Path: "p", Action: FileRead},
		`{"type":"json","json":null}`:                               {Type: PartJSON, JSON: json.RawMessage(`null`)},
		`{"type":"json"}`:                                           {Type: PartJSON},
		`{"text":"t","type":"text"}`:                                TextPart("t"),
	} {
		var got ContentPart
		if err := json.Unmarshal([]byte(in), &got); err != nil {
			t.Errorf("%s: %v", in, err)
		} else if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %#v, want %#v", in, got, want)
		}
	}
	for _, in := range []string{`{}`, `{"type":"bogus"}`, `{"type":""}`, `null`, `[]`, `"text"`, `{"type":1}`, `{"type":"text","text":1}`} {
		var got ContentPart
		if err := json.Unmarshal([]byte(in), &got); err == nil {
			t.Errorf("%s: decoded to %#v, want an error", in, got)
		}
	}
	var item UniversalItem
	if err := json.Unmarshal([]byte(`{"item_id":"i","content":[null]}`), &item); err == nil {
		t.Errorf("a null content part decoded to %#v", item)
	}
}

// TestEventRoundTrip decodes every example event and writes it back
// byte for byte.
func TestEventRoundTrip(t *testing.T) {
	for _, ev := range exampleEvents(t) {
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var back UniversalEvent
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		again, err := json.Marshal(back)
		if err != nil || !bytes.Equal(again, b) {
			t.Errorf("%s\nre-marshalled to\n%s (%v)", b, again, err)
		}
		payload, ok := payloadTypes[ev.Type]
		if !ok {
			t.Fatalf("no payload type for %s", ev.Type)
		}
		p := reflect.New(payload)
		if err := json.Unmarshal(back.Data, p.Interface()); err != nil {
			t.Fatalf("%s data: %v", ev.Type, err)
		}
		if again, err := json.Marshal(p.Elem().Interface()); err != nil || !bytes.Equal(again, back.Data) {
			t.Errorf("%s data %s re-marshalled to %s (%v)", ev.Type, back.Data, again, err)
		}
	}
}

var payloadTypes = map[EventType]reflect.Type{
	EventSessionStarted: reflect.TypeFor[SessionStartedData](), EventSessionEnded: reflect.TypeFor[SessionEndedData](),
	EventTurnStarted: reflect.TypeFor[TurnEventData](), EventTurnEnded: reflect.TypeFor[TurnEventData](),
	EventItemStarted: reflect.TypeFor[ItemEventData](), EventItemCompleted: reflect.TypeFor[ItemEventData](),
	EventItemDelta: reflect.TypeFor[ItemDeltaData](), EventError: reflect.TypeFor[ErrorData](),
	EventPermissionRequested: reflect.TypeFor[PermissionEventData](), EventPermissionResolved: reflect.TypeFor[PermissionEventData](),
	EventQuestionRequested: reflect.TypeFor[QuestionEventData](), EventQuestionResolved: reflect.TypeFor[QuestionEventData](),
	EventAgentUnparsed: reflect.TypeFor[AgentUnparsedData](), EventNetworkConnection: reflect.TypeFor[NetworkConnectionData](),
}

// FuzzContentPartUnmarshal: decoding never panics; whatever decodes writes
// back, and what it writes decodes to the same bytes again; input the schema
// accepts comes out still accepted by the schema.
func FuzzContentPartUnmarshal(f *testing.F) {
	for _, p := range exampleParts() {
		b, err := json.Marshal(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{`null`, `{}`, `[]`, `{"type":"bogus"}`, `{"type":"json"}`, `{"type":"file_ref","diff":5}`,
		`{"type":"text","TEXT":"a","Type":"json"}`, `{"type":"json","json":1e400}`, `{"type":"status","label":"\udc00"}`} {
		f.Add([]byte(s))
	}
	v := newValidator(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		var p ContentPart
		if err := json.Unmarshal(in, &p); err != nil {
			return
		}
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("%q decoded to %#v, which does not marshal: %v", in, p, err)
		}
		var q ContentPart
		if err := json.Unmarshal(out, &q); err != nil {
			t.Fatalf("%q re-marshalled to %q, which does not decode: %v", in, out, err)
		}
		again, err := json.Marshal(q)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("%q: %q then %q (%v)", in, out, again, err)
		}
		if v.validateJSON("#/definitions/ContentPart", in) == nil {
			if err := v.validateJSON("#/definitions/ContentPart", out); err != nil {
				t.Fatalf("%q is valid but re-marshalled to invalid %q: %v", in, out, err)
			}
		}
	})
}
