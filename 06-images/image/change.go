package image

import (
	"encoding/json"
	"fmt"
	"strings"
)

// ApplyChange applies one Dockerfile-like instruction to a config, as
// `docker commit --change` and `docker import --change` do:
//
//	CMD ["cat","/f"]   or   CMD cat /f        (shell form: sh -c "cat /f")
//	ENTRYPOINT [...]   or   ENTRYPOINT ...
//	ENV KEY=VALUE ...  or   ENV KEY VALUE
//	WORKDIR /dir
//	USER name[:group]
//	LABEL key=value ...
//	EXPOSE 80[/tcp] ...
//	STOPSIGNAL SIGTERM
//	VOLUME ["/data"]   or   VOLUME /data /logs
func ApplyChange(c *ContainerConfig, change string) error {
	instr, rest, _ := strings.Cut(strings.TrimSpace(change), " ")
	rest = strings.TrimSpace(rest)
	switch strings.ToUpper(instr) {
	case "CMD", "ENTRYPOINT":
		args, err := commandForm(rest)
		if err != nil {
			return fmt.Errorf("change %q: %w", change, err)
		}
		if strings.EqualFold(instr, "CMD") {
			c.Cmd = args
		} else {
			c.Entrypoint = args
		}
	case "ENV":
		pairs, err := keyValues(rest, true)
		if err != nil {
			return fmt.Errorf("change %q: %w", change, err)
		}
		env := append([]string{}, c.Env...)
		for _, kv := range pairs {
			key, _, _ := strings.Cut(kv, "=")
			replaced := false
			for i, e := range env {
				if strings.HasPrefix(e, key+"=") {
					env[i], replaced = kv, true
				}
			}
			if !replaced {
				env = append(env, kv)
			}
		}
		c.Env = env
	case "WORKDIR":
		if !strings.HasPrefix(rest, "/") {
			return fmt.Errorf("change %q: WORKDIR must be an absolute path", change)
		}
		c.WorkingDir = rest
	case "USER":
		if rest == "" {
			return fmt.Errorf("change %q: USER needs a user", change)
		}
		c.User = rest
	case "LABEL":
		pairs, err := keyValues(rest, false)
		if err != nil {
			return fmt.Errorf("change %q: %w", change, err)
		}
		labels := map[string]string{}
		for k, v := range c.Labels {
			labels[k] = v
		}
		for _, kv := range pairs {
			k, v, _ := strings.Cut(kv, "=")
			labels[k] = strings.Trim(v, `"`)
		}
		c.Labels = labels
	case "EXPOSE":
		ports := map[string]struct{}{}
		for k := range c.ExposedPorts {
			ports[k] = struct{}{}
		}
		for _, p := range strings.Fields(rest) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			ports[p] = struct{}{}
		}
		c.ExposedPorts = ports
	case "STOPSIGNAL":
		c.StopSignal = rest
	case "VOLUME":
		return addVolumes(c, change, rest)
	default:
		return fmt.Errorf("change %q: unknown or unsupported instruction %q (CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, STOPSIGNAL, VOLUME)", change, instr)
	}
	return nil
}

// addVolumes is VOLUME: paths in the container, a JSON array or a list,
// each of which a container of the image gets an anonymous volume on.
func addVolumes(c *ContainerConfig, change, rest string) error {
	paths := strings.Fields(rest)
	if strings.HasPrefix(rest, "[") {
		if err := json.Unmarshal([]byte(rest), &paths); err != nil {
			return fmt.Errorf("change %q: %w", change, err)
		}
	}
	if len(paths) == 0 {
		return fmt.Errorf("change %q: VOLUME needs a path", change)
	}
	vols := map[string]struct{}{}
	for v := range c.Volumes {
		vols[v] = struct{}{}
	}
	for _, p := range paths {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("change %q: VOLUME %s: not an absolute path", change, p)
		}
		vols[p] = struct{}{}
	}
	c.Volumes = vols
	return nil
}

// commandForm reads the exec form (a JSON array) or the shell form of a
// CMD or ENTRYPOINT.
func commandForm(s string) ([]string, error) {
	if strings.HasPrefix(s, "[") {
		var args []string
		if err := json.Unmarshal([]byte(s), &args); err != nil {
			return nil, fmt.Errorf("exec form: %w", err)
		}
		return args, nil
	}
	if s == "" {
		return nil, fmt.Errorf("no command")
	}
	return []string{"/bin/sh", "-c", s}, nil
}

// keyValues reads "K=V K2=V2", or "K V" (the old one-pair form) when
// spaceForm allows it.
func keyValues(s string, spaceForm bool) ([]string, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, fmt.Errorf("no KEY=VALUE given")
	}
	if spaceForm && !strings.Contains(fields[0], "=") {
		return []string{fields[0] + "=" + strings.TrimSpace(strings.TrimPrefix(s, fields[0]))}, nil
	}
	for _, f := range fields {
		if k, _, ok := strings.Cut(f, "="); !ok || k == "" {
			return nil, fmt.Errorf("%q is not KEY=VALUE", f)
		}
	}
	return fields, nil
}
