package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/secretstore"
)

func lookup(env map[string]string) LookupFunc {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(lookup(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS": "main, projects/other/secrets/second"}))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Store:   StoreGoogle,
		Project: "p",
		Accounts: []refresh.Account{
			{ID: "main", Secret: "projects/p/secrets/main"},
			{ID: "second", Secret: "projects/other/secrets/second"},
		},
		FirestoreDatabase:     "(default)",
		TokensCollection:      "threads_tokens",
		RefreshAfter:          24 * time.Hour,
		KeepVersions:          2,
		ThreadsAPIBaseURL:     "https://graph.threads.net",
		InstagramAPIBaseURL:   "https://graph.instagram.com",
		InstagramOAuthBaseURL: "https://api.instagram.com",
		Concurrency:           8,
		ThreadsTimeout:        10 * time.Second,
		ReadsPerMinute:        500,
		WritesPerMinute:       500,
		AccessesPerMinute:     80000,
		WarnWithin:            336 * time.Hour,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load = %+v\nwant %+v", c, want)
	}
}

func TestLoadInstagramBaseURLs(t *testing.T) {
	t.Parallel()
	c, err := Load(lookup(map[string]string{
		"REFRESHER_DB": "/tmp/x.db", "INSTAGRAM_API_BASE_URL": "http://127.0.0.1:8001/", "INSTAGRAM_OAUTH_BASE_URL": " http://127.0.0.1:8002 ",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.InstagramAPIBaseURL != "http://127.0.0.1:8001" || c.InstagramOAuthBaseURL != "http://127.0.0.1:8002" {
		t.Errorf("Instagram base URLs = %q, %q; want them trimmed of blanks and trailing slashes", c.InstagramAPIBaseURL, c.InstagramOAuthBaseURL)
	}
}

func TestLoadLocal(t *testing.T) {
	t.Parallel()
	c, err := Load(lookup(map[string]string{"REFRESHER_DB": "/tmp/x.db", "THREADS_SECRETS": "main"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store != StoreLocal || c.LocalDB != "/tmp/x.db" || len(c.Accounts) != 1 || c.Accounts[0].ID != "main" {
		t.Errorf("Load = %+v, want local store on /tmp/x.db with account main", c)
	}
	c, err = Load(lookup(map[string]string{"HOME": "/home/u", "GOOGLE_CLOUD_PROJECT": "p", "STORE": "local"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Store != StoreLocal || c.LocalDB == "" {
		t.Errorf("STORE=local: got store %q, db %q", c.Store, c.LocalDB)
	}
}

func TestLoadErrorsNameTheVariable(t *testing.T) {
	t.Parallel()
	base := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS": "main"}
	tests := []struct {
		name, variable, value string
	}{
		{"missing secrets", "THREADS_SECRETS", ""},
		{"empty entry", "THREADS_SECRETS", "main,,b"},
		{"bad id", "THREADS_SECRETS", "main,bad id"},
		{"duplicate id", "THREADS_SECRETS", "main,projects/p/secrets/main"},
		{"refresh too soon", "REFRESH_AFTER", "23h"},
		{"refresh not duration", "REFRESH_AFTER", "tomorrow"},
		{"refresh after the token is dead", "REFRESH_AFTER", "2000h"},
		{"refresh with under 14 days left", "REFRESH_AFTER", "1105h"},
		{"inspector not an account", "INSPECTOR_ACCOUNT", "other"},
		{"inspector not an ID", "INSPECTOR_ACCOUNT", "projects/p/secrets/main"},
		{"keep zero", "KEEP_VERSIONS", "0"},
		{"keep text", "KEEP_VERSIONS", "two"},
		{"concurrency", "CONCURRENCY", "-1"},
		{"timeout", "THREADS_TIMEOUT", "0s"},
		{"timeout in ms for s", "THREADS_TIMEOUT", "10ms"},
		{"timeout never reached", "THREADS_TIMEOUT", "11m"},
		{"pass shorter than one account needs", "PASS_TIMEOUT", "30s"},
		{"pass just short of one account", "PASS_TIMEOUT", "59s"},
		{"pass negative", "PASS_TIMEOUT", "-1m"},
		{"concurrency absurd", "CONCURRENCY", "1001"},
		{"concurrency beyond int", "CONCURRENCY", "99999999999999999999"},
		{"keep beyond int", "KEEP_VERSIONS", "99999999999999999999"},
		{"collection dot dot", "TOKENS_COLLECTION", ".."},
		{"collection reserved", "TOKENS_COLLECTION", "__tokens__"},
		{"collection too long", "TOKENS_COLLECTION", strings.Repeat("c", 1501)},
		{"base url", "THREADS_API_BASE_URL", "graph.threads.net"},
		{"instagram base url", "INSTAGRAM_API_BASE_URL", "graph.instagram.com"},
		{"instagram base url with a query", "INSTAGRAM_API_BASE_URL", "https://graph.instagram.com/?v=1"},
		{"instagram oauth url", "INSTAGRAM_OAUTH_BASE_URL", "ftp://api.instagram.com"},
		{"threads base url with a fragment", "THREADS_API_BASE_URL", "https://graph.threads.net/#v"},
		{"log level", "LOG_LEVEL", "loud"},
		{"store", "STORE", "s3"},
		{"collection", "TOKENS_COLLECTION", "a/b"},
		{"topic ID only", "TOKEN_CHANGES_TOPIC", "token-changes"},
		{"topic of a subscription", "TOKEN_CHANGES_TOPIC", "projects/p/subscriptions/token-changes"},
		{"topic ID too short", "TOKEN_CHANGES_TOPIC", "projects/p/topics/tc"},
		{"topic ID not starting with a letter", "TOKEN_CHANGES_TOPIC", "projects/p/topics/1-changes"},
		{"topic ID starting with goog", "TOKEN_CHANGES_TOPIC", "projects/p/topics/google-changes"},
		{"topic with a space", "TOKEN_CHANGES_TOPIC", "projects/p/topics/token changes"},
		{"topic with a trailing slash", "TOKEN_CHANGES_TOPIC", "projects/p/topics/token-changes/"},
		{"reads budget zero", "SECRET_MANAGER_READS_PER_MINUTE", "0"},
		{"writes budget text", "SECRET_MANAGER_WRITES_PER_MINUTE", "lots"},
		{"accesses budget absurd", "SECRET_MANAGER_ACCESSES_PER_MINUTE", "1000001"},
		{"document and THREADS_SECRETS", "THREADS_SECRETS_DOCUMENT", "deployments/main"},
		{"warn within not a duration", "WARN_WITHIN", "14d"},
		{"warn within under a day", "WARN_WITHIN", "23h"},
		{"warn within a token's whole life", "WARN_WITHIN", "1440h"},
		{"warn within in minutes", "WARN_WITHIN", "336h30m"},
		{"warn within beyond a healthy token's life left", "WARN_WITHIN", "1400h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			env[tt.variable] = tt.value
			_, err := Load(lookup(env))
			var cerr *Error
			if !errors.As(err, &cerr) || cerr.Variable != tt.variable {
				t.Fatalf("Load with %s=%q: error %v, want a config error naming %s", tt.variable, tt.value, err, tt.variable)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, tt.variable+" ") || strings.Count(msg, "\n") > 0 {
				t.Errorf("error %q should be one sentence starting with %s", msg, tt.variable)
			}
		})
	}
}

func TestLoadRequiresProjectForGoogleStore(t *testing.T) {
	t.Parallel()
	_, err := Load(lookup(map[string]string{"STORE": "google", "THREADS_SECRETS": "main"}))
	var cerr *Error
	if !errors.As(err, &cerr) || cerr.Variable != "GOOGLE_CLOUD_PROJECT" {
		t.Fatalf("error %v, want one naming GOOGLE_CLOUD_PROJECT", err)
	}
}

func TestLoadLocalRefusesSecretManagerNames(t *testing.T) {
	t.Parallel()
	_, err := Load(lookup(map[string]string{"REFRESHER_DB": "/tmp/x.db", "THREADS_SECRETS": "projects/p/secrets/main"}))
	var cerr *Error
	if !errors.As(err, &cerr) || cerr.Variable != "THREADS_SECRETS" {
		t.Fatalf("error %v, want one naming THREADS_SECRETS", err)
	}
}

func TestTokenChangesTopic(t *testing.T) {
	t.Parallel()
	const topic = "projects/p/topics/threads-token-refresher-token-changes"
	c, err := Load(lookup(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS": "main",
		"TOKEN_CHANGES_TOPIC": " " + topic + " ", "PUBSUB_EMULATOR_HOST": "127.0.0.1:8085"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenChangesTopic != topic || c.PubSubEmulatorHost != "127.0.0.1:8085" {
		t.Errorf("topic %q, emulator %q", c.TokenChangesTopic, c.PubSubEmulatorHost)
	}
	// Another project's topic, and every character Pub/Sub allows.
	for _, ok := range []string{"projects/other-project/topics/a.b_c~d+e%f-g", "projects/p/topics/abc"} {
		if _, err := Load(lookup(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS": "main", "TOKEN_CHANGES_TOPIC": ok})); err != nil {
			t.Errorf("TOKEN_CHANGES_TOPIC=%s refused: %v", ok, err)
		}
	}

	// The local store publishes nothing to Pub/Sub: the variable is
	// refused there, not silently ignored, and the sentence names the
	// local way.
	_, err = Load(lookup(map[string]string{"REFRESHER_DB": "/tmp/x.db", "TOKEN_CHANGES_TOPIC": topic}))
	var cerr *Error
	if !errors.As(err, &cerr) || cerr.Variable != "TOKEN_CHANGES_TOPIC" || !strings.Contains(err.Error(), "local store") || !strings.Contains(err.Error(), "TOKEN_EVENTS_FILE") {
		t.Errorf("local store with a topic: %v, want an error naming TOKEN_CHANGES_TOPIC, the local store and TOKEN_EVENTS_FILE", err)
	}
}

// TestTokenEventsFile: TOKEN_EVENTS_FILE is taken in either store (a
// refresher on a machine with Google's stores has no function instance
// whose topic it would share), never beside TOKEN_CHANGES_TOPIC.
func TestTokenEventsFile(t *testing.T) {
	t.Parallel()
	for _, env := range []map[string]string{
		{"REFRESHER_DB": "/tmp/x.db", "TOKEN_EVENTS_FILE": " /var/log/token-events.jsonl "},
		{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS": "main", "TOKEN_EVENTS_FILE": "/var/log/token-events.jsonl"},
	} {
		c, err := Load(lookup(env))
		if err != nil || c.TokenEventsFile != "/var/log/token-events.jsonl" {
			t.Errorf("%v: %+v, %v", env, c, err)
		}
	}
	_, err := Load(lookup(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS": "main",
		"TOKEN_EVENTS_FILE": "/tmp/events", "TOKEN_CHANGES_TOPIC": "projects/p/topics/token-changes"}))
	var cerr *Error
	if !errors.As(err, &cerr) || cerr.Variable != "TOKEN_EVENTS_FILE" || !strings.Contains(err.Error(), "TOKEN_CHANGES_TOPIC") {
		t.Errorf("both set: %v, want an error naming both", err)
	}
}

// TestWarnWithin: WARN_WITHIN is whole hours from 24h to 1439h, and at most
// a day under what a healthy token has left before its refresh (1440h less
// REFRESH_AFTER), as Terraform's alert_if_hours_left_below. Unset, it is
// 336h, or that bound when REFRESH_AFTER leaves less, so that a
// REFRESH_AFTER that was valid stays so.
func TestWarnWithin(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		refreshAfter, warnWithin string
		want                     time.Duration
	}{
		{"", "", 336 * time.Hour},
		{"", "24h", 24 * time.Hour},
		{"", "1392h", 1392 * time.Hour},
		{"720h", "696h", 696 * time.Hour},
		{"1080h", "", 336 * time.Hour},
		{"1104h", "", 312 * time.Hour},
	} {
		c, err := Load(lookup(map[string]string{"REFRESHER_DB": "/tmp/x.db", "REFRESH_AFTER": tt.refreshAfter, "WARN_WITHIN": tt.warnWithin}))
		if err != nil || c.WarnWithin != tt.want {
			t.Errorf("REFRESH_AFTER=%q WARN_WITHIN=%q: %v, %v; want %v", tt.refreshAfter, tt.warnWithin, c, err, tt.want)
		}
	}
	_, err := Load(lookup(map[string]string{"REFRESHER_DB": "/tmp/x.db", "REFRESH_AFTER": "720h", "WARN_WITHIN": "697h"}))
	if err == nil || err.Error() != "WARN_WITHIN is 697h0m0s; with REFRESH_AFTER 720h0m0s a healthy token gets down to 720h0m0s left before its refresh, so it must be at most 696h0m0s or healthy tokens turn expiring" {
		t.Errorf("WARN_WITHIN=697h with REFRESH_AFTER=720h: %v", err)
	}
}

// TestRefreshAfterBounds: REFRESH_AFTER from 24h to 1104h (46 days) is
// taken, in any spelling Go reads; outside, the sentence says the bound.
func TestRefreshAfterBounds(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]time.Duration{"24h": 24 * time.Hour, "1104h": 1104 * time.Hour, "66240m": 1104 * time.Hour, "720h": 720 * time.Hour} {
		c, err := Load(lookup(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS": "main", "REFRESH_AFTER": v}))
		if err != nil || c.RefreshAfter != want {
			t.Errorf("REFRESH_AFTER=%s: %v, %v; want %v", v, c, err, want)
		}
	}
	_, err := Load(lookup(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS": "main", "REFRESH_AFTER": "2000h"}))
	if err == nil || err.Error() != "REFRESH_AFTER is 2000h0m0s; it must be at most 1104h (46 days), so that a 60-day token still has 14 days left when it is refreshed" {
		t.Errorf("REFRESH_AFTER=2000h: %v", err)
	}
	if MaxRefreshAfter != 1104*time.Hour {
		t.Errorf("MaxRefreshAfter is %v; the sentence says 1104h", MaxRefreshAfter)
	}
}

// TestInspectorAccount: INSPECTOR_ACCOUNT names one of the accounts; in
// local mode without THREADS_SECRETS, any account name.
func TestInspectorAccount(t *testing.T) {
	t.Parallel()
	c, err := Load(lookup(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS": "main,tester", "INSPECTOR_ACCOUNT": " tester "}))
	if err != nil || c.InspectorAccount != "tester" {
		t.Errorf("INSPECTOR_ACCOUNT=tester: %v, %v", c, err)
	}
	c, err = Load(lookup(map[string]string{"REFRESHER_DB": "/tmp/x.db", "INSPECTOR_ACCOUNT": "tester"}))
	if err != nil || c.InspectorAccount != "tester" {
		t.Errorf("local INSPECTOR_ACCOUNT=tester: %v, %v", c, err)
	}
	_, err = Load(lookup(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS": "main,second", "INSPECTOR_ACCOUNT": "tester"}))
	if err == nil || err.Error() != `INSPECTOR_ACCOUNT is "tester", which is not one of the accounts in THREADS_SECRETS (main, second); name the account whose token is a Threads tester's` {
		t.Errorf("an unlisted inspector: %v", err)
	}
}

// TestSettingsThatCannotWorkSaySo: a value that makes every pass a no-op or
// every account fail is refused with a sentence that says what would
// happen, not only what the rule is.
func TestSettingsThatCannotWorkSaySo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"KEEP_VERSIONS": "99999999999999999999"}, `KEEP_VERSIONS is "99999999999999999999", which is too large a number`},
		{map[string]string{"PASS_TIMEOUT": "30s"}, "PASS_TIMEOUT is 30s; it must be at least 1m0s (time for a pass to refresh one account"},
		// The minimum follows THREADS_TIMEOUT: 3 x 30s + 10s + 20s.
		{map[string]string{"PASS_TIMEOUT": "90s", "THREADS_TIMEOUT": "30s"}, "PASS_TIMEOUT is 1m30s; it must be at least 2m0s"},
		{map[string]string{"THREADS_TIMEOUT": "10ms"}, "THREADS_TIMEOUT is 10ms; it must be at least 100ms"},
		{map[string]string{"CONCURRENCY": "5000"}, `CONCURRENCY is "5000"; it must be a whole number from 1 to 1000`},
	}
	for _, tt := range tests {
		env := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS": "main"}
		for k, v := range tt.env {
			env[k] = v
		}
		if _, err := Load(lookup(env)); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Load with %v: %v, want %q...", tt.env, err, tt.want)
		}
	}
	// At the bounds, accepted.
	for _, ok := range []map[string]string{
		{"PASS_TIMEOUT": "60s"},
		{"PASS_TIMEOUT": "2m", "THREADS_TIMEOUT": "30s"},
		{"PASS_TIMEOUT": "0s"}, // no bound
		{"THREADS_TIMEOUT": "100ms"},
		{"THREADS_TIMEOUT": "10m"},
		{"CONCURRENCY": "1000"},
		{"KEEP_VERSIONS": "9223372036854775807"},
		{"TOKENS_COLLECTION": "a.b__"},
	} {
		env := map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS": "main"}
		for k, v := range ok {
			env[k] = v
		}
		if _, err := Load(lookup(env)); err != nil {
			t.Errorf("Load with %v refused: %v", ok, err)
		}
	}
}

func TestPort(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]string{"": "8080", "9090": "9090", " 1 ": "1", "65535": "65535", "08080": "8080"} {
		got, err := Port(lookup(map[string]string{"PORT": v}))
		if err != nil || got != want {
			t.Errorf("Port(PORT=%q) = %q, %v; want %q", v, got, err, want)
		}
	}
	// A service name is not a port here (as root, "http" bound port 80),
	// and 0 would let the system choose a port nobody is told of.
	for _, v := range []string{"http", "0", "65536", "-1", "+80", "80.0", "8080/tcp", "99999999999999999999"} {
		_, err := Port(lookup(map[string]string{"PORT": v}))
		var cerr *Error
		if !errors.As(err, &cerr) || cerr.Variable != "PORT" || !strings.Contains(err.Error(), "from 1 to 65535") {
			t.Errorf("Port(PORT=%q) = %v, want a PORT error naming the range", v, err)
		}
	}
}

// TestLoadAccountsDocument: THREADS_SECRETS_DOCUMENT names the Firestore
// document that lists the accounts, instead of THREADS_SECRETS, on Google
// Cloud only; a path that is not COLLECTION/DOCUMENT is refused in one
// sentence naming the variable, as is a list that THREADS_SECRETS would
// refuse (SecretList, with the document's path).
func TestLoadAccountsDocument(t *testing.T) {
	t.Parallel()
	c, err := Load(lookup(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS_DOCUMENT": "deployments/threads-token-refresher", "INSPECTOR_ACCOUNT": "main"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.AccountsDocument != "deployments/threads-token-refresher" || len(c.Accounts) != 0 || c.InspectorAccount != "main" {
		t.Errorf("Load = %+v, want the document and no accounts yet", c)
	}
	for _, bad := range []struct{ env map[string]string }{
		{map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS_DOCUMENT": "deployments"}},
		{map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS_DOCUMENT": "a/b/c"}},
		{map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS_DOCUMENT": "a/.."}},
		{map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "THREADS_SECRETS_DOCUMENT": "__a__/b"}},
		{map[string]string{"REFRESHER_DB": "/tmp/x.db", "THREADS_SECRETS_DOCUMENT": "deployments/x"}},
	} {
		_, err := Load(lookup(bad.env))
		var cerr *Error
		if !errors.As(err, &cerr) || cerr.Variable != "THREADS_SECRETS_DOCUMENT" || strings.Contains(err.Error(), "\n") {
			t.Errorf("Load with %v: %v, want one sentence naming THREADS_SECRETS_DOCUMENT", bad.env, err)
		}
	}

	got, err := SecretList("main, projects/other/secrets/second", "deployments/x", "p")
	if err != nil || len(got) != 2 || got[0].Secret != "projects/p/secrets/main" || got[1].Secret != "projects/other/secrets/second" {
		t.Errorf("SecretList = %+v, %v", got, err)
	}
	for _, list := range []string{"", "main,main", "main,bad id"} {
		_, err := SecretList(list, "deployments/x", "p")
		if err == nil || !strings.HasPrefix(err.Error(), "THREADS_SECRETS_DOCUMENT's list (deployments/x) ") {
			t.Errorf("SecretList(%q) = %v, want a sentence naming the document", list, err)
		}
	}
}

// TestDefaultBudgetsAreTheStores: the default budgets are Google's
// default quotas less the headroom the secret store documents.
func TestDefaultBudgetsAreTheStores(t *testing.T) {
	t.Parallel()
	b := secretstore.DefaultBudgets
	if b.Reads != DefaultReadsPerMinute || b.Writes != DefaultWritesPerMinute || b.Accesses != DefaultAccessesPerMinute || b.Window != time.Minute {
		t.Errorf("config's default budgets %d/%d/%d a minute; secretstore's %+v", DefaultReadsPerMinute, DefaultWritesPerMinute, DefaultAccessesPerMinute, b)
	}
}
