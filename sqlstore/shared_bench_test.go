package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dialtone/dialtone/switch/limits"
)

// BenchmarkTakeSlot is the cost of counting an account's calls in the
// store (limits.counters: store): a take and a release per call, against
// the same on this process's counters (memory).
func BenchmarkTakeSlot(b *testing.B) {
	admit := func(open, recent int) error { return nil }
	b.Run("memory", func(b *testing.B) {
		m := limits.NewMemory(time.Now)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			release, err := m.Take(context.Background(), int64(i%100), time.Now(), admit)
			if err != nil {
				b.Fatal(err)
			}
			release()
		}
	})
	for name, open := range engines(b) {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			db, err := open()
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				id, now := fmt.Sprintf("call-%d", i), time.Now()
				if err := db.TakeSlot(ctx, fmt.Sprintf("account:%d", i%100), id, "bench", now, now.Add(time.Minute), admit); err != nil {
					b.Fatal(err)
				}
				if err := db.ReleaseSlot(ctx, id, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
