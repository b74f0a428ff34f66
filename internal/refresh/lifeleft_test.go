package refresh_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/leases"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
)

// hoursLeftLines returns each account's hoursLeft from the "account
// processed" lines of out, as the JSON numbers alerting compares; absent
// ones are missing from the map.
func hoursLeftLines(t *testing.T, out string) map[string]json.Number {
	t.Helper()
	got := map[string]json.Number{}
	for _, raw := range strings.Split(strings.TrimSpace(out), "\n") {
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil || m["message"] != "account processed" {
			continue
		}
		if v, ok := m["hoursLeft"]; ok {
			n, isNumber := v.(json.Number)
			if !isNumber {
				t.Errorf("hoursLeft of %v is %T, not a JSON number: %s", m["account"], v, raw)
				continue
			}
			got[m["account"].(string)] = n
		}
	}
	return got
}

func intp(n int) *int { return &n }

// TestHoursLeft: every account line and report carries the token's
// remaining life in whole hours, rounded down, negative once expired,
// absent when the expiry is unknown; busy accounts included, from the state
// the pass read.
func TestHoursLeft(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	ctx := context.Background()
	const lifetime = 60 * 24 * time.Hour // what an adopted version is given
	h.seed("refreshed", 72*time.Hour)
	h.seed("adopted", 90*time.Minute) // expires in 60 days less 1h30m
	if _, err := h.Store.CreateSecret(ctx, "empty"); err != nil {
		t.Fatal(err)
	}
	_, bv := h.seed("busy", 30*time.Hour)
	h.writeState("busy", refresh.State{Secret: h.account("busy").Secret, Version: bv.Name, Status: refresh.StatusOK,
		RefreshedAt: bv.CreateTime, ExpiresAt: bv.CreateTime.Add(lifetime)})
	if _, err := leases.Take(ctx, h.Store, h.account("busy"), "another-pass", h.Clock.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// A token that died 30 minutes ago, with the state still failing.
	dv := h.AddVersion("dead", lifetime+30*time.Minute, []byte(`{"access_token":"THAAdeadtokenvalue"}`))
	h.seen["THAAdeadtokenvalue"] = true
	h.writeState("dead", refresh.State{Secret: h.account("dead").Secret, Version: dv.Name, Status: refresh.StatusNeedsReauth,
		LastError: "Threads: token expired", RefreshedAt: dv.CreateTime, ExpiresAt: dv.CreateTime.Add(lifetime)})

	mark := len(h.Logs.String())
	rep := h.pass()
	want := map[string]*int{
		"refreshed": intp(threadsfake.DefaultExpiresIn / 3600), // 1439: a little under 60 days
		"adopted":   intp(60*24 - 2),                           // 1438h30m
		"busy":      intp(60*24 - 30),
		"dead":      intp(-1), // -30m rounds down, not to 0
		"empty":     nil,
	}
	lines := hoursLeftLines(t, h.Logs.String()[mark:])
	for id, w := range want {
		r := result(t, rep, id)
		switch {
		case w == nil && (r.HoursLeft != nil || r.ExpiresAt != ""):
			t.Errorf("%s: hoursLeft %v, expiresAt %q; want both absent", id, r.HoursLeft, r.ExpiresAt)
		case w != nil && (r.HoursLeft == nil || *r.HoursLeft != *w):
			t.Errorf("%s (%s): hoursLeft %v, want %d", id, r.Result, r.HoursLeft, *w)
		case w != nil && r.ExpiresAt == "":
			t.Errorf("%s: hoursLeft without expiresAt", id)
		}
		n, logged := lines[id]
		switch {
		case w == nil && logged:
			t.Errorf("%s: logged hoursLeft %s with no known expiry", id, n)
		case w != nil && n.String() != string(must(json.Marshal(*w))):
			t.Errorf("%s: logged hoursLeft %q, want %d", id, n, *w)
		}
	}
	if r := result(t, rep, "busy"); r.Result != refresh.ResultBusy {
		t.Errorf("busy: %+v", r)
	}

	// The answer carries it as a JSON number too.
	body := must(json.Marshal(rep))
	if !bytes.Contains(body, []byte(`"hoursLeft":-1,`)) || bytes.Contains(body, []byte(`"hoursLeft":"`)) {
		t.Errorf("the report's JSON does not carry hoursLeft as a number: %s", body)
	}

	// Status tells the same from stored state, at the clock's time.
	h.Clock.Advance(25 * time.Hour)
	st, err := h.Engine.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := result(t, st, "refreshed"); r.HoursLeft == nil || *r.HoursLeft != *want["refreshed"]-25 {
		t.Errorf("status, 25h later: refreshed has hoursLeft %v, want %d", r.HoursLeft, *want["refreshed"]-25)
	}
	if r := result(t, st, "dead"); r.HoursLeft == nil || *r.HoursLeft != -26 {
		t.Errorf("status, 25h later: dead has hoursLeft %v, want -26", r.HoursLeft)
	}
	h.assertNoTokenLeak("refreshed", "adopted", "busy", "dead", "empty")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
