package payload

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
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
	b, err := p.Refreshed("new", "bearer", 5183944)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"access_token": "new", "user_id": "42", "note": map[string]any{"a": []any{1.0, 2.0}}, "token_type": "bearer", "expires_in": 5183944.0}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("refreshed = %v, want %v", got, want)
	}

	bare, _ := Parse([]byte("old\n"))
	b, err = bare.Refreshed("new", "bearer", 5183944)
	if err != nil || string(b) != "new" {
		t.Errorf("bare refreshed = %q, %v; want %q", b, err, "new")
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
