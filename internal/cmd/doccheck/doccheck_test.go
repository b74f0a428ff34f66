package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fixtureTree is the tree of testdata/repo, every file in it.
func fixtureTree(t *testing.T) *tree {
	t.Helper()
	root := filepath.Join("testdata", "repo")
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, p)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return newTree(root, files)
}

// TestFixtureLinks: in testdata/repo/README.md every link of the first
// list resolves (files, folders, code lines, headings with punctuation,
// backticks and emphasis, repeated headings' -1 and -2, explicit anchors,
// well-formed URLs), every link of the second list is refused with its
// line and why, and nothing in code is read as a link.
func TestFixtureLinks(t *testing.T) {
	t.Parallel()
	got, links, err := check(fixtureTree(t), []string{"README.md", "docs/other.md"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`README.md:14: "docs/missing.md": no such file in the repository (docs/missing.md)`,
		`README.md:15: "docs/other.md#nowhere": no heading in docs/other.md has the anchor "nowhere"`,
		`README.md:16: "#nowhere-here": no heading in README.md has the anchor "nowhere-here"`,
		`README.md:17: "docs/other.md#duplicate-3": no heading in docs/other.md has the anchor "duplicate-3"`,
		`README.md:18: "https://": not a well-formed URL: it has no host`,
		`README.md:19: "http://exa_mple.com/": not a well-formed URL: "exa_mple.com" is not a host name`,
		`README.md:20: "ftp://example.com/file": a ftp: link; only http, https and mailto links are known here`,
		`README.md:21: "../../outside.md": it points outside the repository`,
		`README.md:22: "code.txt#main": code.txt is not Markdown; its only anchors are lines (#L12, #L12-L20)`,
		`README.md:23: "docs/sub/#x": a folder has no anchors`,
		`README.md:25: "docs/gone.md": no such file in the repository (docs/gone.md)`,
	}
	var gotLines []string
	for _, p := range got {
		gotLines = append(gotLines, p.String())
	}
	if !slices.Equal(gotLines, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(gotLines, "\n"), strings.Join(want, "\n"))
	}
	// 19 links that resolve in README.md, 11 that do not, 1 in other.md;
	// none of the two in code.
	if links != 31 {
		t.Errorf("%d links read, want 31 (none from code)", links)
	}
}

func TestSlugify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ heading, want string }{
		{"Deploy", "deploy"},
		{"The `refresher` command", "the-refresher-command"},
		{"5. Prove that the alerts reach you", "5-prove-that-the-alerts-reach-you"},
		{"What you are told, and when", "what-you-are-told-and-when"},
		{"The function's HTTP surface", "the-functions-http-surface"},
		{"Secret Manager: the calls a refresh needs, and the quotas", "secret-manager-the-calls-a-refresh-needs-and-the-quotas"},
		{"The token: Secret Manager (or the local store)", "the-token-secret-manager-or-the-local-store"},
		{"A [link](x.md) in a heading", "a-link-in-a-heading"},
		{"*Emphasised* and __strong__ words", "emphasised-and-strong-words"},
		{"refresh_after and `<name>`", "refresh_after-and-name"},
		{"`<name>/hours_left` metric", "namehours_left-metric"},
		{"Two  spaces", "two--spaces"},
		{"C++ & Go…", "c--go"},
		{"Ünïcödé — déjà vu", "ünïcödé--déjà-vu"},
		{"Heading <a name=\"x\"></a> with HTML", "heading--with-html"},
	} {
		if got := slugify(tc.heading); got != tc.want {
			t.Errorf("slugify(%q) = %q, want %q", tc.heading, got, tc.want)
		}
	}
}

func TestHeadings(t *testing.T) {
	t.Parallel()
	d := parse("# Title #\n\n## Same\n\n## Same\n\nText\n===\n\n- item\n---\n\n```\n# not a heading\n```\n\n    indented code stays text\n####### seven is not a heading\n")
	var got []string
	for a := range d.anchors {
		got = append(got, a)
	}
	slices.Sort(got)
	want := []string{"same", "same-1", "text", "title"}
	if !slices.Equal(got, want) {
		t.Errorf("anchors %v, want %v", got, want)
	}
}

// TestRepository: run lists the repository with git, checks its Markdown
// files but those under testdata, counts a new file that git does not
// ignore, and refuses a link to an ignored one (it would not be on GitHub).
func TestRepository(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed: %v", err)
	}
	dir := t.TempDir()
	write := func(name, text string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	write(".gitignore", "dist/\n")
	write("README.md", "# Top\n\n[new](docs/new.md#new), [zip](dist/function.zip), [top](#top)\n")
	write("docs/new.md", "# New\n")
	write("dist/function.zip", "zip")
	write("internal/x/testdata/fixture.md", "[broken on purpose](nowhere.md)\n")
	git("add", ".gitignore", "README.md")

	var stdout, stderr bytes.Buffer
	code := run([]string{"-C", filepath.Join(dir, "docs")}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exited %d, want 1; stdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	want := `README.md:3: "dist/function.zip": no such file in the repository (dist/function.zip)` + "\n"
	if stdout.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", &stdout, want)
	}
	if !strings.Contains(stderr.String(), "1 of 3 links in 2 Markdown files do not resolve") {
		t.Errorf("stderr %q, want the count of broken links", &stderr)
	}

	// Outside a repository: exit 2 and why.
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"-C", t.TempDir()}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "finding the repository") {
		t.Errorf("outside a repository: exited %d with %q, want 2", code, &stderr)
	}
}
