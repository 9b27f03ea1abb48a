package build

import (
	"fmt"
	"strings"
	"unicode"
)

// Variable substitution, as the Dockerfile reference describes it: in the
// arguments of FROM, COPY, ADD, ENV, LABEL, WORKDIR, USER, EXPOSE, VOLUME
// and STOPSIGNAL, $NAME and ${NAME} are replaced by the value of a
// variable (an ENV of the image so far, or an ARG), with the shell's
// modifiers:
//
//	${NAME:-word}  word if NAME is unset or empty    ${NAME-word}  ... if unset
//	${NAME:+word}  word if NAME is set and not empty ${NAME+word}  ... if set
//	${NAME:?msg}   an error if NAME is unset or empty ${NAME?msg}  ... if unset
//
// Quotes work as in a shell: nothing is replaced between single quotes,
// double quotes group words and still replace variables, and the escape
// character (\ by default) makes the next character plain ("\$HOME" stays
// "$HOME"). RUN, CMD and ENTRYPOINT are not expanded here: their shell
// does it when the command runs, with the same variables in its
// environment.

// vars looks up a variable: its value and whether it is set.
type vars func(name string) (string, bool)

// expander expands one source string. words collects the resulting
// words; with split, unquoted white space (in the source, or in the value
// of an unquoted variable, as a shell's field splitting does) separates
// words, otherwise the whole source is one word.
type expander struct {
	src    []rune
	pos    int
	escape rune
	lookup vars
	split  bool

	words  []string
	cur    strings.Builder
	inWord bool
}

// expandWord expands s as one word: quotes removed, escapes resolved,
// variables replaced. White space stays.
func expandWord(s string, escape rune, lookup vars) (string, error) {
	x := &expander{src: []rune(s), escape: escape, lookup: lookup}
	if err := x.run(); err != nil {
		return "", err
	}
	return x.cur.String(), nil
}

// expandWords expands s and splits the result into words.
func expandWords(s string, escape rune, lookup vars) ([]string, error) {
	x := &expander{src: []rune(s), escape: escape, lookup: lookup, split: true}
	if err := x.run(); err != nil {
		return nil, err
	}
	x.endWord()
	return x.words, nil
}

func (x *expander) add(c rune, quoted bool) {
	if x.split && !quoted && unicode.IsSpace(c) {
		x.endWord()
		return
	}
	x.cur.WriteRune(c)
	x.inWord = true
}

func (x *expander) endWord() {
	if x.inWord {
		x.words = append(x.words, x.cur.String())
	}
	x.cur.Reset()
	x.inWord = false
}

func (x *expander) run() error {
	for x.pos < len(x.src) {
		c := x.src[x.pos]
		x.pos++
		switch {
		case c == x.escape:
			if x.pos < len(x.src) {
				x.add(x.src[x.pos], true)
				x.pos++
			} else {
				x.add(c, true)
			}
		case c == '\'':
			x.inWord = true // '' is an empty word, not nothing
			if err := x.singleQuoted(); err != nil {
				return err
			}
		case c == '"':
			x.inWord = true
			if err := x.doubleQuoted(); err != nil {
				return err
			}
		case c == '$':
			v, err := x.dollar()
			if err != nil {
				return err
			}
			for _, r := range v {
				x.add(r, false)
			}
		default:
			x.add(c, false)
		}
	}
	return nil
}

func (x *expander) singleQuoted() error {
	for x.pos < len(x.src) {
		c := x.src[x.pos]
		x.pos++
		if c == '\'' {
			return nil
		}
		x.add(c, true)
	}
	return fmt.Errorf("unexpected end of text: unmatched ' quote")
}

func (x *expander) doubleQuoted() error {
	for x.pos < len(x.src) {
		c := x.src[x.pos]
		x.pos++
		switch c {
		case '"':
			return nil
		case x.escape:
			// Inside double quotes the escape character only escapes
			// what would otherwise be special there.
			if x.pos < len(x.src) {
				next := x.src[x.pos]
				if next == '"' || next == '$' || next == x.escape {
					x.add(next, true)
					x.pos++
					continue
				}
			}
			x.add(c, true)
		case '$':
			v, err := x.dollar()
			if err != nil {
				return err
			}
			for _, r := range v {
				x.add(r, true)
			}
		default:
			x.add(c, true)
		}
	}
	return fmt.Errorf("unexpected end of text: unmatched \" quote")
}

// dollar reads what follows a "$" and returns its value.
func (x *expander) dollar() (string, error) {
	if x.pos >= len(x.src) {
		return "$", nil
	}
	if x.src[x.pos] != '{' {
		name := x.name()
		if name == "" {
			return "$", nil // a lone $ is a $
		}
		v, _ := x.lookup(name)
		return v, nil
	}
	x.pos++ // {
	name := x.name()
	if name == "" {
		return "", fmt.Errorf("bad substitution: ${ must be followed by a variable name")
	}
	if x.pos >= len(x.src) {
		return "", fmt.Errorf("bad substitution: missing } after ${%s", name)
	}
	value, set := x.lookup(name)
	c := x.src[x.pos]
	if c == '}' {
		x.pos++
		return value, nil
	}
	colon := false
	if c == ':' {
		colon = true
		x.pos++
		if x.pos >= len(x.src) {
			return "", fmt.Errorf("bad substitution: missing } after ${%s:", name)
		}
		c = x.src[x.pos]
	}
	if c != '-' && c != '+' && c != '?' {
		return "", fmt.Errorf("bad substitution: ${%s%s%c...}: supported are ${NAME:-word}, ${NAME:+word}, ${NAME:?message} and the forms without colon", name, map[bool]string{true: ":"}[colon], c)
	}
	x.pos++
	word, err := x.braceWord()
	if err != nil {
		return "", err
	}
	// With a colon, an empty value counts as unset.
	present := set && (!colon || value != "")
	switch c {
	case '-':
		if present {
			return value, nil
		}
		return word, nil
	case '+':
		if present {
			return word, nil
		}
		return "", nil
	default: // '?'
		if present {
			return value, nil
		}
		if word == "" {
			word = "is not set"
		}
		return "", fmt.Errorf("%s: %s", name, word)
	}
}

// name reads a variable name: letters, digits and underscores.
func (x *expander) name() string {
	start := x.pos
	for x.pos < len(x.src) {
		c := x.src[x.pos]
		if c != '_' && !unicode.IsLetter(c) && !unicode.IsDigit(c) {
			break
		}
		x.pos++
	}
	return string(x.src[start:x.pos])
}

// braceWord reads the word of ${NAME:-word} up to its "}", itself
// expanded (it may hold variables and quotes).
func (x *expander) braceWord() (string, error) {
	depth := 0
	start := x.pos
	for x.pos < len(x.src) {
		c := x.src[x.pos]
		switch {
		case c == x.escape:
			x.pos++
		case c == '{':
			depth++
		case c == '}':
			if depth == 0 {
				raw := string(x.src[start:x.pos])
				x.pos++
				return expandWord(raw, x.escape, x.lookup)
			}
			depth--
		}
		x.pos++
	}
	return "", fmt.Errorf("bad substitution: missing }")
}
