package notify

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// SchemaVersion is the version of Message, sent in every message as
// schemaVersion. Version 1 was the messages before health events: account,
// secret, version, event (refreshed or adopted) and platform, without a
// schemaVersion key (a consumer reads a message without one as version
// 1). Version 2 keeps every key of version 1 with its meaning, and adds
// schemaVersion, the health events (needs_reauth, failing, recovered,
// expiring, which carry no version), health, hoursLeft, error, fix and at.
// A later version only adds keys and events; one that changes a key's
// meaning is a new major number.
const SchemaVersion = 2

// Message is one notification's data, as JSON (README, "For consumers").
// The same keys, with their values as strings, are the Pub/Sub message's
// attributes, so that a subscription can filter on them
// (attributes.event = "needs_reauth") without decoding the data.
type Message struct {
	// SchemaVersion is SchemaVersion.
	SchemaVersion int `json:"schemaVersion"`
	// Event is refreshed or adopted (a new current token), or needs_reauth,
	// failing, recovered or expiring (a change of health).
	Event string `json:"event"`
	// Account is the account's ID (its secret ID).
	Account string `json:"account"`
	// Secret is the full name of the account's secret, projects/P/secrets/S
	// (secrets/S in the local store).
	Secret string `json:"secret"`
	// Platform is "threads" or "instagram", absent when not known.
	Platform string `json:"platform,omitempty"`
	// Health is the account's health once the change is recorded: ok,
	// expiring, failing or needs_reauth.
	Health string `json:"health"`
	// Version is the full name of the new version,
	// projects/P/secrets/S/versions/N (Secret Manager may name the project
	// by number); refreshed and adopted only.
	Version string `json:"version,omitempty"`
	// HoursLeft is the whole hours left until the earlier of the token's
	// expiry and its data-access expiry (negative once passed), absent
	// when neither is known.
	HoursLeft *int `json:"hoursLeft,omitempty"`
	// Error is the last error's sentence, for failing and needs_reauth.
	Error string `json:"error,omitempty"`
	// Fix is the command that brings the account back, where a person is
	// needed (needs_reauth, expiring).
	Fix string `json:"fix,omitempty"`
	// At is when the refresher decided the change, RFC 3339 in UTC.
	At string `json:"at"`
}

// MessageOf is the message that tells c.
func MessageOf(c refresh.Change) Message {
	return Message{
		SchemaVersion: SchemaVersion,
		Event:         string(c.Event),
		Account:       c.Account,
		Secret:        c.Secret,
		Platform:      c.Platform,
		Health:        string(c.Health),
		Version:       c.Version,
		HoursLeft:     c.HoursLeft,
		Error:         c.Error,
		Fix:           c.Fix,
		At:            c.At.UTC().Format(time.RFC3339),
	}
}

// MaxAttributeValue is the longest attribute value Pub/Sub takes, in
// bytes (cloud.google.com/pubsub/quotas, resource limits): a message with a
// longer one is refused, and would then be told again, and refused again,
// on every pass.
const MaxAttributeValue = 1024

// Attributes returns the message's attributes: its keys as in the data,
// each value as a string (numbers in decimal), the keys the data leaves
// out left out. A value longer than MaxAttributeValue (only an error
// sentence can be) is cut, and ends with "…"; the data holds it whole.
func (m Message) Attributes() map[string]string {
	a := map[string]string{
		"schemaVersion": strconv.Itoa(m.SchemaVersion),
		"event":         m.Event,
		"account":       m.Account,
		"secret":        m.Secret,
		"health":        m.Health,
		"at":            m.At,
	}
	optional := map[string]string{"platform": m.Platform, "version": m.Version, "error": m.Error, "fix": m.Fix}
	if m.HoursLeft != nil {
		optional["hoursLeft"] = strconv.Itoa(*m.HoursLeft)
	}
	for k, v := range optional {
		if v != "" {
			a[k] = v
		}
	}
	for k, v := range a {
		a[k] = cut(v, MaxAttributeValue)
	}
	return a
}

// cut shortens s to at most n bytes, on a rune boundary, ending with "…".
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	i := n - len(ellipsis)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + ellipsis
}
