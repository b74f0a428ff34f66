package payload_test

import (
	"context"
	"encoding/json"
	"io"
	mathrand "math/rand"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"testing/quick"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/threads"
)

// answering is an http.RoundTripper that answers every request with one
// body, in process.
type answering string

func (a answering) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader(string(a))), Request: r}, nil
}

// written refreshes through the real client against an answer holding
// token and expiresIn and, when the client accepts it, returns the
// payloads the engine would write in each shape (p.Refreshed).
func written(t *testing.T, token string, expiresIn any) (tok graph.Token, payloads [][]byte, accepted bool) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"access_token": token, "token_type": "bearer", "expires_in": expiresIn})
	if err != nil {
		return graph.Token{}, nil, false // not an answer JSON can carry
	}
	c := threads.New("https://graph.threads.net", time.Second, &http.Client{Transport: answering(body)})
	tok, err = c.Refresh(context.Background(), "THAAold")
	if err != nil {
		return graph.Token{}, nil, false
	}
	for _, old := range []string{"THAAold", string(payload.New("THAAold", "1", "a")), `{"platform":"instagram","access_token":"IGAAold","note":[1]}`} {
		p, err := payload.Parse([]byte(old))
		if err != nil {
			t.Fatal(err)
		}
		b, err := p.Refreshed(tok.AccessToken, tok.TokenType, tok.ExpiresIn, time.Unix(1747070132, 0), time.Unix(1754846089, 0))
		if err != nil {
			t.Fatalf("Refreshed: %v", err)
		}
		payloads = append(payloads, b)
	}
	return tok, payloads, true
}

// readsBack reports whether every payload holds tok's token, as the engine
// reads it back.
func readsBack(tok graph.Token, payloads [][]byte) bool {
	for _, b := range payloads {
		p, err := payload.Parse(b)
		if err != nil || p.Token() != tok.AccessToken {
			return false
		}
	}
	return true
}

// FuzzAcceptedAnswerReadsBack: whatever token an answer holds, if the
// client accepts the answer, every payload the engine writes for it (bare,
// JSON, another platform's JSON) is read back by payload.Parse with the
// same token. The seeds run in every `go test`; `go test -fuzz` explores.
func FuzzAcceptedAnswerReadsBack(f *testing.F) {
	for _, s := range []string{
		"THAAgood", "IGAA-_.~+/=", "a", " lead", "trail ", "in ner", "new\nline", "tab\t", "\x00", "\x7f",
		"é", "日本", `"quoted"`, "'single'", "`back`", "{json}", "}", "[", "\\", "\\u0000", "%20", "#_",
		"\u2028", "\ufeffTHAA", strings.Repeat("x", 4096), strings.Repeat("x", 4097), "",
	} {
		f.Add(s, int64(5183944))
	}
	f.Add("THAAgood", int64(0))
	f.Add("THAAgood", int64(7776001))
	f.Fuzz(func(t *testing.T, token string, expiresIn int64) {
		tok, payloads, ok := written(t, token, expiresIn)
		if ok && !readsBack(tok, payloads) {
			t.Errorf("the client accepted a token (%d bytes) whose payload cannot be read back with it", len(token))
		}
		if ok && payload.CheckToken(tok.AccessToken) != nil {
			t.Errorf("the client accepted a token the rule refuses")
		}
	})
}

// TestAcceptedAnswersReadBack is the same property (testing/quick) over
// tokens drawn, from a fixed seed, from an alphabet heavy in what breaks
// payloads: blanks, quotes, braces, control and non-ASCII characters.
func TestAcceptedAnswersReadBack(t *testing.T) {
	t.Parallel()
	runes := []rune("THAAxyz019-_.~+/= \t\n\r\"'`{}[]\\:,é\x00\x7f\u2028")
	accepted, refused := 0, 0
	prop := func(seed uint64) bool {
		r := rand.New(rand.NewPCG(seed, 1))
		var b strings.Builder
		for range r.IntN(12) {
			if r.IntN(3) == 0 {
				b.WriteRune(runes[r.IntN(len(runes))])
			} else {
				b.WriteRune(runes[r.IntN(7)])
			}
		}
		tok, payloads, ok := written(t, b.String(), 5183944)
		if !ok {
			refused++
			return true
		}
		accepted++
		return readsBack(tok, payloads)
	}
	if err := quick.Check(prop, &quick.Config{MaxCount: 3000, Rand: mathrand.New(mathrand.NewSource(15))}); err != nil {
		t.Error(err)
	}
	if accepted == 0 || refused == 0 {
		t.Errorf("%d answers accepted, %d refused: the draw never tested one side", accepted, refused)
	}
}
