package supervisor

import (
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap"

	"watchdog/supervisor/config"
)

// Benchmarks of hot paths (bench/run micro): the backoff delay of every restart, the status
// snapshot that `watchdog status`, health and metrics read, and what a service costs to set up
// (its allocations are most of watchdog's memory per service).

// benchDelay keeps the compiler from dropping the benchmarked calls.
var benchDelay time.Duration

func BenchmarkBackoffDelay(b *testing.B) {
	n := 0
	for b.Loop() {
		n = n%20 + 1 // below, at and past the cap
		benchDelay = backoffDelay(100*time.Millisecond, 30*time.Second, n, 0.5)
	}
}

// benchConfig is a config of n services, copies of one parsed service (parsing 1,000 is slow).
func benchConfig(b *testing.B, n int) *config.Config {
	cfg, err := config.Parse("bench.toml", []byte("[services.svc]\ncommand = [\"/bin/sleep\", \"1000\"]\n"))
	if err != nil {
		b.Fatal(err)
	}
	one := cfg.Services[0]
	cfg.Services = nil
	for i := range n {
		svc := *one
		svc.Name = fmt.Sprintf("svc%04d", i)
		cfg.Services = append(cfg.Services, &svc)
	}
	return cfg
}

// benchSupervisor is a Supervisor of n services that are all running, as Status sees them;
// nothing runs.
func benchSupervisor(b *testing.B, n int) *Supervisor {
	s, err := New(benchConfig(b, n), nil, zap.NewNop())
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	for i, r := range s.runners {
		r.snap.State, r.snap.Pid, r.snap.StartedAt, r.snap.Since, r.snap.Ready = Running, 1000+i, now, now, true
	}
	return s
}

func BenchmarkStatus1000(b *testing.B) {
	s := benchSupervisor(b, 1000)
	for b.Loop() {
		if snaps := s.Status(); len(snaps) != 1000 {
			b.Fatalf("%d snapshots", len(snaps))
		}
	}
}

// BenchmarkStatusLines1000 is Status plus the status lines `watchdog status` prints.
func BenchmarkStatusLines1000(b *testing.B) {
	s := benchSupervisor(b, 1000)
	for b.Loop() {
		now := time.Now()
		for _, snap := range s.Status() {
			_ = snap.Line(now)
		}
	}
}

// BenchmarkNew100 sets up 100 services: B/op divided by 100 is the heap a service costs
// before anything runs.
func BenchmarkNew100(b *testing.B) {
	cfg := benchConfig(b, 100)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(cfg, nil, zap.NewNop()); err != nil {
			b.Fatal(err)
		}
	}
}
