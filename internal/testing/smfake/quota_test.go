package smfake_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"cloud.google.com/go/iam/apiv1/iampb"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"github.com/googleapis/gax-go/v2"
	"github.com/googleapis/gax-go/v2/apierror"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/fakeclock"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/smfake"
)

// noRetry turns off the client library's retries, which for
// AccessSecretVersion include RESOURCE_EXHAUSTED (2 s backoff and more):
// each call here is one request.
var noRetry = gax.WithRetry(nil)

// wantQuotaRefusal fails unless err is the refusal Google's quota system
// sends for category c of consumer (a project number) at limit.
func wantQuotaRefusal(t *testing.T, what string, err error, c smfake.Category, consumer string, limit int) {
	t.Helper()
	if got := status.Code(err); got != codes.ResourceExhausted {
		t.Fatalf("%s: got code %v (%v), want ResourceExhausted", what, got, err)
	}
	title := map[smfake.Category]string{smfake.Read: "Read", smfake.Write: "Write", smfake.Access: "Access"}[c]
	wantMsg := fmt.Sprintf("Quota exceeded for quota metric '%s requests' and limit '%s requests per minute' of service 'secretmanager.googleapis.com' for consumer 'project_number:%s'.", title, title, consumer)
	if got := status.Convert(err).Message(); got != wantMsg {
		t.Errorf("%s: message %q, want %q", what, got, wantMsg)
	}
	var ae *apierror.APIError
	if !errors.As(err, &ae) {
		ae, _ = apierror.FromError(err)
	}
	if ae == nil {
		t.Fatalf("%s: %v carries no status details", what, err)
	}
	if ae.Reason() != "RATE_LIMIT_EXCEEDED" || ae.Domain() != "googleapis.com" {
		t.Errorf("%s: ErrorInfo reason %q domain %q, want RATE_LIMIT_EXCEEDED in googleapis.com", what, ae.Reason(), ae.Domain())
	}
	want := map[string]string{
		"consumer":          "projects/" + consumer,
		"quota_limit":       title + "RequestsPerMinutePerProject",
		"quota_limit_value": strconv.Itoa(limit),
		"quota_location":    "global",
		"quota_metric":      "secretmanager.googleapis.com/" + string(c) + "_requests",
		"quota_unit":        "1/min/{project}",
		"service":           "secretmanager.googleapis.com",
	}
	if got := ae.Metadata(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: ErrorInfo metadata\n got %v\nwant %v", what, got, want)
	}
	help := ae.Details().Help
	if help == nil || len(help.GetLinks()) != 1 || help.GetLinks()[0].GetUrl() != "https://cloud.google.com/docs/quotas/help/request_increase" {
		t.Errorf("%s: Help = %v, want the link to request a higher quota", what, help)
	}
}

func TestEveryMethodHasAQuotaCategory(t *testing.T) {
	t.Parallel()
	for _, m := range secretmanagerpb.SecretManagerService_ServiceDesc.Methods {
		if _, ok := smfake.CategoryOf(m.MethodName); !ok {
			t.Errorf("%s counts against no quota", m.MethodName)
		}
	}
	if n := len(secretmanagerpb.SecretManagerService_ServiceDesc.Streams); n != 0 {
		t.Errorf("the service has %d streaming methods, which the quota interceptor does not see", n)
	}
}

// quotaCall is one call of the service, through the real client, on a
// server holding projects/123456/secrets/main with versions 1 and 2.
type quotaCall struct {
	method string
	want   smfake.Category
	call   func(context.Context, *secretmanager.Client) error
}

const (
	qSecret  = "projects/my-project/secrets/main"
	qVersion = qSecret + "/versions/1"
)

var quotaCalls = []quotaCall{
	{"AccessSecretVersion", smfake.Access, func(ctx context.Context, c *secretmanager.Client) error {
		_, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: qVersion}, noRetry)
		return err
	}},
	{"ListSecrets", smfake.Read, func(ctx context.Context, c *secretmanager.Client) error {
		_, err := c.ListSecrets(ctx, &secretmanagerpb.ListSecretsRequest{Parent: "projects/my-project"}).Next()
		return err
	}},
	{"GetSecret", smfake.Read, func(ctx context.Context, c *secretmanager.Client) error {
		_, err := c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: qSecret})
		return err
	}},
	{"ListSecretVersions", smfake.Read, func(ctx context.Context, c *secretmanager.Client) error {
		_, err := c.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: qSecret}).Next()
		return err
	}},
	{"GetSecretVersion", smfake.Read, func(ctx context.Context, c *secretmanager.Client) error {
		_, err := c.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: qVersion})
		return err
	}},
	{"GetIamPolicy", smfake.Read, func(ctx context.Context, c *secretmanager.Client) error {
		_, err := c.GetIamPolicy(ctx, &iampb.GetIamPolicyRequest{Resource: qSecret})
		return err
	}},
	{"TestIamPermissions", smfake.Read, func(ctx context.Context, c *secretmanager.Client) error {
		_, err := c.TestIamPermissions(ctx, &iampb.TestIamPermissionsRequest{Resource: qSecret, Permissions: []string{"secretmanager.versions.access"}})
		return err
	}},
	{"CreateSecret", smfake.Write, func(ctx context.Context, c *secretmanager.Client) error {
		_, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/my-project", SecretId: "other", Secret: &secretmanagerpb.Secret{Replication: automatic()}})
		return err
	}},
	{"UpdateSecret", smfake.Write, func(ctx context.Context, c *secretmanager.Client) error {
		_, err := c.UpdateSecret(ctx, &secretmanagerpb.UpdateSecretRequest{
			Secret:     &secretmanagerpb.Secret{Name: qSecret, Labels: map[string]string{"a": "b"}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"labels"}},
		})
		return err
	}},
	{"DeleteSecret", smfake.Write, func(ctx context.Context, c *secretmanager.Client) error {
		return c.DeleteSecret(ctx, &secretmanagerpb.DeleteSecretRequest{Name: qSecret})
	}},
	{"AddSecretVersion", smfake.Write, func(ctx context.Context, c *secretmanager.Client) error {
		_, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: qSecret, Payload: &secretmanagerpb.SecretPayload{Data: []byte("t")}})
		return err
	}},
	{"EnableSecretVersion", smfake.Write, func(ctx context.Context, c *secretmanager.Client) error {
		_, err := c.EnableSecretVersion(ctx, &secretmanagerpb.EnableSecretVersionRequest{Name: qVersion})
		return err
	}},
	{"DisableSecretVersion", smfake.Write, func(ctx context.Context, c *secretmanager.Client) error {
		_, err := c.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: qVersion})
		return err
	}},
	{"DestroySecretVersion", smfake.Write, func(ctx context.Context, c *secretmanager.Client) error {
		_, err := c.DestroySecretVersion(ctx, &secretmanagerpb.DestroySecretVersionRequest{Name: qVersion})
		return err
	}},
	{"SetIamPolicy", smfake.Write, func(ctx context.Context, c *secretmanager.Client) error {
		_, err := c.SetIamPolicy(ctx, &iampb.SetIamPolicyRequest{Resource: qSecret, Policy: &iampb.Policy{}})
		return err
	}},
	{"RotateSecret", smfake.Write, func(ctx context.Context, c *secretmanager.Client) error {
		_, err := c.RotateSecret(ctx, &secretmanagerpb.RotateSecretRequest{Parent: qSecret})
		return err
	}},
	{"EnableManagedRotation", smfake.Write, func(ctx context.Context, c *secretmanager.Client) error {
		_, err := c.EnableManagedRotation(ctx, &secretmanagerpb.EnableManagedRotationRequest{Parent: qSecret})
		return err
	}},
}

// TestQuotaCategories checks each call against the category
// cloud.google.com/secret-manager/quotas puts it in: with that category's
// quota at 0 the call is refused; with both other categories at 0 it is
// served (or refused for a reason of its own, such as a method this fake
// does not implement). Each category is counted apart from the others.
func TestQuotaCategories(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for _, m := range secretmanagerpb.SecretManagerService_ServiceDesc.Methods {
		seen[m.MethodName] = false
	}
	for _, tt := range quotaCalls {
		seen[tt.method] = true
		t.Run(tt.method, func(t *testing.T) {
			t.Parallel()
			if got, _ := smfake.CategoryOf(tt.method); got != tt.want {
				t.Errorf("CategoryOf(%s) = %q, want %q", tt.method, got, tt.want)
			}
			for _, own := range []bool{true, false} {
				opts := []smfake.Option{smfake.WithProjectNumbers(map[string]string{"my-project": "123456"})}
				for _, c := range smfake.Categories {
					if (c == tt.want) == own {
						opts = append(opts, smfake.WithQuota(c, 0))
					}
				}
				s := smfake.Start(t, opts...)
				s.CreateSecret(qSecret)
				s.AddVersion(qSecret, []byte("token-1"), time.Time{})
				s.AddVersion(qSecret, []byte("token-2"), time.Time{})
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err := tt.call(ctx, newClient(t, s))
				cancel()
				if own {
					wantQuotaRefusal(t, tt.method+" with its quota at 0", err, tt.want, "123456", 0)
				} else if status.Code(err) == codes.ResourceExhausted {
					t.Errorf("%s with only the other quotas at 0: %v", tt.method, err)
				}
				if got := s.Calls(tt.method); got != 1 {
					t.Errorf("%s: the server counted %d calls, want 1", tt.method, got)
				}
			}
		})
	}
	for m, ok := range seen {
		if !ok {
			t.Errorf("no call of %s in the table", m)
		}
	}
}

// TestQuotaMinute spends a whole default quota in one minute: the next
// request is refused, still refused in the last instant of that minute,
// and served from the first instant of the next one. Google refills rate
// quotas at synchronized minute boundaries, not 60 seconds after the first
// request (a rolling window would still refuse at 10:01:00 here).
func TestQuotaMinute(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC)
	tests := []struct {
		category smfake.Category
		limit    int
		// spent: requests another application of the project already made
		// this minute, so that the test makes only the last ones itself.
		spent int
		call  func(context.Context, *secretmanager.Client) error
	}{
		{smfake.Read, 600, 0, func(ctx context.Context, c *secretmanager.Client) error {
			_, err := c.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: qSecret}).Next()
			return err
		}},
		{smfake.Write, 600, 0, func(ctx context.Context, c *secretmanager.Client) error {
			_, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: qSecret, Payload: &secretmanagerpb.SecretPayload{Data: []byte("t")}}, noRetry)
			return err
		}},
		{smfake.Access, 90000, 89990, func(ctx context.Context, c *secretmanager.Client) error {
			_, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: qVersion}, noRetry)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(string(tt.category), func(t *testing.T) {
			t.Parallel()
			if got := smfake.GoogleQuota(tt.category); got != tt.limit {
				t.Errorf("GoogleQuota(%s) = %d, want %d", tt.category, got, tt.limit)
			}
			clk := fakeclock.New(start)
			s := smfake.Start(t, smfake.WithClock(clk.Now), smfake.WithProjectNumbers(map[string]string{"my-project": "123456"}))
			s.CreateSecret(qSecret)
			s.AddVersion(qSecret, []byte("token"), time.Time{})
			c := newClient(t, s)
			ctx := context.Background()
			s.SpendQuota("projects/my-project", tt.category, tt.spent)
			for i := tt.spent; i < tt.limit; i++ {
				if err := tt.call(ctx, c); err != nil {
					t.Fatalf("request %d of %d this minute: %v", i+1, tt.limit, err)
				}
			}
			wantQuotaRefusal(t, fmt.Sprintf("request %d", tt.limit+1), tt.call(ctx, c), tt.category, "123456", tt.limit)
			clk.Set(start.Truncate(time.Minute).Add(time.Minute - time.Nanosecond))
			wantQuotaRefusal(t, "the last instant of the minute", tt.call(ctx, c), tt.category, "123456", tt.limit)
			clk.Set(start.Truncate(time.Minute).Add(time.Minute))
			if err := tt.call(ctx, c); err != nil {
				t.Errorf("the first request of the next minute: %v", err)
			}
			want := map[smfake.Category]int{smfake.Read: 0, smfake.Write: 0, smfake.Access: 0}
			want[tt.category] = 2
			if got := s.QuotaRefusals(); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("QuotaRefusals = %v, want %v", got, want)
			}
			if got := s.QuotaPeaks()[tt.category]; got != tt.limit {
				t.Errorf("QuotaPeaks[%s] = %d, want %d", tt.category, got, tt.limit)
			}
		})
	}
}

func TestQuotaConfigured(t *testing.T) {
	t.Parallel()
	getSecret := func(ctx context.Context, c *secretmanager.Client, secret string) error {
		_, err := c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: secret})
		return err
	}
	tests := []struct {
		name string
		opts []smfake.Option
		// set runs after the server starts.
		set func(*smfake.Server)
		// served: how many reads of one project in a minute are served.
		served int
		// limit: the quota_limit_value of the refusal.
		limit int
	}{
		{name: "lower limit", opts: []smfake.Option{smfake.WithQuota(smfake.Read, 5)}, served: 5, limit: 5},
		{name: "set while running", set: func(s *smfake.Server) { s.SetQuota(smfake.Read, 3) }, served: 3, limit: 3},
		{name: "usage forgotten", opts: []smfake.Option{smfake.WithQuota(smfake.Read, 4)},
			set: func(s *smfake.Server) {
				s.SpendQuota("projects/my-project", smfake.Read, 4)
				s.ResetQuotaUsage()
			}, served: 4, limit: 4},
		{name: "turned off", opts: []smfake.Option{smfake.WithQuota(smfake.Read, 5), smfake.WithoutQuotas()}, served: 20},
		{name: "turned back on", opts: []smfake.Option{smfake.WithQuota(smfake.Read, 5), smfake.WithoutQuotas()},
			set: func(s *smfake.Server) { s.SetQuotasEnforced(true) }, served: 5, limit: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := fakeclock.New(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
			s := smfake.Start(t, append(tt.opts, smfake.WithClock(clk.Now), smfake.WithProjectNumbers(map[string]string{"my-project": "123456"}))...)
			if tt.set != nil {
				tt.set(s)
			}
			s.CreateSecret(qSecret)
			s.CreateSecret("projects/other/secrets/main")
			c := newClient(t, s)
			ctx := context.Background()
			// The project's ID and number are one project, with one quota.
			for i := range tt.served {
				name := qSecret
				if i%2 == 1 {
					name = "projects/123456/secrets/main"
				}
				if err := getSecret(ctx, c, name); err != nil {
					t.Fatalf("read %d: %v", i+1, err)
				}
			}
			err := getSecret(ctx, c, qSecret)
			if tt.limit == 0 {
				if err != nil {
					t.Errorf("with quotas off, read %d: %v", tt.served+1, err)
				}
				if got := s.QuotaRefusals()[smfake.Read]; got != 0 {
					t.Errorf("with quotas off, %d refusals", got)
				}
				return
			}
			wantQuotaRefusal(t, fmt.Sprintf("read %d", tt.served+1), err, smfake.Read, "123456", tt.limit)
			// Another project has a quota of its own; other categories are
			// counted apart.
			if err := getSecret(ctx, c, "projects/other/secrets/main"); err != nil {
				t.Errorf("a read of another project: %v", err)
			}
			if _, err := c.AddSecretVersion(ctx, &secretmanagerpb.AddSecretVersionRequest{Parent: qSecret, Payload: &secretmanagerpb.SecretPayload{Data: []byte("t")}}); err != nil {
				t.Errorf("a write after the reads ran out: %v", err)
			}
		})
	}
}

// A request the quota refuses is not served, so it does not take the
// failure a test queued for the next call.
func TestQuotaRefusalTakesNoFault(t *testing.T) {
	t.Parallel()
	clk := fakeclock.New(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	s := smfake.Start(t, smfake.WithClock(clk.Now), smfake.WithQuota(smfake.Write, 0))
	s.CreateSecret("projects/p/secrets/main")
	c := newClient(t, s)
	s.FailNext("AddSecretVersion", codes.Unavailable, 1)
	req := &secretmanagerpb.AddSecretVersionRequest{Parent: "projects/p/secrets/main", Payload: &secretmanagerpb.SecretPayload{Data: []byte("t")}}
	_, err := c.AddSecretVersion(context.Background(), req)
	wantCode(t, "an add over the quota", err, codes.ResourceExhausted)
	s.SetQuota(smfake.Write, 600)
	_, err = c.AddSecretVersion(context.Background(), req)
	wantCode(t, "the next add", err, codes.Unavailable)
	if n := len(s.Versions("projects/p/secrets/main")); n != 0 {
		t.Errorf("%d versions added", n)
	}
}

// TestQuotaWindow: a shortened interval (a test that compresses time) holds
// the same limits per interval, counted from multiples of it, as a minute
// does per calendar minute.
func TestQuotaWindow(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC)
	clk := fakeclock.New(start)
	s := smfake.Start(t, smfake.WithClock(clk.Now), smfake.WithQuotaWindow(time.Second), smfake.WithQuota(smfake.Read, 3))
	s.CreateSecret(qSecret)
	c := newClient(t, s)
	list := func() error {
		_, err := c.ListSecretVersions(context.Background(), &secretmanagerpb.ListSecretVersionsRequest{Parent: qSecret}).Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		return err
	}
	for i := range 3 {
		if err := list(); err != nil {
			t.Fatalf("request %d of 3 this second: %v", i+1, err)
		}
	}
	if err := list(); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("the 4th request of the second: %v, want ResourceExhausted", err)
	}
	clk.Set(start.Add(time.Second - time.Nanosecond))
	if err := list(); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("the last instant of the second: %v, want ResourceExhausted", err)
	}
	clk.Set(start.Add(time.Second))
	if err := list(); err != nil {
		t.Errorf("the next second: %v", err)
	}
}
