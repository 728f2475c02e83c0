package supervisordconf

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// policy is what decides whether and how often supervisord starts a program again.
type policy struct {
	autorestart  string // "true", "false" or "unexpected"
	exitcodes    []int  // the expected exit codes; empty expects none
	startsecs    int
	startretries int
	// where each was written; nil for supervisord's default
	autorestartFrom, exitcodesFrom, startsecsFrom, startretriesFrom *option
}

// loss is an option whose meaning the settings do not keep, and why.
type loss struct {
	option *option
	reason string
}

// policy reads autorestart, exitcodes, startsecs and startretries.
func (r *reader) policy() policy {
	p := policy{autorestart: "unexpected", exitcodes: []int{0}}
	if v, o := r.get("autorestart"); o != nil {
		switch low := strings.ToLower(v); {
		case low == "unexpected":
			p.autorestart, p.autorestartFrom = low, o
		default:
			if b, err := parseBoolean(v); err != nil {
				r.errorf(o, "%q is not true, false or unexpected", v)
			} else {
				p.autorestart, p.autorestartFrom = strconv.FormatBool(b), o
			}
		}
	}
	if v, o := r.get("exitcodes"); o != nil {
		if codes, err := parseExitCodes(v); err != nil {
			r.errorf(o, "%v", err)
		} else {
			p.exitcodes, p.exitcodesFrom = codes, o
		}
	}
	p.startsecs, p.startsecsFrom = r.integer("startsecs", 1)
	p.startretries, p.startretriesFrom = r.integer("startretries", 3)
	return p
}

// parseExitCodes reads exitcodes: numbers from 0 to 255 separated by commas; "" is none.
func parseExitCodes(v string) ([]int, error) {
	if v == "" {
		return nil, nil
	}
	var codes []int
	for _, field := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil || n < 0 || n > 255 {
			return nil, fmt.Errorf("%q is not a list of exit codes from 0 to 255 separated by commas", v)
		}
		codes = append(codes, n)
	}
	return codes, nil
}

// settings translates the policy. The first setting is always restart.
//
// supervisord counts a start as failed when the program exits within startsecs, whatever
// its exit code, and retries it after 1 s, 2 s, ... startretries s; after startretries
// failed retries in a row it gives up (FATAL). This holds whatever autorestart says. A run
// that lasts startsecs counts as started, and an exit after it is restarted at once, as
// autorestart says, for ever.
//
// watchdog counts restarts within restart_window instead: max_restarts = startretries
// within the time supervisord's retries take (startretries runs of at most startsecs and
// the waits between them) gives up on a program that fails at once, as supervisord does,
// and lets one that runs for a while restart for ever. The backoff starts at supervisord's
// first wait, 1 s, and doubles up to its last, startretries s. What is lost: watchdog waits
// restart_delay before restarting a long run, where supervisord restarts at once, and
// judges a quick exit by its code, where supervisord retries it.
func (p policy) settings() ([]Setting, []loss) {
	restart := map[string]string{"true": "always", "false": "no", "unexpected": "on-failure"}[p.autorestart]
	out := []Setting{{Key: "restart", Value: restart}}
	if restart == "on-failure" && len(p.exitcodes) == 0 {
		out[0] = Setting{Key: "restart", Value: "always", Why: "autorestart=unexpected, and exitcodes expects no code"}
	}
	if codes := slices.Compact(slices.Sorted(slices.Values(p.exitcodes))); len(codes) > 0 && !slices.Equal(codes, []int{0}) {
		out = append(out, Setting{Key: "success_exit_codes", Value: anyList(int64s(codes))})
	}
	var lost []loss
	retries := p.startsecs > 0 && p.startretries > 0
	switch {
	case restart == "no" && retries:
		lost = append(lost, loss{p.autorestartFrom, fmt.Sprintf(
			"supervisord still retries a start that ends within startsecs (%ds), up to startretries (%d) times; watchdog does not start the service again",
			p.startsecs, p.startretries)})
	case restart == "no" || p.startsecs <= 0:
		// Nothing to limit: with startsecs=0 supervisord never gives up. watchdog's default
		// backoff spaces the restarts of a crash loop.
	case p.startretries <= 0:
		lost = append(lost, loss{p.startretriesFrom,
			"supervisord gives up at the first start that ends within startsecs but restarts a longer run for ever; watchdog cannot limit the one without the other: no restart limit"})
	default:
		first, last, window := restartLimit(p.startsecs, p.startretries)
		out = append(out,
			Setting{Key: "restart_delay", Value: first.String(), Why: "supervisord waits 1s before its first start retry"},
			Setting{Key: "restart_max_delay", Value: last.String(), Why: "and startretries seconds before its last"},
			Setting{Key: "max_restarts", Value: int64(p.startretries), Why: "startretries"},
			Setting{Key: "restart_window", Value: window.String(), Why: "startretries runs shorter than startsecs, and the waits"},
		)
	}
	return out, lost
}

// restartLimit returns the backoff and window for startretries retries of runs shorter
// than startsecs (see policy.settings). The window holds watchdog's waits at their
// longest, with the 10% of jitter its backoff adds.
func restartLimit(startsecs, startretries int) (first, last, window time.Duration) {
	first, last = time.Second, time.Duration(startretries)*time.Second
	var waits time.Duration
	for n, wait := 1, first; n <= startretries; n++ {
		waits += wait
		wait = min(2*wait, last)
	}
	jittered := time.Duration(math.Ceil(float64(waits) * 1.1 / float64(time.Second)))
	window = time.Duration(startretries*startsecs)*time.Second + jittered*time.Second
	return first, last, window
}

func int64s(ints []int) []int64 {
	out := make([]int64, len(ints))
	for i, n := range ints {
		out[i] = int64(n)
	}
	return out
}

// seconds prints n seconds as a duration setting.
func seconds(n int) string {
	return (time.Duration(n) * time.Second).String()
}
