package graph_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
	"github.com/threads-token-refresher/threads-token-refresher/internal/threads"
)

// TestBaseURLPlainHTTPOnlyToThisMachine: a token sent over plain http to
// another machine crosses the network in clear text. The fakes and
// emulators that tests and local runs point the refresher at are on this
// machine, so plain http stays allowed there and nowhere else.
func TestBaseURLPlainHTTPOnlyToThisMachine(t *testing.T) {
	t.Parallel()
	allowed := []string{
		"https://graph.threads.net",
		"https://10.0.0.5:8443",
		"http://127.0.0.1:8080",
		"http://127.4.5.6:8080/v1.0",
		"http://[::1]:8080",
		"http://localhost:8080",
		"http://LOCALHOST",
	}
	for _, raw := range allowed {
		if err := graph.CheckBaseURL(raw); err != nil {
			t.Errorf("CheckBaseURL(%q) = %v, want nil", raw, err)
		}
	}
	refused := []string{
		"http://10.0.0.5:8080",
		"http://graph.threads.net",
		"http://localhost.example.com",
		"http://127.0.0.1.nip.io:8080",
		"http://[::2]:8080",
		"http://0.0.0.0:8080",
	}
	for _, raw := range refused {
		if err := graph.CheckBaseURL(raw); !errors.Is(err, graph.ErrCleartext) {
			t.Errorf("CheckBaseURL(%q) = %v, want ErrCleartext", raw, err)
		}
	}

	// The client refuses the same, before sending anything.
	c := threads.New("http://10.0.0.5:8080", 0, nil)
	if _, err := c.Me(context.Background(), "THAAtoken"); !errors.Is(err, graph.ErrCleartext) {
		t.Errorf("Me through plain http to another machine: %v, want ErrCleartext", err)
	}
}

// TestBaseURLPasswordNeverPrinted: a base URL may carry user information (a
// proxy's credentials); no error about it shows the password, whichever
// rule the URL breaks.
func TestBaseURLPasswordNeverPrinted(t *testing.T) {
	t.Parallel()
	const password = "Planted-Pw-5150"
	for _, raw := range []string{
		"https://user:" + password + "@graph.threads.net/?v=1",
		"https://user:" + password + "@graph.threads.net/#f",
		"http://user:" + password + "@10.0.0.5:8080",
		"ftp://user:" + password + "@graph.threads.net",
		"https://user:" + password + "@graph.threads.net:80x80",
		"https://user:" + password + "@graph threads net",
		"https://user:" + password + "@[::1",
	} {
		err := graph.CheckBaseURL(raw)
		if err == nil {
			t.Errorf("CheckBaseURL(%q) = nil, want an error", raw)
			continue
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("CheckBaseURL(%q) = %q, which shows the password", raw, err)
		}
		if r := graph.Redact(raw); strings.Contains(r, password) || !strings.Contains(r, "user:xxxxx@") {
			t.Errorf("Redact(%q) = %q, want the password replaced by xxxxx", raw, r)
		}
	}
	if got := graph.Redact("https://graph.threads.net/v1.0"); got != "https://graph.threads.net/v1.0" {
		t.Errorf("Redact of a URL without a password = %q, want it unchanged", got)
	}
}
