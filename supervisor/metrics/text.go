package metrics

import (
	"bytes"
	"strconv"
	"strings"
)

// contentType names what textWriter writes, for the Content-Type of /metrics.
const contentType = "text/plain; version=0.0.4; charset=utf-8"

// Metric types of the TYPE line.
const (
	counter = "counter"
	gauge   = "gauge"
)

// labelEscaper escapes a label value as the text format requires.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

// textWriter writes the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format) into a
// buffer. A family's HELP and TYPE lines go out with its first sample, so a family without
// samples is left out, and the samples of one family stay together as the format requires.
// HELP texts are constants of this package and need no escaping.
type textWriter struct {
	buf    bytes.Buffer
	name   string // of the family being written
	typ    string
	help   string
	headed bool // the family's HELP and TYPE lines are written
}

// family starts the family name; the samples written next belong to it.
func (w *textWriter) family(name, typ, help string) {
	w.name, w.typ, w.help, w.headed = name, typ, help, false
}

// sample writes one sample of the current family. labels alternate name and value.
func (w *textWriter) sample(value float64, labels ...string) {
	if !w.headed {
		w.buf.WriteString("# HELP " + w.name + " " + w.help + "\n")
		w.buf.WriteString("# TYPE " + w.name + " " + w.typ + "\n")
		w.headed = true
	}
	w.buf.WriteString(w.name)
	if len(labels) > 0 {
		w.buf.WriteByte('{')
		for i := 0; i < len(labels); i += 2 {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			w.buf.WriteString(labels[i] + `="`)
			_, _ = labelEscaper.WriteString(&w.buf, labels[i+1]) // a bytes.Buffer does not fail
			w.buf.WriteByte('"')
		}
		w.buf.WriteByte('}')
	}
	w.buf.WriteByte(' ')
	w.buf.WriteString(strconv.FormatFloat(value, 'g', -1, 64))
	w.buf.WriteByte('\n')
}

// bit is 1 for true and 0 for false, the value of a yes/no gauge.
func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
