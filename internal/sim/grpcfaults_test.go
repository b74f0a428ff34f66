package sim

import (
	"context"
	"os"
	"path"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/firestore"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/threads-token-refresher/threads-token-refresher/internal/clientopts"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/firestoreemu"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/smfake"
)

// The Google backend's faults are applied where its clients meet the wire:
// gRPC client interceptors on the real Secret Manager and Firestore
// clients, below secretstore and statestore, so that what those adapters
// make of a fault (ErrUnavailable, ErrUncertain, ErrChecksum; ErrBusy and
// ErrLeaseLost) is simulated, not assumed. The fault of each call travels
// in its context (injection), set by storeCall; the interceptors apply it
// to each gRPC attempt the client library makes:
//
//   - unavailable: the first attempt answers UNAVAILABLE without reaching
//     the server. The library retries that code on some methods
//     (AccessSecretVersion; Firestore's Commit and BatchGetDocuments), and
//     the retry goes through: a passing refusal the adapter never sees. In
//     an outage every later attempt answers DEADLINE_EXCEEDED, as the
//     library's own timeout ends its retries.
//   - uncertain: the call is carried out, then answers DEADLINE_EXCEEDED.
//   - quota: another tenant has spent the project's Secret Manager quota
//     for the minute (smfake's SpendQuota), so smfake itself refuses this
//     call and every other of its kind until the minute ends
//     (RESOURCE_EXHAUSTED). Never on AccessSecretVersion, whose client
//     retries that code: simulated time stands still during a call, so the
//     minute would never end.
//   - corrupt: an access answer whose payload has one character of the
//     token changed, under the checksum the service computed for it.
//
// A Firestore outage on the batched read (a stream, whose retries the
// library makes on every code an outage answers) is made by storeCall, as
// UNAVAILABLE, which statestore passes on as it is.
type grpcFaults struct {
	sm *smfake.Server
}

// injects reports whether the interceptors apply inj.
func (g *grpcFaults) injects(inj *injection) bool {
	return !(inj.op == opLoad && inj.outage)
}

func (g *grpcFaults) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	inj := injectionOf(ctx)
	if inj == nil {
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	inj.attempts++
	switch inj.kind {
	case faultSecretsDown, faultStateDown:
		if inj.attempts == 1 {
			return status.Error(codes.Unavailable, "sim: injected UNAVAILABLE; the call was not carried out")
		}
		if inj.outage {
			return status.Error(codes.DeadlineExceeded, "sim: the outage outlasted the client's retries")
		}
	case faultSecretsDenied:
		return status.Error(codes.PermissionDenied, "sim: injected PERMISSION_DENIED: the function may not add versions to this secret")
	case faultSecretsQuota:
		if c, ok := smfake.CategoryOf(path.Base(method)); ok && inj.attempts == 1 {
			g.sm.SpendQuota("projects/"+simProject, c, smfake.GoogleQuota(c))
		}
	}
	err := invoker(ctx, method, req, reply, cc, opts...)
	switch status.Code(err) {
	case codes.OK:
		inj.carried, inj.ok = true, true
	case codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Canceled:
	default:
		inj.carried = true // the server answered it
	}
	if err != nil {
		return err
	}
	switch inj.kind {
	case faultSecretsUncertain, faultStateUncertain:
		return status.Error(codes.DeadlineExceeded, "sim: injected DEADLINE_EXCEEDED after the call was carried out")
	case faultSecretsCorrupt:
		if r, ok := reply.(*secretmanagerpb.AccessSecretVersionResponse); ok {
			corrupt(r.GetPayload().GetData())
		}
	}
	return nil
}

func (g *grpcFaults) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	inj := injectionOf(ctx)
	if inj == nil {
		return streamer(ctx, desc, cc, method, opts...)
	}
	inj.attempts++
	if inj.kind == faultStateDown && inj.attempts == 1 {
		return nil, status.Error(codes.Unavailable, "sim: injected UNAVAILABLE; the call was not carried out")
	}
	s, err := streamer(ctx, desc, cc, method, opts...)
	inj.carried, inj.ok = err == nil, err == nil
	return s, err
}

// corrupt changes one character of the token in payload (every token
// starts with tokenPrefix), to another character a token may hold.
func corrupt(payload []byte) {
	i := strings.Index(string(payload), tokenPrefix)
	if i < 0 || i+10 >= len(payload) {
		return
	}
	j := i + 10
	k := strings.IndexByte(base62, payload[j])
	payload[j] = base62[(k+1)%len(base62)]
}

// secretManagerClient connects to the in-process Secret Manager with the
// interceptor.
func (g *grpcFaults) secretManagerClient(t *testing.T) *secretmanager.Client {
	opts := append(clientopts.Emulator(g.sm.Addr()), option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(g.unary)))
	c, err := secretmanager.NewClient(context.Background(), opts...)
	if err != nil {
		t.Fatalf("connecting to Secret Manager: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// firestoreEnv guards FIRESTORE_EMULATOR_HOST while a client is built
// without it (firestoreClient).
var firestoreEnv sync.Mutex

// firestoreClient connects to the Firestore emulator through a connection
// of its own, with the interceptors and the emulator's owner credentials
// (what the client library sends the emulator). The library dials a
// connection of its own whenever FIRESTORE_EMULATOR_HOST is set, which a
// connection given to it would replace and leave open, so the variable is
// unset while the client is built.
func (g *grpcFaults) firestoreClient(t *testing.T, project string) *firestore.Client {
	host := firestoreemu.Host(t)
	conn, err := grpc.NewClient(host,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(emulatorOwner{}),
		grpc.WithChainUnaryInterceptor(g.unary),
		grpc.WithChainStreamInterceptor(g.stream))
	if err != nil {
		t.Fatalf("connecting to the Firestore emulator: %v", err)
	}
	firestoreEnv.Lock()
	defer firestoreEnv.Unlock()
	prev := os.Getenv(firestoreemu.EnvHost)
	if err := os.Unsetenv(firestoreemu.EnvHost); err != nil {
		t.Fatal(err)
	}
	defer os.Setenv(firestoreemu.EnvHost, prev)
	c, err := firestore.NewClient(context.Background(), project, option.WithGRPCConn(conn))
	if err != nil {
		t.Fatalf("connecting to Firestore: %v", err)
	}
	t.Cleanup(func() {
		_ = c.Close()
		_ = conn.Close()
	})
	return c
}

// emulatorOwner is the credential the Firestore client library sends an
// emulator: the emulator's admin.
type emulatorOwner struct{}

func (emulatorOwner) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}

func (emulatorOwner) RequireTransportSecurity() bool { return false }
