package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/agentd-dev/agentd/api"
	"github.com/agentd-dev/agentd/docs"
)

// TestOpenAPIUpToDate fails when the committed documents drift from the code.
func TestOpenAPIUpToDate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		v30       bool
		committed []byte
		served    string
	}{
		{"docs/openapi.json", false, docs.OpenAPI, "/openapi.json"},
		{"docs/openapi-3.0.json", true, docs.OpenAPI30, "/openapi-3.0.json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := api.Document(tc.v30)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(bytes.TrimSpace(doc), bytes.TrimSpace(tc.committed)) {
				t.Fatalf("%s is stale: run `go generate ./docs` (or `just generate`) and commit it", tc.name)
			}
			h, _ := api.New(api.Deps{})
			srv := httptest.NewServer(h)
			defer srv.Close()
			res, err := http.Get(srv.URL + tc.served)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if !jsonEqual(t, body, doc) {
				t.Fatalf("%s serves a document that differs from %s", tc.served, tc.name)
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("decode: %v", err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

// notYetServed lists parts of the reference not served yet; everything
// else must be present.
var notYetServed = []string{}

func pending(name string) bool {
	return slices.ContainsFunc(notYetServed, func(p string) bool { return strings.HasPrefix(name, p) })
}

type oaDoc struct {
	Paths      map[string]map[string]oaOperation `json:"paths"`
	Components struct {
		Schemas map[string]*oaSchema `json:"schemas"`
	} `json:"components"`
}

type oaOperation struct {
	OperationID string `json:"operationId"`
	Parameters  []struct {
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
}

type oaSchema struct {
	Ref        string               `json:"$ref"`
	Type       any                  `json:"type"`
	AllOf      []*oaSchema          `json:"allOf"`
	Enum       []any                `json:"enum"`
	Properties map[string]*oaSchema `json:"properties"`
}

// kind is a schema's type, seen through single-member allOf wrappers.
func (s *oaSchema) kind() string {
	switch {
	case s.Ref != "":
		return "ref:" + s.Ref[strings.LastIndex(s.Ref, "/")+1:]
	case len(s.AllOf) == 1:
		return s.AllOf[0].kind()
	}
	if list, ok := s.Type.([]any); ok { // 3.1 ["string","null"]
		for _, t := range list {
			if t != "null" {
				return t.(string)
			}
		}
	}
	if t, ok := s.Type.(string); ok {
		return t
	}
	return ""
}

// TestReferenceCompatible checks that every path, operation id, parameter,
// schema, field and enum value of the reference document is in ours with
// the same type. Ours may add.
func TestReferenceCompatible(t *testing.T) {
	ref := loadDoc(t, referencePath(t, "sandbox-agent-v1-openapi.json"))
	var ours oaDoc
	if err := json.Unmarshal(docs.OpenAPI30, &ours); err != nil {
		t.Fatal(err)
	}
	for path, ops := range ref.Paths {
		if pending(path) {
			continue
		}
		for method, op := range ops {
			got, ok := ours.Paths[path][method]
			if !ok {
				t.Errorf("missing %s %s", method, path)
				continue
			}
			if got.OperationID != op.OperationID {
				t.Errorf("%s %s: operationId %q, reference %q", method, path, got.OperationID, op.OperationID)
			}
			for _, p := range op.Parameters {
				if !slices.ContainsFunc(got.Parameters, func(g struct {
					Name string `json:"name"`
					In   string `json:"in"`
				}) bool {
					return g.Name == p.Name && g.In == p.In
				}) {
					t.Errorf("%s %s: missing %s parameter %q", method, path, p.In, p.Name)
				}
			}
		}
	}
	for name, rs := range ref.Components.Schemas {
		if pending(name) {
			continue
		}
		os, ok := ours.Components.Schemas[name]
		if !ok {
			t.Errorf("missing schema %s", name)
			continue
		}
		for _, v := range rs.Enum {
			if !slices.Contains(os.Enum, v) {
				t.Errorf("schema %s: missing enum value %v", name, v)
			}
		}
		for field, fs := range rs.Properties {
			of, ok := os.Properties[field]
			if !ok {
				t.Errorf("schema %s: missing field %s", name, field)
				continue
			}
			if fs.kind() != of.kind() {
				t.Errorf("schema %s field %s: type %q, reference %q", name, field, of.kind(), fs.kind())
			}
		}
	}
}

func loadDoc(t *testing.T, path string) oaDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d oaDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// referencePath finds shared/reference beside the repository.
func referencePath(t *testing.T, name string) string {
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
