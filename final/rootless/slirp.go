package rootless

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
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
