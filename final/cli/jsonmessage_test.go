package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDisplayJSONMessages(t *testing.T) {
	stream := strings.Join([]string{
		`{"stream":"Step 1/2 : FROM busybox\n"}`,
		`{"status":"Loading layer","id":"3f1e","progressDetail":{"current":512,"total":2048},"progress":"[==>  ]"}`,
		`{"status":"Loading layer","id":"3f1e","progressDetail":{"current":2048,"total":2048}}`,
		`{"aux":{"ID":"sha256:abc"}}`,
		`{"status":"sha256:0123"}`,
		`{"stream":"Loaded image: keep:1\n"}`,
	}, "\n")

	// Not a terminal: text and statuses, no progress, no escapes.
	var out bytes.Buffer
	var aux []string
	err := displayJSONMessagesAux(strings.NewReader(stream), &out, false, func(m json.RawMessage) { aux = append(aux, string(m)) })
	require.NoError(t, err)
	assert.Equal(t, "Step 1/2 : FROM busybox\nsha256:0123\nLoaded image: keep:1\n", out.String())
	assert.Equal(t, []string{`{"ID":"sha256:abc"}`}, aux)

	// A terminal: the progress line is drawn, then redrawn in place.
	out.Reset()
	require.NoError(t, displayJSONMessages(strings.NewReader(stream), &out, true))
	s := out.String()
	assert.Contains(t, s, "\x1b[1A\x1b[2K\r3f1e: Loading layer [============>")
	assert.Contains(t, s, "512B/2.048kB")
	assert.Contains(t, s, "[==================================================>]  2.048kB/2.048kB", "dockerd's bar: 50 = and the head")
	assert.Contains(t, s, "Loaded image: keep:1\n")
}

func TestDisplayJSONMessagesErrors(t *testing.T) {
	var out bytes.Buffer
	err := displayJSONMessages(strings.NewReader(`{"stream":"Step 2/2 : RUN false\n"}
{"errorDetail":{"code":2,"message":"The command '/bin/sh -c false' returned a non-zero code: 1"},"error":"The command '/bin/sh -c false' returned a non-zero code: 1"}
{"stream":"never shown\n"}`), &out, false)
	var jerr *jsonError
	require.True(t, errors.As(err, &jerr))
	assert.Equal(t, 2, jerr.Code)
	assert.Equal(t, "The command '/bin/sh -c false' returned a non-zero code: 1", jerr.Message)
	assert.Equal(t, "Step 2/2 : RUN false\n", out.String())

	err = displayJSONMessages(strings.NewReader(`{"error":"only the short form"}`), &out, false)
	assert.EqualError(t, err, "only the short form")

	err = displayJSONMessages(strings.NewReader(`{"stream":"cut`), &out, false)
	assert.ErrorContains(t, err, "reading the daemon's progress")

	// Not JSON at all: shown as it is.
	out.Reset()
	require.NoError(t, displayJSONMessages(strings.NewReader("Loaded image: x:1\n"), &out, false))
	assert.Equal(t, "Loaded image: x:1\n", out.String())
}

// On a terminal, a layer keeps one line from its first status to its
// last, as the docker CLI draws a pull.
func TestDisplayPullOnATerminal(t *testing.T) {
	stream := strings.Join([]string{
		`{"status":"Pulling from team/app","id":"1"}`,
		`{"status":"Pulling fs layer","progressDetail":{},"id":"aaa"}`,
		`{"status":"Pulling fs layer","progressDetail":{},"id":"bbb"}`,
		`{"status":"Downloading","progressDetail":{"current":50,"total":100},"id":"aaa"}`,
		`{"status":"Pull complete","progressDetail":{},"id":"bbb"}`,
		`{"status":"Digest: sha256:00"}`,
	}, "\n")
	var out bytes.Buffer
	require.NoError(t, displayJSONMessages(strings.NewReader(stream), &out, true))
	s := out.String()
	assert.Equal(t, 1, strings.Count(s, "aaa: Pulling fs layer\n"), "printed once, then redrawn in place")
	assert.Contains(t, s, "\x1b[2A\x1b[2K\raaa: Downloading [=========================>                         ]      50B/100B\x1b[2B\r", "two lines up: aaa's")
	assert.Contains(t, s, "\x1b[1A\x1b[2K\rbbb: Pull complete\x1b[1B\r")
	assert.True(t, strings.HasSuffix(s, "Digest: sha256:00\n"))
}
