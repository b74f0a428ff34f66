package payload

import (
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

const tok = "THAAsecretTOKENvalue123"

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, token string
		json, wantErr   bool
	}{
		{"object", `{"access_token":"` + tok + `","user_id":"42"}`, tok, true, false},
		{"object with blanks", "\n  {\"access_token\":\"" + tok + "\"}\n", tok, true, false},
		{"bare", tok, tok, false, false},
		{"bare trimmed", "  " + tok + "\n", tok, false, false},
		{"empty", "", "", false, true},
		{"blank", " \n", "", false, true},
		{"no access_token", `{"user_id":"42"}`, "", false, true},
		{"empty access_token", `{"access_token":""}`, "", false, true},
		{"number access_token", `{"access_token":42}`, "", false, true},
		{"broken json", `{"access_token":"` + tok, "", false, true},
		{"inner space", "THAA abc", "", false, true},
		{"quoted", `"` + tok + `"`, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := Parse([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("Parse(%q) error = %v, want ErrInvalid", tt.in, err)
				}
				if strings.Contains(err.Error(), tok) || strings.Contains(err.Error(), "THAA") {
					t.Errorf("error quotes the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Token() != tt.token || p.JSON() != tt.json {
				t.Errorf("Parse(%q) = token %q json %v, want %q %v", tt.in, p.Token(), p.JSON(), tt.token, tt.json)
			}
		})
	}
}

func TestRefreshedKeepsShape(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte(`{"access_token":"old","user_id":"42","note":{"a":[1,2]}}`))
	if err != nil {
		t.Fatal(err)
	}
	received := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	b, err := p.Refreshed("new", "bearer", 5183944, received, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"access_token": "new", "user_id": "42", "note": map[string]any{"a": []any{1.0, 2.0}}, "token_type": "bearer", "expires_in": 5183944.0,
		"issued_at": float64(received.Unix()), "expires_at": float64(received.Unix() + 5183944), "clocks_from": "refresh"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("refreshed = %v, want %v", got, want)
	}

	bare, _ := Parse([]byte("old\n"))
	b, err = bare.Refreshed("new", "bearer", 5183944, received, time.Time{})
	if err != nil || string(b) != "new" {
		t.Errorf("bare refreshed = %q, %v; want %q", b, err, "new")
	}
}

func TestPlatform(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{"bare token", tok, PlatformThreads, false},
		{"object without platform", `{"access_token":"` + tok + `"}`, PlatformThreads, false},
		{"instagram", `{"platform":"instagram","access_token":"` + tok + `"}`, PlatformInstagram, false},
		{"threads", `{"platform":"threads","access_token":"` + tok + `"}`, PlatformThreads, false},
		{"case and blanks", `{"platform":" Instagram ","access_token":"` + tok + `"}`, PlatformInstagram, false},
		{"a name the engine will not know", `{"platform":"myspace","access_token":"` + tok + `"}`, "myspace", false},
		{"number", `{"platform":2,"access_token":"` + tok + `"}`, "", true},
		{"empty", `{"platform":"","access_token":"` + tok + `"}`, "", true},
		{"null names none", `{"platform":null,"access_token":"` + tok + `"}`, PlatformThreads, false},
	}
	for _, tt := range tests {
		p, err := Parse([]byte(tt.in))
		if tt.wantErr {
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"platform"`) {
				t.Errorf("%s: error %v, want ErrInvalid naming \"platform\"", tt.name, err)
			}
			continue
		}
		if err != nil || p.Platform() != tt.want {
			t.Errorf("%s: Platform() = %q, %v; want %q", tt.name, p.Platform(), err, tt.want)
		}
	}

	// A refresh keeps the field as it was written.
	p, _ := Parse([]byte(`{"platform":"Instagram","access_token":"old"}`))
	b, _ := p.Refreshed("new", "bearer", 1, time.Now(), time.Time{})
	if !strings.Contains(string(b), `"platform":"Instagram"`) {
		t.Errorf("refreshed payload %s lost the platform field", b)
	}
}

func TestNewFor(t *testing.T) {
	t.Parallel()
	var got map[string]any
	if err := json.Unmarshal(NewFor(PlatformInstagram, tok, "1784", "shop"), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"platform": "instagram", "access_token": tok, "user_id": "1784", "username": "shop"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("NewFor(instagram) = %v, want %v", got, want)
	}
	if string(NewFor(PlatformThreads, tok, "42", "alice")) != string(New(tok, "42", "alice")) || strings.Contains(string(New(tok, "42", "alice")), "platform") {
		t.Error("a Threads payload names its platform; it should read as it always has")
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	p, err := Parse(New(tok, "42", "alice"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Token() != tok || p.Field("user_id") != "42" || p.Field("username") != "alice" {
		t.Errorf("New round trip: token %q user %q name %q", p.Token(), p.Field("user_id"), p.Field("username"))
	}
}

// TestTokenFits: a token fits when its payload, with any user /me may
// answer, fits in a secret; the encoded size counts, not the token's.
func TestTokenFits(t *testing.T) {
	t.Parallel()
	if !TokenFits("THAA" + strings.Repeat("x", 300)) {
		t.Error("a token of ordinary length does not fit")
	}
	if TokenFits(strings.Repeat("A", MaxSize)) {
		t.Error("a token of 64 KiB fits, beside the rest of the payload")
	}
	// The longest token of 'A's that fits, and one byte more.
	n := sort.Search(MaxSize, func(i int) bool { return !TokenFits(strings.Repeat("A", i+1)) })
	if got := len(NewFor(PlatformInstagram, strings.Repeat("A", n), strings.Repeat("9", 20), strings.Repeat("u", 30))); got > MaxSize || n < MaxSize-1024 {
		t.Errorf("the longest token that fits is %d bytes; its payload %d bytes (limit %d)", n, got, MaxSize)
	}
	// '<' is stored as \u003c: six bytes each.
	if TokenFits(strings.Repeat("<", MaxSize/5)) {
		t.Error("a token whose JSON is over 64 KiB fits")
	}
}
