package api

import "time"

// FormatTime writes t as dockerd writes a moment in a JSON string
// (Created, State.StartedAt, State.FinishedAt): RFC 3339 in UTC with
// nanoseconds, and Go's zero time for one that never happened, which is
// what clients test for ("0001-01-01T00:00:00Z", not an empty string).
// The backends, berthd's and the fake's, share it so that they cannot
// disagree on the format.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}
