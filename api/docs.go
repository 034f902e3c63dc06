package api

import (
	"context"
	"html/template"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// docsPage serves a self-contained API reference built from the OpenAPI
// document: no CDN, so it works in a sandbox without internet access.
func docsPage(a huma.API) http.HandlerFunc {
	type op struct {
		Method, Path, ID, Summary, Description string
		Params                                 []*huma.Param
		Statuses                               []string
	}
	var ops []op
	for path, item := range a.OpenAPI().Paths {
		for method, o := range map[string]*huma.Operation{"GET": item.Get, "POST": item.Post, "PUT": item.Put, "DELETE": item.Delete} {
			if o == nil {
				continue
			}
			var statuses []string
			for code := range o.Responses {
				statuses = append(statuses, code)
			}
			slices.Sort(statuses)
			ops = append(ops, op{method, path, o.OperationID, o.Summary, o.Description, o.Parameters, statuses})
		}
	}
	slices.SortFunc(ops, func(x, y op) int { return strings.Compare(x.Path+x.Method, y.Path+y.Method) })
	page := template.Must(template.New("docs").Parse(docsTemplate))
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, map[string]any{"Version": Version, "Ops": ops})
	}
}

const docsTemplate = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>agentd API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:0 .3em;border-radius:3px}.m{font-weight:700;display:inline-block;width:4.5em}
section{border-top:1px solid #ddd;padding:.6rem 0}small{color:#666}</style></head><body>
<h1>agentd API <small>{{.Version}}</small></h1>
<p>The machine-readable documents: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1) and
<a href="/openapi-3.0.json">/openapi-3.0.json</a> (for client generators). Send the daemon's token as
<code>Authorization: Bearer &lt;token&gt;</code> on every <code>/v1</code> route but <code>/v1/health</code>.</p>
{{range .Ops}}<section id="{{.ID}}"><div><span class="m">{{.Method}}</span><code>{{.Path}}</code> — {{.Summary}}</div>
<p>{{.Description}}</p>{{if .Params}}<ul>{{range .Params}}<li><code>{{.Name}}</code> ({{.In}}) {{.Description}}</li>{{end}}</ul>{{end}}
<small>operation <code>{{.ID}}</code>; responses {{range .Statuses}}<code>{{.}}</code> {{end}}</small></section>
{{end}}</body></html>`

// withRequest makes the raw request reachable from handlers that must
// tell an absent query parameter from a zero one.
func withRequest(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestKey{}, r)))
	})
}
