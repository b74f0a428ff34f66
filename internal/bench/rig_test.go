package bench

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/firestore"
	"cloud.google.com/go/firestore/apiv1/firestorepb"
	secretmanager "cloud.google.com/go/secretmanager/apiv1"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/threads-token-refresher/threads-token-refresher/internal/payload"
	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/secretstore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/statestore"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/firestoreemu"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/smfake"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/threadsfake"
	"github.com/threads-token-refresher/threads-token-refresher/internal/threads"
)

// The configuration every pass here runs with: the defaults of the deployed
// function.
const (
	collection     = "threads_tokens"
	refreshAfter   = 24 * time.Hour
	keepVersions   = 2
	threadsTimeout = 10 * time.Second
)

// sizes are the benchmark's knobs, read from the environment.
type sizes struct {
	accounts       int
	serialAccounts int
	concurrency    int
	latency        time.Duration // of a Threads answer
	rpcLatency     time.Duration // added to every Google call
}

func benchSizes(tb testing.TB) sizes {
	tb.Helper()
	s := sizes{
		accounts:    envInt(tb, "BENCH_ACCOUNTS", 1000),
		concurrency: envInt(tb, "BENCH_CONCURRENCY", 16),
		latency:     envDuration(tb, "BENCH_LATENCY", 100*time.Millisecond),
		rpcLatency:  rpcLatency(tb),
	}
	s.serialAccounts = envInt(tb, "BENCH_SERIAL_ACCOUNTS", s.accounts)
	return s
}

// rpcLatency is BENCH_RPC_LATENCY, the delay added to every call of both
// Google clients: 0 is the emulator's and the in-process server's own
// speed, 10ms about a call to the real services in the same region, 30ms
// one to another region.
func rpcLatency(tb testing.TB) time.Duration {
	tb.Helper()
	return envDuration(tb, "BENCH_RPC_LATENCY", 0)
}

func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		tb.Fatalf("%s is %q; want a positive integer", name, v)
	}
	return n
}

func envDuration(tb testing.TB, name string, def time.Duration) time.Duration {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		tb.Fatalf("%s is %q; want a Go duration such as 100ms", name, v)
	}
	return d
}

// rpcCounter counts the RPCs one Google client sends, by method, as its
// gRPC client interceptors see them: every attempt, retries included. For
// Firestore it also counts the documents read and written, which is what
// Firestore bills.
type rpcCounter struct {
	mu          sync.Mutex
	calls       map[string]int
	busy        map[string]time.Duration // time spent in calls, by method
	docsRead    int                      // BatchGetDocuments results, found or missing
	docsWritten int                      // writes in Commit and BatchWrite requests
}

func newRPCCounter() *rpcCounter {
	return &rpcCounter{calls: make(map[string]int), busy: make(map[string]time.Duration)}
}

func (c *rpcCounter) dialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(c.unary),
		grpc.WithChainStreamInterceptor(c.stream),
	}
}

func (c *rpcCounter) count(method string, req any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[path.Base(method)]++
	switch r := req.(type) {
	case *firestorepb.CommitRequest:
		c.docsWritten += len(r.GetWrites())
	case *firestorepb.BatchWriteRequest:
		c.docsWritten += len(r.GetWrites())
	}
}

func (c *rpcCounter) timed(method string, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.busy[path.Base(method)] += d
}

func (c *rpcCounter) unary(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	c.count(method, req)
	start := time.Now()
	err := invoker(ctx, method, req, reply, cc, opts...)
	c.timed(method, time.Since(start))
	return err
}

func (c *rpcCounter) stream(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	c.count(method, nil)
	start := time.Now()
	cs, err := streamer(ctx, desc, cc, method, opts...)
	if err != nil {
		c.timed(method, time.Since(start))
		return nil, err
	}
	return &countedStream{ClientStream: cs, c: c, method: method, start: start}, nil
}

// countedStream counts the documents a BatchGetDocuments stream answers,
// and times the stream until its end.
type countedStream struct {
	grpc.ClientStream
	c      *rpcCounter
	method string
	start  time.Time
	ended  bool
}

func (s *countedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if r, ok := m.(*firestorepb.BatchGetDocumentsResponse); ok && err == nil && r.GetResult() != nil {
		s.c.mu.Lock()
		s.c.docsRead++
		s.c.mu.Unlock()
	}
	if err != nil && !s.ended {
		s.ended = true
		s.c.timed(s.method, time.Since(s.start))
	}
	return err
}

// rpcCounts is what a counter saw between two takes.
type rpcCounts struct {
	calls       map[string]int
	busy        map[string]time.Duration
	docsRead    int
	docsWritten int
}

// take returns the counts so far and starts counting afresh.
func (c *rpcCounter) take() rpcCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := rpcCounts{calls: c.calls, busy: c.busy, docsRead: c.docsRead, docsWritten: c.docsWritten}
	c.calls, c.busy, c.docsRead, c.docsWritten = make(map[string]int), make(map[string]time.Duration), 0, 0
	return r
}

func (r rpcCounts) sum(methods ...string) int {
	n := 0
	for _, m := range methods {
		n += r.calls[m]
	}
	return n
}

// mean is the mean time of one call of method.
func (r rpcCounts) mean(method string) time.Duration {
	if r.calls[method] == 0 {
		return 0
	}
	return r.busy[method] / time.Duration(r.calls[method])
}

func (r rpcCounts) total() int {
	n := 0
	for _, v := range r.calls {
		n += v
	}
	return n
}

func (r rpcCounts) String() string {
	parts := make([]string, 0, len(r.calls))
	for m, n := range r.calls {
		parts = append(parts, fmt.Sprintf("%s=%d", m, n))
	}
	return strings.Join(parts, " ")
}

// Firestore methods by what they cost.
var (
	firestoreReads  = []string{"BatchGetDocuments", "GetDocument", "ListDocuments", "RunQuery", "RunAggregationQuery", "PartitionQuery"}
	firestoreWrites = []string{"Commit", "BatchWrite", "CreateDocument", "UpdateDocument", "DeleteDocument"}
)

// firestoreDB is one emulator project reached through a counted client.
type firestoreDB struct {
	project string
	client  *firestore.Client
	rpc     *rpcCounter
	// slots watches the Threads slots of the engines the worlds on this
	// database build, and the calls of both their Google clients.
	slots *slotWatch
}

// clientOptions are the dial options of both Google clients, besides their
// counters: the slot watch, then the added latency.
func (fs *firestoreDB) clientOptions(tb testing.TB) []grpc.DialOption {
	return append(fs.slots.interceptors(), rpcDelay(rpcLatency(tb))...)
}

// envMu serialises building Firestore clients, which briefly unset
// FIRESTORE_EMULATOR_HOST.
var envMu sync.Mutex

// newFirestore connects a counted client to a project of its own in the
// emulator. When FIRESTORE_EMULATOR_HOST is set the client dials it itself
// and ignores dial options, so interceptors passed as options would see
// nothing: the client is given a connection dialled here instead, with the
// interceptors and the emulator's "owner" credentials, while the variable
// is unset so that the client dials nothing of its own.
func newFirestore(tb testing.TB) *firestoreDB {
	tb.Helper()
	host := firestoreemu.Host(tb)
	project := firestoreemu.Project(tb)
	fs := &firestoreDB{project: project, rpc: newRPCCounter(), slots: newSlotWatch()}
	opts := append(fs.rpc.dialOptions(), fs.clientOptions(tb)...)
	opts = append(opts,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(emulatorOwner{}),
	)
	conn, err := grpc.NewClient("passthrough:///"+host, opts...)
	if err != nil {
		tb.Fatalf("dialling the Firestore emulator: %v", err)
	}
	envMu.Lock()
	saved, had := os.LookupEnv(firestoreemu.EnvHost)
	os.Unsetenv(firestoreemu.EnvHost)
	client, err := firestore.NewClientWithDatabase(context.Background(), project, statestore.DefaultDatabase,
		option.WithGRPCConn(conn), option.WithoutAuthentication())
	if had {
		os.Setenv(firestoreemu.EnvHost, saved)
	}
	envMu.Unlock()
	if err != nil {
		conn.Close()
		tb.Fatalf("creating the Firestore client: %v", err)
	}
	tb.Cleanup(func() {
		client.Close()
		conn.Close() // already closed by the client in current releases
	})
	fs.client = client
	return fs
}

// emulatorOwner is the credential the Firestore emulator reads as an admin
// (security rules do not apply), as the client library sends it.
type emulatorOwner struct{}

func (emulatorOwner) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer owner"}, nil
}

func (emulatorOwner) RequireTransportSecurity() bool { return false }

// world is a set of accounts with their own Secret Manager server and
// Threads fake, sharing one emulator project, which it clears.
type world struct {
	tb       testing.TB
	fs       *firestoreDB
	accounts []refresh.Account
	sm       *smfake.Server
	smAddr   string
	smc      *secretmanager.Client   // unpaced
	clients  []*secretmanager.Client // every client made, smc first
	smRPC    *rpcCounter
	th       *threadsfake.Server
	once     sync.Once
	served   chan error
}

// newWorld clears the project and starts n accounts' worth of servers,
// with a Threads answer latency. No secret exists yet: see seed.
func newWorld(tb testing.TB, fs *firestoreDB, n int, latency time.Duration, smOpts ...smfake.Option) *world {
	tb.Helper()
	firestoreemu.Reset(tb, fs.project, "")
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listening for Secret Manager: %v", err)
	}
	// No quota on this server while the world is set up (seeding and
	// settling stand for earlier days) nor for the passes of the figures
	// that measure the engine's own speed (x-floor: a project whose quotas
	// were raised): a due pass of 1,000 accounts makes 1,000 reads and
	// 2,000 writes, past Secret Manager's 600 a minute each. The herd
	// benchmarks (herd_test.go) turn Google's quotas on for their passes.
	smOpts = append([]smfake.Option{smfake.WithoutQuotas()}, smOpts...)
	w := &world{tb: tb, fs: fs, sm: smfake.New(smOpts...), th: threadsfake.New(threadsfake.Latency(latency)), served: make(chan error, 1)}
	go func() { w.served <- w.sm.Serve(lis) }()
	tb.Cleanup(w.close)

	w.smAddr = lis.Addr().String()
	w.smRPC = newRPCCounter()
	w.smc = w.smClient()
	w.accounts = make([]refresh.Account, n)
	for i := range w.accounts {
		id := fmt.Sprintf("acct-%05d", i)
		w.accounts[i] = refresh.Account{ID: id, Secret: "projects/" + fs.project + "/secrets/" + id}
	}
	return w
}

// smClient is a Secret Manager client of the world's server, counted and
// watched (and slowed, BENCH_RPC_LATENCY) as every client here; extra
// options come first (secretstore.Pacing: the wait for a budget is no
// call). The world closes it.
func (w *world) smClient(extra ...option.ClientOption) *secretmanager.Client {
	w.tb.Helper()
	opts := append(extra,
		option.WithEndpoint(w.smAddr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	)
	for _, d := range append(w.smRPC.dialOptions(), w.fs.clientOptions(w.tb)...) {
		opts = append(opts, option.WithGRPCDialOption(d))
	}
	c, err := secretmanager.NewClient(context.Background(), opts...)
	if err != nil {
		w.tb.Fatalf("creating the Secret Manager client: %v", err)
	}
	w.clients = append(w.clients, c)
	return c
}

// close stops the servers and the clients; it may be called more than once.
func (w *world) close() {
	w.once.Do(func() {
		for _, c := range w.clients {
			c.Close()
		}
		w.sm.Stop()
		<-w.served
		w.th.Close()
	})
}

// seed gives every account a secret whose newest version holds a
// long-lived token issued and stored age ago, in the usual JSON shape.
// With versions 2 there is an older version a day older, as after the
// previous refresh with KEEP_VERSIONS=2, so that a refresh also prunes one.
func (w *world) seed(age time.Duration, versions int) {
	now := time.Now()
	for i, a := range w.accounts {
		w.sm.CreateSecret(a.Secret)
		uid := strconv.Itoa(1789000000 + i)
		for v := versions - 1; v >= 0; v-- {
			issued := now.Add(-age - time.Duration(v)*24*time.Hour)
			tok := w.th.IssueLongLived(uid, "user_"+a.ID, issued)
			w.sm.AddVersion(a.Secret, []byte(`{"access_token":"`+tok+`","user_id":"`+uid+`"}`), issued)
		}
	}
}

// engine is the engine the function would build, with these clients, but
// for the pacing of the Secret Manager calls (pacedEngine).
func (w *world) engine(concurrency int) *refresh.Engine {
	return &refresh.Engine{
		Spread:         true,
		Secrets:        secretstore.NewFromClient(w.smc),
		States:         statestore.NewFromClient(w.fs.client, collection),
		Platforms:      map[string]refresh.Platform{payload.PlatformThreads: threads.New(w.th.URL(), threadsTimeout, nil).Refresher()},
		Accounts:       refresh.Fixed(w.accounts),
		Logger:         slog.New(w.fs.slots.handler()), // read for its slot lines only
		RefreshAfter:   refreshAfter,
		KeepVersions:   keepVersions,
		Concurrency:    concurrency,
		ThreadsTimeout: threadsTimeout,
	}
}

// settle records every account's state with a pass run at the given time,
// at which every token is adopted and not yet due (rolled_forward), so that
// state exists as after a day of normal passes.
func (w *world) settle(at time.Time) {
	w.tb.Helper()
	e := w.engine(32)
	e.Now = func() time.Time { return at }
	rep, err := e.Pass(context.Background())
	if err != nil {
		w.tb.Fatalf("settling state: %v", err)
	}
	if n := count(rep, refresh.ResultRolledForward); n != len(w.accounts) {
		w.tb.Fatalf("settling state: %d of %d accounts rolled forward: %s", n, len(w.accounts), summary(rep))
	}
}

// dueWorld is n accounts all due, with state recorded as after normal
// passes: each token was refreshed 72 hours ago and its version adopted,
// and the secret keeps the version before it. 72 hours is past
// REFRESH_AFTER and the spread's cycle, so every account is due whatever
// its phase.
func dueWorld(tb testing.TB, fs *firestoreDB, n int, latency time.Duration, smOpts ...smfake.Option) *world {
	tb.Helper()
	w := newWorld(tb, fs, n, latency, smOpts...)
	w.seed(dueAge, keepVersions)
	w.settle(time.Now().Add(-dueAge + time.Hour))
	return w
}

// dueAge is how old the tokens of a due world are.
const dueAge = 72 * time.Hour

// freshWorld is n accounts all fresh: refreshed an hour ago.
func freshWorld(tb testing.TB, fs *firestoreDB, n int) *world {
	tb.Helper()
	w := newWorld(tb, fs, n, 0)
	w.seed(time.Hour, keepVersions)
	w.settle(time.Now())
	return w
}

// passCost is what one pass did and took.
type passCost struct {
	report   refresh.Report
	wall     time.Duration
	fs       rpcCounts
	sm       rpcCounts
	smServer map[string]int // as the Secret Manager server counted them
	threads  int            // requests to Threads: refreshes and inspections
	slots    slotCounts     // Threads slots taken, Google calls inside them
}

// run runs one pass of e and counts what it did.
func (w *world) run(e *refresh.Engine) passCost {
	w.tb.Helper()
	w.fs.rpc.take()
	w.smRPC.take()
	w.fs.slots.take()
	smBefore := w.sm.CallCounts()
	thBefore := w.th.TotalCalls()

	start := time.Now()
	rep, err := e.Pass(context.Background())
	wall := time.Since(start)
	if err != nil {
		w.tb.Fatalf("pass: %v", err)
	}
	c := passCost{report: rep, wall: wall, fs: w.fs.rpc.take(), sm: w.smRPC.take(), threads: w.th.TotalCalls() - thBefore, slots: w.fs.slots.take()}
	c.smServer = w.sm.CallCounts()
	for m, n := range smBefore {
		c.smServer[m] -= n
		if c.smServer[m] == 0 {
			delete(c.smServer, m)
		}
	}
	return c
}

func count(rep refresh.Report, r refresh.Result) int {
	n := 0
	for _, a := range rep.Accounts {
		if a.Result == r {
			n++
		}
	}
	return n
}

// summary counts results, with the first error, for failure messages.
func summary(rep refresh.Report) string {
	byResult := map[refresh.Result]int{}
	firstErr := ""
	for _, a := range rep.Accounts {
		byResult[a.Result]++
		if firstErr == "" && a.Error != "" {
			firstErr = a.Account + ": " + a.Error
		}
	}
	return fmt.Sprintf("%v %s", byResult, firstErr)
}
