package control

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzReadRequest feeds arbitrary bytes to readRequest, the reader of what a control client
// sends. It must return, never panic, and either refuse with an error and no request, or
// accept exactly what a strict JSON decoder reads from the first line: one object of the
// Request fields and nothing after it. The seeds are in testdata/fuzz/FuzzReadRequest; a
// longer run is
//
//	go test -run='^$' -fuzz='^FuzzReadRequest$' -fuzztime=60s ./supervisor/control
func FuzzReadRequest(f *testing.F) {
	// Too big to keep as files: a request of exactly MaxRequestSize bytes with its newline,
	// and one a byte longer, with and without the newline.
	status := `{"command":"status"}`
	exact := status + strings.Repeat(" ", MaxRequestSize-len(status)-1) + "\n"
	f.Add([]byte(exact))
	f.Add([]byte(" " + exact))
	f.Add([]byte(strings.TrimSuffix(exact, "\n") + " "))
	f.Add([]byte(`{"command":"stop","services":["` + strings.Repeat("a", MaxRequestSize) + `"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req Request
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			req, err = readRequest(bytes.NewReader(data))
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("readRequest(%q) still running after 10s", data)
		}
		line, _, _ := bytes.Cut(data, []byte("\n"))
		if err != nil {
			if !reflect.DeepEqual(req, Request{}) {
				t.Errorf("readRequest(%q) refused (%v) but returned %+v", data, err, req)
			}
			if err.Error() == "" {
				t.Errorf("readRequest(%q): empty error", data)
			}
			// The reason goes back to the client as Response.Error: it must encode.
			if _, jerr := json.Marshal(failure(err)); jerr != nil {
				t.Errorf("readRequest(%q): error %q does not encode: %v", data, err, jerr)
			}
			return
		}
		size := len(line)
		if len(line) < len(data) {
			size++ // its newline
		}
		if size > MaxRequestSize {
			t.Errorf("readRequest accepted a line of %d bytes, over MaxRequestSize %d", size, MaxRequestSize)
		}
		// Accepted: the line is one JSON object, and nothing else.
		var fields map[string]json.RawMessage
		if jerr := json.Unmarshal(line, &fields); jerr != nil {
			t.Fatalf("readRequest(%q) = %+v, but the line is not one JSON object: %v", data, req, jerr)
		}
		for name := range fields {
			if !strings.EqualFold(name, "command") && !strings.EqualFold(name, "services") {
				t.Errorf("readRequest(%q) accepted unknown field %q", data, name)
			}
		}
		// What a client that sends the request back gets must be the same request.
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := readRequest(bytes.NewReader(append(again, '\n'))); err != nil ||
			back.Command != req.Command || !slices.Equal(back.Services, req.Services) {
			t.Errorf("readRequest(%q) = %+v; re-encoded as %s it reads %+v, %v", data, req, again, back, err)
		}
	})
}
