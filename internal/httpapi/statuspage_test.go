package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// TestStatusAnswerByAccept: a GET answers the status page only to a client
// that prefers text/html, as browsers say they do; curl, scripts and Cloud
// Scheduler get the JSON answer byte for byte as before; a POST runs a
// pass and answers JSON whatever its Accept says.
func TestStatusAnswerByAccept(t *testing.T) {
	r := newRig(t)
	r.handler.Now = r.Clock.Now
	r.Seed("main", 2*24*time.Hour)
	if rec, _ := r.serve(r.handler, http.MethodPost); rec.Code != http.StatusOK {
		t.Fatalf("pass: %d %s", rec.Code, rec.Body)
	}
	get := func(accept string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		rec := httptest.NewRecorder()
		r.handler.ServeHTTP(rec, req)
		return rec
	}
	plain := get("")
	var rep refresh.Report
	if err := json.Unmarshal(plain.Body.Bytes(), &rep); err != nil || len(rep.Accounts) != 1 {
		t.Fatalf("GET without Accept: %v, %s", err, plain.Body)
	}
	want, _ := json.MarshalIndent(rep, "", "  ")
	if !bytes.Equal(bytes.TrimSpace(plain.Body.Bytes()), want) {
		t.Errorf("GET without Accept is not the report as JSON:\n%s\nwant\n%s", plain.Body, want)
	}

	const chrome = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
	const firefox = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	tests := []struct {
		accept string
		html   bool
	}{
		{"", false},
		{"*/*", false}, // curl
		{"application/json", false},
		{"application/json, text/html;q=0.9", false},
		{"text/html;q=0.1, application/json", false},
		{"text/html, application/json", false}, // a tie keeps JSON
		{"text/html;q=0", false},
		{"not a media type", false},
		{chrome, true},
		{firefox, true},
		{"text/html", true},
		{"text/*, */*;q=0.1", true},
		{"text/html, */*", true},
	}
	for _, tt := range tests {
		rec := get(tt.accept)
		ct := rec.Header().Get("Content-Type")
		if rec.Code != http.StatusOK {
			t.Errorf("Accept %q: status %d", tt.accept, rec.Code)
		}
		if vary := rec.Header().Get("Vary"); vary != "Accept" {
			t.Errorf("Accept %q: Vary %q, want Accept: caches must keep the two answers apart", tt.accept, vary)
		}
		if !tt.html {
			if ct != "application/json; charset=utf-8" || !bytes.Equal(rec.Body.Bytes(), plain.Body.Bytes()) {
				t.Errorf("Accept %q: got %s\n%s\nwant the JSON answer", tt.accept, ct, rec.Body)
			}
			continue
		}
		if ct != "text/html; charset=utf-8" || !strings.Contains(rec.Body.String(), `<tr class="ok" data-account="main">`) {
			t.Errorf("Accept %q: got %s\n%s\nwant the status page", tt.accept, ct, rec.Body)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
			t.Errorf("Accept %q: Content-Security-Policy %q lets the page load more than its own style", tt.accept, csp)
		}
	}

	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req.Header.Set("Accept", chrome)
	rec := httptest.NewRecorder()
	r.handler.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); rec.Code != http.StatusOK || ct != "application/json; charset=utf-8" {
		t.Errorf("POST from a browser: %d %s, want the pass's JSON answer", rec.Code, ct)
	}
	r.CheckNoToken()
}
