package build

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/moby/moby/api/types/container"
)

// healthcheck reads a HEALTHCHECK instruction into the image config's
// Healthcheck, as Docker's builder stores it:
//
//	HEALTHCHECK NONE                          {"Test":["NONE"]}
//	HEALTHCHECK --interval=5s CMD curl -f x   {"Test":["CMD-SHELL","curl -f x"],"Interval":5000000000}
//	HEALTHCHECK CMD ["pg_isready","-q"]       {"Test":["CMD","pg_isready","-q"]}
//
// The options are durations (0, or at least 1ms) and a count; what is
// not given stays 0, which the engine reads as Docker's default when the
// check runs (and a container's --health-* can still fill in).
func healthcheck(in Instruction) (*container.HealthConfig, error) {
	line := strings.TrimSpace(in.Args[0])
	typ, rest, _ := strings.Cut(line, " ")
	if typ == "" {
		typ, rest, _ = strings.Cut(line, "\t")
	}
	rest = strings.TrimSpace(rest)
	switch strings.ToUpper(typ) {
	case "NONE":
		if rest != "" {
			return nil, fmt.Errorf("HEALTHCHECK NONE takes no arguments")
		}
		return &container.HealthConfig{Test: []string{"NONE"}}, nil
	case "CMD":
	default:
		return nil, fmt.Errorf("Unknown type %q in HEALTHCHECK (try CMD)", typ)
	}
	if rest == "" {
		return nil, fmt.Errorf("Missing command after HEALTHCHECK CMD")
	}
	hc := &container.HealthConfig{}
	var argv []string
	if strings.HasPrefix(rest, "[") && json.Unmarshal([]byte(rest), &argv) == nil && len(argv) > 0 {
		hc.Test = append([]string{"CMD"}, argv...)
	} else {
		hc.Test = []string{"CMD-SHELL", rest}
	}
	for _, f := range []struct {
		name string
		to   *time.Duration
	}{{"interval", &hc.Interval}, {"timeout", &hc.Timeout}, {"start-period", &hc.StartPeriod}, {"start-interval", &hc.StartInterval}} {
		v, ok := in.Flag(f.name)
		if !ok || v == "" {
			continue
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("HEALTHCHECK --%s: %w", f.name, err)
		}
		if d != 0 && d < time.Millisecond {
			return nil, fmt.Errorf("Interval %q cannot be less than 1ms", "--"+f.name)
		}
		*f.to = d
	}
	if v, ok := in.Flag("retries"); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("HEALTHCHECK --retries: %w", err)
		}
		if n < 0 {
			return nil, fmt.Errorf("--retries cannot be negative (%d)", n)
		}
		hc.Retries = n
	}
	return hc, nil
}
