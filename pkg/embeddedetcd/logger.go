package embeddedetcd

import (
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// quietShutdown drops the error-level lines etcd logs when its own listeners are closed
// during a clean shutdown ("setting up serving from embedded etcd failed … use of closed
// network connection" / "server closed"); every other entry passes.
type quietShutdown struct{ zapcore.Core }

func (q quietShutdown) With(fields []zapcore.Field) zapcore.Core {
	return quietShutdown{q.Core.With(fields)}
}

func (q quietShutdown) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if q.Enabled(e.Level) {
		return ce.AddCore(e, q)
	}
	return ce
}

func (q quietShutdown) Write(e zapcore.Entry, fields []zapcore.Field) error {
	if e.Message == "setting up serving from embedded etcd failed." {
		for _, f := range fields {
			if err, ok := f.Interface.(error); ok && f.Type == zapcore.ErrorType && closedError(err.Error()) {
				return nil
			}
		}
	}
	return q.Core.Write(e, fields)
}

func closedError(msg string) bool {
	return strings.Contains(msg, "use of closed network connection") || strings.Contains(msg, "server closed") || strings.Contains(msg, "Server closed")
}

// newLogger returns etcd's logger at level, writing JSON to stderr like etcd does.
func newLogger(level string) (*zap.Logger, error) {
	cfg := zap.NewProductionConfig()
	var lvl zapcore.Level
	if err := lvl.Set(level); err != nil {
		return nil, err
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.OutputPaths = []string{"stderr"}
	cfg.ErrorOutputPaths = []string{"stderr"}
	cfg.Sampling = nil
	return cfg.Build(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return quietShutdown{c} }))
}
