package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixtureModule = "testdata/module"

// copyFile copies a testdata file into a temporary directory and returns
// its new path.
func copyFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runTool(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestTablesOfFixture: the tables of the fixture module are exactly those
// in testdata/current.md: required variables first, then by name; types
// and defaults as code; null, maps and objects as JSON; descriptions with
// pipes, placeholders, cron schedules and paragraphs kept readable.
func TestTablesOfFixture(t *testing.T) {
	t.Parallel()
	got, err := renderModule(fixtureModule)
	if err != nil {
		t.Fatal(err)
	}
	current, err := os.ReadFile("testdata/current.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := replaceMarked(current, got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, current) {
		t.Errorf("the fixture's tables differ from testdata/current.md; rendered:\n%s", got)
	}
	for _, line := range []string{
		"| `accounts` | Accounts, e.g. [\"main\"]; each gets secret &lt;prefix&gt;&lt;name&gt;. A pipe \\| and `a \\| b` in code. | `set(string)` | n/a | yes |",
		"| `alert_email` | Email address, or null. | `string` | `null` | no |",
		"| `limits` | First paragraph.<br><br>Second paragraph, on two lines. | `object({ max = number keep = bool })` | `{\"keep\":true,\"max\":10}` | no |",
		"| `schedule` | Cron schedule: \"\\*/20 \\* \\* \\* \\*\" runs every 20 minutes. | `string` | `\"0 * * * *\"` | no |",
		"| `untyped` |  | `any` | `1.5` | no |",
		"| `url` | URL of the thing: `https://example.com/<id>`. |",
	} {
		if !strings.Contains(got, line+"\n") {
			t.Errorf("the tables lack the line\n%s\nin:\n%s", line, got)
		}
	}
	if strings.Index(got, "`project_id`") > strings.Index(got, "`alert_email`") {
		t.Errorf("a required variable must come before the optional ones:\n%s", got)
	}
}

// TestCheckRefusesStale: -check on a file whose tables are not the
// module's exits 1 with a one-line hint naming the file and the command,
// and changes nothing.
func TestCheckRefusesStale(t *testing.T) {
	t.Parallel()
	readme := copyFile(t, "stale.md")
	before, _ := os.ReadFile(readme)
	code, stdout, stderr := runTool("-check", "-module", fixtureModule, "-readme", readme)
	if code != 1 {
		t.Errorf("-check on a stale file exited %d, want 1 (stderr %q)", code, stderr)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, readme) || !strings.Contains(stderr, "go run ./internal/cmd/tfdocs") {
		t.Errorf("-check said %q; want one line naming %s and the command that fixes it", stderr, readme)
	}
	if stdout != "" {
		t.Errorf("-check wrote %q to stdout", stdout)
	}
	if after, _ := os.ReadFile(readme); !bytes.Equal(before, after) {
		t.Errorf("-check changed the file")
	}
}

// TestWriteMakesCurrent: without -check the tables are rewritten between
// the markers, the text around them kept, and -check then passes.
func TestWriteMakesCurrent(t *testing.T) {
	t.Parallel()
	readme := copyFile(t, "stale.md")
	if code, stdout, stderr := runTool("-module", fixtureModule, "-readme", readme); code != 0 || !strings.Contains(stdout, "tables written") {
		t.Fatalf("writing exited %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	got, _ := os.ReadFile(readme)
	want, _ := os.ReadFile("testdata/current.md")
	if !bytes.Equal(got, want) {
		t.Errorf("after writing, the file is\n%s\nwant testdata/current.md:\n%s", got, want)
	}
	if code, _, stderr := runTool("-check", "-module", fixtureModule, "-readme", readme); code != 0 {
		t.Errorf("-check after writing exited %d: %s", code, stderr)
	}
	// A second write finds nothing to do.
	if code, stdout, _ := runTool("-module", fixtureModule, "-readme", readme); code != 0 || !strings.Contains(stdout, "already current") {
		t.Errorf("a second write exited %d with %q, want 0 and already current", code, stdout)
	}
}

// TestRefusals: what cannot be done exits 2 with a sentence saying why.
func TestRefusals(t *testing.T) {
	t.Parallel()
	noMarkers := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(noMarkers, []byte("# A module\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	twice := filepath.Join(t.TempDir(), "README.md")
	if err := os.WriteFile(twice, []byte(beginMarker+"\n"+endMarker+"\n"+beginMarker+"\n"+endMarker+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	current := copyFile(t, "current.md")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no markers", []string{"-module", fixtureModule, "-readme", noMarkers}, "<!-- BEGIN_TF_DOCS -->"},
		{"two sections", []string{"-check", "-module", fixtureModule, "-readme", twice}, "more than one"},
		{"module does not parse", []string{"-module", "testdata/broken", "-readme", current}, "reading the module in testdata/broken"},
		{"not a module", []string{"-module", t.TempDir(), "-readme", current}, "no variables and no outputs"},
		{"no README", []string{"-module", fixtureModule, "-readme", filepath.Join(t.TempDir(), "missing.md")}, "reading the README"},
		{"stray argument", []string{"terraform"}, "unexpected argument \"terraform\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runTool(tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exited %d with %q; want 2 and a message containing %q", code, stderr, tc.want)
			}
		})
	}
}

func TestCell(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"a | b", `a \| b`},
		{"<name>-watchdog", "&lt;name&gt;-watchdog"},
		{"`<name>` stays in code", "`<name>` stays in code"},
		{"line one\nline two", "line one line two"},
		{"para one\n\npara two", "para one<br><br>para two"},
		{"every */20 minutes", `every \*/20 minutes`},
		{"`*/20 * * * *` in code", "`*/20 * * * *` in code"},
	} {
		if got := cell(tc.in); got != tc.want {
			t.Errorf("cell(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"string", "`string`"},
		{"map(string)", "`map(string)`"},
		{"a|b", "`a\\|b`"},
		{"has `tick`", "`` has `tick` ``"},
		{"object({\n  a = number\n})", "`object({ a = number })`"},
	} {
		if got := code(tc.in); got != tc.want {
			t.Errorf("code(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
