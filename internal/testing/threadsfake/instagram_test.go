package threadsfake_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

func startInstagram(t *testing.T, opts ...threadsfake.Option) *threadsfake.Server {
	t.Helper()
	return start(t, append([]threadsfake.Option{threadsfake.Instagram()}, opts...)...)
}

// TestInstagramTokenEndpoints: the Instagram face refreshes and exchanges
// with its own grant types only, issues IGAA tokens, and answers /me at its
// versioned path with user_id beside the app-scoped id.
func TestInstagramTokenEndpoints(t *testing.T) {
	t.Parallel()
	f := startInstagram(t)
	old := f.IssueLongLived("17841400000000001", "shop", epoch.Add(-25*time.Hour))

	if a := get(t, f, threadsfake.PathRefresh, refreshQuery(old)); a.status != http.StatusBadRequest {
		t.Errorf("refresh with th_refresh_token answered %d %s", a.status, a.body)
	}
	a := get(t, f, threadsfake.PathRefresh, url.Values{"grant_type": {"ig_refresh_token"}, "access_token": {old}})
	var tok string
	a.field(t, "access_token", &tok)
	if !strings.HasPrefix(tok, "IGAA") || tok == old || !f.Valid(tok) {
		t.Errorf("refresh gave no new valid IGAA… token: %d", a.status)
	}

	short := f.IssueShortLived("17841400000000001", "shop", epoch)
	a = get(t, f, threadsfake.PathExchange, url.Values{"grant_type": {"ig_exchange_token"}, "client_secret": {appSecret}, "access_token": {short}})
	a.field(t, "access_token", &tok)
	if info, _ := f.Info(tok); !info.LongLived {
		t.Errorf("ig_exchange_token gave %+v, want a long-lived token", info)
	}

	a = get(t, f, f.MePath(), url.Values{"fields": {"user_id,username"}, "access_token": {tok}})
	if f.MePath() != threadsfake.PathInstagramMe || string(a.body) != `{"id":"917841400000000001","user_id":"17841400000000001","username":"shop"}` {
		t.Errorf("GET %s: %s", f.MePath(), a.body)
	}
	if a := get(t, f, threadsfake.PathMe, url.Values{"fields": {"id"}, "access_token": {tok}}); a.status != http.StatusBadRequest {
		t.Errorf("Threads' /v1.0/me answered %d on Instagram", a.status)
	}
	if typ, code, _, _ := get(t, f, "/nothing", nil).graphError(t); typ != "IGApiException" || code != 100 {
		t.Errorf("an unknown path on Instagram is not IGApiException code 100")
	}
}

// TestInstagramCodeExchange: codes are exchanged on the OAuth host only,
// which answers {"data":[{...}]} (or flat, when told) and refuses in the
// flat shape.
func TestInstagramCodeExchange(t *testing.T) {
	t.Parallel()
	for _, flat := range []bool{false, true} {
		var opts []threadsfake.Option
		if flat {
			opts = append(opts, threadsfake.FlatCodeAnswer())
		}
		f := startInstagram(t, opts...)
		if f.OAuthURL() == f.URL() {
			t.Fatal("the Instagram face has no OAuth host of its own")
		}
		code := f.IssueCode(appID, redirect, "17841412345678901", "shop")
		form := url.Values{"client_id": {appID}, "client_secret": {appSecret}, "code": {code},
			"grant_type": {"authorization_code"}, "redirect_uri": {redirect}}

		if a := post(t, f, threadsfake.PathCode, form); a.status != http.StatusBadRequest {
			t.Errorf("the Graph host exchanged a code: %d %s", a.status, a.body)
		}
		if a := sendTo(t, f, f.OAuthURL(), http.MethodGet, threadsfake.PathRefresh, nil); a.status != http.StatusBadRequest {
			t.Errorf("the OAuth host served a refresh: %d", a.status)
		}
		a := sendTo(t, f, f.OAuthURL(), http.MethodPost, threadsfake.PathCode, form)
		if a.status != http.StatusOK {
			t.Fatalf("code exchange: %d %s", a.status, a.body)
		}
		entry := a.obj
		if !flat {
			var data []map[string]json.RawMessage
			if err := json.Unmarshal(a.obj["data"], &data); err != nil || len(data) != 1 || len(a.obj) != 1 {
				t.Fatalf("answer %s is not {\"data\":[{...}]}", a.body)
			}
			entry = data[0]
		}
		if got := string(bytes.TrimSpace(entry["user_id"])); got != "17841412345678901" {
			t.Errorf("user_id %s, want the number 17841412345678901", got)
		}
		if got := string(entry["permissions"]); got != `"instagram_business_basic"` {
			t.Errorf("permissions %s", got)
		}

		again := sendTo(t, f, f.OAuthURL(), http.MethodPost, threadsfake.PathCode, form)
		var refusal struct {
			Type    string `json:"error_type"`
			Code    int    `json:"code"`
			Message string `json:"error_message"`
		}
		if err := json.Unmarshal(again.body, &refusal); err != nil || again.status != http.StatusBadRequest ||
			refusal.Type != "OAuthException" || refusal.Code != 400 || !strings.Contains(refusal.Message, "has been used") {
			t.Errorf("second use of a code: %d %s, want the flat shape", again.status, again.body)
		}
	}
}

// TestPermissionFailures: the permission refusals answer 403 with codes 10
// and 200 on either face.
func TestPermissionFailures(t *testing.T) {
	t.Parallel()
	want := map[threadsfake.Failure]int{threadsfake.PermissionMissing: 10, threadsfake.PermissionDenied: 200}
	for _, opts := range [][]threadsfake.Option{nil, {threadsfake.Instagram()}} {
		f := start(t, opts...)
		for _, fl := range threadsfake.PermissionFailures() {
			f.FailNext(threadsfake.PathRefresh, fl, 1)
			a := get(t, f, threadsfake.PathRefresh, nil)
			if _, code, _, _ := a.graphError(t); a.status != http.StatusForbidden || code != want[fl] {
				t.Errorf("%v: %d %s, want 403 with code %d", fl, a.status, a.body, want[fl])
			}
		}
	}
}
