package embeddedetcd

import (
	"errors"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestQuietShutdown(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	lg := zap.New(quietShutdown{core})
	lg.Error("setting up serving from embedded etcd failed.", zap.Error(errors.New("accept unix /x/etcd.sock: use of closed network connection")))
	lg.Error("setting up serving from embedded etcd failed.", zap.Error(errors.New("http: Server closed")))
	lg.Error("setting up serving from embedded etcd failed.", zap.Error(errors.New("listen tcp: address already in use")))
	lg.Error("failed to save data", zap.Error(errors.New("no space left on device")))
	if got := logs.Len(); got != 2 {
		t.Fatalf("%d entries kept, want the 2 real errors: %v", got, logs.All())
	}
	for _, e := range logs.All() {
		if msg := e.ContextMap()["error"]; msg == "http: Server closed" {
			t.Errorf("a shutdown line was kept")
		}
	}
}
