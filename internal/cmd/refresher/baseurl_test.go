package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// withUserinfo puts user information into an http://host:port URL.
func withUserinfo(u, userinfo string) string {
	return strings.Replace(u, "http://", "http://"+userinfo+"@", 1)
}

// TestBaseURLPasswordIsNeverPrinted plants a password in the base URLs (a
// proxy's credentials, say) and searches every output for it: the
// commands' standard output and error at LOG_LEVEL=debug (serve's
// "refresher started" line holds the configuration), the HTTP answers, the
// errors of a request that fails, and the sentences that refuse a URL for
// another reason. The world's check at the end of the test does the search.
func TestBaseURLPasswordIsNeverPrinted(t *testing.T) {
	t.Parallel()
	const password = "Planted-Pw-7331"
	w := newWorld(t, local)
	w.forbid(password)
	userinfo := "proxy-user:" + password
	w.env["THREADS_API_BASE_URL"] = withUserinfo(w.th.URL(), userinfo)
	w.env["INSTAGRAM_API_BASE_URL"] = withUserinfo(w.ig.URL(), userinfo)
	w.env["INSTAGRAM_OAUTH_BASE_URL"] = withUserinfo(w.ig.OAuthURL(), userinfo)
	w.env["LOG_LEVEL"] = "debug"

	tok := w.issue(w.th, true, w.newUser("main"), 0)
	if r := w.runIn(tok, "add", "main"); r.code != 0 {
		t.Fatalf("add through a base URL with user information: %v", r)
	}
	w.th.FailNext(threadsfake.PathRefresh, threadsfake.HTML5xx, 3)
	w.seed("main", 3*day) // due: the pass refreshes it, and Threads fails
	if r := w.run("run"); r.code != 1 {
		t.Errorf("run with a failing Threads: %v, want exit 1", r)
	}
	for _, args := range [][]string{{"status"}, {"status", "--json"}, {"token", "main"}} {
		if r := w.run(args...); r.code != 0 {
			t.Errorf("refresher %s: %v", strings.Join(args, " "), r)
		}
	}
	s := w.serveInProcess(t, nil, nil)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		w.httpDo(t, method, "http://"+s.addr+"/")
	}
	if !strings.Contains(s.stderr.String(), `"threadsAPIBaseURL":"http://proxy-user:xxxxx@`) {
		t.Errorf("serve at LOG_LEVEL=debug logged no configuration with the redacted URL; the search proves little:\n%s", s.stderr.String())
	}

	// A request that fails names its URL, without the password.
	closed := withUserinfo("http://127.0.0.1:1", userinfo)
	ig := w.issue(w.ig, true, w.newUser("shop"), 0)
	r := w.runCall(call{stdin: strings.NewReader(ig), env: map[string]string{"INSTAGRAM_API_BASE_URL": closed}}, "add", "--platform", "instagram", "shop")
	if r.code != 1 || !strings.Contains(r.stderr, "proxy-user:xxxxx@127.0.0.1:1") {
		t.Errorf("add through an unreachable base URL: %v, want exit 1 naming the URL with its password replaced", r)
	}

	// URLs refused for another reason are quoted without the password.
	for _, bad := range []string{
		"https://" + userinfo + "@graph.threads.net/?v=1",
		"http://" + userinfo + "@10.0.0.5:8080",
		"https://" + userinfo + "@graph.threads.net:80x80",
	} {
		for _, args := range [][]string{{"run"}, {"status"}, {"serve"}} {
			r := w.runCall(call{env: map[string]string{"THREADS_API_BASE_URL": bad}}, args...)
			if r.code != 2 || !strings.Contains(r.stderr, "THREADS_API_BASE_URL") {
				t.Errorf("refresher %s with THREADS_API_BASE_URL=%s: %v, want exit 2 naming the variable", args[0], bad, r)
			}
		}
	}
}
