package localstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestOpenRefusesWhatIsNotARefresherDatabase: a REFRESHER_DB that names
// another file (/etc/passwd, say) is said to be no refresher database. It
// is neither written into nor given advice about its mode: "run chmod 600
// /etc/passwd" would be harmful advice.
func TestOpenRefusesWhatIsNotARefresherDatabase(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	content := []byte("root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n")
	if err := os.WriteFile(passwd, content, 0o644); err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "other.db")
	db, err := bolt.Open(foreign, 0o600, &bolt.Options{Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("their-data")); return err }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	foreignBytes, err := os.ReadFile(foreign)
	if err != nil {
		t.Fatal(err)
	}

	for path, want := range map[string][]byte{passwd: content, foreign: foreignBytes, os.DevNull: nil} {
		for _, opts := range []Options{{}, {MustExist: true}} {
			_, err := Open(path, opts)
			if !errors.Is(err, ErrNotDatabase) {
				t.Errorf("Open(%s, %+v) = %v, want ErrNotDatabase", path, opts, err)
				continue
			}
			if msg := err.Error(); !strings.Contains(msg, path+" is not a refresher database") || strings.Contains(msg, "chmod") {
				t.Errorf("Open(%s): %q, want it to say the file is not a refresher database, and nothing of chmod", path, msg)
			}
		}
		if want == nil {
			continue
		}
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s changed: %v", path, err)
		}
	}
	if fi, err := os.Stat(passwd); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("the mode of a file that is not a database changed: %v %v", fi.Mode(), err)
	}

	// A refresher database others may read still gets the chmod advice.
	ours := filepath.Join(dir, "refresher.db")
	s, err := Open(ours, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.Chmod(ours, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ours, Options{}); !errors.Is(err, ErrInsecureFile) || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("Open of a refresher database with mode 0644: %v, want ErrInsecureFile with the chmod advice", err)
	}

	// An empty file (a crash right after creating it) becomes a database.
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(empty, Options{}); err != nil {
		t.Errorf("Open of an empty file: %v", err)
	} else {
		s.Close()
	}
}

// TestOpenMustExistCreatesNothing: a read-only command on a mistyped path
// is told there is no database there, and leaves neither file nor
// directory behind.
func TestOpenMustExistCreatesNothing(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "typo", "dir")
	path := filepath.Join(dir, "refresher.db")
	_, err := Open(path, Options{MustExist: true})
	if !errors.Is(err, ErrNoDatabase) || !strings.Contains(err.Error(), path) {
		t.Errorf("Open(MustExist) of a missing file = %v, want ErrNoDatabase naming %s", err, path)
	}
	if _, err := os.Stat(filepath.Dir(dir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(MustExist) created %s: %v", filepath.Dir(dir), err)
	}

	// Once it exists, MustExist opens it.
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err := Open(path, Options{MustExist: true}); err != nil {
		t.Errorf("Open(MustExist) of an existing database: %v", err)
	} else {
		s.Close()
	}
}
