package secretstore

import (
	"context"
	"fmt"
	"path"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/api/option"
	"google.golang.org/grpc"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
)

// Secret Manager counts every request of a project against one of three
// per-minute quotas (cloud.google.com/secret-manager/quotas, "Quotas on the
// rate of requests"): 600 read requests, 600 write requests and 90,000
// access requests a minute by default, shared by every application of the
// project, and refuses the rest with RESOURCE_EXHAUSTED. A due pass of
// 1,000 accounts makes 1,000 reads and 2,000 writes in seconds. So the
// store paces its own calls under budgets a little below those quotas: the
// rest is headroom for the other consumers of the project (its consumers'
// reads of the tokens, `terraform plan`, a person with gcloud).

// Category is the quota a Secret Manager call counts against.
type Category string

// The quotas, by Google's definitions.
const (
	// Access: AccessSecretVersion, "any call to the access API method".
	Access Category = "access"
	// Read: "any non-mutating operation ... except for access requests".
	Read Category = "read"
	// Write: "any mutating operation (an operation that modifies or
	// deletes a secret or secret version)".
	Write Category = "write"
)

// writes are the methods of the service that change something. Every
// other method but AccessSecretVersion reads: a method a new client
// release adds is taken for a read, the larger budget's side being the
// reads' and accesses'; a test compares this with the test server's
// sorting of every method.
var writes = map[string]bool{
	"CreateSecret": true, "UpdateSecret": true, "DeleteSecret": true,
	"AddSecretVersion": true, "EnableSecretVersion": true, "DisableSecretVersion": true, "DestroySecretVersion": true,
	"SetIamPolicy": true, "EnableManagedRotation": true, "RotateSecret": true,
}

// CategoryOf returns the quota a call of method (the proto's name, such as
// "ListSecretVersions") counts against.
func CategoryOf(method string) Category {
	switch {
	case method == "AccessSecretVersion":
		return Access
	case writes[method]:
		return Write
	}
	return Read
}

// Budgets are the Secret Manager requests the store allows itself per
// Window, by quota. A process keeps to them whatever its callers do: its
// calls wait their turn, evenly spaced (one every Window / budget), so
// that no fixed interval of Window (Google counts quotas in calendar
// minutes) and no sliding one holds more than the budget, plus one.
type Budgets struct {
	Reads, Writes, Accesses int
	// Window is the quotas' interval: a minute. Tests shorten it, with the
	// test server's (smfake.WithQuotaWindow) by the same factor, so that a
	// pass paced by the minute runs in seconds.
	Window time.Duration
}

// Google's default quotas and the headroom left of them. README, "Secret
// Manager: the calls a refresh needs, and the quotas".
const (
	GoogleReads    = 600
	GoogleWrites   = 600
	GoogleAccesses = 90000
	// ReadHeadroom and WriteHeadroom: a sixth of each quota, for the
	// project's other users of metadata (terraform plan lists the secrets
	// and reads their IAM policies; gcloud; onboarding).
	ReadHeadroom  = 100
	WriteHeadroom = 100
	// AccessHeadroom: the consumers' reads of the tokens are accesses;
	// the refresher makes one per refresh (and per adoption), at most
	// about 500 a minute at the default read budget.
	AccessHeadroom = 10000
)

// DefaultBudgets are Google's default quotas less the headroom: 500 reads,
// 500 writes and 80,000 accesses a minute.
var DefaultBudgets = Budgets{
	Reads:    GoogleReads - ReadHeadroom,
	Writes:   GoogleWrites - WriteHeadroom,
	Accesses: GoogleAccesses - AccessHeadroom,
	Window:   time.Minute,
}

func (b Budgets) of(c Category) int {
	switch c {
	case Access:
		return b.Accesses
	case Write:
		return b.Writes
	}
	return b.Reads
}

// pacer spaces one process's calls under its budgets.
type pacer struct {
	budgets  Budgets
	limiters map[Category]*rate.Limiter
}

func newPacer(b Budgets) *pacer {
	if b.Window <= 0 {
		b.Window = time.Minute
	}
	p := &pacer{budgets: b, limiters: make(map[Category]*rate.Limiter, 3)}
	for _, c := range []Category{Read, Write, Access} {
		n := b.of(c)
		if n <= 0 {
			panic(fmt.Sprintf("secretstore: a %s budget of %d a window: budgets must be positive", c, n))
		}
		// Burst 1: the calls are spread evenly, none saved up, so that a
		// window never holds more than the budget and one.
		p.limiters[c] = rate.NewLimiter(rate.Every(b.Window/time.Duration(n)), 1)
	}
	return p
}

// intercept makes each call wait for its turn under its quota's budget.
// A wait that would end past the call's deadline is refused at once, and
// the call is not sent: the error wraps refresh.ErrNoBudget, so that the
// engine leaves the account for the next pass (or, for a refreshed token,
// knows that nothing was stored).
func (p *pacer) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	c := CategoryOf(path.Base(method))
	if err := p.limiters[c].Wait(ctx); err != nil {
		return fmt.Errorf("waiting for the %s budget (%d a %s): %w: %w", c, p.budgets.of(c), windowName(p.budgets.Window), refresh.ErrNoBudget, err)
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

func windowName(d time.Duration) string {
	if d == time.Minute {
		return "minute"
	}
	return d.String()
}

// Pacing returns the client option that paces a Secret Manager client's
// calls under b, for a client built outside New (NewFromClient). Each
// call of Pacing makes budgets of its own: one client, one pacing.
func Pacing(b Budgets) option.ClientOption {
	return option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(newPacer(b).intercept))
}
