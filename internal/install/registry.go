package install

import (
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultRegistry is used when neither Config.Registry nor the environment names one.
const DefaultRegistry = "https://registry.npmjs.org"

const maxMetadataBytes = 64 << 20 // a packument of a package with thousands of versions stays far below

// registry is a minimal npm registry client: version documents, dist-tags
// and tarball downloads.
type registry struct {
	base         string // no trailing slash
	client       *http.Client
	metaTimeout  time.Duration
	stallTimeout time.Duration
}

// escapeName escapes a package name for a registry URL path as npm does:
// "@scope/name" becomes "@scope%2fname"; unscoped names have no slash.
func escapeName(name string) string {
	if strings.HasPrefix(name, "@") {
		return strings.Replace(name, "/", "%2f", 1)
	}
	return name
}

type versionDoc struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Dist    struct {
		Tarball   string `json:"tarball"`
		Integrity string `json:"integrity"`
	} `json:"dist"`
}

// getJSON fetches base+path into v. A 404 is ErrVersionNotFound, any other
// failure ErrDownload.
func (r *registry) getJSON(ctx context.Context, p string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, r.metaTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+p, nil)
	if err != nil {
		return newErr(ErrDownload, "", "", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "agentd-install")
	resp, err := r.client.Do(req)
	if err != nil {
		return newErr(ErrDownload, "", "", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return newErr(ErrVersionNotFound, "", "", fmt.Errorf("GET %s: %s", req.URL.Redacted(), resp.Status))
	}
	if resp.StatusCode != http.StatusOK {
		return newErr(ErrDownload, "", "", fmt.Errorf("GET %s: %s", req.URL.Redacted(), resp.Status))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBytes+1))
	if err != nil {
		return newErr(ErrDownload, "", "", fmt.Errorf("GET %s: %w", req.URL.Redacted(), err))
	}
	if len(body) > maxMetadataBytes {
		return newErr(ErrTooLarge, "", "", fmt.Errorf("GET %s: metadata over %d bytes", req.URL.Redacted(), maxMetadataBytes))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return newErr(ErrDownload, "", "", fmt.Errorf("GET %s: bad JSON: %w", req.URL.Redacted(), err))
	}
	return nil
}

// version fetches the document of one version: GET /<name>/<version>.
func (r *registry) version(ctx context.Context, name, version string) (*versionDoc, error) {
	var doc versionDoc
	if err := r.getJSON(ctx, "/"+escapeName(name)+"/"+url.PathEscape(version), &doc); err != nil {
		return nil, err
	}
	if doc.Name != name || doc.Version != version {
		return nil, newErr(ErrBadPackage, "", "", fmt.Errorf("registry answered %s@%s for %s@%s", doc.Name, doc.Version, name, version))
	}
	return &doc, nil
}

// distTag resolves a dist-tag: GET /-/package/<name>/dist-tags, falling back
// to the packument's "dist-tags" for registries without that endpoint.
func (r *registry) distTag(ctx context.Context, name, tag string) (string, error) {
	tags := map[string]string{}
	err := r.getJSON(ctx, "/-/package/"+escapeName(name)+"/dist-tags", &tags)
	if err != nil {
		if ctx.Err() != nil {
			return "", err
		}
		var pk struct {
			DistTags map[string]string `json:"dist-tags"`
		}
		if err2 := r.getJSON(ctx, "/"+escapeName(name), &pk); err2 != nil {
			return "", err2
		}
		tags = pk.DistTags
	}
	v, ok := tags[tag]
	if !ok || v == "" {
		return "", newErr(ErrVersionNotFound, "", "", fmt.Errorf("%s has no dist-tag %q", name, tag))
	}
	return v, nil
}

// tarballURL checks the scheme of dist.tarball and, as npm does by default,
// moves a tarball on the public registry's host onto the configured registry
// so that mirrors serve the download too.
func (r *registry) tarballURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", newErr(ErrBadPackage, "", "", fmt.Errorf("unusable dist.tarball %q", raw))
	}
	if u.Host == "registry.npmjs.org" && r.base != DefaultRegistry {
		base, err := url.Parse(r.base)
		if err == nil {
			u.Scheme, u.Host, u.User = base.Scheme, base.Host, base.User
			u.Path = strings.TrimSuffix(base.Path, "/") + u.Path
			if u.RawPath != "" {
				u.RawPath = strings.TrimSuffix(base.EscapedPath(), "/") + u.RawPath
			}
		}
	}
	return u.String(), nil
}

var errStalled = errors.New("no data received within the stall timeout")

// download streams rawURL into w, at most max bytes, calling progress as
// bytes arrive (total is -1 when the server sends no length). The transfer
// fails when no byte arrives for stallTimeout.
func (r *registry) download(ctx context.Context, rawURL string, w io.Writer, max int64, progress func(done, total int64)) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stall := time.AfterFunc(r.stallTimeout, func() { cancel(errStalled) })
	defer stall.Stop()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return 0, newErr(ErrDownload, "", "", err)
	}
	req.Header.Set("User-Agent", "agentd-install")
	// The bytes must hash as published: ask for them as they are, and keep
	// net/http from transparently gunzipping a .tgz served with
	// Content-Encoding: gzip (it only does so when it set the header itself).
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, newErr(ErrDownload, "", "", causeOf(ctx, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		kind := ErrDownload
		if resp.StatusCode == http.StatusNotFound {
			kind = ErrVersionNotFound
		}
		return 0, newErr(kind, "", "", fmt.Errorf("GET %s: %s", req.URL.Redacted(), resp.Status))
	}
	total := resp.ContentLength
	if total > max {
		return 0, newErr(ErrTooLarge, "", "", fmt.Errorf("tarball is %d bytes, cap is %d", total, max))
	}
	buf := make([]byte, 256<<10)
	var done, reported int64
	progress(0, total)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			stall.Reset(r.stallTimeout)
			if done+int64(n) > max {
				return done, newErr(ErrTooLarge, "", "", fmt.Errorf("tarball exceeds the cap of %d bytes", max))
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return done, newErr(ErrFilesystem, "", "", werr)
			}
			done += int64(n)
			if done-reported >= 1<<20 {
				progress(done, total)
				reported = done
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return done, newErr(ErrDownload, "", "", fmt.Errorf("after %d bytes: %w", done, causeOf(ctx, rerr)))
		}
	}
	if total >= 0 && done != total {
		return done, newErr(ErrDownload, "", "", fmt.Errorf("got %d of %d bytes", done, total))
	}
	progress(done, total)
	return done, nil
}

// causeOf prefers the context's cause (stall, caller cancel) over the
// transport's generic "context canceled" error.
func causeOf(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil {
		if errors.Is(err, c) {
			return err
		}
		return fmt.Errorf("%w (%w)", c, err)
	}
	return err
}

// sriSHA512 extracts the sha512 digests of a Subresource Integrity string
// ("sha512-<base64> sha1-<base64>"; options after '?' are ignored).
func sriSHA512(sri string) [][]byte {
	var out [][]byte
	for f := range strings.FieldsSeq(sri) {
		algo, val, ok := strings.Cut(f, "-")
		if !ok || algo != "sha512" {
			continue
		}
		val, _, _ = strings.Cut(val, "?")
		d, err := base64.StdEncoding.DecodeString(val)
		if err != nil || len(d) != sha512.Size {
			continue
		}
		out = append(out, d)
	}
	return out
}
