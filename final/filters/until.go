package filters

import (
	"math"
	"strconv"
	"time"
)

// Until reads the until filter of the prunes: before which moment an
// object must have been created to go. Docker takes three forms, tried
// in this order: a Go duration back from now ("24h", "10m"), a date
// ("2006-01-02", "2006-01-02T15:04:05", RFC 3339 with or without
// fractions), or Unix seconds with an optional fraction ("1700000000.5").
// Several until values: the earliest wins, as every one must hold.
func (a Args) Until(now time.Time) (until time.Time, set bool, err error) {
	for _, v := range a["until"] {
		t, err := parseUntil(v, now)
		if err != nil {
			return time.Time{}, false, err
		}
		if !set || t.Before(until) {
			until, set = t, true
		}
	}
	return until, set, nil
}

func parseUntil(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil && secs >= 0 && !math.IsInf(secs, 0) {
		whole, frac := math.Modf(secs)
		return time.Unix(int64(whole), int64(frac*1e9)), nil
	}
	return time.Time{}, invalid("invalid filter 'until=%s': not a duration, a date or a Unix time", v)
}
