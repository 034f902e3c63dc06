package eventlog

import "testing"

func BenchmarkZZ50(b *testing.B) {
	DebugBatches.Store(0); DebugWrites.Store(0)
	BenchmarkAppend50Sessions(b)
	b.ReportMetric(float64(DebugWrites.Load())/float64(DebugBatches.Load()), "writes/batch")
}
func BenchmarkZZ1(b *testing.B) {
	DebugBatches.Store(0); DebugWrites.Store(0)
	BenchmarkAppendOneSession(b)
	b.ReportMetric(float64(DebugWrites.Load())/float64(DebugBatches.Load()), "writes/batch")
}
