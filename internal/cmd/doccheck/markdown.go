package main

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
)

// link is one link destination found in a Markdown file.
type link struct {
	line int    // 1-based line of the file
	dest string // as written, without angle brackets or title
}

// doc is what a Markdown file offers and asks: the anchors its headings
// (and explicit HTML anchors) define, and the links it holds.
type doc struct {
	anchors map[string]bool
	links   []link
}

var (
	atxHeading = regexp.MustCompile(`^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$`)
	setextLine = regexp.MustCompile(`^ {0,3}(=+|-+)[ \t]*$`)
	fenceOpen  = regexp.MustCompile("^ {0,3}(`{3,}|~{3,})")
	// [text](dest) and ![alt](dest), dest optionally in <…> and followed
	// by a title; the text may hold brackets one level deep.
	inlineLink = regexp.MustCompile(`!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)`)
	// [label]: dest, a link reference definition.
	refDef = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)`)
	// <https://…> and <mailto:…>, autolinks.
	autolink = regexp.MustCompile(`<((?:https?|mailto):[^\s<>]*)>`)
	// href="…" of an HTML element, and id="…" or name="…" that define
	// an anchor.
	htmlHref   = regexp.MustCompile(`(?i)<a\s[^>]*\bhref\s*=\s*"([^"]*)"`)
	htmlAnchor = regexp.MustCompile(`(?i)<[a-z][a-z0-9]*\s[^>]*\b(?:id|name)\s*=\s*"([^"]+)"`)
)

// parse reads a Markdown file: its headings' GitHub anchors (with the -1,
// -2 … suffixes of repeated headings), its explicit HTML anchors, and
// every link destination outside code (fenced blocks and code spans).
func parse(text string) doc {
	d := doc{anchors: map[string]bool{}}
	seen := map[string]int{}
	addHeading := func(h string) {
		slug := slugify(h)
		n := seen[slug]
		seen[slug] = n + 1
		if n > 0 {
			slug += "-" + strconv.Itoa(n)
		}
		d.anchors[slug] = true
	}

	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var fence string // the open fence's marker, "" outside a fence
	prevPara := ""   // the previous line, if it could be a setext heading's text
	for i, raw := range lines {
		n := i + 1
		if fence != "" {
			if m := fenceOpen.FindStringSubmatch(raw); m != nil && m[1][0] == fence[0] && len(m[1]) >= len(fence) && strings.TrimSpace(raw[strings.Index(raw, m[1])+len(m[1]):]) == "" {
				fence = ""
			}
			continue
		}
		if m := fenceOpen.FindStringSubmatch(raw); m != nil {
			fence = m[1]
			prevPara = ""
			continue
		}
		line := stripCodeSpans(raw)
		switch {
		case atxHeading.MatchString(raw):
			addHeading(atxHeading.FindStringSubmatch(raw)[2])
			prevPara = ""
		case setextLine.MatchString(raw) && prevPara != "":
			addHeading(prevPara)
			prevPara = ""
		case strings.TrimSpace(raw) == "" || isBlockStart(raw):
			prevPara = ""
		default:
			prevPara = strings.TrimSpace(raw)
		}
		for _, m := range htmlAnchor.FindAllStringSubmatch(line, -1) {
			d.anchors[m[1]] = true
		}
		for _, re := range []*regexp.Regexp{inlineLink, autolink, htmlHref} {
			for _, m := range re.FindAllStringSubmatch(line, -1) {
				d.links = append(d.links, link{line: n, dest: strings.Trim(m[1], "<>")})
			}
		}
		if m := refDef.FindStringSubmatch(line); m != nil {
			d.links = append(d.links, link{line: n, dest: strings.Trim(m[1], "<>")})
		}
	}
	return d
}

// isBlockStart reports whether a line starts a block that cannot be a
// setext heading's text: a list item, a quote, a table row, HTML.
func isBlockStart(s string) bool {
	t := strings.TrimLeft(s, " ")
	for _, p := range []string{"- ", "* ", "+ ", "> ", "|", "<"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	return i > 0 && i < len(t) && (t[i] == '.' || t[i] == ')')
}

// stripCodeSpans blanks out the code spans of a line (a run of backticks
// up to the next run of the same length), so that nothing in code is read
// as a link. An unclosed run is left as it is, as Markdown does.
func stripCodeSpans(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] != '`' {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] == '`' {
			j++
		}
		run := s[i:j]
		end := -1
		for k := j; k < len(s); {
			if s[k] != '`' {
				k++
				continue
			}
			l := k
			for l < len(s) && s[l] == '`' {
				l++
			}
			if l-k == len(run) {
				end = l
				break
			}
			k = l
		}
		if end < 0 {
			b.WriteString(run)
			i = j
			continue
		}
		b.WriteString(strings.Repeat(" ", end-i))
		i = end
	}
	return b.String()
}

// slugify is GitHub's anchor for a heading (github-slugger, which GitHub's
// Markdown renderer follows): the heading's text as rendered (code spans
// keep their content, link and emphasis markup goes, HTML tags go),
// lowercased, every character that is not a letter, mark, number,
// connector punctuation ("_"), hyphen or space removed, and each space
// made a hyphen. Repeats get -1, -2 … (parse adds them).
func slugify(heading string) string {
	text := renderedText(heading)
	var b strings.Builder
	for _, r := range strings.ToLower(text) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.Pc):
			b.WriteRune(r)
		}
	}
	return b.String()
}

var (
	mdLink   = regexp.MustCompile(`!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\([^)]*\)`)
	htmlTag  = regexp.MustCompile(`</?[A-Za-z][^>]*>`)
	emphasis = regexp.MustCompile(`(^|[^\p{L}\p{N}])[_*]+|[_*]+($|[^\p{L}\p{N}])`)
)

// renderedText approximates the text GitHub renders for a heading's
// inline Markdown: code spans' content verbatim, links as their text,
// HTML tags and emphasis markers removed.
func renderedText(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		i := strings.IndexByte(s, '`')
		if i < 0 {
			b.WriteString(plainText(s))
			break
		}
		j := i
		for j < len(s) && s[j] == '`' {
			j++
		}
		end := strings.Index(s[j:], s[i:j])
		if end < 0 {
			b.WriteString(plainText(s))
			break
		}
		b.WriteString(plainText(s[:i]))
		code := s[j : j+end]
		if len(code) > 1 && code[0] == ' ' && code[len(code)-1] == ' ' && strings.TrimSpace(code) != "" {
			code = code[1 : len(code)-1]
		}
		b.WriteString(code)
		s = s[j+end+(j-i):]
	}
	return strings.TrimSpace(b.String())
}

func plainText(s string) string {
	s = mdLink.ReplaceAllString(s, "$1")
	s = htmlTag.ReplaceAllString(s, "")
	// Emphasis delimiters sit at a word's edge; an underscore inside a
	// word (refresh_after) is text.
	for {
		t := emphasis.ReplaceAllString(s, "$1$2")
		if t == s {
			return s
		}
		s = t
	}
}
