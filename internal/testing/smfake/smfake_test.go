package smfake_test

import (
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"sync"
	"testing"
	"time"

	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/smfake"
)

func newClient(t *testing.T, s *smfake.Server) *secretmanager.Client {
	t.Helper()
	c, err := secretmanager.NewClient(context.Background(),
		option.WithEndpoint(s.Addr()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	)
	if err != nil {
		t.Fatalf("creating client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func automatic() *secretmanagerpb.Replication {
	return &secretmanagerpb.Replication{Replication: &secretmanagerpb.Replication_Automatic_{Automatic: &secretmanagerpb.Replication_Automatic{}}}
}

func crc(b []byte) *int64 {
	c := int64(crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	return &c
}

func wantCode(t *testing.T, what string, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("%s: got code %v (%v), want %v", what, got, err, want)
	}
}

func add(t *testing.T, c *secretmanager.Client, parent, data string) *secretmanagerpb.SecretVersion {
	t.Helper()
	v, err := c.AddSecretVersion(context.Background(), &secretmanagerpb.AddSecretVersionRequest{
		Parent:  parent,
		Payload: &secretmanagerpb.SecretPayload{Data: []byte(data), DataCrc32C: crc([]byte(data))},
	})
	if err != nil {
		t.Fatalf("adding a version to %s: %v", parent, err)
	}
	return v
}

func TestSecretLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := smfake.Start(t, smfake.WithClock(func() time.Time { return now }))
	c := newClient(t, s)

	req := &secretmanagerpb.CreateSecretRequest{
		Parent:   "projects/p",
		SecretId: "main",
		Secret:   &secretmanagerpb.Secret{Replication: automatic(), Labels: map[string]string{"app": "threads"}},
	}
	sec, err := c.CreateSecret(ctx, req)
	if err != nil {
		t.Fatalf("CreateSecret: %v", err)
	}
	if sec.GetName() != "projects/p/secrets/main" || sec.GetLabels()["app"] != "threads" || !sec.GetCreateTime().AsTime().Equal(now) {
		t.Errorf("CreateSecret answered %v", sec)
	}
	_, err = c.CreateSecret(ctx, req)
	wantCode(t, "creating it again", err, codes.AlreadyExists)
	_, err = c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{Parent: "projects/p", SecretId: "norepl", Secret: &secretmanagerpb.Secret{}})
	wantCode(t, "creating a secret without replication", err, codes.InvalidArgument)

	got, err := c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: "projects/p/secrets/main"})
	if err != nil || got.GetLabels()["app"] != "threads" {
		t.Fatalf("GetSecret = %v, %v; want the labels kept", got, err)
	}

	for i := 1; i <= 3; i++ {
		now = now.Add(time.Hour)
		s.SetNow(func() time.Time { return now })
		v := add(t, c, "projects/p/secrets/main", fmt.Sprintf("token-%d", i))
		if want := fmt.Sprintf("projects/p/secrets/main/versions/%d", i); v.GetName() != want {
			t.Errorf("version %d is named %q, want %q", i, v.GetName(), want)
		}
		if v.GetState() != secretmanagerpb.SecretVersion_ENABLED || !v.GetCreateTime().AsTime().Equal(now) || !v.GetClientSpecifiedPayloadChecksum() {
			t.Errorf("version %d = %v", i, v)
		}
	}

	acc, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/p/secrets/main/versions/latest"})
	if err != nil {
		t.Fatalf("accessing latest: %v", err)
	}
	if acc.GetName() != "projects/p/secrets/main/versions/3" || string(acc.GetPayload().GetData()) != "token-3" ||
		acc.GetPayload().DataCrc32C == nil || *acc.GetPayload().DataCrc32C != *crc([]byte("token-3")) {
		t.Errorf("accessing latest = %v", acc)
	}

	// "latest" is the newest version whatever its state, as in Secret
	// Manager: once it is disabled, accessing "latest" fails.
	if _, err := c.DisableSecretVersion(ctx, &secretmanagerpb.DisableSecretVersionRequest{Name: "projects/p/secrets/main/versions/3"}); err != nil {
		t.Fatalf("disabling version 3: %v", err)
	}
	_, err = c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/p/secrets/main/versions/latest"})
	wantCode(t, "accessing latest when it is disabled", err, codes.FailedPrecondition)
	gv, err := c.GetSecretVersion(ctx, &secretmanagerpb.GetSecretVersionRequest{Name: "projects/p/secrets/main/versions/latest"})
	if err != nil || gv.GetName() != "projects/p/secrets/main/versions/3" || gv.GetState() != secretmanagerpb.SecretVersion_DISABLED {
		t.Errorf("getting latest = %v, %v", gv, err)
	}
	if _, err := c.EnableSecretVersion(ctx, &secretmanagerpb.EnableSecretVersionRequest{Name: "projects/p/secrets/main/versions/3"}); err != nil {
		t.Fatalf("enabling version 3: %v", err)
	}

	now = now.Add(time.Minute)
	d, err := c.DestroySecretVersion(ctx, &secretmanagerpb.DestroySecretVersionRequest{Name: "projects/p/secrets/main/versions/2"})
	if err != nil {
		t.Fatalf("destroying version 2: %v", err)
	}
	if d.GetState() != secretmanagerpb.SecretVersion_DESTROYED || !d.GetDestroyTime().AsTime().Equal(now) {
		t.Errorf("destroyed version = %v", d)
	}
	_, err = c.DestroySecretVersion(ctx, &secretmanagerpb.DestroySecretVersionRequest{Name: "projects/p/secrets/main/versions/2"})
	wantCode(t, "destroying version 2 again", err, codes.FailedPrecondition)
	_, err = c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/p/secrets/main/versions/2"})
	wantCode(t, "accessing a destroyed version", err, codes.FailedPrecondition)
	_, err = c.EnableSecretVersion(ctx, &secretmanagerpb.EnableSecretVersionRequest{Name: "projects/p/secrets/main/versions/2"})
	wantCode(t, "enabling a destroyed version", err, codes.FailedPrecondition)
	_, err = c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/p/secrets/main/versions/9"})
	wantCode(t, "accessing a missing version", err, codes.NotFound)

	infos := s.Versions("projects/p/secrets/main")
	if len(infos) != 3 || infos[1].State != secretmanagerpb.SecretVersion_DESTROYED || infos[1].Payload != nil || string(infos[2].Payload) != "token-3" {
		t.Errorf("Versions = %+v", infos)
	}

	// Newest first, every state, in pages.
	it := c.ListSecretVersions(ctx, &secretmanagerpb.ListSecretVersionsRequest{Parent: "projects/p/secrets/main"})
	p := iterator.NewPager(it, 2, "")
	var pages [][]string
	for {
		var page []*secretmanagerpb.SecretVersion
		tok, err := p.NextPage(&page)
		if err != nil {
			t.Fatalf("listing versions: %v", err)
		}
		var names []string
		for _, v := range page {
			names = append(names, fmt.Sprintf("%s:%s", v.GetName()[len("projects/p/secrets/main/versions/"):], v.GetState()))
		}
		pages = append(pages, names)
		if tok == "" {
			break
		}
	}
	want := [][]string{{"3:ENABLED", "2:DESTROYED"}, {"1:ENABLED"}}
	if fmt.Sprint(pages) != fmt.Sprint(want) {
		t.Errorf("version pages = %v, want %v", pages, want)
	}

	if err := c.DeleteSecret(ctx, &secretmanagerpb.DeleteSecretRequest{Name: "projects/p/secrets/main"}); err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}
	_, err = c.GetSecret(ctx, &secretmanagerpb.GetSecretRequest{Name: "projects/p/secrets/main"})
	wantCode(t, "getting a deleted secret", err, codes.NotFound)
}

func TestAddSecretVersionRejects(t *testing.T) {
	t.Parallel()
	s := smfake.Start(t)
	c := newClient(t, s)
	s.CreateSecret("projects/p/secrets/main")

	tests := []struct {
		name string
		req  *secretmanagerpb.AddSecretVersionRequest
		want codes.Code
	}{
		{"wrong checksum", &secretmanagerpb.AddSecretVersionRequest{
			Parent:  "projects/p/secrets/main",
			Payload: &secretmanagerpb.SecretPayload{Data: []byte("token"), DataCrc32C: crc([]byte("other"))},
		}, codes.InvalidArgument},
		{"missing secret", &secretmanagerpb.AddSecretVersionRequest{
			Parent:  "projects/p/secrets/nope",
			Payload: &secretmanagerpb.SecretPayload{Data: []byte("token")},
		}, codes.NotFound},
		{"too large", &secretmanagerpb.AddSecretVersionRequest{
			Parent:  "projects/p/secrets/main",
			Payload: &secretmanagerpb.SecretPayload{Data: make([]byte, 64<<10+1)},
		}, codes.InvalidArgument},
	}
	for _, tt := range tests {
		_, err := c.AddSecretVersion(context.Background(), tt.req)
		wantCode(t, tt.name, err, tt.want)
	}
	if n := len(s.Versions("projects/p/secrets/main")); n != 0 {
		t.Errorf("rejected calls added %d versions", n)
	}
}

func TestProjectNumbers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := smfake.Start(t, smfake.WithProjectNumbers(map[string]string{"my-project": "123456"}))
	c := newClient(t, s)

	sec, err := c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{
		Parent: "projects/my-project", SecretId: "main", Secret: &secretmanagerpb.Secret{Replication: automatic()},
	})
	if err != nil || sec.GetName() != "projects/123456/secrets/main" {
		t.Fatalf("CreateSecret = %v, %v; want the project number", sec, err)
	}
	_, err = c.CreateSecret(ctx, &secretmanagerpb.CreateSecretRequest{
		Parent: "projects/123456", SecretId: "main", Secret: &secretmanagerpb.Secret{Replication: automatic()},
	})
	wantCode(t, "creating it by number", err, codes.AlreadyExists)

	v := add(t, c, "projects/my-project/secrets/main", "token")
	if v.GetName() != "projects/123456/secrets/main/versions/1" {
		t.Errorf("added version is named %q", v.GetName())
	}
	acc, err := c.AccessSecretVersion(ctx, &secretmanagerpb.AccessSecretVersionRequest{Name: "projects/my-project/secrets/main/versions/1"})
	if err != nil || string(acc.GetPayload().GetData()) != "token" || acc.GetName() != "projects/123456/secrets/main/versions/1" {
		t.Errorf("accessing by project ID = %v, %v", acc, err)
	}
	for _, parent := range []string{"projects/my-project", "projects/123456"} {
		it := c.ListSecrets(ctx, &secretmanagerpb.ListSecretsRequest{Parent: parent})
		got, err := it.Next()
		if err != nil || got.GetName() != "projects/123456/secrets/main" {
			t.Errorf("ListSecrets(%s) = %v, %v", parent, got, err)
		}
	}
	if got := s.AddVersion("projects/my-project/secrets/main", []byte("seeded"), time.Time{}); got != "projects/123456/secrets/main/versions/2" {
		t.Errorf("AddVersion returned %q", got)
	}
}

func TestListSecretsPages(t *testing.T) {
	t.Parallel()
	s := smfake.Start(t, smfake.WithMaxPageSize(2))
	c := newClient(t, s)
	for _, id := range []string{"c", "a", "e", "b", "d"} {
		s.CreateSecret("projects/p/secrets/" + id)
	}
	s.CreateSecret("projects/other/secrets/x")

	it := c.ListSecrets(context.Background(), &secretmanagerpb.ListSecretsRequest{Parent: "projects/p"})
	var got []string
	for {
		sec, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatalf("listing secrets: %v", err)
		}
		got = append(got, sec.GetName())
	}
	want := []string{"projects/p/secrets/a", "projects/p/secrets/b", "projects/p/secrets/c", "projects/p/secrets/d", "projects/p/secrets/e"}
	if !slices.Equal(got, want) {
		t.Errorf("secrets = %v, want %v", got, want)
	}
	if n := s.Calls("ListSecrets"); n != 3 {
		t.Errorf("listing took %d calls, want 3 pages of at most 2", n)
	}
}

func TestInjectedFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := smfake.Start(t)
	c := newClient(t, s)
	s.CreateSecret("projects/p/secrets/main")
	req := &secretmanagerpb.AddSecretVersionRequest{
		Parent:  "projects/p/secrets/main",
		Payload: &secretmanagerpb.SecretPayload{Data: []byte("token")},
	}

	s.FailNext("AddSecretVersion", codes.Unavailable, 2)
	for i := range 2 {
		_, err := c.AddSecretVersion(ctx, req)
		wantCode(t, fmt.Sprintf("call %d", i+1), err, codes.Unavailable)
	}
	if n := len(s.Versions("projects/p/secrets/main")); n != 0 {
		t.Fatalf("failed calls added %d versions", n)
	}
	if _, err := c.AddSecretVersion(ctx, req); err != nil {
		t.Fatalf("third call: %v", err)
	}

	s.FailNextAfterApplying("AddSecretVersion", codes.DeadlineExceeded, 1)
	_, err := c.AddSecretVersion(ctx, req)
	wantCode(t, "applied call", err, codes.DeadlineExceeded)
	if n := len(s.Versions("projects/p/secrets/main")); n != 2 {
		t.Errorf("after an applied failure there are %d versions, want 2", n)
	}

	if n := s.Calls("AddSecretVersion"); n != 4 {
		t.Errorf("Calls(AddSecretVersion) = %d, want 4", n)
	}
	if counts := s.CallCounts(); counts["AddSecretVersion"] != 4 || len(counts) != 1 {
		t.Errorf("CallCounts = %v", counts)
	}

	s.SetLatency("GetSecret", time.Second)
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = c.GetSecret(short, &secretmanagerpb.GetSecretRequest{Name: "projects/p/secrets/main"})
	wantCode(t, "slow GetSecret", err, codes.DeadlineExceeded)
}

func TestTamperAccess(t *testing.T) {
	t.Parallel()
	s := smfake.Start(t, smfake.WithAccessTamper(func(r *secretmanagerpb.AccessSecretVersionResponse) {
		r.Payload.Data = []byte("tampered")
	}))
	c := newClient(t, s)
	s.CreateSecret("projects/p/secrets/main")
	name := s.AddVersion("projects/p/secrets/main", []byte("token"), time.Time{})
	acc, err := c.AccessSecretVersion(context.Background(), &secretmanagerpb.AccessSecretVersionRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if string(acc.GetPayload().GetData()) != "tampered" || acc.GetPayload().GetDataCrc32C() != *crc([]byte("token")) {
		t.Errorf("tampered answer = %v; want the new data with the old checksum", acc)
	}
}

func TestConcurrentAdds(t *testing.T) {
	t.Parallel()
	s := smfake.Start(t)
	c := newClient(t, s)
	s.CreateSecret("projects/p/secrets/main")
	const n = 20
	var wg sync.WaitGroup
	names := make([]string, n)
	for i := range n {
		wg.Go(func() {
			v, err := c.AddSecretVersion(context.Background(), &secretmanagerpb.AddSecretVersionRequest{
				Parent:  "projects/p/secrets/main",
				Payload: &secretmanagerpb.SecretPayload{Data: fmt.Appendf(nil, "token-%d", i)},
			})
			if err != nil {
				t.Errorf("adding version: %v", err)
				return
			}
			names[i] = v.GetName()
		})
	}
	wg.Wait()
	slices.Sort(names)
	if got := slices.Compact(names); len(got) != n {
		t.Errorf("%d concurrent adds gave %d distinct versions", n, len(got))
	}
	for i, v := range s.Versions("projects/p/secrets/main") {
		if v.Number != int64(i+1) {
			t.Errorf("version %d has number %d", i+1, v.Number)
		}
	}
}
