package detachkeys

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
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
		got, err := Parse(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "ctrl-", "ctrl-1", "ctrl-ab", "ab", "a,,b", "ctrl-p,"} {
		_, err := Parse(bad)
		assert.Error(t, err, "%q", bad)
	}
}

// errDetached stands for the caller's error.
var errDetached = errors.New("read escape sequence")

// readAllDetach reads r through a Reader until EOF or detach.
func readAllDetach(r io.Reader, keys string) (string, error) {
	k, err := Parse(keys)
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(NewReader(r, k, errDetached))
	return string(b), err
}

func TestS23_DetachKeys(t *testing.T) {
	const p, q = "\x10", "\x11" // ctrl-p, ctrl-q

	// The sequence detaches, and is not passed on.
	out, err := readAllDetach(strings.NewReader("ls\r"+p+q+"never sent"), Default)
	assert.True(t, errors.Is(err, errDetached))
	assert.Equal(t, "ls\r", out)

	// A lone ctrl-p is ordinary input once the next key shows it was not
	// the start of the sequence.
	out, err = readAllDetach(strings.NewReader("a"+p+"b"+p+p+q), Default)
	assert.True(t, errors.Is(err, errDetached))
	assert.Equal(t, "a"+p+"b"+p, out)

	// Split over reads, one byte at a time.
	out, err = readAllDetach(iotest.OneByteReader(strings.NewReader("xy"+p+q)), Default)
	assert.True(t, errors.Is(err, errDetached))
	assert.Equal(t, "xy", out)

	// Input that ends in the middle of a sequence gives the held bytes
	// back, then EOF.
	out, err = readAllDetach(strings.NewReader("end"+p), Default)
	assert.NoError(t, err)
	assert.Equal(t, "end"+p, out)

	// A sequence whose start repeats: "a,a,b" in "aaab".
	out, err = readAllDetach(strings.NewReader("zaaab!"), "a,a,b")
	assert.True(t, errors.Is(err, errDetached))
	assert.Equal(t, "za", out)

	// Ordinary input passes untouched.
	out, err = readAllDetach(strings.NewReader("hello\nworld\n"), Default)
	assert.NoError(t, err)
	assert.Equal(t, "hello\nworld\n", out)
}

func TestReaderSmallBuffer(t *testing.T) {
	// Held bytes released at once may exceed the caller's buffer; none
	// may be lost.
	k, err := Parse("a,b,c")
	require.NoError(t, err)
	r := NewReader(strings.NewReader("abx"), k, errDetached)
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

func TestReaderWithoutKeysPassesThrough(t *testing.T) {
	b, err := io.ReadAll(NewReader(strings.NewReader("a\x10\x11b"), nil, errDetached))
	require.NoError(t, err)
	assert.Equal(t, "a\x10\x11b", string(b))
}

func TestReaderLargeBuffer(t *testing.T) {
	// A read larger than the Reader's own buffer still sees every byte.
	in := strings.Repeat("x", 100<<10) + "\x10\x11"
	r := NewReader(strings.NewReader(in), []byte{16, 17}, errDetached)
	var got []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := r.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			assert.ErrorIs(t, err, errDetached)
			break
		}
	}
	assert.Equal(t, 100<<10, len(got))
}
