//go:build oci

package cri

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/01-namespaces/labtest"
)

// TestCritest runs Kubernetes' CRI validation suite through containerd's
// CRI, with runc's handler and then berth's, in one run of
// scripts/critest, and holds berth to runc: at least as many specs
// passed, and every spec that runc passes and berth fails explained in
// testdata/berth-differences.txt (a difference not listed fails the
// test; so does an entry that is no longer a difference). The specs of
// testdata/racy.txt, a race outside the runtime that either handler
// loses on a busy machine, are compared with nothing.
//
// It takes about five minutes (two runs of the suite), so it carries
// the build tag oci: scripts/test-oci runs it, not scripts/test.
func TestCritest(t *testing.T) {
	labtest.Privileged(t)
	root := labtest.RootDir(t)
	known, err := ReadDifferences(filepath.Join("testdata", "berth-differences.txt"))
	require.NoError(t, err)
	racy, err := ReadDifferences(filepath.Join("testdata", "racy.txt"))
	require.NoError(t, err)

	// The reports stay when the test fails, to be read.
	out, err := os.MkdirTemp("", "berth-critest-results-")
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("critest's reports kept in %s", out)
			return
		}
		_ = os.RemoveAll(out)
	})
	cmd := exec.Command(filepath.Join(root, "scripts", "critest"), "--out", out, "runc", "berth")
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	summary, err := cmd.Output()
	t.Logf("scripts/critest:\n%s", summary)
	require.NoError(t, err, "scripts/critest did not complete (results in %s)", out)

	runc, err := ReadJUnit(filepath.Join(out, "runc.xml"))
	require.NoError(t, err)
	berth, err := ReadJUnit(filepath.Join(out, "berth.xml"))
	require.NoError(t, err)
	for name, why := range racy {
		rs, inRunc := runc[name]
		bs, inBerth := berth[name]
		require.True(t, inRunc && inBerth, "testdata/racy.txt: %q is no spec of this run", name)
		t.Logf("racy, compared with nothing: %s: runc %s, berth %s (%s)", name, rs, bs, why)
		delete(runc, name)
		delete(berth, name)
	}
	t.Logf("runc: %d passed, %d failed; berth: %d passed, %d failed",
		runc.Count(Passed), runc.Count(Failed), berth.Count(Passed), berth.Count(Failed))

	unlisted, stale := Judge(runc, berth, known)
	if len(unlisted) > 0 {
		// In the file's own format, each with berth's error, to start from.
		msgs, err := FailureMessages(filepath.Join(out, "berth.txt"))
		require.NoError(t, err)
		var b strings.Builder
		for _, name := range unlisted {
			fmt.Fprintf(&b, "%s\n\t%s\n", name, msgs[name])
		}
		t.Errorf("runc's handler passes these and berth's fails them, unexplained in testdata/berth-differences.txt "+
			"(berth's error under each; whole output in %s/berth.txt):\n%s", out, b.String())
	}
	assert.Empty(t, stale, "testdata/berth-differences.txt lists these, which are no longer differences: remove them:\n%s",
		strings.Join(stale, "\n"))
	assert.GreaterOrEqual(t, berth.Count(Passed), runc.Count(Passed), "berth's handler passes fewer specs than runc's")
	for name, st := range berth {
		if st == Passed && runc[name] != Passed {
			t.Logf("berth passes, runc does not: %s", name)
		}
	}
}
