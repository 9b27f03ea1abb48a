package conformance

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Regenerate is the command that rewrites the report, printed in it.
const Regenerate = "go test -tags oci -run TestBerthRuntimeBesideRunc ./final/ociruntime/conformance -update"

// WriteSummary writes a run's summary (scripts/oci-validation's
// OUT/summary.md): totals per runtime, counts per program, and for every
// runtime after the first the checks where it does worse than the first.
func WriteSummary(w io.Writer, runs []*Run) {
	fmt.Fprintf(w, "# runtime-tools v0.9.0 validation: %s\n\n", labels(runs))
	writeTotals(w, runs)
	fmt.Fprintln(w)
	writePerProgram(w, runs)
	for _, cand := range runs[1:] {
		worse, better := Compare(runs[0], cand)
		fmt.Fprintf(w, "\n## %s beside %s: %d checks worse, %d better\n\n", cand.Label, runs[0].Label, len(worse), len(better))
		for _, d := range worse {
			fmt.Fprintf(w, "- worse: %s (%s: %s, %s: %s)\n", d.Key(), runs[0].Label, d.Base, cand.Label, d.Cand)
		}
		for _, d := range better {
			fmt.Fprintf(w, "- better: %s (%s: %s, %s: %s)\n", d.Key(), runs[0].Label, d.Base, cand.Label, d.Cand)
		}
	}
}

// WriteReport writes docs/oci-conformance.md: what was run where, both
// totals, the differences between base (runc) and cand (berth-runtime)
// grouped by their listed reason, and the counts per program of every run.
func WriteReport(w io.Writer, runs []*Run, base, cand *Run, known []Known, host string) {
	fmt.Fprintf(w, `# OCI runtime conformance: %s beside %s

The OCI runtime specification's conformance suite, [runtime-tools](https://github.com/opencontainers/runtime-tools)
v0.9.0's validation programs (validating runtime-spec v1.0.2), run against %s, in the same run and on the
same machine. Each program creates containers through the runtime's command line (create, start, state,
kill, delete) and prints TAP; most run the suite's runtimetest inside the container, which checks that the
container is what config.json asked for.

The rule berth-runtime is held to (final/ociruntime/conformance): every check that runc passes here,
berth-runtime passes too, unless the difference is listed with its reason in
final/ociruntime/conformance/testdata/known-differences.txt. A check runc fails on this machine says
something about the host (no blkio weight, no hugetlb, no AppArmor or SELinux), not about the runtime.

Machine: %s. Written by `+"`%s`"+`
(or `+"`scripts/oci-validation --docs runc berth-runtime`"+`, with a berth-runtime on PATH); the full TAP
of each runtime is in [oci-conformance/](oci-conformance/).

## Totals

`, cand.Label, base.Label, labels(runs), host, Regenerate)
	writeTotals(w, runs)
	fmt.Fprintln(w, `
"ok" counts TAP's ok lines, skips included (TAP's own count); "pass" leaves the skips out. A program that
cannot create its container often prints no test line at all: "programs failed" counts the programs that
exited non-zero or timed out.`)

	worse, better := Compare(base, cand)
	racy := map[string]bool{}
	for _, k := range known {
		if k.Racy {
			racy[k.Key()] = true
		}
	}
	worse, better = notRacy(worse, racy), notRacy(better, racy)
	groups := map[string][]Difference{}
	for _, d := range worse {
		r := Reason(known, d)
		if r == "" {
			r = "not explained yet (not in known-differences.txt)"
		}
		groups[r] = append(groups[r], d)
	}
	order := make([]string, 0, len(groups))
	for r := range groups {
		order = append(order, r)
	}
	sort.Slice(order, func(i, j int) bool {
		if len(groups[order[i]]) != len(groups[order[j]]) {
			return len(groups[order[i]]) > len(groups[order[j]])
		}
		return order[i] < order[j]
	})
	fmt.Fprintf(w, "\n## Checks %s passes and %s does not: %d\n\n", base.Label, cand.Label, len(worse))
	if len(worse) == 0 {
		fmt.Fprintln(w, "None.")
	}
	if len(order) > 0 {
		fmt.Fprintln(w, "Grouped by cause, the largest group first:")
	}
	for _, r := range order {
		fmt.Fprintf(w, "\n### %s (%d)\n\n| program | check | %s |\n|---|---|---|\n", r, len(groups[r]), cand.Label)
		// Sorted: runtimetest prints some checks in Go's map order.
		sortDiffs(groups[r])
		for _, d := range groups[r] {
			fmt.Fprintf(w, "| %s | %s | %s |\n", d.Program, cell(d.Name), d.Cand)
		}
	}
	fmt.Fprintf(w, "\n## Checks %s passes and %s does not: %d\n\n", cand.Label, base.Label, len(better))
	if len(better) == 0 {
		fmt.Fprintln(w, "None.")
	} else {
		fmt.Fprintf(w, "| program | check | %s |\n|---|---|---|\n", base.Label)
		sortDiffs(better)
		for _, d := range better {
			fmt.Fprintf(w, "| %s | %s | %s |\n", d.Program, cell(d.Name), d.Base)
		}
	}
	if len(racy) > 0 {
		fmt.Fprintf(w, "\n## Checks compared with nothing: %d\n\n", len(racy))
		fmt.Fprintln(w, "Their result is luck: the suite races its own container, and runc passes or fails them from one run")
		fmt.Fprintln(w, "to the next on this machine.")
		fmt.Fprintln(w)
		fmt.Fprintf(w, "| program | check | why | %s | %s |\n|---|---|---|---|---|\n", base.Label, cand.Label)
		for _, k := range known {
			if k.Racy {
				fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", k.Program, cell(k.Name), cell(k.Reason), result(base, k), result(cand, k))
			}
		}
	}
	fmt.Fprintln(w, "\n## Per program\n\nok / not ok / skip, and the exit status where it is not 0.")
	fmt.Fprintln(w)
	writePerProgram(w, runs)
}

func sortDiffs(diffs []Difference) {
	sort.SliceStable(diffs, func(i, j int) bool {
		if diffs[i].Program != diffs[j].Program {
			return diffs[i].Program < diffs[j].Program
		}
		return diffs[i].Name < diffs[j].Name
	})
}

func notRacy(diffs []Difference, racy map[string]bool) []Difference {
	var keep []Difference
	for _, d := range diffs {
		if !racy[d.Key()] {
			keep = append(keep, d)
		}
	}
	return keep
}

// result is what run r printed for the listed check k.
func result(r *Run, k Known) Result {
	if p := r.Program(k.Program); p != nil {
		for _, c := range p.Checks {
			if c.Name == k.Name {
				return c.Result
			}
		}
	}
	return Missing
}

func labels(runs []*Run) string {
	l := make([]string, len(runs))
	for i, r := range runs {
		l[i] = r.Label
	}
	return strings.Join(l, ", ")
}

func writeTotals(w io.Writer, runs []*Run) {
	fmt.Fprintln(w, "| runtime | version | ok | pass | not ok | skip | programs | programs failed | seconds |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range runs {
		t := r.Totals()
		fmt.Fprintf(w, "| %s | %s | %d | %d | %d | %d | %d | %d | %.0f |\n",
			r.Label, cell(r.Version), t.OK(), t.Pass, t.Fail, t.Skip, t.Programs, t.ProgramsFailed, t.Seconds)
	}
}

func writePerProgram(w io.Writer, runs []*Run) {
	fmt.Fprintf(w, "| program | %s |\n|---|%s\n", strings.Join(runLabels(runs), " | "), strings.Repeat("---|", len(runs)))
	var names []string
	seen := map[string]bool{}
	for _, r := range runs {
		for _, p := range r.Programs {
			if !seen[p.Name] {
				seen[p.Name] = true
				names = append(names, p.Name)
			}
		}
	}
	for _, n := range names {
		cells := make([]string, len(runs))
		for i, r := range runs {
			p := r.Program(n)
			if p == nil {
				cells[i] = "not run"
				continue
			}
			t := p.Totals()
			cells[i] = fmt.Sprintf("%d / %d / %d", t.Pass, t.Fail, t.Skip)
			if p.Exit != 0 {
				cells[i] += fmt.Sprintf(" (exit %d)", p.Exit)
			}
		}
		fmt.Fprintf(w, "| %s | %s |\n", n, strings.Join(cells, " | "))
	}
}

func runLabels(runs []*Run) []string {
	l := make([]string, len(runs))
	for i, r := range runs {
		l[i] = r.Label
	}
	return l
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

// WriteTAP writes a run's TAP, all programs in order, each after a
// comment line naming it: docs/oci-conformance/LABEL.tap.
func WriteTAP(w io.Writer, r *Run) error {
	for _, p := range r.Programs {
		fmt.Fprintf(w, "# program: %s (exit status %d, %.1f s)\n", p.Name, p.Exit, p.Seconds)
		b, err := os.ReadFile(filepath.Join(r.Dir, p.Name+".tap"))
		if err != nil {
			return fmt.Errorf("writing the TAP of %s: %w", r.Label, err)
		}
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("writing the TAP of %s: %w", r.Label, err)
		}
		if len(b) > 0 && b[len(b)-1] != '\n' {
			fmt.Fprintln(w)
		}
	}
	return nil
}

// WriteDocs rewrites docsDir/oci-conformance.md and
// docsDir/oci-conformance/LABEL.tap from runs (the first is the baseline,
// cand the one held to it).
func WriteDocs(docsDir string, runs []*Run, cand *Run, known []Known) error {
	var md bytes.Buffer
	WriteReport(&md, runs, runs[0], cand, known, Host())
	if err := os.WriteFile(filepath.Join(docsDir, "oci-conformance.md"), md.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing the conformance report: %w", err)
	}
	tapDir := filepath.Join(docsDir, "oci-conformance")
	if err := os.MkdirAll(tapDir, 0o755); err != nil {
		return fmt.Errorf("writing the conformance report: %w", err)
	}
	for _, r := range runs {
		var tap bytes.Buffer
		if err := WriteTAP(&tap, r); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(tapDir, r.Label+".tap"), tap.Bytes(), 0o644); err != nil {
			return fmt.Errorf("writing the TAP of %s: %w", r.Label, err)
		}
	}
	return nil
}

// Host describes the machine for the report: kernel release and cgroup
// layout, the two facts that decide most of runc's own failures.
func Host() string {
	kernel := "unknown kernel"
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		kernel = "Linux " + strings.TrimSpace(string(b))
	}
	cgroups := "cgroup v1"
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		cgroups = "cgroup v2"
	} else if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.controllers"); err == nil {
		cgroups = "cgroup v1 hybrid (v2 mounted at /sys/fs/cgroup/unified, no controllers)"
	}
	return kernel + ", " + cgroups
}
