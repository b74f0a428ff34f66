package payload

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCheckToken(t *testing.T) {
	t.Parallel()
	good := []string{tok, "IGAAx-y_z.0~9+/=", "a", strings.Repeat("T", MaxTokenLength), "TH|123|abc"}
	for _, s := range good {
		if err := CheckToken(s); err != nil {
			t.Errorf("CheckToken(%.20q…) = %v, want nil", s, err)
		}
	}
	bad := map[string]string{
		"":                                    "empty",
		tok + " x":                            "space",
		tok + "\n":                            "control character",
		"\t" + tok:                            "control character",
		tok + "\x00":                          "control character",
		tok + "\x7f":                          "control character",
		tok + "é":                             "not ASCII",
		tok + "\"":                            "quote",
		tok + "'":                             "quote",
		tok + "`":                             "backtick",
		"{" + tok:                             "starts with '{'",
		strings.Repeat("T", MaxTokenLength+1): "bytes long",
	}
	for s, why := range bad {
		err := CheckToken(s)
		if !errors.Is(err, ErrTokenShape) || !strings.Contains(err.Error(), why) {
			t.Errorf("CheckToken(%.20q…) = %v, want ErrTokenShape saying %q", s, err, why)
		}
		if err != nil && len(s) > 3 && strings.Contains(err.Error(), s[:4]) && s[:4] != "TTTT" {
			t.Errorf("the error quotes the token: %v", err)
		}
	}
}

// TestCheckedTokensStoreInBothShapes: a token that passes the rule reads
// back unchanged from a bare payload and from a JSON one.
func TestCheckedTokensStoreInBothShapes(t *testing.T) {
	t.Parallel()
	for c := byte(0); c < 0x80; c++ {
		s := "TH" + string(c) + "AA"
		if CheckToken(s) != nil {
			continue
		}
		for _, raw := range [][]byte{[]byte(s), New(s, "1", "a")} {
			p, err := Parse(raw)
			if err != nil || p.Token() != s {
				t.Errorf("token with %q: Parse(%q) = %q, %v", c, raw, p.Token(), err)
			}
		}
	}
}

func TestClocks(t *testing.T) {
	t.Parallel()
	issued := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	c := Clocks{IssuedAt: issued, ExpiresAt: issued.Add(60 * 24 * time.Hour), DataAccessExpiresAt: issued.Add(90 * 24 * time.Hour), FromMeta: true}
	p, err := Parse(NewWithClocks(PlatformThreads, tok, "1", "a", c))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Clocks(); got != c {
		t.Errorf("Clocks() = %+v, want %+v", got, c)
	}
	// A refresh records the answer's clocks and keeps the data-access one.
	b, err := p.Refreshed("new", "bearer", 5183944, issued.Add(time.Hour), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	p, _ = Parse(b)
	want := Clocks{IssuedAt: issued.Add(time.Hour), ExpiresAt: issued.Add(time.Hour + 5183944*time.Second), DataAccessExpiresAt: c.DataAccessExpiresAt}
	if got := p.Clocks(); got != want {
		t.Errorf("refreshed Clocks() = %+v, want %+v", got, want)
	}
	// The refresher's own knowledge of the data-access clock wins.
	b, _ = p.Refreshed("newer", "bearer", 5183944, issued.Add(2*time.Hour), issued.Add(100*24*time.Hour))
	p, _ = Parse(b)
	if got := p.Clocks().DataAccessExpiresAt; !got.Equal(issued.Add(100 * 24 * time.Hour)) {
		t.Errorf("refreshed data access %s, want the one given", got)
	}
	// Unknown clocks are left out; what a person wrote wrong is no clock.
	for _, raw := range []string{
		string(New(tok, "1", "a")),
		tok,
		`{"access_token":"` + tok + `","issued_at":"yesterday","expires_at":-5}`,
		`{"access_token":"` + tok + `","issued_at":1747070132,"expires_at":1747070131}`,
		`{"access_token":"` + tok + `","expires_at":1e300}`,
	} {
		p, err := Parse([]byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Clocks(); got != (Clocks{}) {
			t.Errorf("Clocks() of %s = %+v, want none", raw, got)
		}
	}
	if strings.Contains(string(New(tok, "1", "a")), "_at") {
		t.Errorf("a payload without clocks names some: %s", New(tok, "1", "a"))
	}
}
