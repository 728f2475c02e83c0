// Package metrics serves the supervisor's state over HTTP at [watchdog] metrics_address
// (shared/DESIGN.md): /metrics in the Prometheus text exposition format 0.0.4, and /healthz and
// /readyz for probes. It reads the same snapshots as `watchdog status` and `watchdog health`
// (invariant 8) and never waits on the supervision loop (invariant 3).
package metrics

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"watchdog/supervisor"
)

// Deadlines that keep a slow or silent client from holding a connection and its goroutine.
const (
	readTimeout  = 2 * time.Second // the whole request, headers first
	writeTimeout = 5 * time.Second // from the end of the request's headers to the end of the response
	// idleTimeout outlasts Prometheus' default one-minute scrape interval, so that a
	// kept-alive connection is reused.
	idleTimeout    = 90 * time.Second
	maxHeaderBytes = 8 << 10
)

// Server serves /metrics, /healthz and /readyz on a TCP listener.
type Server struct {
	http   *http.Server
	addr   net.Addr
	served chan struct{} // closed when Serve has returned
}

// Listen serves src on addr ("host:port") until Close.
func Listen(addr string, src Source, log *zap.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err) // net names the address and what failed
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		var text textWriter
		writeMetrics(&text, src, time.Now())
		reply(w, http.StatusOK, contentType, text.buf.Bytes())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		probe(w, src.Services(), healthy, "healthy", "unhealthy")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		probe(w, src.Services(), supervisor.Snapshot.AsWanted, "ready", "not ready")
	})
	s := &Server{
		http: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: readTimeout,
			ReadTimeout:       readTimeout,
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			// Through the logger's sink, which never blocks, instead of straight to stderr.
			ErrorLog: zap.NewStdLog(log.With(zap.String("component", "metrics"))),
		},
		addr:   ln.Addr(),
		served: make(chan struct{}),
	}
	log.Info("metrics_listening", zap.Stringer("address", s.addr))
	go func() {
		defer close(s.served)
		if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics_stopped", zap.String("reason", err.Error()))
		}
	}()
	return s, nil
}

// Addr is the address the server listens on, with the port chosen when addr's was 0.
func (s *Server) Addr() net.Addr {
	return s.addr
}

// Close stops listening and cuts off every connection at once: an exiting watchdog does not
// wait for scrapers.
func (s *Server) Close() {
	_ = s.http.Close() // the listener's close error changes nothing for an exiting watchdog
	<-s.served
}

// healthy is the verdict of `watchdog health`: ready, or down the way it should be.
func healthy(s supervisor.Snapshot) bool {
	return s.Ready || (s.AsWanted() && !s.Up())
}

// probe answers 200 when every service passes good, else 503; the body is one line that names
// the services that fail, in the words of `watchdog health`: "unhealthy: web failed".
func probe(w http.ResponseWriter, services []supervisor.Snapshot, good func(supervisor.Snapshot) bool, yes, no string) {
	var bad []string
	for _, s := range services {
		if !good(s) {
			bad = append(bad, s.Name+" "+problem(s))
		}
	}
	if len(bad) > 0 {
		reply(w, http.StatusServiceUnavailable, "text/plain; charset=utf-8", []byte(no+": "+strings.Join(bad, ", ")+"\n"))
		return
	}
	reply(w, http.StatusOK, "text/plain; charset=utf-8", fmt.Appendf(nil, "%s: %d services\n", yes, len(services)))
}

// problem says briefly what is wrong with a service that fails a probe.
func problem(s supervisor.Snapshot) string {
	if s.State == supervisor.Running {
		return "not ready"
	}
	return string(s.State)
}

// reply writes a response built in full beforehand: reading the state never waits on a client.
func reply(w http.ResponseWriter, status int, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // a client gone before the end is its own loss
}
