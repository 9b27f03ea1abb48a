package api

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTimestampReadsSecondsAndFractions(t *testing.T) {
	for in, want := range map[string]time.Time{
		"":                     {},
		"0":                    {},
		"1700000000":           time.Unix(1700000000, 0),
		"1700000000.5":         time.Unix(1700000000, 500_000_000),
		"1700000000.000000001": time.Unix(1700000000, 1),
	} {
		got, err := parseTimestamp("since", in)
		require.NoError(t, err, in)
		assert.True(t, want.Equal(got), "%s: %v", in, got)
	}
	for _, bad := range []string{"soon", "-5", "1.", "1.0000000001", "1.x", "2024-01-01T00:00:00Z"} {
		_, err := parseTimestamp("since", bad)
		assert.ErrorContains(t, err, `invalid value for "since"`, bad)
	}
}

func TestRepoTagNormalizes(t *testing.T) {
	for _, c := range []struct{ repo, tag, wantRepo, wantTag string }{
		{"foo", "", "foo", "latest"},
		{"docker.io/library/foo", "1", "foo", "1"},
		{"foo:2", "", "foo", "2"},
		{"localhost:5000/team/app", "", "localhost:5000/team/app", "latest"},
		{"", "", "", ""},
	} {
		repo, tag, err := repoTag(c.repo, c.tag)
		require.NoError(t, err, c.repo)
		assert.Equal(t, c.wantRepo, repo, c.repo)
		assert.Equal(t, c.wantTag, tag, c.repo)
	}
	for _, c := range [][2]string{{"Foo", ""}, {"foo:1", "2"}, {"", "1"}, {"foo", "no spaces"}, {"foo@sha256:" + "0123456789012345678901234567890123456789012345678901234567890123", ""}} {
		_, _, err := repoTag(c[0], c[1])
		assert.Error(t, err, "%q %q", c[0], c[1])
	}
}

func TestBoolValuesAsDockerdReadsThem(t *testing.T) {
	q := url.Values{"a": {"1"}, "b": {"true"}, "c": {"0"}, "d": {"no"}, "e": {"False"}, "f": {"none"}, "g": {""}, "h": {"yes"}}
	for key, want := range map[string]bool{"a": true, "b": true, "c": false, "d": false, "e": false, "f": false, "g": false, "h": true, "absent": false} {
		assert.Equal(t, want, boolValue(q, key), key)
	}
	assert.True(t, boolDefault(q, "absent", true))
	assert.True(t, boolDefault(q, "g", true), "empty is absent")
	assert.False(t, boolDefault(q, "c", true))
}

func TestCompareVersionsIsNumeric(t *testing.T) {
	assert.Equal(t, -1, compareVersions("1.9", "1.41"))
	assert.Equal(t, 1, compareVersions("1.42", "1.41"))
	assert.Equal(t, 0, compareVersions("1.41", "1.41"))
	assert.Equal(t, 1, compareVersions("2.0", "1.99"))
}

func TestSplitActionKeepsSlashesOfTheName(t *testing.T) {
	name, action := splitAction("example.com/team/app:1/json", "json", "history")
	assert.Equal(t, "example.com/team/app:1", name)
	assert.Equal(t, "json", action)
	name, action = splitAction("busybox", "json")
	assert.Equal(t, "busybox", name)
	assert.Equal(t, "", action)
}
