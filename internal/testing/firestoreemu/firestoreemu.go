// Package firestoreemu runs the real Cloud Firestore emulator for the tests
// of one package, so that they exercise the real Go client against a real
// server instead of a fake.
//
// A package that needs it declares
//
//	func TestMain(m *testing.M) { os.Exit(firestoreemu.Main(m)) }
//
// and its tests call Host (or Project) before talking to Firestore. When
// FIRESTORE_EMULATOR_HOST is already set, that emulator is used. Otherwise
// Main starts one from the gcloud SDK, which needs Java 17 or later and the
// emulator component:
//
//	gcloud components install cloud-firestore-emulator
//
// or, where the SDK came from apt, the package
// google-cloud-cli-firestore-emulator. Without them the tests that need the
// emulator skip, except when the environment variable CI is set, where a
// missing emulator fails the run.
package firestoreemu

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/jvmemu"
)

// EnvHost is the variable the Firestore client libraries read to find an
// emulator.
const EnvHost = "FIRESTORE_EMULATOR_HOST"

// Spec is the Firestore emulator of the gcloud SDK.
var Spec = jvmemu.Spec{
	Name: "Firestore emulator",
	Jar:  "platform/cloud-firestore-emulator/cloud-firestore-emulator.jar",
	Args: func(jar string, port int) []string {
		return []string{"-cp", jar, "com.google.cloud.datastore.emulator.firestore.CloudFirestore", "start",
			"--host=127.0.0.1", "--port=" + strconv.Itoa(port)}
	},
	HowToGet: "install Java 17+ and the Firestore emulator (`gcloud components install cloud-firestore-emulator`, " +
		"or the apt package google-cloud-cli-firestore-emulator), or set " + EnvHost + " to a running emulator",
}

var shared = &jvmemu.Shared{Spec: Spec, EnvHost: EnvHost}

// Main starts the emulator (unless FIRESTORE_EMULATOR_HOST names one), sets
// FIRESTORE_EMULATOR_HOST, runs the tests, stops the emulator and returns
// the exit code for os.Exit.
func Main(m *testing.M) int { return shared.Main(m) }

// Host returns the emulator's host:port. When there is no emulator the test
// is skipped, or fails when CI is set.
func Host(t testing.TB) string {
	t.Helper()
	return shared.Host(t)
}

// Project returns a project ID that no other test uses (jvmemu.ProjectID),
// named after the test, so that tests running against one emulator do not
// see each other's documents. It skips or fails the test as Host does.
func Project(t testing.TB) string {
	t.Helper()
	Host(t)
	var b strings.Builder
	dash := true // no leading dash, no doubled dashes
	for _, r := range strings.ToLower(t.Name()) {
		if ('a' <= r && r <= 'z') || ('0' <= r && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 40 {
			break
		}
	}
	return jvmemu.ProjectID(strings.TrimSuffix(b.String(), "-"))
}

// Patience is how long a test waits for one call to the emulator at host
// before it gives up (jvmemu.Patience): a multiple of the emulator's own
// start-up time on this machine.
func Patience(host string) time.Duration { return jvmemu.Patience(host) }

// Reset deletes every document of the project's database ("" means
// "(default)") in the emulator.
func Reset(t testing.TB, project, database string) {
	t.Helper()
	h := Host(t)
	if database == "" {
		database = "(default)"
	}
	u := fmt.Sprintf("http://%s/emulator/v1/projects/%s/databases/%s/documents", h, project, database)
	// Bounded by what the emulator's start took, not by fixed seconds: a
	// reset took over 10 s on a machine busy with other test suites.
	ctx, cancel := context.WithTimeout(context.Background(), Patience(h))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u, nil)
	if err != nil {
		t.Fatalf("resetting the emulator: %v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("resetting the emulator: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("resetting the emulator: DELETE %s: %s", u, resp.Status)
	}
}
