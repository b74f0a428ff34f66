package main

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// discovery is the part of a Google API discovery document that describes
// request bodies: named schemas of JSON objects.
type discovery struct {
	Name     string             `json:"name"`
	Version  string             `json:"version"`
	Revision string             `json:"revision"`
	Schemas  map[string]*schema `json:"schemas"`
}

// schema is one node of a discovery document's schema language (a subset
// of JSON Schema).
type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 string             `json:"type"`
	Format               string             `json:"format"`
	Enum                 []string           `json:"enum"`
	EnumDescriptions     []string           `json:"enumDescriptions"`
	Properties           map[string]*schema `json:"properties"`
	AdditionalProperties *schema            `json:"additionalProperties"`
	Items                *schema            `json:"items"`
}

// validate returns, for the JSON value v (decoded with UseNumber), every
// place where it departs from the named schema of doc: a field the schema
// does not have, a value of the wrong JSON type, an enum value the API
// does not list or documents as not allowed in a request, a duration
// that is not "<seconds>s". Each problem starts with the value's JSON path.
func (doc *discovery) validate(name string, v any) []string {
	s, ok := doc.Schemas[name]
	if !ok {
		return []string{fmt.Sprintf("the discovery document has no schema %q", name)}
	}
	var problems []string
	doc.walk("$", s, v, &problems)
	return problems
}

func (doc *discovery) walk(at string, s *schema, v any, problems *[]string) {
	if s.Ref != "" {
		ref, ok := doc.Schemas[s.Ref]
		if !ok {
			*problems = append(*problems, fmt.Sprintf("%s: the discovery document has no schema %q", at, s.Ref))
			return
		}
		s = ref
	}
	bad := func(format string, args ...any) {
		*problems = append(*problems, at+": "+fmt.Sprintf(format, args...))
	}
	switch s.Type {
	case "any", "":
		return
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			bad("want an object, got %s", jsonType(v))
			return
		}
		for _, k := range sortedKeys(obj) {
			field, ok := s.Properties[k]
			if !ok {
				field = s.AdditionalProperties
			}
			if field == nil {
				bad("no field %q here (the API has %s)", k, strings.Join(sortedKeys(s.Properties), ", "))
				continue
			}
			doc.walk(at+"."+k, field, obj[k], problems)
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			bad("want an array, got %s", jsonType(v))
			return
		}
		for i, e := range arr {
			doc.walk(fmt.Sprintf("%s[%d]", at, i), s.Items, e, problems)
		}
	case "string":
		// 64-bit integers travel as strings in proto3 JSON, and the API
		// reads a number for them too.
		if n, ok := v.(json.Number); ok && (s.Format == "int64" || s.Format == "uint64") {
			if _, err := n.Int64(); err != nil {
				bad("want a whole number, got %s", n)
			}
			return
		}
		str, ok := v.(string)
		if !ok {
			bad("want a string, got %s", jsonType(v))
			return
		}
		switch {
		case len(s.Enum) > 0 && !slices.Contains(s.Enum, str):
			bad("%q is not one of %s", str, strings.Join(s.Enum, ", "))
		case notAllowed(s, str):
			bad("%q is not allowed in a request (the API says: %s)", str, s.EnumDescriptions[slices.Index(s.Enum, str)])
		case s.Format == "google-duration" && !isDuration(str):
			bad("%q is not a duration in seconds such as \"3600s\"", str)
		}
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			bad("want a number, got %s", jsonType(v))
			return
		}
		if i, err := n.Int64(); err != nil || (s.Format == "int32" && (i > math.MaxInt32 || i < math.MinInt32)) {
			bad("want a whole number (%s), got %s", s.Format, n)
		}
	case "number":
		if _, ok := v.(json.Number); !ok {
			bad("want a number, got %s", jsonType(v))
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("want true or false, got %s", jsonType(v))
		}
	default:
		bad("the discovery document's type %q is not one this check knows", s.Type)
	}
}

// notAllowed reports whether the API documents the enum value as one a
// request may not use ("Not allowed in well-formed requests", as the
// unspecified value of a threshold's colour is).
func notAllowed(s *schema, value string) bool {
	i := slices.Index(s.Enum, value)
	return i >= 0 && i < len(s.EnumDescriptions) && strings.Contains(strings.ToLower(s.EnumDescriptions[i]), "not allowed")
}

// isDuration reports whether s is a protobuf Duration in JSON: seconds,
// with up to nine decimals, and an "s".
func isDuration(s string) bool {
	num, ok := strings.CutSuffix(s, "s")
	if !ok || num == "" {
		return false
	}
	num = strings.TrimPrefix(num, "-")
	whole, frac, _ := strings.Cut(num, ".")
	if whole == "" || len(frac) > 9 {
		return false
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
