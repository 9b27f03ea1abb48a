package build

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
)

// Instruction is one instruction of a Dockerfile, as the parser read it:
// continuation lines joined, comments gone, flags (--chown=...) taken off
// the front. Variables are not substituted yet: their values are known
// only when the build reaches the instruction.
type Instruction struct {
	// Line is the line the instruction starts on, counted from 1: what
	// an error names ("Dockerfile:3: ...").
	Line int
	// Name is the instruction's keyword in upper case: "RUN", "COPY".
	Name string
	// Flags are the --name=value options before the arguments, in order.
	Flags []Flag
	// Args are the arguments: the elements of the JSON array (JSON
	// form), the words of the line (split on unquoted white space, quotes
	// kept: expansion removes them), or, for the shell form of RUN, CMD
	// and ENTRYPOINT, the whole rest of the line as one string.
	Args []string
	// JSON says the arguments were written as a JSON array (exec form).
	JSON bool
	// Original is the instruction as written, on one line: what the
	// build prints ("Step 2/5 : RUN make").
	Original string
}

// Flag is an option of an instruction: COPY --chown=app:app.
type Flag struct {
	Name  string // without the dashes: "chown"
	Value string
}

// Flag returns the value of the flag name, and whether it was given.
func (in Instruction) Flag(name string) (string, bool) {
	for i := len(in.Flags) - 1; i >= 0; i-- {
		if in.Flags[i].Name == name {
			return in.Flags[i].Value, true
		}
	}
	return "", false
}

// Dockerfile is a parsed Dockerfile.
type Dockerfile struct {
	// Name is the file's name in the build context, for messages.
	Name string
	// Escape is the escape character: '\\', or '`' when the escape
	// directive chose it (Windows paths are full of backslashes).
	Escape       rune
	Instructions []Instruction
}

// ParseError is a mistake in a Dockerfile. Its message names the file and
// the line, as "Dockerfile:3: unknown instruction: FORM".
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// The instructions berth's builder knows, and how their arguments are
// written.
type argForm int

const (
	formCommand  argForm = iota // JSON array, or the rest of the line as one shell command
	formList                    // JSON array, or words
	formWords                   // words
	formKeyValue                // KEY=VALUE words, or the old "KEY VALUE" form
	formOne                     // the rest of the line, one argument
)

var instructions = map[string]struct {
	form     argForm
	min, max int // number of arguments (max -1: no limit)
	flags    []string
}{
	"FROM":        {formWords, 1, 3, []string{"platform"}},
	"RUN":         {formCommand, 1, -1, []string{"network", "mount", "security"}},
	"CMD":         {formCommand, 0, -1, nil},
	"ENTRYPOINT":  {formCommand, 0, -1, nil},
	"COPY":        {formList, 2, -1, []string{"chown", "chmod", "from", "link", "parents", "exclude"}},
	"ADD":         {formList, 2, -1, []string{"chown", "chmod", "link", "checksum", "keep-git-dir", "exclude"}},
	"ENV":         {formKeyValue, 1, -1, nil},
	"LABEL":       {formKeyValue, 1, -1, nil},
	"ARG":         {formWords, 1, -1, nil},
	"WORKDIR":     {formOne, 1, 1, nil},
	"USER":        {formOne, 1, 1, nil},
	"EXPOSE":      {formWords, 1, -1, nil},
	"VOLUME":      {formList, 1, -1, nil},
	"STOPSIGNAL":  {formOne, 1, 1, nil},
	"SHELL":       {formList, 1, -1, nil},
	"MAINTAINER":  {formOne, 1, 1, nil},
	"HEALTHCHECK": {formOne, 1, -1, []string{"interval", "timeout", "start-period", "start-interval", "retries"}},
	"ONBUILD":     {formOne, 1, 1, nil},
}

// Parse reads a Dockerfile. name is its name in the context, for
// messages. Every syntax error is found here, before anything is built:
// an unknown instruction, a missing argument, a bad flag, a Dockerfile
// that does not start with FROM.
func Parse(r io.Reader, name string) (*Dockerfile, error) {
	if name == "" {
		name = "Dockerfile"
	}
	df := &Dockerfile{Name: name, Escape: '\\'}
	fail := func(line int, format string, a ...any) error {
		return &ParseError{File: name, Line: line, Msg: fmt.Sprintf(format, a...)}
	}

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fail(0, "reading: %v", err)
	}

	// Parser directives ("# escape=`") come first, before any other
	// line, comment or blank: the first line that is not one ends them.
	i := 0
	for ; i < len(lines); i++ {
		key, value, ok := directive(lines[i])
		if !ok {
			break
		}
		if key == "escape" {
			if value != "\\" && value != "`" {
				return nil, fail(i+1, "invalid escape character %q: use \\ or `", value)
			}
			df.Escape = rune(value[0])
		}
	}

	for ; i < len(lines); i++ {
		text := strings.TrimLeftFunc(lines[i], unicode.IsSpace)
		if text == "" || text[0] == '#' {
			continue
		}
		start := i + 1
		// A line that ends with the escape character goes on at the
		// next. Comment lines and empty lines between do not end it;
		// they are skipped, as Docker's parser does.
		for {
			rest, more := trimContinuation(text, df.Escape)
			if !more {
				break
			}
			text = rest
			joined := false
			for i+1 < len(lines) {
				i++
				next := lines[i]
				trimmed := strings.TrimSpace(next)
				if trimmed == "" || trimmed[0] == '#' {
					continue
				}
				text += next
				joined = true
				break
			}
			if !joined {
				break // the file ended inside a continuation: take what there is
			}
		}
		in, err := parseInstruction(text, df.Escape)
		if err != nil {
			return nil, fail(start, "%v", err)
		}
		in.Line = start
		df.Instructions = append(df.Instructions, in)
	}

	if len(df.Instructions) == 0 {
		return nil, fail(0, "the Dockerfile is empty: it needs at least a FROM")
	}
	for _, in := range df.Instructions {
		if in.Name == "FROM" {
			break
		}
		if in.Name != "ARG" {
			return nil, fail(in.Line, "the first instruction must be FROM (only ARG may come before it), not %s", in.Name)
		}
	}
	return df, nil
}

// directive recognises a parser directive line: "# key=value".
func directive(line string) (key, value string, ok bool) {
	s := strings.TrimSpace(line)
	if !strings.HasPrefix(s, "#") {
		return "", "", false
	}
	s = strings.TrimSpace(s[1:])
	k, v, found := strings.Cut(s, "=")
	k = strings.ToLower(strings.TrimSpace(k))
	if !found || k == "" || strings.ContainsFunc(k, unicode.IsSpace) {
		return "", "", false
	}
	return k, strings.TrimSpace(v), true
}

// trimContinuation reports whether line ends with the escape character
// (spaces after it allowed), and returns it without.
func trimContinuation(line string, escape rune) (string, bool) {
	t := strings.TrimRightFunc(line, unicode.IsSpace)
	if strings.HasSuffix(t, string(escape)) {
		return t[:len(t)-1], true
	}
	return line, false
}

// parseInstruction reads one (joined) instruction line.
func parseInstruction(text string, escape rune) (Instruction, error) {
	text = strings.TrimSpace(text)
	keyword, rest := splitFirstWord(text)
	name := strings.ToUpper(keyword)
	in := Instruction{Name: name, Original: keyword + joinRest(rest)}
	spec, known := instructions[name]
	if !known {
		return in, fmt.Errorf("unknown instruction: %s", name)
	}

	// Flags: --name=value words at the start, as Docker's parser takes
	// them (for every instruction; the instruction says which it knows).
	for {
		word, after := splitFirstWord(rest)
		if !strings.HasPrefix(word, "--") || word == "--" {
			break
		}
		k, v, hasValue := strings.Cut(word[2:], "=")
		if !hasValue && k != "link" && k != "parents" && k != "keep-git-dir" {
			return in, fmt.Errorf("%s: flag --%s needs a value: --%s=VALUE", name, k, k)
		}
		if !contains(spec.flags, k) {
			return in, fmt.Errorf("%s: unknown flag: --%s", name, k)
		}
		in.Flags = append(in.Flags, Flag{Name: k, Value: v})
		rest = after
	}

	if (name == "RUN" || name == "COPY" || name == "ADD") && strings.HasPrefix(rest, "<<") {
		return in, fmt.Errorf("%s: here-documents (<<) are not supported by berth's classic builder", name)
	}
	var err error
	switch spec.form {
	case formCommand:
		if args, ok := jsonArray(rest); ok {
			in.Args, in.JSON = args, true
		} else if rest != "" {
			in.Args = []string{rest}
		}
	case formList:
		if args, ok := jsonArray(rest); ok {
			in.Args, in.JSON = args, true
		} else {
			in.Args, err = splitWords(rest, escape)
		}
	case formWords:
		in.Args, err = splitWords(rest, escape)
	case formKeyValue:
		in.Args, err = keyValueWords(name, rest, escape)
	case formOne:
		if rest != "" {
			in.Args = []string{rest}
		}
	}
	if err != nil {
		return in, fmt.Errorf("%s: %w", name, err)
	}
	n := len(in.Args)
	switch {
	case n < spec.min && spec.min == 1:
		return in, fmt.Errorf("%s requires at least one argument", name)
	case n < spec.min:
		return in, fmt.Errorf("%s requires at least %d arguments, but only %d provided", name, spec.min, n)
	case spec.max >= 0 && n > spec.max:
		if spec.max == 1 {
			return in, fmt.Errorf("%s requires exactly one argument", name)
		}
		return in, fmt.Errorf("%s takes at most %d arguments, %d given", name, spec.max, n)
	}
	if name == "FROM" && n > 1 && (n != 3 || !strings.EqualFold(in.Args[1], "AS")) {
		return in, errors.New("FROM takes an image and, optionally, AS NAME: FROM IMAGE [AS NAME]")
	}
	return in, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// splitFirstWord cuts the first white-space separated word off s.
func splitFirstWord(s string) (word, rest string) {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	i := strings.IndexFunc(s, unicode.IsSpace)
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeftFunc(s[i:], unicode.IsSpace)
}

func joinRest(rest string) string {
	if rest == "" {
		return ""
	}
	return " " + rest
}

// jsonArray reads the exec form: a JSON array of strings. Anything else
// (not starting with "[", or not valid JSON) is the shell form, as in
// Docker: RUN [ -f x ] && y is a shell command.
func jsonArray(s string) ([]string, bool) {
	if !strings.HasPrefix(s, "[") {
		return nil, false
	}
	var args []string
	if err := json.Unmarshal([]byte(s), &args); err != nil {
		return nil, false
	}
	return args, true
}

// splitWords splits s on white space that is not quoted or escaped. The
// quotes and escapes stay in the words: expanding a word removes them.
func splitWords(s string, escape rune) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	runes := []rune(s)
	for i := 0; i < len(runes); i++ {
		c := runes[i]
		switch {
		case quote == 0 && unicode.IsSpace(c):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
			continue
		case c == escape && quote != '\'' && i+1 < len(runes):
			cur.WriteRune(c)
			i++
			c = runes[i]
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case c == quote:
			quote = 0
		}
		cur.WriteRune(c)
		inWord = true
	}
	if quote != 0 {
		return nil, fmt.Errorf("unmatched %c quote", quote)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// keyValueWords reads the arguments of ENV and LABEL: KEY=VALUE words,
// or the old form KEY VALUE (one pair, the value the rest of the line).
func keyValueWords(name, rest string, escape rune) ([]string, error) {
	words, err := splitWords(rest, escape)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, nil
	}
	if !strings.Contains(words[0], "=") {
		key, value := splitFirstWord(rest)
		if value == "" {
			return nil, fmt.Errorf("%s %s: no value: use %s KEY=VALUE", name, key, name)
		}
		return []string{key + "=" + value}, nil
	}
	for _, w := range words {
		if k, _, ok := strings.Cut(w, "="); !ok || k == "" {
			return nil, fmt.Errorf("%q is not KEY=VALUE", w)
		}
	}
	return words, nil
}
