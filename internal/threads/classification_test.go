package threads_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
	"github.com/threads-token-refresher/threads-token-refresher/internal/threads"
)

// class is how an error must be classified.
type class int

const (
	success class = iota
	reauth
	transient
	badAnswer
	neither
)

func (c class) String() string {
	return [...]string{"success", "reauth", "transient", "bad answer", "neither"}[c]
}

func classOf(err error) []class {
	if err == nil {
		return []class{success}
	}
	var got []class
	if errors.Is(err, threads.ErrNeedsReauth) {
		got = append(got, reauth)
	}
	if errors.Is(err, threads.ErrTransient) {
		got = append(got, transient)
	}
	if errors.Is(err, threads.ErrBadAnswer) {
		got = append(got, badAnswer)
	}
	if len(got) == 0 {
		got = append(got, neither)
	}
	return got
}

// failureClass is the classification every injected failure must get.
var failureClass = map[threadsfake.Failure]class{
	threadsfake.HTML5xx:      transient,
	threadsfake.Transient:    transient,
	threadsfake.RateLimited:  transient,
	threadsfake.Expired:      reauth,
	threadsfake.Revoked:      reauth,
	threadsfake.InvalidToken: reauth,
	threadsfake.FlatError:    neither,
	threadsfake.EmptyToken:   badAnswer,
	threadsfake.NonJSON200:   badAnswer,
	threadsfake.ZeroExpiry:   badAnswer,
	threadsfake.Hang:         transient,
	threadsfake.Reset:        transient,
	threadsfake.Unsupported:  neither,
}

func TestFailureClassification(t *testing.T) {
	t.Parallel()
	for _, ep := range endpoints {
		for _, fl := range threadsfake.Failures() {
			want, ok := failureClass[fl]
			if !ok {
				t.Fatalf("no expected class for %v", fl)
			}
			if fl == threadsfake.ZeroExpiry && ep.path == threadsfake.PathCode {
				// The code exchange answers no expires_in at all.
				continue
			}
			t.Run(ep.name+"/"+fl.String(), func(t *testing.T) {
				t.Parallel()
				f := startFake(t)
				c := newClient(t, f, hangTimeout)
				f.FailNext(ep.path, fl, 1)
				err, _ := ep.call(t.Context(), c, f)
				if got := classOf(err); len(got) != 1 || got[0] != want {
					t.Errorf("error %v classified %v, want exactly %v", err, got, want)
				}
				if n := f.Calls(ep.path); n != 1 {
					t.Errorf("%d requests for one call, want 1", n)
				}
				// The failure is used up: the next call succeeds.
				if err, _ := ep.call(t.Context(), c, f); err != nil {
					t.Errorf("call after the failure: %v", err)
				}
			})
		}
	}
}

func TestAPIErrorText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fl   threadsfake.Failure
		want string
	}{
		{threadsfake.HTML5xx, "Threads: HTTP 502 with a non-JSON body"},
		{threadsfake.Transient, "Threads: temporary Threads error (code 2): An unexpected error has occurred. Please retry your request later."},
		{threadsfake.RateLimited, "Threads: rate limited (code 4): (#4) Application request limit reached"},
		{threadsfake.Revoked, "Threads: session invalidated (password changed or security reset) (code 190/460): Error validating access token: The session has been invalidated"},
		{threadsfake.InvalidToken, "Threads: token invalid (code 190): Invalid OAuth access token - Cannot parse access token"},
		{threadsfake.FlatError, "Threads: OAuthException (code 400): Invalid platform app"},
		{threadsfake.Unsupported, "Threads: unsupported request (code 100/33): Unsupported get request."},
	}
	for _, tt := range tests {
		t.Run(tt.fl.String(), func(t *testing.T) {
			t.Parallel()
			f := startFake(t)
			c := newClient(t, f, 5*time.Second)
			f.FailNext("", tt.fl, 1)
			_, err := c.Me(t.Context(), f.IssueLongLived(userID, "a", epoch))
			var apiErr *threads.APIError
			if !errors.As(err, &apiErr) {
				t.Fatalf("Me error %v is not an APIError", err)
			}
			if !strings.HasPrefix(apiErr.Error(), tt.want) {
				t.Errorf("error text\n%q\nwant prefix\n%q", apiErr.Error(), tt.want)
			}
			if !strings.HasPrefix(err.Error(), "reading Threads user: ") {
				t.Errorf("error %q lacks the call's prefix", err)
			}
		})
	}
}

func TestAPIErrorIs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  threads.APIError
		want class
		text string
	}{
		{threads.APIError{HTTPStatus: 400, Code: 190, Subcode: 463}, reauth, "token expired (code 190/463)"},
		{threads.APIError{HTTPStatus: 401, Code: 190, Subcode: 467}, reauth, "token invalid (code 190/467)"},
		{threads.APIError{HTTPStatus: 400, Code: 190, Subcode: 458}, reauth, "app removed by the user"},
		{threads.APIError{HTTPStatus: 400, Code: 190, Subcode: 459}, reauth, "user checkpointed"},
		{threads.APIError{HTTPStatus: 400, Code: 190, Subcode: 493}, reauth, "user inactive for 90 days"},
		{threads.APIError{HTTPStatus: 400, Code: 102}, reauth, "session key invalid (code 102)"},
		// A token error wins over signs of a temporary failure.
		{threads.APIError{HTTPStatus: 500, Code: 190, Transient: true}, reauth, "token invalid (code 190)"},
		{threads.APIError{HTTPStatus: 400, Code: 1}, transient, "temporary Threads error (code 1)"},
		{threads.APIError{HTTPStatus: 400, Code: 17}, transient, "rate limited (code 17)"},
		{threads.APIError{HTTPStatus: 400, Code: 32}, transient, "rate limited"},
		{threads.APIError{HTTPStatus: 400, Code: 613}, transient, "rate limited"},
		{threads.APIError{HTTPStatus: 429}, transient, "Threads: HTTP 429"},
		{threads.APIError{HTTPStatus: 503, Type: "OAuthException", Code: 400}, transient, "OAuthException (code 400)"},
		{threads.APIError{HTTPStatus: 400, Code: 9999, Transient: true}, transient, "error (code 9999)"},
		{threads.APIError{HTTPStatus: 403, Code: 10}, neither, "permission missing (code 10)"},
		{threads.APIError{HTTPStatus: 403, Code: 250}, neither, "permission missing (code 250)"},
		{threads.APIError{HTTPStatus: 400, Code: 100, Subcode: 33}, neither, "unsupported request (code 100/33)"},
	}
	for _, tt := range tests {
		tt.err.Platform = threads.Platform.Name // as the Threads client sets it
		err := fmt.Errorf("wrapped: %w", &tt.err)
		if got := classOf(err); len(got) != 1 || got[0] != tt.want {
			t.Errorf("%+v classified %v, want %v", tt.err, got, tt.want)
		}
		if !strings.Contains(err.Error(), tt.text) {
			t.Errorf("%q does not contain %q", err, tt.text)
		}
	}
}
