package image

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseReference: any string is parsed or refused, never a panic; a
// reference that parses prints as a string that parses to the same
// reference (what the store writes in repositories.json is read back).
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{
		"busybox", "busybox:latest", "library/busybox", "docker.io/library/busybox:1.36",
		"localhost:5000/team/app:v1", "example.com/a/b/c@sha256:" + strings.Repeat("a", 64),
		"app:v1@sha256:" + strings.Repeat("0", 64), "UPPER", "../../etc:passwd", "a//b", ":tag",
		"host:99999999999999999999/x", "[::1]:5000/x:y", "a:" + strings.Repeat("t", 200), "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseReference(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("%q: empty error", s)
			}
			return
		}
		again, err := ParseReference(ref.String())
		if err != nil {
			t.Fatalf("%q parsed to %q, which does not parse: %v", s, ref.String(), err)
		}
		if again.String() != ref.String() {
			t.Fatalf("%q: %q then %q", s, ref.String(), again.String())
		}
		if !utf8.ValidString(ref.String()) || strings.Contains(ref.String(), "..") && !strings.Contains(s, "..") {
			t.Fatalf("%q: odd reference %q", s, ref.String())
		}
	})
}
