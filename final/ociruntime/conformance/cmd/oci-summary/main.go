// Command oci-summary is the last step of scripts/oci-validation: it reads
// the TAP each runtime's run left in OUT/LABEL and writes OUT/summary.md
// (final/ociruntime/conformance does the reading and the writing). With
// -docs it also rewrites the repository's docs/oci-conformance.md and
// docs/oci-conformance/LABEL.tap, which needs the runs of runc and
// berth-runtime.
//
//	go run ./final/ociruntime/conformance/cmd/oci-summary -out OUT [-docs DIR] LABEL...
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-project/berth/final/ociruntime/conformance"
)

func main() {
	out := flag.String("out", "", "the directory scripts/oci-validation wrote (OUT)")
	docs := flag.String("docs", "", "also rewrite DIR/oci-conformance.md and DIR/oci-conformance/ (needs runc and berth-runtime)")
	known := flag.String("known", "final/ociruntime/conformance/testdata/known-differences.txt", "the known differences, for -docs")
	flag.Parse()
	if err := run(*out, *docs, *known, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "oci-summary:", err)
		os.Exit(1)
	}
}

func run(out, docs, knownPath string, labels []string) error {
	if out == "" || len(labels) == 0 {
		return fmt.Errorf("usage: oci-summary -out OUT [-docs DIR] LABEL...")
	}
	var runs []*conformance.Run
	for _, l := range labels {
		r, err := conformance.LoadRun(filepath.Join(out, l))
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	var b bytes.Buffer
	conformance.WriteSummary(&b, runs)
	if err := os.WriteFile(filepath.Join(out, "summary.md"), b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing the summary: %w", err)
	}
	for _, r := range runs {
		t := r.Totals()
		fmt.Fprintf(os.Stderr, "oci-summary: %-14s ok %d (pass %d, skip %d), not ok %d, programs failed %d of %d, %.0f s\n",
			r.Label, t.OK(), t.Pass, t.Skip, t.Fail, t.ProgramsFailed, t.Programs, t.Seconds)
	}
	var base, cand *conformance.Run
	for _, r := range runs {
		switch r.Label {
		case "runc":
			base = r
		case "berth-runtime":
			cand = r
		}
	}
	if base == nil || cand == nil {
		if docs != "" {
			return fmt.Errorf("-docs needs the runs of runc and berth-runtime, have %v", labels)
		}
		return nil
	}
	known, err := conformance.LoadKnown(knownPath)
	if err != nil {
		return err
	}
	// The gate's verdict (TestBerthRuntimeBesideRunc's rule), for whoever
	// runs the script by hand.
	worse, _ := conformance.Compare(base, cand)
	unexpected, stale := conformance.Match(worse, known)
	fmt.Fprintf(os.Stderr, "oci-summary: berth-runtime beside runc: %d checks worse, %d of them not in %s, %d listed there no longer differ\n",
		len(worse), len(unexpected), knownPath, len(stale))
	for _, d := range unexpected {
		fmt.Fprintf(os.Stderr, "  not listed: %s (berth-runtime: %s)\n", d.Key(), d.Cand)
	}
	for _, k := range stale {
		fmt.Fprintf(os.Stderr, "  stale: line %d: %s\n", k.Line, k.Key())
	}
	if docs == "" {
		return nil
	}
	// runc first: the report's baseline.
	ordered := []*conformance.Run{base}
	for _, r := range runs {
		if r != base {
			ordered = append(ordered, r)
		}
	}
	return conformance.WriteDocs(docs, ordered, cand, known)
}
