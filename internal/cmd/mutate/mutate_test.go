package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseList(t *testing.T) {
	t.Parallel()
	list := `# a comment
=== off-by-one: the bound is one too many
file: a/a.go
sim: yes
<<<
	return n < 3
---
	return n <= 3
>>>

=== two-lines: two lines become one
file: a/a.go
<<<
x := 1
y := 2
---
x, y := 1, 2
>>>
`
	got, err := parseList(strings.NewReader(list))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d mutants, want 2", len(got))
	}
	if m := got[0]; m.Name != "off-by-one" || m.What != "the bound is one too many" || m.File != "a/a.go" || !m.Sim ||
		m.Old != "\treturn n < 3" || m.New != "\treturn n <= 3" {
		t.Errorf("first mutant: %+v", m)
	}
	if m := got[1]; m.Sim || m.Old != "x := 1\ny := 2" || m.New != "x, y := 1, 2" {
		t.Errorf("second mutant: %+v", m)
	}
}

func TestParseListRefuses(t *testing.T) {
	t.Parallel()
	for name, list := range map[string]string{
		"no header":      "file: a.go\n",
		"duplicate name": "=== a: x\nfile: f\n<<<\no\n---\nn\n>>>\n=== a: y\nfile: f\n<<<\no\n---\nn\n>>>\n",
		"not closed":     "=== a: x\nfile: f\n<<<\no\n---\nn\n",
		"no change":      "=== a: x\nfile: f\n<<<\no\n---\no\n>>>\n",
		"bad sim":        "=== a: x\nsim: maybe\n",
		"no file":        "=== a: x\n<<<\no\n---\nn\n>>>\n",
	} {
		if _, err := parseList(strings.NewReader(list)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestReadEvents(t *testing.T) {
	t.Parallel()
	events := `{"Action":"run","Package":"m/internal/sim","Test":"TestEmbeddedStore"}
{"Action":"output","Package":"m/internal/sim","Test":"TestEmbeddedStore/seed=2","Output":"    run_test.go:9: seed 2: invariant 5 (dead token reported) broken at 2026-03-12T04:00:00Z (day 11 of the run): x\n"}
{"Action":"fail","Package":"m/internal/sim","Test":"TestEmbeddedStore/seed=2"}
{"Action":"fail","Package":"m/internal/sim","Test":"TestEmbeddedStore"}
{"Action":"fail","Package":"m/internal/sim"}
{"Action":"fail","Package":"m/internal/other"}
{"Action":"pass","Package":"m/internal/refresh","Test":"TestOK"}
`
	got, err := readEvents(strings.NewReader(events))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"m/internal/other (package)", "m/internal/sim TestEmbeddedStore"}
	if strings.Join(got.failed, "|") != strings.Join(want, "|") {
		t.Errorf("failed = %q, want %q", got.failed, want)
	}
	if len(got.sim) != 1 || !strings.HasPrefix(got.sim[0], "seed 2: invariant 5") {
		t.Errorf("sim = %q", got.sim)
	}
	if !got.caughtIn("/internal/sim") || got.caughtIn("/internal/refresh") {
		t.Errorf("caughtIn is wrong for %q", got.failed)
	}
}

// TestMutateAModule runs the command on a module of its own: one mutant
// its test catches, one it does not, one that no longer matches the code.
func TestMutateAModule(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go test on a module of its own")
	}
	dir := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/m\n\ngo 1.26.0\n")
	write("calc/calc.go", "package calc\n\n// Max is the larger of a and b.\nfunc Max(a, b int) int {\n\tif a > b {\n\t\treturn a\n\t}\n\treturn b\n}\n\n// Unused is not tested.\nfunc Unused() int { return 1 }\n")
	write("calc/calc_test.go", "package calc\n\nimport \"testing\"\n\nfunc TestMax(t *testing.T) {\n\tif Max(2, 1) != 2 || Max(1, 2) != 2 {\n\t\tt.Fatal(\"wrong\")\n\t}\n}\n")
	write("internal/sim/mutants.txt", "=== flipped: the comparison is reversed\nfile: calc/calc.go\n<<<\n\tif a > b {\n---\n\tif a < b {\n>>>\n\n=== untested: a function no test calls\nfile: calc/calc.go\n<<<\nreturn 1 }\n---\nreturn 2 }\n>>>\n")
	git := func(args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	git("add", ".")
	// realMain finds the module from the working directory, as go does.
	t.Chdir(dir)

	run := func(args ...string) (string, string, error) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		err := realMain(context.Background(), args, &stdout, &stderr)
		return stdout.String(), stderr.String(), err
	}
	stdout, stderr, err := run()
	if err == nil || !strings.Contains(err.Error(), "1 of 2 mutants") {
		t.Fatalf("err = %v, want one mutant not caught\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	for _, want := range []string{"`flipped`", "calc TestMax", "| caught |", "`untested`", "ESCAPED"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "calc", "calc.go")); !strings.Contains(string(b), "if a > b") {
		t.Error("the working tree was changed")
	}

	write("calc/calc.go", "package calc\n\nfunc Max(a, b int) int { return max(a, b) }\n\nfunc Unused() int { return 1 }\n")
	if _, _, err := run("-run", "flipped"); err == nil || !strings.Contains(err.Error(), "update the list") {
		t.Errorf("a stale mutant: err = %v", err)
	}
}
