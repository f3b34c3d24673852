package simulate_test

import (
	"context"
	"testing"

	"github.com/seed-a80403e2/lifecycle/internal/simulate"
	"github.com/seed-a80403e2/lifecycle/playbooks"
)

// BenchmarkEngaged90 is the engine's cost of a 90-day journey (make bench
// reports it with the rest; this is for profiling).
func BenchmarkEngaged90(b *testing.B) {
	sc, err := simulate.Builtin("engaged")
	if err != nil {
		b.Fatal(err)
	}
	pb := playbooks.Default()
	for b.Loop() {
		if _, err := simulate.Simulate(context.Background(), pb, sc, simulate.Options{Until: 90}); err != nil {
			b.Fatal(err)
		}
	}
}
