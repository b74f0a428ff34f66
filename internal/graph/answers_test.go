package graph_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/errtext"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
	"github.com/threads-token-refresher/threads-token-refresher/internal/threads"
)

// unusable are answers of the refresh and exchange endpoints that look
// like success and must not be trusted, each with a word its error must
// hold. None of the tokens in them may appear in an error.
var unusable = []struct {
	name, body, why string
}{
	{"expires_in 0", `{"access_token":"THAAgood","token_type":"bearer","expires_in":0}`, "expires_in is 0"},
	{"expires_in -1", `{"access_token":"THAAgood","token_type":"bearer","expires_in":-1}`, "expires_in is -1"},
	{"expires_in 10^10", `{"access_token":"THAAgood","token_type":"bearer","expires_in":10000000000}`, "more than the 90 days"},
	{"expires_in 1e30", `{"access_token":"THAAgood","token_type":"bearer","expires_in":1e30}`, "expires_in"},
	{"expires_in a word", `{"access_token":"THAAgood","token_type":"bearer","expires_in":"soon"}`, "not a whole number"},
	{"expires_in a fraction", `{"access_token":"THAAgood","token_type":"bearer","expires_in":5183944.5}`, "not a whole number"},
	{"expires_in true", `{"access_token":"THAAgood","token_type":"bearer","expires_in":true}`, "not a whole number"},
	{"expires_in missing", `{"access_token":"THAAgood","token_type":"bearer"}`, "expires_in is missing"},
	{"token with a newline", `{"access_token":"THAAgood\nTHAAline","expires_in":5183944}`, "control character"},
	{"token with a space", `{"access_token":"THAAgood THAAspace","expires_in":5183944}`, "a space"},
	{"token with a tab", `{"access_token":"THAAgood\tTHAAtab","expires_in":5183944}`, "control character"},
	{"token with NUL", `{"access_token":"THAAgood\u0000THAAnul","expires_in":5183944}`, "control character"},
	{"token with DEL", `{"access_token":"THAAgood\u007fTHAAdel","expires_in":5183944}`, "control character"},
	{"token not ASCII", `{"access_token":"THAAgoodé","expires_in":5183944}`, "not ASCII"},
	{"token with a quote", `{"access_token":"THAAgood\"THAAquote","expires_in":5183944}`, "quote"},
	{"token like JSON", `{"access_token":"{THAAgood}","expires_in":5183944}`, "starts with '{'"},
	{"token too long", `{"access_token":"THAA` + strings.Repeat("x", 5000) + `","expires_in":5183944}`, "bytes long"},
	{"empty token", `{"access_token":"","expires_in":5183944}`, "no access_token"},
	{"token a number", `{"access_token":42,"expires_in":5183944}`, "no access_token"},
}

// TestUnusableAnswersAreBadAnswers: every refresh and exchange answer
// above is ErrBadAnswer (neither temporary nor a dead token), and its
// error says why without quoting the token.
func TestUnusableAnswersAreBadAnswers(t *testing.T) {
	t.Parallel()
	for _, p := range platforms {
		for _, ep := range endpoints[:2] { // refresh, exchange
			for _, u := range unusable {
				t.Run(p.name+"/"+ep.name+"/"+u.name, func(t *testing.T) {
					t.Parallel()
					f, c := p.start(t, hangTimeout)
					f.AnswerNext(ep.path(f), threadsfake.Answer{Status: 200, Body: u.body}, 1)
					err, _ := ep.call(t.Context(), c, f)
					if got := classOf(err); len(got) != 1 || got[0] != badAnswer {
						t.Fatalf("error %v classified %v, want bad answer", err, got)
					}
					if !strings.Contains(err.Error(), u.why) {
						t.Errorf("error %q does not say %q", err, u.why)
					}
					for _, text := range errtext.Of(err) {
						if strings.Contains(text, "THAAgood") || strings.Contains(text, "xxxxxxxx") {
							t.Errorf("error text %q shows the answered token", text)
						}
					}
				})
			}
		}
	}
}

// TestCodeExchangeChecksTheToken: the code exchange's token meets the
// same rule, in both of Instagram's answer shapes.
func TestCodeExchangeChecksTheToken(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"access_token":"THAA bad","user_id":1}`,
		`{"data":[{"access_token":"IGAA\nbad","user_id":"1"}]}`,
	} {
		f, c := platforms[1].start(t, hangTimeout)
		f.AnswerNext(threadsfake.PathCode, threadsfake.Answer{Status: 200, Body: body}, 1)
		code := f.IssueCode(appID, redirectURI, userID, "a")
		_, err := c.ExchangeCode(t.Context(), graph.CodeRequest{ClientID: appID, ClientSecret: appSecret, Code: code, RedirectURI: redirectURI})
		if !errors.Is(err, graph.ErrBadAnswer) || strings.Contains(err.Error(), "bad") && strings.Contains(err.Error(), "AA") {
			t.Errorf("%s: %v, want ErrBadAnswer without the token", body, err)
		}
	}
}

// TestRedirectIsNotFollowed: a 3xx from the token host is a failed attempt
// (worth another), and the host it points to receives nothing, whatever
// HTTP client the caller gave, and that client is left as it was.
func TestRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		threadsfake.WriteJSON(w, http.StatusOK, map[string]any{"access_token": "THAAfromtheotherhost", "token_type": "bearer", "expires_in": 5183944})
	}))
	defer other.Close()

	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		f := threadsfake.Start(t)
		f.SetNow(epoch)
		tok := f.IssueLongLived(userID, "a", epoch.Add(-48*time.Hour))
		f.AnswerNext("", threadsfake.Answer{Status: status, Header: http.Header{"Location": {other.URL + "/refresh_access_token?access_token=" + tok}}}, 4)
		callers := map[string]*http.Client{"default": nil, "caller's own": {}}
		for name, hc := range callers {
			c := threads.New(f.URL(), hangTimeout, hc)
			tk, err := c.Refresh(t.Context(), tok)
			if got := classOf(err); len(got) != 1 || got[0] != transient {
				t.Errorf("%d, %s client: %v (%+v) classified %v, want transient", status, name, err, tk, got)
			}
			if err != nil && (!strings.Contains(err.Error(), "redirect") || strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), other.URL)) {
				t.Errorf("%d, %s client: error %q should name the redirect, not its target or the token", status, name, err)
			}
			if _, err := c.Inspect(t.Context(), tok, tok); !errors.Is(err, graph.ErrTransient) {
				t.Errorf("%d, %s client: inspection through a redirect: %v, want ErrTransient", status, name, err)
			}
			if hc != nil && hc.CheckRedirect != nil {
				t.Errorf("the caller's client was changed")
			}
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the host a redirect named received %d requests, want none", n)
	}
}

// TestRetryAfterIsCarried: a refusal's Retry-After, in seconds or as an
// HTTP date (measured against the answer's own Date), is on the error.
func TestRetryAfterIsCarried(t *testing.T) {
	t.Parallel()
	date := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"seconds", http.Header{"Retry-After": {"120"}}, 2 * time.Minute},
		{"date", http.Header{"Retry-After": {date.Add(90 * time.Second).Format(http.TimeFormat)}, "Date": {date.Format(http.TimeFormat)}}, 90 * time.Second},
		{"a date past", http.Header{"Retry-After": {date.Add(-time.Hour).Format(http.TimeFormat)}, "Date": {date.Format(http.TimeFormat)}}, 0},
		{"a week", http.Header{"Retry-After": {"604800"}}, 24 * time.Hour},
		{"nonsense", http.Header{"Retry-After": {"later"}}, 0},
		{"none", nil, 0},
	}
	for _, tt := range tests {
		f, c := platforms[0].start(t, hangTimeout)
		tok := f.IssueLongLived(userID, "a", epoch.Add(-48*time.Hour))
		f.AnswerNext(threadsfake.PathRefresh, threadsfake.Answer{Status: http.StatusTooManyRequests, Header: tt.header,
			Body: `{"error":{"message":"(#4) Application request limit reached","type":"OAuthException","code":4,"is_transient":true}}`}, 1)
		_, err := c.Refresh(t.Context(), tok)
		if !errors.Is(err, graph.ErrTransient) || graph.RetryAfter(err) != tt.want {
			t.Errorf("%s: %v, Retry-After %v; want transient, %v", tt.name, err, graph.RetryAfter(err), tt.want)
		}
	}
}
