// Package control is watchdog's control socket (shared/DESIGN.md, "Command line"): a unix
// stream socket on which `watchdog status`, `health`, `start`, `stop` and `restart` ask a
// running watchdog, one JSON request and one JSON response per connection.
package control

import (
	"time"

	"watchdog/supervisor"
)

// Commands a Request may carry.
const (
	CommandStatus  = "status"  // every service's snapshot; no services named
	CommandStart   = "start"   // start the named services, lifting an operator's hold
	CommandStop    = "stop"    // stop the named services and hold them down
	CommandRestart = "restart" // stop the named services if running, then start them
	CommandReload  = "reload"  // re-read the config file and apply the difference; no services named
)

const (
	// MaxRequestSize bounds a request line, its newline included; a longer one is refused.
	MaxRequestSize = 64 << 10
	// IOTimeout bounds each step the server waits on: the client's request, the supervisor's
	// answer to a command, and the writing of the response.
	IOTimeout = 2 * time.Second
	// MaxConnections is how many clients are served at once; one more is refused at once.
	MaxConnections = 64
)

// Request is one line of JSON a client sends, e.g. {"command":"stop","services":["web"]}.
type Request struct {
	Command  string   `json:"command"`
	Services []string `json:"services,omitempty"`
	// Rolling, with restart, restarts the services one at a time, each once the one before
	// is ready again; the answer comes when the roll has begun.
	Rolling bool `json:"rolling,omitempty"`
}

// Response is the one line of JSON the server answers with before it closes the connection:
// every service's snapshot after the command when OK, else the reason in Error.
type Response struct {
	OK       bool                  `json:"ok"`
	Services []supervisor.Snapshot `json:"services,omitempty"`
	Error    string                `json:"error,omitempty"`
}
