// Package googleenv is one isolated Google Cloud deployment of the
// refresher for tests: its own project in the Firestore emulator, its own
// in-process Secret Manager, Threads and Instagram fakes, and the
// environment variables that point the refresher at them. The refresher is
// reached through the real Google clients, as deployed; the tests of the
// Cloud Function drive it over HTTP, as Cloud Scheduler does.
//
// The package calling New must run the Firestore emulator
// (firestoreemu.Main in its TestMain).
package googleenv

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/firestore"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/firestoreemu"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/smfake"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/syncbuf"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// ProjectNumber is the number Secret Manager gives the project: version
// names come back under it, not under the project ID.
const ProjectNumber = "123456789012"

// Env is one deployment.
type Env struct {
	t       testing.TB
	Project string
	SM      *smfake.Server
	TH      *threadsfake.Server
	IG      *threadsfake.Server
	// Vars is the refresher's environment; a test may change it before
	// the refresher reads it.
	Vars map[string]string
	FS   *firestore.Client

	// Output is every log line and HTTP answer, searched for tokens when
	// the test ends.
	Output syncbuf.Buffer
}

// New builds a deployment whose THREADS_SECRETS names accounts, each with
// its secret created and no version yet; vars override the environment.
// When t ends New checks that no token either fake issued appears in
// Output.
func New(t testing.TB, accounts []string, vars map[string]string) *Env {
	t.Helper()
	project := firestoreemu.Project(t)
	e := &Env{
		t:       t,
		Project: project,
		SM:      smfake.Start(t, smfake.WithProjectNumbers(map[string]string{project: ProjectNumber})),
		TH:      threadsfake.Start(t),
		IG:      threadsfake.Start(t, threadsfake.Instagram()),
	}
	e.Vars = map[string]string{
		"GOOGLE_CLOUD_PROJECT":         project,
		"THREADS_SECRETS":              strings.Join(accounts, ","),
		"SECRET_MANAGER_EMULATOR_HOST": e.SM.Addr(),
		"FIRESTORE_EMULATOR_HOST":      firestoreemu.Host(t),
		"THREADS_API_BASE_URL":         e.TH.URL(),
		"INSTAGRAM_API_BASE_URL":       e.IG.URL(),
		"THREADS_TIMEOUT":              "2s",
		"LOG_LEVEL":                    "debug",
	}
	for k, v := range vars {
		e.Vars[k] = v
	}
	for _, a := range accounts {
		e.SM.CreateSecret(e.Secret(a))
	}
	fs, err := firestore.NewClient(context.Background(), project)
	if err != nil {
		t.Fatal(err)
	}
	e.FS = fs
	t.Cleanup(func() {
		fs.Close()
		e.CheckNoToken()
	})
	return e
}

// Lookup reads the environment, as config.LookupFunc does.
func (e *Env) Lookup(k string) (string, bool) { v, ok := e.Vars[k]; return v, ok }

// Secret is the account's secret name.
func (e *Env) Secret(account string) string {
	return "projects/" + e.Project + "/secrets/" + account
}

// SeedToken issues a long-lived token of the given age in Threads and
// stores it as a new version, in the usual JSON shape.
func (e *Env) SeedToken(account string, age time.Duration) string {
	e.t.Helper()
	issued := time.Now().Add(-age)
	tok := e.TH.IssueLongLived("1789"+account, "user_"+account, issued)
	e.SM.AddVersion(e.Secret(account), []byte(`{"access_token":"`+tok+`","user_id":"1789`+account+`"}`), issued)
	return tok
}

// Call sends one request to h and decodes the answer, keeping it in Output.
func (e *Env) Call(h http.Handler, method string) (int, refresh.Report, string) {
	e.t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, "/", strings.NewReader("{}")))
	body := rec.Body.String()
	e.Output.Write([]byte(body))
	var rep refresh.Report
	if rec.Code != http.StatusMethodNotAllowed && strings.Contains(body, `"accounts"`) {
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			e.t.Fatalf("%s answer is not a report: %v\n%s", method, err, body)
		}
	}
	return rec.Code, rep, body
}

// Post is a pass: Call with POST.
func (e *Env) Post(h http.Handler) (int, refresh.Report) {
	e.t.Helper()
	code, rep, _ := e.Call(h, http.MethodPost)
	return code, rep
}

// Doc is the account's Firestore document.
func (e *Env) Doc(account string) map[string]any {
	e.t.Helper()
	snap, err := e.FS.Collection("threads_tokens").Doc(account).Get(context.Background())
	if err != nil {
		e.t.Fatalf("reading state of %s: %v", account, err)
	}
	return snap.Data()
}

// Versions lists the versions of the account's secret.
func (e *Env) Versions(account string) []smfake.VersionInfo {
	return e.SM.Versions(e.Secret(account))
}

// NewestPayload returns the payload of the highest-numbered version.
func (e *Env) NewestPayload(account string) map[string]any {
	e.t.Helper()
	vs := e.Versions(account)
	var newest smfake.VersionInfo
	for _, v := range vs {
		if v.Number > newest.Number {
			newest = v
		}
	}
	var m map[string]any
	if err := json.Unmarshal(newest.Payload, &m); err != nil {
		e.t.Fatalf("newest payload of %s is not JSON: %v", account, err)
	}
	return m
}

// CheckNoToken fails the test when Output is empty (the search would prove
// nothing) or holds a token either fake issued.
func (e *Env) CheckNoToken() {
	out := e.Output.String()
	if out == "" {
		e.t.Error("no output was captured; the token search would prove nothing")
	}
	for _, tok := range append(e.TH.Tokens(), e.IG.Tokens()...) {
		if strings.Contains(out, tok) {
			e.t.Errorf("a token appears in logs or HTTP answers:\n%s", out)
			return
		}
	}
}
