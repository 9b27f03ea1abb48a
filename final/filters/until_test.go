package filters

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUntilTakesDockersThreeForms(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		value string
		want  time.Time
	}{
		{"24h", now.Add(-24 * time.Hour)},
		{"90m", now.Add(-90 * time.Minute)},
		{"2026-12-01T10:00:00Z", time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)},
		{"2026-12-01T10:00:00.5+01:00", time.Date(2026, 12, 1, 9, 0, 0, 5e8, time.UTC)},
		{"1700000000", time.Unix(1700000000, 0)},
		{"1700000000.25", time.Unix(1700000000, 25e7)},
	} {
		got, set, err := Args{"until": {tc.value}}.Until(now)
		require.NoError(t, err, tc.value)
		assert.True(t, set)
		assert.True(t, tc.want.Equal(got), "%s: %v, want %v", tc.value, got, tc.want)
	}
	_, set, err := Args{}.Until(now)
	assert.NoError(t, err)
	assert.False(t, set, "no until: everything may go")
	got, _, err := Args{"until": {"1h", "2h"}}.Until(now)
	require.NoError(t, err)
	assert.Equal(t, now.Add(-2*time.Hour), got, "the earliest of several")
	_, _, err = Args{"until": {"yesterday"}}.Until(now)
	assert.ErrorContains(t, err, "invalid filter 'until=yesterday'")
}
