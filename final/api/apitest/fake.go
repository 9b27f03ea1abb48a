package apitest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"path"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/container"
	moby "github.com/moby/moby/api/types/events"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/07-logs/shim"
	"github.com/berth-project/berth/final/api"
	"github.com/berth-project/berth/final/events"
	"github.com/berth-project/berth/final/filters"
	"github.com/berth-project/berth/final/restart"
)

// Fake is an in-memory api.Backend. Containers run Programs (goroutines)
// instead of processes, and images are a name, a config and a map of
// files. It keeps the state machine and the error kinds of the real
// engine, which is what a client's conversation depends on: create,
// attach before start, wait, logs, exec with exit codes, commit, save and
// load round trips, 404s and 409s.
//
// A new Fake has one image, busybox:latest (command "sh"), and the
// programs echo, cat, sh, sleep, true, false, touch, rm, ls and env.
type Fake struct {
	mu         sync.Mutex
	containers map[string]*ctr      // by ID
	images     map[string]*img      // by ID
	execs      map[string]*execProc // by ID
	programs   map[string]Program
	seq        int
	// started is when the fake was made: its networks' creation time.
	started time.Time
	volumes map[string]volume.Volume // by name (volumes.go)
	// networks are the user-defined networks, by ID.
	networks map[string]*fakeNetwork
	// events: the fake reports its containers' lifecycle (create,
	// start, die, destroy) as the daemon does (events.go).
	events *events.Bus
	// remote is the fake's registries (registry.go), made on first use.
	remote *registryState
}

var _ api.Backend = (*Fake)(nil)

// NewFake returns a fake engine with the busybox image.
func NewFake() *Fake {
	f := &Fake{
		containers: map[string]*ctr{},
		images:     map[string]*img{},
		execs:      map[string]*execProc{},
		programs:   defaultPrograms(),
		started:    time.Now(),
		networks:   map[string]*fakeNetwork{},
		events:     events.New(events.Options{}),
	}
	f.AddImage("busybox:latest", container.Config{Cmd: []string{"sh"}, Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
		map[string]string{"bin/busybox": "busybox", "etc/hostname": "fake\n", "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n"})
	return f
}

// SetProgram adds or replaces the program run for a command named name
// (the base name of the command's first word).
func (f *Fake) SetProgram(name string, p Program) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.programs[name] = p
}

func (f *Fake) program(name string) Program {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.programs[path.Base(name)]
}

// ctr is a fake container.
type ctr struct {
	id, name  string
	order     int // of creation: before, since and the list's order
	created   time.Time
	imageRef  string
	image     *img
	config    container.Config
	host      container.HostConfig
	files     map[string]string
	status    container.ContainerState
	paused    bool // while running: docker pause (the program goes on, unseen)
	pid       int
	exitCode  int
	errMsg    string
	startedAt time.Time
	ended     time.Time
	runs      int // starts so far
	exits     int // exits so far
	removed   bool
	logs      []api.LogEntry
	execIDs   []string
	size      [2]uint

	// changed is closed and replaced on every change of the container
	// (output, state): waiters, followers and attachers watch it.
	changed chan struct{}
	cancel  context.CancelCauseFunc // of the running program
	done    chan struct{}           // closed when the running program returned
	stdinR  *io.PipeReader
	stdinW  *io.PipeWriter
}

// notify wakes everyone watching c. Call with f.mu held.
func (c *ctr) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// containerID is the ID of the container created order-th: random to
// look at, as the daemon's, but the same in every fake, so that two
// fakes driven alike (a docker CLI and the berth CLI side by side)
// answer alike.
func containerID(order int) string {
	return fakeID(fmt.Sprint("fake container ", order))
}

var validName = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$`)

// lookup finds a container by ID, name or unique ID prefix. Call with
// f.mu held.
func (f *Fake) lookup(name string) (*ctr, error) {
	if c, ok := f.containers[name]; ok {
		return c, nil
	}
	n := strings.TrimPrefix(name, "/")
	for _, c := range f.containers {
		if c.name == n {
			return c, nil
		}
	}
	var found *ctr
	if name != "" {
		for id, c := range f.containers {
			if strings.HasPrefix(id, name) {
				if found != nil {
					return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("multiple IDs found with provided prefix: %s", name))
				}
				found = c
			}
		}
	}
	if found == nil {
		return nil, errdefs.ErrNotFound.WithMessage("No such container: " + name)
	}
	return found, nil
}

func (f *Fake) get(name string) (*ctr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lookup(name)
}

// Version describes the fake engine.
func (f *Fake) Version(context.Context) (system.VersionResponse, error) {
	return system.VersionResponse{
		Platform:      system.PlatformInfo{Name: "berth (fake)"},
		Version:       "0.0.0-fake",
		Os:            runtime.GOOS,
		Arch:          runtime.GOARCH,
		GoVersion:     runtime.Version(),
		GitCommit:     "fake",
		KernelVersion: "fake",
	}, nil
}

// Info counts the fake's containers and images.
func (f *Fake) Info(context.Context) (system.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	info := system.Info{
		ID:              "FAKE",
		Name:            "fake",
		Images:          len(f.images),
		Driver:          "fake",
		OSType:          "linux",
		OperatingSystem: "fake",
		Architecture:    runtime.GOARCH,
		ServerVersion:   "0.0.0-fake",
		NCPU:            runtime.NumCPU(),
		LoggingDriver:   "fake",
		CgroupDriver:    "none",
		DockerRootDir:   "/fake",
		SystemTime:      time.Now().Format(time.RFC3339Nano),
	}
	for _, c := range f.containers {
		info.Containers++
		switch c.state() {
		case container.StatePaused:
			info.ContainersPaused++
		case container.StateRunning:
			info.ContainersRunning++
		default:
			info.ContainersStopped++
		}
	}
	return info, nil
}

// ContainerCreate makes a container in the "created" state.
func (f *Fake) ContainerCreate(_ context.Context, name string, req container.CreateRequest) (container.CreateResponse, error) {
	if req.Config == nil {
		return container.CreateResponse{}, errdefs.ErrInvalidArgument.WithMessage("config cannot be empty in order to create a container")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	im, err := f.lookupImage(req.Image)
	if err != nil {
		return container.CreateResponse{}, err
	}
	f.seq++
	order := f.seq
	if name == "" {
		name = fmt.Sprintf("fake_%d", order)
	} else if !validName.MatchString(name) {
		return container.CreateResponse{}, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", name))
	}
	name = strings.TrimPrefix(name, "/")
	for _, other := range f.containers {
		if other.name == name {
			return container.CreateResponse{}, errdefs.ErrConflict.WithMessage(fmt.Sprintf("Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", name, other.id))
		}
	}
	// A health check the fake would not run is refused, never ignored.
	if hc := req.Config.Healthcheck; hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE" {
		return container.CreateResponse{}, errdefs.ErrInvalidArgument.WithMessage("Healthcheck is not supported by the fake engine")
	}
	cfg := *req.Config
	if len(cfg.Entrypoint) == 0 && len(cfg.Cmd) == 0 {
		cfg.Cmd = im.Config.Cmd
	}
	if cfg.Entrypoint == nil {
		cfg.Entrypoint = im.Config.Entrypoint
	}
	if len(cfg.Entrypoint)+len(cfg.Cmd) == 0 {
		return container.CreateResponse{}, errdefs.ErrInvalidArgument.WithMessage("no command specified")
	}
	cfg.Env = append(append([]string{}, im.Config.Env...), cfg.Env...)
	if cfg.WorkingDir == "" {
		cfg.WorkingDir = im.Config.WorkingDir
	}
	c := &ctr{
		id:       containerID(order),
		name:     name,
		order:    order,
		created:  time.Now(),
		imageRef: req.Image,
		image:    im,
		config:   cfg,
		files:    map[string]string{},
		status:   container.StateCreated,
		changed:  make(chan struct{}),
	}
	if req.HostConfig != nil {
		c.host = *req.HostConfig
	}
	for k, v := range im.Files {
		c.files[k] = v
	}
	f.containers[c.id] = c
	f.emit(c, moby.ActionCreate, nil)
	return container.CreateResponse{ID: c.id}, nil
}

// argv is the command line of c's process.
func (c *ctr) argv() []string {
	return append(append([]string{}, c.config.Entrypoint...), c.config.Cmd...)
}

// ContainerStart runs the container's program in a goroutine.
func (f *Fake) ContainerStart(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return err
	}
	if c.paused {
		return errdefs.ErrConflict.WithMessage("cannot start a paused container, try unpause instead")
	}
	if c.status == container.StateRunning {
		return errdefs.ErrNotModified.WithMessage("Container already started")
	}
	argv := c.argv()
	prog := f.programs[path.Base(argv[0])]
	if prog == nil {
		c.exitCode = 127
		c.errMsg = argv[0] + ": executable file not found in $PATH"
		c.notify()
		// As dockerd does: `docker run --rm` waits for the removal
		// even when the start failed.
		if c.host.AutoRemove {
			f.remove(c)
		}
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("failed to start container %s: starting container %s: %s", c.id, c.name, c.errMsg))
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	c.cancel, c.done = cancel, make(chan struct{})
	c.runs++
	c.status = container.StateRunning
	c.pid = 4000 + c.runs*10 + len(f.containers)
	c.startedAt = time.Now()
	c.exitCode, c.errMsg = 0, ""
	if c.config.OpenStdin {
		c.stdinR, c.stdinW = io.Pipe()
	}
	proc := &Proc{
		Args:   argv,
		Env:    c.config.Env,
		Tty:    c.config.Tty,
		Stdin:  strings.NewReader(""),
		Stdout: &output{f: f, c: c, stream: 1},
		Stderr: &output{f: f, c: c, stream: 2},
		fake:   f,
		ctr:    c,
	}
	if c.stdinR != nil {
		proc.Stdin = c.stdinR
	}
	if c.config.Tty {
		proc.Stderr = proc.Stdout
	}
	c.notify()
	f.emit(c, moby.ActionStart, nil)
	go f.run(ctx, c, prog, proc)
	return nil
}

// signalled is the cause of a run's end when stop or kill ended it.
type signalled int

func (s signalled) Error() string { return "signal " + strconv.Itoa(int(s)) }

func (f *Fake) run(ctx context.Context, c *ctr, prog Program, proc *Proc) {
	code := prog(ctx, proc)
	f.mu.Lock()
	defer f.mu.Unlock()
	if sig, ok := context.Cause(ctx).(signalled); ok {
		code = 128 + int(sig)
	}
	c.cancel(nil)
	close(c.done)
	c.cancel = nil
	if c.stdinR != nil {
		_ = c.stdinR.CloseWithError(io.ErrClosedPipe)
	}
	c.status, c.paused = container.StateExited, false
	c.exitCode = code
	c.ended = time.Now()
	c.exits++
	f.emit(c, moby.ActionDie, map[string]string{"exitCode": strconv.Itoa(code)})
	c.notify()
	if c.host.AutoRemove {
		f.remove(c)
	}
}

// output is a container's stdout or stderr: it goes to the log, which
// followers and attachers read.
type output struct {
	f      *Fake
	c      *ctr
	stream int
}

func (o *output) Write(p []byte) (int, error) {
	o.f.mu.Lock()
	defer o.f.mu.Unlock()
	now := time.Now()
	rest := p
	for len(rest) > 0 {
		i := strings.IndexByte(string(rest), '\n')
		line := rest
		if i >= 0 {
			line = rest[:i+1]
		}
		stream := o.stream
		if o.c.config.Tty {
			stream = 1
		}
		o.c.logs = append(o.c.logs, api.LogEntry{Stream: stream, Time: now, Data: append([]byte{}, line...)})
		rest = rest[len(line):]
	}
	o.c.notify()
	return len(p), nil
}

// notRunning is the daemon's conflict for an action that needs a
// running container (kill, exec, pause, top, resize).
func notRunning(c *ctr) error {
	return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is not running", c.id))
}

// signal ends c's program with the signal name ("TERM", "SIGTERM" or
// "15", read as the daemon reads it: chapter 07's ParseSignal) and waits
// for it, or for ctx. The name is checked first: a bad one is a 400
// whatever the container's state, a container that does not run a 409.
func (f *Fake) signal(ctx context.Context, c *ctr, name string) error {
	sig, err := shim.ParseSignal(name)
	if err != nil {
		return errdefs.ErrInvalidArgument.WithMessage(err.Error())
	}
	f.mu.Lock()
	if c.cancel == nil {
		f.mu.Unlock()
		return notRunning(c)
	}
	c.cancel(signalled(int(sig)))
	done := c.done
	f.mu.Unlock()
	select {
	case <-done:
		// The run goroutine closes done and records the exit in one
		// critical section: once the lock is free, the exit is there.
		f.mu.Lock()
		exited := c.status != container.StateRunning
		f.mu.Unlock()
		if !exited {
			return fmt.Errorf("container %s did not record its exit", c.id)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ContainerStop ends the container with its stop signal (SIGTERM).
func (f *Fake) ContainerStop(ctx context.Context, name string, _ *int, signal string) error {
	c, err := f.get(name)
	if err != nil {
		return err
	}
	f.mu.Lock()
	running := c.status == container.StateRunning
	if signal == "" {
		signal = c.config.StopSignal
	}
	f.mu.Unlock()
	if !running {
		return errdefs.ErrNotModified.WithMessage("Container already stopped")
	}
	if signal == "" {
		signal = "SIGTERM"
	}
	if err := f.signal(ctx, c, signal); errdefs.IsConflict(err) {
		return errdefs.ErrNotModified.WithMessage("Container already stopped") // it ended meanwhile
	} else if err != nil {
		return err
	}
	return nil
}

// ContainerRestart stops the container if it runs, and starts it.
func (f *Fake) ContainerRestart(ctx context.Context, name string, timeout *int, signal string) error {
	if err := f.ContainerStop(ctx, name, timeout, signal); err != nil && !errdefs.IsNotModified(err) {
		return err
	}
	return f.ContainerStart(ctx, name)
}

// ContainerKill sends signal (SIGKILL by default); every signal ends a
// fake program.
func (f *Fake) ContainerKill(ctx context.Context, name string, signal string) error {
	c, err := f.get(name)
	if err != nil {
		return err
	}
	if signal == "" {
		signal = "SIGKILL"
	}
	return f.signal(ctx, c, signal)
}

// ContainerPause marks a running container paused. The fake's program
// goes on; what changes is what the engine reports and refuses (exec,
// start), and that a kill or stop ends the pause, as in Docker.
func (f *Fake) ContainerPause(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return err
	}
	switch {
	case c.status != container.StateRunning:
		return notRunning(c)
	case c.paused:
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is already paused", c.id))
	}
	c.paused = true
	c.notify()
	return nil
}

// ContainerRename renames a container with dockerd's rules and errors.
func (f *Fake) ContainerRename(_ context.Context, name, newName string) error {
	if name == "" || newName == "" {
		return errdefs.ErrInvalidArgument.WithMessage("Neither old nor new names may be empty")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return err
	}
	newName = strings.TrimPrefix(newName, "/")
	switch {
	case newName == c.name:
		return errdefs.ErrInvalidArgument.WithMessage("Renaming a container with the same name as its current name")
	case !validName.MatchString(newName):
		return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Error when allocating new name: Invalid container name (/%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", newName))
	}
	for _, other := range f.containers {
		if other.name == newName {
			return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Error when allocating new name: Conflict. The container name \"/%s\" is already in use by container \"%s\". You have to remove (or rename) that container to be able to reuse that name.", newName, other.id))
		}
	}
	c.name = newName
	c.notify()
	return nil
}

// ContainerUnpause ends a pause.
func (f *Fake) ContainerUnpause(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return err
	}
	if !c.paused || c.status != container.StateRunning {
		return errdefs.ErrConflict.WithMessage(fmt.Sprintf("Container %s is not paused", c.id))
	}
	c.paused = false
	c.notify()
	return nil
}

// ContainerRemoveLink answers docker rm --link as berthd does for a
// name that is no link: the fake keeps no legacy links.
func (f *Fake) ContainerRemoveLink(_ context.Context, name string) error {
	name = "/" + strings.TrimPrefix(name, "/")
	if parent, _ := path.Split(name); parent == "/" {
		return errdefs.ErrConflict.WithMessage("Conflict, cannot remove the default link name of the container")
	}
	return errdefs.ErrNotFound.WithMessage("No such container: " + strings.TrimPrefix(name, "/"))
}

// ContainerRemove deletes a stopped container, or a running one with
// force.
func (f *Fake) ContainerRemove(ctx context.Context, name string, force, _ bool) error {
	c, err := f.get(name)
	if err != nil {
		return err
	}
	f.mu.Lock()
	running := c.status == container.StateRunning
	f.mu.Unlock()
	if running {
		if !force {
			return errdefs.ErrConflict.WithMessage(fmt.Sprintf("You cannot remove a running container %s. Stop the container before attempting removal or force remove", c.id))
		}
		if err := f.signal(ctx, c, "SIGKILL"); err != nil && !errdefs.IsConflict(err) {
			return err
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !c.removed {
		f.remove(c)
	}
	return nil
}

// ContainersPrune removes the containers that are not running and match
// until and the labels, as the daemon does.
func (f *Fake) ContainersPrune(ctx context.Context, args filters.Args) (container.PruneReport, error) {
	report := container.PruneReport{ContainersDeleted: []string{}}
	if err := args.Check("containers", "until", "label", "label!"); err != nil {
		return report, err
	}
	until, hasUntil, err := args.Until(time.Now())
	if err != nil {
		return report, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.containers {
		if c.status == container.StateRunning || c.status == container.StatePaused ||
			(hasUntil && !c.created.Before(until)) || !args.Labels(c.config.Labels) {
			continue
		}
		f.remove(c)
		report.ContainersDeleted = append(report.ContainersDeleted, c.id)
	}
	slices.Sort(report.ContainersDeleted)
	return report, nil
}

// remove forgets c. Call with f.mu held.
func (f *Fake) remove(c *ctr) {
	delete(f.containers, c.id)
	for _, id := range c.execIDs {
		delete(f.execs, id)
	}
	c.removed = true
	c.notify()
	f.emit(c, moby.ActionDestroy, nil)
}

// ContainerWait delivers the exit code when the condition is met.
func (f *Fake) ContainerWait(ctx context.Context, name string, cond container.WaitCondition) (<-chan container.WaitResponse, error) {
	f.mu.Lock()
	c, err := f.lookup(name)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	target := c.exits + 1
	f.mu.Unlock()
	met := func() bool {
		switch cond {
		case container.WaitConditionRemoved:
			return c.removed
		case container.WaitConditionNextExit:
			return c.exits >= target
		default:
			return c.status != container.StateRunning
		}
	}
	ch := make(chan container.WaitResponse, 1)
	go func() {
		for {
			f.mu.Lock()
			if met() {
				res := container.WaitResponse{StatusCode: int64(c.exitCode)}
				if c.errMsg != "" {
					res.Error = &container.WaitExitError{Message: c.errMsg}
				}
				f.mu.Unlock()
				ch <- res
				return
			}
			changed := c.changed
			f.mu.Unlock()
			select {
			case <-changed:
			case <-ctx.Done():
				close(ch)
				return
			}
		}
	}()
	return ch, nil
}

// ContainerList lists the containers, newest first, with the daemon's
// filters.
func (f *Fake) ContainerList(_ context.Context, opts api.ListOptions) ([]container.Summary, error) {
	args := opts.Filters
	if err := args.Check("containers", "id", "name", "label", "exited", "status", "ancestor", "before", "since", "volume", "network", "health",
		"publish", "expose", "is-task"); err != nil {
		return nil, err
	}
	ports, err := args.Ports()
	if err != nil {
		return nil, err
	}
	// No swarm here either: is-task=true lists nothing.
	isTask, _, err := args.Bool("is-task")
	if err != nil {
		return nil, err
	}
	for _, v := range args["health"] {
		if err := container.ValidateHealthStatus(container.HealthStatus(v)); err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage("Unrecognised filter value for health: " + v)
		}
	}
	for _, v := range args["status"] {
		if err := container.ValidateContainerState(container.ContainerState(v)); err != nil {
			return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid filter 'status=%s'", v))
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// before and since: the order of creation of the container named.
	before, since := 0, 0
	for key, bound := range map[string]*int{"before": &before, "since": &since} {
		for _, v := range args[key] {
			c, err := f.lookup(v)
			if err != nil {
				return nil, err
			}
			*bound = c.order
		}
	}
	var all []*ctr
	for _, c := range f.containers {
		if (opts.All || c.status == container.StateRunning || len(args["status"]) > 0) &&
			(before == 0 || c.order < before) && c.order > since && f.matches(c, args) &&
			!isTask && ports.Match(c.summary().Ports) {
			all = append(all, c)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].order > all[j].order })
	if opts.Limit > 0 && len(all) > opts.Limit {
		all = all[:opts.Limit]
	}
	out := []container.Summary{}
	for _, c := range all {
		out = append(out, c.summary())
	}
	return out, nil
}

// matches applies the filters as the daemon does: the values of one key
// are alternatives, the labels must all be there.
func (f *Fake) matches(c *ctr, args filters.Args) bool {
	return args.Labels(c.config.Labels) &&
		args.Any("id", func(v string) bool { return strings.HasPrefix(c.id, v) }) &&
		args.Any("name", func(v string) bool {
			re, err := regexp.Compile(v)
			return (err == nil && re.MatchString(c.name)) || strings.Contains(c.name, strings.TrimPrefix(v, "/"))
		}) &&
		args.Any("status", func(v string) bool { return string(c.state()) == v }) &&
		// The fake runs no health checks (ContainerCreate refuses them).
		args.Any("health", func(v string) bool { return v == string(container.NoHealthcheck) }) &&
		args.Any("ancestor", func(v string) bool {
			im, err := f.lookupImage(v)
			return err == nil && im == c.image
		}) &&
		args.Any("exited", func(v string) bool { return c.status == container.StateExited && strconv.Itoa(c.exitCode) == v }) &&
		args.Any("network", func(v string) bool {
			if string(c.host.NetworkMode) == v {
				return true
			}
			n, err := f.network(v)
			return err == nil && slices.Contains(f.networkUsers(n), c.id[:12])
		}) &&
		// A volume's name, or a mount's destination (a host path is
		// no volume's name).
		args.Any("volume", func(v string) bool {
			return slices.ContainsFunc(c.host.Binds, func(b string) bool {
				src, dst, _ := strings.Cut(b, ":")
				dst, _, _ = strings.Cut(dst, ":")
				return (src == v && !strings.HasPrefix(src, "/")) || dst == v
			}) || slices.ContainsFunc(c.host.Mounts, func(m mount.Mount) bool {
				return (m.Type == mount.TypeVolume && m.Source == v) || m.Target == v
			})
		})
}

// state is the status word of the API: the fake's status, or "paused".
func (c *ctr) state() container.ContainerState {
	if c.paused && c.status == container.StateRunning {
		return container.StatePaused
	}
	return c.status
}

func (c *ctr) statusText() string {
	switch c.status {
	case container.StateRunning:
		if c.paused {
			return "Up " + units.HumanDuration(time.Since(c.startedAt)) + " (Paused)"
		}
		return "Up " + units.HumanDuration(time.Since(c.startedAt))
	case container.StateExited:
		return fmt.Sprintf("Exited (%d) %s ago", c.exitCode, units.HumanDuration(time.Since(c.ended)))
	default:
		return "Created"
	}
}

func (c *ctr) summary() container.Summary {
	s := container.Summary{
		ID:      c.id,
		Names:   []string{"/" + c.name},
		Image:   c.imageRef,
		ImageID: c.image.ID,
		Command: strings.Join(c.argv(), " "),
		Created: c.created.Unix(),
		State:   c.state(),
		Status:  c.statusText(),
		Labels:  c.config.Labels,
		Ports:   []container.PortSummary{},
		Mounts:  []container.MountPoint{},
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	var ports []network.Port
	for p := range c.host.PortBindings {
		ports = append(ports, p)
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i].Num() < ports[j].Num() })
	for _, p := range ports {
		for _, b := range c.host.PortBindings[p] {
			public, _ := strconv.ParseUint(b.HostPort, 10, 16)
			ip := b.HostIP
			if !ip.IsValid() {
				ip = netip.IPv4Unspecified()
			}
			s.Ports = append(s.Ports, container.PortSummary{IP: ip, PrivatePort: p.Num(), PublicPort: uint16(public), Type: string(p.Proto())})
		}
	}
	return s
}

// ContainerInspect describes a container as `docker inspect` shows it.
func (f *Fake) ContainerInspect(_ context.Context, name string) (container.InspectResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return container.InspectResponse{}, err
	}
	argv := c.argv()
	cfg := c.config
	host := c.host
	// Published ports: an empty host address means all of them, which
	// dockerd reports as 0.0.0.0.
	ports := network.PortMap{}
	for p, bindings := range host.PortBindings {
		for _, b := range bindings {
			if !b.HostIP.IsValid() {
				b.HostIP = netip.IPv4Unspecified()
			}
			ports[p] = append(ports[p], b)
		}
	}
	pid := 0
	if c.status == container.StateRunning {
		pid = c.pid
	}
	return container.InspectResponse{
		ID:      c.id,
		Created: api.FormatTime(c.created),
		Path:    argv[0],
		Args:    argv[1:],
		State: &container.State{
			Status:     c.state(),
			Running:    c.status == container.StateRunning,
			Paused:     c.paused,
			Pid:        pid,
			ExitCode:   c.exitCode,
			Error:      c.errMsg,
			StartedAt:  api.FormatTime(c.startedAt),
			FinishedAt: api.FormatTime(c.ended),
		},
		Image:        c.image.ID,
		Name:         "/" + c.name,
		Driver:       "fake",
		Platform:     "linux",
		ExecIDs:      append([]string(nil), c.execIDs...),
		HostConfig:   &host,
		Mounts:       []container.MountPoint{},
		Config:       &cfg,
		RestartCount: 0,
		NetworkSettings: &container.NetworkSettings{
			Ports:    ports,
			Networks: map[string]*network.EndpointSettings{},
		},
	}, nil
}

// ContainerTop lists the container's process and its running execs.
func (f *Fake) ContainerTop(_ context.Context, name string, _ string) (container.TopResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return container.TopResponse{}, err
	}
	if c.status != container.StateRunning {
		return container.TopResponse{}, notRunning(c)
	}
	top := container.TopResponse{
		Titles:    []string{"UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"},
		Processes: [][]string{{"root", strconv.Itoa(c.pid), "1", "0", c.startedAt.Format("15:04"), "?", "00:00:00", strings.Join(c.argv(), " ")}},
	}
	for _, id := range c.execIDs {
		if e := f.execs[id]; e != nil && e.running {
			top.Processes = append(top.Processes, []string{"root", strconv.Itoa(e.pid), strconv.Itoa(c.pid), "0", c.startedAt.Format("15:04"), "?", "00:00:00", strings.Join(e.cfg.Cmd, " ")})
		}
	}
	return top, nil
}

// ContainerStats gives a made-up sample: its CPU time grows by 10 ms
// per second the container has run, 1 MiB of memory under the
// container's limit (1 GiB without one), one pid plus the running execs.
func (f *Fake) ContainerStats(_ context.Context, name string) (container.StatsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return container.StatsResponse{}, err
	}
	st := container.StatsResponse{ID: c.id, Name: "/" + c.name}
	if c.status != container.StateRunning {
		return st, nil
	}
	now := time.Now()
	up := uint64(now.Sub(c.startedAt))
	limit := uint64(1 << 30)
	if c.host.Memory > 0 {
		limit = uint64(c.host.Memory)
	}
	pids := uint64(1)
	for _, id := range c.execIDs {
		if e := f.execs[id]; e != nil && e.running {
			pids++
		}
	}
	st.OSType = "linux"
	st.Read = now
	st.CPUStats = container.CPUStats{
		CPUUsage:    container.CPUUsage{TotalUsage: up / 100},
		SystemUsage: uint64(now.UnixNano()),
		OnlineCPUs:  1,
	}
	st.MemoryStats = container.MemoryStats{Usage: 1 << 20, Limit: limit, Stats: map[string]uint64{"inactive_file": 0}}
	st.PidsStats = container.PidsStats{Current: pids}
	st.Networks = map[string]container.NetworkStats{"eth0": {}}
	return st, nil
}

// ContainerLogs replays the log, then follows it if asked until the
// container stops or ctx is done.
func (f *Fake) ContainerLogs(ctx context.Context, name string, opts api.LogsOptions) (api.Logs, error) {
	f.mu.Lock()
	c, err := f.lookup(name)
	if err != nil {
		f.mu.Unlock()
		return api.Logs{}, err
	}
	tty := c.config.Tty
	start := 0
	if opts.Tail >= 0 && opts.Tail < len(c.logs) {
		start = len(c.logs) - opts.Tail
	}
	f.mu.Unlock()
	ch := make(chan api.LogEntry)
	go func() {
		defer close(ch)
		next := start
		for {
			f.mu.Lock()
			batch := append([]api.LogEntry(nil), c.logs[next:]...)
			next = len(c.logs)
			running := c.status == container.StateRunning
			changed := c.changed
			f.mu.Unlock()
			for _, e := range batch {
				if (!opts.Since.IsZero() && e.Time.Before(opts.Since)) || (!opts.Until.IsZero() && e.Time.After(opts.Until)) {
					continue
				}
				if (e.Stream == 1 && !opts.Stdout) || (e.Stream == 2 && !opts.Stderr) {
					continue
				}
				select {
				case ch <- e:
				case <-ctx.Done():
					return
				}
			}
			if !opts.Follow || !running {
				return
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return
			}
		}
	}()
	return api.Logs{TTY: tty, Entries: ch}, nil
}

// ContainerAttach streams the container's output from now on (after the
// log, with Logs) until the running program, or the next one to start,
// has exited.
func (f *Fake) ContainerAttach(ctx context.Context, name string, opts api.AttachOptions) error {
	f.mu.Lock()
	c, err := f.lookup(name)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	next := len(c.logs)
	if opts.Logs {
		next = 0
	}
	runs, wasRunning := c.runs, c.status == container.StateRunning
	stdinW, stdinOnce := c.stdinW, c.config.StdinOnce
	f.mu.Unlock()
	if opts.Attached != nil {
		opts.Attached()
	}
	if opts.Stdin != nil && stdinW == nil {
		f.mu.Lock()
		stdinW = c.stdinW
		f.mu.Unlock()
	}
	stdinStarted := false
	startStdin := func(w *io.PipeWriter) {
		if stdinStarted || opts.Stdin == nil || w == nil {
			return
		}
		stdinStarted = true
		go func() {
			_, err := io.Copy(w, opts.Stdin)
			if err == nil && stdinOnce {
				_ = w.Close()
			}
		}()
	}
	if wasRunning {
		startStdin(stdinW)
	}
	for {
		f.mu.Lock()
		batch := append([]api.LogEntry(nil), c.logs[next:]...)
		next = len(c.logs)
		started := wasRunning || c.runs > runs
		// Removed before it ever ran (a failed start of a --rm
		// container): there is nothing to wait for.
		finished := (started && c.status != container.StateRunning) || c.removed
		if started && !finished {
			stdinW = c.stdinW
		}
		changed := c.changed
		f.mu.Unlock()
		if started && !finished {
			startStdin(stdinW)
		}
		for _, e := range batch {
			w := opts.Stdout
			if e.Stream == 2 {
				w = opts.Stderr
			}
			if w == nil {
				continue
			}
			if _, err := w.Write(e.Data); err != nil {
				return fmt.Errorf("writing to the client: %w", err)
			}
		}
		if !opts.Stream || finished {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// ContainerResize records the terminal size.
func (f *Fake) ContainerResize(_ context.Context, name string, height, width uint) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return err
	}
	if c.status != container.StateRunning {
		return notRunning(c)
	}
	c.size = [2]uint{height, width}
	return nil
}

// ContainerChanges compares the container's files with its image's.
func (f *Fake) ContainerChanges(_ context.Context, name string) ([]container.FilesystemChange, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	var out []container.FilesystemChange
	for p, content := range c.files {
		old, ok := c.image.Files[p]
		switch {
		case !ok:
			out = append(out, container.FilesystemChange{Kind: container.ChangeAdd, Path: "/" + p})
		case old != content:
			out = append(out, container.FilesystemChange{Kind: container.ChangeModify, Path: "/" + p})
		}
	}
	for p := range c.image.Files {
		if _, ok := c.files[p]; !ok {
			out = append(out, container.FilesystemChange{Kind: container.ChangeDelete, Path: "/" + p})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// ContainerExport writes the container's files as a tar.
func (f *Fake) ContainerExport(_ context.Context, name string, w io.Writer) error {
	f.mu.Lock()
	c, err := f.lookup(name)
	if err != nil {
		f.mu.Unlock()
		return err
	}
	files := copyFiles(c.files)
	f.mu.Unlock()
	return writeTar(w, files)
}

// ContainerUpdate changes a container's restart policy, with dockerd's
// checks; the fake restarts nothing, and applies no resource (refused by
// name, as berthd refuses them).
func (f *Fake) ContainerUpdate(_ context.Context, name string, req container.UpdateConfig) (container.UpdateResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.lookup(name)
	if err != nil {
		return container.UpdateResponse{}, err
	}
	if asked := api.UpdatedResources(req.Resources); len(asked) > 0 {
		return container.UpdateResponse{}, api.RefuseUpdate(asked)
	}
	if req.RestartPolicy.Name != "" {
		if err := restart.Validate(req.RestartPolicy, false); err != nil {
			return container.UpdateResponse{}, errdefs.ErrInvalidArgument.WithMessage(err.Error())
		}
		if c.host.AutoRemove && !req.RestartPolicy.IsNone() {
			return container.UpdateResponse{}, errdefs.ErrConflict.WithMessage(fmt.Sprintf("Cannot update container %s: Restart policy cannot be updated because AutoRemove is enabled for the container", c.id))
		}
		c.host.RestartPolicy = req.RestartPolicy
	}
	return container.UpdateResponse{Warnings: []string{}}, nil
}
