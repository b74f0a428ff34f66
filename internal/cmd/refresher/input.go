package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
)

// maxSecretInput bounds what is read as a token or secret: Secret Manager
// payloads are at most 64 KiB.
const maxSecretInput = 64 << 10

// readSecret reads one secret value (a token, an app secret) from a file
// when path is set, else from standard input. Secrets never come from
// arguments: those end up in shell history and in `ps`. On a terminal the
// value is read without echo after a prompt on standard error.
func readSecret(e *env, path, what, flagName string) (string, error) {
	var raw []byte
	switch {
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return "", usagef("reading %s from %s: %v", what, flagName, err)
		}
		raw = b
	case isTerminal(e.stdin):
		fmt.Fprintf(e.stderr, "Paste the %s and press Enter (it is not shown): ", what)
		b, err := term.ReadPassword(int(e.stdin.(*os.File).Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("reading %s from the terminal: %w", what, err)
		}
		raw = b
	default:
		b, err := io.ReadAll(io.LimitReader(e.stdin, maxSecretInput+1))
		if err != nil {
			return "", fmt.Errorf("reading %s from standard input: %w", what, err)
		}
		raw = b
	}
	// Every check below runs before the value is sent anywhere: a value
	// that cannot be stored must not reach Meta first.
	if len(raw) > maxSecretInput {
		return "", usagef("the %s is longer than %d bytes", what, maxSecretInput)
	}
	if err := checkText(what, raw); err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(raw))
	if v == "" {
		return "", usagef("no %s given: pipe it on standard input or use %s", what, flagName)
	}
	if !payload.TokenFits(v) {
		return "", usagef("the %s is %d bytes long, too long to store in a secret (at most %d bytes with the user's ID and name); Threads and Instagram tokens are a few hundred characters", what, len(v), payload.MaxSize)
	}
	// The one token rule (payload.CheckToken), the one Meta's answers meet:
	// what is stored can always be read back.
	if err := payload.CheckToken(v); err != nil {
		return "", usagef("the %s is not usable (%s); give the bare value only", what, strings.TrimPrefix(err.Error(), payload.ErrTokenShape.Error()+": "))
	}
	return v, nil
}

// checkText refuses input that is not text: bytes that are not UTF-8 (a
// binary file given by mistake) or control characters. JSON would store
// them altered (invalid UTF-8 becomes U+FFFD), so that what was checked
// with /me would not be what is kept. Tokens are printable ASCII; the
// sentence names neither the bytes nor where they are, since the input may
// be a real token.
func checkText(what string, raw []byte) error {
	if !utf8.Valid(raw) {
		return usagef("the %s is not text (it holds bytes that are not UTF-8): give the token itself, not a binary file", what)
	}
	for _, r := range string(raw) {
		if unicode.IsControl(r) && !unicode.IsSpace(r) {
			return usagef("the %s holds control characters: give the token itself, as printed by Meta", what)
		}
	}
	return nil
}

// readLine reads one line from standard input, with a prompt on a terminal.
func readLine(e *env, prompt string) (string, error) {
	if isTerminal(e.stdin) {
		fmt.Fprint(e.stderr, prompt)
	}
	line, err := bufio.NewReader(io.LimitReader(e.stdin, maxSecretInput)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("reading standard input: %w", err)
	}
	return strings.TrimSpace(line), nil
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
