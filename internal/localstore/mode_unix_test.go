//go:build unix

package localstore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Not parallel: the umask belongs to the whole process. Parallel tests wait
// until the sequential ones are done, so nothing else runs meanwhile.
func TestFileModes(t *testing.T) {
	for _, umask := range []int{0o000, 0o022, 0o077} {
		old := syscall.Umask(umask)
		func() {
			defer syscall.Umask(old)
			home := t.TempDir()
			if err := os.Chmod(home, 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(home, ".config", "threads-token-refresher", "refresher.db")
			s, err := Open(path, Options{})
			if err != nil {
				t.Fatalf("umask %#o: Open: %v", umask, err)
			}
			defer s.Close()
			if _, err := s.CreateSecret(t.Context(), "main"); err != nil {
				t.Fatal(err)
			}

			checks := []struct {
				path string
				want os.FileMode
			}{
				{path, 0o600},
				{filepath.Dir(path), 0o700},
				{filepath.Dir(filepath.Dir(path)), 0o700},
				// An existing directory is left as it was.
				{home, 0o755},
			}
			for _, c := range checks {
				fi, err := os.Stat(c.path)
				if err != nil {
					t.Fatal(err)
				}
				if got := fi.Mode().Perm(); got != c.want {
					t.Errorf("umask %#o: %s has mode %#o, want %#o", umask, c.path, got, c.want)
				}
			}
		}()
	}
}

func TestInsecureFileRefused(t *testing.T) {
	t.Parallel()
	s, path := newStore(t, newClock())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o620} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path, Options{})
		if !errors.Is(err, ErrInsecureFile) {
			t.Errorf("Open of a file with mode %#o: %v, want ErrInsecureFile", mode, err)
			continue
		}
		if !strings.Contains(err.Error(), "chmod 600 "+path) {
			t.Errorf("error %q does not say how to fix it", err)
		}
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open after chmod 600: %v", err)
	}
	_ = s.Close()
}
