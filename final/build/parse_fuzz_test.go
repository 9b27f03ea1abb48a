package build

import (
	"strings"
	"testing"
)

// FuzzParse: any Dockerfile is parsed or refused with an error that
// names the file, never a panic or a hang.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"FROM busybox\nRUN echo hi\n",
		"# escape=`\nFROM busybox\nRUN echo `\n  hi\n",
		"ARG V=1\nFROM busybox:${V}\nENV A=b C=\"d e\"\nCOPY --from=0 --chown=1:1 a b/\nCMD [\"sh\", \"-c\"]\n",
		"FROM busybox AS one\nFROM one\nLABEL a=b \\\n  c=d\nEXPOSE 80/tcp\nUSER 1:1\nWORKDIR /x\nENTRYPOINT [\"a\"\n",
		"FROM\n", "RUN x\n", "FROM a\nONBUILD RUN x\n", "FROM a\nRUN <<EOF\nhi\nEOF\n",
		"FROM a\nCOPY [\"a\", \"b\"]\nHEALTHCHECK NONE\nSTOPSIGNAL 9\nSHELL [\"/bin/sh\", \"-c\"]\n",
		"FROM a\nENV ${A:-${B:+x}}=1\n", "FROM a\n\\\n", "\x00\xff", strings.Repeat("FROM a\n", 50),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		df, err := Parse(strings.NewReader(s), "Dockerfile.fuzz")
		if err != nil {
			if !strings.Contains(err.Error(), "Dockerfile.fuzz") {
				t.Fatalf("the error does not name the file: %v", err)
			}
			return
		}
		if df == nil {
			t.Fatal("no Dockerfile and no error")
		}
	})
}
