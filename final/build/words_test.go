package build

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(kv map[string]string) vars {
	return func(name string) (string, bool) {
		v, ok := kv[name]
		return v, ok
	}
}

func TestExpandWordSubstitutesVariablesAsAShellDoes(t *testing.T) {
	vs := env(map[string]string{"NAME": "berth", "EMPTY": "", "SP": "a b"})
	for in, want := range map[string]string{
		"$NAME":              "berth",
		"${NAME}":            "berth",
		"x${NAME}y":          "xberthy",
		"$NAME.d":            "berth.d",
		"${MISSING}":         "",
		"${MISSING:-def}":    "def",
		"${EMPTY:-def}":      "def",
		"${EMPTY-def}":       "",
		"${MISSING-def}":     "def",
		"${NAME:+alt}":       "alt",
		"${EMPTY:+alt}":      "",
		"${EMPTY+alt}":       "alt",
		"${MISSING:-$NAME}":  "berth",
		`\$NAME`:             "$NAME",
		`'$NAME'`:            "$NAME",
		`"$NAME and $SP"`:    "berth and a b",
		`"say \"hi\""`:       `say "hi"`,
		`a\ b`:               "a b",
		"cost: $":            "cost: $",
		`"${MISSING:-a b}"`:  "a b",
		"${NAME:?must be}":   "berth",
		`C:\dir`:             "C:dir", // the escape character escapes
		"${SP}":              "a b",
		`"quoted"unquoted''`: "quotedunquoted",
	} {
		got, err := expandWord(in, '\\', vs)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	got, err := expandWord(`C:\dir`, '`', vs)
	require.NoError(t, err)
	assert.Equal(t, `C:\dir`, got, "with ` as the escape character, \\ is plain")

	for in, msg := range map[string]string{
		"${MISSING:?must be set}": "MISSING: must be set",
		"${EMPTY:?}":              "EMPTY: is not set",
		"${NAME":                  "bad substitution: missing } after ${NAME",
		"${}":                     "bad substitution: ${ must be followed by a variable name",
		`"open`:                   `unexpected end of text: unmatched " quote`,
		"${NAME/x/y}":             "bad substitution",
	} {
		_, err := expandWord(in, '\\', vs)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), msg, in)
	}
}

func TestExpandWordsSplitsOnUnquotedWhiteSpace(t *testing.T) {
	vs := env(map[string]string{"FILES": "a b", "EMPTY": ""})
	for in, want := range map[string][]string{
		"80 443":          {"80", "443"},
		"$FILES c":        {"a", "b", "c"},
		`"$FILES" c`:      {"a b", "c"},
		"$EMPTY x":        {"x"},
		`"" x`:            {"", "x"},
		`'one word' two`:  {"one word", "two"},
		"  spaced   out ": {"spaced", "out"},
	} {
		got, err := expandWords(in, '\\', vs)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
}
