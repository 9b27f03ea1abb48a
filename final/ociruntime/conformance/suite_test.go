//go:build oci

package conformance

import (
	"bytes"
	"flag"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

var update = flag.Bool("update", false, "rewrite docs/oci-conformance.md and docs/oci-conformance/*.tap from this run")

// TestBerthRuntimeBesideRunc runs runtime-tools' validation suite against
// runc and a berth-runtime built from this tree, in the same run
// (scripts/oci-validation), and fails on any check runc passes and
// berth-runtime does not that testdata/known-differences.txt does not
// list, and on any listed check that no longer differs. It takes a few
// minutes (the suite's programs wait for containers in seconds-long
// polls), hence the build tag: scripts/test-oci runs it.
func TestBerthRuntimeBesideRunc(t *testing.T) {
	labtest.Privileged(t)
	_, err := exec.LookPath("runc")
	labtest.Need(t, err == nil, "runc is not installed (scripts/deps installs docker.io, which brings it)")
	root := labtest.RootDir(t)

	bin := t.TempDir()
	build := exec.Command("go", "build", "-tags", "netgo", "-o", filepath.Join(bin, "berth-runtime"), "./final/cmd/berth-runtime")
	build.Dir = root
	out, err := build.CombinedOutput()
	require.NoError(t, err, "building berth-runtime: %s", out)

	results := t.TempDir()
	args := []string{"--out", results, "runc", filepath.Join(bin, "berth-runtime")}
	// crun, when installed, as a third column of the report only: Debian's
	// crun 1.8 refuses a hybrid cgroup host such as this one at every
	// create, and the report should say so with figures.
	_, err = exec.LookPath("crun")
	withCrun := err == nil
	if withCrun {
		args = append(args, "crun")
	}
	suite := exec.Command(filepath.Join(root, "scripts", "oci-validation"), args...)
	suite.Dir = root
	var log bytes.Buffer
	suite.Stdout, suite.Stderr = &log, &log
	require.NoError(t, suite.Run(), "scripts/oci-validation: %s", log.String())
	t.Log(strings.TrimSpace(log.String()))

	runc, err := LoadRun(filepath.Join(results, "runc"))
	require.NoError(t, err)
	berth, err := LoadRun(filepath.Join(results, "berth-runtime"))
	require.NoError(t, err)
	known, err := LoadKnown(filepath.Join("testdata", "known-differences.txt"))
	require.NoError(t, err)

	runs := []*Run{runc, berth}
	if withCrun {
		crun, err := LoadRun(filepath.Join(results, "crun"))
		require.NoError(t, err)
		runs = append(runs, crun)
	}
	if *update {
		require.NoError(t, WriteDocs(filepath.Join(root, "docs"), runs, berth, known))
		t.Logf("rewrote docs/oci-conformance.md and docs/oci-conformance/")
	}

	worse, _ := Compare(runc, berth)
	unexpected, stale := Match(worse, known)
	if len(unexpected) > 0 {
		var msg strings.Builder
		fmt.Fprintf(&msg, "%d checks runc passes and berth-runtime does not, not in testdata/known-differences.txt:\n\n", len(unexpected))
		for _, d := range unexpected {
			fmt.Fprintf(&msg, "%s: berth-runtime %s\n", d.Key(), d.Cand)
			if d.Diagnostic != "" {
				fmt.Fprintf(&msg, "    %s\n", strings.ReplaceAll(firstLines(d.Diagnostic, 8), "\n", "\n    "))
			}
		}
		shown := map[string]bool{}
		for _, d := range unexpected {
			if p := berth.Program(d.Program); p != nil && p.Stderr != "" && !shown[p.Name] {
				shown[p.Name] = true
				fmt.Fprintf(&msg, "\n%s's stderr under berth-runtime:\n    %s\n", p.Name, strings.ReplaceAll(firstLines(p.Stderr, 12), "\n", "\n    "))
			}
		}
		msg.WriteString("\nFix them, or list them with a reason:\n\n")
		FormatKnown(&msg, unexpected)
		t.Error(msg.String())
	}
	if len(stale) > 0 {
		var msg strings.Builder
		fmt.Fprintf(&msg, "%d checks in testdata/known-differences.txt no longer differ from runc: remove them\n", len(stale))
		for _, k := range stale {
			fmt.Fprintf(&msg, "line %d: %s (%s)\n", k.Line, k.Key(), k.Reason)
		}
		t.Error(msg.String())
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return strings.Join(lines, "\n")
}
