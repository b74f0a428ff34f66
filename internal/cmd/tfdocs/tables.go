package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-config-inspect/tfconfig"
)

// The markers terraform-docs itself writes and reads, so that either tool
// can keep the section.
const (
	beginMarker = "<!-- BEGIN_TF_DOCS -->"
	endMarker   = "<!-- END_TF_DOCS -->"
)

// renderModule reads the module in dir and renders its tables.
func renderModule(dir string) (string, error) {
	mod, diags := tfconfig.LoadModule(dir)
	if diags.HasErrors() {
		return "", fmt.Errorf("reading the module in %s: %w", dir, diags.Err())
	}
	if len(mod.Variables) == 0 && len(mod.Outputs) == 0 {
		return "", fmt.Errorf("reading the module in %s: it has no variables and no outputs (is it a Terraform module?)", dir)
	}
	return renderTables(mod), nil
}

// renderTables writes the inputs table (required variables first, then by
// name) and the outputs table (by name), as Markdown.
func renderTables(mod *tfconfig.Module) string {
	vars := make([]*tfconfig.Variable, 0, len(mod.Variables))
	for _, v := range mod.Variables {
		vars = append(vars, v)
	}
	slices.SortFunc(vars, func(a, b *tfconfig.Variable) int {
		if a.Required != b.Required {
			if a.Required {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	outs := make([]*tfconfig.Output, 0, len(mod.Outputs))
	for _, o := range mod.Outputs {
		outs = append(outs, o)
	}
	slices.SortFunc(outs, func(a, b *tfconfig.Output) int { return strings.Compare(a.Name, b.Name) })

	var b strings.Builder
	b.WriteString("## Inputs\n\n")
	b.WriteString("| Name | Description | Type | Default | Required |\n")
	b.WriteString("|------|-------------|------|---------|:--------:|\n")
	for _, v := range vars {
		def, required := "n/a", "yes"
		if !v.Required {
			def, required = code(defaultJSON(v.Default)), "no"
		}
		typ := "`any`"
		if v.Type != "" {
			typ = code(v.Type)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", code(v.Name), cell(v.Description), typ, def, required)
	}
	b.WriteString("\n## Outputs\n\n")
	b.WriteString("| Name | Description |\n")
	b.WriteString("|------|-------------|\n")
	for _, o := range outs {
		fmt.Fprintf(&b, "| %s | %s |\n", code(o.Name), cell(o.Description))
	}
	return b.String()
}

// defaultJSON is a variable's default as Terraform would write it in JSON
// (terraform-config-inspect decodes it from JSON; null stays null).
func defaultJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only JSON-decoded values reach here, and those encode.
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(buf.String())
}

// code writes s as one table cell's code span: its whitespace collapsed to
// single spaces, its pipes escaped (GitHub splits cells on "|" even inside
// code), and fenced with more backticks than it holds.
func code(s string) string {
	s = strings.ReplaceAll(strings.Join(strings.Fields(s), " "), "|", `\|`)
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// cell writes prose for one table cell: line breaks as <br>, pipes
// escaped, and outside code spans "<" and ">" as entities, so that a
// placeholder such as <name> shows instead of vanishing as an HTML tag,
// and "*" escaped, so that a cron schedule ("*/20 * * * *") never turns
// into emphasis.
func cell(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\n\n", "<br><br>")
	s = strings.ReplaceAll(s, "\n", " ")
	var b strings.Builder
	inCode := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '`':
			inCode = !inCode
			b.WriteByte(c)
		case c == '|':
			b.WriteString(`\|`)
		case !inCode && c == '*':
			b.WriteString(`\*`)
		case !inCode && c == '<' && !strings.HasPrefix(s[i:], "<br>"):
			b.WriteString("&lt;")
		case !inCode && c == '>' && !strings.HasSuffix(s[:i+1], "<br>"):
			b.WriteString("&gt;")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// replaceMarked returns doc with what lies between the begin and end
// markers replaced by body (the markers kept, each on its own line).
func replaceMarked(doc []byte, body string) ([]byte, error) {
	s := string(doc)
	begin := strings.Index(s, beginMarker)
	end := strings.Index(s, endMarker)
	switch {
	case begin < 0 || end < 0:
		return nil, fmt.Errorf("it has no %s … %s section for the tables; add the two markers where the tables go", beginMarker, endMarker)
	case end < begin:
		return nil, errors.New(endMarker + " comes before " + beginMarker)
	case strings.Count(s, beginMarker) > 1 || strings.Count(s, endMarker) > 1:
		return nil, errors.New("it has more than one " + beginMarker + " … " + endMarker + " section")
	}
	var b strings.Builder
	b.WriteString(s[:begin+len(beginMarker)])
	b.WriteString("\n")
	b.WriteString(body)
	b.WriteString(s[end:])
	return []byte(b.String()), nil
}
