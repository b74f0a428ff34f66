package payload

import (
	"errors"
	"fmt"
)

// MaxTokenLength bounds a token's length. Meta's tokens are a few hundred
// characters; one far longer is not a token, and a payload holding it could
// outgrow Secret Manager's 64 KiB.
const MaxTokenLength = 4096

// ErrTokenShape marks a token that breaks the token rule. Its messages
// never quote the token.
var ErrTokenShape = errors.New("not a usable token")

// CheckToken applies the one rule every token the refresher keeps must
// meet, whoever gave it (Meta's answers, a person pasting one): a non-empty
// run of at most MaxTokenLength printable, non-space ASCII characters,
// without quotes or backticks and not starting with '{'. That is exactly
// what a bare payload can hold and Parse read back unchanged, so a token
// that passes can be stored in either shape. Every token Meta documents
// (base62 and a few punctuation marks) passes.
func CheckToken(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: it is empty", ErrTokenShape)
	case len(s) > MaxTokenLength:
		return fmt.Errorf("%w: it is %d bytes long, more than %d", ErrTokenShape, len(s), MaxTokenLength)
	case s[0] == '{':
		return fmt.Errorf("%w: it starts with '{'", ErrTokenShape)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ':
			return fmt.Errorf("%w: it has a space at byte %d", ErrTokenShape, i+1)
		case c < ' ' || c == 0x7f:
			return fmt.Errorf("%w: it has a control character (such as a newline or tab) at byte %d", ErrTokenShape, i+1)
		case c > 0x7f:
			return fmt.Errorf("%w: it has a byte that is not ASCII at byte %d", ErrTokenShape, i+1)
		case c == '"' || c == '\'' || c == '`':
			return fmt.Errorf("%w: it has a quote or backtick at byte %d", ErrTokenShape, i+1)
		}
	}
	return nil
}
