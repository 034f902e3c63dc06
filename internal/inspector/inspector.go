// Package inspector serves the inspector, agentd's built-in web UI, from
// assets embedded in the binary: no CDN, so it works offline in a sandbox.
//
// The assets hold no data, so they are served without authentication; the
// page asks for the daemon's token (or takes it from the URL fragment) and
// sends it with every API call. The front end's sources are in web/; dist/
// is its committed, reproducible build (see .ci/inspector.sh).
package inspector

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

// Prefix is where the daemon mounts the inspector.
const Prefix = "/ui"

//go:embed dist
var dist embed.FS

// csp keeps the page to its own scripts and styles; connect-src is open
// because the page may be pointed at another daemon.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
	"connect-src *; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the inspector under Prefix: Prefix itself redirects to
// Prefix+"/", which is the page.
func Handler() http.Handler {
	assets, err := load(dist)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err != nil {
			// Only a broken build gets here; the package's tests load dist.
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		serve(assets, w, r)
	})
}

func load(fsys fs.FS) (map[string]asset, error) {
	assets := map[string]asset{}
	err := fs.WalkDir(fsys, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return fmt.Errorf("read embedded %s: %w", p, err)
		}
		sum := sha256.Sum256(body)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = http.DetectContentType(body)
		}
		assets[strings.TrimPrefix(p, "dist/")] = asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load inspector assets: %w", err)
	}
	if _, ok := assets["index.html"]; !ok {
		return nil, fmt.Errorf("load inspector assets: no index.html")
	}
	return assets, nil
}

func serve(assets map[string]asset, w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if rest == "" {
		http.Redirect(w, r, Prefix+"/", http.StatusMovedPermanently)
		return
	}
	name := strings.TrimPrefix(rest, "/")
	if name == "" {
		name = "index.html"
	}
	a, ok := assets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", a.etag)
	// Names carry no content hash, so every load revalidates (a 304 is cheap).
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", csp)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}
