package jvmemu_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/firestoreemu"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/jvmemu"
	"github.com/threads-token-refresher/threads-token-refresher/internal/testing/pubsubemu"
)

// TestLocateHonoursCloudSDKRootDir: the jar is looked for first below
// CLOUDSDK_ROOT_DIR, by exact path or, for a jar whose name carries its
// version, by pattern. (The emulators' own packages test starting and
// stopping them.)
func TestLocateHonoursCloudSDKRootDir(t *testing.T) {
	for _, tt := range []struct {
		spec jvmemu.Spec
		jar  string
	}{
		{firestoreemu.Spec, "platform/cloud-firestore-emulator/cloud-firestore-emulator.jar"},
		{pubsubemu.Spec, "platform/pubsub-emulator/lib/cloud-pubsub-emulator-9.9.9-all.jar"},
	} {
		root := t.TempDir()
		jar := filepath.Join(root, filepath.FromSlash(tt.jar))
		if err := os.MkdirAll(filepath.Dir(jar), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(jar, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Setenv("CLOUDSDK_ROOT_DIR", root)
		_, got, err := tt.spec.Locate()
		if errors.Is(err, jvmemu.ErrNoJava) {
			jvmemu.SkipOrFail(t, err.Error())
		}
		if err != nil {
			t.Fatal(err)
		}
		if got != jar {
			t.Errorf("%s: Locate found %s, want %s", tt.spec.Name, got, jar)
		}
	}
}
