package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"text/template"
	"unicode"
)

// --format, as docker has it. A format is one of:
//
//	table                       the command's default table
//	table {{.ID}}\t{{.Names}}   a table with these columns, under headers
//	{{.ID}} {{.Names}}          one line per object, no header
//	json                        one JSON object per line
//
// Each object is a "row" value whose methods are the template's fields
// ({{.ID}} calls ID()). Headers come from executing the same template on
// a map of field name to header ("ID" -> "CONTAINER ID"), with functions
// that leave their argument alone, so "table {{upper .Names}}" still
// has the header NAMES. The columns are aligned by a tabwriter with
// docker's settings.

// templateFuncs are docker's template functions.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v) // escapes <, > and &, as docker's does
		return string(b), err
	},
	"split": strings.Split,
	"join":  strings.Join,
	"title": titleCase,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"pad": func(s string, left, right int) string {
		return strings.Repeat(" ", left) + s + strings.Repeat(" ", right)
	},
	"truncate": truncateRunes,
	"println":  func(args ...any) string { return fmt.Sprintln(args...) },
}

// headerFuncs replace templateFuncs when rendering headers.
var headerFuncs = template.FuncMap{
	"json":     func(v string) string { return v },
	"split":    func(v string, _ string) string { return v },
	"join":     func(v string, _ string) string { return v },
	"title":    func(v string) string { return v },
	"lower":    func(v string) string { return v },
	"upper":    func(v string) string { return v },
	"pad":      func(v string, _, _ int) string { return v },
	"truncate": func(v string, _ int) string { return v },
	"println":  func(args ...any) string { return fmt.Sprint(args...) },
}

func titleCase(s string) string {
	var b strings.Builder
	prev := ' '
	for _, r := range s {
		if unicode.IsSpace(prev) {
			b.WriteRune(unicode.ToTitle(r))
		} else {
			b.WriteRune(r)
		}
		prev = r
	}
	return b.String()
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if n < 0 || len(r) <= n {
		return s
	}
	return string(r[:n])
}

// parseTemplate parses a user's template. Docker lets "\t" and "\n" be
// typed as two characters on the command line.
func parseTemplate(text string, funcs template.FuncMap) (*template.Template, error) {
	return parseTemplateOpts(text, funcs)
}

// templateError is docker's status for a --format that does not parse,
// in the commands (inspect, version) where docker makes it 64.
func templateError(err error) error {
	return StatusError{Status: err.Error(), StatusCode: 64}
}

func parseTemplateOpts(text string, funcs template.FuncMap, options ...string) (*template.Template, error) {
	text = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(text)
	tmpl, err := template.New("").Funcs(funcs).Option(options...).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template parsing error: %w", err)
	}
	return tmpl, nil
}

// writeFormatted renders rows with format, falling back to defaultTable
// for "" and "table". headers maps field names to column headers.
func writeFormatted[T any](out io.Writer, format, defaultTable string, headers map[string]string, rows []T) error {
	if format == "" || format == "table" {
		format = defaultTable
	}
	if format == "json" {
		enc := json.NewEncoder(out)
		for _, row := range rows {
			if err := enc.Encode(rowFields(row)); err != nil {
				return err
			}
		}
		return nil
	}

	table := strings.HasPrefix(format, "table")
	text := format
	if table {
		text = strings.TrimLeft(strings.TrimPrefix(format, "table"), " ")
	}
	tmpl, err := parseTemplate(text, templateFuncs)
	if err != nil {
		return err
	}
	var body bytes.Buffer
	for _, row := range rows {
		if err := tmpl.Execute(&body, row); err != nil {
			return fmt.Errorf("failed to execute template: %w", err)
		}
		body.WriteString("\n")
	}
	if !table {
		_, err := out.Write(body.Bytes())
		return err
	}

	tw := tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)
	if head := tableHeader(text, headers); head != "" {
		_, _ = io.WriteString(tw, head+"\n")
	}
	if _, err := tw.Write(body.Bytes()); err != nil {
		return err
	}
	return tw.Flush()
}

// fieldRef finds the first field a template cell refers to.
var fieldRef = regexp.MustCompile(`\.([A-Z][A-Za-z0-9]*)`)

// labelRef finds a {{.Label "name"}} cell.
var labelRef = regexp.MustCompile(`\.Label\s+"([^"]*)"`)

// labelHeader titles a {{.Label "com.example.tier-name"}} column as
// docker does: the last dotted part of the name, "-" and "_" as spaces
// ("tier name").
func labelHeader(name string) string {
	parts := strings.Split(name, ".")
	return strings.NewReplacer("-", " ", "_", " ").Replace(parts[len(parts)-1])
}

// tableHeader renders the header line of a table template, cell by
// cell. A cell is executed on the headers map, with functions that leave
// their argument alone; a cell that cannot be (a method with arguments,
// such as {{.Label "tier"}}) is titled by the first field it names.
func tableHeader(text string, headers map[string]string) string {
	cells := strings.Split(strings.NewReplacer(`\t`, "\t").Replace(text), "\t")
	for i, cell := range cells {
		var buf bytes.Buffer
		tmpl, err := template.New("").Funcs(headerFuncs).Option("missingkey=zero").Parse(cell)
		if err == nil {
			err = tmpl.Execute(&buf, headers)
		}
		if err != nil {
			buf.Reset()
			if m := labelRef.FindStringSubmatch(cell); m != nil {
				buf.WriteString(labelHeader(m[1]))
			} else if m := fieldRef.FindStringSubmatch(cell); m != nil {
				buf.WriteString(headers[m[1]])
			}
		}
		cells[i] = strings.TrimRight(buf.String(), "\n")
	}
	return strings.Join(cells, "\t")
}

// rowFields gives the JSON form of a row: every method without arguments
// that returns one value, by name, as docker's --format json does.
func rowFields(row any) map[string]any {
	v := reflect.ValueOf(row)
	t := v.Type()
	fields := map[string]any{}
	for i := 0; i < t.NumMethod(); i++ {
		m := t.Method(i)
		if m.Type.NumIn() != 1 || m.Type.NumOut() != 1 {
			continue
		}
		fields[m.Name] = v.Method(i).Call(nil)[0].Interface()
	}
	return fields
}

// sortedKeyValues renders a map as "k=v,k2=v2", sorted so that the
// output is stable.
func sortedKeyValues(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}
