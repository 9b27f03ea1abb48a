package seccomp

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/03-rootfs/seccomp/seccomptest"
)

// loadEnv asks the test binary to load a filter and become the probe:
// the filter must not land in the test process itself, which could then
// never lose it.
const loadEnv = "BERTH_SECCOMP_TEST_LOAD"

type loadRequest struct {
	Profile Profile  `json:"profile"`
	Caps    []string `json:"caps"`
	Probe   string   `json:"probe"`
}

func TestMain(m *testing.M) {
	if v := os.Getenv(loadEnv); v != "" {
		os.Exit(loadAndExec(v))
	}
	os.Exit(m.Run())
}

func loadAndExec(v string) int {
	var r loadRequest
	if err := json.Unmarshal([]byte(v), &r); err != nil {
		println(err.Error())
		return 3
	}
	f, err := Compile(r.Profile, r.Caps)
	if err == nil {
		// Unprivileged test runs need no_new_privs to load a filter.
		err = unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
	}
	if err == nil {
		err = f.Load()
	}
	if err == nil {
		err = syscall.Exec(r.Probe, []string{"probe"}, nil)
	}
	println(err.Error())
	return 3
}

// TestLoadedFilter loads filters into a real process and runs the probe
// under them: what the kernel does with the program, not what the
// interpreter of compile_test.go says it would.
func TestLoadedFilter(t *testing.T) {
	probe := seccomptest.Probe(t)
	tests := []struct {
		name    string
		profile Profile
		caps    []string
		want    string
	}{
		{"default profile, default capabilities", Profile{}, defaultCaps, seccomptest.Refused},
		{"default profile with CAP_SYS_ADMIN", Profile{}, withSysAdmin,
			"Seccomp=2 keyctl=refused add_key=refused perf_event_open=allowed clone3=EINVAL unshare_user=allowed"},
		{"a custom profile", Profile{JSON: `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["add_key","clone3"],"action":"SCMP_ACT_ERRNO"}]}`}, defaultCaps,
			"Seccomp=2 keyctl=allowed add_key=refused perf_event_open=allowed clone3=EPERM unshare_user=allowed"},
		{"unconfined", Unconfined, defaultCaps, "Seccomp=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := json.Marshal(loadRequest{Profile: tt.profile, Caps: tt.caps, Probe: probe})
			require.NoError(t, err)
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), loadEnv+"="+string(req))
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			if tt.profile.Unconfined {
				// Without a filter the kernel decides; only the mode is sure.
				assert.True(t, strings.HasPrefix(string(out), tt.want), "%s", out)
				return
			}
			assert.Equal(t, tt.want, strings.TrimSpace(string(out)))
		})
	}
}
