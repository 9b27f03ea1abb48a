package nsenter_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/berth-project/berth/final/nsenter"
)

// TestCommandRejects: options that cannot work fail at Command, with a
// message that names what is wrong.
func TestCommandRejects(t *testing.T) {
	for name, tc := range map[string]struct {
		opts nsenter.Options
		msg  string
	}{
		"no pid":          {nsenter.Options{Args: []string{"true"}}, "not a PID"},
		"no command":      {nsenter.Options{Pid: 1}, "no command"},
		"relative dir":    {nsenter.Options{Pid: 1, Args: []string{"true"}, Dir: "tmp"}, `"tmp": not an absolute path`},
		"bad env":         {nsenter.Options{Pid: 1, Args: []string{"true"}, Env: []string{"=x"}}, `"=x"`},
		"nul":             {nsenter.Options{Pid: 1, Args: []string{"a\x00b"}}, "NUL"},
		"bad capability":  {nsenter.Options{Pid: 1, Args: []string{"true"}, Capabilities: []string{"CAP_FLY"}}, "CAP_FLY"},
		"bad namespace":   {nsenter.Options{Pid: 1, Args: []string{"true"}, Namespaces: []string{"time2"}}, "time2"},
		"missing cgroup":  {nsenter.Options{Pid: 1, Args: []string{"true"}, CgroupProcs: []string{"/sys/fs/cgroup/no/such/cgroup.procs"}}, "/sys/fs/cgroup/no/such/cgroup.procs"},
		"relative cgroup": {nsenter.Options{Pid: 1, Args: []string{"true"}, CgroupProcs: []string{"cgroup.procs"}}, "not an absolute path"},
		"no process":      {nsenter.Options{Pid: 1 << 30, Args: []string{"true"}}, "/proc/1073741824"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := nsenter.Command(tc.opts)
			if assert.Error(t, err) {
				assert.Contains(t, err.Error(), tc.msg)
			}
		})
	}
	_, err := nsenter.Command(nsenter.Options{Pid: 1 << 30, Args: []string{"true"}})
	assert.ErrorIs(t, err, os.ErrNotExist)
}
