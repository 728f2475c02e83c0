package config

import (
	"bytes"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// These tests hold Reference, and so docs/config.md, to the decoder: a key the decoder reads
// but Reference lacks, a documented key the decoder rejects or ignores, and a documented
// default the decoder does not apply all fail here.

// referenceTable maps each table of Reference to where it is in a parsed document whose
// service is called "web".
var referenceTable = map[string][]string{
	"watchdog":                  {"watchdog"},
	"services.NAME":             {"services", "web"},
	"services.NAME.healthcheck": {"services", "web", "healthcheck"},
}

// lookupDoc returns the KeyDoc of key in table.
func lookupDoc(table, key string) (KeyDoc, bool) {
	i := slices.IndexFunc(Reference, func(k KeyDoc) bool { return k.Table == table && k.Key == key })
	if i < 0 {
		return KeyDoc{}, false
	}
	return Reference[i], true
}

func TestReferenceTables(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Reference {
		id := k.Table + "." + k.Key
		if seen[id] {
			t.Errorf("%s is documented twice", id)
		}
		seen[id] = true
		if _, ok := referenceTable[k.Table]; !ok {
			t.Errorf("%s: unknown table %q", id, k.Table)
		}
		if !slices.ContainsFunc(Types, func(ty struct{ Name, Meaning string }) bool { return ty.Name == k.Type }) {
			t.Errorf("%s: type %q is not in Types", id, k.Type)
		}
		if k.Meaning == "" || k.Example == "" {
			t.Errorf("%s: no meaning or no example", id)
		}
	}
	for _, table := range Tables {
		if len(referenceKeys(table.Name)) == 0 {
			t.Errorf("table %s has no keys", table.Name)
		}
	}
	if len(Tables) != len(referenceTable) {
		t.Errorf("Tables has %d tables, the tests know %d", len(Tables), len(referenceTable))
	}
}

// keyCandidates returns every string literal in the code of the package, and of the
// packages below it, that could be a bare key: the decoder reads each key by a literal
// name, so its keys are among these.
func keyCandidates(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && d.Name() == "testdata":
			return filepath.SkipDir
		case !d.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go"):
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	bare := regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	set := map[string]bool{}
	fset := token.NewFileSet()
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && bare.MatchString(s) {
					set[s] = true
				}
			}
			return true
		})
	}
	var out []string
	for s := range set {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// accepts reports whether the decoder reads key in the table at header ("" for the top of
// the document): it reports every key it did not read as "unknown key", whatever the value.
func accepts(t *testing.T, header, key string) bool {
	t.Helper()
	text := key + " = 1\n"
	dotted := key
	if header != "" {
		text = "[" + header + "]\n" + text
		dotted = header + "." + key
	}
	_, err := parse("w.toml", []byte(text), 0)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("%q: want config errors (the value is of no type any key takes), got %v", text, err)
	}
	for _, e := range errs {
		if e.Key == dotted && e.Msg == "unknown key" {
			return false
		}
	}
	return true
}

// TestReferenceCoversDecoder finds every key the decoder reads, table by table, by trying
// every candidate name, and wants exactly those documented.
func TestReferenceCoversDecoder(t *testing.T) {
	candidates := keyCandidates(t)
	var top []string
	for _, c := range candidates {
		if accepts(t, "", c) {
			top = append(top, c)
		}
	}
	if want := []string{"services", "watchdog"}; !slices.Equal(top, want) {
		t.Errorf("top-level keys the decoder reads: %q, want the tables of Reference %q", top, want)
	}
	for _, table := range Tables {
		header := strings.Join(referenceTable[table.Name], ".")
		var read, documented []string
		for _, c := range candidates {
			if accepts(t, header, c) {
				read = append(read, c)
			}
		}
		for _, k := range referenceKeys(table.Name) {
			documented = append(documented, k.Key)
		}
		slices.Sort(documented)
		for _, k := range read {
			if !slices.Contains(documented, k) {
				t.Errorf("[%s] %s: the decoder reads it, Reference does not document it", table.Name, k)
			}
		}
		for _, k := range documented {
			if !slices.Contains(read, k) {
				t.Errorf("[%s] %s: documented, but the decoder does not read it", table.Name, k)
			}
		}
	}
}

// decodePlan parses a config and returns its plan as `watchdog check` prints it, decoded.
func decodePlan(t *testing.T, path, text string) map[string]any {
	t.Helper()
	cfg, err := parse(path, []byte(text), 0)
	if err != nil {
		t.Fatalf("parse:\n%s\n%v", text, err)
	}
	var plan bytes.Buffer
	if err := cfg.WritePlan(&plan); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if _, err := toml.Decode(plan.String(), &doc); err != nil {
		t.Fatalf("plan is not TOML: %v\n%s", err, plan.String())
	}
	return doc
}

// tableAt returns the table at path of a decoded document, or nil.
func tableAt(doc map[string]any, path []string) map[string]any {
	for _, name := range path {
		next, _ := doc[name].(map[string]any)
		if next == nil {
			return nil
		}
		doc = next
	}
	return doc
}

// hasType reports whether v, as the TOML package decodes it, is a value of a Reference Type.
func hasType(typ string, v any) bool {
	switch typ {
	case "string":
		_, ok := v.(string)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "integer":
		_, ok := v.(int64)
		return ok
	case "duration":
		s, ok := v.(string)
		_, err := time.ParseDuration(s)
		return ok && err == nil
	case "signal":
		_, err := signalOf(v)
		return err == nil
	case "array of strings", "array of integers":
		items, ok := v.([]any)
		if !ok {
			_, empty := v.([]map[string]any) // how the toml package decodes [] into any
			return empty
		}
		item := strings.TrimPrefix(strings.TrimSuffix(typ, "s"), "array of ")
		for _, x := range items {
			if !hasType(item, x) {
				return false
			}
		}
		return true
	case "table of strings":
		m, ok := v.(map[string]any)
		for _, x := range m {
			if _, isString := x.(string); !isString {
				return false
			}
		}
		return ok
	case "table":
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

func signalOf(v any) (int, error) {
	switch v := v.(type) {
	case string:
		sig, err := ParseSignal(v)
		return int(sig), err
	case int64:
		sig, err := ParseSignal(strconv.FormatInt(v, 10))
		return int(sig), err
	}
	return 0, errors.New("not a signal")
}

// sameValue compares a documented value with a decoded one as the key's type means them:
// "60s" is "1m0s", "TERM" is "SIGTERM".
func sameValue(typ string, a, b any) bool {
	switch typ {
	case "duration":
		da, errA := time.ParseDuration(a.(string))
		db, errB := time.ParseDuration(b.(string))
		return errA == nil && errB == nil && da == db
	case "signal":
		sa, errA := signalOf(a)
		sb, errB := signalOf(b)
		return errA == nil && errB == nil && sa == sb
	case "array of strings", "array of integers":
		la, _ := a.([]any)
		lb, _ := b.([]any)
		return len(la) == 0 && len(lb) == 0 || reflect.DeepEqual(la, lb)
	}
	return reflect.DeepEqual(a, b)
}

// tomlValue decodes a value written as TOML.
func tomlValue(t *testing.T, text string) any {
	t.Helper()
	var doc map[string]any
	if _, err := toml.Decode("v = "+text, &doc); err != nil {
		t.Fatalf("%s: %v", text, err)
	}
	return doc["v"]
}

// minimalConfig writes only what must be written: a service's command and one probe.
const minimalConfig = `[watchdog]

[services.web]
command = ["/bin/sh"]

[services.web.healthcheck]
tcp = "127.0.0.1:8080"
`

// minimalKeys are the keys minimalConfig writes, so the only ones that need no default.
var minimalKeys = []string{"services.NAME.command", "services.NAME.healthcheck", "services.NAME.healthcheck.tcp"}

// TestReferenceDefaults wants every key the plan of a minimal config shows to have a
// documented default, and that default to be the value the decoder gave it.
func TestReferenceDefaults(t *testing.T) {
	doc := decodePlan(t, "w.toml", minimalConfig)
	for _, table := range Tables {
		values := tableAt(doc, referenceTable[table.Name])
		if values == nil {
			t.Fatalf("no [%s] in the plan", table.Name)
		}
		for key, v := range values {
			k, ok := lookupDoc(table.Name, key)
			switch {
			case !ok:
				t.Errorf("[%s] %s: in the plan, not in Reference", table.Name, key)
			case k.Default == "" && !slices.Contains(minimalKeys, table.Name+"."+key):
				t.Errorf("[%s] %s: no documented default, and the decoder gives it %v", table.Name, key, v)
			case k.Default != "" && !sameValue(k.Type, tomlValue(t, k.Default), v):
				t.Errorf("[%s] %s: documented default %s, the decoder gives %#v", table.Name, key, k.Default, v)
			}
		}
	}
	for _, k := range Reference {
		if k.Default == "" {
			continue
		}
		if !hasType(k.Type, tomlValue(t, k.Default)) {
			t.Errorf("[%s] %s: default %s is no %s", k.Table, k.Key, k.Default, k.Type)
		}
		values := tableAt(doc, referenceTable[k.Table])
		if _, ok := values[k.Key]; !ok {
			t.Errorf("[%s] %s: documented default %s, but the plan of a config without the key does not show it", k.Table, k.Key, k.Default)
		}
	}
}

// exampleConfig puts a KeyDoc's Example in its table, under what the table needs besides.
// With example "", it is the config the example is compared with.
func exampleConfig(k KeyDoc, example string) string {
	const service, probe = "command = [\"/bin/sh\"]\n", "tcp = \"127.0.0.1:8080\"\n"
	switch k.Table {
	case "watchdog":
		return "[watchdog]\n" + example + "\n"
	case "services.NAME":
		if example != "" && (k.Key == "command" || k.Key == "unit") {
			return "[services.web]\n" + example + "\n"
		}
		return "[services.web]\n" + service + example + "\n"
	}
	text := "[services.web]\n" + service + "\n[services.web.healthcheck]\n"
	if example != "" && (k.Key == "command" || k.Key == "http" || k.Key == "tcp") {
		return text + example + "\n"
	}
	return text + probe + example + "\n"
}

// TestReferenceExamples wants every Example, in its table, to be a valid config that
// writes its key, and to give the plan other values than the config without it.
func TestReferenceExamples(t *testing.T) {
	for _, k := range Reference {
		t.Run(k.Table+"."+k.Key, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "watchdog.toml")
			text := exampleConfig(k, k.Example)
			var written map[string]any
			if _, err := toml.Decode(text, &written); err != nil {
				t.Fatalf("example is not TOML: %v\n%s", err, text)
			}
			v, ok := tableAt(written, referenceTable[k.Table])[k.Key]
			if !ok {
				t.Fatalf("example does not write %s in [%s]:\n%s", k.Key, k.Table, k.Example)
			}
			if !hasType(k.Type, v) {
				t.Errorf("example value %#v is no %s", v, k.Type)
			}
			if k.Default != "" && sameValue(k.Type, tomlValue(t, k.Default), v) {
				t.Errorf("example writes the default, %s: it shows nothing", k.Default)
			}
			if k.Key == "unit" {
				unit := "[Service]\nExecStart=/bin/sh -c \"exec sleep infinity\"\n"
				if err := os.WriteFile(filepath.Join(dir, v.(string)), []byte(unit), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			with := tableAt(decodePlan(t, path, text), referenceTable[k.Table])
			without := tableAt(decodePlan(t, path, exampleConfig(k, "")), referenceTable[k.Table])
			after, inPlan := with[k.Key]
			if before, ok := without[k.Key]; ok && inPlan {
				if reflect.DeepEqual(before, after) {
					t.Errorf("%s is %#v in the plan with the example as without it", k.Key, after)
				}
			} else if reflect.DeepEqual(with, without) {
				t.Errorf("the example changes nothing in the plan's [%s]", k.Table)
			}
		})
	}
}

// fullConfig uses every feature: every table, each kind of probe, copies of a service and
// a unit file, so that its plan shows every key `watchdog check` can print.
const fullConfig = `[watchdog]
shutdown_timeout = "20s"
control_socket = "/tmp/w.sock"
metrics_address = "127.0.0.1:9102"
log = "json"

[services.migrate]
command = ["/bin/true"]
oneshot = true
restart = "on-failure"
success_exit_codes = [0, 3]

[services.web]
command = ["/bin/sh", "-c", "exec sleep infinity"]
user = "nobody"
working_dir = "/tmp"
environment = { APP_ENV = "prod" }
depends_on = ["migrate"]
critical = true
restart = "on-failure"
restart_delay = "1s"
restart_max_delay = "10s"
max_restarts = 5
restart_window = "2m"
stop_signal = "SIGQUIT"
stop_grace_period = "3s"
notify = true
watchdog_timeout = "30s"
startup_timeout = "1m"
log = "inherit"
instances = 2

[services.web.healthcheck]
http = "http://127.0.0.1:8080/healthz"
interval = "5s"
timeout = "1s"
retries = 2
start_period = "10s"
on_unhealthy = "ignore"

[services.db]
command = ["/bin/sh"]
healthcheck.tcp = "127.0.0.1:5432"

[services.cache]
command = ["/bin/sh"]
healthcheck.command = ["/bin/true"]

[services.legacy]
unit = "legacy.service"
`

// TestReferenceCoversPlan wants every key in the plan of a config using every feature to
// be documented with its type, and every documented key to be in it: the plan shows every
// effective value. unit is the exception: it is replaced by the settings it gives.
func TestReferenceCoversPlan(t *testing.T) {
	dir := t.TempDir()
	unit := "[Service]\nExecStartPre=/bin/true\nExecStart=/bin/sh -c \"exec sleep infinity\"\n"
	if err := os.WriteFile(filepath.Join(dir, "legacy.service"), []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := parse(filepath.Join(dir, "watchdog.toml"), []byte(fullConfig), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.AddMain([]string{"/bin/sh"}); err != nil {
		t.Fatal(err)
	}
	var plan bytes.Buffer
	if err := cfg.WritePlan(&plan); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if _, err := toml.Decode(plan.String(), &doc); err != nil {
		t.Fatalf("plan is not TOML: %v\n%s", err, plan.String())
	}
	shown := map[string]bool{}
	check := func(table string, values map[string]any) {
		for key, v := range values {
			shown[table+"."+key] = true
			k, ok := lookupDoc(table, key)
			switch {
			case !ok:
				t.Errorf("[%s] %s: in the plan, not in Reference", table, key)
			case !hasType(k.Type, v):
				t.Errorf("[%s] %s: the plan shows %#v, Reference says it is a %s", table, key, v, k.Type)
			}
		}
	}
	for table := range doc {
		if table != "watchdog" && table != "services" {
			t.Errorf("plan has table [%s], Reference does not", table)
		}
	}
	check("watchdog", tableAt(doc, []string{"watchdog"}))
	services := tableAt(doc, []string{"services"})
	for _, name := range []string{"migrate", "web", "db", "cache", "legacy", "legacy-pre"} {
		if services[name] == nil {
			t.Errorf("no [services.%s] in the plan:\n%s", name, plan.String())
		}
	}
	for name := range services {
		s := tableAt(services, []string{name})
		check("services.NAME", s)
		if h := tableAt(s, []string{"healthcheck"}); h != nil {
			check("services.NAME.healthcheck", h)
		}
	}
	for _, k := range Reference {
		if !shown[k.Table+"."+k.Key] && k.Key != "unit" {
			t.Errorf("[%s] %s: documented, but the plan of a config using every feature does not show it", k.Table, k.Key)
		}
	}
}

func TestWriteReference(t *testing.T) {
	var b bytes.Buffer
	if err := WriteReference(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, k := range Reference {
		if !strings.Contains(out, "\n### "+k.Key+"\n") || !strings.Contains(out, k.Example) {
			t.Errorf("[%s] %s: no section with its example", k.Table, k.Key)
		}
	}
	// Every TOML block is a whole table, as a reader would paste it.
	blocks := regexp.MustCompile("(?s)```toml\n(.*?)```").FindAllStringSubmatch(out, -1)
	if len(blocks) != len(Reference) {
		t.Errorf("%d TOML blocks, want one for each of the %d keys", len(blocks), len(Reference))
	}
	for _, m := range blocks {
		var doc map[string]any
		if _, err := toml.Decode(m[1], &doc); err != nil {
			t.Errorf("block is not TOML: %v\n%s", err, m[1])
		}
	}
}
