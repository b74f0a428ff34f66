// Package smfake is an in-process Secret Manager: a gRPC server speaking the
// real secretmanagerpb protocol, so that tests (and benchmarks) drive the
// real Go client against it instead of mocking the client library.
//
// It keeps secrets and versions in memory and follows Secret Manager's
// behaviour where this project depends on it: version numbering, the
// "latest" alias, version states, checksums, paging, status codes,
// answering with the project number, and the per-project, per-minute
// quotas on read, write and access requests, which it enforces by default
// with Google's limits (quota.go). Tests can seed and inspect its state,
// move its clock, slow it down, change or lift the quotas, and make chosen
// calls fail, either before or after they take effect.
package smfake

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/secretmanager/apiv1/secretmanagerpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// maxPageSize is the largest page the real service returns.
const maxPageSize = 25000

// Server is an in-memory Secret Manager reachable over gRPC. It is safe for
// concurrent use.
type Server struct {
	grpc *grpc.Server
	svc  *service

	mu      sync.Mutex
	addr    string
	calls   map[string]int
	faults  map[string][]*fault
	latency map[string]time.Duration
	quotas  *quotas
}

// fault is an injected failure for the next n calls of one method.
type fault struct {
	code codes.Code
	// applied: the call takes effect before it fails.
	applied bool
	n       int
}

// Option configures a Server.
type Option func(*Server)

// WithProjectNumbers maps project IDs to project numbers. Like the real
// service, the server then treats a name with either as the same resource
// and answers with the number. Without a mapping it echoes the project as
// asked.
func WithProjectNumbers(numbers map[string]string) Option {
	return func(s *Server) {
		for id, n := range numbers {
			s.svc.numbers[id] = n
		}
	}
}

// WithClock sets the server's clock, which stamps create and destroy times
// and says which minute a call's quota is counted in.
func WithClock(now func() time.Time) Option {
	return func(s *Server) { s.svc.now = now }
}

// WithMaxPageSize caps the number of items in one list page (25000 by
// default, as in the real service). A request without a page size gets
// pages of this size.
func WithMaxPageSize(n int) Option {
	return func(s *Server) { s.svc.maxPage = n }
}

// WithLatency delays every call of method ("" for every method) by d before
// it is handled. A call whose context ends during the delay is not applied.
func WithLatency(method string, d time.Duration) Option {
	return func(s *Server) { s.SetLatency(method, d) }
}

// WithAccessTamper makes the server pass every AccessSecretVersion answer
// through f before sending it, to model corruption in transit or at rest.
func WithAccessTamper(f func(*secretmanagerpb.AccessSecretVersionResponse)) Option {
	return func(s *Server) { s.TamperAccess(f) }
}

// New returns a server that is not yet listening; see Serve.
func New(opts ...Option) *Server {
	s := &Server{
		svc: &service{
			now:     time.Now,
			maxPage: maxPageSize,
			numbers: make(map[string]string),
			secrets: make(map[string]*secret),
		},
		calls:   make(map[string]int),
		faults:  make(map[string][]*fault),
		latency: make(map[string]time.Duration),
		quotas:  newQuotas(),
	}
	for _, o := range opts {
		o(s)
	}
	s.grpc = grpc.NewServer(grpc.UnaryInterceptor(s.intercept))
	secretmanagerpb.RegisterSecretManagerServiceServer(s.grpc, s.svc)
	return s
}

// Start starts a server on a free port of 127.0.0.1 and stops it when the
// test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smfake: listening: %v", err)
	}
	s := New(opts...)
	// Known before Start returns, not when the goroutine gets to Serve.
	s.setAddr(lis)
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	t.Cleanup(func() {
		s.Stop()
		// ErrServerStopped: Stop came before the goroutine reached Serve.
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("smfake: serving: %v", err)
		}
	})
	return s
}

// Serve answers calls arriving on lis until Stop is called.
func (s *Server) Serve(lis net.Listener) error {
	s.setAddr(lis)
	return s.grpc.Serve(lis)
}

func (s *Server) setAddr(lis net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addr = lis.Addr().String()
}

// Stop closes the listener and every connection at once.
func (s *Server) Stop() { s.grpc.Stop() }

// Addr returns the host:port the server listens on; it is empty until Start
// or Serve.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// SetNow replaces the server's clock.
func (s *Server) SetNow(now func() time.Time) {
	s.svc.mu.Lock()
	defer s.svc.mu.Unlock()
	s.svc.now = now
}

// TamperAccess makes the server pass every AccessSecretVersion answer
// through f before sending it; nil stops tampering.
func (s *Server) TamperAccess(f func(*secretmanagerpb.AccessSecretVersionResponse)) {
	s.svc.mu.Lock()
	defer s.svc.mu.Unlock()
	s.svc.tamper = f
}

// SetLatency delays every call of method ("" for every method) by d before
// it is handled; 0 removes the delay.
func (s *Server) SetLatency(method string, d time.Duration) {
	if method != "" {
		mustBeMethod(method)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency[method] = d
}

// FailNext makes the next n calls of method (as named in the proto, such as
// "AddSecretVersion") fail with code without doing anything.
func (s *Server) FailNext(method string, code codes.Code, n int) {
	s.addFault(method, &fault{code: code, n: n})
}

// FailNextAfterApplying makes the next n calls of method take effect and
// then answer with code, as when a deadline passes after a write landed.
func (s *Server) FailNextAfterApplying(method string, code codes.Code, n int) {
	s.addFault(method, &fault{code: code, applied: true, n: n})
}

func (s *Server) addFault(method string, f *fault) {
	mustBeMethod(method)
	if f.n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[method] = append(s.faults[method], f)
}

// Calls returns how many calls of method the server has received, failed
// ones included.
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// CallCounts returns the number of calls received, by method.
func (s *Server) CallCounts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	counts := make(map[string]int, len(s.calls))
	for m, n := range s.calls {
		counts[m] = n
	}
	return counts
}

// intercept counts each call, charges it to its project's quota as it
// arrives, and applies the configured latency and faults around the
// handler. A call the quota refuses is answered after the latency, like any
// other, and takes no injected fault.
func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	method := path.Base(info.FullMethod)
	category, categorized := CategoryOf(method)
	var now time.Time
	project, charged := requestProject(req)
	if charged {
		now, project = s.consumer(project)
	}

	s.mu.Lock()
	s.calls[method]++
	delay, ok := s.latency[method]
	if !ok {
		delay = s.latency[""]
	}
	var refusal error
	if !categorized {
		refusal = statusf(codes.Internal, "smfake: method %s has no quota category", method)
	} else if charged {
		if limit, ok := s.quotas.admit(project, category, now); !ok {
			refusal = quotaExceeded(category, project, limit)
		}
	}
	var f *fault
	if q := s.faults[method]; len(q) > 0 && refusal == nil {
		f = q[0]
		if f.n--; f.n == 0 {
			s.faults[method] = q[1:]
		}
	}
	s.mu.Unlock()

	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, contextStatus(ctx)
		}
	}
	if refusal != nil {
		return nil, refusal
	}
	if f != nil && !f.applied {
		return nil, injected(method, f.code)
	}
	resp, err := handler(ctx, req)
	if f != nil {
		return nil, injected(method, f.code)
	}
	return resp, err
}

func injected(method string, code codes.Code) error {
	return statusf(code, "smfake: injected %s failure of %s", code, method)
}

// mustBeMethod panics on a method name the service does not have, so that a
// typo in a test does not silently inject nothing.
func mustBeMethod(method string) {
	for _, m := range secretmanagerpb.SecretManagerService_ServiceDesc.Methods {
		if m.MethodName == method {
			return
		}
	}
	panic(fmt.Sprintf("smfake: SecretManagerService has no method %q", method))
}
