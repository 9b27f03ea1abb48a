package detachkeys

import (
	"fmt"
	"io"
	"strings"
)

// Default is the sequence when none is given.
const Default = "ctrl-p,ctrl-q"

// Parse turns docker's --detach-keys syntax into the bytes the terminal
// sends: a comma-separated list where each key is one character ("a") or
// "ctrl-X", X being a letter or one of @ [ \ ] ^ _. ctrl-a is byte 1,
// ctrl-z 26; ctrl-@ is 0 and ctrl-[ ... ctrl-_ are 27 to 31, the ASCII
// control codes the terminal produces for those keys.
func Parse(s string) ([]byte, error) {
	var keys []byte
	for _, key := range strings.Split(s, ",") {
		if len(key) > 1 && strings.HasPrefix(strings.ToLower(key), "ctrl-") {
			rest := key[len("ctrl-"):]
			if len(rest) != 1 {
				return nil, fmt.Errorf("invalid detach keys %q: unknown character %q", s, rest)
			}
			switch ch := rest[0]; {
			case ch >= 'a' && ch <= 'z':
				keys = append(keys, ch-'a'+1)
			case ch >= 'A' && ch <= 'Z':
				keys = append(keys, ch-'A'+1)
			case ch == '@':
				keys = append(keys, 0)
			case ch >= '[' && ch <= '_':
				keys = append(keys, ch-'['+27)
			default:
				return nil, fmt.Errorf("invalid detach keys %q: unknown character %q", s, rest)
			}
			continue
		}
		if len(key) != 1 {
			return nil, fmt.Errorf("invalid detach keys %q: unknown character %q", s, key)
		}
		keys = append(keys, key[0])
	}
	return keys, nil
}

// Reader passes its input through until the detach sequence appears,
// then reports the caller's detached error instead of passing the
// sequence on.
//
// Bytes that might begin the sequence are held back: if the user types
// ctrl-p and then x, the container gets both, but only once the x shows
// that ctrl-p was not the start of ctrl-p,ctrl-q. (That is why, in a
// container's shell, ctrl-p acts only after the next key.)
type Reader struct {
	r        io.Reader
	keys     []byte
	detached error
	matched  int    // how many bytes of keys are held back
	pending  []byte // bytes ready for the caller
	err      error  // the error to report once pending is drained
	buf      []byte
}

// NewReader watches r for keys; Read returns detached once they were
// read. No keys: r is passed through.
func NewReader(r io.Reader, keys []byte, detached error) *Reader {
	return &Reader{r: r, keys: keys, detached: detached}
}

func (d *Reader) Read(p []byte) (int, error) {
	if len(d.keys) == 0 {
		return d.r.Read(p)
	}
	for len(d.pending) == 0 && d.err == nil {
		size := min(max(len(p), 1), 32<<10)
		if len(d.buf) < size {
			d.buf = make([]byte, size)
		}
		n, err := d.r.Read(d.buf[:size])
		for _, b := range d.buf[:n] {
			if d.scan(b) {
				d.err = d.detached
				break
			}
		}
		if err != nil && d.err == nil {
			// The input ended in the middle of a possible sequence:
			// what was held back was ordinary input after all.
			d.pending = append(d.pending, d.keys[:d.matched]...)
			d.matched = 0
			d.err = err
		}
	}
	if len(d.pending) > 0 {
		n := copy(p, d.pending)
		d.pending = d.pending[n:]
		return n, nil
	}
	return 0, d.err
}

// scan takes one input byte and reports whether it completed the
// sequence. On a mismatch it releases only the held bytes that can no
// longer start the sequence: with keys "a,a,b", the input "aaab" still
// detaches.
func (d *Reader) scan(b byte) bool {
	held := append(d.keys[:d.matched:d.matched], b)
	i := 0
	for i < len(held) && !isPrefix(held[i:], d.keys) {
		i++
	}
	d.pending = append(d.pending, held[:i]...)
	d.matched = len(held) - i
	if d.matched == len(d.keys) {
		d.matched = 0
		return true
	}
	return false
}

func isPrefix(b, of []byte) bool {
	return len(b) <= len(of) && string(b) == string(of[:len(b)])
}
