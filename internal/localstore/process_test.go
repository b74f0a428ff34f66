package localstore

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/threads-token-refresher/threads-token-refresher/internal/refresh"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/leases"
)

// The cross-process tests run this test binary again as child processes;
// the environment tells a child what to do.
const (
	envChild = "LOCALSTORE_TEST_CHILD"
	envDB    = "LOCALSTORE_TEST_DB"
	envOwner = "LOCALSTORE_TEST_OWNER"
	envStart = "LOCALSTORE_TEST_START"
)

func TestMain(m *testing.M) {
	switch os.Getenv(envChild) {
	case "":
		os.Exit(m.Run())
	case "lease":
		childLease()
	case "add":
		childAdd()
	default:
		fmt.Fprintf(os.Stderr, "unknown child %q\n", os.Getenv(envChild))
		os.Exit(2)
	}
	os.Exit(0)
}

func childFail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

// childLease opens the store, waits for the agreed instant and tries to take
// the lease, printing "won" or "busy".
func childLease() {
	s, err := Open(os.Getenv(envDB), Options{})
	if err != nil {
		childFail("open: %v", err)
	}
	defer s.Close()
	ns, err := strconv.ParseInt(os.Getenv(envStart), 10, 64)
	if err != nil {
		childFail("start time: %v", err)
	}
	start := time.Unix(0, ns)
	late := time.Now().After(start)
	time.Sleep(time.Until(start))
	_, err = leases.Take(context.Background(), s, s.Account("main"), os.Getenv(envOwner), time.Now().Add(time.Hour))
	switch {
	case err == nil:
		fmt.Println("won", late)
	case errors.Is(err, refresh.ErrBusy):
		fmt.Println("busy", late)
	default:
		childFail("lease: %v", err)
	}
}

// payloadFor is the payload of version n in the kill test: it names its
// version and varies in size, so that some versions span several pages.
func payloadFor(n int64) []byte {
	size := 64 + int((n*7919)%20000)
	p := fmt.Appendf(nil, `{"access_token":"token-%d","pad":"`, n)
	for len(p) < size {
		p = append(p, byte('a'+(int64(len(p))+n)%26))
	}
	return append(p, `"}`...)
}

// childAdd does what passes do, forever: lease, add a version, commit the
// state pointing at it, destroy an old version. It prints each version
// number once Add has returned.
func childAdd() {
	s, err := Open(os.Getenv(envDB), Options{})
	if err != nil {
		childFail("open: %v", err)
	}
	ctx := context.Background()
	a := s.Account("main")
	owner := os.Getenv(envOwner)
	for {
		vs, err := s.Versions(ctx, a)
		if err != nil {
			childFail("versions: %v", err)
		}
		next := int64(len(vs)) + 1
		leased, err := leases.Take(ctx, s, a, owner, time.Now().Add(time.Hour))
		if err != nil {
			childFail("lease: %v", err)
		}
		v, err := s.Add(ctx, a, payloadFor(next))
		if err != nil {
			childFail("add: %v", err)
		}
		if v.Number != next {
			childFail("added version %d, expected %d", v.Number, next)
		}
		fmt.Println(v.Number)
		st := refresh.State{Secret: a.Secret, Version: v.Name, RefreshedAt: time.Now(), Status: refresh.StatusOK, Rev: leased.Rev}
		if err := s.Commit(ctx, a, owner, st); err != nil {
			childFail("commit: %v", err)
		}
		if next > 3 {
			if err := s.Destroy(ctx, a, refresh.Version{Number: next - 3}); err != nil {
				childFail("destroy: %v", err)
			}
		}
	}
}

func childEnv(kv ...string) []string {
	return append(os.Environ(), kv...)
}

func TestLeaseAcrossProcesses(t *testing.T) {
	t.Parallel()
	s, path := newStore(t, newClock())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	const n = 4
	// Far enough ahead for every child to be up and waiting.
	start := time.Now().Add(3 * time.Second)
	outs := make([]bytes.Buffer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = childEnv(envChild+"=lease", envDB+"="+path,
			envOwner+"="+fmt.Sprintf("process-%d", i), envStart+"="+strconv.FormatInt(start.UnixNano(), 10))
		cmd.Stdout = &outs[i]
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			if err := cmd.Wait(); err != nil {
				errs[i] = fmt.Errorf("%w: %s", err, stderr.String())
			}
		})
	}
	wg.Wait()

	var winners []string
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("process %d: %v", i, errs[i])
		}
		result, late, _ := strings.Cut(strings.TrimSpace(outs[i].String()), " ")
		if late == "true" {
			t.Logf("process %d came up after the start time; the race was less tight", i)
		}
		switch result {
		case "won":
			winners = append(winners, fmt.Sprintf("process-%d", i))
		case "busy":
		default:
			t.Errorf("process %d said %q", i, outs[i].String())
		}
	}
	if len(winners) != 1 {
		t.Fatalf("winners = %v, want exactly one", winners)
	}
	// The record names the one winner.
	rawView(t, path, func(tx *bolt.Tx) error {
		var rec stateRecord
		if err := json.Unmarshal(tx.Bucket(bucketState).Get([]byte("main")), &rec); err != nil {
			return err
		}
		if rec.LeaseOwner != winners[0] {
			t.Errorf("lease owner on file is %q, winner was %q", rec.LeaseOwner, winners[0])
		}
		return nil
	})
}

// A process killed at any point of a pass leaves a file that opens, whose
// versions all check out, and whose current token is readable.
func TestKillDuringWrites(t *testing.T) {
	t.Parallel()
	s, path := newStore(t, newClock())
	a := mustCreate(t, s, "main")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	var reported int64
	for round := range 4 {
		reported = max(reported, runAndKill(t, path, 8+rand.IntN(8)))

		// bbolt's own consistency check of pages and freelist.
		rawView(t, path, func(tx *bolt.Tx) error {
			for err := range tx.Check() {
				t.Errorf("round %d: bbolt check: %v", round, err)
			}
			return nil
		})

		s, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("round %d: Open after kill: %v", round, err)
		}
		vs, err := s.Versions(t.Context(), a)
		if err != nil {
			t.Fatalf("round %d: Versions: %v", round, err)
		}
		if int64(len(vs)) < reported {
			t.Fatalf("round %d: %d versions on file, the child reported adding %d", round, len(vs), reported)
		}
		for i, v := range vs {
			if v.Number != int64(i+1) {
				t.Fatalf("round %d: versions are not numbered 1..%d: %+v", round, len(vs), vs)
			}
			if v.State == refresh.VersionDestroyed {
				continue
			}
			p, err := s.Access(t.Context(), a, v)
			if err != nil {
				t.Errorf("round %d: version %d: %v", round, v.Number, err)
			} else if !bytes.Equal(p, payloadFor(v.Number)) {
				t.Errorf("round %d: version %d holds the wrong payload", round, v.Number)
			}
		}
		newest := vs[len(vs)-1]
		latest, _, err := refresh.Current(t.Context(), s, a)
		if err != nil || latest.Number != newest.Number {
			t.Errorf("round %d: Current = %d, %v; want the newest, %d", round, latest.Number, err, newest.Number)
		}
		// The state's current version, if recorded, is still readable.
		states, err := s.Load(t.Context(), []refresh.Account{a})
		if err != nil {
			t.Fatal(err)
		}
		if st, ok := states["main"]; ok {
			n, _ := refresh.VersionNumber(st.Version)
			if _, err := s.Access(t.Context(), a, refresh.Version{Number: n}); err != nil {
				t.Errorf("round %d: the state's version %s is unreadable: %v", round, st.Version, err)
			}
		}
		_ = s.Close()
		t.Logf("round %d: killed after %d versions reported, %d on file", round, reported, len(vs))
	}
}

// runAndKill starts a child adding versions, kills it once it has reported
// `after` more versions plus a random moment, and returns the highest
// version it reported.
func runAndKill(t *testing.T, path string, after int) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = childEnv(envChild+"=add", envDB+"="+path, envOwner+"=killed-pass")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var last int64
	lines := bufio.NewScanner(out)
	seen := 0
	for seen < after && lines.Scan() {
		n, err := strconv.ParseInt(lines.Text(), 10, 64)
		if err != nil {
			t.Fatalf("child said %q", lines.Text())
		}
		last = n
		seen++
	}
	if seen < after {
		_ = cmd.Wait()
		t.Fatalf("child stopped after %d versions: %s", seen, stderr.String())
	}
	time.Sleep(time.Duration(rand.IntN(20_000)) * time.Microsecond)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	// Versions reported between the count and the kill still count.
	for lines.Scan() {
		if n, err := strconv.ParseInt(lines.Text(), 10, 64); err == nil {
			last = n
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Success() {
		t.Fatalf("child was not killed: %v: %s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Fatalf("child failed before the kill: %s", stderr.String())
	}
	return last
}
