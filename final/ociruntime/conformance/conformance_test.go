package conformance

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTAP(t *testing.T) {
	tap := `TAP version 13
ok 1 - has expected hostname
  ---
  {
    "actual": "mrsdalloway",
    "expected": "mrsdalloway"
  }
  ...
not ok 2 - create MUST create a new container
  ---
  {
    "error": "exit status 1"
  }
  ...
ok 3 # SKIP linux.mountlabel not set
ok 4 - cpu shares is set correctly
ok 5 - cpu shares is set correctly
not ok 6 rlimit # of files
okay, not a test line
ok 7 - todo thing # TODO later
1..7
`
	checks, err := ParseTAP("prog", strings.NewReader(tap))
	require.NoError(t, err)
	want := []struct {
		name   string
		result Result
	}{
		{"has expected hostname", Pass},
		{"create MUST create a new container", Fail},
		{"# SKIP linux.mountlabel not set", Skip},
		{"cpu shares is set correctly", Pass},
		{"cpu shares is set correctly #2", Pass},
		{"rlimit # of files", Fail},
		{"todo thing", Skip},
	}
	require.Len(t, checks, len(want))
	for i, w := range want {
		assert.Equal(t, "prog", checks[i].Program)
		assert.Equal(t, w.name, checks[i].Name, "line %d", i+1)
		assert.Equal(t, w.result, checks[i].Result, "line %d", i+1)
	}
	assert.Contains(t, checks[0].Diagnostic, `"actual": "mrsdalloway"`)
	assert.Contains(t, checks[1].Diagnostic, `"error": "exit status 1"`)
	assert.Empty(t, checks[2].Diagnostic)
}

// writeRun writes what scripts/oci-validation leaves for one runtime.
func writeRun(t *testing.T, dir string, programs map[string]string, exits map[string]int) *Run {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	tsv := "program\texit\tseconds\n"
	for _, name := range []string{"a", "b", "c"} {
		tap, ok := programs[name]
		if !ok {
			continue
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".tap"), []byte(tap), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".stderr"), []byte("failed to create the container\n"), 0o644))
		tsv += name + "\t" + map[bool]string{true: "1", false: "0"}[exits[name] != 0] + "\t0.5\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "programs.tsv"), []byte(tsv), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "version"), []byte("x version 1\ncommit: y\n"), 0o644))
	r, err := LoadRun(dir)
	require.NoError(t, err)
	return r
}

func TestLoadRunCompareAndMatch(t *testing.T) {
	tmp := t.TempDir()
	runc := writeRun(t, filepath.Join(tmp, "runc"), map[string]string{
		"a": "ok 1 - one\nok 2 - two\nnot ok 3 - three\n1..3\n",
		"b": "ok 1 - four\n1..1\n",
		"c": "1..0\n",
	}, map[string]int{"c": 1})
	berth := writeRun(t, filepath.Join(tmp, "berth-runtime"), map[string]string{
		"a": "ok 1 - one\nnot ok 2 - two\nok 3 - three\n1..3\n",
		"b": "1..0\n",
		"c": "ok 1 - five\n1..1\n",
	}, map[string]int{"b": 1})

	assert.Equal(t, "x version 1", runc.Version)
	assert.Equal(t, Totals{Pass: 3, Fail: 1, Programs: 3, ProgramsFailed: 1, Seconds: 1.5}, runc.Totals())
	assert.Equal(t, 3, runc.Totals().OK())

	worse, better := Compare(runc, berth)
	var keys []string
	for _, d := range worse {
		keys = append(keys, d.Key()+" "+d.Cand.String())
	}
	assert.Equal(t, []string{"a: two not ok", "b: four missing", "b: (exit status 0) not ok"}, keys)
	assert.Contains(t, worse[2].Diagnostic, "failed to create the container")
	keys = nil
	for _, d := range better {
		keys = append(keys, d.Key())
	}
	assert.Equal(t, []string{"a: three", "c: (exit status 0)", "c: five"}, keys)

	known, err := ParseKnown(strings.NewReader(`# comment
reason: b cannot create its container
b: four
b: (exit status 0)
reason: fixed already
a: one
`), "known.txt")
	require.NoError(t, err)
	unexpected, stale := Match(worse, known)
	require.Len(t, unexpected, 1)
	assert.Equal(t, "a: two", unexpected[0].Key())
	require.Len(t, stale, 1)
	assert.Equal(t, "a: one", stale[0].Key())
	assert.Equal(t, "fixed already", stale[0].Reason)

	var buf bytes.Buffer
	FormatKnown(&buf, unexpected)
	again, err := ParseKnown(&buf, "formatted")
	require.NoError(t, err)
	assert.Equal(t, "a: two", again[0].Key())

	buf.Reset()
	WriteReport(&buf, English, []*Run{runc, berth}, runc, berth, known, "a host")
	report := buf.String()
	assert.Contains(t, report, "| runc | x version 1 | 3 | 3 | 1 | 0 | 3 | 1 | 2 |")
	assert.Contains(t, report, "### b cannot create its container (2)")
	assert.Contains(t, report, "### not explained yet (not in known-differences.txt) (1)")
	assert.Contains(t, report, "| c | five | missing |")
	assert.True(t, strings.HasPrefix(report, "[中文](zh/oci-conformance.md)\n\n# "), report)

	// The Chinese edition has the English one's headings (docs/docs_test.go).
	headings := func(s string) (h []string) {
		for _, l := range strings.Split(s, "\n") {
			if m, _, ok := strings.Cut(l, " "); ok && strings.Trim(m, "#") == "" && m != "" {
				h = append(h, m)
			}
		}
		return h
	}
	var zh bytes.Buffer
	WriteReport(&zh, Chinese, []*Run{runc, berth}, runc, berth, known, "a host")
	assert.Equal(t, headings(report), headings(zh.String()))
	assert.True(t, strings.HasPrefix(zh.String(), "[English](../oci-conformance.md)\n"))

	buf.Reset()
	require.NoError(t, WriteTAP(&buf, berth))
	assert.True(t, strings.HasPrefix(buf.String(), "# program: a (exit status 0, 0.5 s)\nok 1 - one\n"), buf.String())
}

func TestParseKnownRefuses(t *testing.T) {
	for _, tc := range []struct{ name, text, err string }{
		{"no reason", "a: one\n", "no reason: line above it"},
		{"empty reason", "reason:\na: one\n", "with no reason"},
		{"not a check", "reason: r\njust words\n", `want "PROGRAM: CHECK"`},
		{"twice", "reason: r\na: one\nreason: s\na: one\n", "listed already at line 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKnown(strings.NewReader(tc.text), "known.txt")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
			assert.Contains(t, err.Error(), "known.txt:")
		})
	}
}

// The file the privileged test reads must always parse.
func TestKnownDifferencesFileParses(t *testing.T) {
	_, err := LoadKnown(filepath.Join("testdata", "known-differences.txt"))
	require.NoError(t, err)
}

func TestMatchIgnoresRacyChecks(t *testing.T) {
	known, err := ParseKnown(strings.NewReader(`racy: the suite kills a container that may have exited
pidfile: create with '--pid-file' option works
kill: gone
`), "known.txt")
	require.NoError(t, err)
	require.Len(t, known, 2)
	assert.True(t, known[0].Racy)
	worse := []Difference{{Program: "pidfile", Name: "create with '--pid-file' option works", Base: Pass, Cand: Fail}}
	unexpected, stale := Match(worse, known)
	assert.Empty(t, unexpected, "a racy check that differs is not unexpected")
	assert.Empty(t, stale, "a racy check that does not differ is not stale")
}

func TestMatchWildcard(t *testing.T) {
	known, err := ParseKnown(strings.NewReader("reason: refused by design\np: *\nq: *\n"), "known.txt")
	require.NoError(t, err)
	worse := []Difference{{Program: "p", Name: "one"}, {Program: "p", Name: "two"}, {Program: "r", Name: "three"}}
	unexpected, stale := Match(worse, known)
	require.Len(t, unexpected, 1)
	assert.Equal(t, "r: three", unexpected[0].Key())
	require.Len(t, stale, 1)
	assert.Equal(t, "q: *", stale[0].Key())
	assert.Equal(t, "refused by design", Reason(known, worse[1]))
	assert.Empty(t, Reason(known, worse[2]))
}

func TestParseTAPErrorInPlaceOfTests(t *testing.T) {
	for _, tc := range []struct {
		name, tap string
		want      Result
	}{
		{"error", "TAP version 13\n  ---\n  {\n    \"error\": \"Hooks MUST be called in the listed order\"\n  }\n  ...\n1..0\n", Fail},
		{"nothing to say", "TAP version 13\n1..0\n", Pass},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checks, err := ParseTAP("hooks", strings.NewReader(tc.tap))
			require.NoError(t, err)
			require.Len(t, checks, 1)
			assert.Equal(t, NoErrorCheck, checks[0].Name)
			assert.Equal(t, tc.want, checks[0].Result)
		})
	}
	// A program with test lines gets no such check.
	checks, err := ParseTAP("p", strings.NewReader("  ---\n  {\"error\": \"x\"}\n  ...\nok 1 - one\n"))
	require.NoError(t, err)
	require.Len(t, checks, 1)
	assert.Equal(t, "one", checks[0].Name)
}

func TestParseTAPUntitled(t *testing.T) {
	checks, err := ParseTAP("p", strings.NewReader("ok 1 -\nok 2\n"))
	require.NoError(t, err)
	require.Len(t, checks, 2)
	assert.Equal(t, Untitled, checks[0].Name)
	assert.Equal(t, Untitled+" #2", checks[1].Name)
}

func TestRacyWildcard(t *testing.T) {
	known, err := ParseKnown(strings.NewReader("racy: intermittent\np: *\n"), "known.txt")
	require.NoError(t, err)
	worse := []Difference{{Program: "p", Name: "one"}, {Program: "q", Name: "two"}}
	unexpected, stale := Match(worse, known)
	require.Len(t, unexpected, 1)
	assert.Equal(t, "q: two", unexpected[0].Key())
	assert.Empty(t, stale)
	assert.Equal(t, []Difference{worse[1]}, notRacy(worse, known))
}
