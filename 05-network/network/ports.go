package network

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// probeHostPort fails if a process on the host is already listening on the
// mapping's host port (or, for UDP, bound to it), or if the host IP is not
// an address of this host.
//
// A published port is implemented by a DNAT rule, not by a socket, so
// nothing would stop a host service and a container from claiming the
// same port, and the rule would silently steal the service's traffic.
// Docker avoids this because its docker-proxy binds every published port;
// berth asks the kernel by binding the port for a moment. SO_REUSEADDR
// makes the probe ignore connections in TIME_WAIT, which are not a
// listener, the same way a real server would.
func probeHostPort(m PortMapping) error {
	fd, err := bindPort(m, m.HostPort)
	if err != nil {
		return err
	}
	unix.Close(fd)
	return nil
}

// pickFreePort asks the kernel for a free port (bind to port 0) until it
// gets one that no container holds either.
func pickFreePort(m PortMapping, taken func(PortMapping) error) (uint16, error) {
	for range 20 {
		fd, err := bindPort(m, 0)
		if err != nil {
			return 0, fmt.Errorf("-p %s: %w", m, err)
		}
		sa, err := unix.Getsockname(fd)
		unix.Close(fd)
		if err != nil {
			return 0, fmt.Errorf("-p %s: getsockname: %w", m, err)
		}
		m.HostPort = uint16(sa.(*unix.SockaddrInet4).Port)
		if taken(m) == nil {
			return m.HostPort, nil
		}
	}
	return 0, fmt.Errorf("-p %s: found no free host port", m)
}

// bindPort binds a socket of m's protocol to m's host address and port and
// returns it.
func bindPort(m PortMapping, port uint16) (int, error) {
	typ := unix.SOCK_STREAM
	if m.Protocol == "udp" {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(unix.AF_INET, typ|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	if typ == unix.SOCK_STREAM {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("setsockopt SO_REUSEADDR: %w", err)
		}
	}
	sa := &unix.SockaddrInet4{Port: int(port)}
	if !m.AllAddresses() {
		sa.Addr = m.HostIP.As4()
	}
	err = unix.Bind(fd, sa)
	switch {
	case err == nil:
		return fd, nil
	case errors.Is(err, unix.EADDRINUSE):
		err = fmt.Errorf("host port %d/%s is in use by a process on the host", port, m.Protocol)
	case errors.Is(err, unix.EADDRNOTAVAIL):
		err = fmt.Errorf("host IP %s is not an address of this host", m.HostIP)
	default:
		err = fmt.Errorf("binding host port %d/%s: %w", port, m.Protocol, err)
	}
	unix.Close(fd)
	return -1, err
}
