package main

// The tests run the commands as a person or a script would: in-process
// through realMain with their own input, output and environment (so that
// they run in parallel), or, where a real process matters (serve, two
// concurrent passes, a kill in the middle of a pass), as the built binary.
// Each runs against the embedded store and against the Google adapters: the
// real Firestore emulator and an in-process Secret Manager, both reached by
// the real Google clients, with a Threads fake for the Graph API.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/localstore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/firestoreemu"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/smfake"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/syncbuf"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// binDir holds the binary built for the process tests.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "refresher-cmd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "making a directory for the binary:", err)
		os.Exit(1)
	}
	binDir = dir
	code := firestoreemu.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the refresher once per test binary, on first use.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binPath = filepath.Join(binDir, "refresher")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

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

// user is a Threads user the fake knows.
type user struct {
	id, name string
}

// newUser makes a distinct Threads user.
func (w *world) newUser(account string) user {
	w.mu.Lock()
	w.users++
	n := w.users
	w.mu.Unlock()
	return user{id: fmt.Sprintf("178414%08d", n), name: "user_" + account}
}

// longLived issues a long-lived Threads token issued age ago.
func (w *world) longLived(u user, age time.Duration) string { return w.issue(w.th, true, u, age) }

// shortLived issues a short-lived Threads token issued age ago.
func (w *world) shortLived(u user, age time.Duration) string { return w.issue(w.th, false, u, age) }

// issue has fake f issue a token, long- or short-lived, issued age ago.
func (w *world) issue(f *threadsfake.Server, long bool, u user, age time.Duration) string {
	issue := f.IssueShortLived
	if long {
		issue = f.IssueLongLived
	}
	tok := issue(u.id, u.name, time.Now().Add(-age))
	w.forbid(tok)
	return tok
}

// seed gives the account a long-lived Threads token issued age ago, stored
// as the secret's newest version created at that time, as `refresher add`
// would have stored it then.
func (w *world) seed(account string, age time.Duration) (string, user) {
	w.t.Helper()
	return w.seedOn(payload.PlatformThreads, w.th, account, age)
}

// seedOn is seed for the platform whose fake is f.
func (w *world) seedOn(platform string, f *threadsfake.Server, account string, age time.Duration) (string, user) {
	w.t.Helper()
	u := w.newUser(account)
	tok := w.issue(f, true, u, age)
	w.storeVersion(account, payload.NewFor(platform, tok, u.id, u.name), time.Now().Add(-age))
	return tok, u
}

// createSecret makes the account's secret with no version, as Terraform
// does in Google Cloud.
func (w *world) createSecret(account string) {
	w.t.Helper()
	switch w.kind {
	case local:
		s := w.openStore(nil)
		if _, err := s.CreateSecret(context.Background(), account); err != nil {
			w.t.Fatal(err)
		}
	case google:
		w.sm.CreateSecret(w.secretName(account))
	}
}

// terraform creates the account's secret in Google mode, as the Terraform
// module does; the local store needs nothing beforehand.
func (w *world) terraform(account string) {
	if w.kind == google {
		w.createSecret(account)
	}
}

func (w *world) storeVersion(account string, p []byte, created time.Time) {
	w.t.Helper()
	switch w.kind {
	case local:
		s := w.openStore(func() time.Time { return created })
		a, err := s.CreateSecret(context.Background(), account)
		if err != nil {
			w.t.Fatal(err)
		}
		if _, err := s.Add(context.Background(), a, p); err != nil {
			w.t.Fatal(err)
		}
	case google:
		name := w.secretName(account)
		if !w.sm.HasSecret(name) {
			w.sm.CreateSecret(name)
		}
		w.sm.AddVersion(name, p, created)
	}
}

// openStore opens the world's database as another process would; now is
// its clock (nil: the real one).
func (w *world) openStore(now func() time.Time) *localstore.Store {
	w.t.Helper()
	s, err := localstore.Open(w.db, localstore.Options{Now: now})
	if err != nil {
		w.t.Fatalf("opening the local store: %v", err)
	}
	w.t.Cleanup(func() { s.Close() })
	return s
}

func (w *world) secretName(account string) string {
	return "projects/" + w.project + "/secrets/" + account
}

// stored is one version of an account's secret, as the store holds it.
type stored struct {
	number  int64
	enabled bool
	payload []byte
}

// versions lists the account's versions, oldest first; none when the
// secret (or the database) does not exist.
func (w *world) versions(account string) []stored {
	w.t.Helper()
	var out []stored
	switch w.kind {
	case local:
		if _, err := os.Stat(w.db); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		s := w.openStore(nil)
		a := s.Account(account)
		vs, err := s.Versions(context.Background(), a)
		if errors.Is(err, refresh.ErrNotFound) {
			return nil
		}
		if err != nil {
			w.t.Fatal(err)
		}
		for _, v := range vs {
			st := stored{number: v.Number, enabled: v.State == refresh.VersionEnabled}
			if st.enabled {
				if st.payload, err = s.Access(context.Background(), a, v); err != nil {
					w.t.Fatal(err)
				}
			}
			out = append(out, st)
		}
	case google:
		if !w.sm.HasSecret(w.secretName(account)) {
			return nil
		}
		for _, v := range w.sm.Versions(w.secretName(account)) {
			out = append(out, stored{number: v.Number, enabled: v.State.String() == "ENABLED", payload: v.Payload})
		}
	}
	return out
}

// newest returns the payload of the account's newest version as a map.
func (w *world) newest(account string) map[string]any {
	w.t.Helper()
	vs := w.versions(account)
	if len(vs) == 0 {
		w.t.Fatalf("account %s has no version", account)
	}
	var m map[string]any
	if err := json.Unmarshal(vs[len(vs)-1].payload, &m); err != nil {
		w.t.Fatalf("the newest payload of %s is not a JSON object: %v", account, err)
	}
	return m
}

// newestToken returns the access_token of the account's newest version.
func (w *world) newestToken(account string) string {
	w.t.Helper()
	tok, _ := w.newest(account)["access_token"].(string)
	return tok
}

// passJSON is the pass and status JSON as the issue specifies it; decoding
// refuses any other field.
type passJSON struct {
	Accounts  []accountJSON `json:"accounts"`
	Refreshed *int          `json:"refreshed"`
	Failed    *int          `json:"failed"`
}

// accountJSON is one account's line in passJSON.
type accountJSON struct {
	Account     string `json:"account"`
	Result      string `json:"result"`
	Platform    string `json:"platform"`
	RefreshedAt string `json:"refreshedAt"`
	ExpiresAt   string `json:"expiresAt"`
	// HoursLeft is a JSON number: a string would not decode.
	HoursLeft *int   `json:"hoursLeft"`
	Error     string `json:"error"`
}

// parseReport decodes s, which must be one JSON report and nothing else.
func parseReport(t *testing.T, s string) passJSON {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	var r passJSON
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("not a JSON report: %v\n%s", err, s)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("more than one JSON value:\n%s", s)
	}
	if r.Accounts == nil || r.Refreshed == nil || r.Failed == nil {
		t.Fatalf("report lacks accounts, refreshed or failed:\n%s", s)
	}
	for _, a := range r.Accounts {
		for _, ts := range []string{a.RefreshedAt, a.ExpiresAt} {
			if _, err := time.Parse(time.RFC3339, ts); ts != "" && err != nil {
				t.Errorf("%s: time %q is not RFC 3339", a.Account, ts)
			}
		}
	}
	return r
}

// resultOf returns the account's result in r, failing when it is missing.
func resultOf(t *testing.T, r passJSON, account string) string {
	t.Helper()
	return accountIn(t, r, account).Result
}

// accountIn returns the account's line in r, failing when it is missing.
func accountIn(t *testing.T, r passJSON, account string) accountJSON {
	t.Helper()
	for _, a := range r.Accounts {
		if a.Account == account {
			return a
		}
	}
	t.Fatalf("account %s missing from the report %+v", account, r)
	return accountJSON{}
}

func errorOf(r passJSON, account string) string {
	for _, a := range r.Accounts {
		if a.Account == account {
			return a.Error
		}
	}
	return ""
}

// wantOneLine checks that s is exactly one non-empty line and returns it.
func wantOneLine(t *testing.T, what, s string) string {
	t.Helper()
	line := strings.TrimSuffix(s, "\n")
	if line == "" || strings.Contains(line, "\n") || !strings.HasSuffix(s, "\n") {
		t.Errorf("%s: want exactly one line, got %q", what, s)
	}
	return line
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// jsonLogs checks that every line of s but the command's own (which starts
// with "refresher ") is a structured log line, and returns them.
func jsonLogs(t *testing.T, s string) []map[string]any {
	t.Helper()
	var logs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" || strings.HasPrefix(line, "refresher ") {
			continue // the command's own line for people
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		if m["severity"] == nil || m["message"] == nil {
			t.Errorf("log line without severity or message: %q", line)
		}
		logs = append(logs, m)
	}
	return logs
}
