package httpapi

import (
	"mime"
	"strconv"
	"strings"
)

// prefersHTML reports whether a request's Accept header (RFC 9110, section
// 12.5.1) prefers text/html to application/json: what a browser sends
// ("text/html,...,*/*;q=0.8"). No header, "*/*" (curl), or a tie keeps
// the JSON answer that scripts and Cloud Scheduler read.
func prefersHTML(accept string) bool {
	if accept == "" {
		return false
	}
	html, htmlSpecific := quality(accept, "text", "html")
	json, jsonSpecific := quality(accept, "application", "json")
	if html != json {
		return html > json
	}
	return html > 0 && htmlSpecific > jsonSpecific
}

// quality is the q the most specific range of accept that matches
// typ/sub gives it (0 when none does), and how specific that range is:
// 2 for typ/sub, 1 for typ/*, 0 for */*.
func quality(accept, typ, sub string) (q float64, specificity int) {
	specificity = -1
	for _, part := range strings.Split(accept, ",") {
		mediaType, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		rangeTyp, rangeSub, _ := strings.Cut(mediaType, "/")
		s := -1
		switch {
		case rangeTyp == typ && rangeSub == sub:
			s = 2
		case rangeTyp == typ && rangeSub == "*":
			s = 1
		case rangeTyp == "*" && rangeSub == "*":
			s = 0
		}
		if s < specificity || s < 0 {
			continue
		}
		weight := 1.0
		if v, ok := params["q"]; ok {
			w, err := strconv.ParseFloat(v, 64)
			if err != nil || w < 0 || w > 1 {
				continue
			}
			weight = w
		}
		if s > specificity {
			q, specificity = weight, s
		} else {
			q = max(q, weight)
		}
	}
	return q, specificity
}
