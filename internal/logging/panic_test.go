package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"testing"
)

// fakeRuntimeError implements runtime.Error outside package runtime: its
// text is program data like any other.
type fakeRuntimeError struct{ msg string }

func (e fakeRuntimeError) Error() string { return e.msg }
func (fakeRuntimeError) RuntimeError()   {}

func runtimeError() (err runtime.Error) {
	defer func() { err = recover().(runtime.Error) }()
	var s []int
	_ = s[3]
	return nil
}

func TestPanicLineHoldsNoValueText(t *testing.T) {
	t.Parallel()
	const secret = "THAAsecretvalue"
	tests := []struct {
		value    any
		summary  string // in stack_trace's first line
		typeName string
	}{
		{errors.New("GET ...?access_token=" + secret), "a *errors.errorString (its text is not logged", "*errors.errorString"},
		{"refreshing " + secret, "a string (its text is not logged", "string"},
		{fakeRuntimeError{secret}, "a logging.fakeRuntimeError (its text is not logged", "logging.fakeRuntimeError"},
		{runtimeError(), "runtime error: index out of range [3] with length 0", "runtime.boundsError"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		Panic(context.Background(), New(&buf, slog.LevelInfo), tt.value, []byte("goroutine 1 [running]:\nmain.f()"))
		if strings.Contains(buf.String(), secret) || strings.Count(buf.String(), "\n") != 1 {
			t.Errorf("%T: want one line without the value's text, got:\n%s", tt.value, buf.String())
		}
		var line map[string]any
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		stack, _ := line["stack_trace"].(string)
		if line["severity"] != "ERROR" || line["message"] != "panic" || line["panicType"] != tt.typeName ||
			!strings.HasPrefix(stack, "panic: "+tt.summary) || !strings.HasSuffix(stack, "\n\ngoroutine 1 [running]:\nmain.f()") {
			t.Errorf("%T: line %v", tt.value, line)
		}
	}
}
