package main

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

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
	// ExpiryFrom is meta, refresh or estimate (issue 15).
	ExpiryFrom          string `json:"expiryFrom"`
	DataAccessExpiresAt string `json:"dataAccessExpiresAt"`
	// HoursLeft is a JSON number: a string would not decode.
	HoursLeft *int   `json:"hoursLeft"`
	Error     string `json:"error"`
	// LeaseOwner and LeaseExpiresAt: status of an account another pass
	// holds (result busy).
	LeaseOwner     string `json:"leaseOwner"`
	LeaseExpiresAt string `json:"leaseExpiresAt"`
	// Health is ok, expiring, failing or needs_reauth, and Fix the command
	// that brings the account back where a person is needed (issue 18).
	Health string `json:"health"`
	Fix    string `json:"fix"`
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
		for _, ts := range []string{a.RefreshedAt, a.ExpiresAt, a.DataAccessExpiresAt} {
			if _, err := time.Parse(time.RFC3339, ts); ts != "" && err != nil {
				t.Errorf("%s: time %q is not RFC 3339", a.Account, ts)
			}
		}
		switch a.Health {
		case "ok", "failing":
			if a.Fix != "" {
				t.Errorf("%s: health %s with a fix %q", a.Account, a.Health, a.Fix)
			}
		case "expiring", "needs_reauth":
			if !strings.Contains(a.Fix, "refresher login") || !strings.Contains(a.Fix, " "+a.Account) {
				t.Errorf("%s: health %s with the fix %q, want the login that brings it back", a.Account, a.Health, a.Fix)
			}
		case "":
			if a.Result != "unknown" && a.Result != "busy" && a.Result != "skipped" && a.Result != "failed" {
				t.Errorf("%s: result %s without a health", a.Account, a.Result)
			}
		default:
			t.Errorf("%s: health %q", a.Account, a.Health)
		}
		switch a.ExpiryFrom {
		case "meta", "refresh", "estimate":
		case "":
			if a.ExpiresAt != "" {
				t.Errorf("%s: expiresAt without expiryFrom", a.Account)
			}
		default:
			t.Errorf("%s: expiryFrom %q, want meta, refresh or estimate", a.Account, a.ExpiryFrom)
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
