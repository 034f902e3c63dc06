package inspector

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func get(t *testing.T, h http.Handler, method, target string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestServes(t *testing.T) {
	h := Handler()
	tests := []struct {
		name, method, target string
		status               int
		contentType          string
		location             string
		contains             string
	}{
		{"page", "GET", "/ui/", 200, "text/html; charset=utf-8", "", `<div id="app">`},
		{"script", "GET", "/ui/app.js", 200, "text/javascript; charset=utf-8", "", ""},
		{"styles", "GET", "/ui/app.css", 200, "text/css; charset=utf-8", "", ""},
		{"index by name", "GET", "/ui/index.html", 200, "text/html; charset=utf-8", "", `<div id="app">`},
		{"bare prefix", "GET", "/ui", 301, "", "/ui/", ""},
		{"head", "HEAD", "/ui/app.js", 200, "text/javascript; charset=utf-8", "", ""},
		{"unknown asset", "GET", "/ui/nope.js", 404, "text/plain; charset=utf-8", "", ""},
		{"no traversal", "GET", "/ui/../inspector.go", 404, "text/plain; charset=utf-8", "", ""},
		{"read only", "POST", "/ui/", 405, "text/plain; charset=utf-8", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := get(t, h, tc.method, tc.target, nil)
			b := body(t, r)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (%s)", r.StatusCode, tc.status, b)
			}
			if tc.contentType != "" && r.Header.Get("Content-Type") != tc.contentType {
				t.Errorf("Content-Type %q, want %q", r.Header.Get("Content-Type"), tc.contentType)
			}
			if r.Header.Get("Location") != tc.location {
				t.Errorf("Location %q, want %q", r.Header.Get("Location"), tc.location)
			}
			if !strings.Contains(b, tc.contains) {
				t.Errorf("body lacks %q", tc.contains)
			}
			if tc.status == 200 {
				if tc.method == "HEAD" && b != "" {
					t.Errorf("HEAD sent a body")
				}
				for _, h := range []string{"ETag", "Content-Security-Policy", "X-Content-Type-Options", "Cache-Control"} {
					if r.Header.Get(h) == "" {
						t.Errorf("no %s header", h)
					}
				}
			}
		})
	}
}

func TestRevalidates(t *testing.T) {
	h := Handler()
	first := get(t, h, "GET", "/ui/app.js", nil)
	etag := first.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	again := get(t, h, "GET", "/ui/app.js", http.Header{"If-None-Match": {etag}})
	if again.StatusCode != http.StatusNotModified {
		t.Fatalf("status %d, want 304", again.StatusCode)
	}
	if other := get(t, h, "GET", "/ui/app.css", nil).Header.Get("ETag"); other == etag {
		t.Fatalf("app.css and app.js share the ETag %s", etag)
	}
}

// The page must only reference files that are embedded, or it loads blank
// from a clean clone's binary.
func TestPageReferencesEmbeddedAssets(t *testing.T) {
	page, err := fs.ReadFile(dist, "dist/index.html")
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(page), -1)
	if len(refs) < 2 {
		t.Fatalf("index.html references %d assets; want the script and the styles", len(refs))
	}
	for _, m := range refs {
		if strings.Contains(m[1], "//") {
			t.Errorf("index.html loads %s from elsewhere: the inspector must work offline", m[1])
			continue
		}
		if _, err := fs.Stat(dist, "dist/"+m[1]); err != nil {
			t.Errorf("index.html references %s, which is not embedded", m[1])
		}
	}
}

func TestBrokenBuildIsAnError(t *testing.T) {
	_, err := load(fstest.MapFS{"dist/app.js": {Data: []byte("x")}})
	if err == nil || !strings.Contains(err.Error(), "index.html") {
		t.Fatalf("err = %v, want a missing index.html", err)
	}
}
