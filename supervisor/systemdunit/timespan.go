package systemdunit

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// infinite is what parseTimespan returns for "infinity".
const infinite = time.Duration(math.MaxInt64)

// timespanUnits are the units of systemd.time(7). A unit must not be followed by a
// letter, so "ms" is never read as "m".
var timespanUnits = []struct {
	name string
	d    time.Duration
}{
	{"seconds", time.Second}, {"second", time.Second},
	{"minutes", time.Minute}, {"minute", time.Minute},
	{"months", 2629800 * time.Second}, {"month", 2629800 * time.Second}, // 30.44 days
	{"hours", time.Hour}, {"hour", time.Hour},
	{"years", 31557600 * time.Second}, {"year", 31557600 * time.Second}, // 365.25 days
	{"weeks", 7 * 24 * time.Hour}, {"week", 7 * 24 * time.Hour},
	{"days", 24 * time.Hour}, {"day", 24 * time.Hour},
	{"usec", time.Microsecond}, {"msec", time.Millisecond},
	{"sec", time.Second}, {"min", time.Minute},
	{"us", time.Microsecond}, {"µs", time.Microsecond}, {"μs", time.Microsecond},
	{"ms", time.Millisecond},
	{"hr", time.Hour},
	{"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour},
	{"w", 7 * 24 * time.Hour}, {"M", 2629800 * time.Second}, {"y", 31557600 * time.Second},
}

// parseTimespan reads a time span as systemd.time(7) writes it: "90", "5min 20s",
// "1h30min", "2.5s", or "infinity". A number without a unit is in seconds.
func parseTimespan(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "infinity" {
		return infinite, nil
	}
	if s == "" {
		return 0, errors.New("empty time span")
	}
	var total time.Duration
	for rest := s; rest != ""; rest = strings.TrimLeft(rest, " \t") {
		end := strings.IndexFunc(rest, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if end < 0 {
			end = len(rest)
		}
		number := rest[:end]
		rest = strings.TrimLeft(rest[end:], " \t")
		n, err := strconv.ParseFloat(number, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("invalid time span %q", s)
		}
		unit := time.Second
		for _, u := range timespanUnits {
			if after, ok := strings.CutPrefix(rest, u.name); ok && !startsWithLetter(after) {
				unit, rest = u.d, after
				break
			}
		}
		if startsWithLetter(rest) {
			return 0, fmt.Errorf("invalid time span %q: unknown unit", s)
		}
		part := n * float64(unit)
		if part > float64(math.MaxInt64)-float64(total) {
			return 0, fmt.Errorf("time span %q is too long", s)
		}
		total += time.Duration(part)
	}
	return total, nil
}

func startsWithLetter(s string) bool {
	return s != "" && (s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z' || s[0] >= 0x80)
}
