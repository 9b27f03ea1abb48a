package cgroup

import (
	"fmt"
	"strconv"
)

// Block I/O
//
// Two kinds of control, as for the CPU: a weight shares the disk's time
// among the cgroups that compete for it, a throttle caps one cgroup on
// one device whether the disk is busy or not. Both name the device by
// its numbers (ls -l /dev/vda: "254, 0"), since a cgroup knows nothing
// of paths:
//
//	                      v1 (hierarchy "blkio")                 v2 (controller "io")
//	--blkio-weight 300    blkio.weight 300                       io.weight "default 3030"
//	--blkio-weight-device blkio.weight_device "254:0 300"        io.weight "254:0 3030"
//	--device-read-bps     blkio.throttle.read_bps_device         io.max "254:0 rbps=1048576"
//	  /dev/vda:1mb          "254:0 1048576"
//	--device-write-bps    blkio.throttle.write_bps_device        io.max "254:0 wbps=..."
//	--device-read-iops    blkio.throttle.read_iops_device        io.max "254:0 riops=..."
//	--device-write-iops   blkio.throttle.write_iops_device       io.max "254:0 wiops=..."
//
// Each device is one write(2) of its own. Weights run from 10 to 1000 on
// v1 and from 1 to 10000 on v2; the conversion is runc's, so the same
// docker run weighs the same on both. A weight is only obeyed by an I/O
// scheduler that shares (v1: CFQ, gone since Linux 5.0, or BFQ, whose
// files are blkio.bfq.weight; v2: any, through io.weight's cost model):
// a host whose blkio hierarchy has neither file cannot weigh, and New
// says so rather than run without it. Throttles need no scheduler.

// WeightDevice is a block I/O weight for one device.
type WeightDevice struct {
	Major, Minor int64
	Weight       uint16
}

// ThrottleDevice is a cap on one device: bytes or operations per second.
type ThrottleDevice struct {
	Major, Minor int64
	Rate         uint64
}

// Docker's bounds of --blkio-weight and --blkio-weight-device, v1's.
const (
	MinBlkioWeight = 10
	MaxBlkioWeight = 1000
)

// ioWeight converts a v1 weight (10..1000) to a v2 io.weight
// (1..10000) as runc does, linearly: 10 is 1, 1000 is 10000.
func ioWeight(w uint16) uint64 {
	return 1 + (uint64(w)-10)*9999/990
}

func (r Resources) validateIO() error {
	if r.BlkioWeight != 0 && (r.BlkioWeight < MinBlkioWeight || r.BlkioWeight > MaxBlkioWeight) {
		return fmt.Errorf("block I/O weight %d: the range is %d to %d", r.BlkioWeight, MinBlkioWeight, MaxBlkioWeight)
	}
	for _, d := range r.BlkioWeightDevice {
		if d.Weight < MinBlkioWeight || d.Weight > MaxBlkioWeight {
			return fmt.Errorf("block I/O weight %d for device %d:%d: the range is %d to %d", d.Weight, d.Major, d.Minor, MinBlkioWeight, MaxBlkioWeight)
		}
		if d.Major < 0 || d.Minor < 0 {
			return fmt.Errorf("block I/O weight for device %d:%d: invalid device number", d.Major, d.Minor)
		}
	}
	for _, list := range [][]ThrottleDevice{r.ReadBps, r.WriteBps, r.ReadIOPS, r.WriteIOPS} {
		for _, d := range list {
			if d.Major < 0 || d.Minor < 0 {
				return fmt.Errorf("block I/O throttle for device %d:%d: invalid device number", d.Major, d.Minor)
			}
		}
	}
	return nil
}

// throttles pairs each throttle list with its v1 file and its v2 key.
func (r Resources) throttles() []struct {
	v1, v2 string
	list   []ThrottleDevice
} {
	return []struct {
		v1, v2 string
		list   []ThrottleDevice
	}{
		{"blkio.throttle.read_bps_device", "rbps", r.ReadBps},
		{"blkio.throttle.write_bps_device", "wbps", r.WriteBps},
		{"blkio.throttle.read_iops_device", "riops", r.ReadIOPS},
		{"blkio.throttle.write_iops_device", "wiops", r.WriteIOPS},
	}
}

func device(major, minor int64) string {
	return strconv.FormatInt(major, 10) + ":" + strconv.FormatInt(minor, 10)
}

// setIOV1 writes the weights and throttles that are set; the others are
// left as they are (a new cgroup has none).
func setIOV1(dir string, r Resources) error {
	if !r.needs("blkio") {
		return nil
	}
	weight, weightDevice := "blkio.weight", "blkio.weight_device"
	if dir != "" && !exists(dir, weight) && exists(dir, "blkio.bfq.weight") {
		weight, weightDevice = "blkio.bfq.weight", "blkio.bfq.weight_device"
	}
	if r.BlkioWeight != 0 || len(r.BlkioWeightDevice) > 0 {
		if dir == "" || !exists(dir, weight) {
			return fmt.Errorf("set block I/O weight: %s has no blkio.weight nor blkio.bfq.weight (the device's I/O scheduler does not share by weight: CFQ or BFQ)", dir)
		}
	}
	if r.BlkioWeight != 0 {
		if err := setLimit(dir, weight, strconv.FormatUint(uint64(r.BlkioWeight), 10), true); err != nil {
			return fmt.Errorf("set block I/O weight: %w", err)
		}
	}
	for _, d := range r.BlkioWeightDevice {
		if err := setLimit(dir, weightDevice, device(d.Major, d.Minor)+" "+strconv.FormatUint(uint64(d.Weight), 10), true); err != nil {
			return fmt.Errorf("set block I/O weight: %w", err)
		}
	}
	for _, t := range r.throttles() {
		for _, d := range t.list {
			if err := setLimit(dir, t.v1, device(d.Major, d.Minor)+" "+strconv.FormatUint(d.Rate, 10), true); err != nil {
				return fmt.Errorf("set block I/O throttle: %w", err)
			}
		}
	}
	return nil
}

// setIOV2 is setIOV1 in v2's two files: io.weight takes the default
// weight and the per-device ones, io.max one line per device with
// "KEY=VALUE" for each cap.
func setIOV2(dir string, r Resources) error {
	if !r.needs("io") {
		return nil
	}
	if r.BlkioWeight != 0 {
		if err := setLimit(dir, "io.weight", "default "+strconv.FormatUint(ioWeight(r.BlkioWeight), 10), true); err != nil {
			return fmt.Errorf("set block I/O weight: %w", err)
		}
	}
	for _, d := range r.BlkioWeightDevice {
		if err := setLimit(dir, "io.weight", device(d.Major, d.Minor)+" "+strconv.FormatUint(ioWeight(d.Weight), 10), true); err != nil {
			return fmt.Errorf("set block I/O weight: %w", err)
		}
	}
	for _, t := range r.throttles() {
		for _, d := range t.list {
			if err := setLimit(dir, "io.max", device(d.Major, d.Minor)+" "+t.v2+"="+strconv.FormatUint(d.Rate, 10), true); err != nil {
				return fmt.Errorf("set block I/O throttle: %w", err)
			}
		}
	}
	return nil
}
