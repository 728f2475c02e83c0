package config

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParse100 decodes, defaults and validates a config of 100 services that use the
// common keys (bench/run micro): what every start and every reload pays.
func BenchmarkParse100(b *testing.B) {
	var toml strings.Builder
	toml.WriteString("[watchdog]\nshutdown_timeout = \"9s\"\n")
	for i := range 100 {
		fmt.Fprintf(&toml, `
[services.svc%03d]
command = ["/bin/sleep", "1000"]
environment = { APP_ENV = "prod", INDEX = "%d" }
restart = "on-failure"
restart_delay = "1s"
max_restarts = 5
stop_signal = "SIGINT"
stop_grace_period = "3s"
`, i, i)
		if i > 0 {
			fmt.Fprintf(&toml, "depends_on = [\"svc%03d\"]\n", i-1)
		}
		fmt.Fprintf(&toml, "[services.svc%03d.healthcheck]\nhttp = \"http://127.0.0.1:%d/healthz\"\ninterval = \"5s\"\n", i, 8000+i)
	}
	data := []byte(toml.String())
	for b.Loop() {
		if _, err := Parse("bench.toml", data); err != nil {
			b.Fatal(err)
		}
	}
}
