// Package errtext lists every way an error can end up printed, for the tests
// that search errors for tokens and secrets: a secret must be absent from
// all of them, not only from Error().
package errtext

import (
	"errors"
	"fmt"
	"net/url"
)

// Of returns err's text in every verb (%v, %+v, %s, %#v), the text of
// everything it wraps, and, when a *url.Error is reachable through it, a
// line saying so with that error's text: a *url.Error prints its URL, query
// string included, so a client must never let one through.
func Of(err error) []string {
	texts := []string{fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%s", err), fmt.Sprintf("%#v", err)}
	queue := []error{err}
	for len(queue) > 0 {
		e := queue[0]
		queue = queue[1:]
		texts = append(texts, e.Error())
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			if inner := u.Unwrap(); inner != nil {
				queue = append(queue, inner)
			}
		case interface{ Unwrap() []error }:
			queue = append(queue, u.Unwrap()...)
		}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		texts = append(texts, "a *url.Error is reachable: "+ue.Error())
	}
	return texts
}
