package conformance

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ExitCheck is the name of the check every program gets besides its TAP
// lines: it passes when the program exited 0.
const ExitCheck = "(exit status 0)"

// Program is one validation program's result under one runtime.
type Program struct {
	Name    string
	Exit    int     // the program's exit status (124: the script's timeout ended it)
	Seconds float64 // how long it ran
	Checks  []Check // its TAP lines, then ExitCheck
	Stderr  string  // what it printed there (the runtime's errors, passed on)
}

// Run is the whole suite's result under one runtime: what
// scripts/oci-validation wrote to OUT/LABEL.
type Run struct {
	Label    string
	Dir      string
	Version  string  // the first line of `RUNTIME --version`
	Seconds  float64 // the whole suite, wall clock
	Programs []Program
}

// Totals counts a run's or a program's TAP lines by result (ExitCheck and
// NoErrorCheck are not TAP lines: the first is counted in ProgramsFailed).
type Totals struct {
	Pass, Fail, Skip int
	Programs         int
	ProgramsFailed   int // exited non-zero (or timed out)
	Seconds          float64
}

// OK is the number of TAP "ok" lines, skips included: the figure TAP
// harnesses (and the "runc passes 3,681") report.
func (t Totals) OK() int { return t.Pass + t.Skip }

func (t *Totals) add(p Program) {
	t.Programs++
	t.Seconds += p.Seconds
	if p.Exit != 0 {
		t.ProgramsFailed++
	}
	for _, c := range p.Checks {
		if c.Name == ExitCheck || c.Name == NoErrorCheck {
			continue
		}
		switch c.Result {
		case Pass:
			t.Pass++
		case Fail:
			t.Fail++
		case Skip:
			t.Skip++
		}
	}
}

// Totals of one program.
func (p Program) Totals() Totals {
	var t Totals
	t.add(p)
	return t
}

// Totals of the whole run.
func (r *Run) Totals() Totals {
	var t Totals
	for _, p := range r.Programs {
		t.add(p)
	}
	if r.Seconds > 0 {
		t.Seconds = r.Seconds
	}
	return t
}

// Program returns the named program's result, or nil.
func (r *Run) Program(name string) *Program {
	for i := range r.Programs {
		if r.Programs[i].Name == name {
			return &r.Programs[i]
		}
	}
	return nil
}

// LoadRun reads the results scripts/oci-validation wrote for one runtime
// in dir (OUT/LABEL): programs.tsv gives the programs in the order they
// ran with their exit status and time, PROGRAM.tap each one's TAP.
func LoadRun(dir string) (*Run, error) {
	r := &Run{Label: filepath.Base(dir), Dir: dir}
	tsv, err := os.ReadFile(filepath.Join(dir, "programs.tsv"))
	if err != nil {
		return nil, fmt.Errorf("loading the suite's results for %s: %w", r.Label, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(tsv))
	for first := true; sc.Scan(); first = false {
		f := strings.Split(sc.Text(), "\t")
		if first || len(f) < 3 {
			continue // the header
		}
		p := Program{Name: f[0]}
		if p.Exit, err = strconv.Atoi(f[1]); err != nil {
			return nil, fmt.Errorf("%s: exit status of %s: %w", filepath.Join(dir, "programs.tsv"), f[0], err)
		}
		if p.Seconds, err = strconv.ParseFloat(f[2], 64); err != nil {
			return nil, fmt.Errorf("%s: seconds of %s: %w", filepath.Join(dir, "programs.tsv"), f[0], err)
		}
		tap, err := os.Open(filepath.Join(dir, p.Name+".tap"))
		if err != nil {
			return nil, fmt.Errorf("loading the suite's results for %s: %w", r.Label, err)
		}
		p.Checks, err = ParseTAP(p.Name, tap)
		tap.Close()
		if err != nil {
			return nil, err
		}
		if stderr, err := os.ReadFile(filepath.Join(dir, p.Name+".stderr")); err == nil {
			p.Stderr = strings.TrimRight(string(stderr), "\n")
		}
		exit := Check{Program: p.Name, Name: ExitCheck, Result: Pass}
		if p.Exit != 0 {
			exit.Result = Fail
			exit.Diagnostic = fmt.Sprintf("exit status %d", p.Exit)
			if p.Exit == 124 || p.Exit == 137 {
				exit.Diagnostic += " (timed out)"
			}
			if p.Stderr != "" {
				exit.Diagnostic += "\n" + p.Stderr
			}
		}
		p.Checks = append(p.Checks, exit)
		r.Programs = append(r.Programs, p)
	}
	if len(r.Programs) == 0 {
		return nil, fmt.Errorf("loading the suite's results for %s: %s lists no program", r.Label, filepath.Join(dir, "programs.tsv"))
	}
	if b, err := os.ReadFile(filepath.Join(dir, "seconds")); err == nil {
		r.Seconds, _ = strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "version")); err == nil {
		r.Version, _, _ = strings.Cut(strings.TrimSpace(string(b)), "\n")
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("loading the suite's results for %s: %w", r.Label, err)
	}
	return r, nil
}
