// Package seccomptest builds the probe that tests of seccomp filters run
// inside containers: a static program that tries the syscalls Docker's
// profile refuses and prints what happened (see testdata/probe).
package seccomptest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Refused is the probe's line in a container under Docker's default
// profile with the default capabilities, as under dockerd.
const Refused = "Seccomp=2 keyctl=refused add_key=refused perf_event_open=refused clone3=ENOSYS unshare_user=refused"

// Unconfined is its line without a filter.
const Unconfined = "Seccomp=0 keyctl=allowed add_key=allowed perf_event_open=allowed clone3=EINVAL unshare_user=allowed"

// Probe builds the probe, statically (CGO_ENABLED=0: it runs in any
// root filesystem), into a temporary directory of t, and returns its
// path. The build cache makes it quick after the first time.
func Probe(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	built := filepath.Join(t.TempDir(), "probe")
	cmd := exec.Command("go", "build", "-o", built, "./testdata/probe")
	cmd.Dir = filepath.Dir(file)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the seccomp probe: %v\n%s", err, out)
	}
	// Readable and executable by everybody: containers may run it as
	// another user, and t.TempDir is 0700.
	if err := os.Chmod(filepath.Dir(built), 0o755); err != nil {
		t.Fatal(err)
	}
	return built
}
