package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// checkAnswer posts an account check of main and decodes the answer, a
// pass's report with the one account.
func (r *rig) checkAnswer(what string, wantCode int, wantResult refresh.Result, wantHealth refresh.Health) refresh.AccountReport {
	r.t.Helper()
	rec, lines := r.post(`{"check":"account","account":"main"}`)
	if errs := errorsIn(lines); len(errs) != 0 {
		r.t.Errorf("%s: a check logged an ERROR: %v", what, errs)
	}
	var rep refresh.Report
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil || len(rep.Accounts) != 1 {
		r.t.Fatalf("%s: answer %d %s (%v), want a report of one account", what, rec.Code, rec.Body.String(), err)
	}
	a := rep.Accounts[0]
	if rec.Code != wantCode || a.Account != "main" || a.Result != wantResult || a.Health != wantHealth {
		r.t.Fatalf("%s: %d %+v, want %d, %s, %s", what, rec.Code, a, wantCode, wantResult, wantHealth)
	}
	return a
}

// TestAccountCheck: {"check":"account","account":"main"} checks the one
// account now and answers as a pass does, with that account: 200 while its
// token works; 500 at once when Meta refuses it (190), the account then
// needs_reauth; 500 when the check could not be made; 404 for an account
// the function does not keep. It never refreshes (the token here is due),
// writes no ERROR line (the alerts read the passes' lines), and its own
// line is "account checked", with check "account".
func TestAccountCheck(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.Seed("main", 72*time.Hour)
	a := r.checkAnswer("alive", http.StatusOK, refresh.ResultAlive, refresh.HealthOK)
	if a.HoursLeft == nil || a.Fix != "" {
		t.Errorf("alive: %+v, want the hours left and no fix", a)
	}

	r.TH.FailNext(threadsfake.PathMe, threadsfake.Transient, 1)
	a = r.checkAnswer("Meta down", http.StatusInternalServerError, refresh.ResultFailed, refresh.HealthOK)
	if !strings.Contains(a.Error, "could not be made") {
		t.Errorf("Meta down: error %q", a.Error)
	}

	_, raw, err := refresh.Current(context.Background(), r.Store, r.Store.Account("main"))
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(raw, &p)
	r.TH.Revoke(p.AccessToken)
	a = r.checkAnswer("revoked", http.StatusInternalServerError, refresh.ResultNeedsReauth, refresh.HealthNeedsReauth)
	if !strings.Contains(a.Error, "code 190") || !strings.Contains(a.Fix, "refresher login --redirect-uri URI main") {
		t.Errorf("revoked: %+v, want Meta's refusal and the fix", a)
	}
	if st := r.State("main"); st.Status != refresh.StatusNeedsReauth {
		t.Errorf("after the check the state says %s", st.Status)
	}
	if n := r.TH.Calls(threadsfake.PathRefresh); n != 0 {
		t.Errorf("%d refresh calls, want none", n)
	}

	// Its line.
	rec, lines := r.serveBody(`{"check":"account","account":"main"}`)
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("needs_reauth, again: %d", rec.Code)
	}
	var checked []map[string]any
	for _, l := range lines {
		if l["message"] == "account processed" || l["message"] == "refresh pass done" {
			t.Errorf("a check wrote a pass's line: %v", l)
		}
		if l["message"] == "account checked" {
			checked = append(checked, l)
		}
	}
	if len(checked) != 1 || checked[0]["check"] != "account" || checked[0]["severity"] != "WARNING" || checked[0]["result"] != "needs_reauth" ||
		checked[0]["health"] != "needs_reauth" || checked[0]["account"] != "main" {
		t.Errorf("lines %v, want one WARNING \"account checked\" with check account, the result and the health", checked)
	}

	rec, lines = r.post(`{"check":"account","account":"nobody"}`)
	if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `nobody`) || len(errorsIn(lines)) != 0 {
		t.Errorf("unknown account: %d %s %v, want 404 naming it, no ERROR", rec.Code, rec.Body.String(), lines)
	}
}

// TestAccountCheckFailure: a check that cannot read the accounts or the
// state answers 500 and logs one ERROR "account check failed", which the
// function-error alert reads.
func TestAccountCheckFailure(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	r.Engine.Accounts = func(context.Context) ([]refresh.Account, error) {
		return nil, errors.New("state store unreachable")
	}
	rec, lines := r.post(`{"check":"account","account":"main"}`)
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("answered %d, want 500", rec.Code)
	}
	l := wholeFailure(t, "account check", lines, "account check failed")
	if !strings.Contains(l["error"].(string), "unreachable") {
		t.Errorf("line %v, want the error", l)
	}
}

// serveBody sends a POST with body to the rig's handler and returns the
// answer and the lines logged, as serve does.
func (r *rig) serveBody(body string) (*httptest.ResponseRecorder, []map[string]any) {
	r.t.Helper()
	mark := len(r.Logs.String())
	rec := httptest.NewRecorder()
	r.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)))
	lines := decodeLines(r.t, r.Logs.String()[mark:])
	r.Logs.Write(rec.Body.Bytes())
	return rec, lines
}

// errorsIn are the ERROR lines of lines.
func errorsIn(lines []map[string]any) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		if l["severity"] == "ERROR" {
			out = append(out, l)
		}
	}
	return out
}
