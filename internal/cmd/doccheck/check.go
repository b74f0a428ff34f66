package main

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"regexp"
	"strings"
)

// problem is one link that does not resolve.
type problem struct {
	file string // slash-separated, relative to the repository's root
	line int
	dest string
	why  string
}

func (p problem) String() string {
	return fmt.Sprintf("%s:%d: %q: %s", p.file, p.line, p.dest, p.why)
}

// tree is the set of files a link may point to, by slash-separated path
// relative to the root, and the directories that hold them.
type tree struct {
	root  string
	files map[string]bool
	dirs  map[string]bool
}

func newTree(root string, files []string) *tree {
	t := &tree{root: root, files: map[string]bool{}, dirs: map[string]bool{".": true}}
	for _, f := range files {
		t.files[f] = true
		for d := path.Dir(f); d != "."; d = path.Dir(d) {
			t.dirs[d] = true
		}
	}
	return t
}

var (
	scheme     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
	lineAnchor = regexp.MustCompile(`^L[0-9]+(?:-L[0-9]+)?$`)
	hostName   = regexp.MustCompile(`^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$`)
)

// check reads each Markdown file and returns every link in them that does
// not resolve: a relative link to a file the tree does not hold, an anchor
// no heading of its file defines, an external link that is not a
// well-formed http(s) or mailto URL. External links are not fetched.
func check(t *tree, mdFiles []string) ([]problem, int, error) {
	docs := map[string]doc{}
	read := func(rel string) (doc, error) {
		if d, ok := docs[rel]; ok {
			return d, nil
		}
		data, err := os.ReadFile(path.Join(t.root, rel))
		if err != nil {
			return doc{}, err
		}
		d := parse(string(data))
		docs[rel] = d
		return d, nil
	}
	var problems []problem
	links := 0
	for _, f := range mdFiles {
		d, err := read(f)
		if err != nil {
			return nil, 0, fmt.Errorf("reading %s: %w", f, err)
		}
		for _, l := range d.links {
			links++
			why, err := t.resolve(f, d, l.dest, read)
			if err != nil {
				return nil, 0, err
			}
			if why != "" {
				problems = append(problems, problem{file: f, line: l.line, dest: l.dest, why: why})
			}
		}
	}
	return problems, links, nil
}

// resolve says why dest, a link in file from (whose parsed form is d), does
// not resolve, or "" when it does.
func (t *tree) resolve(from string, d doc, dest string, read func(string) (doc, error)) (string, error) {
	switch {
	case dest == "":
		return "an empty link", nil
	case strings.HasPrefix(dest, "#"):
		return anchorMissing(d, from, dest[1:]), nil
	case strings.HasPrefix(dest, "//"):
		return externalProblem("https:" + dest), nil
	case scheme.MatchString(dest):
		return externalProblem(dest), nil
	}
	target, frag, _ := strings.Cut(dest, "#")
	target, _, _ = strings.Cut(target, "?")
	p, err := url.PathUnescape(target)
	if err != nil {
		return "the path is not a valid URL path: " + err.Error(), nil
	}
	if strings.HasPrefix(p, "/") {
		p = path.Clean(strings.TrimPrefix(p, "/"))
	} else {
		p = path.Join(path.Dir(from), p)
	}
	switch {
	case p == ".." || strings.HasPrefix(p, "../"):
		return "it points outside the repository", nil
	case t.dirs[p]:
		if frag != "" {
			return "a folder has no anchors", nil
		}
		return "", nil
	case !t.files[p]:
		return fmt.Sprintf("no such file in the repository (%s)", p), nil
	case frag == "":
		return "", nil
	case strings.HasSuffix(strings.ToLower(p), ".md"):
		target, err := read(p)
		if err != nil {
			return "", fmt.Errorf("reading %s: %w", p, err)
		}
		return anchorMissing(target, p, frag), nil
	case lineAnchor.MatchString(frag):
		return "", nil
	default:
		return fmt.Sprintf("%s is not Markdown; its only anchors are lines (#L12, #L12-L20)", p), nil
	}
}

// anchorMissing says why frag is not an anchor of the document d (file
// name), or "" when it is.
func anchorMissing(d doc, name, frag string) string {
	a, err := url.PathUnescape(frag)
	if err != nil {
		a = frag
	}
	if d.anchors[a] {
		return ""
	}
	return fmt.Sprintf("no heading in %s has the anchor %q", name, a)
}

// externalProblem says why an absolute URL is not well formed, or "".
// Nothing is fetched.
func externalProblem(dest string) string {
	u, err := url.Parse(dest)
	if err != nil {
		return "not a well-formed URL: " + err.Error()
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		host := u.Hostname()
		switch {
		case host == "":
			return "not a well-formed URL: it has no host"
		case !hostName.MatchString(host) && !strings.Contains(host, ":"):
			return fmt.Sprintf("not a well-formed URL: %q is not a host name", host)
		case u.User != nil:
			return "a URL with a user name or password in it"
		}
		return ""
	case "mailto":
		if !strings.Contains(u.Opaque, "@") {
			return "not a well-formed mailto: link (no address)"
		}
		return ""
	default:
		return fmt.Sprintf("a %s: link; only http, https and mailto links are known here", u.Scheme)
	}
}
