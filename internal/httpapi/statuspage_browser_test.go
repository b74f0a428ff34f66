package httpapi_test

import (
	"bytes"
	"context"
	"flag"
	"image/png"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	refresher "github.com/threads-token-refresher/threads-token-refresher"
	"github.com/threads-token-refresher/threads-token-refresher/internal/localstore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/syncbuf"
)

// saveScreenshots rewrites testdata/status-page.png and
// testdata/status-page-phone.png, the screenshots the README describes:
//
//	go test ./internal/httpapi -run TestStatusPageInBrowser -args -screenshots
var saveScreenshots = flag.Bool("screenshots", false, "write the status page's screenshots to testdata/")

// chromiumHint is the one line a test without Chromium skips with.
const chromiumHint = "Chromium not found (CHROMIUM or chromium on PATH); install it with `apt-get install -y chromium` to run the status page in a real browser"

// findChromium returns the Chromium to drive: $CHROMIUM, else chromium
// (Debian's package) or chromium-browser on PATH. Without one the test
// skips with a hint, except in CI (CI=true), where it fails: CI must run
// the page in a browser.
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(chromiumHint + " (CI=true: the browser test may not be skipped)")
	}
	t.Skip(chromiumHint)
	return ""
}

// pageAccount is one account of the browser test's store.
type pageAccount struct {
	id, platform, username, token string
	// st is its stored state; the zero State for an account no pass has
	// seen yet.
	st refresh.State
	// health and hours are what its row must show (hours "" when its life
	// is unknown).
	health, hours string
}

// hostile is text Meta or an attacker could put in an error or a
// username: html/template must show it as text, never run it.
const hostile = `<script>document.title="owned"</script><img src=x onerror="document.title='owned'">`

func pageAccounts(now time.Time) []pageAccount {
	// Each expiry is half an hour past a whole hour from now, so that
	// hoursLeft is the same whole number however long the test takes,
	// up to half an hour.
	in := func(d time.Duration) time.Time { return now.Add(d + 30*time.Minute) }
	day := 24 * time.Hour
	return []pageAccount{
		{id: "main", platform: payload.PlatformThreads, username: "alice", token: "THAAtokenOfMainSECRET0001",
			st: refresh.State{Status: refresh.StatusOK, RefreshedAt: now.Add(-2 * day), IssuedAt: now.Add(-2 * day), IssuedFrom: refresh.ClockMeta,
				ExpiresAt: in(58 * day), ExpiryFrom: refresh.ClockMeta},
			health: "ok", hours: "1392 h"},
		{id: "shop", platform: payload.PlatformInstagram, username: "shop.example", token: "IGAAtokenOfShopSECRET0002",
			st: refresh.State{Status: refresh.StatusOK, RefreshedAt: now.Add(-57 * day), IssuedAt: now.Add(-57 * day), IssuedFrom: refresh.ClockRefresh,
				ExpiresAt: in(3 * day), ExpiryFrom: refresh.ClockRefresh},
			health: "expiring soon", hours: "72 h"},
		{id: "revoked", platform: payload.PlatformThreads, username: "bob", token: "THAAtokenOfRevokedSECRET0003",
			st: refresh.State{Status: refresh.StatusNeedsReauth, RefreshedAt: now.Add(-40 * day), IssuedAt: now.Add(-40 * day), IssuedFrom: refresh.ClockMeta,
				ExpiresAt: in(-3 * time.Hour), ExpiryFrom: refresh.ClockMeta, LastError: "Meta refused the token: Error validating access token: The session has been invalidated (code 190, fbtrace_id AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKlMnOpQrSt)",
				Failures: 1, LastAttemptAt: now.Add(-time.Hour)},
			health: "needs_reauth", hours: "-3 h"},
		{id: "flaky", platform: payload.PlatformThreads, username: hostile, token: "THAAtokenOfFlakySECRET0004",
			st: refresh.State{Status: refresh.StatusFailing, RefreshedAt: now.Add(-39 * day), IssuedAt: now.Add(-39 * day), IssuedFrom: refresh.ClockMeta,
				ExpiresAt: in(20 * day), ExpiryFrom: refresh.ClockMeta, LastError: "refreshing: Meta answered 500: " + hostile,
				Failures: 3, LastAttemptAt: now.Add(-time.Hour)},
			health: "failing", hours: "480 h"},
		{id: "newcomer", platform: payload.PlatformThreads, username: "carol", token: "THAAtokenOfNewcomerSECRET0005",
			health: "unknown"},
	}
}

// seedStore writes the accounts' tokens and states into a new local store
// at path, as passes would have left them.
func seedStore(t *testing.T, path string, accounts []pageAccount) {
	t.Helper()
	ctx := t.Context()
	s, err := localstore.Open(path, localstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, pa := range accounts {
		a, err := s.CreateSecret(ctx, pa.id)
		if err != nil {
			t.Fatal(err)
		}
		v, err := s.Add(ctx, a, payload.NewFor(pa.platform, pa.token, "1789", pa.username))
		if err != nil {
			t.Fatal(err)
		}
		if !pa.st.Known() {
			continue
		}
		read, err := s.Load(ctx, []refresh.Account{a})
		if err != nil {
			t.Fatal(err)
		}
		leased, err := s.Lease(ctx, a, "seed", time.Now().Add(time.Minute), read[a.ID])
		if err != nil {
			t.Fatal(err)
		}
		st := pa.st
		st.Secret, st.Version, st.Platform, st.Rev = a.Secret, v.Name, pa.platform, leased.Rev
		if err := s.Commit(ctx, a, "seed", st); err != nil {
			t.Fatal(err)
		}
	}
}

// startFunction serves the function's handler (what `refresher serve`
// serves) on 127.0.0.1 over the local store at db, until the test ends.
func startFunction(t *testing.T, db string, logs io.Writer) string {
	t.Helper()
	env := map[string]string{"REFRESHER_DB": db}
	h := refresher.NewHandler(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, logs)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: time.Minute}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String() + "/"
}

// minPatience is the least a browser step is given; a step normally takes
// a fraction of the browser's own start.
const minPatience = 10 * time.Second

// patienceFactor times the browser's measured start is how long one step
// may take: a machine busy enough to slow a step slowed the start as much.
const patienceFactor = 20

// TestStatusPageInBrowser loads the status page in headless Chromium, as a
// person's browser would (its own Accept header), over a store with
// accounts in every health: each row shows its health and the hours its
// token has left; no token is anywhere in the page, its text or the log;
// an error or username holding markup is shown as text and runs nothing;
// the page reloads itself every minute; and at a phone's 375 pixels it
// needs no sideways scrolling.
func TestStatusPageInBrowser(t *testing.T) {
	chrome := findChromium(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "refresher.db")
	accounts := pageAccounts(time.Now())
	seedStore(t, db, accounts)
	var logs syncbuf.Buffer
	url := startFunction(t, db, &logs)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.UserDataDir(filepath.Join(dir, "chromium")),
		// Root (CI containers) cannot use Chromium's sandbox; the page is
		// our own, served from 127.0.0.1.
		chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	defer cancelBrowser()
	// The first call starts the browser: only go test's own -timeout
	// bounds it, and how long it took sets every later step's patience.
	started := time.Now()
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting Chromium (%s): %v", chrome, err)
	}
	b := browserSteps{t: t, ctx: browser, patience: max(minPatience, patienceFactor*time.Since(started))}
	t.Logf("Chromium started in %v; each step may take %v", time.Since(started).Round(time.Millisecond), b.patience)

	do(b, "loading the status page at 1280 px", chromedp.Steps(
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-account="newcomer"]`)),
	))
	html := do(b, "reading the page's HTML", chromedp.OuterHTML(chromedp.CSS("html")))
	text := do(b, "reading the page's text", chromedp.Evaluate[string](`document.body.innerText`))
	title := do(b, "reading the page's title", chromedp.Evaluate[string](`document.title`))
	scripts := do(b, "counting script elements", chromedp.Evaluate[int](`document.querySelectorAll("script").length`))
	refreshMeta := do(b, "reading the meta refresh", chromedp.AttributeValue(chromedp.CSS(`meta[http-equiv="refresh"]`), "content"))
	desktop := do(b, "taking the screenshot at 1280 px", chromedp.FullScreenshot(100))
	for _, pa := range accounts {
		row := do(b, "reading the row of "+pa.id, chromedp.Text(chromedp.CSS(`tr[data-account="`+pa.id+`"]`)))
		row = strings.Join(strings.Fields(row), " ")
		health := do(b, "reading the health of "+pa.id, chromedp.Text(chromedp.CSS(`tr[data-account="`+pa.id+`"] .health`)))
		if health != pa.health {
			t.Errorf("%s: health %q, want %q (row: %s)", pa.id, health, pa.health, row)
		}
		if pa.hours != "" && !strings.Contains(row, pa.hours) {
			t.Errorf("%s: row does not show %q hours left: %s", pa.id, pa.hours, row)
		}
		if pa.hours == "" && !strings.Contains(row, "unknown") {
			t.Errorf("%s: row does not say its life is unknown: %s", pa.id, row)
		}
		if pa.st.Status == refresh.StatusNeedsReauth && !strings.Contains(row, "refresher login --redirect-uri URI "+pa.id) {
			t.Errorf("%s needs a new login, but its row does not give the command: %s", pa.id, row)
		}
		if pa.st.LastError != "" && !strings.Contains(text, pa.st.LastError) {
			t.Errorf("%s: the page's text does not show its last error %q", pa.id, pa.st.LastError)
		}
	}
	if !strings.Contains(text, "@alice") || !strings.Contains(text, "@shop.example") {
		t.Errorf("the page does not name the accounts' users:\n%s", text)
	}
	for _, pa := range accounts {
		for what, s := range map[string]string{"HTML": html, "text": text, "log": logs.String()} {
			if strings.Contains(s, pa.token) {
				t.Errorf("the page's %s holds %s's token", what, pa.id)
			}
		}
	}
	if scripts != 0 || title == "owned" {
		t.Errorf("markup from an error or a username ran: %d script elements, title %q", scripts, title)
	}
	if !strings.Contains(text, hostile) {
		t.Errorf("the hostile error is not shown as text; the page's text:\n%s", text)
	}
	if refreshMeta.Value != "60" {
		t.Errorf("the page reloads every %q seconds, want 60", refreshMeta.Value)
	}

	// A phone: 375 CSS pixels wide, as a phone's browser lays it out.
	do(b, "loading the status page at 375 px", chromedp.Steps(
		chromedp.EmulateViewport(375, 812, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-account="newcomer"]`)),
	))
	scrollWidth := do(b, "measuring the page's width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	innerWidth := do(b, "measuring the window's width", chromedp.Evaluate[int](`window.innerWidth`))
	phone := do(b, "taking the screenshot at 375 px", chromedp.FullScreenshot(100))
	if innerWidth != 375 || scrollWidth > innerWidth {
		t.Errorf("on a 375 px phone the page is %d px wide in a %d px window: it scrolls sideways", scrollWidth, innerWidth)
	}

	for name, shot := range map[string][]byte{"status-page.png": desktop, "status-page-phone.png": phone} {
		img, err := png.Decode(bytes.NewReader(shot))
		if err != nil {
			t.Fatalf("screenshot %s is not a PNG: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() < 375 || b.Dy() < 200 {
			t.Errorf("screenshot %s is %v: not a page", name, b)
		}
		if *saveScreenshots {
			if err := os.WriteFile(filepath.Join("testdata", name), shot, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// browserSteps runs the browser test's steps, each within patience.
type browserSteps struct {
	t        *testing.T
	ctx      context.Context
	patience time.Duration
}

// do runs one step of the browser test and returns its value; the test
// stops when it fails or outlasts b.patience.
func do[T any](b browserSteps, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, b.patience)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}
