package config

import (
	"errors"
	"fmt"
	"os/user"
	"slices"
	"strconv"
	"strings"
)

// resolveUser turns a `user =` value ("name", "uid", "name:group", "uid:gid", or any
// mix) into the credential a service runs with. It follows `docker run --user`: a user
// gets its primary group and the groups that list it in /etc/group; a uid with no
// passwd entry runs with gid 0 and no HOME; a group after the colon replaces the
// primary group.
func resolveUser(spec string) (*Credential, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	cred, err := lookupUser(userPart)
	if err != nil {
		return nil, err
	}
	if hasGroup {
		if cred.GID, err = lookupGroup(groupPart); err != nil {
			return nil, err
		}
	}
	return cred, nil
}

func lookupUser(name string) (*Credential, error) {
	if name == "" {
		return nil, fmt.Errorf("user name is empty")
	}
	uid, numErr := strconv.ParseUint(name, 10, 32)
	var u *user.User
	var err error
	if numErr == nil {
		u, err = user.LookupId(name)
		if err != nil {
			return &Credential{UID: uint32(uid)}, nil // a bare uid
		}
	} else if u, err = user.Lookup(name); err != nil {
		if _, unknown := errors.AsType[user.UnknownUserError](err); unknown {
			return nil, fmt.Errorf("unknown user %q", name)
		}
		return nil, fmt.Errorf("look up user %q: %w", name, err)
	}
	cred := &Credential{Name: u.Username, Home: u.HomeDir}
	if cred.UID, err = parseID(u.Uid); err != nil {
		return nil, fmt.Errorf("user %q: uid: %w", name, err)
	}
	if cred.GID, err = parseID(u.Gid); err != nil {
		return nil, fmt.Errorf("user %q: gid: %w", name, err)
	}
	gids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("groups of user %q: %w", name, err)
	}
	for _, g := range gids {
		gid, err := parseID(g)
		if err != nil {
			return nil, fmt.Errorf("groups of user %q: %w", name, err)
		}
		cred.Groups = append(cred.Groups, gid)
	}
	slices.Sort(cred.Groups)
	cred.Groups = slices.Compact(cred.Groups)
	return cred, nil
}

func lookupGroup(name string) (uint32, error) {
	if name == "" {
		return 0, fmt.Errorf("group name is empty")
	}
	if gid, err := strconv.ParseUint(name, 10, 32); err == nil {
		return uint32(gid), nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		if _, unknown := errors.AsType[user.UnknownGroupError](err); unknown {
			return 0, fmt.Errorf("unknown group %q", name)
		}
		return 0, fmt.Errorf("look up group %q: %w", name, err)
	}
	return parseID(g.Gid)
}

func parseID(s string) (uint32, error) {
	id, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid id %q", s)
	}
	return uint32(id), nil
}
