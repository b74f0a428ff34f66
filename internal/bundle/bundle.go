// Package bundle writes the source archive that Cloud Functions builds the
// function from: go.mod, go.sum, the non-test Go files of the root package
// and of the internal packages it may import, and the files their
// //go:embed directives name; nothing else.
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
// the archive holds, in archive order: go.mod, go.sum, the non-test Go
// files of the root package and of the packages under internal/ (but
// excludedDirs), and the files their //go:embed directives name. Nothing
// else: a stray file beside the code (a token saved to internal/x/tok.txt,
// notes, an editor's backup) stays out of the deployment archive. root
// must be a Go module root.
func Files(root string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return nil, fmt.Errorf("looking for go.mod in %s: %w", root, err)
	}
	set := make(map[string]bool)
	for _, name := range []string{"go.mod", "go.sum"} {
		if err := addRegular(set, root, name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	if err := addPackage(set, root, "."); err != nil {
		return nil, err
	}

	internal := filepath.Join(root, "internal")
	if _, err := os.Stat(internal); errors.Is(err, fs.ErrNotExist) {
		return sorted(set), nil
	}
	err := filepath.WalkDir(internal, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		// The go tool ignores testdata and names starting with "." or
		// "_", so the build cannot need their Go files.
		if p != internal && (d.Name() == "testdata" || isHidden(d.Name()) || slices.Contains(excludedDirs, rel)) {
			return filepath.SkipDir
		}
		return addPackage(set, root, rel)
	})
	if err != nil {
		return nil, fmt.Errorf("listing internal packages: %w", err)
	}
	return sorted(set), nil
}

// addPackage adds the non-test Go files of the directory dir (relative to
// root, slash-separated) and the files their //go:embed directives match.
// Files excluded by build constraints are kept: the cloud build may use
// other constraints than this machine.
func addPackage(set map[string]bool, root, dir string) error {
	entries, err := os.ReadDir(filepath.Join(root, filepath.FromSlash(dir)))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() || !isSourceFile(e.Name()) {
			continue
		}
		name := path.Join(dir, e.Name())
		if err := addRegular(set, root, name); err != nil {
			return err
		}
		patterns, err := embedPatterns(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		for _, pat := range patterns {
			if err := addEmbedded(set, root, dir, pat); err != nil {
				return fmt.Errorf("%s: //go:embed %s: %w", name, pat, err)
			}
		}
	}
	return nil
}

// addRegular adds root/name, which must be a regular file: a symlink would
// be packed as something other than what the local build sees, so it is
// refused rather than guessed at.
func addRegular(set map[string]bool, root, name string) error {
	fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(name)))
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", name)
	}
	set[name] = true
	return nil
}

func sorted(set map[string]bool) []string {
	files := make([]string, 0, len(set))
	for name := range set {
		files = append(files, name)
	}
	slices.Sort(files)
	return files
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
