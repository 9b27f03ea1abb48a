package daemon

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestFirstCheckIn: the first check of a run is due one interval after
// the run's start, never later because the monitor began after it, and
// a whole interval from now when there is no start to count from.
func TestFirstCheckIn(t *testing.T) {
	now := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		since time.Time
		wait  time.Duration
		want  time.Duration
	}{
		{"no start (a resumed monitor)", time.Time{}, time.Second, time.Second},
		{"started just now", now, time.Second, time.Second},
		{"started 3 ms before the monitor", now.Add(-3 * time.Millisecond), time.Second, 997 * time.Millisecond},
		{"due right now", now.Add(-time.Second), time.Second, 0},
		{"started long ago (berthd restarted)", now.Add(-time.Hour), time.Second, time.Second},
		{"a start in the future (clock set back)", now.Add(time.Minute), time.Second, time.Second},
		{"start interval", now.Add(-20 * time.Millisecond), 100 * time.Millisecond, 80 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, firstCheckIn(tc.since, now, tc.wait))
		})
	}
}
