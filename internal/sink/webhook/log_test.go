package webhook

import (
	"context"
	"log/slog"
)

// cancelOnWarn cancels a context at the first warning: the point where a
// delivery has failed and its retry wait begins.
type cancelOnWarn struct{ cancel context.CancelFunc }

func slogCancelOnWarn(cancel context.CancelFunc) *slog.Logger {
	return slog.New(cancelOnWarn{cancel})
}

func (h cancelOnWarn) Enabled(context.Context, slog.Level) bool { return true }
func (h cancelOnWarn) Handle(_ context.Context, r slog.Record) error {
	if r.Level == slog.LevelWarn {
		h.cancel()
	}
	return nil
}
func (h cancelOnWarn) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h cancelOnWarn) WithGroup(string) slog.Handler      { return h }
