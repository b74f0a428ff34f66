// Package config reads and validates the refresher's settings from the
// environment, once, at start. Every problem is reported as one sentence that
// names the variable, so that a misconfigured deployment says exactly what to
// fix instead of failing later in a pass.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/graph"
	"github.com/threads-token-refresher/threads-token-refresher/internal/instagram"
	"github.com/threads-token-refresher/threads-token-refresher/internal/logging"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/threads"
)

// Store says where tokens and state live.
type Store string

const (
	// StoreGoogle keeps tokens in Secret Manager and state in Firestore.
	StoreGoogle Store = "google"
	// StoreLocal keeps both in one embedded database file.
	StoreLocal Store = "local"
)

// MinRefreshAfter is the youngest a token may be refreshed: Threads and
// Instagram refuse to refresh long-lived tokens younger than 24 hours.
const MinRefreshAfter = 24 * time.Hour

// MaxRefreshAfter is the oldest a token may get before its refresh: 60
// days less 14, so that a token still has 14 days to live when it is
// refreshed, time for a person to step in if the refresh fails.
const MaxRefreshAfter = refresh.MaxRefreshAfter

// Defaults, as documented in the README.
const (
	DefaultFirestoreDatabase = "(default)"
	DefaultTokensCollection  = "threads_tokens"
	DefaultRefreshAfter      = 24 * time.Hour
	DefaultKeepVersions      = 2
	DefaultThreadsAPIBaseURL = threads.DefaultBaseURL
	// DefaultInstagramAPIBaseURL serves Instagram's refresh, exchange and
	// /me; DefaultInstagramOAuthBaseURL its authorization code exchange.
	DefaultInstagramAPIBaseURL   = instagram.DefaultBaseURL
	DefaultInstagramOAuthBaseURL = instagram.DefaultOAuthBaseURL
	DefaultConcurrency           = 8
	DefaultThreadsTimeout        = 10 * time.Second
	// The budgets of Secret Manager requests a minute: Google's default
	// quotas (600 reads, 600 writes, 90,000 accesses a minute per project)
	// less a headroom for the project's other users (secretstore.DefaultBudgets;
	// README, "Secret Manager: the calls a refresh needs, and the quotas").
	DefaultReadsPerMinute    = 500
	DefaultWritesPerMinute   = 500
	DefaultAccessesPerMinute = 80000
	// MaxPerMinute bounds the budgets: far above any quota Google grants
	// on request, it only catches a mistyped number.
	MaxPerMinute = 1000000
	// DefaultWarnWithin is WARN_WITHIN's default: 14 days, as `refresher
	// status --warn-within` and the Terraform module's
	// alert_if_hours_left_below.
	DefaultWarnWithin = refresh.DefaultWarnWithin
)

// Config is the validated configuration.
type Config struct {
	Store Store
	// Project is GOOGLE_CLOUD_PROJECT; empty in local mode.
	Project string
	// Accounts are the accounts named by THREADS_SECRETS, in order. In
	// local mode it may be empty (every stored account) and Secret is left
	// for the local store to fill in. Empty too when AccountsDocument
	// names them.
	Accounts []refresh.Account
	// AccountsDocument is THREADS_SECRETS_DOCUMENT: the Firestore document
	// (COLLECTION/DOCUMENT in FirestoreDatabase) whose field "secrets" holds
	// what THREADS_SECRETS would, read at the start of every pass; for more
	// accounts than an environment variable holds. Empty when
	// THREADS_SECRETS names the accounts.
	AccountsDocument string

	FirestoreDatabase         string
	TokensCollection          string
	RefreshAfter              time.Duration
	KeepVersions              int
	ThreadsAPIBaseURL         string
	InstagramAPIBaseURL       string
	InstagramOAuthBaseURL     string
	SecretManagerEmulatorHost string
	FirestoreEmulatorHost     string
	Concurrency               int
	ThreadsTimeout            time.Duration
	LogLevel                  slog.Level
	// PassTimeout bounds a pass started over HTTP (PASS_TIMEOUT); zero
	// means no bound beyond the caller's.
	PassTimeout time.Duration
	// LocalDB is the embedded database file (REFRESHER_DB) in local mode.
	LocalDB string
	// TokenChangesTopic is the Pub/Sub topic told of each new token and
	// each change of an account's health (TOKEN_CHANGES_TOPIC,
	// projects/P/topics/T); empty means none.
	TokenChangesTopic string
	// TokenEventsFile is the file each such event is appended to, as one
	// JSON line (TOKEN_EVENTS_FILE); empty means none.
	TokenEventsFile string
	// WarnWithin is the remaining life under which an account's health is
	// expiring (WARN_WITHIN).
	WarnWithin time.Duration
	// PubSubEmulatorHost is a Pub/Sub emulator's host:port
	// (PUBSUB_EMULATOR_HOST), reached without credentials.
	PubSubEmulatorHost string
	// InspectorAccount is the account whose token, a Threads tester's,
	// inspects the others' (INSPECTOR_ACCOUNT); empty means each token
	// inspects itself.
	InspectorAccount string
	// ReadsPerMinute, WritesPerMinute and AccessesPerMinute are the Secret
	// Manager requests the process allows itself a minute, by quota
	// (SECRET_MANAGER_READS_PER_MINUTE, ..._WRITES_..., ..._ACCESSES_...).
	ReadsPerMinute, WritesPerMinute, AccessesPerMinute int
}

// Error is a configuration problem with one variable.
type Error struct {
	Variable string
	Problem  string
}

func (e *Error) Error() string { return e.Variable + " " + e.Problem }

// LookupFunc reads one environment variable, like os.LookupEnv.
type LookupFunc func(string) (string, bool)

// FromEnv reads the configuration from the process environment.
func FromEnv() (*Config, error) { return Load(os.LookupEnv) }

// secretIDPattern is Secret Manager's rule for secret IDs.
var secretIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// secretNamePattern is a full secret name.
var secretNamePattern = regexp.MustCompile(`^projects/([^/]+)/secrets/([A-Za-z0-9_-]{1,255})$`)

// topicNamePattern is a full Pub/Sub topic name. Pub/Sub's rule for a topic
// ID: it starts with a letter, holds letters, digits, and - _ . ~ + %, and
// is 3 to 255 characters long (the "goog" prefix is checked apart).
var topicNamePattern = regexp.MustCompile(`^projects/[^/]+/topics/([A-Za-z][A-Za-z0-9._~+%-]{2,254})$`)

// Load reads and validates the configuration through lookup.
func Load(lookup LookupFunc) (*Config, error) {
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	c := &Config{
		Project:                   get("GOOGLE_CLOUD_PROJECT"),
		FirestoreDatabase:         orDefault(get("FIRESTORE_DATABASE"), DefaultFirestoreDatabase),
		TokensCollection:          orDefault(get("TOKENS_COLLECTION"), DefaultTokensCollection),
		SecretManagerEmulatorHost: get("SECRET_MANAGER_EMULATOR_HOST"),
		FirestoreEmulatorHost:     get("FIRESTORE_EMULATOR_HOST"),
		TokenChangesTopic:         get("TOKEN_CHANGES_TOPIC"),
		TokenEventsFile:           get("TOKEN_EVENTS_FILE"),
		PubSubEmulatorHost:        get("PUBSUB_EMULATOR_HOST"),
	}

	switch s := strings.ToLower(get("STORE")); s {
	case "":
		c.Store = StoreGoogle
		if c.Project == "" {
			c.Store = StoreLocal
		}
	case string(StoreGoogle), string(StoreLocal):
		c.Store = Store(s)
	default:
		return nil, &Error{"STORE", fmt.Sprintf("is %q; use google or local", s)}
	}
	if c.Store == StoreGoogle && c.Project == "" {
		return nil, &Error{"GOOGLE_CLOUD_PROJECT", "is not set; it names the project that holds the secrets and Firestore"}
	}

	var err error
	if c.AccountsDocument, err = accountsDocument(get("THREADS_SECRETS_DOCUMENT"), get("THREADS_SECRETS"), c.Store); err != nil {
		return nil, err
	}
	if c.AccountsDocument == "" {
		if c.Accounts, err = parseAccounts("THREADS_SECRETS", get("THREADS_SECRETS"), c.Store, c.Project); err != nil {
			return nil, err
		}
	}
	if err := checkCollection(c.TokensCollection); err != nil {
		return nil, err
	}
	if err := checkDatabase(c.FirestoreDatabase, c.Store); err != nil {
		return nil, err
	}
	if c.RefreshAfter, err = duration(get, "REFRESH_AFTER", DefaultRefreshAfter); err != nil {
		return nil, err
	}
	if c.RefreshAfter < MinRefreshAfter {
		return nil, &Error{"REFRESH_AFTER", fmt.Sprintf("is %s; it must be at least 24h, because Threads and Instagram refuse to refresh tokens younger than 24 hours", c.RefreshAfter)}
	}
	if c.RefreshAfter > MaxRefreshAfter {
		return nil, &Error{"REFRESH_AFTER", fmt.Sprintf("is %s; it must be at most 1104h (46 days), so that a 60-day token still has 14 days left when it is refreshed", c.RefreshAfter)}
	}
	if c.KeepVersions, err = integer(get, "KEEP_VERSIONS", DefaultKeepVersions, 1, math.MaxInt); err != nil {
		return nil, err
	}
	if c.Concurrency, err = integer(get, "CONCURRENCY", DefaultConcurrency, 1, MaxConcurrency); err != nil {
		return nil, err
	}
	if c.ThreadsTimeout, err = threadsTimeout(get); err != nil {
		return nil, err
	}
	for _, b := range []struct {
		dst  *int
		name string
		def  int
	}{
		{&c.ReadsPerMinute, "SECRET_MANAGER_READS_PER_MINUTE", DefaultReadsPerMinute},
		{&c.WritesPerMinute, "SECRET_MANAGER_WRITES_PER_MINUTE", DefaultWritesPerMinute},
		{&c.AccessesPerMinute, "SECRET_MANAGER_ACCESSES_PER_MINUTE", DefaultAccessesPerMinute},
	} {
		if *b.dst, err = integer(get, b.name, b.def, 1, MaxPerMinute); err != nil {
			return nil, err
		}
	}
	if c.PassTimeout, err = passTimeout(get, c.ThreadsTimeout); err != nil {
		return nil, err
	}
	for _, b := range []struct {
		dst       *string
		name, def string
	}{
		{&c.ThreadsAPIBaseURL, "THREADS_API_BASE_URL", DefaultThreadsAPIBaseURL},
		{&c.InstagramAPIBaseURL, "INSTAGRAM_API_BASE_URL", DefaultInstagramAPIBaseURL},
		{&c.InstagramOAuthBaseURL, "INSTAGRAM_OAUTH_BASE_URL", DefaultInstagramOAuthBaseURL},
	} {
		if *b.dst, err = baseURL(get, b.name, b.def); err != nil {
			return nil, err
		}
	}
	if c.LogLevel, err = logging.ParseLevel(get("LOG_LEVEL")); err != nil {
		return nil, &Error{"LOG_LEVEL", fmt.Sprintf("is %q; use debug, info, warn or error", get("LOG_LEVEL"))}
	}
	if err := checkTopic(c.TokenChangesTopic, c.Store); err != nil {
		return nil, err
	}
	if c.TokenEventsFile != "" && c.TokenChangesTopic != "" {
		return nil, &Error{"TOKEN_EVENTS_FILE", fmt.Sprintf("is %q, and TOKEN_CHANGES_TOPIC is set too; events go to one place: unset one of them", c.TokenEventsFile)}
	}
	if c.WarnWithin, err = warnWithin(get, c.RefreshAfter); err != nil {
		return nil, err
	}
	if c.InspectorAccount, err = inspectorAccount(get("INSPECTOR_ACCOUNT"), c.Accounts); err != nil {
		return nil, err
	}
	if c.Store == StoreLocal {
		if c.LocalDB = get("REFRESHER_DB"); c.LocalDB == "" {
			dir, derr := os.UserConfigDir()
			if derr != nil {
				return nil, &Error{"REFRESHER_DB", "is not set and there is no user config directory to default to; set it to a file path"}
			}
			c.LocalDB = filepath.Join(dir, "threads-token-refresher", "refresher.db")
		}
	}
	return c, nil
}

// SecretList reads a list of accounts in THREADS_SECRETS's form, on
// Google Cloud: what the document THREADS_SECRETS_DOCUMENT names holds
// (path), read at each pass. A bad list is refused with one sentence that
// names the document, as THREADS_SECRETS would be.
func SecretList(v, path, project string) ([]refresh.Account, error) {
	return parseAccounts("THREADS_SECRETS_DOCUMENT's list ("+path+")", v, StoreGoogle, project)
}

// parseAccounts reads THREADS_SECRETS, or a list of its form that name
// holds.
func parseAccounts(name, v string, store Store, project string) ([]refresh.Account, error) {
	if v == "" {
		if store == StoreLocal {
			return nil, nil
		}
		return nil, &Error{name, "is not set; list at least one Secret Manager secret ID, comma-separated"}
	}
	var accounts []refresh.Account
	seen := make(map[string]bool)
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			return nil, &Error{name, fmt.Sprintf("is %q; it has an empty entry", v)}
		}
		var a refresh.Account
		switch m := secretNamePattern.FindStringSubmatch(item); {
		case m != nil && store == StoreLocal:
			return nil, &Error{name, fmt.Sprintf("names %q, a Secret Manager secret, but the local store takes account names such as %q", item, m[2])}
		case m != nil:
			a = refresh.Account{ID: m[2], Secret: item}
		case secretIDPattern.MatchString(item):
			a = refresh.Account{ID: item}
			if store == StoreGoogle {
				a.Secret = "projects/" + project + "/secrets/" + item
			}
		default:
			return nil, &Error{name, fmt.Sprintf("has %q, which is neither a secret ID (letters, digits, '-' and '_') nor a name like projects/P/secrets/S", item)}
		}
		if seen[a.ID] {
			return nil, &Error{name, fmt.Sprintf("lists the secret ID %q twice; each account must appear once", a.ID)}
		}
		seen[a.ID] = true
		accounts = append(accounts, a)
	}
	return accounts, nil
}

// inspectorAccount checks INSPECTOR_ACCOUNT: an account ID, one of the
// accounts THREADS_SECRETS names when it names any (always on Google
// Cloud; in local mode an unlisted account may be any stored one).
func inspectorAccount(v string, accounts []refresh.Account) (string, error) {
	const name = "INSPECTOR_ACCOUNT"
	if v == "" {
		return "", nil
	}
	if !secretIDPattern.MatchString(v) {
		return "", &Error{name, fmt.Sprintf("is %q; it must be the ID of one of the accounts, such as main (letters, digits, '-' and '_')", v)}
	}
	if len(accounts) == 0 {
		return v, nil
	}
	ids := make([]string, len(accounts))
	for i, a := range accounts {
		if a.ID == v {
			return v, nil
		}
		ids[i] = a.ID
	}
	return "", &Error{name, fmt.Sprintf("is %q, which is not one of the accounts in THREADS_SECRETS (%s); name the account whose token is a Threads tester's", v, strings.Join(ids, ", "))}
}

// baseURL reads the root URL of an API, by the rule its client applies.
func baseURL(get func(string) string, name, def string) (string, error) {
	v := strings.TrimRight(orDefault(get(name), def), "/")
	// A password in the URL (a proxy's, say) is never quoted back.
	switch err := graph.CheckBaseURL(v); {
	case errors.Is(err, graph.ErrCleartext):
		return "", &Error{name, fmt.Sprintf("is %q; %v", graph.Redact(v), graph.ErrCleartext)}
	case err != nil:
		return "", &Error{name, fmt.Sprintf("is %q; it must be an https URL (http only to this machine) with no query or fragment, such as %s", graph.Redact(v), def)}
	}
	return v, nil
}

// checkTopic checks TOKEN_CHANGES_TOPIC. The local store publishes nothing
// to Pub/Sub: it serves one machine without Google Cloud, where
// TOKEN_EVENTS_FILE takes the events. A topic set there is refused rather
// than ignored, so that nobody waits for messages that never come.
func checkTopic(topic string, store Store) error {
	const name = "TOKEN_CHANGES_TOPIC"
	switch m := topicNamePattern.FindStringSubmatch(topic); {
	case topic == "":
		return nil
	case m == nil || strings.HasPrefix(m[1], "goog"):
		return &Error{name, fmt.Sprintf("is %q; it must be a full Pub/Sub topic name such as projects/my-project/topics/threads-token-refresher-token-changes (the topic ID starts with a letter, is 3 to 255 letters, digits or - _ . ~ + %%, and does not start with goog)", topic)}
	case store == StoreLocal:
		return &Error{name, fmt.Sprintf("is %q, but the local store publishes nothing to Pub/Sub; unset it and set TOKEN_EVENTS_FILE to a file that receives each event as a JSON line, or use Secret Manager and Firestore (GOOGLE_CLOUD_PROJECT)", topic)}
	}
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// LogValue describes the configuration for a start-up log line. It holds no
// token or credential (a password in a base URL shows as "xxxxx"), but emulator hosts and paths are kept to what helps a
// reader, and the account list is summarised.
func (c *Config) LogValue() slog.Value {
	ids := make([]string, len(c.Accounts))
	for i, a := range c.Accounts {
		ids[i] = a.ID
	}
	return slog.GroupValue(
		slog.String("store", string(c.Store)),
		slog.String("project", c.Project),
		slog.Any("accounts", ids),
		slog.String("firestoreDatabase", c.FirestoreDatabase),
		slog.String("tokensCollection", c.TokensCollection),
		slog.Duration("refreshAfter", c.RefreshAfter),
		slog.Int("keepVersions", c.KeepVersions),
		slog.String("threadsAPIBaseURL", graph.Redact(c.ThreadsAPIBaseURL)),
		slog.String("instagramAPIBaseURL", graph.Redact(c.InstagramAPIBaseURL)),
		slog.String("instagramOAuthBaseURL", graph.Redact(c.InstagramOAuthBaseURL)),
		slog.Int("concurrency", c.Concurrency),
		slog.Duration("threadsTimeout", c.ThreadsTimeout),
		slog.Bool("secretManagerEmulator", c.SecretManagerEmulatorHost != ""),
		slog.Bool("firestoreEmulator", c.FirestoreEmulatorHost != ""),
		slog.String("tokenChangesTopic", c.TokenChangesTopic),
		slog.String("tokenEventsFile", c.TokenEventsFile),
		slog.Duration("warnWithin", c.WarnWithin),
		slog.Bool("pubsubEmulator", c.PubSubEmulatorHost != ""),
		slog.String("inspectorAccount", c.InspectorAccount),
		slog.String("accountsDocument", c.AccountsDocument),
		slog.Int("readsPerMinute", c.ReadsPerMinute),
		slog.Int("writesPerMinute", c.WritesPerMinute),
		slog.Int("accessesPerMinute", c.AccessesPerMinute),
	)
}

// ValidAccountName reports whether s can name an account: a Secret Manager
// secret ID (letters, digits, '-' and '_', at most 255).
func ValidAccountName(s string) bool { return secretIDPattern.MatchString(s) }
