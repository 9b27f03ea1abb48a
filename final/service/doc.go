// Package service holds the files that let the system's service manager
// control berthd (seed claim S20: `service docker start|stop|restart`):
//
//	berth.init      an LSB init script for /etc/init.d/berth, which
//	                `service berth start|stop|restart|status` runs on hosts
//	                without systemd (and systemd runs through its sysv
//	                generator on hosts with it)
//	berth.service   a systemd unit for /lib/systemd/system/berth.service
//
// `make install-service` installs both. Settings live in /etc/default/berth:
// BERTHD (the binary), BERTHD_OPTS (its flags: -H, --data-root,
// --exec-root, ...), BERTHD_LOG (its log file).
//
// Why stopping the service stops no container: each container runs under
// its own shim, a process of its own session that the daemon started but
// does not own (chapter 07). The init script signals berthd's PID alone;
// the unit sets KillMode=process so that systemd does the same. The next
// berthd finds the containers through their state on disk.
//
// The package has no Go code but its tests, which install the init script
// under a unique name and drive it with `service`.
package service
