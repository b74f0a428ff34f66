package bundle

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// embedPatterns returns the patterns of the //go:embed directives in the Go
// file at p. A directive is a line comment alone on its line, indented or
// not (gofmt indents one inside a var block); its patterns
// are separated by spaces and may be quoted as Go strings
// (pkg.go.dev/embed#hdr-Directives).
func embedPatterns(p string) ([]string, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var patterns []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(strings.TrimLeft(sc.Text(), " \t"), "//go:embed")
		if !ok || rest != "" && rest[0] != ' ' && rest[0] != '\t' {
			continue
		}
		fields, err := splitQuoted(rest)
		if err != nil {
			return nil, fmt.Errorf("//go:embed%s: %w", rest, err)
		}
		patterns = append(patterns, fields...)
	}
	return patterns, sc.Err()
}

// splitQuoted splits a directive's arguments at spaces, reading "..." and
// `...` as Go strings.
func splitQuoted(s string) ([]string, error) {
	var out []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out, nil
		}
		var field string
		switch s[0] {
		case '"', '`':
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return nil, err
			}
			if field, err = strconv.Unquote(q); err != nil {
				return nil, err
			}
			s = s[len(q):]
		default:
			i := strings.IndexAny(s, " \t")
			if i < 0 {
				i = len(s)
			}
			field, s = s[:i], s[i:]
		}
		out = append(out, field)
	}
}

// addEmbedded adds the files that the pattern of a //go:embed directive in
// the package directory dir matches, by the embed package's rules: a
// pattern is a path.Match pattern relative to dir; a matched file is
// embedded, and a matched directory with every file below it except those
// whose names start with "." or "_" (unless the pattern starts "all:").
func addEmbedded(set map[string]bool, root, dir, pattern string) error {
	all := strings.HasPrefix(pattern, "all:")
	pattern = strings.TrimPrefix(pattern, "all:")
	if pattern == "" || path.IsAbs(pattern) || strings.HasPrefix(path.Clean(pattern), "..") {
		return errors.New("pattern outside the package's directory")
	}
	base := filepath.Join(root, filepath.FromSlash(dir))
	matches, err := filepath.Glob(filepath.Join(base, filepath.FromSlash(pattern)))
	if err != nil {
		return err
	}
	if len(matches) == 0 {
		return errors.New("no matching files (the build would fail)")
	}
	for _, m := range matches {
		fi, err := os.Lstat(m)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, m)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			if err := addRegular(set, root, filepath.ToSlash(rel)); err != nil {
				return err
			}
			continue
		}
		err = filepath.WalkDir(m, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != m && !all && isHidden(d.Name()) {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			return addRegular(set, root, filepath.ToSlash(rel))
		})
		if err != nil {
			return err
		}
	}
	return nil
}
