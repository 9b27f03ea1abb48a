package conformance

// Difference is one check whose result differs between the baseline
// runtime (runc) and the candidate (berth-runtime).
type Difference struct {
	Program, Name string
	Base, Cand    Result
	// Diagnostic is the candidate's YAML block for the check (its error
	// and the runtime's stderr), for the report and the test's message.
	Diagnostic string
}

// Key names the check: program and check name.
func (d Difference) Key() string { return d.Program + ": " + d.Name }

// Compare lists the checks where cand does worse than base (base passes,
// cand fails, skips or never gets there) and those where cand does better
// (base fails or misses the check, cand passes), in base's order (then
// cand's order, for checks only cand printed).
func Compare(base, cand *Run) (worse, better []Difference) {
	candChecks := map[string]Check{}
	for _, p := range cand.Programs {
		for _, c := range p.Checks {
			candChecks[key(c)] = c
		}
	}
	baseKeys := map[string]bool{}
	for _, p := range base.Programs {
		for _, b := range p.Checks {
			k := key(b)
			baseKeys[k] = true
			c, ok := candChecks[k]
			if !ok && b.Name == NoErrorCheck {
				continue // cand printed test lines: nothing in place of them
			}
			d := Difference{Program: b.Program, Name: b.Name, Base: b.Result, Cand: c.Result, Diagnostic: c.Diagnostic}
			switch {
			case b.Result == Pass && c.Result != Pass:
				worse = append(worse, d)
			case b.Result != Pass && b.Result != Skip && c.Result == Pass:
				better = append(better, d)
			}
		}
	}
	for _, p := range cand.Programs {
		for _, c := range p.Checks {
			if !baseKeys[key(c)] && c.Result == Pass && c.Name != NoErrorCheck {
				better = append(better, Difference{Program: c.Program, Name: c.Name, Base: Missing, Cand: Pass})
			}
		}
	}
	return worse, better
}

func key(c Check) string { return c.Program + ": " + c.Name }
