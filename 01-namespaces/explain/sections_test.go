package explain

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each chapter's text, in both editions, has an "Explain mode" section
// that names the tags of its chapter: a learner who reads a tag in the
// trace finds where it is taught.
func TestEveryChapterTextNamesItsSections(t *testing.T) {
	for _, edition := range []string{"docs", "docs/zh"} {
		for _, s := range Sections {
			matches, err := filepath.Glob(filepath.Join("..", "..", edition, s.Chapter()+"-*.md"))
			require.NoError(t, err)
			require.Len(t, matches, 1, "%s: the text of chapter %s", edition, s.Chapter())
			b, err := os.ReadFile(matches[0])
			require.NoError(t, err)
			assert.True(t, strings.Contains(string(b), "`"+string(s)+"`"), "%s names %s", matches[0], s)
		}
	}
}

func TestSectionsAreWellFormed(t *testing.T) {
	seen := map[Section]bool{}
	for _, s := range Sections {
		assert.False(t, seen[s], "%s twice", s)
		seen[s] = true
		_, ok := Parse(Format(s, "x", ""))
		assert.True(t, ok, "%s makes lines that parse", s)
		assert.Regexp(t, `^0[1-7] §[A-Z]`, string(s))
		assert.False(t, strings.Contains(string(s), "]"), "%s", s)
	}
}
