// Package docs holds no code: its test keeps the course texts honest.
// Every relative link must lead to a file of this repository, and the
// Chinese edition in docs/zh must stay in step with the English one: the
// same files, the same headings, the same code blocks in the same order.
// A reader switches languages section by section, and a command that
// works in one edition must be the command printed in the other.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mdDoc is a Markdown file split into what this test compares.
type mdDoc struct {
	headings []string // the "#" marks of each heading, in order
	code     []string // every fenced block, fences included, in order
	links    []string // every inline link target outside code
}

var (
	linkRE   = regexp.MustCompile(`\]\(([^)\s]*)\)`)
	inlineRE = regexp.MustCompile("`[^`]*`")
	headRE   = regexp.MustCompile(`^(#+) `)
)

func parse(t *testing.T, path string) mdDoc {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var d mdDoc
	var block []string
	for _, line := range strings.Split(string(b), "\n") {
		if block != nil {
			block = append(block, line)
			if strings.HasPrefix(line, "```") {
				d.code = append(d.code, strings.Join(block, "\n"))
				block = nil
			}
			continue
		}
		if strings.HasPrefix(line, "```") {
			block = []string{line}
			continue
		}
		if m := headRE.FindStringSubmatch(line); m != nil {
			d.headings = append(d.headings, m[1])
		}
		// A link inside `code` is not a link: namespace.InitWith[InitSpec]().
		for _, m := range linkRE.FindAllStringSubmatch(inlineRE.ReplaceAllString(line, ""), -1) {
			d.links = append(d.links, m[1])
		}
	}
	require.Nil(t, block, "%s: a code block is not closed", path)
	return d
}

// repoRoot is the module root: docs/ is one level down.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(root, "go.mod"))
	require.NoError(t, err, "the docs test runs from docs/")
	return root
}

func docFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.md"))
	require.NoError(t, err)
	require.NotEmpty(t, files, dir)
	return files
}

// TestLinksResolve: every relative link of the top-level README, the
// English docs and the Chinese docs names a file or directory that
// exists, inside the repository. No link leaves the repository: the
// course must read the same from a clone with no network.
func TestLinksResolve(t *testing.T) {
	root := repoRoot(t)
	files := []string{filepath.Join(root, "README.md")}
	files = append(files, docFiles(t, filepath.Join(root, "docs"))...)
	files = append(files, docFiles(t, filepath.Join(root, "docs", "zh"))...)
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		for _, link := range parse(t, f).links {
			target, _, _ := strings.Cut(link, "#")
			if target == "" {
				continue // a link inside the same page
			}
			assert.NotContains(t, target, "://", "%s: %q leaves the repository", rel, link)
			if strings.Contains(target, "://") {
				continue
			}
			path := filepath.Clean(filepath.Join(filepath.Dir(f), target))
			inside, err := filepath.Rel(root, path)
			if !assert.NoError(t, err) || !assert.False(t, strings.HasPrefix(inside, ".."),
				"%s: %q leaves the repository", rel, link) {
				continue
			}
			_, err = os.Stat(path)
			assert.NoError(t, err, "%s: broken link %q", rel, link)
		}
	}
}

// TestChineseEditionInStep: every English doc has a Chinese edition with
// the same name, each links to the other on its first line, and the two
// have the same heading levels in the same order and identical code
// blocks in the same order. When an English section changes, this test
// names the file whose Chinese edition must follow.
func TestChineseEditionInStep(t *testing.T) {
	root := repoRoot(t)
	docs := filepath.Join(root, "docs")
	english := docFiles(t, docs)
	for _, en := range english {
		name := filepath.Base(en)
		t.Run(name, func(t *testing.T) {
			zh := filepath.Join(docs, "zh", name)
			_, err := os.Stat(zh)
			require.NoError(t, err, "docs/%s has no Chinese edition docs/zh/%s", name, name)

			assert.Equal(t, "[中文](zh/"+name+")", firstLine(t, en), "docs/%s: first line links to the Chinese edition", name)
			assert.Equal(t, "[English](../"+name+")", firstLine(t, zh), "docs/zh/%s: first line links back", name)

			e, z := parse(t, en), parse(t, zh)
			assert.Equal(t, e.headings, z.headings, "docs/zh/%s: headings differ from the English ones", name)
			require.Equal(t, len(e.code), len(z.code), "docs/zh/%s: number of code blocks", name)
			for i := range e.code {
				assert.Equal(t, e.code[i], z.code[i], "docs/zh/%s: code block %d", name, i+1)
			}
		})
	}
	for _, zh := range docFiles(t, filepath.Join(docs, "zh")) {
		_, err := os.Stat(filepath.Join(docs, filepath.Base(zh)))
		assert.NoError(t, err, "docs/zh/%s has no English original", filepath.Base(zh))
	}
}

func firstLine(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	line, _, _ := strings.Cut(string(b), "\n")
	return line
}
