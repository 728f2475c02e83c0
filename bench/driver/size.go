package main

import (
	"debug/elf"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// sizedPeer is an init's files: what it needs on disk besides a libc.
type sizedPeer struct {
	name  string
	files []string
}

func measureSize(b *bench) *section {
	s := &section{title: "binary and image size",
		method: "Size on disk of each init's binaries (watchdog built with CGO_ENABLED=0, -trimpath, -ldflags \"-s -w\"). " +
			"Image: `docker build` of a temporary context holding only the binary, `FROM scratch`, for the statically " +
			"linked inits; the size is what `docker image inspect` reports."}
	peers := []sizedPeer{
		{"watchdog", []string{b.watchdog}},
		{"tini (tini-static)", []string{"/usr/bin/tini-static"}},
		{"tini (dynamic)", []string{"/usr/bin/tini"}},
		{"dumb-init", []string{"/usr/bin/dumb-init"}},
		{"catatonit", []string{"/usr/bin/catatonit"}},
		{"s6 (s6-svscan + s6-supervise)", []string{"/usr/bin/s6-svscan", "/usr/bin/s6-supervise"}},
		{"runit (runsvdir + runsv)", []string{"/usr/bin/runsvdir", "/usr/bin/runsv"}},
	}
	docker := exec.Command("docker", "info").Run() == nil
	if !docker {
		s.note("docker is not available: no image sizes.")
	}
	sizes := make([]float64, len(peers))
	images := make([]float64, len(peers))
	linking := make([]string, len(peers))
	for i, p := range peers {
		static := true
		for _, f := range p.files {
			fi, err := os.Stat(f)
			if err != nil {
				s.fail("%s: %v", p.name, err)
				continue
			}
			sizes[i] += float64(fi.Size())
			static = static && isStatic(f)
		}
		images[i], linking[i] = math.NaN(), "static"
		if !static {
			linking[i] = "dynamic (plus libc" + sharedLibs(p.files) + ")"
		}
		if static && docker && len(p.files) == 1 {
			size, err := b.scratchImage(p.files[0])
			if err != nil {
				s.fail("%s image: %v", p.name, err)
				continue
			}
			images[i] = size
		}
	}
	t := table{header: []string{"init", "binaries", "linking", "× tini-static", "FROM-scratch image", "image × tini-static"}}
	for i, p := range peers {
		t.add(p.name, mib(sizes[i]), linking[i], ratio(sizes[i], sizes[1]), mib(images[i]), ratio(images[i], images[1]))
	}
	t.add("supervisord", "–", "Python 3 program", "–", "–", "–")
	s.tables = append(s.tables, t)
	s.judge("binary <= 6 MiB (static, stripped)", mib(sizes[0]), sizes[0] <= 6<<20)
	if !math.IsNaN(images[0]) {
		s.judge("FROM-scratch image <= 8 MiB", mib(images[0]), images[0] <= 8<<20)
	} else {
		s.unjudged("FROM-scratch image <= 8 MiB", "no docker")
	}
	return s
}

// isStatic reports whether an ELF file has no program interpreter.
func isStatic(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// sharedLibs names the libraries besides libc that the files need, as ", libskarnet.so.2.12".
func sharedLibs(files []string) string {
	seen := map[string]bool{}
	var libs []string
	for _, path := range files {
		f, err := elf.Open(path)
		if err != nil {
			continue
		}
		needed, _ := f.ImportedLibraries()
		f.Close()
		for _, lib := range needed {
			if !strings.HasPrefix(lib, "libc.so") && !seen[lib] {
				seen[lib] = true
				libs = append(libs, lib)
			}
		}
	}
	if len(libs) == 0 {
		return ""
	}
	return ", " + strings.Join(libs, ", ")
}

// scratchImage builds an image holding only the binary and returns its size in bytes.
func (b *bench) scratchImage(binary string) (float64, error) {
	ctx, err := b.runDir("image-" + filepath.Base(binary))
	if err != nil {
		return 0, err
	}
	data, err := os.ReadFile(binary)
	if err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(ctx, "init"), data, 0o755); err != nil {
		return 0, err
	}
	dockerfile := "FROM scratch\nCOPY init /init\nENTRYPOINT [\"/init\"]\n"
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		return 0, err
	}
	tag := "watchdog-bench-size:" + slug(filepath.Base(binary))
	if out, err := exec.Command("docker", "build", "-q", "-t", tag, ctx).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("docker build: %v: %s", err, out)
	}
	defer exec.Command("docker", "rmi", "-f", tag).Run()
	out, err := exec.Command("docker", "image", "inspect", "-f", "{{.Size}}", tag).Output()
	if err != nil {
		return 0, fmt.Errorf("docker image inspect: %v", err)
	}
	return strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
}
