package conformance

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Result is what one check came to.
type Result int

const (
	// Missing: the check's line is not in the output (the program stopped
	// before it, or never started its container).
	Missing Result = iota
	// Pass: "ok N - description".
	Pass
	// Fail: "not ok N - description".
	Fail
	// Skip: "ok N # SKIP reason" (a feature the config did not ask for, or
	// that the host lacks); TAP counts it as ok, this package does not.
	Skip
)

func (r Result) String() string {
	switch r {
	case Pass:
		return "ok"
	case Fail:
		return "not ok"
	case Skip:
		return "skip"
	}
	return "missing"
}

// Check is one test line of one validation program's TAP.
type Check struct {
	Program string
	// Name is the line's description ("#k" appended for the k-th repeat);
	// for a skip with no description, "# SKIP reason".
	Name   string
	Result Result
	// Diagnostic is the YAML block that followed the line, if any (the
	// suite puts the error, the runtime's stderr and the spec reference
	// there).
	Diagnostic string
}

// Untitled names a test line with no description.
const Untitled = "(untitled)"

// NoErrorCheck is the check a program with no test line at all gets: it
// fails when the program printed an error instead (the hook programs do
// that: a YAML block with "error" and the plan 1..0), and passes when the
// program had nothing to say. Without it, runc's and berth-runtime's
// hook results would both read 0 / 0 / 0.
const NoErrorCheck = "(no error in place of the tests)"

// ParseTAP reads the TAP that one validation program printed. Only lines
// at the start of a line count (the YAML diagnostics are indented); a
// description printed more than once gets "#2", "#3", ... so that every
// check has a name of its own.
func ParseTAP(program string, r io.Reader) ([]Check, error) {
	var checks []Check
	seen := map[string]int{}
	inYAML := false
	var yaml strings.Builder
	var orphan []string // YAML blocks before any test line
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if inYAML {
			if strings.TrimSpace(line) == "..." {
				inYAML = false
				if len(checks) == 0 {
					orphan = append(orphan, strings.TrimRight(yaml.String(), "\n"))
				}
				if n := len(checks); n > 0 && checks[n-1].Diagnostic == "" {
					checks[n-1].Diagnostic = strings.TrimRight(yaml.String(), "\n")
				}
				yaml.Reset()
				continue
			}
			yaml.WriteString(strings.TrimPrefix(line, "  "))
			yaml.WriteByte('\n')
			continue
		}
		if strings.TrimSpace(line) == "---" {
			inYAML = true
			continue
		}
		c, ok := parseTestLine(line)
		if !ok {
			continue
		}
		c.Program = program
		if c.Name == "" {
			c.Name = Untitled
		}
		seen[c.Name]++
		if k := seen[c.Name]; k > 1 {
			c.Name = fmt.Sprintf("%s #%d", c.Name, k)
		}
		checks = append(checks, c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading the TAP of %s: %w", program, err)
	}
	if len(checks) == 0 {
		c := Check{Program: program, Name: NoErrorCheck, Result: Pass}
		for _, y := range orphan {
			if strings.Contains(y, `"error"`) {
				c.Result, c.Diagnostic = Fail, y
			}
		}
		checks = append(checks, c)
	}
	return checks, nil
}

// parseTestLine reads "ok 1 - text", "not ok 2 text", "ok 3 # SKIP why".
func parseTestLine(line string) (Check, bool) {
	var c Check
	rest, found := strings.CutPrefix(line, "not ok")
	if found {
		c.Result = Fail
	} else if rest, found = strings.CutPrefix(line, "ok"); found {
		c.Result = Pass
	} else {
		return c, false
	}
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return c, false // "okay", "oknot": not a test line
	}
	rest = strings.TrimSpace(rest)
	// The test number, optional in TAP.
	if i := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); i != 0 {
		if i < 0 {
			i = len(rest)
		}
		if _, err := strconv.Atoi(rest[:i]); err == nil {
			rest = strings.TrimSpace(rest[i:])
		}
	}
	desc, directive, _ := strings.Cut(rest, "#")
	desc = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(desc), "-"))
	directive = strings.TrimSpace(directive)
	upper := strings.ToUpper(directive)
	if strings.HasPrefix(upper, "SKIP") || strings.HasPrefix(upper, "TODO") {
		c.Result = Skip
		if desc == "" {
			desc = "# " + directive
		}
	} else if directive != "" {
		// A '#' inside a description that is no directive: keep it whole.
		desc = strings.TrimSpace(strings.TrimPrefix(rest, "-"))
	}
	c.Name = desc
	return c, true
}
