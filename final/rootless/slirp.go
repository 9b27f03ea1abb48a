package rootless

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// startSlirp gives the network namespace of process pid a network:
// slirp4netns makes a tap device in it (tap0, 10.0.2.100/24, default
// route via 10.0.2.2) and turns the frames that leave by it into the
// host's own sockets. It serves its API (port forwarding) on apiSock.
// stop ends it.
func startSlirp(pid int, apiSock string) (stop func(), err error) {
	// A socket left by a parent that was killed: slirp4netns will not
	// listen over it.
	if err := os.Remove(apiSock); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("slirp4netns: %w", err)
	}
	// slirp4netns exits when the exit pipe closes: when stop runs, or
	// when this process dies, however it dies.
	exitR, exitW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("slirp4netns: %w", err)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		exitR.Close()
		exitW.Close()
		return nil, fmt.Errorf("slirp4netns: %w", err)
	}
	cmd := exec.Command("slirp4netns",
		"--configure",             // address, route and lo, in the namespace
		"--mtu=65520",             // fewer, bigger frames: much faster than 1500
		"--disable-host-loopback", // 10.0.2.2 is not the host's 127.0.0.1
		"--api-socket", apiSock,
		"--exit-fd=3", "--ready-fd=4",
		strconv.Itoa(pid), "tap0")
	cmd.ExtraFiles = []*os.File{exitR, readyW}
	cmd.Stderr = os.Stderr
	err = cmd.Start()
	exitR.Close()
	readyW.Close()
	if err != nil {
		exitW.Close()
		readyR.Close()
		return nil, fmt.Errorf("slirp4netns (Debian's package slirp4netns): %w", err)
	}
	stop = func() {
		exitW.Close()
		_ = cmd.Wait()
	}
	// It writes "1" once the tap is up; EOF means it failed.
	b, err := bufio.NewReader(readyR).ReadByte()
	readyR.Close()
	if err != nil || b != '1' {
		stop()
		return nil, fmt.Errorf("slirp4netns did not start (its error is above): %v", err)
	}
	return stop, nil
}

// Ports forwards ports of the host to the namespace, through the API of
// the slirp4netns that Run started: a connection to the host's
// HostIP:HostPort is made again, by slirp4netns, to 10.0.2.100 (the
// namespace's end of the tap) at the same port, where the namespace's
// own rules (chapter 05's DNAT) take it on to a container.
//
//	host                    rootless namespace           container
//	127.0.0.1:8080  -->  10.0.2.100:8080 (tap0)  --DNAT-->  10.88.0.2:80
//	 slirp4netns            chapter 05's rules
type Ports struct {
	// API is slirp4netns's API socket (APISocket).
	API string
}

// APISocket is where a rootless berthd with execRoot has slirp4netns
// serve its API.
func APISocket(execRoot string) string { return filepath.Join(execRoot, "slirp4netns.sock") }

// Add forwards the host's hostIP:port (any address if hostIP is not
// valid) of protocol proto ("tcp" or "udp") to the namespace's port, and
// returns the forward's ID for Remove.
func (p Ports) Add(proto string, hostIP netip.Addr, port uint16) (int, error) {
	if !hostIP.IsValid() {
		hostIP = netip.IPv4Unspecified()
	}
	var ret struct {
		ID int `json:"id"`
	}
	err := p.call("add_hostfwd", map[string]any{
		"proto": proto, "host_addr": hostIP.String(), "host_port": port,
		"guest_addr": slirpGuestAddr, "guest_port": port,
	}, &ret)
	if err != nil && port < 1024 {
		// slirp4netns says only that it failed: it binds the port as
		// the user.
		err = fmt.Errorf("%w (a port below 1024 is root's on the host: net.ipv4.ip_unprivileged_port_start)", err)
	}
	if err != nil {
		return 0, fmt.Errorf("forwarding the host's %s:%d/%s: %w", hostIP, port, proto, err)
	}
	return ret.ID, nil
}

// Remove ends the forward with ID id.
func (p Ports) Remove(id int) error {
	if err := p.call("remove_hostfwd", map[string]any{"id": id}, nil); err != nil {
		return fmt.Errorf("removing port forward %d: %w", id, err)
	}
	return nil
}

// call makes one request of slirp4netns's API: a JSON object
// {"execute": ..., "arguments": ...} on a connection of its own, answered
// by {"return": ...} or {"error": {"desc": ...}}.
func (p Ports) call(execute string, args map[string]any, ret any) error {
	conn, err := net.DialTimeout("unix", p.API, 5*time.Second)
	if err != nil {
		return fmt.Errorf("slirp4netns API: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req, err := json.Marshal(map[string]any{"execute": execute, "arguments": args})
	if err != nil {
		return err
	}
	if _, err := conn.Write(req); err != nil {
		return fmt.Errorf("slirp4netns API: %w", err)
	}
	// slirp4netns answers once it has the request; the end of ours
	// says it is whole.
	_ = conn.(*net.UnixConn).CloseWrite()
	var resp struct {
		Return json.RawMessage `json:"return"`
		Error  *struct {
			Desc string `json:"desc"`
		} `json:"error"`
	}
	if err := json.NewDecoder(conn).Decode(&resp); err != nil {
		return fmt.Errorf("slirp4netns API: reading the answer to %s: %w", execute, err)
	}
	if resp.Error != nil {
		return fmt.Errorf("slirp4netns: %s", resp.Error.Desc)
	}
	if ret != nil && len(resp.Return) > 0 {
		if err := json.Unmarshal(resp.Return, ret); err != nil {
			return fmt.Errorf("slirp4netns API: %s: %w", execute, err)
		}
	}
	return nil
}
