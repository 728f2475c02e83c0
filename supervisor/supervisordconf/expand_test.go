package supervisordconf

import (
	"slices"
	"testing"
)

// The expected texts are what Python's % operator makes of the same format and names.
func TestExpand(t *testing.T) {
	names := expansions{"program_name": "web", "process_num": 3, "numprocs": 4, "ENV_HOME": fromHost("/root")}
	tests := []struct {
		in, want    string
		host, unset []string
	}{
		{in: "%(program_name)s_%(process_num)02d", want: "web_03"},
		{in: "%(process_num)-3d|", want: "3  |"},
		{in: "%(process_num)+d %(process_num)x %(process_num)#o", want: "+3 3 0o3"},
		{in: "%(program_name).2s|%(program_name)5s|%(program_name)-5s|", want: "we|  web|web  |"},
		{in: "%(program_name)r", want: "'web'"},
		{in: "100%%", want: "100%"},
		{in: "%(numprocs)03i", want: "004"},
		{in: "%(ENV_HOME)s/x %(ENV_HOME)s", want: "/root/x /root", host: []string{"ENV_HOME"}},
		{in: "%(ENV_UNSET)s/x", want: "%(ENV_UNSET)s/x", unset: []string{"ENV_UNSET"}},
	}
	for _, tt := range tests {
		got, err := expand(tt.in, names)
		if err != nil || got.text != tt.want || !slices.Equal(got.host, tt.host) || !slices.Equal(got.unset, tt.unset) {
			t.Errorf("expand(%q) = %+v, %v; want %q, host %v, unset %v", tt.in, got, err, tt.want, tt.host, tt.unset)
		}
	}
	for _, bad := range []string{"%", "%s", "%(program_name)", "%(program_name", "%(program_name)d", "%(nothing)s", "%(process_num)f"} {
		if got, err := expand(bad, names); err == nil {
			t.Errorf("expand(%q) = %q, want an error", bad, got.text)
		}
	}
}
