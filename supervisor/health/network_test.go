package health

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"watchdog/supervisor/config"
)

func httpCheck(url string) func(*config.Healthcheck) {
	return func(hc *config.Healthcheck) { hc.HTTP = url }
}

func tcpCheck(addr string) func(*config.Healthcheck) {
	return func(hc *config.Healthcheck) { hc.TCP = addr }
}

// server serves handler on 127.0.0.1 until the test ends.
func server(t *testing.T, handler http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(handler)
	t.Cleanup(s.Close)
	return s
}

// closedPort returns a 127.0.0.1 address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestHTTPStatus(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	mux.HandleFunc("/down", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	// Followed, this redirect would lead to a 503.
	mux.Handle("/moved", http.RedirectHandler("/down", http.StatusFound))
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("b", 10000)))
	})
	s := server(t, mux.ServeHTTP)

	for _, tc := range []struct {
		path    string
		healthy bool
		reason  string
		output  string
	}{
		{path: "/ok", healthy: true, output: "ok"},
		{path: "/moved", healthy: true, output: `<a href="/down">Found</a>.` + "\n\n"},
		{path: "/down", reason: "HTTP 503", output: "down\n"},
		{path: "/missing", reason: "HTTP 404", output: "404 page not found\n"},
		{path: "/big", healthy: true, output: strings.Repeat("b", 4096)},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res := firstResult(t, healthcheck(httpCheck(s.URL+tc.path)), Spec{})
			wantResult(t, res, tc.healthy, tc.reason)
			if res.Output != tc.output {
				t.Errorf("output = %q, want %q", res.Output, tc.output)
			}
		})
	}
}

func TestHTTPTimeout(t *testing.T) {
	s := server(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	hc := healthcheck(httpCheck(s.URL))
	hc.Timeout = 200 * time.Millisecond
	res := firstResult(t, hc, Spec{})
	wantResult(t, res, false, "timed out after 200ms")
	if res.Took < hc.Timeout || res.Took > wait {
		t.Errorf("took %v, want the timeout, %v", res.Took, hc.Timeout)
	}
}

func TestHTTPConnectionRefused(t *testing.T) {
	addr := closedPort(t)
	res := firstResult(t, healthcheck(httpCheck("http://"+addr+"/healthz")), Spec{})
	wantResult(t, res, false, "dial tcp "+addr+": connect: connection refused")
}

func TestTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	res := firstResult(t, healthcheck(tcpCheck(l.Addr().String())), Spec{})
	wantResult(t, res, true, "")

	addr := closedPort(t)
	res = firstResult(t, healthcheck(tcpCheck(addr)), Spec{})
	wantResult(t, res, false, "dial tcp "+addr+": connect: connection refused")
}

func TestProbesNeverOverlap(t *testing.T) {
	var mu sync.Mutex
	inFlight, most := 0, 0
	s := server(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(20 * time.Millisecond) // a slow service, slower than the interval
		mu.Lock()
		inFlight--
		mu.Unlock()
	})
	hc := healthcheck(httpCheck(s.URL))
	hc.Interval = time.Millisecond
	c := start(t, hc, Spec{StartInterval: time.Millisecond})
	prev := receive(t, c)
	for range 5 {
		res := receive(t, c)
		if finished := prev.At.Add(prev.Took); res.At.Before(finished) {
			t.Errorf("a probe started at %v, before the previous one finished at %v", res.At, finished)
		}
		prev = res
	}
	c.Stop()
	mu.Lock()
	defer mu.Unlock()
	if most != 1 {
		t.Errorf("up to %d probes ran at once, want 1", most)
	}
}

func TestStartIntervalUntilFirstHealthy(t *testing.T) {
	var mu sync.Mutex
	requests := 0
	s := server(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if requests++; requests <= 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	hc := healthcheck(httpCheck(s.URL))
	hc.Interval = time.Second
	c := start(t, hc, Spec{StartInterval: 10 * time.Millisecond})
	var results []Result
	for range 5 {
		results = append(results, receive(t, c))
	}
	c.Stop()
	for i, res := range results {
		if wantHealthy := i >= 3; res.Healthy != wantHealthy {
			t.Fatalf("result %d healthy = %v, want %v", i, res.Healthy, wantHealthy)
		}
	}
	for i, res := range results[1:] {
		prev := results[i]
		gap := res.At.Sub(prev.At.Add(prev.Took))
		if prev.Healthy && gap < hc.Interval {
			t.Errorf("probe %d came %v after a healthy one, want the interval, %v", i+1, gap, hc.Interval)
		}
		if !prev.Healthy && gap >= hc.Interval {
			t.Errorf("probe %d came %v after a failed one before the first success, want the start interval", i+1, gap)
		}
	}
}

func TestStopDuringHTTPProbe(t *testing.T) {
	inFlight := make(chan struct{}, 1)
	s := server(t, func(w http.ResponseWriter, r *http.Request) {
		inFlight <- struct{}{}
		<-r.Context().Done()
	})
	c := start(t, healthcheck(httpCheck(s.URL)), Spec{})
	select {
	case <-inFlight:
	case <-time.After(wait):
		t.Fatalf("no probe within %v", wait)
	}
	stopReturns(t, c)
}

func TestStopWithNobodyReceiving(t *testing.T) {
	probed := make(chan struct{}, 1)
	s := server(t, func(w http.ResponseWriter, r *http.Request) { probed <- struct{}{} })
	c := start(t, healthcheck(httpCheck(s.URL)), Spec{})
	select {
	case <-probed:
	case <-time.After(wait):
		t.Fatalf("no probe within %v", wait)
	}
	stopReturns(t, c)
}

// stopReturns fails the test unless c.Stop returns in time.
func stopReturns(t *testing.T, c *Checker) {
	t.Helper()
	stopped := make(chan struct{})
	go func() {
		c.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(wait):
		t.Fatalf("Stop did not return within %v", wait)
	}
}
