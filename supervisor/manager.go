package supervisor

import (
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"

	"watchdog/supervisor/notify"
)

// manager tells a service manager above watchdog (systemd with Type=notify, NOTIFY_SOCKET set
// in watchdog's environment) how watchdog is doing: READY=1 once every service is ready, STATUS=
// summaries, STOPPING=1 when the shutdown begins, and WATCHDOG=1 pings when the manager
// watches watchdog. Messages go through one goroutine so that a manager that stops reading
// never holds up supervision; when its queue is full a message is dropped.
type manager struct {
	log        *zap.Logger
	messages   chan string
	done       chan struct{}
	ready      bool   // READY=1 was sent
	lastStatus string // the last STATUS= sent
	ping       *time.Ticker
}

// newManager returns nil when no manager listens (NOTIFY_SOCKET unset): every method of a nil
// manager does nothing.
func newManager(log *zap.Logger) *manager {
	if os.Getenv("NOTIFY_SOCKET") == "" {
		return nil
	}
	m := &manager{log: log, messages: make(chan string, 16), done: make(chan struct{})}
	if interval, ok := notify.WatchdogInterval(); ok {
		m.ping = time.NewTicker(interval / 2)
	}
	go m.send()
	return m
}

func (m *manager) send() {
	defer close(m.done)
	for msg := range m.messages {
		if err := notify.Send(msg); err != nil {
			m.log.Warn("manager_notify_failed", zap.Error(err))
		}
	}
}

func (m *manager) post(msg string) {
	select {
	case m.messages <- msg:
	default:
		m.log.Warn("manager_notify_dropped", zap.String("message", msg))
	}
}

// pings is the channel of the watchdog pings the manager expects, nil when it expects none.
func (m *manager) pings() <-chan time.Time {
	if m == nil || m.ping == nil {
		return nil
	}
	return m.ping.C
}

func (m *manager) pingNow() {
	m.post("WATCHDOG=1")
}

// update reports the services' state: a STATUS= line when the summary changed, and READY=1
// the first time every service is ready (or as wanted).
func (m *manager) update(snaps []Snapshot) {
	if m == nil {
		return
	}
	ready, allReady := 0, true
	for _, s := range snaps {
		if s.Ready || s.AsWanted() {
			ready++
		} else {
			allReady = false
		}
	}
	status := fmt.Sprintf("%d of %d services ready", ready, len(snaps))
	msg := ""
	if status != m.lastStatus {
		msg = "STATUS=" + status
		m.lastStatus = status
	}
	if allReady && !m.ready {
		m.ready = true
		msg = "READY=1\n" + msg
	}
	if msg != "" {
		m.post(msg)
	}
}

// stopping says the shutdown began.
func (m *manager) stopping(reason string) {
	if m == nil {
		return
	}
	m.post("STOPPING=1\nSTATUS=shutting down: " + reason)
}

// close sends what is queued, waiting at most timeout for the manager.
func (m *manager) close(timeout time.Duration) {
	if m == nil {
		return
	}
	if m.ping != nil {
		m.ping.Stop()
	}
	close(m.messages)
	select {
	case <-m.done:
	case <-time.After(timeout):
	}
}
