package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// Mutant is one planted bug: a snippet of one file replaced by another.
type Mutant struct {
	// Name is short and unique ("store-not-retried").
	Name string
	// What says what the bug is, in a sentence.
	What string
	// File is the slash-separated path, from the module root, of the file
	// the bug is planted in.
	File string
	// Old must occur exactly once in File; New replaces it.
	Old, New string
	// Sim: the bug costs a token (or a person's warning), so the simulation
	// must catch it, not only a unit test.
	Sim bool
	// Line is where the mutant starts in the list, for error messages.
	Line int
}

// The list format, one mutant per block (blank lines and lines starting
// with # outside blocks are comments):
//
//	=== NAME: what the bug is
//	file: internal/refresh/retry.go
//	sim: yes
//	<<<
//	the exact text to replace, any number of lines
//	---
//	what replaces it
//	>>>
//
// "sim: yes" marks a bug that costs a token or a warning, which the
// simulation itself must catch. The old text must occur exactly once in the
// file, so that a list gone stale with the code fails loudly instead of
// planting nothing.
func parseList(r io.Reader) ([]Mutant, error) {
	var (
		out   []Mutant
		cur   *Mutant
		state int // 0 header, 1 old, 2 new
		old   []string
		nw    []string
		seen  = map[string]int{}
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		switch {
		case cur == nil:
			if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			rest, ok := strings.CutPrefix(line, "=== ")
			if !ok {
				return nil, fmt.Errorf("line %d: want \"=== NAME: what\" to start a mutant, got %q", n, line)
			}
			name, what, _ := strings.Cut(rest, ":")
			name = strings.TrimSpace(name)
			if name == "" || strings.ContainsAny(name, " \t") {
				return nil, fmt.Errorf("line %d: a mutant's name is one word, got %q", n, name)
			}
			if prev, dup := seen[name]; dup {
				return nil, fmt.Errorf("line %d: mutant %q is already defined on line %d", n, name, prev)
			}
			seen[name] = n
			cur = &Mutant{Name: name, What: strings.TrimSpace(what), Line: n}
			state, old, nw = 0, nil, nil
		case state == 0:
			switch t := strings.TrimSpace(line); {
			case strings.HasPrefix(t, "file:"):
				cur.File = strings.TrimSpace(strings.TrimPrefix(t, "file:"))
			case strings.HasPrefix(t, "sim:"):
				v := strings.TrimSpace(strings.TrimPrefix(t, "sim:"))
				if v != "yes" && v != "no" {
					return nil, fmt.Errorf("line %d: sim is yes or no, got %q", n, v)
				}
				cur.Sim = v == "yes"
			case t == "<<<":
				state = 1
			case t == "" || strings.HasPrefix(t, "#"):
			default:
				return nil, fmt.Errorf("line %d: in mutant %s, want file:, sim: or <<<, got %q", n, cur.Name, line)
			}
		case state == 1:
			if line == "---" {
				state = 2
				continue
			}
			old = append(old, line)
		case state == 2:
			if line == ">>>" {
				cur.Old, cur.New = strings.Join(old, "\n"), strings.Join(nw, "\n")
				if cur.File == "" || cur.Old == "" {
					return nil, fmt.Errorf("line %d: mutant %s needs a file: and a non-empty old text", cur.Line, cur.Name)
				}
				if cur.Old == cur.New {
					return nil, fmt.Errorf("line %d: mutant %s changes nothing", cur.Line, cur.Name)
				}
				out = append(out, *cur)
				cur = nil
				continue
			}
			nw = append(nw, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: mutant %s is not closed with >>>", cur.Line, cur.Name)
	}
	return out, nil
}
