package agentproc

import (
	"fmt"
	"slices"
	"strings"
)

// Getenv returns the value of key in env ("KEY=value" entries, as in
// Spec.Env; the last one wins), or "".
func Getenv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// Override returns env with vars set, each replacing any earlier value, in
// name order so that the result does not depend on map iteration. It
// refuses what an environment cannot hold: an empty name, "=" in a name,
// NUL anywhere.
func Override(env []string, vars map[string]string) ([]string, error) {
	names := make([]string, 0, len(vars))
	for k, v := range vars {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("invalid environment variable %q", k)
		}
		names = append(names, k)
	}
	slices.Sort(names)
	out := slices.Clone(env)
	for _, k := range names {
		out = slices.DeleteFunc(out, func(kv string) bool { return strings.HasPrefix(kv, k+"=") })
		out = append(out, k+"="+vars[k])
	}
	return out, nil
}
