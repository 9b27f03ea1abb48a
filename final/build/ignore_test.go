package build

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIgnorePatterns(t *testing.T) {
	ig, err := ParseIgnore(strings.NewReader(`# comment
*.log
  /build
**/*.tmp
docs/**
!docs/keep.md
secret?.txt
[ab].c
`))
	require.NoError(t, err)
	for path, want := range map[string]bool{
		"app.log":          true,
		"sub/app.log":      false, // "*" stays in its directory
		"build":            true,
		"build/out/bin":    true, // a matched directory takes all below it
		"builder":          false,
		"x.tmp":            true, // "**/" matches no directory too
		"a/b/c/x.tmp":      true,
		"docs/index.md":    true,
		"docs/keep.md":     false, // the exception takes it back
		"secret1.txt":      true,
		"secret12.txt":     false,
		"a.c":              true,
		"c.c":              false,
		"main.go":          false,
		"Dockerfile":       false,
		".":                false,
		"./build/x":        true,
		"/app.log":         true,
		"docs":             false, // "docs/**" is what is in docs, not docs
		"notdocs/index.md": false,
	} {
		assert.Equal(t, want, ig.Excluded(path), path)
	}
	assert.True(t, ig.HasExceptions())

	// Later patterns win: an exclusion after an exception excludes again.
	ig, err = ParseIgnore(strings.NewReader("*\n!src\nsrc/*.o\n"))
	require.NoError(t, err)
	assert.True(t, ig.Excluded("README"))
	assert.False(t, ig.Excluded("src/main.c"))
	assert.True(t, ig.Excluded("src/main.o"))

	_, err = ParseIgnore(strings.NewReader("ok\n[unterminated\n"))
	assert.EqualError(t, err, `.dockerignore:2: pattern "[unterminated": unterminated character class`)
	var nilIgnore *Ignore
	assert.False(t, nilIgnore.Excluded("x"))
}

// The cases of the client's .dockerignore (docker build sends what it
// does not exclude): the client reads the file with this same parser.
func TestIgnorePatternsOfTheClient(t *testing.T) {
	ig, err := ParseIgnore(strings.NewReader(`
# comments and blank lines are ignored

*.log
!keep.log
/build
docs/**/*.tmp
**/node_modules
sec?et
[ab].txt
  spaced.txt  
`))
	require.NoError(t, err)
	for path, want := range map[string]bool{
		"app.log":                     true,
		"keep.log":                    false, // the exception
		"sub/app.log":                 false, // * does not cross directories
		"build":                       true,
		"build/out/bin":               true, // inside an excluded directory
		"src/build":                   false,
		"docs/a/b/x.tmp":              true,
		"docs/x.tmp":                  true, // **/ also matches no directory
		"docs/x.txt":                  false,
		"node_modules/m/index.js":     true,
		"web/app/node_modules/m/i.js": true,
		"secret":                      true,
		"secrets":                     false,
		"a.txt":                       true,
		"c.txt":                       false,
		"spaced.txt":                  true,
		"main.go":                     false,
	} {
		assert.Equal(t, want, ig.Excluded(path), path)
	}

	_, err = ParseIgnore(strings.NewReader("!\n"))
	assert.EqualError(t, err, `.dockerignore:1: illegal exclusion pattern: "!"`)
}

func TestIgnoreKeep(t *testing.T) {
	ig, err := ParseIgnore(strings.NewReader("Dockerfile\n.dockerignore\n*.key\n"))
	require.NoError(t, err)
	ig.Keep("Dockerfile")
	ig.Keep(".dockerignore")
	ig.Keep("main.go") // not excluded: nothing to take back
	assert.False(t, ig.Excluded("Dockerfile"))
	assert.False(t, ig.Excluded(".dockerignore"))
	assert.True(t, ig.Excluded("a.key"))
	ig.Keep("app.key")
	assert.False(t, ig.Excluded("app.key"))
	assert.True(t, ig.Excluded("b.key"), "Keep takes back the name, not the pattern")
	assert.True(t, ig.HasExceptions())
}

func TestApplyIgnoreDeletesWhatTheContextMustNotShow(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"Dockerfile", ".dockerignore", "main.go", "app.log", "docs/a.md", "docs/keep.md", "build/out/bin", "sub/x.tmp"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte(f), 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("*.log\nbuild\ndocs\n!docs/keep.md\n**/*.tmp\n.dockerignore\n"), 0o644))
	ig, err := ReadIgnore(dir)
	require.NoError(t, err)
	require.NoError(t, ApplyIgnore(dir, ig))
	var left []string
	require.NoError(t, filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		require.NoError(t, err)
		rel, _ := filepath.Rel(dir, p)
		if rel != "." {
			left = append(left, rel)
		}
		return nil
	}))
	sort.Strings(left)
	assert.Equal(t, []string{"Dockerfile", "docs", "docs/keep.md", "main.go", "sub"}, left)

	ig, err = ReadIgnore(t.TempDir())
	require.NoError(t, err)
	assert.False(t, ig.Excluded("anything"), "no .dockerignore: nothing is excluded")
}
