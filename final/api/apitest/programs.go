package apitest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Program is a fake executable. It runs in a fake container (or exec)
// with the process's arguments and standard streams, and returns the exit
// code. It must return soon after ctx is done: that is how the fake
// delivers stop and kill.
type Program func(ctx context.Context, p *Proc) int

// Proc is what a Program sees of its process.
type Proc struct {
	Args   []string
	Env    []string
	Tty    bool
	Stdin  io.Reader // empty when no input is attached
	Stdout io.Writer
	Stderr io.Writer // the terminal (Stdout) when Tty

	fake *Fake
	ctr  *ctr
}

// WriteFile changes a file of the container's filesystem, as the
// container's own process would; `docker diff`, export and commit see it.
func (p *Proc) WriteFile(path, content string) {
	p.fake.mu.Lock()
	defer p.fake.mu.Unlock()
	p.ctr.files[cleanPath(path)] = content
}

// RemoveFile deletes a file of the container's filesystem.
func (p *Proc) RemoveFile(path string) bool {
	p.fake.mu.Lock()
	defer p.fake.mu.Unlock()
	_, ok := p.ctr.files[cleanPath(path)]
	delete(p.ctr.files, cleanPath(path))
	return ok
}

// ReadFile reads a file of the container's filesystem.
func (p *Proc) ReadFile(path string) (string, bool) {
	p.fake.mu.Lock()
	defer p.fake.mu.Unlock()
	s, ok := p.ctr.files[cleanPath(path)]
	return s, ok
}

// run looks name up and runs it; 127 when there is no such program, as a
// shell answers.
func (p *Proc) run(ctx context.Context, args []string) int {
	prog := p.fake.program(args[0])
	if prog == nil {
		fmt.Fprintf(p.Stderr, "sh: %s: not found\n", args[0])
		return 127
	}
	sub := *p
	sub.Args = args
	return prog(ctx, &sub)
}

func cleanPath(p string) string {
	return strings.TrimPrefix(strings.TrimSpace(p), "/")
}

// defaultPrograms are the executables of every fake container. They are
// few but enough to drive the docker CLI's conversations: output on both
// streams, input, long-running processes, exit codes and file changes.
func defaultPrograms() map[string]Program {
	return map[string]Program{
		"echo": func(_ context.Context, p *Proc) int {
			args, nl := p.Args[1:], "\n"
			if len(args) > 0 && args[0] == "-n" {
				args, nl = args[1:], ""
			}
			fmt.Fprint(p.Stdout, strings.Join(args, " ")+nl)
			return 0
		},
		"cat": func(ctx context.Context, p *Proc) int {
			if len(p.Args) > 1 {
				code := 0
				for _, f := range p.Args[1:] {
					s, ok := p.ReadFile(f)
					if !ok {
						fmt.Fprintf(p.Stderr, "cat: can't open '%s': No such file or directory\n", f)
						code = 1
						continue
					}
					fmt.Fprint(p.Stdout, s)
				}
				return code
			}
			copyUntil(ctx, p.Stdout, p.Stdin)
			return 0
		},
		"true":  func(context.Context, *Proc) int { return 0 },
		"false": func(context.Context, *Proc) int { return 1 },
		"sleep": func(ctx context.Context, p *Proc) int {
			d := time.Duration(1<<63 - 1)
			if len(p.Args) > 1 && p.Args[1] != "infinity" {
				secs, err := strconv.ParseFloat(p.Args[1], 64)
				if err != nil {
					fmt.Fprintf(p.Stderr, "sleep: invalid number '%s'\n", p.Args[1])
					return 1
				}
				d = time.Duration(secs * float64(time.Second))
			}
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
			}
			return 0
		},
		"touch": func(_ context.Context, p *Proc) int {
			for _, f := range p.Args[1:] {
				if _, ok := p.ReadFile(f); !ok {
					p.WriteFile(f, "")
				}
			}
			return 0
		},
		"rm": func(_ context.Context, p *Proc) int {
			code := 0
			for _, f := range p.Args[1:] {
				if f == "-f" || f == "-rf" {
					continue
				}
				if !p.RemoveFile(f) {
					fmt.Fprintf(p.Stderr, "rm: can't remove '%s': No such file or directory\n", f)
					code = 1
				}
			}
			return code
		},
		"env": func(_ context.Context, p *Proc) int {
			for _, e := range p.Env {
				fmt.Fprintln(p.Stdout, e)
			}
			return 0
		},
		"ls": func(_ context.Context, p *Proc) int {
			p.fake.mu.Lock()
			names := make([]string, 0, len(p.ctr.files))
			for f := range p.ctr.files {
				names = append(names, "/"+f)
			}
			p.fake.mu.Unlock()
			sort.Strings(names)
			for _, n := range names {
				fmt.Fprintln(p.Stdout, n)
			}
			return 0
		},
		"sh": shell,
	}
}

// copyUntil copies until src ends or ctx is done; a read blocked on
// input nobody sends is left behind (it ends when the input is closed).
func copyUntil(ctx context.Context, dst io.Writer, src io.Reader) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(dst, src)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// shell is a very small sh: commands separated by ";" or newlines, words
// with ” and "" quoting, "exit N", and ">&2" at the end of a command to
// send its output to stderr. It runs `sh -c SCRIPT`, or reads commands
// from its input line by line, as `docker run -i busybox sh` does.
func shell(ctx context.Context, p *Proc) int {
	if len(p.Args) > 2 && p.Args[1] == "-c" {
		code, _ := runScript(ctx, p, p.Args[2])
		return code
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(p.Stdin)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	code := 0
	for {
		select {
		case <-ctx.Done():
			return code
		case line, ok := <-lines:
			if !ok {
				return code
			}
			var exited bool
			if code, exited = runScript(ctx, p, line); exited {
				return code
			}
		}
	}
}

// runScript runs the commands of script; exited reports an "exit".
func runScript(ctx context.Context, p *Proc, script string) (code int, exited bool) {
	for _, cmd := range splitScript(script) {
		if len(cmd) == 0 {
			continue
		}
		if cmd[0] == "exit" {
			if len(cmd) > 1 {
				code, _ = strconv.Atoi(cmd[1])
			}
			return code, true
		}
		sub := *p
		if cmd[len(cmd)-1] == ">&2" {
			cmd = cmd[:len(cmd)-1]
			sub.Stdout = p.Stderr
		}
		if len(cmd) == 0 {
			continue
		}
		code = sub.run(ctx, cmd)
		if ctx.Err() != nil {
			return code, true
		}
	}
	return code, false
}

// splitScript splits a script into commands of words.
func splitScript(s string) [][]string {
	var cmds [][]string
	var cmd []string
	var word strings.Builder
	inWord := false
	var quote rune
	flushWord := func() {
		if inWord {
			cmd = append(cmd, word.String())
			word.Reset()
			inWord = false
		}
	}
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			word.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ';' || r == '\n':
			flushWord()
			cmds = append(cmds, cmd)
			cmd = nil
		case r == ' ' || r == '\t':
			flushWord()
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	flushWord()
	return append(cmds, cmd)
}
