package build

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/berth-project/berth/01-namespaces/namespace"
	"github.com/berth-project/berth/06-images/image"
)

// Options describe one build.
type Options struct {
	Dockerfile *Dockerfile
	// Context is the directory of the build context, unpacked, with
	// .dockerignore applied (ExtractContext, ApplyIgnore).
	Context string
	// Scratch is a directory for the build's temporary files: the new
	// layers of COPY and ADD are prepared there.
	Scratch string
	// BuildArgs are --build-arg values; a nil value is unset.
	BuildArgs map[string]*string
	// Tags name the final image ("name:tag").
	Tags []string
	// Labels are --label values: a LABEL step at the end.
	Labels  map[string]string
	NoCache bool
	// Cache remembers the steps' images; nil builds without a cache.
	Cache *Cache
	// Out receives the build's report, in the words of Docker's classic
	// builder, and the output of the RUN commands.
	Out io.Writer
	// Built, if not nil, is called with the final image's ID before
	// "Successfully built" is written (the daemon sends it to the client
	// as the stream's aux message).
	Built func(image.Digest)
}

// StepError is an error of one instruction: its message names the
// Dockerfile and the line, as a syntax error's does.
type StepError struct {
	File string
	Line int
	Err  error
}

func (e *StepError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *StepError) Unwrap() error { return e.Err }

// Build runs a Dockerfile, step by step, each on the image the previous
// step made, and returns the last image's ID:
//
//	Step 1/4 : FROM busybox           the base: an image of the store
//	 ---> 3f57d9401f8d
//	Step 2/4 : RUN echo hi > /greeting
//	 ---> Running in 0a1b2c3d4e5f      a container of 3f57d9401f8d runs the command;
//	Removing intermediate container…   its writable layer becomes a layer of the
//	 ---> 9e8d7c6b5a4f                 next image (run, then commit)
//	Step 3/4 : COPY app /app           the files become a layer directly
//	 ---> 5d4c3b2a1f0e
//	Step 4/4 : CMD ["/app/run"]        configuration only: an "empty layer" step
//	 ---> 8a7b6c5d4e3f
//	Successfully built 8a7b6c5d4e3f
//
// Every step's image stays in the store, untagged, with its parent
// recorded: `history` names each, and the cache finds them again. A step
// whose key (see Cache) is in the cache, with its image still there, is
// not done again: " ---> Using cache".
func Build(ctx context.Context, b Backend, opts Options) (image.Digest, error) {
	df := opts.Dockerfile
	if df == nil {
		return "", errors.New("build: no Dockerfile")
	}
	if err := checkSupported(df); err != nil {
		return "", err
	}
	bl := &builder{ctx: ctx, b: b, opts: opts, df: df, stages: map[string]Image{},
		consumed: map[string]bool{}, meta: map[string]string{}}
	return bl.run()
}

// checkSupported refuses, before anything is built, the instructions
// that berth knows but does not build.
func checkSupported(df *Dockerfile) error {
	for _, in := range df.Instructions {
		var msg string
		switch in.Name {
		case "ONBUILD":
			msg = "ONBUILD is not supported by berth's builder"
		case "RUN":
			for _, f := range in.Flags {
				if f.Name != "network" {
					msg = fmt.Sprintf("RUN --%s is not supported by berth's classic builder", f.Name)
				}
			}
		case "COPY", "ADD":
			for _, f := range in.Flags {
				if f.Name != "chown" && f.Name != "chmod" && f.Name != "from" {
					msg = fmt.Sprintf("%s --%s is not supported by berth's classic builder", in.Name, f.Name)
				}
			}
		case "FROM":
			if _, ok := in.Flag("platform"); ok {
				msg = "FROM --platform is not supported: berth builds for this machine only"
			}
		case "SHELL":
			if !in.JSON {
				msg = "SHELL requires the arguments to be in JSON form"
			}
		}
		if msg != "" {
			return &ParseError{File: df.Name, Line: in.Line, Msg: msg}
		}
	}
	return nil
}

type builder struct {
	ctx    context.Context
	b      Backend
	opts   Options
	df     *Dockerfile
	stages map[string]Image // the finished stages, by name (AS ...)
	byNum  []Image          // and by number, for COPY --from=0

	meta     map[string]string // ARGs before the first FROM, with values
	consumed map[string]bool   // build args that an ARG declared

	// The stage being built.
	cur       *Image
	stageName string            // AS NAME of the stage, lower case
	args      map[string]string // ARGs of the stage with a value
	shell     []string
	author    string
	cmdSet    bool // the stage has a CMD of its own
	step      int
	total     int
}

func (bl *builder) printf(format string, a ...any) {
	if bl.opts.Out != nil {
		fmt.Fprintf(bl.opts.Out, format, a...)
	}
}

func (bl *builder) run() (image.Digest, error) {
	steps := bl.df.Instructions
	if len(bl.opts.Labels) > 0 {
		// Like Docker's classic builder: --label is a LABEL step added
		// at the end.
		keys := make([]string, 0, len(bl.opts.Labels))
		for k := range bl.opts.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var words []string
		for _, k := range keys {
			words = append(words, strconv.Quote(k)+"="+strconv.Quote(bl.opts.Labels[k]))
		}
		steps = append(append([]Instruction{}, steps...), Instruction{
			Line: 0, Name: "LABEL", Args: words, Original: "LABEL " + strings.Join(words, " "),
		})
	}
	bl.total = len(steps)
	for i, in := range steps {
		if err := bl.ctx.Err(); err != nil {
			return "", err
		}
		bl.step = i + 1
		bl.printf("Step %d/%d : %s\n", bl.step, bl.total, in.Original)
		if err := bl.dispatch(in); err != nil {
			var exit *ExitError
			var perr *ParseError
			if errors.As(err, &exit) || errors.As(err, &perr) || errors.Is(err, context.Canceled) {
				return "", err
			}
			return "", &StepError{File: bl.df.Name, Line: in.Line, Err: err}
		}
	}
	if bl.cur == nil {
		return "", errors.New("build: no FROM")
	}
	id := bl.cur.ID
	var unused []string
	for k := range bl.opts.BuildArgs {
		if !bl.consumed[k] {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		bl.printf("[Warning] One or more build-args %v were not consumed\n", unused)
	}
	if bl.opts.Built != nil {
		bl.opts.Built(id)
	}
	bl.printf("Successfully built %s\n", id.Short())
	for _, t := range bl.opts.Tags {
		if err := bl.b.Tag(bl.ctx, id, t); err != nil {
			return "", fmt.Errorf("tagging %s: %w", t, err)
		}
		bl.printf("Successfully tagged %s\n", t)
	}
	return id, nil
}

// lookup is the variables an instruction's arguments see: the image's
// environment (ENV), then the stage's ARGs, which ENV overrides.
func (bl *builder) lookup(name string) (string, bool) {
	if bl.cur != nil {
		for i := len(bl.cur.Config.Env) - 1; i >= 0; i-- {
			if k, v, _ := strings.Cut(bl.cur.Config.Env[i], "="); k == name {
				return v, true
			}
		}
	}
	v, ok := bl.args[name]
	return v, ok
}

func (bl *builder) metaLookup(name string) (string, bool) {
	v, ok := bl.meta[name]
	return v, ok
}

// word expands one argument.
func (bl *builder) word(s string) (string, error) {
	return expandWord(s, bl.df.Escape, bl.lookup)
}

func (bl *builder) words(args []string) ([]string, error) {
	out := make([]string, 0, len(args))
	for _, a := range args {
		w, err := bl.word(a)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

func (bl *builder) dispatch(in Instruction) error {
	if in.Name == "FROM" {
		return bl.from(in)
	}
	if bl.cur == nil {
		if in.Name == "ARG" {
			return bl.arg(in, true)
		}
		return fmt.Errorf("%s before FROM", in.Name)
	}
	switch in.Name {
	case "RUN":
		return bl.runStep(in)
	case "COPY", "ADD":
		return bl.copy(in)
	case "ARG":
		return bl.arg(in, false)
	}
	return bl.configStep(in)
}

func (bl *builder) from(in Instruction) error {
	ref, err := expandWord(in.Args[0], bl.df.Escape, bl.metaLookup)
	if err != nil {
		return err
	}
	var img Image
	if st, ok := bl.stages[strings.ToLower(ref)]; ok {
		img = st
	} else if strings.EqualFold(ref, "scratch") {
		return errors.New("FROM scratch is not supported: berth builds on an image of its store (import or load one)")
	} else {
		img, err = bl.b.Image(bl.ctx, ref)
		if err != nil {
			return fmt.Errorf("FROM %s: %w", ref, err)
		}
	}
	if bl.cur != nil {
		bl.endStage()
	}
	bl.cur = &img
	bl.args = map[string]string{}
	bl.shell = nil
	if len(img.Config.Shell) > 0 {
		bl.shell = img.Config.Shell
	}
	bl.author = img.Author
	bl.cmdSet = false
	if len(in.Args) == 3 {
		bl.stageName = strings.ToLower(in.Args[2])
	} else {
		bl.stageName = ""
	}
	bl.printf(" ---> %s\n", img.ID.Short())
	return nil
}

// endStage records the stage just finished, for FROM and COPY --from.
func (bl *builder) endStage() {
	bl.byNum = append(bl.byNum, *bl.cur)
	if bl.stageName != "" {
		bl.stages[bl.stageName] = *bl.cur
	}
}

// arg declares build arguments: ARG NAME[=default]. The value is the
// --build-arg one if given, else the default, else (in a stage) the
// value of the same ARG before the first FROM.
func (bl *builder) arg(in Instruction, meta bool) error {
	for _, a := range in.Args {
		name, def, hasDef := strings.Cut(a, "=")
		if name == "" {
			return fmt.Errorf("ARG %s: no name", a)
		}
		lookup := bl.lookup
		if meta {
			lookup = bl.metaLookup
		}
		if hasDef {
			v, err := expandWord(def, bl.df.Escape, lookup)
			if err != nil {
				return err
			}
			def = v
		}
		value, set := def, hasDef
		if !meta && !hasDef {
			value, set = bl.meta[name]
		}
		if v, ok := bl.opts.BuildArgs[name]; ok {
			bl.consumed[name] = true
			if v != nil {
				value, set = *v, true
			}
		}
		if meta {
			if set {
				bl.meta[name] = value
			}
			continue
		}
		if set {
			bl.args[name] = value
		}
	}
	if meta {
		return nil // no image yet: the value is for FROM lines
	}
	cfg := cloneConfig(bl.cur.Config)
	return bl.commit("ARG "+strings.Join(in.Args, " "), cfg, "")
}

// runArgs are the stage's build arguments that a RUN sees in its
// environment (those with a value, and not overridden by an ENV).
func (bl *builder) runArgs() []string {
	var out []string
	for k, v := range bl.args {
		overridden := false
		for _, e := range bl.cur.Config.Env {
			if strings.HasPrefix(e, k+"=") {
				overridden = true
			}
		}
		if !overridden {
			out = append(out, k+"="+v)
		}
	}
	sort.Strings(out)
	return out
}

func joinCommand(args []string) string { return strings.Join(args, " ") }

// shellCommand is the command of a shell-form RUN, CMD or ENTRYPOINT.
func (bl *builder) shellCommand(s string) []string {
	sh := bl.shell
	if len(sh) == 0 {
		sh = []string{"/bin/sh", "-c"}
	}
	return append(append([]string{}, sh...), s)
}

func (bl *builder) runStep(in Instruction) error {
	command := in.Args
	if !in.JSON {
		command = bl.shellCommand(in.Args[0])
	}
	env := bl.runArgs()
	// As Docker records it: the build arguments the command saw come
	// first ("|1 VERSION=2 /bin/sh -c make"), so they are part of the
	// cache key too.
	createdBy := joinCommand(command)
	if len(env) > 0 {
		createdBy = fmt.Sprintf("|%d %s %s", len(env), strings.Join(env, " "), createdBy)
	}
	if bl.cached(createdBy) {
		return nil
	}
	var started string
	img, err := bl.b.Run(bl.ctx, RunRequest{
		Parent: *bl.cur, Command: command, Env: env, CreatedBy: createdBy,
		Stdout: bl.opts.Out, Stderr: bl.opts.Out,
		Started: func(id string) {
			started = id
			bl.printf(" ---> Running in %s\n", namespace.ShortID(id))
		},
	})
	if started != "" {
		bl.printf("Removing intermediate container %s\n", namespace.ShortID(started))
	}
	if err != nil {
		var exit *ExitError
		if errors.As(err, &exit) {
			exit.Command = command
		}
		return err
	}
	return bl.done(createdBy, img)
}

// key is a step's cache key.
func (bl *builder) key(createdBy string) string {
	return bl.cur.ID.String() + "\n" + createdBy
}

// cached uses the cache for a step, if it can: then the step is done.
func (bl *builder) cached(createdBy string) bool {
	if bl.opts.NoCache || bl.opts.Cache == nil {
		return false
	}
	key := bl.key(createdBy)
	id, ok := bl.opts.Cache.Get(key)
	if !ok {
		return false
	}
	img, err := bl.b.Image(bl.ctx, id.String())
	if err != nil {
		bl.opts.Cache.Forget(key) // its image was removed
		return false
	}
	bl.printf(" ---> Using cache\n")
	bl.printf(" ---> %s\n", img.ID.Short())
	bl.cur = &img
	return true
}

// done makes img the current image and remembers it for the step.
func (bl *builder) done(createdBy string, img Image) error {
	if bl.opts.Cache != nil {
		if err := bl.opts.Cache.Put(bl.key(createdBy), img.ID); err != nil {
			return err
		}
	}
	bl.printf(" ---> %s\n", img.ID.Short())
	bl.cur = &img
	return nil
}

// commit makes a configuration-only step's image.
func (bl *builder) commit(text string, cfg image.ContainerConfig, dir string) error {
	createdBy := "/bin/sh -c #(nop) " + text
	if bl.cached(createdBy) {
		return nil
	}
	img, err := bl.b.Commit(bl.ctx, CommitRequest{Parent: *bl.cur, Dir: dir, Config: cfg, Author: bl.author, CreatedBy: createdBy})
	if err != nil {
		return err
	}
	return bl.done(createdBy, img)
}

func (bl *builder) copy(in Instruction) error {
	args, err := bl.words(in.Args)
	if err != nil {
		return err
	}
	srcs, dest := args[:len(args)-1], args[len(args)-1]
	src := dirTree(bl.opts.Context)
	fromContext := true
	if from, ok := in.Flag("from"); ok {
		if in.Name == "ADD" {
			return errors.New("ADD --from is not supported: use COPY --from")
		}
		from, err = bl.word(from)
		if err != nil {
			return err
		}
		img, ok := bl.stages[strings.ToLower(from)]
		if n, err := strconv.Atoi(from); err == nil && n >= 0 && n < len(bl.byNum) {
			img, ok = bl.byNum[n], true
		}
		if !ok {
			if img, err = bl.b.Image(bl.ctx, from); err != nil {
				return fmt.Errorf("COPY --from=%s: no such stage or image: %w", from, err)
			}
		}
		src, fromContext = imageTree(img.Layers), false
	}
	dst := imageTree(bl.cur.Layers)
	step, err := planCopy(in.Name, src, dst, srcs, dest, workdir(bl.cur.Config), fromContext)
	if err != nil {
		return err
	}
	flags := ""
	if v, ok := in.Flag("chown"); ok {
		if v, err = bl.word(v); err != nil {
			return err
		}
		if step.uid, step.gid, err = lookupOwner(dst, v); err != nil {
			return err
		}
		flags += " --chown=" + v
	}
	if v, ok := in.Flag("chmod"); ok {
		if v, err = bl.word(v); err != nil {
			return err
		}
		mode, err := parseChmod(v)
		if err != nil {
			return err
		}
		step.chmod = &mode
		flags += " --chmod=" + v
	}
	digest, err := step.digest()
	if err != nil {
		return fmt.Errorf("%s: %w", in.Name, err)
	}
	dest = "/" + step.dest
	if step.destDir && dest != "/" {
		dest += "/"
	}
	createdBy := fmt.Sprintf("/bin/sh -c #(nop) %s%s %s in %s ", in.Name, flags, digest, dest)
	if bl.cached(createdBy) {
		return nil
	}
	if err := os.MkdirAll(bl.opts.Scratch, 0o700); err != nil {
		return err
	}
	upper, err := os.MkdirTemp(bl.opts.Scratch, "layer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(upper)
	if err := os.Chmod(upper, 0o755); err != nil {
		return err
	}
	if err := step.apply(upper); err != nil {
		return fmt.Errorf("%s: %w", in.Name, err)
	}
	img, err := bl.b.Commit(bl.ctx, CommitRequest{Parent: *bl.cur, Dir: upper, Config: cloneConfig(bl.cur.Config), Author: bl.author, CreatedBy: createdBy})
	if err != nil {
		return err
	}
	return bl.done(createdBy, img)
}

func workdir(c image.ContainerConfig) string {
	if c.WorkingDir == "" {
		return "/"
	}
	return c.WorkingDir
}

// configStep runs the instructions that change only the configuration.
func (bl *builder) configStep(in Instruction) error {
	cfg := cloneConfig(bl.cur.Config)
	var text string
	switch in.Name {
	case "ENV":
		// Every value sees the environment from before the
		// instruction: ENV A=1 B=$A takes the old A.
		kvs, err := bl.keyValues(in.Args)
		if err != nil {
			return err
		}
		var pairs []string
		for _, kv := range kvs {
			pairs = append(pairs, kv[0]+"="+kv[1])
		}
		for _, kv := range pairs {
			cfg.Env = setEnv(cfg.Env, kv)
		}
		text = "ENV " + strings.Join(pairs, " ")
	case "LABEL":
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		kvs, err := bl.keyValues(in.Args)
		if err != nil {
			return err
		}
		var pairs []string
		for _, kv := range kvs {
			cfg.Labels[kv[0]] = kv[1]
			pairs = append(pairs, strconv.Quote(kv[0])+"="+strconv.Quote(kv[1]))
		}
		text = "LABEL " + strings.Join(pairs, " ")
	case "WORKDIR":
		dir, err := bl.word(in.Args[0])
		if err != nil {
			return err
		}
		if !path.IsAbs(dir) {
			dir = path.Join(workdir(cfg), dir)
		}
		cfg.WorkingDir = path.Clean(dir)
		text = "WORKDIR " + cfg.WorkingDir
	case "USER":
		user, err := bl.word(in.Args[0])
		if err != nil {
			return err
		}
		cfg.User = user
		text = "USER " + user
	case "CMD", "ENTRYPOINT":
		var cmd []string
		switch {
		case in.JSON:
			cmd = in.Args
		case len(in.Args) > 0:
			cmd = bl.shellCommand(in.Args[0])
		}
		if in.Name == "CMD" {
			cfg.Cmd = cmd
			bl.cmdSet = true
		} else {
			cfg.Entrypoint = cmd
			// Docker: an ENTRYPOINT resets the CMD that came with the
			// base image (not one this Dockerfile set).
			if !bl.cmdSet {
				cfg.Cmd = nil
			}
		}
		text = in.Name + " " + jsonText(cmd)
	case "EXPOSE":
		ports, err := bl.wordsSplit(in.Args)
		if err != nil {
			return err
		}
		exposed := map[string]struct{}{}
		for p := range cfg.ExposedPorts {
			exposed[p] = struct{}{}
		}
		var list []string
		for _, p := range ports {
			p, err := checkPort(p)
			if err != nil {
				return err
			}
			exposed[p] = struct{}{}
			list = append(list, p)
		}
		cfg.ExposedPorts = exposed
		text = "EXPOSE " + strings.Join(list, " ")
	case "VOLUME":
		vols := in.Args
		if !in.JSON {
			var err error
			if vols, err = bl.wordsSplit(in.Args); err != nil {
				return err
			}
		}
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range vols {
			if v == "" {
				return errors.New("VOLUME: empty path")
			}
			cfg.Volumes[v] = struct{}{}
		}
		text = "VOLUME " + jsonText(vols)
	case "STOPSIGNAL":
		sig, err := bl.word(in.Args[0])
		if err != nil {
			return err
		}
		cfg.StopSignal = sig
		text = "STOPSIGNAL " + sig
	case "SHELL":
		bl.shell = append([]string{}, in.Args...)
		cfg.Shell = bl.shell
		text = "SHELL " + jsonText(in.Args)
	case "HEALTHCHECK":
		hc, err := healthcheck(in)
		if err != nil {
			return err
		}
		if cfg.Healthcheck, err = json.Marshal(hc); err != nil {
			return fmt.Errorf("HEALTHCHECK: %w", err)
		}
		// The history's words, as Docker's classic builder prints the
		// config (%q of the struct).
		text = fmt.Sprintf("HEALTHCHECK &{%q %q %q %q %q %q}", hc.Test, hc.Interval.String(), hc.Timeout.String(),
			hc.StartPeriod.String(), hc.StartInterval.String(), rune(hc.Retries))
	case "MAINTAINER":
		bl.author = in.Args[0]
		text = "MAINTAINER " + in.Args[0]
	default:
		return fmt.Errorf("%s is not supported", in.Name)
	}
	return bl.commit(text, cfg, "")
}

func (bl *builder) wordsSplit(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		w, err := expandWords(a, bl.df.Escape, bl.lookup)
		if err != nil {
			return nil, err
		}
		out = append(out, w...)
	}
	return out, nil
}

// checkPort reads EXPOSE's PORT[/PROTO] (or a range), "/tcp" by default.
func checkPort(p string) (string, error) {
	port, proto, hasProto := strings.Cut(p, "/")
	if !hasProto {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return "", fmt.Errorf("EXPOSE %s: protocol must be tcp, udp or sctp", p)
	}
	lo, hi, isRange := strings.Cut(port, "-")
	for _, n := range []string{lo, hi} {
		if n == "" && !isRange {
			continue
		}
		v, err := strconv.Atoi(n)
		if err != nil || v < 1 || v > 65535 {
			return "", fmt.Errorf("EXPOSE %s: invalid port", p)
		}
	}
	return port + "/" + proto, nil
}

func jsonText(v []string) string {
	if v == nil {
		v = []string{}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// setEnv sets KEY=VALUE in an environment list, replacing an earlier
// value in place.
func setEnv(env []string, kv string) []string {
	key, _, _ := strings.Cut(kv, "=")
	for i, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}

// cloneConfig copies a configuration deeply enough to change it.
func cloneConfig(c image.ContainerConfig) image.ContainerConfig {
	out := c
	out.Env = append([]string(nil), c.Env...)
	out.Entrypoint = append([]string(nil), c.Entrypoint...)
	out.Cmd = append([]string(nil), c.Cmd...)
	out.Shell = append([]string(nil), c.Shell...)
	out.OnBuild = append([]string(nil), c.OnBuild...)
	if c.ExposedPorts != nil {
		out.ExposedPorts = map[string]struct{}{}
		for k := range c.ExposedPorts {
			out.ExposedPorts[k] = struct{}{}
		}
	}
	if c.Volumes != nil {
		out.Volumes = map[string]struct{}{}
		for k := range c.Volumes {
			out.Volumes[k] = struct{}{}
		}
	}
	if c.Labels != nil {
		out.Labels = map[string]string{}
		for k, v := range c.Labels {
			out.Labels[k] = v
		}
	}
	return out
}

// keyValues expands the KEY=VALUE arguments of ENV and LABEL, each side
// with the variables in scope before the instruction (ENV A=1 B=$A takes
// the old A).
func (bl *builder) keyValues(args []string) ([][2]string, error) {
	var kvs [][2]string
	for _, kv := range args {
		k, v, _ := strings.Cut(kv, "=")
		key, err := bl.word(k)
		if err != nil {
			return nil, err
		}
		value, err := bl.word(v)
		if err != nil {
			return nil, err
		}
		kvs = append(kvs, [2]string{key, value})
	}
	return kvs, nil
}
