package config

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// TestBaseURLPasswordIsNeverPrinted: a base URL with user information (a
// proxy's credentials) is accepted, but its password appears neither in
// the start-up log line (LogValue) nor in the sentence that refuses the URL
// for another reason.
func TestBaseURLPasswordIsNeverPrinted(t *testing.T) {
	t.Parallel()
	const password = "Planted-Pw-5150"
	c, err := Load(lookup(map[string]string{
		"REFRESHER_DB":             "/tmp/x.db",
		"THREADS_API_BASE_URL":     "https://proxy-user:" + password + "@proxy.example.com/threads",
		"INSTAGRAM_API_BASE_URL":   "http://proxy-user:" + password + "@127.0.0.1:8001",
		"INSTAGRAM_OAUTH_BASE_URL": "http://proxy-user:" + password + "@localhost:8002",
	}))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("refresher started", "config", c)
	if !strings.Contains(logs.String(), "proxy.example.com") {
		t.Fatalf("the log line does not show the base URL at all:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), password) {
		t.Errorf("the start-up log line shows the password:\n%s", logs.String())
	}

	for _, v := range []string{
		"https://proxy-user:" + password + "@proxy.example.com/?v=1",
		"http://proxy-user:" + password + "@10.0.0.5:8080",
		"https://proxy-user:" + password + "@proxy.example.com:80x80",
		"ftp://proxy-user:" + password + "@proxy.example.com",
	} {
		_, err := Load(lookup(map[string]string{"REFRESHER_DB": "/tmp/x.db", "THREADS_API_BASE_URL": v}))
		var cerr *Error
		if !errors.As(err, &cerr) || cerr.Variable != "THREADS_API_BASE_URL" {
			t.Errorf("THREADS_API_BASE_URL=%s: %v, want it refused", v, err)
			continue
		}
		if strings.Contains(err.Error(), password) || !strings.Contains(err.Error(), "proxy-user:xxxxx@") {
			t.Errorf("THREADS_API_BASE_URL=%s: %q, want the URL quoted with its password replaced", v, err)
		}
	}
}

// TestPlainHTTPToAnotherMachineIsRefused: tokens would travel in clear
// text; the sentence names the variable and says why.
func TestPlainHTTPToAnotherMachineIsRefused(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"THREADS_API_BASE_URL", "INSTAGRAM_API_BASE_URL", "INSTAGRAM_OAUTH_BASE_URL"} {
		_, err := Load(lookup(map[string]string{"REFRESHER_DB": "/tmp/x.db", name: "http://10.0.0.5:8080"}))
		var cerr *Error
		if !errors.As(err, &cerr) || cerr.Variable != name || !strings.Contains(err.Error(), "clear text") {
			t.Errorf("%s=http://10.0.0.5:8080: %v, want a sentence naming %s and the clear text", name, err, name)
		}
	}
	for _, ok := range []string{"http://127.0.0.1:8080", "http://[::1]:8080", "http://localhost:8080", "https://10.0.0.5:8443"} {
		if _, err := Load(lookup(map[string]string{"REFRESHER_DB": "/tmp/x.db", "THREADS_API_BASE_URL": ok})); err != nil {
			t.Errorf("THREADS_API_BASE_URL=%s refused: %v", ok, err)
		}
	}
}
