package api

import "time"

// FormatTime writes a time as the Engine API's JSON does in inspect
// (State.StartedAt, FinishedAt, Created): RFC 3339 with nanoseconds, in
// UTC, and the zero time as Go's zero, which dockerd sends for a
// container that never started or never ended and clients compare
// against ("0001-01-01T00:00:00Z").
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}
