package bundle_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/bundle"
)

// tree is a module laid out like the project, with everything the archive
// must leave out next to what it must hold.
var tree = map[string]string{
	"go.mod":                     "module example.com/fn\n\ngo 1.26.0\n",
	"go.sum":                     "example.org/dep v1.0.0 h1:abc=\n",
	"function.go":                "package fn\n",
	"function_test.go":           "package fn\n",
	"internal/x/a.go":            "package x\n",
	"internal/x/a_test.go":       "package x\n",
	"internal/x/testdata/f":      "fixture\n",
	"internal/testing/fake.go":   "package testing\n",
	"internal/cmd/c/main.go":     "package main\n",
	"README.md":                  "# fn\n",
	"terraform/main.tf":          "# tf\n",
	".ci/run":                    "#!/bin/sh\n",
	"dist/old.zip":               "PK old archive\n",
	"internal/x/.a.go.swp":       "editor junk\n",
	"internal/_scratch/notes.go": "package scratch\n",
	// Stray files beside the code, which the build never reads: a token
	// saved in a package directory must not be deployed.
	"internal/threads/my-token.txt": "THAAstraytokenstraytoken\n",
	"internal/threads/threads.go":   "package threads\n",
	"internal/x/notes.md":           "# notes\n",
	"internal/x/backup.go~":         "package x\n",
	"my-token.txt":                  "THAAstraytokenstraytoken\n",
}

// wantFiles is what the archive of tree holds, in archive order.
var wantFiles = []string{"function.go", "go.mod", "go.sum", "internal/threads/threads.go", "internal/x/a.go"}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func archive(t *testing.T, root string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := bundle.Write(&buf, root); err != nil {
		t.Fatalf("Write(%s): %v", root, err)
	}
	return buf.Bytes()
}

// entries opens an archive and returns its entries by name, in order.
func entries(t *testing.T, b []byte) []*zip.File {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("reading archive: %v", err)
	}
	return zr.File
}

func names(files []*zip.File) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Name)
	}
	return out
}

func TestFilesHoldsOnlyWhatTheBuildNeeds(t *testing.T) {
	t.Parallel()
	root := writeTree(t, tree)

	got, err := bundle.Files(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, wantFiles) {
		t.Errorf("Files() = %q, want %q", got, wantFiles)
	}
	if got := names(entries(t, archive(t, root))); !slices.Equal(got, wantFiles) {
		t.Errorf("archive entries = %q, want %q", got, wantFiles)
	}
}

func TestWriteEntries(t *testing.T) {
	t.Parallel()
	root := writeTree(t, tree)
	// A mode on disk other than 0644 must not reach the archive.
	if err := os.Chmod(filepath.Join(root, "function.go"), 0o755); err != nil {
		t.Fatal(err)
	}

	for _, f := range entries(t, archive(t, root)) {
		if f.Method != zip.Deflate {
			t.Errorf("%s: method %d, want Deflate", f.Name, f.Method)
		}
		if got := f.Mode(); got != 0o644 {
			t.Errorf("%s: mode %v, want -rw-r--r--", f.Name, got)
		}
		if want := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC); !f.Modified.Equal(want) {
			t.Errorf("%s: modified %v, want %v", f.Name, f.Modified, want)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if want := tree[f.Name]; string(content) != want {
			t.Errorf("%s: content %q, want %q", f.Name, content, want)
		}
	}
}

func TestWriteSameTreeSameBytes(t *testing.T) {
	t.Parallel()
	// Two separately written copies of one tree: different inodes, times and
	// directory order on disk.
	a := archive(t, writeTree(t, tree))
	b := archive(t, writeTree(t, tree))
	if !bytes.Equal(a, b) {
		t.Error("two copies of the same tree gave different archives")
	}
}

func TestWriteIgnoresTimesAndModes(t *testing.T) {
	t.Parallel()
	root := writeTree(t, tree)
	before := archive(t, root)

	later := time.Now().Add(72 * time.Hour)
	for name := range tree {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.Chtimes(p, later, later); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if after := archive(t, root); !bytes.Equal(before, after) {
		t.Error("touching files changed the archive")
	}
}

func TestWriteChangesOnlyWithTheCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file    string
		changes bool
	}{
		{"function.go", true},
		{"go.mod", true},
		{"go.sum", true},
		{"internal/x/a.go", true},
		{"function_test.go", false},
		{"internal/x/a_test.go", false},
		{"internal/x/testdata/f", false},
		{"internal/testing/fake.go", false},
		{"internal/cmd/c/main.go", false},
		{"README.md", false},
		{"terraform/main.tf", false},
		{"dist/old.zip", false},
		{"internal/threads/my-token.txt", false},
		{"internal/x/notes.md", false},
		{"my-token.txt", false},
	}
	base := archive(t, writeTree(t, tree))
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			edited := make(map[string]string, len(tree))
			for k, v := range tree {
				edited[k] = v
			}
			edited[tt.file] += "// edited\n"
			got := archive(t, writeTree(t, edited))
			if changed := !bytes.Equal(base, got); changed != tt.changes {
				t.Errorf("editing %s: archive changed = %v, want %v", tt.file, changed, tt.changes)
			}
		})
	}
}

func TestWriteNewPackageFile(t *testing.T) {
	t.Parallel()
	files := map[string]string{"internal/y/b.go": "package y\n"}
	for k, v := range tree {
		files[k] = v
	}
	got := names(entries(t, archive(t, writeTree(t, files))))
	want := []string{"function.go", "go.mod", "go.sum", "internal/threads/threads.go", "internal/x/a.go", "internal/y/b.go"}
	if !slices.Equal(got, want) {
		t.Errorf("entries = %q, want %q", got, want)
	}
}

func TestFilesRefusesSymlinks(t *testing.T) {
	t.Parallel()
	root := writeTree(t, tree)
	if err := os.Symlink("a.go", filepath.Join(root, "internal", "x", "link.go")); err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.Files(root); err == nil || !strings.Contains(err.Error(), "internal/x/link.go") {
		t.Errorf("Files() error = %v, want one naming internal/x/link.go", err)
	}
}

func TestWriteNeedsGoMod(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	err := bundle.Write(io.Discard, root)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Write() on a tree without go.mod: error %v, want one wrapping ErrNotExist", err)
	}
}

func TestWriteFile(t *testing.T) {
	t.Parallel()
	root := writeTree(t, tree)
	out := filepath.Join(t.TempDir(), "nested", "dist", "function.zip")

	if err := bundle.WriteFile(out, root); err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, archive(t, root)) {
		t.Error("WriteFile wrote other bytes than Write")
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("archive file mode %v, want -rw-r--r--", fi.Mode().Perm())
	}

	// Rewriting replaces the file and leaves nothing else behind.
	if err := os.WriteFile(filepath.Join(root, "function.go"), []byte("package fn\n\n// v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := bundle.WriteFile(out, root); err != nil {
		t.Fatalf("WriteFile again: %v", err)
	}
	again, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(again, got) {
		t.Error("WriteFile after a code change left the old archive")
	}
	dir, err := os.ReadDir(filepath.Dir(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(dir) != 1 {
		var left []string
		for _, e := range dir {
			left = append(left, e.Name())
		}
		t.Errorf("directory holds %q, want only function.zip", left)
	}
}

func TestWriteFileKeepsOldArchiveOnFailure(t *testing.T) {
	t.Parallel()
	root := writeTree(t, tree)
	out := filepath.Join(t.TempDir(), "function.zip")
	if err := bundle.WriteFile(out, root); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}

	if err := os.Symlink("a.go", filepath.Join(root, "internal", "x", "link.go")); err != nil {
		t.Fatal(err)
	}
	if err := bundle.WriteFile(out, root); err == nil {
		t.Fatal("WriteFile succeeded on a tree it must refuse")
	}
	after, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("a failed WriteFile changed the existing archive")
	}
	dir, err := os.ReadDir(filepath.Dir(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(dir) != 1 {
		t.Errorf("a failed WriteFile left %d files behind, want only function.zip", len(dir)-1)
	}
}

const modulePath = "github.com/threads-token-refresher/threads-token-refresher"

// moduleRoot is the directory of this repository's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("the test does not run inside the module")
	}
	return filepath.Dir(gomod)
}

// TestRealRepository builds the archive of this repository and checks that
// it holds every file the go tool compiles for the function, and no test.
func TestRealRepository(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	got := names(entries(t, archive(t, root)))

	for _, want := range []string{"go.mod", "go.sum", "function.go"} {
		if !slices.Contains(got, want) {
			t.Errorf("archive lacks %s", want)
		}
	}
	for _, name := range got {
		if strings.HasSuffix(name, "_test.go") || slices.Contains(strings.Split(name, "/"), "testdata") {
			t.Errorf("archive holds test file %s", name)
		}
	}

	// Every file of every package of this module that the root package
	// imports, directly or not, must be in the archive, or the cloud build
	// fails where the local one passes. -e keeps a go.sum gap in a third-party
	// module from hiding this module's own packages.
	cmd := exec.Command("go", "list", "-e", "-deps", "-json=ImportPath,Dir,Module,Error,GoFiles,CgoFiles,EmbedFiles,SFiles,HFiles", ".")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list: %v", err)
	}
	type pkg struct {
		ImportPath string
		Dir        string
		Module     *struct{ Main bool }
		Error      *struct{ Err string }
		GoFiles    []string
		CgoFiles   []string
		EmbedFiles []string
		SFiles     []string
		HFiles     []string
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	checked := 0
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		if strings.HasPrefix(p.ImportPath, modulePath+"/") && p.Error != nil {
			t.Errorf("package %s: %s", p.ImportPath, p.Error.Err)
		}
		if p.Module == nil || !p.Module.Main {
			continue
		}
		rel, err := filepath.Rel(root, p.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, list := range [][]string{p.GoFiles, p.CgoFiles, p.EmbedFiles, p.SFiles, p.HFiles} {
			for _, f := range list {
				name := path.Clean(filepath.ToSlash(filepath.Join(rel, f)))
				checked++
				if !slices.Contains(got, name) {
					t.Errorf("archive lacks %s, which package %s needs", name, p.ImportPath)
				}
			}
		}
	}
	if checked == 0 {
		t.Error("go list reported no file of this module; the check checked nothing")
	}
}
