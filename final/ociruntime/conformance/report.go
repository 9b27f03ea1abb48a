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

// Edition is the language of a report: docs/ has an English and a
// Chinese edition of every page (docs/docs_test.go keeps their headings in
// step), so the report writer writes both. Check names, reasons and TAP
// stay in English, as the suite and the known-differences file print them.
type Edition struct {
	Path string // relative to docs/
	// Fixed texts; %s and %d verbs are filled in the order WriteReport gives.
	Top, Title, Intro, Totals, TotalsNote, Worse, None, Grouped, Unlisted, Better, Racy, RacyNote, PerProgram, PerProgramNote string
	Columns                                                                                                                   []string // program, check, why
}

// English and Chinese are the report's two editions.
var (
	English = Edition{
		Path:  "oci-conformance.md",
		Top:   "[中文](zh/oci-conformance.md)",
		Title: "OCI runtime conformance: %s beside %s",
		Intro: `The OCI runtime specification's conformance suite, runtime-tools v0.9.0's validation programs
(github.com/opencontainers/runtime-tools, validating runtime-spec v1.0.2), run against %s in the same
run on the same machine. Each program creates containers through the runtime's command line (create,
start, state, kill, delete) and prints TAP; most run the suite's runtimetest inside the container, which
checks that the container is what config.json asked for.

The rule berth-runtime is held to (final/ociruntime/conformance): every check that runc passes here,
berth-runtime passes too, unless the difference is listed with its reason in
final/ociruntime/conformance/testdata/known-differences.txt. A check runc fails on this machine says
something about the host (no blkio weight, no hugetlb, no AppArmor or SELinux), not about the runtime.
Where crun is installed it is a third column, compared with nothing: Debian's crun 1.8 refuses a cgroup v1
hybrid host at every create ("cgroups in hybrid mode not supported, drop all controllers from cgroupv2"),
so there its figures count little more than the programs' checks of the command line.

Machine: %s. Written by ` + "`%s`" + `
(or ` + "`scripts/oci-validation --docs runc PATH/berth-runtime`" + `); the full TAP of each runtime is in
[oci-conformance/](oci-conformance/).`,
		Totals: "Totals",
		TotalsNote: `"ok" counts TAP's ok lines, skips included (TAP's own count); "pass" leaves the skips out. A program that
cannot create its container often prints no test line at all: "programs failed" counts the programs that
exited non-zero or timed out. Seconds are the wall-clock time of the whole suite.`,
		Worse:          "Checks %s passes and %s does not: %d",
		None:           "None.",
		Grouped:        "Grouped by cause, the largest group first:",
		Unlisted:       "not explained yet (not in known-differences.txt)",
		Better:         "Checks %s passes and %s does not: %d",
		Racy:           "Checks compared with nothing: %d",
		RacyNote:       "Their result is luck: the suite races its own container, and runc passes or fails them from one run\nto the next on this machine.",
		PerProgram:     "Per program",
		PerProgramNote: "ok / not ok / skip, and the exit status where it is not 0.",
		Columns:        []string{"program", "check", "why"},
	}
	Chinese = Edition{
		Path:  "zh/oci-conformance.md",
		Top:   "[English](../oci-conformance.md)",
		Title: "OCI 运行时一致性：%s 与 %s 对照",
		Intro: `OCI 运行时规范的一致性测试套件，即 runtime-tools v0.9.0 的 validation 程序
（github.com/opencontainers/runtime-tools，验证 runtime-spec v1.0.2），在同一台机器的同一次运行中
对 %s 执行。每个程序通过运行时的命令行（create、start、state、kill、delete）创建容器并输出 TAP；
多数程序在容器里运行套件自带的 runtimetest，检查容器是否符合 config.json 的要求。

berth-runtime 遵守的规则（final/ociruntime/conformance）：runc 在这里通过的每一项检查，
berth-runtime 也必须通过，除非这一差异连同原因列在
final/ociruntime/conformance/testdata/known-differences.txt 中。runc 在这台机器上失败的检查
说明的是主机（没有 blkio weight、hugetlb、AppArmor 或 SELinux），而不是运行时。
装有 crun 时它是第三列，不参与比较：Debian 的 crun 1.8 在 cgroup v1 混合模式的主机上拒绝每一次 create
（"cgroups in hybrid mode not supported, drop all controllers from cgroupv2"），
所以在这样的主机上它的数字几乎只是各程序对命令行的检查。

机器：%s。由 ` + "`%s`" + ` 生成
（或 ` + "`scripts/oci-validation --docs runc PATH/berth-runtime`" + `）；每个运行时的完整 TAP 在
[../oci-conformance/](../oci-conformance/)。`,
		Totals: "总计",
		TotalsNote: `"ok" 是 TAP 的 ok 行数，包括 skip（TAP 自己的计数）；"pass" 不含 skip。无法创建容器的程序
往往一行测试也不输出：“programs failed” 统计以非零状态退出或超时的程序。seconds 是整个套件的耗时。`,
		Worse:          "%s 通过而 %s 未通过的检查：%d",
		None:           "无。",
		Grouped:        "按原因分组，最大的一组在前：",
		Unlisted:       "尚未解释（不在 known-differences.txt 中）",
		Better:         "%s 通过而 %s 未通过的检查：%d",
		Racy:           "不参与比较的检查：%d",
		RacyNote:       "它们的结果取决于运气：套件与自己的容器竞争，runc 在这台机器上时而通过时而失败。",
		PerProgram:     "按程序",
		PerProgramNote: "ok / not ok / skip，退出状态不为 0 时附上。",
		Columns:        []string{"程序", "检查", "原因"},
	}
)

// WriteReport writes one edition of docs/oci-conformance.md: what was run
// where, the totals of every run, the differences between base (runc) and
// cand (berth-runtime) grouped by their listed reason, and the counts per
// program of every run.
func WriteReport(w io.Writer, e Edition, runs []*Run, base, cand *Run, known []Known, host string) {
	fmt.Fprintf(w, "%s\n\n# "+e.Title+"\n\n", e.Top, cand.Label, base.Label)
	fmt.Fprintf(w, e.Intro+"\n\n## %s\n\n", labels(runs), host, Regenerate, e.Totals)
	writeTotals(w, runs)
	fmt.Fprintf(w, "\n%s\n", e.TotalsNote)

	worse, better := Compare(base, cand)
	worse, better = notRacy(worse, known), notRacy(better, known)
	racy := 0
	for _, k := range known {
		if k.Racy {
			racy++
		}
	}
	groups := map[string][]Difference{}
	for _, d := range worse {
		r := Reason(known, d)
		if r == "" {
			r = e.Unlisted
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
	fmt.Fprintf(w, "\n## "+e.Worse+"\n\n", base.Label, cand.Label, len(worse))
	if len(worse) == 0 {
		fmt.Fprintln(w, e.None)
	} else {
		fmt.Fprintln(w, e.Grouped)
	}
	for _, r := range order {
		fmt.Fprintf(w, "\n### %s (%d)\n\n| %s | %s | %s |\n|---|---|---|\n", cell(r), len(groups[r]), e.Columns[0], e.Columns[1], cand.Label)
		// Sorted: runtimetest prints some checks in Go's map order.
		sortDiffs(groups[r])
		for _, d := range groups[r] {
			fmt.Fprintf(w, "| %s | %s | %s |\n", d.Program, cell(d.Name), d.Cand)
		}
	}
	fmt.Fprintf(w, "\n## "+e.Better+"\n\n", cand.Label, base.Label, len(better))
	if len(better) == 0 {
		fmt.Fprintln(w, e.None)
	} else {
		fmt.Fprintf(w, "| %s | %s | %s |\n|---|---|---|\n", e.Columns[0], e.Columns[1], base.Label)
		sortDiffs(better)
		for _, d := range better {
			fmt.Fprintf(w, "| %s | %s | %s |\n", d.Program, cell(d.Name), d.Base)
		}
	}
	if racy > 0 {
		fmt.Fprintf(w, "\n## "+e.Racy+"\n\n%s\n\n", racy, e.RacyNote)
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n|---|---|---|---|---|\n", e.Columns[0], e.Columns[1], e.Columns[2], base.Label, cand.Label)
		for _, k := range known {
			if k.Racy {
				fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", k.Program, cell(k.Name), cell(k.Reason), result(base, k), result(cand, k))
			}
		}
	}
	fmt.Fprintf(w, "\n## %s\n\n%s\n\n", e.PerProgram, e.PerProgramNote)
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

func notRacy(diffs []Difference, known []Known) []Difference {
	var keep []Difference
	for _, d := range diffs {
		if k, ok := Lookup(known, d); !ok || !k.Racy {
			keep = append(keep, d)
		}
	}
	return keep
}

// result is what run r printed for the listed check k ("ok 280, not ok 2"
// and so on for a wildcard: the program's counts).
func result(r *Run, k Known) string {
	p := r.Program(k.Program)
	if p == nil {
		return "not run"
	}
	if k.Name == Wildcard {
		t := p.Totals()
		s := fmt.Sprintf("%d / %d / %d", t.Pass, t.Fail, t.Skip)
		if p.Exit != 0 {
			s += fmt.Sprintf(" (exit %d)", p.Exit)
		}
		return s
	}
	for _, c := range p.Checks {
		if c.Name == k.Name {
			return c.Result.String()
		}
	}
	return Missing.String()
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
// comment line naming it and followed by its stderr as comment lines:
// docs/oci-conformance/LABEL.tap.
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
		// The program's stderr, as TAP comments: where the runtime says
		// why a container could not be created.
		for _, l := range strings.Split(p.Stderr, "\n") {
			if l != "" {
				fmt.Fprintf(w, "# stderr: %s\n", l)
			}
		}
	}
	return nil
}

// WriteDocs rewrites docsDir/oci-conformance.md, its Chinese edition
// docsDir/zh/oci-conformance.md and
// docsDir/oci-conformance/LABEL.tap from runs (the first is the baseline,
// cand the one held to it).
func WriteDocs(docsDir string, runs []*Run, cand *Run, known []Known) error {
	host := Host()
	for _, e := range []Edition{English, Chinese} {
		var md bytes.Buffer
		WriteReport(&md, e, runs, runs[0], cand, known, host)
		if err := os.WriteFile(filepath.Join(docsDir, e.Path), md.Bytes(), 0o644); err != nil {
			return fmt.Errorf("writing the conformance report: %w", err)
		}
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
	} else if b, err := os.ReadFile("/sys/fs/cgroup/unified/cgroup.controllers"); err == nil {
		// What the v2 side holds matters: crun refuses a hybrid host
		// whose v2 side has any controller.
		ctl := strings.Join(strings.Fields(string(b)), ", ")
		if ctl == "" {
			ctl = "none"
		}
		cgroups = "cgroup v1 hybrid (v2 mounted at /sys/fs/cgroup/unified, controllers: " + ctl + ")"
	}
	return kernel + ", " + cgroups
}
