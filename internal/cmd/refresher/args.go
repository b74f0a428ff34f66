package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/threads-token-refresher/threads-token-refresher/internal/config"
)

// parseInterspersed parses flags wherever they are among the arguments, so
// that `refresher add main --platform instagram` means what
// `refresher add --platform instagram main` does, and returns the other
// arguments in order. "--" ends the flags: everything after it is an
// argument.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		consumed := args[:len(args)-len(rest)]
		if len(consumed) > 0 && consumed[len(consumed)-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// Tokens are long: Threads and Instagram long-lived tokens are well over a
// hundred characters. Account names may be as long (Secret Manager allows
// 255 characters, and THREADS_SECRETS takes them), so length alone does not
// tell a pasted token from a name.
const (
	tokenMinLength = 100
	// maxAccountName is Secret Manager's limit on a secret ID: longer is
	// never a name.
	maxAccountName = 255
)

// tokenPrefixes start the access tokens Meta issues: Threads (THAA, THQV),
// Instagram Login (IGAA, IGQV, IGQW), Facebook Login (EAA).
var tokenPrefixes = []string{"THAA", "THQV", "IGAA", "IGQV", "IGQW", "EAA"}

// looksLikeToken reports whether an argument is most likely a pasted token
// rather than a name: longer than any name can be, or long and shaped like
// a token (a token's prefix, or one unbroken run of mixed-case letters and
// digits, where a long name has separators).
func looksLikeToken(s string) bool {
	if len(s) > maxAccountName {
		return true
	}
	if strings.Contains(s, "|") && len(s) >= 20 {
		return true // an app access token: APP_ID|APP_SECRET
	}
	if len(s) < tokenMinLength {
		return false
	}
	for _, p := range tokenPrefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	var upper, lower, digit bool
	for _, r := range s {
		switch {
		case 'A' <= r && r <= 'Z':
			upper = true
		case 'a' <= r && r <= 'z':
			lower = true
		case '0' <= r && r <= '9':
			digit = true
		default:
			return false // a separator, or a character no token has
		}
	}
	return upper && lower && digit
}

// tokenLike describes a token-like argument without showing it.
func tokenLike(s string) string {
	return fmt.Sprintf("[%d characters that look like a token]", len(s))
}

// scrubArgs replaces, in a message of the flag package (which quotes
// flag values), every argument that looks like a token.
func scrubArgs(msg string, args []string) string {
	for _, a := range args {
		_, v, ok := strings.Cut(a, "=")
		for _, s := range []string{a, v} {
			if (s == a || ok) && looksLikeToken(s) {
				msg = strings.ReplaceAll(msg, s, tokenLike(s))
			}
		}
	}
	return msg
}

// refuseTokens refuses arguments that look like pasted tokens, without
// showing them: they are now in the shell's history, which is worth saying.
func refuseTokens(args []string) error {
	for _, a := range args {
		if looksLikeToken(a) {
			return usagef("an argument of %d characters looks like a pasted token; tokens and secrets are read from standard input or a file, never from arguments (and this one is now in your shell history)", len(a))
		}
	}
	return nil
}

// accountArg reads the one ACCOUNT argument.
func accountArg(name string, args []string) (string, error) {
	if err := refuseTokens(args); err != nil {
		return "", err
	}
	switch {
	case len(args) == 0:
		return "", usagef("missing ACCOUNT: say which account, e.g. `refresher %s main`", name)
	case len(args) > 1:
		return "", usagef("`refresher %s` takes one ACCOUNT, and got %d arguments; tokens and secrets are read from standard input or a file, never from arguments", name, len(args))
	case !config.ValidAccountName(args[0]):
		return "", usagef("ACCOUNT %q is not a valid name: use 1 to 255 letters, digits, '-' and '_'", args[0])
	}
	return args[0], nil
}

// noArgs refuses extra arguments.
func noArgs(name string, args []string) error {
	if err := refuseTokens(args); err != nil {
		return err
	}
	if len(args) > 0 {
		return usagef("unexpected argument %q; `refresher %s` takes none", args[0], name)
	}
	return nil
}
