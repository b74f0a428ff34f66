package config

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// Bounds of settings outside which every pass would do nothing or every
// account would fail: such a value is refused at start, not discovered
// pass after pass.
const (
	// MinThreadsTimeout: no request to Meta across the internet (a DNS
	// lookup, a TLS handshake, the answer) completes sooner, so a shorter
	// THREADS_TIMEOUT (10ms typed for 10s, say) fails every account.
	MinThreadsTimeout = 100 * time.Millisecond
	// MaxThreadsTimeout: the work on one account ends after
	// refresh.AccountTimeout, so a longer per-request timeout is never
	// reached.
	MaxThreadsTimeout = refresh.MaxThreadsTimeout
	// MaxConcurrency bounds CONCURRENCY. Each request in flight holds a
	// connection, and up to four accounts' store calls run beside it;
	// Meta's per-app and Secret Manager's per-project rate limits are met
	// long before this many (README, "Secret Manager: the calls a refresh
	// needs, and the quotas").
	MaxConcurrency = 1000
	// maxCollectionID is Firestore's limit on a collection ID, in bytes.
	maxCollectionID = 1500
)

// MinPassTimeout is the shortest PASS_TIMEOUT under which a pass can
// refresh one due account with the given THREADS_TIMEOUT
// (refresh.MinPassTimeout). Terraform's minimum timeout_seconds is this at
// the default THREADS_TIMEOUT, plus the margin it leaves.
func MinPassTimeout(threadsTimeout time.Duration) time.Duration {
	return refresh.MinPassTimeout(threadsTimeout)
}

// passTimeoutReason explains MinPassTimeout in the words the Terraform
// variable timeout_seconds uses for its own minimum.
const passTimeoutReason = "time for a pass to refresh one account"

// checkCollection applies Firestore's rules for a collection ID
// (firebase.google.com/docs/firestore/quotas#collections_documents_and_fields),
// with the Terraform variable tokens_collection's wording: Firestore would
// refuse every read and write of the state otherwise.
func checkCollection(id string) error {
	const name = "TOKENS_COLLECTION"
	switch {
	case len(id) > maxCollectionID:
		return &Error{name, fmt.Sprintf("is %d bytes long; a Firestore collection ID is at most %d", len(id), maxCollectionID)}
	case strings.Contains(id, "/"), id == ".", id == "..", strings.HasPrefix(id, "__"):
		return &Error{name, fmt.Sprintf("is %q; %s", id, collectionRule)}
	}
	return nil
}

// collectionRule is the sentence the Terraform variable tokens_collection
// also gives (a test in this package compares them). Firestore itself
// refuses only IDs like __x__; a leading "__" is refused as Terraform has
// always refused it.
const collectionRule = `it must be a single collection ID: no slash, not "." or "..", not starting with "__"`

// databaseIDPattern is Firestore's rule for a database ID, which Terraform's
// firestore_database also applies.
var databaseIDPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{2,61}[a-z0-9]$`)

// databaseRule says databaseIDPattern in the words of the Terraform variable
// firestore_database (a test in this package compares them).
const databaseRule = "4 to 63 lowercase letters, digits or hyphens, starting with a letter"

// checkDatabase checks FIRESTORE_DATABASE where it is used: Firestore would
// refuse every read and write of the state with another ID.
func checkDatabase(id string, store Store) error {
	if store != StoreGoogle || id == DefaultFirestoreDatabase || databaseIDPattern.MatchString(id) {
		return nil
	}
	return &Error{"FIRESTORE_DATABASE", fmt.Sprintf("is %q; it must be %s (and not end with a hyphen), or %s", id, databaseRule, DefaultFirestoreDatabase)}
}

// accountsDocument reads THREADS_SECRETS_DOCUMENT, which names the
// Firestore document listing the accounts instead of THREADS_SECRETS: the
// Terraform module's way, since Cloud Run allows a service's environment
// variables 32 KiB in all, and 1,000 secret IDs of 54 characters take 55
// KB. Exactly one of the two names the accounts on Google Cloud; the local
// store keeps its own list.
func accountsDocument(path, secrets string, store Store) (string, error) {
	const name = "THREADS_SECRETS_DOCUMENT"
	switch {
	case path == "":
		return "", nil
	case store == StoreLocal:
		return "", &Error{name, fmt.Sprintf("is %q, but the local store keeps its own accounts; unset it (THREADS_SECRETS may limit a pass to some of them)", path)}
	case secrets != "":
		return "", &Error{name, fmt.Sprintf("is %q and THREADS_SECRETS is set too; set one of them: THREADS_SECRETS lists the secret IDs, THREADS_SECRETS_DOCUMENT names a Firestore document that lists them", path)}
	}
	coll, doc, ok := strings.Cut(path, "/")
	if !ok || strings.Contains(doc, "/") || !validDocumentID(coll) || !validDocumentID(doc) {
		return "", &Error{name, fmt.Sprintf("is %q; it must be a Firestore document path COLLECTION/DOCUMENT in FIRESTORE_DATABASE, such as deployments/threads-token-refresher (each part without a slash, not \".\" or \"..\", not __x__)", path)}
	}
	return path, nil
}

// validDocumentID is Firestore's rule for a collection or document ID:
// not empty, no slash, not "." or "..", not __.*__, at most 1,500 bytes.
func validDocumentID(id string) bool {
	return id != "" && id != "." && id != ".." && !strings.Contains(id, "/") && len(id) <= maxCollectionID &&
		!(strings.HasPrefix(id, "__") && strings.HasSuffix(id, "__") && len(id) >= 4)
}

// threadsTimeout reads THREADS_TIMEOUT.
func threadsTimeout(get func(string) string) (time.Duration, error) {
	const name = "THREADS_TIMEOUT"
	d, err := duration(get, name, DefaultThreadsTimeout)
	switch {
	case err != nil:
		return 0, err
	case d < MinThreadsTimeout:
		return 0, &Error{name, fmt.Sprintf("is %s; it must be at least %s: no request to Threads or Instagram completes sooner, so every account would fail", d, MinThreadsTimeout)}
	case d > MaxThreadsTimeout:
		return 0, &Error{name, fmt.Sprintf("is %s; it must be at most %s, the time a pass gives one account, so a longer timeout is never reached", d, MaxThreadsTimeout)}
	}
	return d, nil
}

// passTimeout reads PASS_TIMEOUT, which must leave time to refresh one
// account at the given THREADS_TIMEOUT: under MinPassTimeout every due
// account would be skipped on every pass, each pass answering 200.
func passTimeout(get func(string) string, threadsTimeout time.Duration) (time.Duration, error) {
	const name = "PASS_TIMEOUT"
	d, err := duration(get, name, 0)
	switch least := MinPassTimeout(threadsTimeout); {
	case err != nil:
		return 0, err
	case d < 0:
		return 0, &Error{name, fmt.Sprintf("is %s; it must not be negative", d)}
	case d > 0 && d < least:
		return 0, &Error{name, fmt.Sprintf("is %s; it must be at least %s (%s: 3 x THREADS_TIMEOUT %s + 10s, plus 20s for the state read and the account's store calls), or every due account is skipped on every pass",
			d, least, passTimeoutReason, threadsTimeout)}
	}
	return d, nil
}

// Bounds of WARN_WITHIN, in the words of the Terraform variable
// alert_if_hours_left_below, which the module passes as WARN_WITHIN: a
// whole number of hours from 24 to 1439 (a token lives 1440 hours), and a
// day under what a healthy token gets down to before its refresh, 1440
// hours less REFRESH_AFTER, or every healthy token would turn expiring
// before each refresh.
const (
	MinWarnWithin = 24 * time.Hour
	MaxWarnWithin = 1439 * time.Hour
	tokenLife     = 1440 * time.Hour
)

// warnWithin reads WARN_WITHIN, whose bound depends on REFRESH_AFTER. Left
// unset it is DefaultWarnWithin, or that bound when REFRESH_AFTER leaves
// less (over 1080h), so that a REFRESH_AFTER that was valid stays valid.
func warnWithin(get func(string) string, refreshAfter time.Duration) (time.Duration, error) {
	const name = "WARN_WITHIN"
	most := min(MaxWarnWithin, tokenLife-refreshAfter-24*time.Hour)
	if get(name) == "" {
		return min(DefaultWarnWithin, most), nil
	}
	d, err := duration(get, name, DefaultWarnWithin)
	switch {
	case err != nil:
		return 0, err
	case d < MinWarnWithin || d > MaxWarnWithin || d%time.Hour != 0:
		return 0, &Error{name, fmt.Sprintf("is %s; it must be a whole number of hours from 24h to 1439h (a token lives 1440 hours)", d)}
	case d > most:
		return 0, &Error{name, fmt.Sprintf("is %s; with REFRESH_AFTER %s a healthy token gets down to %s left before its refresh, so it must be at most %s or healthy tokens turn expiring", d, refreshAfter, tokenLife-refreshAfter, most)}
	}
	return d, nil
}

func duration(get func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := get(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, &Error{name, fmt.Sprintf("is %q, which is not a Go duration such as 36h or 90m", v)}
	}
	return d, nil
}

// integer reads a whole number from minimum to maximum.
func integer(get func(string) string, name string, def, minimum, maximum int) (int, error) {
	v := get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if errors.Is(err, strconv.ErrRange) && !strings.HasPrefix(v, "-") {
		return 0, &Error{name, fmt.Sprintf("is %q, which is too large a number: the largest it can be is %d", v, maximum)}
	}
	if err != nil || n < minimum || n > maximum {
		if maximum == math.MaxInt {
			return 0, &Error{name, fmt.Sprintf("is %q; it must be a whole number of at least %d", v, minimum)}
		}
		return 0, &Error{name, fmt.Sprintf("is %q; it must be a whole number from %d to %d", v, minimum, maximum)}
	}
	return n, nil
}

// Port reads PORT, the port `refresher serve` listens on: a number from 1
// to 65535. A service name ("http") is not a port here, and 0 would let the
// system pick one that nobody is told of.
func Port(lookup LookupFunc) (string, error) {
	v, _ := lookup("PORT")
	if v = strings.TrimSpace(v); v == "" {
		return "8080", nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || strings.TrimLeft(v, "0123456789") != "" || n < 1 || n > 65535 {
		return "", &Error{"PORT", fmt.Sprintf("is %q; it must be a port number from 1 to 65535", v)}
	}
	return strconv.Itoa(n), nil
}
