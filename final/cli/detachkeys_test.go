package cli

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDetachKeys(t *testing.T) {
	cases := map[string][]byte{
		"ctrl-p,ctrl-q": {16, 17},
		"ctrl-a":        {1},
		"ctrl-Z":        {26},
		"ctrl-@":        {0},
		"ctrl-[":        {27},
		`ctrl-\`:        {28},
		"ctrl-]":        {29},
		"ctrl-^":        {30},
		"ctrl-_":        {31},
		"a,b,ctrl-c":    {'a', 'b', 3},
		"x":             {'x'},
	}
	for in, want := range cases {
		got, err := ParseDetachKeys(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "ctrl-", "ctrl-1", "ctrl-ab", "ab", "a,,b", "ctrl-p,"} {
		_, err := ParseDetachKeys(bad)
		assert.Error(t, err, "%q", bad)
	}
}

// readAllDetach reads r through a detachReader until EOF or detach.
func readAllDetach(r io.Reader, keys string) (string, error) {
	k, err := ParseDetachKeys(keys)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(newDetachReader(r, k))
	return string(b), err
}

func TestS23_DetachKeys(t *testing.T) {
	const p, q = "\x10", "\x11" // ctrl-p, ctrl-q

	// The sequence detaches, and is not passed on.
	out, err := readAllDetach(strings.NewReader("ls\r"+p+q+"never sent"), DefaultDetachKeys)
	assert.True(t, errors.Is(err, errDetached))
	assert.Equal(t, "ls\r", out)

	// A lone ctrl-p is ordinary input once the next key shows it was not
	// the start of the sequence.
	out, err = readAllDetach(strings.NewReader("a"+p+"b"+p+p+q), DefaultDetachKeys)
	assert.True(t, errors.Is(err, errDetached))
	assert.Equal(t, "a"+p+"b"+p, out)

	// Split over reads, one byte at a time.
	out, err = readAllDetach(iotest.OneByteReader(strings.NewReader("xy"+p+q)), DefaultDetachKeys)
	assert.True(t, errors.Is(err, errDetached))
	assert.Equal(t, "xy", out)

	// Input that ends in the middle of a sequence gives the held bytes
	// back, then EOF.
	out, err = readAllDetach(strings.NewReader("end"+p), DefaultDetachKeys)
	assert.NoError(t, err)
	assert.Equal(t, "end"+p, out)

	// A sequence whose start repeats: "a,a,b" in "aaab".
	out, err = readAllDetach(strings.NewReader("zaaab!"), "a,a,b")
	assert.True(t, errors.Is(err, errDetached))
	assert.Equal(t, "za", out)

	// Ordinary input passes untouched.
	out, err = readAllDetach(strings.NewReader("hello\nworld\n"), DefaultDetachKeys)
	assert.NoError(t, err)
	assert.Equal(t, "hello\nworld\n", out)
}

func TestDetachReaderSmallBuffer(t *testing.T) {
	// Held bytes released at once may exceed the caller's buffer; none
	// may be lost.
	k, err := ParseDetachKeys("a,b,c")
	require.NoError(t, err)
	r := newDetachReader(strings.NewReader("abx"), k)
	var got []byte
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			assert.ErrorIs(t, err, io.EOF)
			break
		}
	}
	assert.Equal(t, "abx", string(got))
}
