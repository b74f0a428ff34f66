// Package bundle writes the source archive that Cloud Functions builds the
// function from: go.mod, go.sum, the root package's non-test Go files and the
// internal packages, nothing else.
//
// The archive is deterministic: entries are sorted and carry a fixed
// timestamp and mode, so the same tree always gives the same bytes. Terraform
// names the uploaded object after the archive's MD5, which therefore changes
// (and redeploys the function) only when the code does, never because a file
// was touched or checked out again.
package bundle

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// modTime is the timestamp of every entry: the earliest an MS-DOS date can
// hold, so that no file's real modification time leaks into the archive.
var modTime = time.Date(1980, time.January, 1, 0, 0, 0, 0, time.UTC)

// fileMode is the mode of every entry, whatever the mode on disk.
const fileMode fs.FileMode = 0o644

// excludedDirs are directories under internal/ that the deployed function
// never imports: test-only fakes and the command-line program.
var excludedDirs = []string{"internal/testing", "internal/cmd"}

// Files returns the slash-separated paths, relative to root, of the files
// the archive holds, in archive order. root must be a Go module root.
func Files(root string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return nil, fmt.Errorf("looking for go.mod in %s: %w", root, err)
	}
	var files []string

	top, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", root, err)
	}
	for _, e := range top {
		name := e.Name()
		if e.IsDir() || !(name == "go.mod" || name == "go.sum" || isSourceFile(name)) {
			continue
		}
		if !e.Type().IsRegular() {
			// A symlink would be packed as something other than what the
			// local build sees; refuse rather than guess.
			return nil, fmt.Errorf("%s is not a regular file", name)
		}
		files = append(files, name)
	}

	internal := filepath.Join(root, "internal")
	if _, err := os.Stat(internal); errors.Is(err, fs.ErrNotExist) {
		slices.Sort(files)
		return files, nil
	}
	err = filepath.WalkDir(internal, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		name := d.Name()
		if d.IsDir() {
			// The go tool ignores testdata and names starting with "." or
			// "_", so the build cannot need them.
			if p != internal && (name == "testdata" || isHidden(name) || slices.Contains(excludedDirs, rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		if isHidden(name) || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", rel)
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing internal packages: %w", err)
	}

	slices.Sort(files)
	return files, nil
}

// Write writes the archive of the module rooted at root to w.
func Write(w io.Writer, root string) error {
	files, err := Files(root)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(w)
	for _, name := range files {
		if err := add(zw, root, name); err != nil {
			return fmt.Errorf("adding %s: %w", name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("finishing archive: %w", err)
	}
	return nil
}

// WriteFile writes the archive of the module rooted at root to the file at
// path, creating its parent directories. The file is replaced atomically, so
// a failed run never leaves a truncated archive for Terraform to upload.
func WriteFile(path, root string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("creating temporary file: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed

	if err := Write(tmp, root); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("setting mode of %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	return nil
}

// add copies the file root/name into the archive under name.
func add(zw *zip.Writer, root, name string) error {
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(name)))
	if err != nil {
		return err
	}
	defer f.Close()

	h := &zip.FileHeader{
		Name:     name,
		Method:   zip.Deflate,
		Modified: modTime,
	}
	h.SetMode(fileMode)
	dst, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	_, err = io.Copy(dst, f)
	return err
}

// isSourceFile reports whether name is a non-test Go file.
func isSourceFile(name string) bool {
	return path.Ext(name) == ".go" && !strings.HasSuffix(name, "_test.go") && !isHidden(name)
}

func isHidden(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")
}
