package cri

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A report as Ginkgo writes it, cut down: setup nodes, each status.
const report = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="6" disabled="1" errors="0" failures="2">
  <testsuite name="CRI validation" tests="6">
    <testcase name="[BeforeSuite]" classname="CRI validation" status="passed" time="0.1"></testcase>
    <testcase name="[It] [k8s.io] A should pass" classname="CRI validation" status="passed" time="1"></testcase>
    <testcase name="[It] [k8s.io] B should fail" classname="CRI validation" status="failed" time="1"><failure message="x"></failure></testcase>
    <testcase name="[It] [k8s.io] C is skipped" classname="CRI validation" status="skipped" time="0"></testcase>
    <testcase name="[It] [k8s.io] D timed out" classname="CRI validation" status="timedout" time="60"></testcase>
    <testcase name="[AfterSuite]" classname="CRI validation" status="failed" time="0.1"></testcase>
  </testsuite>
</testsuites>
`

func TestReadJUnit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.xml")
	require.NoError(t, os.WriteFile(path, []byte(report), 0o644))
	r, err := ReadJUnit(path)
	require.NoError(t, err)
	assert.Equal(t, Results{
		"[k8s.io] A should pass": Passed,
		"[k8s.io] B should fail": Failed,
		"[k8s.io] C is skipped":  Skipped,
		"[k8s.io] D timed out":   Failed,
	}, r)
	assert.Equal(t, 1, r.Count(Passed))
	assert.Equal(t, 2, r.Count(Failed))

	empty := filepath.Join(t.TempDir(), "e.xml")
	require.NoError(t, os.WriteFile(empty, []byte(`<testsuites><testsuite name="x"></testsuite></testsuites>`), 0o644))
	_, err = ReadJUnit(empty)
	assert.ErrorContains(t, err, "no spec")
	_, err = ReadJUnit(filepath.Join(t.TempDir(), "missing.xml"))
	assert.ErrorContains(t, err, "missing.xml")
}

func TestReadDifferences(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       map[string]string
		err        string
	}{
		{name: "empty", text: "# nothing\n\n", want: map[string]string{}},
		{
			name: "two entries, a reason on two lines",
			text: "# header\n[k8s.io] A\n\twhy A\n\tgoes on\n\n[k8s.io] B\n\twhy B\n",
			want: map[string]string{"[k8s.io] A": "why A goes on", "[k8s.io] B": "why B"},
		},
		{
			name: "a group shares its reason",
			text: "[k8s.io] A\n[k8s.io] B\n\twhy both\n[k8s.io] C\n\twhy C\n",
			want: map[string]string{"[k8s.io] A": "why both", "[k8s.io] B": "why both", "[k8s.io] C": "why C"},
		},
		{name: "no reason at the end", text: "[k8s.io] A\n\twhy\n[k8s.io] B\n", err: `"[k8s.io] B" has no reason`},
		{name: "reason first", text: "\twhy\n[k8s.io] A\n", err: "no spec above it"},
		{name: "twice", text: "[k8s.io] A\n\twhy\n[k8s.io] A\n\twhy\n", err: "listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "d.txt")
			require.NoError(t, os.WriteFile(path, []byte(tc.text), 0o644))
			got, err := ReadDifferences(path)
			if tc.err != "" {
				assert.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestJudge(t *testing.T) {
	runc := Results{"a": Passed, "b": Passed, "c": Failed, "d": Passed, "e": Passed}
	berth := Results{"a": Passed, "b": Failed, "c": Failed, "d": Skipped, "e": Passed}
	assert.Equal(t, []string{"b", "d"}, Regressions(runc, berth))

	for _, tc := range []struct {
		name            string
		known           map[string]string
		unlisted, stale []string
	}{
		{name: "all listed", known: map[string]string{"b": "x", "d": "y"}},
		{name: "one unlisted", known: map[string]string{"b": "x"}, unlisted: []string{"d"}},
		{name: "berth passes it now", known: map[string]string{"b": "x", "d": "y", "e": "z"}, stale: []string{"e"}},
		{name: "runc fails it too", known: map[string]string{"b": "x", "c": "w", "d": "y"}, stale: []string{"c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unlisted, stale := Judge(runc, berth, tc.known)
			assert.Equal(t, tc.unlisted, unlisted)
			assert.Equal(t, tc.stale, stale)
		})
	}
}

// TestDifferencesFileReads: the repository's lists are well formed (each
// spec with its reason), whether or not the slow suite runs.
func TestDifferencesFileReads(t *testing.T) {
	for _, name := range []string{"berth-differences.txt", "racy.txt"} {
		_, err := ReadDifferences(filepath.Join("testdata", name))
		require.NoError(t, err, name)
	}
}

// Ginkgo's text output, cut down: a refusal by the runtime, an assertion,
// a failure in a BeforeEach, and a spec that passed.
const textOutput = `• [FAILED] [0.2 seconds]
[k8s.io] Streaming runtime should support streaming interfaces [It] runtime should support attach [Conformance]
/root/go/pkg/mod/sigs.k8s.io/cri-tools@v1.37.0/pkg/validate/streaming.go:100

  Timeline >>
  Dec  7 23:49:15.000: INFO: Unexpected error occurred: rpc error: code = Unknown desc = failed to create containerd task: failed to create shim task: OCI runtime create failed: linux.namespaces: no uts namespace: not supported: unknown
  [FAILED] in [It] - streaming.go:101 @ 12/07/26 23:49:15.748
  << Timeline

  [FAILED] failed to start container
  Unexpected error:
      <*status.Error | 0x1>:
      rpc error: code = Unknown desc = failed to create containerd task: failed to create shim task: OCI runtime create failed: linux.namespaces: no uts namespace: not supported: unknown
      {
  In [It] at: streaming.go:101 @ 12/07/26 23:49:15.748
------------------------------
• [FAILED] [1.0 seconds]
[k8s.io] Security Context bucket [It] runtime should support MaskedPaths
/root/go/pkg/mod/sigs.k8s.io/cri-tools@v1.37.0/pkg/validate/security_context_linux.go:594

  [FAILED] Expected an error to have occurred.  Got:
      <nil>: nil
  In [It] at: security_context_linux.go:621 @ 12/07/26 23:49:15.748
------------------------------
• [FAILED] [1.0 seconds]
[k8s.io] Multiple Containers [Conformance] when running multiple containers in a pod [BeforeEach] should support network
/root/go/pkg/mod/sigs.k8s.io/cri-tools@v1.37.0/pkg/validate/multi_container_linux.go:80

  [FAILED] failed to start container
------------------------------
•
`

func TestFailureMessages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "berth.txt")
	require.NoError(t, os.WriteFile(path, []byte(textOutput), 0o644))
	m, err := FailureMessages(path)
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"[k8s.io] Streaming runtime should support streaming interfaces runtime should support attach [Conformance]":  "OCI runtime: linux.namespaces: no uts namespace: not supported",
		"[k8s.io] Security Context bucket runtime should support MaskedPaths":                                         "Expected an error to have occurred.  Got: <nil>: nil",
		"[k8s.io] Multiple Containers [Conformance] when running multiple containers in a pod should support network": "failed to start container",
	}, m)
}
