package cli

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/agentd-dev/agentd/api"
	"github.com/agentd-dev/agentd/internal/sink"
	"github.com/agentd-dev/agentd/internal/sink/sinkset"
)

// sinkOptions are the server's --sink flags.
type sinkOptions struct {
	Specs    []string
	Secret   string
	DaemonID string
}

func (o *sinkOptions) register(f *pflag.FlagSet) {
	f.StringArrayVar(&o.Specs, "sink", nil, "ship every event to postgres://… or https://… (repeatable; AGENTD_SINK takes several, comma- or space-separated)")
	f.StringVar(&o.Secret, "sink-secret", "", "key of the HMAC-SHA256 signature of webhook deliveries (prefer AGENTD_SINK_SECRET)")
	f.StringVar(&o.DaemonID, "sink-daemon-id", "", "this daemon's id in shared sinks (default: made up once, kept in the data dir)")
}

// startSinks runs the sinks with their state under the data dir.
func startSinks(ctx context.Context, o sinkOptions, dataDir string, src sink.Source, logger *slog.Logger) (*sinkset.Set, error) {
	return sinkset.Start(ctx, src, sinkset.Config{
		Specs: o.Specs, Secret: o.Secret, DaemonID: o.DaemonID,
		Dir: filepath.Join(dataDir, "sinks"), Logger: logger,
	})
}

// sinkHealth renders the sinks' state for /v1/health.
func sinkHealth(set *sinkset.Set) func(context.Context) []api.SinkHealth {
	return func(ctx context.Context) []api.SinkHealth {
		var out []api.SinkHealth
		for _, st := range set.Status(ctx) {
			out = append(out, api.SinkHealth{
				Name: st.Name, Kind: st.Kind, Destination: st.Destination,
				Backlog: st.Backlog, LagSeconds: st.LagSeconds, LastError: st.LastError,
				DeadLetters: st.DeadLetters,
			})
		}
		return out
	}
}
