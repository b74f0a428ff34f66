package smfake

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Category is one of Secret Manager's per-project request quotas
// (cloud.google.com/secret-manager/quotas, "Quotas on the rate of
// requests"). Every call of the service counts against exactly one.
type Category string

const (
	// Access: "any call to the access API method", AccessSecretVersion.
	// 90,000 a minute per project.
	Access Category = "access"
	// Read: "any non-mutating operation ... except for access requests",
	// such as listing secrets or versions and getting their metadata.
	// 600 a minute per project.
	Read Category = "read"
	// Write: "any mutating operation (an operation that modifies or
	// deletes a secret or secret version)": creating, updating or deleting
	// a secret; adding, enabling, disabling or destroying a version.
	// 600 a minute per project.
	Write Category = "write"
)

// Categories lists every category, in a fixed order.
var Categories = []Category{Read, Write, Access}

// googleQuotas are Secret Manager's default per-minute limits for a
// project, as published on cloud.google.com/secret-manager/quotas.
var googleQuotas = map[Category]int{Read: 600, Write: 600, Access: 90000}

// GoogleQuota returns Secret Manager's default limit for category c, in
// requests a minute per project. A new server enforces these unless told
// otherwise (WithQuota, WithoutQuotas).
func GoogleQuota(c Category) int {
	mustBeCategory(c)
	return googleQuotas[c]
}

// categories sorts every method of the service into its quota, by the
// definitions above. A method missing here fails every call (Internal), so
// that a new method in a new client release is sorted by a person; a test
// checks that none is missing.
var categories = map[string]Category{
	"AccessSecretVersion": Access,

	"ListSecrets":        Read,
	"GetSecret":          Read,
	"ListSecretVersions": Read,
	"GetSecretVersion":   Read,
	"GetIamPolicy":       Read,
	"TestIamPermissions": Read,

	"CreateSecret":         Write,
	"UpdateSecret":         Write,
	"DeleteSecret":         Write,
	"AddSecretVersion":     Write,
	"EnableSecretVersion":  Write,
	"DisableSecretVersion": Write,
	"DestroySecretVersion": Write,
	"SetIamPolicy":         Write, // modifies the secret's policy
	// Both add a secret version.
	"EnableManagedRotation": Write,
	"RotateSecret":          Write,
}

// CategoryOf returns the quota a call of method (as named in the proto,
// such as "ListSecretVersions") counts against, and false for a method
// that has none.
func CategoryOf(method string) (Category, bool) {
	c, ok := categories[method]
	return c, ok
}

// WithQuota sets the limit of one category to perMinute requests a minute
// per project; 0 refuses every request of the category, as a quota of 0
// does. The other categories keep theirs (Google's by default).
func WithQuota(c Category, perMinute int) Option {
	return func(s *Server) { s.SetQuota(c, perMinute) }
}

// WithoutQuotas turns quota enforcement off, for tests that make many calls
// and are not about quotas. Calls are still counted by category.
func WithoutQuotas() Option {
	return func(s *Server) { s.SetQuotasEnforced(false) }
}

// WithQuotaWindow makes the quotas count per interval of d on the server's
// clock instead of per calendar minute: the limits hold per d, and the
// intervals start at multiples of d. A test that paces its calls per
// minute (secretstore.Budgets) shortens both by the same factor, so that
// what a minute's quota allows happens in seconds, by the same rules.
func WithQuotaWindow(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("smfake: WithQuotaWindow(%v): the interval must be positive", d))
	}
	return func(s *Server) { s.quotas.interval = d }
}

// quotas is the state of the per-project rate quotas.
//
// How "per minute" is counted: Google's Cloud Quotas refill a rate quota at
// fixed, synchronized intervals, not on a rolling window or continuously:
// "Google enforces rate quotas at a per-minute interval ... if a project
// reaches a quota limit at 10:00:15, the quota refills at the start of the
// next synchronized interval, such as 10:01:00, rather than refilling
// immediately" (cloud.google.com/compute/api-quota, "Rate quotas"); "a rate
// limit resets after a specified time, such as a minute or a day"
// (cloud.google.com/service-usage/docs/service-quota-model). Secret
// Manager's page does not say more, so each project and category has a
// count for the current calendar minute of the server's clock, reset when
// the minute changes. A refused request does not count: the quota system
// refuses it instead of serving it.
//
// Who pays: "these quotas apply to each Google Cloud project and are
// shared across all applications and IP addresses using that project". The
// fake charges the project named in the request (its ID and number are the
// same project), which is the deployment's own project when its service
// account calls it. The real service may charge the caller's quota project
// when it differs; nothing here depends on that.
//
// Not modelled: the soft-enforced per-secret limits on AddSecretVersion
// (2 a second, 120 a minute per global secret) and on enabling, disabling
// or destroying one version (1 a second), which Google may let pass "as
// long as our backend systems can handle the load". A refresh adds one
// version to a secret and destroys one other.
type quotas struct {
	enforced bool
	// interval is how long a count lasts: a minute, but for tests that
	// compress time (WithQuotaWindow).
	interval time.Duration
	limits   map[Category]int
	windows  map[windowKey]*window
	refused  map[Category]int
	// peak is the most requests admitted in one minute for one project.
	peak map[Category]int
}

type windowKey struct {
	project  string // as answers name it: the number when known
	category Category
}

type window struct {
	minute time.Time
	used   int
}

func newQuotas() *quotas {
	return &quotas{
		enforced: true,
		interval: time.Minute,
		limits:   maps.Clone(googleQuotas),
		windows:  make(map[windowKey]*window),
		refused:  make(map[Category]int),
		peak:     make(map[Category]int),
	}
}

// window returns the count of project's category for the minute of now
// (the interval, WithQuotaWindow), starting a new one when it has changed.
func (q *quotas) window(project string, c Category, now time.Time) *window {
	minute := now.Truncate(q.interval)
	k := windowKey{project, c}
	w := q.windows[k]
	if w == nil || !w.minute.Equal(minute) {
		w = &window{minute: minute}
		q.windows[k] = w
	}
	return w
}

// admit counts one request of category c for project at now, or refuses
// it and reports the limit it met.
func (q *quotas) admit(project string, c Category, now time.Time) (limit int, ok bool) {
	w := q.window(project, c, now)
	if q.enforced && w.used >= q.limits[c] {
		q.refused[c]++
		return q.limits[c], false
	}
	w.used++
	q.peak[c] = max(q.peak[c], w.used)
	return 0, true
}

// SetQuota sets the limit of category c to perMinute requests a minute per
// project, from now on; usage already counted this minute stays.
func (s *Server) SetQuota(c Category, perMinute int) {
	mustBeCategory(c)
	if perMinute < 0 {
		panic(fmt.Sprintf("smfake: SetQuota(%s, %d): a quota cannot be negative", c, perMinute))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quotas.limits[c] = perMinute
}

// SetQuotasEnforced turns quota enforcement on or off. Off, every request
// is served and still counted.
func (s *Server) SetQuotasEnforced(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.quotas.enforced = on
}

// SpendQuota counts n requests of category c against project ("projects/ID"
// or "projects/NUMBER") in the current minute of the server's clock, as
// another application sharing the project would. It makes no call.
func (s *Server) SpendQuota(project string, c Category, n int) {
	mustBeCategory(c)
	p, ok := parseProject(project)
	if !ok {
		panic(fmt.Sprintf("smfake: SpendQuota(%q): not a project name (projects/PROJECT)", project))
	}
	now, consumer := s.consumer(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.quotas.window(consumer, c, now)
	w.used += n
	s.quotas.peak[c] = max(s.quotas.peak[c], w.used)
}

// ResetQuotaUsage forgets the requests counted so far, as if every project
// had just begun a minute: for a test whose setup makes calls that stand
// for earlier hours. The refusal and peak counters stay.
func (s *Server) ResetQuotaUsage() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.quotas.windows)
}

// QuotaRefusals returns how many calls the quotas refused, by category
// (every category present). Refused calls are also in Calls.
func (s *Server) QuotaRefusals() map[Category]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.quotas.counts(s.quotas.refused)
}

// QuotaPeaks returns, by category, the most requests any one project had
// counted in any one minute (SpendQuota included): what a caller pacing
// itself under a budget can compare with that budget.
func (s *Server) QuotaPeaks() map[Category]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.quotas.counts(s.quotas.peak)
}

func (q *quotas) counts(m map[Category]int) map[Category]int {
	out := make(map[Category]int, len(Categories))
	for _, c := range Categories {
		out[c] = m[c]
	}
	return out
}

// consumer reads the server's clock and returns the project p is, as
// answers name it (its number when known).
func (s *Server) consumer(p string) (time.Time, string) {
	s.svc.mu.Lock()
	defer s.svc.mu.Unlock()
	return s.svc.now(), s.svc.project(p)
}

// requestProject returns the project a request names in its name, parent
// or resource field (UpdateSecret: its secret's name); false for a request
// that names none, which the handler then refuses as invalid without a
// quota being charged.
func requestProject(req any) (string, bool) {
	var name string
	switch r := req.(type) {
	case interface{ GetName() string }:
		name = r.GetName()
	case interface{ GetParent() string }:
		name = r.GetParent()
	case interface{ GetResource() string }:
		name = r.GetResource()
	case *secretmanagerpb.UpdateSecretRequest:
		name = r.GetSecret().GetName()
	}
	rest, ok := strings.CutPrefix(name, "projects/")
	p, _, _ := strings.Cut(rest, "/")
	return p, ok && p != ""
}

// quotaExceeded is the refusal the quota system sends: RESOURCE_EXHAUSTED
// with the message, google.rpc.ErrorInfo and google.rpc.Help that Google's
// APIs send when a per-minute quota is spent (AIP-193; reason
// RATE_LIMIT_EXCEEDED in domain googleapis.com, google/api/error_reason.proto).
// The shape is copied from real refusals reported by users of other Google
// APIs, such as
//
//	rpc error: code = ResourceExhausted desc = Quota exceeded for quota
//	metric 'Read requests' and limit 'Read requests per minute' of service
//	'logging.googleapis.com' for consumer 'project_number:764086051850'.
//	error details: name = ErrorInfo reason = RATE_LIMIT_EXCEEDED domain =
//	googleapis.com metadata = map[consumer:projects/764086051850
//	quota_limit:ReadRequestsPerMinutePerProject quota_limit_value:120
//	quota_location:global quota_metric:logging.googleapis.com/read_requests
//	quota_unit:1/min/{project} service:logging.googleapis.com]
//	error details: name = Help desc = Request a higher quota limit. url =
//	https://cloud.google.com/docs/quotas/help/request_increase
//
// (github.com/DefangLabs/defang issue 1268, 2025; the same ErrorInfo and
// Help for cloudresourcemanager.googleapis.com in
// GoogleCloudPlatform/marketing-analytics-jumpstart issue 163). No
// published Secret Manager refusal was found; its metric and limit names
// here follow the same pattern ("Read requests", read_requests,
// ReadRequestsPerMinutePerProject). Callers should act on the code and the
// reason, not on these names.
func quotaExceeded(c Category, consumer string, limit int) error {
	const service = "secretmanager.googleapis.com"
	title := strings.ToUpper(string(c[:1])) + string(c[1:])
	st := status.New(codes.ResourceExhausted, fmt.Sprintf(
		"Quota exceeded for quota metric '%s requests' and limit '%s requests per minute' of service '%s' for consumer 'project_number:%s'.",
		title, title, service, consumer))
	st, err := st.WithDetails(
		&errdetails.ErrorInfo{
			Reason: "RATE_LIMIT_EXCEEDED",
			Domain: "googleapis.com",
			Metadata: map[string]string{
				"consumer":          "projects/" + consumer,
				"quota_limit":       title + "RequestsPerMinutePerProject",
				"quota_limit_value": strconv.Itoa(limit),
				"quota_location":    "global",
				"quota_metric":      service + "/" + string(c) + "_requests",
				"quota_unit":        "1/min/{project}",
				"service":           service,
			},
		},
		&errdetails.Help{Links: []*errdetails.Help_Link{{
			Description: "Request a higher quota limit.",
			Url:         "https://cloud.google.com/docs/quotas/help/request_increase",
		}}},
	)
	if err != nil {
		panic(fmt.Sprintf("smfake: attaching quota details: %v", err))
	}
	return st.Err()
}

func mustBeCategory(c Category) {
	if _, ok := googleQuotas[c]; !ok {
		panic(fmt.Sprintf("smfake: no quota category %q", c))
	}
}
