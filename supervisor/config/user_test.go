package config

import (
	"os/user"
	"reflect"
	"slices"
	"strconv"
	"testing"
)

// The tests read the real user database; root is in every Linux one.
func TestResolveUser(t *testing.T) {
	root, err := user.Lookup("root")
	if err != nil {
		t.Skipf("no root user in this user database: %v", err)
	}
	rootGroups := groupsOf(t, root)
	for _, tc := range []struct {
		spec string
		want Credential
	}{
		{"root", Credential{UID: 0, GID: 0, Groups: rootGroups, Home: root.HomeDir, Name: "root"}},
		{"0", Credential{UID: 0, GID: 0, Groups: rootGroups, Home: root.HomeDir, Name: "root"}},
		{"root:root", Credential{UID: 0, GID: 0, Groups: rootGroups, Home: root.HomeDir, Name: "root"}},
		{"0:1234", Credential{UID: 0, GID: 1234, Groups: rootGroups, Home: root.HomeDir, Name: "root"}},
		// A uid with no passwd entry runs with gid 0 and no HOME, as with docker run --user.
		{"4000111", Credential{UID: 4000111}},
		{"4000111:4000222", Credential{UID: 4000111, GID: 4000222}},
		{"4000111:root", Credential{UID: 4000111, GID: 0}},
	} {
		got, err := resolveUser(tc.spec)
		if err != nil {
			t.Errorf("resolveUser(%q): %v", tc.spec, err)
			continue
		}
		if !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("resolveUser(%q) = %+v, want %+v", tc.spec, *got, tc.want)
		}
	}
}

func TestResolveUserRejects(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"no-such-user-here", `unknown user "no-such-user-here"`},
		{"root:no-such-group-here", `unknown group "no-such-group-here"`},
		{":0", "user name is empty"},
		{"0:", "group name is empty"},
		{"4294967296", `unknown user "4294967296"`}, // beyond uint32
	} {
		_, err := resolveUser(tc.spec)
		if err == nil || err.Error() != tc.want {
			t.Errorf("resolveUser(%q) error = %v, want %q", tc.spec, err, tc.want)
		}
	}
}

func groupsOf(t *testing.T, u *user.User) []uint32 {
	t.Helper()
	ids, err := u.GroupIds()
	if err != nil {
		t.Fatalf("groups of %s: %v", u.Username, err)
	}
	var groups []uint32
	for _, id := range ids {
		n, err := strconv.ParseUint(id, 10, 32)
		if err != nil {
			t.Fatalf("group id %q: %v", id, err)
		}
		groups = append(groups, uint32(n))
	}
	slices.Sort(groups)
	return slices.Compact(groups)
}
