package localstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	bolt "go.etcd.io/bbolt"
)

// boltMagic is the number a bbolt file carries in its first meta page,
// right after the 16-byte page header, in the machine's byte order.
const boltMagic = 0xED0CDAED

// checkDatabase reports whether a file exists at path and, when one does,
// refuses it unless it can be a refresher database: a regular file that is
// empty (bbolt fills it in) or starts with bbolt's meta page. The file is
// only read, so that a wrong REFRESHER_DB (/etc/passwd, say) is reported
// as what it is, and neither written into nor told to change its mode.
func checkDatabase(path string) (existed bool, err error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("checking %s: %w", path, err)
	case fi.IsDir():
		return true, fmt.Errorf("opening local store: %s is a directory", path)
	case !fi.Mode().IsRegular():
		return true, fmt.Errorf("%s is %w (not a regular file)", path, ErrNotDatabase)
	case fi.Size() == 0:
		return true, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return true, fmt.Errorf("opening local store: %w", err)
	}
	defer f.Close()
	var head [20]byte
	if _, err := io.ReadFull(f, head[:]); err != nil || binary.NativeEndian.Uint32(head[16:]) != boltMagic {
		return true, fmt.Errorf("%s is %w", path, ErrNotDatabase)
	}
	return true, nil
}

// hasBuckets reports whether the database holds any top-level bucket.
func hasBuckets(tx *bolt.Tx) bool {
	c := tx.Cursor()
	k, _ := c.First()
	return k != nil
}

// mkdirPrivate creates dir and its missing parents with mode 0700, leaving
// existing directories (such as the home directory) as they are.
func mkdirPrivate(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil:
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", dir)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirPrivate(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // another process made it first
		}
		return err
	}
	// The umask may have taken bits away, even the owner's.
	return os.Chmod(dir, 0o700)
}

// checkPrivate refuses an existing database file that other users may
// access, as ssh does for private keys: it holds tokens.
func checkPrivate(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking %s: %w", path, err)
	}
	// Windows reports no group or other bits worth checking.
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("opening %s: mode is %#o (run chmod 600 %s): %w", path, fi.Mode().Perm(), path, ErrInsecureFile)
	}
	return nil
}
