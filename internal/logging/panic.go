package logging

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
)

// Panic logs a recovered panic as one ERROR line, "message":"panic", that
// alerting counts as a whole-pass failure. stack is the panicking
// goroutine's stack (runtime/debug.Stack).
//
// The panic value's text is never logged: a panic can carry anything, an
// error wrapping a *url.Error whose URL holds an access_token, a payload
// formatted into a message, and a token must never reach a log line. What
// is logged instead:
//   - panicType, the value's Go type, which says what kind of failure it
//     was without saying what it held;
//   - for the runtime's own errors (nil dereference, index out of range,
//     failed type assertion), their text too: the runtime writes it from
//     types and numbers only, never from program data;
//   - stack_trace, in the form Go prints an unrecovered panic, so that
//     Error Reporting groups it (it reads a jsonPayload's stack_trace field;
//     cloud.google.com/error-reporting/docs/formatting-error-messages). A
//     stack shows function arguments as machine words (a string as its
//     pointer and length), never the bytes they point to.
func Panic(ctx context.Context, l *slog.Logger, v any, stack []byte) {
	what := PanicSummary(v)
	l.LogAttrs(ctx, slog.LevelError, "panic",
		slog.String("panicType", fmt.Sprintf("%T", v)),
		slog.String("stack_trace", "panic: "+what+"\n\n"+string(stack)),
	)
}

// PanicSummary describes a panic value without its text, unless it is one
// of the runtime's own errors (see Panic).
func PanicSummary(v any) string {
	if re, ok := v.(runtime.Error); ok && fromRuntime(v) {
		return re.Error()
	}
	return fmt.Sprintf("a %T (its text is not logged: it may hold a token)", v)
}

// fromRuntime reports whether v's type is declared in package runtime, so
// that a type elsewhere that merely implements runtime.Error does not pass.
func fromRuntime(v any) bool {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t != nil && t.PkgPath() == "runtime"
}
