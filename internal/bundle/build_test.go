package bundle_test

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/threads-token-refresher/threads-token-refresher/internal/bundle"

	// The buildpack's generated main imports funcframework, which nothing
	// in this module does: without this import `go mod tidy` drops the
	// go.sum lines of what funcframework needs, and the deployed build
	// fails (TestArchiveBuildsAsTheBuildpackDoes).
	_ "github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

// TestEmbeddedFilesAreIncluded: a package that embeds files needs them to
// build, so the archive holds exactly what its //go:embed patterns match,
// by the embed package's rules, and still no stray file beside them.
func TestEmbeddedFilesAreIncluded(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"go.mod": "module example.com/fn\n\ngo 1.26.0\n",
		"function.go": "package fn\n\nimport _ \"embed\"\n\n" +
			"//go:embed version.txt\nvar version string\n",
		"version.txt": "v1\n",
		"internal/e/e.go": "package e\n\nimport \"embed\"\n\n" +
			"//go:embed static/*.txt \"quoted name.json\"\n//go:embed tmpl\n//go:embed all:assets\nvar fs embed.FS\n" +
			// gofmt indents a directive inside a var block.
			"var (\n\t//go:embed indented.css\n\tcss string\n)\n",
		"internal/e/e_test.go":          "package e\n\nimport _ \"embed\"\n\n//go:embed fixture.txt\nvar fixture string\n",
		"internal/e/fixture.txt":        "only the test reads me\n",
		"internal/e/static/a.txt":       "a\n",
		"internal/e/static/b.png":       "not matched by *.txt\n",
		"internal/e/quoted name.json":   "{}\n",
		"internal/e/indented.css":       "p {}\n",
		"internal/e/tmpl/page.html":     "<p>\n",
		"internal/e/tmpl/sub/part.html": "<b>\n",
		"internal/e/tmpl/.draft.html":   "hidden: left out of a directory\n",
		"internal/e/tmpl/_old.html":     "underscore: left out of a directory\n",
		"internal/e/assets/.keep":       "all: keeps hidden files\n",
		"internal/e/my-token.txt":       "THAAstraytokenstraytoken\n",
	}
	got, err := bundle.Files(writeTree(t, files))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"function.go", "go.mod",
		"internal/e/assets/.keep", "internal/e/e.go", "internal/e/indented.css", "internal/e/quoted name.json",
		"internal/e/static/a.txt", "internal/e/tmpl/page.html", "internal/e/tmpl/sub/part.html",
		"version.txt",
	}
	if !slices.Equal(got, want) {
		t.Errorf("Files() = %q\nwant      %q", got, want)
	}

	// A pattern that matches nothing would fail the build: say so now.
	files["internal/e/e.go"] = "package e\n\nimport _ \"embed\"\n\n//go:embed missing.txt\nvar s string\n"
	if _, err := bundle.Files(writeTree(t, files)); err == nil || !strings.Contains(err.Error(), "missing.txt") {
		t.Errorf("Files() with a pattern matching nothing: %v, want an error naming it", err)
	}
}

// buildpackMain is the main package the Go functions buildpack writes for a
// function that registers itself with functions.HTTP (its declarative
// template, GoogleCloudPlatform/buildpacks cmd/go/functions_framework): it
// imports the function's package for its init and starts the framework.
const buildpackMain = `package main

import (
	"log"
	"net/http"
	"os"

	_ "github.com/threads-token-refresher/threads-token-refresher"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

func main() {
	http.HandleFunc("/robots.txt", http.NotFound)
	http.HandleFunc("/favicon.ico", http.NotFound)
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := funcframework.Start(port); err != nil {
		log.Fatalf("Function failed to start: %v\n", err)
	}
}
`

// TestArchiveBuildsAsTheBuildpackDoes unpacks the archive of this
// repository, with a stray file planted in a package directory, and builds
// it as Cloud Build's Go functions buildpack does: a generated main package
// in functions.local/app inside the unpacked source, built with the
// source's go.mod. The build is offline (GOPROXY=off, -mod=readonly), so
// it proves that the archive and its go.mod and go.sum hold everything the
// build needs; the buildpack's own `go mod tidy` needs the network.
func TestArchiveBuildsAsTheBuildpackDoes(t *testing.T) {
	t.Parallel()
	root := moduleRoot(t)
	// A copy of the repository's bundled files, plus the stray file, so
	// that the real tree is never written to.
	files, err := bundle.Files(root)
	if err != nil {
		t.Fatal(err)
	}
	tree := make(map[string]string, len(files)+1)
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		tree[name] = string(b)
	}
	const stray = "internal/threads/my-token.txt"
	tree[stray] = "THAAstraytokenstraytoken\n"
	var zipped bytes.Buffer
	if err := bundle.Write(&zipped, writeTree(t, tree)); err != nil {
		t.Fatal(err)
	}

	src := t.TempDir()
	zr, err := zip.NewReader(bytes.NewReader(zipped.Bytes()), int64(zipped.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == stray {
			t.Errorf("the archive holds the stray file %s", stray)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(src, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	app := filepath.Join(src, "functions.local", "app")
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(app, "main.go"), []byte(buildpackMain), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(t.TempDir(), "function"), "./functions.local/app")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=readonly", "GOWORK=off", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the unpacked archive as the buildpack does: %v\n%s", err, out)
	}
}
