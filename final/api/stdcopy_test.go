package api_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berth-project/berth/final/api"
)

func TestStdWriterFrameLayout(t *testing.T) {
	var buf bytes.Buffer
	n, err := api.NewStdWriter(&buf, api.Stderr).Write([]byte("hi\n"))
	require.NoError(t, err)
	assert.Equal(t, 3, n, "the payload's length, not the frame's")
	assert.Equal(t, []byte{2, 0, 0, 0, 0, 0, 0, 3, 'h', 'i', '\n'}, buf.Bytes())
}

func TestStdWriterFramesDemultiplexWithMobysReader(t *testing.T) {
	var buf bytes.Buffer
	out, errW := api.NewStdWriter(&buf, api.Stdout), api.NewStdWriter(&buf, api.Stderr)
	big := bytes.Repeat([]byte("0123456789"), 300_000) // 3 MB: several frames
	for _, w := range []struct {
		w    *api.StdWriter
		data []byte
	}{{out, []byte("one\n")}, {errW, []byte("two\n")}, {out, big}, {errW, nil}} {
		n, err := w.w.Write(w.data)
		require.NoError(t, err)
		require.Equal(t, len(w.data), n)
	}
	var gotOut, gotErr bytes.Buffer
	_, err := stdcopy.StdCopy(&gotOut, &gotErr, &buf)
	require.NoError(t, err)
	assert.Equal(t, append([]byte("one\n"), big...), gotOut.Bytes())
	assert.Equal(t, "two\n", gotErr.String())
}

func TestStdWriterSystemErrorIsAnErrorForTheClient(t *testing.T) {
	var buf bytes.Buffer
	_, err := api.NewStdWriter(&buf, api.Systemerr).Write([]byte("it broke"))
	require.NoError(t, err)
	_, err = stdcopy.StdCopy(&bytes.Buffer{}, &bytes.Buffer{}, &buf)
	assert.ErrorContains(t, err, "it broke")
}

type failingWriter struct{ after int }

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errors.New("gone")
	}
	f.after--
	return len(p), nil
}

func TestStdWriterReportsWhatWasWritten(t *testing.T) {
	w := api.NewStdWriter(&failingWriter{after: 1}, api.Stdout)
	n, err := w.Write(bytes.Repeat([]byte("x"), 3<<20))
	assert.EqualError(t, err, "gone")
	assert.Equal(t, 1<<20, n, "one whole frame went out")
}
