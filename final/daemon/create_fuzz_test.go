package daemon

import (
	"encoding/json"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
)

// FuzzCreateValidation decodes any create body as the API does and runs
// berthd's checks of it that need no kernel (the options berth does not
// apply, the log driver, the file system options): each takes the
// request or refuses it with an invalid-argument error (a 400), never a
// panic. (final/api's FuzzContainerCreate covers the decoding and the
// status codes. Resources, capabilities and security options are left to
// their own tests: other work is changing them.)
func FuzzCreateValidation(f *testing.F) {
	for _, s := range []string{
		`{"Image":"busybox","Cmd":["true"]}`,
		`{"Image":"busybox","Tty":true,"WorkingDir":"rel","HostConfig":{"Memory":1,"NanoCpus":-5,"ShmSize":-1}}`,
		`{"Image":"busybox","HostConfig":{"CapAdd":["ALL","NET_ADMIN"],"CapDrop":["chown","bogus"]}}`,
		`{"Image":"busybox","HostConfig":{"SecurityOpt":["no-new-privileges","label=disable","seccomp=unconfined","x"]}}`,
		`{"Image":"busybox","HostConfig":{"LogConfig":{"Type":"json-file","Config":{"max-size":"-1k","max-file":"0"}}}}`,
		`{"Image":"busybox","HostConfig":{"Privileged":true,"Devices":[{"PathOnHost":"/dev/null"}],"Sysctls":{"a":"b"}}}`,
		`{"Image":"busybox","Healthcheck":{"Test":["CMD","true"]},"HostConfig":{"Tmpfs":{"/t":"size=-1"}}}`,
		`{"Image":"busybox","HostConfig":{"CpuShares":-1,"PidsLimit":-7,"BlkioWeight":5000,"OomScoreAdj":9999}}`,
		`{"Image":"busybox","HostConfig":{"CpusetCpus":"0-,9","CpusetMems":"x","MemoryReservation":-1,"Memory":7000000,"Links":["/a:/b/c",":x"],"PidMode":"container:","IpcMode":"container:x"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req container.CreateRequest
		if json.Unmarshal(body, &req) != nil || req.Config == nil {
			return // the API refuses it first
		}
		if req.HostConfig == nil {
			req.HostConfig = &container.HostConfig{}
		}
		cfg, h := req.Config, req.HostConfig
		check := func(what string, err error) {
			if err != nil && !errdefs.IsInvalidArgument(err) {
				t.Fatalf("%s: %s: not a 400: %v", body, what, err)
			}
		}
		check("unsupported", checkUnsupported(cfg, h))
		_, err := logOptions(h.LogConfig)
		check("log options", err)
		_, err = filesystem(cfg, h)
		check("file system", err)
		_, err = resources(h.Resources)
		check("resources", err)
	})
}
