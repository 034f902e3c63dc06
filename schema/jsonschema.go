package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

//go:generate go run ./internal/genschema universal-event.schema.json

// JSONSchemaFile is the committed JSON Schema document, relative to this
// package's directory.
const JSONSchemaFile = "universal-event.schema.json"

const (
	draft07        = "http://json-schema.org/draft-07/schema#"
	definitionsRef = "#/definitions/"
)

// JSONSchema renders a JSON Schema (draft-07) of one UniversalEvent, built
// from the same huma schemas as the OpenAPI document: the envelope inline at
// the top, every schema it refers to under "definitions" (the envelope
// itself is not repeated there, as in the reference), references rewritten
// from "#/components/schemas/X" to "#/definitions/X", and the OpenAPI-only
// vocabulary turned into JSON Schema. The output is indented and
// deterministic (object keys sorted, lists in declaration order).
func JSONSchema() (out []byte, err error) {
	defer func() {
		// huma reports broken types by panicking.
		if v := recover(); v != nil {
			out, err = nil, fmt.Errorf("build schema: %v", v)
		}
	}()
	r := huma.NewMapRegistry(RefPrefix, huma.DefaultSchemaNamer)
	root := r.Schema(reflect.TypeOf(UniversalEvent{}), true, "")
	rootName, ok := strings.CutPrefix(root.Ref, RefPrefix)
	if !ok {
		return nil, fmt.Errorf("UniversalEvent is not a named schema (got %q)", root.Ref)
	}

	raw, err := json.Marshal(r.Map())
	if err != nil {
		return nil, fmt.Errorf("marshal schemas: %w", err)
	}
	var defs map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&defs); err != nil {
		return nil, fmt.Errorf("decode schemas: %w", err)
	}
	for name, s := range defs {
		if defs[name], err = toJSONSchema(s); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	for name := range defs {
		if err := checkRefs(defs[name], defs); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}

	envelope, ok := defs[rootName].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("schema %s is not an object schema", rootName)
	}
	delete(defs, rootName)
	doc := map[string]any{"$schema": draft07, "title": "UniversalEvent", "definitions": defs}
	for k, v := range envelope {
		if _, taken := doc[k]; taken {
			return nil, fmt.Errorf("envelope keyword %q collides with the document's", k)
		}
		doc[k] = v
	}

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Keywords whose values are schemas, maps of schemas and lists of schemas.
var (
	subschemaKeys     = []string{"items", "additionalProperties", "not", "additionalItems", "contains", "propertyNames", "if", "then", "else"}
	subschemaMapKeys  = []string{"properties", "patternProperties", "definitions"}
	subschemaListKeys = []string{"allOf", "anyOf", "oneOf"}
)

// openAPIOnly are keywords of OpenAPI (or of huma) that JSON Schema draft-07
// does not have; they are dropped after conversion.
var openAPIOnly = []string{"discriminator", "patternDescription", "xml", "externalDocs", "example"}

// annotations are keywords that describe a value without constraining it;
// they stay on the outside when a schema is wrapped.
var annotations = map[string]bool{
	"title": true, "description": true, "default": true, "examples": true,
	"readOnly": true, "writeOnly": true, "deprecated": true, "$comment": true,
}

// toJSONSchema converts one schema (as decoded JSON) from huma's OpenAPI 3.1
// form to draft-07, recursing into its subschemas only (never into data such
// as enum, default or examples).
func toJSONSchema(v any) (any, error) {
	s, ok := v.(map[string]any)
	if !ok {
		if _, isBool := v.(bool); isBool {
			return v, nil
		}
		return nil, fmt.Errorf("schema is %T, not an object or boolean", v)
	}
	var err error
	for _, k := range subschemaKeys {
		if sub, ok := s[k]; ok {
			if list, isList := sub.([]any); isList && k == "items" { // tuple form
				if err := convertList(list); err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
				continue
			}
			if s[k], err = toJSONSchema(sub); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
	}
	for _, k := range subschemaMapKeys {
		if sub, ok := s[k]; ok {
			m, isMap := sub.(map[string]any)
			if !isMap {
				return nil, fmt.Errorf("%s is %T, not an object", k, sub)
			}
			for name, ps := range m {
				if m[name], err = toJSONSchema(ps); err != nil {
					return nil, fmt.Errorf("%s.%s: %w", k, name, err)
				}
			}
		}
	}
	for _, k := range subschemaListKeys {
		if sub, ok := s[k]; ok {
			list, isList := sub.([]any)
			if !isList {
				return nil, fmt.Errorf("%s is %T, not a list", k, sub)
			}
			if err := convertList(list); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
	}

	if ref, ok := s["$ref"].(string); ok {
		name, found := strings.CutPrefix(ref, RefPrefix)
		if !found {
			return nil, fmt.Errorf("$ref %q is outside %s", ref, RefPrefix)
		}
		s["$ref"] = definitionsRef + name
	}
	// draft-07 has the array form of dependentRequired under another name.
	if dr, ok := s["dependentRequired"]; ok {
		delete(s, "dependentRequired")
		if _, clash := s["dependencies"]; clash {
			return nil, fmt.Errorf("both dependentRequired and dependencies")
		}
		s["dependencies"] = dr
	}
	for _, k := range openAPIOnly {
		delete(s, k)
	}
	nullable, _ := s["nullable"].(bool)
	delete(s, "nullable")
	if nullable {
		s = allowNull(s)
	}
	// In draft-07 every keyword beside $ref is ignored: keep only annotations
	// there, and move a $ref with constraints beside it into allOf.
	if ref, ok := s["$ref"]; ok {
		for k := range s {
			if k != "$ref" && !annotations[k] {
				delete(s, "$ref")
				s["allOf"] = append([]any{map[string]any{"$ref": ref}}, listOf(s["allOf"])...)
				break
			}
		}
	}
	return s, nil
}

func convertList(list []any) error {
	for i, sub := range list {
		var err error
		if list[i], err = toJSONSchema(sub); err != nil {
			return fmt.Errorf("[%d]: %w", i, err)
		}
	}
	return nil
}

func listOf(v any) []any {
	list, _ := v.([]any)
	return list
}

// allowNull widens s to accept null as well: by adding "null" to its type
// when it has one, or else by wrapping it as anyOf [s, {"type": "null"}] with
// its annotations kept outside.
func allowNull(s map[string]any) map[string]any {
	switch t := s["type"].(type) {
	case string:
		if t != "null" {
			s["type"] = []any{t, "null"}
		}
		addNullToEnum(s)
		return s
	case []any:
		if !containsValue(t, "null") {
			s["type"] = append(t, "null")
		}
		addNullToEnum(s)
		return s
	}
	outer, inner := map[string]any{}, map[string]any{}
	for k, v := range s {
		if annotations[k] {
			outer[k] = v
		} else {
			inner[k] = v
		}
	}
	if len(inner) == 0 {
		return s // accepts anything already
	}
	if all, ok := inner["allOf"].([]any); ok && len(inner) == 1 && len(all) == 1 {
		if m, ok := all[0].(map[string]any); ok {
			inner = m
		}
	}
	outer["anyOf"] = []any{inner, map[string]any{"type": "null"}}
	return outer
}

func addNullToEnum(s map[string]any) {
	if enum, ok := s["enum"].([]any); ok && !containsValue(enum, nil) {
		s["enum"] = append(enum, nil)
	}
}

func containsValue(list []any, v any) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// checkRefs fails on a reference to a definition that does not exist.
func checkRefs(v any, defs map[string]any) error {
	switch x := v.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok {
			name, _ := strings.CutPrefix(ref, definitionsRef)
			if _, found := defs[name]; !found {
				return fmt.Errorf("dangling $ref %q", ref)
			}
		}
		for k, sub := range x {
			if k == "enum" || k == "default" || k == "examples" || k == "const" {
				continue
			}
			if err := checkRefs(sub, defs); err != nil {
				return err
			}
		}
	case []any:
		for _, sub := range x {
			if err := checkRefs(sub, defs); err != nil {
				return err
			}
		}
	}
	return nil
}
