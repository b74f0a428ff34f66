package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/firestoreemu"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/smfake"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/syncbuf"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// storeKind names the store a test runs against.
type storeKind string

const (
	local  storeKind = "local"
	google storeKind = "google"
)

// eachStore runs f against both stores, as parallel subtests.
func eachStore(t *testing.T, f func(t *testing.T, w *world), opts ...threadsfake.Option) {
	for _, k := range []storeKind{local, google} {
		t.Run(string(k), func(t *testing.T) {
			t.Parallel()
			f(t, newWorld(t, k, opts...))
		})
	}
}

// world is one isolated installation: a Threads fake, an Instagram fake
// and a store of the given kind, and everything the commands printed.
type world struct {
	t    *testing.T
	kind storeKind
	th   *threadsfake.Server
	ig   *threadsfake.Server
	env  map[string]string

	db      string         // local: the database file
	sm      *smfake.Server // google
	project string         // google

	mu      sync.Mutex
	outputs []captured
	secrets []string // secrets besides the fake's live tokens and app secret
	users   int
	printed int // bytes printed that are not in outputs
}

// captured is what one invocation printed where no secret may appear.
type captured struct {
	what string
	text string
}

const projectNumber = "246813579024"

func newWorld(t *testing.T, kind storeKind, opts ...threadsfake.Option) *world {
	t.Helper()
	w := &world{t: t, kind: kind}
	// Registered first, so it runs last, once every process has ended.
	t.Cleanup(w.checkNoSecrets)
	w.th = threadsfake.Start(t, opts...)
	w.env = map[string]string{
		"THREADS_API_BASE_URL": w.th.URL(),
		"THREADS_TIMEOUT":      "2s",
		"LOG_LEVEL":            "debug", // the most lines to search for secrets
	}
	w.startInstagram()
	switch kind {
	case local:
		// A directory that does not exist yet: the first command makes it.
		w.db = filepath.Join(t.TempDir(), "config", "threads-token-refresher", "refresher.db")
		w.env["REFRESHER_DB"] = w.db
	case google:
		w.project = firestoreemu.Project(t)
		w.sm = smfake.Start(t, smfake.WithProjectNumbers(map[string]string{w.project: projectNumber}))
		w.env["GOOGLE_CLOUD_PROJECT"] = w.project
		w.env["THREADS_SECRETS"] = "main"
		w.env["SECRET_MANAGER_EMULATOR_HOST"] = w.sm.Addr()
		w.env["FIRESTORE_EMULATOR_HOST"] = firestoreemu.Host(t)
	}
	return w
}

// startInstagram (re)starts the world's Instagram fake with opts and points
// the refresher at it. Tokens of a replaced fake stay forbidden.
func (w *world) startInstagram(opts ...threadsfake.Option) {
	if w.ig != nil {
		w.forbid(w.ig.Tokens()...)
		w.forbid(w.ig.AppSecret())
	}
	w.ig = threadsfake.Start(w.t, append([]threadsfake.Option{threadsfake.Instagram()}, opts...)...)
	w.env["INSTAGRAM_API_BASE_URL"] = w.ig.URL()
	w.env["INSTAGRAM_OAUTH_BASE_URL"] = w.ig.OAuthURL()
}

// forbid adds values that must never be printed.
func (w *world) forbid(secrets ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range secrets {
		if len(s) >= 8 { // shorter strings would match by accident
			w.secrets = append(w.secrets, s)
		}
	}
}

// record keeps output for the secret check at the end of the test.
func (w *world) record(what, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.outputs = append(w.outputs, captured{what, text})
}

// checkNoSecrets searches everything the commands printed for a token the
// fake issued, the app secret, and every other secret the test used.
func (w *world) checkNoSecrets() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.outputs) == 0 {
		return // nothing ran: the test failed early or needs no check
	}
	secrets := append(w.th.Tokens(), w.th.AppSecret(), w.ig.AppSecret())
	secrets = append(secrets, w.ig.Tokens()...)
	secrets = append(secrets, w.secrets...)
	total := w.printed
	for _, o := range w.outputs {
		total += len(o.text)
		for _, s := range secrets {
			if strings.Contains(o.text, s) {
				w.t.Errorf("%s printed a secret (%.8s…):\n%s", o.what, s, o.text)
			}
		}
	}
	if total == 0 {
		w.t.Error("the commands printed nothing: the secret check proves nothing")
	}
}

// result is what one invocation did.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout:\n%s--- stderr:\n%s", r.code, r.stdout, r.stderr)
}

// unset in an override removes the variable.
const unset = "\x00unset"

// call describes one invocation beyond its arguments.
type call struct {
	stdin io.Reader
	env   map[string]string // overrides of the world's environment
	// stderr also receives standard error as it is written.
	stderr io.Writer
	// stdout replaces the captured standard output (a terminal, say).
	stdout io.Writer
}

// run runs the command in-process with empty standard input.
func (w *world) run(args ...string) result {
	w.t.Helper()
	return w.runCall(call{}, args...)
}

// runIn runs the command in-process with stdin as standard input.
func (w *world) runIn(stdin string, args ...string) result {
	w.t.Helper()
	return w.runCall(call{stdin: strings.NewReader(stdin)}, args...)
}

func (w *world) runCall(c call, args ...string) result {
	w.t.Helper()
	vars := w.environ(c.env)
	r := execute(w.t, c, vars, args...)
	what := "refresher " + strings.Join(args, " ")
	if len(args) > 0 && args[0] == "token" {
		// The one place a token may appear, alone on its line: anything
		// after that line is searched like the rest.
		_, rest, _ := strings.Cut(r.stdout, "\n")
		w.record(what, rest+r.stderr)
		w.mu.Lock()
		w.printed += len(r.stdout)
		w.mu.Unlock()
	} else {
		w.record(what, r.stdout+r.stderr)
	}
	return r
}

// environ is the world's environment with overrides applied.
func (w *world) environ(overrides map[string]string) map[string]string {
	vars := make(map[string]string, len(w.env)+len(overrides))
	for k, v := range w.env {
		vars[k] = v
	}
	for k, v := range overrides {
		if v == unset {
			delete(vars, k)
		} else {
			vars[k] = v
		}
	}
	return vars
}

// execute runs realMain with a map for an environment.
func execute(t *testing.T, c call, vars map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	stdin := c.stdin
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var stdout, stderr syncbuf.Buffer
	var outw io.Writer = &stdout
	if c.stdout != nil {
		outw = c.stdout
	}
	var errw io.Writer = &stderr
	if c.stderr != nil {
		errw = io.MultiWriter(&stderr, c.stderr)
	}
	code := realMain(ctx, args, &env{
		stdin:  stdin,
		stdout: outw,
		stderr: errw,
		lookup: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
	})
	if ctx.Err() != nil {
		t.Fatalf("refresher %s did not end within a minute", strings.Join(args, " "))
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}
