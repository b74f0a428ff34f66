package threadsfake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

const (
	appID     = "1234567890123456"
	appSecret = "0123456789abcdef0123456789abcdef"
	redirect  = "https://example.com/cb"
)

var epoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func start(t *testing.T, opts ...threadsfake.Option) *threadsfake.Server {
	t.Helper()
	f := threadsfake.Start(t, append([]threadsfake.Option{threadsfake.App(appID, appSecret)}, opts...)...)
	f.SetNow(epoch)
	return f
}

// answer is a raw answer of the fake.
type answer struct {
	status int
	body   []byte
	obj    map[string]json.RawMessage
}

// field decodes obj[key] into v, failing the test when it cannot.
func (a answer) field(t *testing.T, key string, v any) {
	t.Helper()
	raw, ok := a.obj[key]
	if !ok {
		t.Fatalf("answer %s has no %q", a.body, key)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("answer field %q = %s: %v", key, raw, err)
	}
}

// graphError decodes the Graph error shape.
func (a answer) graphError(t *testing.T) (typ string, code, subcode int, message string) {
	t.Helper()
	var e struct {
		Error *struct {
			Message   string `json:"message"`
			Type      string `json:"type"`
			Code      int    `json:"code"`
			Subcode   int    `json:"error_subcode"`
			FBTraceID string `json:"fbtrace_id"`
		} `json:"error"`
	}
	if err := json.Unmarshal(a.body, &e); err != nil || e.Error == nil {
		t.Fatalf("answer %d %s is not a Graph error", a.status, a.body)
	}
	if e.Error.FBTraceID == "" {
		t.Errorf("Graph error without fbtrace_id: %s", a.body)
	}
	return e.Error.Type, e.Error.Code, e.Error.Subcode, e.Error.Message
}

func get(t *testing.T, f *threadsfake.Server, path string, q url.Values) answer {
	t.Helper()
	return send(t, f, http.MethodGet, path+"?"+q.Encode(), nil)
}

func post(t *testing.T, f *threadsfake.Server, path string, form url.Values) answer {
	t.Helper()
	return send(t, f, http.MethodPost, path, form)
}

func send(t *testing.T, f *threadsfake.Server, method, target string, form url.Values) answer {
	t.Helper()
	return sendTo(t, f, f.URL(), method, target, form)
}

// sendTo sends a request to one of f's hosts: f.URL() or f.OAuthURL().
func sendTo(t *testing.T, f *threadsfake.Server, base, method, target string, form url.Values) answer {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), method, base+target, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := f.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, strings.SplitN(target, "?", 2)[0], err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, body: data}
	_ = json.Unmarshal(data, &a.obj)
	return a
}

func refreshQuery(tok string) url.Values {
	return url.Values{"grant_type": {"th_refresh_token"}, "access_token": {tok}}
}

func TestRefreshAnswer(t *testing.T) {
	t.Parallel()
	f := start(t)
	old := f.IssueLongLived("42", "alice", epoch.Add(-25*time.Hour))
	a := get(t, f, threadsfake.PathRefresh, refreshQuery(old))
	if a.status != http.StatusOK {
		t.Fatalf("refresh answered %d %s", a.status, a.body)
	}
	if len(a.obj) != 3 {
		t.Errorf("answer %s: want exactly access_token, token_type, expires_in", a.body)
	}
	var tok, typ string
	var expiresIn json.Number
	a.field(t, "access_token", &tok)
	a.field(t, "token_type", &typ)
	a.field(t, "expires_in", &expiresIn)
	if !strings.HasPrefix(tok, "THAA") || len(tok) < 150 || tok == old {
		t.Errorf("refreshed token is not a new THAA… token of 150+ characters (length %d)", len(tok))
	}
	if typ != "bearer" || expiresIn != "5183944" {
		t.Errorf("token_type %q, expires_in %s; want bearer, 5183944", typ, expiresIn)
	}
	if got := f.Tokens(); len(got) != 2 || got[0] != old || got[1] != tok {
		t.Errorf("Tokens() is not [old, new]")
	}
	if f.TooYoungRefreshes() != 0 {
		t.Errorf("a 25-hour-old token counted as too young")
	}
}

func TestRefreshTooYoung(t *testing.T) {
	t.Parallel()
	f := start(t)
	tok := f.IssueLongLived("42", "alice", epoch.Add(-23*time.Hour))
	a := get(t, f, threadsfake.PathRefresh, refreshQuery(tok))
	if a.status != http.StatusBadRequest {
		t.Fatalf("refresh of a 23-hour-old token answered %d %s", a.status, a.body)
	}
	a.graphError(t)
	if f.TooYoungRefreshes() != 1 {
		t.Errorf("TooYoungRefreshes = %d, want 1", f.TooYoungRefreshes())
	}
	if !f.Valid(tok) || len(f.Tokens()) != 1 {
		t.Errorf("a refused refresh changed the tokens")
	}
	f.Advance(time.Hour)
	if a := get(t, f, threadsfake.PathRefresh, refreshQuery(tok)); a.status != http.StatusOK {
		t.Errorf("refresh at 24 hours answered %d %s", a.status, a.body)
	}
}

func TestRefreshExpired(t *testing.T) {
	t.Parallel()
	f := start(t)
	tok := f.IssueLongLived("42", "alice", epoch.Add(-60*24*time.Hour))
	a := get(t, f, threadsfake.PathRefresh, refreshQuery(tok))
	typ, code, sub, msg := a.graphError(t)
	want := "Error validating access token: Session has expired on Sunday, 01-Mar-26 04:00:00 PST."
	if typ != "OAuthException" || code != 190 || sub != 463 || msg != want {
		t.Errorf("expired token: %s", a.body)
	}
	if f.Valid(tok) {
		t.Error("Valid reports an expired token as valid")
	}
}

func TestWrongGrantType(t *testing.T) {
	t.Parallel()
	f := start(t)
	tok := f.IssueLongLived("42", "alice", epoch.Add(-48*time.Hour))
	for _, tt := range []struct {
		path string
		q    url.Values
	}{
		{threadsfake.PathRefresh, url.Values{"grant_type": {"th_exchange_token"}, "access_token": {tok}}},
		{threadsfake.PathExchange, url.Values{"grant_type": {"th_refresh_token"}, "client_secret": {appSecret}, "access_token": {tok}}},
	} {
		a := get(t, f, tt.path, tt.q)
		if typ, _, _, _ := a.graphError(t); a.status != http.StatusBadRequest || typ != "OAuthException" {
			t.Errorf("%s with a wrong grant_type: %d %s", tt.path, a.status, a.body)
		}
	}
	if len(f.Tokens()) != 1 {
		t.Error("a request with a wrong grant_type issued a token")
	}
}

func TestVersionedTokenEndpointUnsupported(t *testing.T) {
	t.Parallel()
	f := start(t)
	tok := f.IssueShortLived("42", "alice", epoch)
	a := get(t, f, "/v1.0/access_token", url.Values{"grant_type": {"th_exchange_token"}, "client_secret": {appSecret}, "access_token": {tok}})
	_, code, _, msg := a.graphError(t)
	if a.status != http.StatusBadRequest || code != 100 || msg != "Unsupported request - method type: get" {
		t.Errorf("GET /v1.0/access_token: %d %s", a.status, a.body)
	}
}

func TestExchange(t *testing.T) {
	t.Parallel()
	f := start(t)
	short := f.IssueShortLived("42", "alice", epoch.Add(-30*time.Minute))
	q := func(secret, tok string) url.Values {
		return url.Values{"grant_type": {"th_exchange_token"}, "client_secret": {secret}, "access_token": {tok}}
	}

	a := get(t, f, threadsfake.PathExchange, q("wrong", short))
	if typ, code, _, msg := a.graphError(t); a.status != 400 || typ != "OAuthException" || code != 101 || msg != "Error validating client secret." {
		t.Errorf("wrong secret: %d %s", a.status, a.body)
	}

	a = get(t, f, threadsfake.PathExchange, q(appSecret, short))
	var long string
	a.field(t, "access_token", &long)
	// The token lives the expires_in its answer gave.
	if info, ok := f.Info(long); !ok || !info.LongLived || !info.ExpiresAt.Equal(epoch.Add(threadsfake.DefaultExpiresIn*time.Second)) || info.UserID != "42" {
		t.Errorf("exchanged token info %+v", info)
	}

	f.Advance(31 * time.Minute)
	a = get(t, f, threadsfake.PathExchange, q(appSecret, short))
	if _, code, sub, _ := a.graphError(t); code != 190 || sub != 463 {
		t.Errorf("expired short-lived token: %s", a.body)
	}
}

func TestCodeExchange(t *testing.T) {
	t.Parallel()
	for _, asString := range []bool{false, true} {
		var opts []threadsfake.Option
		if asString {
			opts = append(opts, threadsfake.UserIDAsString())
		}
		f := start(t, opts...)
		code := f.IssueCode(appID, redirect, "17841412345678901", "alice")
		form := url.Values{"client_id": {appID}, "client_secret": {appSecret}, "code": {code},
			"grant_type": {"authorization_code"}, "redirect_uri": {redirect}}

		if a := get(t, f, threadsfake.PathCode, form); a.status == http.StatusOK {
			t.Errorf("GET of the code exchange succeeded")
		}
		a := post(t, f, threadsfake.PathCode, form)
		if a.status != http.StatusOK {
			t.Fatalf("code exchange: %d %s", a.status, a.body)
		}
		want := `17841412345678901`
		if asString {
			want = `"17841412345678901"`
		}
		if got := string(bytes.TrimSpace(a.obj["user_id"])); got != want {
			t.Errorf("user_id sent as %s, want %s", got, want)
		}
		var tok string
		a.field(t, "access_token", &tok)
		if info, _ := f.Info(tok); info.LongLived || !info.ExpiresAt.Equal(epoch.Add(time.Hour)) {
			t.Errorf("code gave %+v, want a short-lived token valid 1 hour", info)
		}
		again := post(t, f, threadsfake.PathCode, form)
		if _, _, _, msg := again.graphError(t); !strings.Contains(msg, "has been used") {
			t.Errorf("second use of a code: %s", again.body)
		}
	}

	f := start(t)
	code := f.IssueCode(appID, redirect, "42", "alice")
	form := url.Values{"client_id": {"999"}, "client_secret": {appSecret}, "code": {code},
		"grant_type": {"authorization_code"}, "redirect_uri": {redirect}}
	a := post(t, f, threadsfake.PathCode, form)
	var flat struct {
		Type    string `json:"error_type"`
		Code    int    `json:"code"`
		Message string `json:"error_message"`
	}
	if err := json.Unmarshal(a.body, &flat); err != nil || flat.Type != "OAuthException" || flat.Code != 400 || flat.Message != "Invalid platform app" {
		t.Errorf("wrong client_id: %s", a.body)
	}
	form.Set("client_id", appID)
	form.Set("redirect_uri", redirect+"/other")
	if a := post(t, f, threadsfake.PathCode, form); a.status != http.StatusBadRequest {
		t.Errorf("wrong redirect_uri: %d %s", a.status, a.body)
	}
}

func TestMeAndRevoke(t *testing.T) {
	t.Parallel()
	f := start(t)
	tok := f.IssueLongLived("42", "alice", epoch)
	a := get(t, f, threadsfake.PathMe, url.Values{"fields": {"id,username"}, "access_token": {tok}})
	if string(a.body) != `{"id":"42","username":"alice"}` {
		t.Errorf("me: %s", a.body)
	}
	f.Revoke(tok)
	if f.Valid(tok) || len(f.Tokens()) != 0 {
		t.Error("a revoked token is still valid")
	}
	a = get(t, f, threadsfake.PathMe, url.Values{"fields": {"id,username"}, "access_token": {tok}})
	if _, code, sub, _ := a.graphError(t); code != 190 || sub != 460 {
		t.Errorf("me with a revoked token: %s", a.body)
	}
	a = get(t, f, threadsfake.PathRefresh, refreshQuery(tok))
	if _, code, sub, _ := a.graphError(t); code != 190 || sub != 460 {
		t.Errorf("refresh of a revoked token: %s", a.body)
	}
}

func TestFailNextOrderAndMatching(t *testing.T) {
	t.Parallel()
	f := start(t)
	tok := f.IssueLongLived("42", "alice", epoch)
	me := url.Values{"access_token": {tok}}
	f.FailNext(threadsfake.PathRefresh, threadsfake.RateLimited, 1)
	f.FailNext("", threadsfake.HTML5xx, 2)
	f.FailNext(threadsfake.PathMe, threadsfake.Transient, 1)

	// The refresh-only failure is skipped; the "any" ones come first.
	for i := range 2 {
		if a := get(t, f, threadsfake.PathMe, me); a.status != http.StatusBadGateway || !bytes.Contains(a.body, []byte("<html>")) {
			t.Errorf("me #%d: %d %s, want the HTML 502", i, a.status, a.body)
		}
	}
	if a := get(t, f, threadsfake.PathMe, me); a.status != http.StatusServiceUnavailable {
		t.Errorf("me #3: %d %s, want the transient 503", a.status, a.body)
	}
	if a := get(t, f, threadsfake.PathMe, me); a.status != http.StatusOK {
		t.Errorf("me #4: %d %s, want success", a.status, a.body)
	}
	if a := get(t, f, threadsfake.PathRefresh, refreshQuery(tok)); a.status != http.StatusBadRequest {
		t.Errorf("refresh: %d %s, want the rate limit", a.status, a.body)
	} else if _, code, _, _ := a.graphError(t); code != 4 {
		t.Errorf("refresh: %s, want code 4", a.body)
	}
	if f.Calls(threadsfake.PathMe) != 4 || f.Calls(threadsfake.PathRefresh) != 1 || f.TotalCalls() != 5 {
		t.Errorf("calls: me %d, refresh %d, total %d; want 4, 1, 5",
			f.Calls(threadsfake.PathMe), f.Calls(threadsfake.PathRefresh), f.TotalCalls())
	}
}

func TestCloseEndsHungRequests(t *testing.T) {
	t.Parallel()
	f := threadsfake.New()
	f.FailNext("", threadsfake.Hang, 1)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.URL()+threadsfake.PathMe, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = errors.New("got an answer: " + resp.Status)
		}
		errc <- err
	}()
	for f.TotalCalls() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	closed := make(chan struct{})
	go func() {
		f.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close waits for a hung request")
	}
	select {
	case err := <-errc:
		if err == nil || strings.Contains(err.Error(), "got an answer") {
			t.Errorf("hung request ended with %v, want a connection error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the hung request did not end after Close")
	}
	f.Close() // a second Close is harmless
}

func TestLatency(t *testing.T) {
	t.Parallel()
	f := start(t, threadsfake.Latency(100*time.Millisecond))
	tok := f.IssueLongLived("42", "alice", epoch)
	begin := time.Now()
	if a := get(t, f, threadsfake.PathMe, url.Values{"access_token": {tok}}); a.status != http.StatusOK {
		t.Fatalf("me: %d %s", a.status, a.body)
	}
	if d := time.Since(begin); d < 100*time.Millisecond {
		t.Errorf("answer came after %v, want at least 100ms", d)
	}
}

func TestConcurrentRefreshes(t *testing.T) {
	t.Parallel()
	f := start(t)
	const n = 32
	olds := make([]string, n)
	for i := range olds {
		olds[i] = f.IssueLongLived("42", "alice", epoch.Add(-48*time.Hour))
	}
	var wg sync.WaitGroup
	news := make([]string, n)
	for i := range n {
		wg.Go(func() {
			// Not get: it may call t.Fatal, which only the test goroutine may.
			resp, err := f.Client().Get(f.URL() + threadsfake.PathRefresh + "?" + refreshQuery(olds[i]).Encode())
			if err != nil {
				t.Errorf("refresh #%d: %v", i, err)
				return
			}
			defer resp.Body.Close()
			var body struct {
				AccessToken string `json:"access_token"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&body)
			news[i] = body.AccessToken
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, tok := range news {
		if tok == "" || seen[tok] || !f.Valid(tok) {
			t.Fatalf("concurrent refreshes gave an empty, repeated or invalid token")
		}
		seen[tok] = true
	}
	if f.Calls(threadsfake.PathRefresh) != n || len(f.Tokens()) != 2*n {
		t.Errorf("calls %d, live tokens %d; want %d, %d", f.Calls(threadsfake.PathRefresh), len(f.Tokens()), n, 2*n)
	}
}
