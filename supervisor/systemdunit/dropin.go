package systemdunit

import (
	"path/filepath"
	"slices"
	"strings"

	"watchdog/supervisor/config/textfile"
)

// systemUnitDirs are the system manager's unit directories, most important first
// (systemd.unit(5), "Unit File Load Path").
var systemUnitDirs = []string{
	"/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
	"/usr/lib/systemd/system", "/lib/systemd/system",
}

// dropInDirs lists the directories whose *.conf files amend the unit, most important
// first (systemd.unit(5), "Description"): for each unit directory, NAME.service.d, the
// template's app@.service.d, one for each prefix of a name with dashes (a-b-.service.d,
// a-.service.d), and service.d. The unit directories are the unit file's own, or all
// of the system manager's when the file is in one of them.
func (u *Unit) dropInDirs() []string {
	dirs := []string{filepath.Dir(u.Path)}
	if slices.Contains(systemUnitDirs, dirs[0]) {
		dirs = systemUnitDirs
	}
	names := []string{u.Name}
	base, suffix := strings.TrimSuffix(u.Name, filepath.Ext(u.Name)), filepath.Ext(u.Name)
	prefix, _, isInstance := strings.Cut(base, "@")
	if isInstance {
		names = append(names, prefix+"@"+suffix)
	}
	for i := strings.LastIndexByte(prefix, '-'); i > 0; i = strings.LastIndexByte(prefix[:i], '-') {
		names = append(names, prefix[:i+1]+suffix)
	}
	names = append(names, strings.TrimPrefix(suffix, "."))
	var out []string
	for _, dir := range dirs {
		for _, name := range names {
			if d := filepath.Join(dir, name+".d"); !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out
}

// readDropIns reads the unit's drop-ins after its file, as systemd does: in the order of
// their file names; of two with the same name, only the one in the more important
// directory.
func (u *Unit) readDropIns() error {
	byName := map[string]string{} // file name -> path
	for _, dir := range u.dropInDirs() {
		files, _ := filepath.Glob(filepath.Join(dir, "*.conf"))
		for _, f := range files {
			if _, masked := byName[filepath.Base(f)]; !masked {
				byName[filepath.Base(f)] = f
			}
		}
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		path := byName[name]
		data, err := textfile.Read(path)
		if err != nil {
			return err
		}
		d, err := Parse(path, data)
		if err != nil {
			return err
		}
		u.DropIns = append(u.DropIns, path)
		u.Assignments = append(u.Assignments, d.Assignments...)
		u.Ignored = append(u.Ignored, d.Ignored...)
	}
	return nil
}
