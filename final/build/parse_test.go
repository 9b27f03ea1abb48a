package build

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parse(t *testing.T, text string) *Dockerfile {
	t.Helper()
	df, err := Parse(strings.NewReader(text), "Dockerfile")
	require.NoError(t, err)
	return df
}

func parseErr(t *testing.T, text string) *ParseError {
	t.Helper()
	_, err := Parse(strings.NewReader(text), "Dockerfile")
	require.Error(t, err)
	var perr *ParseError
	require.True(t, errors.As(err, &perr), "%T %v", err, err)
	return perr
}

func TestParseJoinsContinuationsAndSkipsComments(t *testing.T) {
	df := parse(t, `# a comment
FROM busybox

# another
run echo one \
    two \
# a comment inside the continuation is skipped

    three
CMD ["sh", "-c", "echo hi"]
`)
	require.Len(t, df.Instructions, 3)
	from, run, cmd := df.Instructions[0], df.Instructions[1], df.Instructions[2]
	assert.Equal(t, Instruction{Line: 2, Name: "FROM", Args: []string{"busybox"}, Original: "FROM busybox"}, from)
	assert.Equal(t, "RUN", run.Name, "keywords are case-insensitive")
	assert.Equal(t, 5, run.Line, "an instruction is named by its first line")
	assert.Equal(t, []string{"echo one     two     three"}, run.Args, "the continuation's leading white space is kept, as Docker joins lines")
	assert.False(t, run.JSON)
	assert.Equal(t, 10, cmd.Line)
	assert.True(t, cmd.JSON)
	assert.Equal(t, []string{"sh", "-c", "echo hi"}, cmd.Args)
}

func TestParseShellFormWhenTheJSONIsNotAnArray(t *testing.T) {
	df := parse(t, "FROM x\nRUN [ -f /etc/passwd ] && echo yes\nENTRYPOINT [\"a\", 1]\n")
	assert.False(t, df.Instructions[1].JSON, "a shell test is not JSON")
	assert.Equal(t, []string{"[ -f /etc/passwd ] && echo yes"}, df.Instructions[1].Args)
	assert.False(t, df.Instructions[2].JSON, "an array with a number is not a JSON string array")
}

func TestParseEscapeDirectiveChangesTheContinuation(t *testing.T) {
	df := parse(t, "# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo done\n")
	assert.Equal(t, '`', df.Escape)
	require.Len(t, df.Instructions, 2)
	assert.Equal(t, []string{`dir c:\   && echo done`}, df.Instructions[1].Args)
	// After the first instruction, a directive is only a comment.
	df = parse(t, "FROM x\n# escape=`\nRUN a \\\n b\n")
	assert.Equal(t, '\\', df.Escape)
	assert.Equal(t, []string{"a  b"}, df.Instructions[1].Args)
	assert.Equal(t, 1, parseErr(t, "# escape=x\nFROM a\n").Line)
}

func TestParseFlagsAndArguments(t *testing.T) {
	df := parse(t, `FROM busybox AS base
COPY --chown=app:app --chmod=640 a "b c" /dst/
COPY ["x y", "/z"]
ENV A=1 B="two words" C=three\ words
ENV OLD the old form
LABEL "com.example.x"="y" z=1
ARG V=1 W
EXPOSE 80 443/udp
`)
	in := df.Instructions
	assert.Equal(t, []string{"busybox", "AS", "base"}, in[0].Args)
	assert.Equal(t, []Flag{{"chown", "app:app"}, {"chmod", "640"}}, in[1].Flags)
	v, ok := in[1].Flag("chown")
	assert.True(t, ok)
	assert.Equal(t, "app:app", v)
	assert.Equal(t, []string{"a", `"b c"`, "/dst/"}, in[1].Args, "quotes stay until expansion")
	assert.Equal(t, []string{"x y", "/z"}, in[2].Args)
	assert.True(t, in[2].JSON)
	assert.Equal(t, []string{"A=1", `B="two words"`, `C=three\ words`}, in[3].Args)
	assert.Equal(t, []string{"OLD=the old form"}, in[4].Args)
	assert.Equal(t, []string{`"com.example.x"="y"`, "z=1"}, in[5].Args)
	assert.Equal(t, []string{"V=1", "W"}, in[6].Args)
	assert.Equal(t, []string{"80", "443/udp"}, in[7].Args)
}

func TestParseErrorsNameTheLine(t *testing.T) {
	for _, c := range []struct {
		text string
		line int
		msg  string
	}{
		{"FROM busybox\n\nFORM x\n", 3, "Dockerfile:3: unknown instruction: FORM"},
		{"FROM busybox\nRUN\n", 2, "Dockerfile:2: RUN requires at least one argument"},
		{"FROM busybox\nCOPY onlyone\n", 2, "Dockerfile:2: COPY requires at least 2 arguments, but only 1 provided"},
		{"FROM busybox\nCOPY --own=x a b\n", 2, "Dockerfile:2: COPY: unknown flag: --own"},
		{"FROM busybox\nWORKDIR\n", 2, "Dockerfile:2: WORKDIR requires at least one argument"},
		{"FROM busybox\nENV X\n", 2, "Dockerfile:2: ENV: ENV X: no value: use ENV KEY=VALUE"},
		{"FROM busybox\nENV X=\"open\n", 2, "Dockerfile:2: ENV: unmatched \" quote"},
		{"RUN echo\nFROM busybox\n", 1, "Dockerfile:1: the first instruction must be FROM (only ARG may come before it), not RUN"},
		{"FROM a b\n", 1, "Dockerfile:1: FROM takes an image and, optionally, AS NAME: FROM IMAGE [AS NAME]"},
		{"# only a comment\n\n", 0, "Dockerfile: the Dockerfile is empty: it needs at least a FROM"},
		{"FROM busybox\nRUN <<EOF\necho hi\nEOF\n", 2, "Dockerfile:2: RUN: here-documents (<<) are not supported by berth's classic builder"},
	} {
		perr := parseErr(t, c.text)
		assert.Equal(t, c.line, perr.Line, c.text)
		assert.Equal(t, c.msg, perr.Error(), c.text)
	}
}

func TestParseAcceptsArgBeforeFrom(t *testing.T) {
	df := parse(t, "ARG TAG=latest\nFROM busybox:${TAG}\n")
	assert.Equal(t, "ARG", df.Instructions[0].Name)
	assert.Equal(t, []string{"busybox:${TAG}"}, df.Instructions[1].Args)
}
