package build

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"
)

// Ignore is the list of patterns of a .dockerignore file: which files of
// the build context the build does not see.
//
//	# comment
//	*.log          any .log file at the top of the context
//	**/*.tmp       a .tmp file at any depth ("**" is any number of directories)
//	build          the directory build and everything in it
//	!build/keep    ...except this file: "!" takes back an earlier match
//
// Patterns match paths relative to the context's root, with "/"
// separators. "*" matches any characters but "/", "?" one such
// character, [a-z] a class. A path is excluded when the last pattern that
// matches it, or one of its parent directories, is not an exception.
type Ignore struct {
	patterns []ignorePattern
}

type ignorePattern struct {
	text      string
	exception bool
	re        *regexp.Regexp
}

// ParseIgnore reads a .dockerignore file.
func ParseIgnore(r io.Reader) (*Ignore, error) {
	ig := &Ignore{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if err := ig.Add(line); err != nil {
			return nil, fmt.Errorf(".dockerignore:%d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading .dockerignore: %w", err)
	}
	return ig, nil
}

// Add appends one pattern ("!" first for an exception).
func (ig *Ignore) Add(pattern string) error {
	p := ignorePattern{}
	if strings.HasPrefix(pattern, "!") {
		p.exception = true
		pattern = strings.TrimSpace(pattern[1:])
	}
	if pattern == "" {
		return fmt.Errorf(`illegal exclusion pattern: "!"`) // docker's words
	}
	// The context's root is the pattern's root: "/foo", "./foo" and
	// "foo" are the same pattern.
	pattern = path.Clean(pattern)
	if len(pattern) > 1 && pattern[0] == '/' {
		pattern = pattern[1:]
	}
	re, err := compilePattern(pattern)
	if err != nil {
		return fmt.Errorf("pattern %q: %w", pattern, err)
	}
	p.text, p.re = pattern, re
	ig.patterns = append(ig.patterns, p)
	return nil
}

// compilePattern turns a pattern into a regular expression over a whole
// path.
func compilePattern(p string) (*regexp.Regexp, error) {
	var re strings.Builder
	re.WriteString("^")
	runes := []rune(p)
	for i := 0; i < len(runes); i++ {
		c := runes[i]
		switch {
		case c == '*' && i+1 < len(runes) && runes[i+1] == '*':
			i++
			// "**/" is "**": it also matches no directory at all.
			if i+1 < len(runes) && runes[i+1] == '/' {
				i++
			}
			if i+1 >= len(runes) {
				re.WriteString(".*") // "**" at the end: everything below
			} else {
				re.WriteString("(.*/)?")
			}
		case c == '*':
			re.WriteString("[^/]*")
		case c == '?':
			re.WriteString("[^/]")
		case c == '\\':
			if i+1 < len(runes) {
				i++
				re.WriteString(regexp.QuoteMeta(string(runes[i])))
			} else {
				re.WriteString(`\\`)
			}
		case c == '[':
			// A class is passed on as it is, up to its "]"; "!" or
			// "^" first negates it, as in filepath.Match.
			end := i + 1
			if end < len(runes) && (runes[end] == '!' || runes[end] == '^') {
				end++
			}
			if end < len(runes) && runes[end] == ']' {
				end++
			}
			for end < len(runes) && runes[end] != ']' {
				end++
			}
			if end >= len(runes) {
				return nil, fmt.Errorf("unterminated character class")
			}
			class := string(runes[i+1 : end])
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			}
			re.WriteString("[" + strings.ReplaceAll(class, `\`, `\\`) + "]")
			i = end
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	return regexp.Compile(re.String())
}

// Excluded reports whether the path rel (relative to the context's root,
// "/"-separated) is left out of the context: by a pattern that matches
// it, or one of its parent directories.
func (ig *Ignore) Excluded(rel string) bool {
	if ig == nil || len(ig.patterns) == 0 {
		return false
	}
	rel = path.Clean(strings.TrimPrefix(rel, "/"))
	if rel == "." {
		return false
	}
	var parents []string
	for dir := path.Dir(rel); dir != "."; dir = path.Dir(dir) {
		parents = append(parents, dir)
	}
	excluded := false
	for _, p := range ig.patterns {
		// Only a pattern that could change the answer is tried: an
		// exclusion when the path is still in, an exception when it is
		// out.
		if p.exception != excluded {
			continue
		}
		match := p.re.MatchString(rel)
		for _, dir := range parents {
			if match {
				break
			}
			match = p.re.MatchString(dir)
		}
		if match {
			excluded = !p.exception
		}
	}
	return excluded
}

// Keep makes sure that name (relative to the context's root,
// "/"-separated) is in the context, whatever the patterns say: docker
// build always sends the Dockerfile and .dockerignore, and the daemon
// leaves them out of COPY itself.
func (ig *Ignore) Keep(name string) {
	if ig.Excluded(name) {
		ig.patterns = append(ig.patterns, ignorePattern{text: name, exception: true, re: regexp.MustCompile("^" + regexp.QuoteMeta(name) + "$")})
	}
}

// HasExceptions reports whether some pattern is an exception: then an
// excluded directory may still hold files that are in.
func (ig *Ignore) HasExceptions() bool {
	if ig == nil {
		return false
	}
	for _, p := range ig.patterns {
		if p.exception {
			return true
		}
	}
	return false
}
