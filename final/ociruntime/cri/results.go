package cri

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// Status is a spec's outcome in critest's JUnit report (Ginkgo's words).
type Status string

const (
	Passed  Status = "passed"
	Failed  Status = "failed"
	Skipped Status = "skipped"
)

// Results maps each spec critest ran or skipped, by its full name
// ("[k8s.io] Container runtime should support ..."), to its outcome.
type Results map[string]Status

// Count is how many specs have status st.
func (r Results) Count(st Status) int {
	n := 0
	for _, s := range r {
		if s == st {
			n++
		}
	}
	return n
}

type junitSuites struct {
	Suites []struct {
		Cases []struct {
			Name   string `xml:"name,attr"`
			Status string `xml:"status,attr"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// ReadJUnit reads the report critest writes with --ginkgo.junit-report.
// Only specs count ("[It] ..."): the suite's setup nodes are not specs.
// A panicked or timed-out spec counts as failed.
func ReadJUnit(path string) (Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("critest report: %w", err)
	}
	var s junitSuites
	if err := xml.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("critest report %s: %w", path, err)
	}
	r := Results{}
	for _, suite := range s.Suites {
		for _, c := range suite.Cases {
			name, ok := strings.CutPrefix(c.Name, "[It] ")
			if !ok {
				continue
			}
			switch st := Status(c.Status); st {
			case Passed, Failed, Skipped:
				r[name] = st
			case "pending":
				r[name] = Skipped
			default: // panicked, interrupted, aborted, timedout
				r[name] = Failed
			}
		}
	}
	if len(r) == 0 {
		return nil, fmt.Errorf("critest report %s: no spec in it", path)
	}
	return r, nil
}

// Regressions are the specs that base passes and other does not, sorted.
func Regressions(base, other Results) []string {
	var out []string
	for name, st := range base {
		if st == Passed && other[name] != Passed {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// ReadDifferences reads the file of known differences, grouped by
// cause: one or more lines each naming a spec in full, then one or more
// lines indented by a tab that say why berth-runtime fails them (the
// reason applies to every spec of the group above it). Lines starting
// with # and empty lines are comments. A spec without a reason is an
// error: every difference must be explained.
func ReadDifferences(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("known differences: %w", err)
	}
	defer f.Close()
	known := map[string]string{}
	var group []string // specs waiting for their reason
	inReason := false  // the last non-comment line was a reason
	closeGroup := func() error {
		for _, spec := range group {
			if known[spec] == "" {
				return fmt.Errorf("known differences %s: %q has no reason", path, spec)
			}
		}
		group = nil
		return nil
	}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "\t"):
			if len(group) == 0 {
				return nil, fmt.Errorf("known differences %s:%d: a reason with no spec above it", path, n)
			}
			for _, spec := range group {
				known[spec] = strings.TrimSpace(known[spec] + " " + strings.TrimSpace(line))
			}
			inReason = true
		default:
			if inReason {
				if err := closeGroup(); err != nil {
					return nil, err
				}
				inReason = false
			}
			spec := strings.TrimSpace(line)
			if _, dup := known[spec]; dup {
				return nil, fmt.Errorf("known differences %s:%d: %q is listed twice", path, n, spec)
			}
			known[spec] = ""
			group = append(group, spec)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("known differences %s: %w", path, err)
	}
	if err := closeGroup(); err != nil {
		return nil, err
	}
	return known, nil
}

// Judge compares berth's results with runc's against the known
// differences: unlisted are specs runc passes and berth fails that the
// file does not explain; stale are entries of the file that are no
// longer differences (berth passes them now, or runc fails them too).
func Judge(runc, berth Results, known map[string]string) (unlisted, stale []string) {
	reg := Regressions(runc, berth)
	isReg := map[string]bool{}
	for _, name := range reg {
		isReg[name] = true
		if _, ok := known[name]; !ok {
			unlisted = append(unlisted, name)
		}
	}
	for name := range known {
		if !isReg[name] {
			stale = append(stale, name)
		}
	}
	sort.Strings(stale)
	return unlisted, stale
}

var (
	ociErrorRE = regexp.MustCompile(`OCI runtime \w+ failed: (.*?)(: unknown)?"?$`)
	// Ginkgo's text names the node that failed between container and
	// leaf ("[k8s.io] Streaming ... [It] runtime should ..."); the
	// report's names do not.
	nodeRE = regexp.MustCompile(` \[(It|BeforeEach|JustBeforeEach|AfterEach|JustAfterEach|DeferCleanup[^\]]*)\] `)
)

// FailureMessages reads critest's text output (what scripts/critest
// keeps as HANDLER.txt) and returns, for each failed spec, a short
// message: the OCI runtime's error when the runtime refused something,
// else the first lines of the assertion that failed. It is what a
// reader of a new difference wants first.
func FailureMessages(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("critest output: %w", err)
	}
	out := map[string]string{}
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "• [FAILED]") && !strings.HasPrefix(lines[i], "• [PANICKED]") &&
			!strings.HasPrefix(lines[i], "• [TIMEDOUT]") || i+1 >= len(lines) {
			continue
		}
		// The spec's name, with Ginkgo's " [It] " between container and leaf.
		name := nodeRE.ReplaceAllString(strings.TrimSpace(lines[i+1]), " ")
		var oci, assertion string
		for j := i + 2; j < len(lines) && !strings.HasPrefix(lines[j], "•") && !strings.HasPrefix(lines[j], "----"); j++ {
			l := strings.TrimSpace(lines[j])
			if m := ociErrorRE.FindStringSubmatch(l); m != nil && oci == "" {
				oci = m[1]
			}
			if assertion == "" && strings.HasPrefix(l, "[FAILED] ") && !strings.HasPrefix(l, "[FAILED] in [") {
				var parts []string
				for k := j; k < len(lines) && k < j+4; k++ {
					p := strings.TrimSpace(lines[k])
					if p == "" || strings.HasPrefix(p, "In [") || strings.HasPrefix(p, "{") || strings.HasPrefix(p, "----") {
						break
					}
					parts = append(parts, p)
				}
				assertion = strings.TrimPrefix(strings.Join(parts, " "), "[FAILED] ")
			}
		}
		msg := assertion
		if oci != "" {
			msg = "OCI runtime: " + oci
		}
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		out[name] = msg
	}
	return out, nil
}
