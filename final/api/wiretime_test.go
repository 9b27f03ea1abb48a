package api

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestFormatTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   time.Time
		want string
	}{
		{"zero", time.Time{}, "0001-01-01T00:00:00Z"},
		{"UTC", time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC), "2024-05-06T07:08:09Z"},
		{"nanoseconds kept", time.Date(2024, 5, 6, 7, 8, 9, 120, time.UTC), "2024-05-06T07:08:09.00000012Z"},
		{"other zone in UTC", time.Date(2024, 5, 6, 9, 8, 9, 0, time.FixedZone("CEST", 2*3600)), "2024-05-06T07:08:09Z"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, FormatTime(tc.in))
			if !tc.in.IsZero() {
				back, err := time.Parse(time.RFC3339Nano, FormatTime(tc.in))
				assert.NoError(t, err)
				assert.True(t, back.Equal(tc.in))
			}
		})
	}
}
