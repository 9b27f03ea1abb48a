package health

import (
	"fmt"
	"time"

	"github.com/moby/moby/api/types/container"
)

// Docker's defaults for the fields a HEALTHCHECK or --health-* leaves at
// zero (dockerd's daemon/health.go).
const (
	DefaultInterval      = 30 * time.Second
	DefaultTimeout       = 30 * time.Second
	DefaultStartPeriod   = 0
	DefaultStartInterval = 5 * time.Second
	DefaultRetries       = 3

	// MaxLog is how many results State keeps, the newest last.
	MaxLog = 5
	// MaxOutput is how much of a check's output a result keeps; more
	// is cut there and marked with "...".
	MaxOutput = 4096
)

// The statuses, as inspect's State.Health.Status and ps's filter name
// them.
const (
	Starting  = container.Starting  // no verdict yet
	Healthy   = container.Healthy   // the last check passed
	Unhealthy = container.Unhealthy // Retries checks failed in a row
	None      = container.NoHealthcheck
)

// Schedule is a health check with Docker's defaults filled in.
type Schedule struct {
	// Test is the command: {"CMD", arg...} runs arg... as exec does,
	// {"CMD-SHELL", line} runs /bin/sh -c line.
	Test          []string
	Interval      time.Duration
	Timeout       time.Duration
	StartPeriod   time.Duration
	StartInterval time.Duration
	Retries       int
}

// Enabled reports whether hc asks for a check to run: a test that is
// neither empty nor NONE (--no-healthcheck, HEALTHCHECK NONE).
func Enabled(hc *container.HealthConfig) bool {
	return hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE"
}

// NewSchedule reads a container's merged health config. It refuses a
// test that is neither CMD nor CMD-SHELL, as dockerd does when it starts
// the monitor.
func NewSchedule(hc *container.HealthConfig) (Schedule, error) {
	if !Enabled(hc) {
		return Schedule{}, fmt.Errorf("health check: no test to run")
	}
	s := Schedule{
		Test:          hc.Test,
		Interval:      orDefault(hc.Interval, DefaultInterval),
		Timeout:       orDefault(hc.Timeout, DefaultTimeout),
		StartPeriod:   orDefault(hc.StartPeriod, DefaultStartPeriod),
		StartInterval: orDefault(hc.StartInterval, DefaultStartInterval),
		Retries:       hc.Retries,
	}
	if s.Retries <= 0 {
		s.Retries = DefaultRetries
	}
	if _, err := s.Command(nil); err != nil {
		return Schedule{}, err
	}
	return s, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Command is the argv a check runs in the container. CMD-SHELL runs its
// line with shell, the container's SHELL (as dockerd does), /bin/sh -c
// if it has none.
func (s Schedule) Command(shell []string) ([]string, error) {
	switch {
	case s.Test[0] == "CMD" && len(s.Test) > 1:
		return s.Test[1:], nil
	case s.Test[0] == "CMD-SHELL" && len(s.Test) == 2:
		if len(shell) == 0 {
			shell = []string{"/bin/sh", "-c"}
		}
		return append(append([]string{}, shell...), s.Test[1]), nil
	}
	return nil, fmt.Errorf("health check: unknown test %q (want CMD or CMD-SHELL)", s.Test)
}

// TimeoutOutput is the output of a check that ran past its timeout, as
// Docker words it.
func TimeoutOutput(timeout time.Duration) string {
	return fmt.Sprintf("Health check exceeded timeout (%v)", timeout)
}

// Merge is dockerd's merge of a container's health config over its
// image's: the container's fields win field by field, the image's fill
// the zero ones; no container config at all takes the image's whole.
// The result is a new value (neither argument changes).
func Merge(ctr, img *container.HealthConfig) *container.HealthConfig {
	if ctr == nil {
		if img == nil {
			return nil
		}
		c := *img
		return &c
	}
	c := *ctr
	if img == nil {
		return &c
	}
	if len(c.Test) == 0 {
		c.Test = img.Test
	}
	if c.Interval == 0 {
		c.Interval = img.Interval
	}
	if c.Timeout == 0 {
		c.Timeout = img.Timeout
	}
	if c.StartPeriod == 0 {
		c.StartPeriod = img.StartPeriod
	}
	if c.StartInterval == 0 {
		c.StartInterval = img.StartInterval
	}
	if c.Retries == 0 {
		c.Retries = img.Retries
	}
	return &c
}
