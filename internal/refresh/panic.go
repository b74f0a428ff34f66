package refresh

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync/atomic"
)

// Panic is a panic in an account's worker goroutine, raised again by Pass in
// the goroutine that called it, once the other workers have finished and
// recorded their accounts. errgroup does not carry panics to Wait (its Go
// says why), and a panic that no goroutine recovers ends the process: the
// function's instance dies mid-request, no log line says why in a form
// alerting reads, and Go prints the panic value, which may hold a token.
// Raised again in the caller's goroutine, it reaches the HTTP layer's
// recover like any other panic of the request.
type Panic struct {
	// Value is what the worker panicked with. It may hold a token: never
	// print it.
	Value any
	// Stack is the worker's stack when it panicked.
	Stack []byte
}

// Error describes the panic without the value's text, so that even a Panic
// nobody recovers (Go prints an error's Error()) prints no token.
func (p *Panic) Error() string {
	return fmt.Sprintf("panic in an account worker (a %T)", p.Value)
}

// catch, deferred in a worker, keeps the first panic for Pass to raise
// again.
func catch(first *atomic.Pointer[Panic]) {
	if v := recover(); v != nil {
		first.CompareAndSwap(nil, &Panic{Value: v, Stack: debug.Stack()})
	}
}

// Recovered returns what a recover() returned, v, as the panic value and
// the stack to report: a worker's own for a Panic that Pass raised again,
// the calling goroutine's otherwise (call it from the deferred function).
func Recovered(v any) (any, []byte) {
	var p *Panic
	if err, ok := v.(error); ok && errors.As(err, &p) {
		return p.Value, p.Stack
	}
	return v, debug.Stack()
}
