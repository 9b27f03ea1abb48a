package conformance

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// Known is one listed difference: a check runc passes and berth-runtime
// does not, with the reason.
type Known struct {
	Program, Name string
	Reason        string
	// Racy: the check's result depends on timing in the suite itself (runc
	// passes or fails it from one run to the next), so the comparison
	// ignores it in both directions.
	Racy bool
	Line int // in the file, for messages
}

// Key names the check as Difference.Key does.
func (k Known) Key() string { return k.Program + ": " + k.Name }

// ParseKnown reads the known-differences file. Its format groups checks
// under the reason they share:
//
//	# a comment
//	reason: linux.rootfsPropagation is not applied to the rootfs mount
//	linux_rootfs_propagation: (exit status 0)
//	linux_rootfs_propagation: rootfs propagation is set correctly
//
// Each check line is "PROGRAM: CHECK NAME" (the name as the report prints
// it) and takes the reason of the "reason:" line above it. A group headed
// "racy:" instead lists checks whose result is luck (the suite races its
// own container: runc passes or fails them from one run to the next);
// they are compared with nothing. "PROGRAM: *" stands for every check of
// the program: for a program whose checks all hang on one thing
// (process_capabilities_fail's runtimetest checks run only when the
// runtime accepts CAP_TEST with a warning, as spec 1.2 asks); it is stale
// when none differs.
func ParseKnown(r io.Reader, name string) ([]Known, error) {
	var list []Known
	seen := map[string]int{}
	reason, racy := "", false
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, head := range []string{"reason:", "racy:"} {
			if r, ok := strings.CutPrefix(line, head); ok {
				reason, racy = strings.TrimSpace(r), head == "racy:"
				if reason == "" {
					return nil, fmt.Errorf("%s:%d: a %s line with no reason", name, n, head)
				}
				line = ""
			}
		}
		if line == "" {
			continue
		}
		program, check, ok := strings.Cut(line, ": ")
		if !ok || strings.ContainsAny(program, " \t") || strings.TrimSpace(check) == "" {
			return nil, fmt.Errorf("%s:%d: want \"PROGRAM: CHECK\" or \"reason: TEXT\", have %q", name, n, line)
		}
		if reason == "" {
			return nil, fmt.Errorf("%s:%d: check %q has no reason: line above it", name, n, line)
		}
		k := Known{Program: program, Name: strings.TrimSpace(check), Reason: reason, Racy: racy, Line: n}
		if prev, dup := seen[k.Key()]; dup {
			return nil, fmt.Errorf("%s:%d: %q is listed already at line %d", name, n, k.Key(), prev)
		}
		seen[k.Key()] = n
		list = append(list, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return list, nil
}

// LoadKnown reads the known-differences file at path.
func LoadKnown(path string) ([]Known, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("loading the known differences: %w", err)
	}
	defer f.Close()
	return ParseKnown(f, path)
}

// Match holds the differences against the list: unexpected are the
// differences nobody listed, stale the listed ones that no longer differ.
// Both must be empty for the test to pass. Racy checks are neither.
func Match(worse []Difference, known []Known) (unexpected []Difference, stale []Known) {
	differs := map[string]bool{}
	for _, d := range worse {
		differs[d.Key()] = true
		differs[d.Program+": "+Wildcard] = true
		if _, ok := Lookup(known, d); !ok {
			unexpected = append(unexpected, d)
		}
	}
	for _, k := range known {
		if !differs[k.Key()] && !k.Racy {
			stale = append(stale, k)
		}
	}
	return unexpected, stale
}

// Wildcard as a check name stands for every check of its program.
const Wildcard = "*"

// Lookup finds d in the list: its own line, else its program's wildcard.
func Lookup(known []Known, d Difference) (Known, bool) {
	var wild Known
	found := false
	for _, k := range known {
		switch {
		case k.Key() == d.Key():
			return k, true
		case k.Program == d.Program && k.Name == Wildcard:
			wild, found = k, true
		}
	}
	return wild, found
}

// Reason returns the listed reason for d, "" when it is not listed.
func Reason(known []Known, d Difference) string {
	k, _ := Lookup(known, d)
	return k.Reason
}

// FormatKnown writes differences in the known-differences file's format,
// under one placeholder reason: what the test prints for a difference
// nobody listed yet, ready to paste and explain.
func FormatKnown(w io.Writer, diffs []Difference) {
	fmt.Fprintln(w, "reason: TODO (what berth-runtime does wrong, in one line)")
	for _, d := range diffs {
		fmt.Fprintln(w, d.Key())
	}
}
