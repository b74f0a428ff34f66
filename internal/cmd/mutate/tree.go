package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// copyTree copies the module's files as git sees them (tracked and
// untracked, ignored ones left out) from root into dst, so that a mutant is
// planted in a copy and the working tree is never touched.
func copyTree(root, dst string) error {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("listing the module's files with git: %w", err)
	}
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if rel == "" {
			continue
		}
		src := filepath.Join(root, rel)
		info, err := os.Lstat(src)
		if os.IsNotExist(err) {
			continue // deleted in the working tree, not yet in the index
		}
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			continue
		}
		if err := copyFile(src, filepath.Join(dst, rel), info.Mode().Perm()); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// plant replaces m.Old by m.New in the copy at dir and returns a function
// that puts the file back. The old text must occur exactly once.
func plant(dir string, m Mutant) (restore func() error, err error) {
	path := filepath.Join(dir, filepath.FromSlash(m.File))
	orig, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mutant %s: %w", m.Name, err)
	}
	if err := occursOnce(orig, m); err != nil {
		return nil, err
	}
	mutated := bytes.Replace(orig, []byte(m.Old), []byte(m.New), 1)
	if err := os.WriteFile(path, mutated, 0o644); err != nil {
		return nil, err
	}
	return func() error { return os.WriteFile(path, orig, 0o644) }, nil
}

func occursOnce(src []byte, m Mutant) error {
	switch n := bytes.Count(src, []byte(m.Old)); n {
	case 1:
		return nil
	case 0:
		return fmt.Errorf("mutant %s (list line %d): its old text is not in %s; the code changed, update the list", m.Name, m.Line, m.File)
	default:
		return fmt.Errorf("mutant %s (list line %d): its old text occurs %d times in %s; make it longer so that it names one place", m.Name, m.Line, n, m.File)
	}
}

// pkg is what go list says of one package.
type pkg struct {
	ImportPath   string
	Dir          string
	Deps         []string
	TestGoFiles  []string
	XTestGoFiles []string
	ForTest      string
}

// affected maps each package of the module to the packages whose tests
// build on it (itself included): the tests that can catch a bug planted in
// it.
type affected struct {
	module string
	dirs   map[string]string   // import path -> directory, relative to the module root
	users  map[string][]string // import path -> packages with tests that depend on it
	// only, when set, keeps the packages whose import path it matches
	// (-pkgs): a quicker run that may miss a test that would catch.
	only *regexp.Regexp
}

func loadPackages(root string) (*affected, error) {
	cmd := exec.Command("go", "list", "-test", "-json", "./...")
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w", err)
	}
	modCmd := exec.Command("go", "list", "-m")
	modCmd.Dir = root
	mod, err := modCmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -m: %w", err)
	}
	a := &affected{module: strings.TrimSpace(string(mod)), dirs: map[string]string{}, users: map[string][]string{}}
	deps := map[string]map[string]bool{} // package under test -> everything its tests build on
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("reading go list's answer: %w", err)
		}
		base, _, _ := strings.Cut(p.ImportPath, " ")
		if strings.HasSuffix(base, ".test") {
			continue // the generated main package of a test binary
		}
		if p.ForTest == "" && !strings.Contains(p.ImportPath, " ") {
			rel, err := filepath.Rel(root, p.Dir)
			if err != nil {
				return nil, err
			}
			a.dirs[base] = filepath.ToSlash(rel)
		}
		under := base
		if p.ForTest != "" {
			under = p.ForTest
		}
		if deps[under] == nil {
			deps[under] = map[string]bool{}
		}
		deps[under][base] = true
		for _, d := range p.Deps {
			deps[under][d] = true
		}
		if len(p.TestGoFiles)+len(p.XTestGoFiles) > 0 {
			deps[under][under+" has tests"] = true
		}
	}
	for under, ds := range deps {
		if !ds[under+" has tests"] {
			continue
		}
		for d := range ds {
			if strings.HasPrefix(d, a.module) {
				a.users[d] = append(a.users[d], under)
			}
		}
	}
	for k := range a.users {
		slices.Sort(a.users[k])
		a.users[k] = slices.Compact(a.users[k])
	}
	return a, nil
}

// packagesFor returns the packages whose tests can catch a bug in file.
func (a *affected) packagesFor(file string) ([]string, error) {
	dir := filepath.ToSlash(filepath.Dir(filepath.FromSlash(file)))
	for path, d := range a.dirs {
		if d == dir {
			users := a.users[path]
			if a.only != nil {
				users = slices.DeleteFunc(slices.Clone(users), func(p string) bool { return !a.only.MatchString(p) })
			}
			if len(users) == 0 {
				return nil, fmt.Errorf("no test builds on %s", path)
			}
			return users, nil
		}
	}
	return nil, fmt.Errorf("no package of the module is in %s", dir)
}
