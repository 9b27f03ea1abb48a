package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/blkiodev"
	"github.com/moby/moby/api/types/container"
	"github.com/spf13/pflag"
)

// lessCommon are docker run's less common limits (chapter 02's swap.go,
// realtime.go and io.go), parsed as the docker CLI parses them so that
// berthd gets the same request from berth as from docker.
type lessCommon struct {
	memorySwap    swapValue
	swappiness    int64
	cpuPeriod     int64
	cpuQuota      int64
	rtPeriod      int64
	rtRuntime     int64
	blkioWeight   uint16
	weightDevices weightDeviceList
	readBps       throttleList
	writeBps      throttleList
	readIOps      throttleList
	writeIOps     throttleList
	forUpdateOnly bool
}

func (l *lessCommon) addFlags(fs *pflag.FlagSet) {
	fs.Var(&l.memorySwap, "memory-swap", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	if !l.forUpdateOnly { // update has its own, with --cpus
		fs.Int64Var(&l.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
		fs.Int64Var(&l.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	}
	fs.Int64Var(&l.rtPeriod, "cpu-rt-period", 0, "Limit CPU real-time period in microseconds")
	fs.Int64Var(&l.rtRuntime, "cpu-rt-runtime", 0, "Limit CPU real-time runtime in microseconds")
	fs.Uint16Var(&l.blkioWeight, "blkio-weight", 0, "Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)")
	if l.forUpdateOnly {
		return
	}
	fs.Int64Var(&l.swappiness, "memory-swappiness", -1, "Tune container memory swappiness (0 to 100)")
	l.readBps.bytes, l.writeBps.bytes = true, true
	fs.Var(&l.weightDevices, "blkio-weight-device", "Block IO weight (relative device weight)")
	fs.Var(&l.readBps, "device-read-bps", "Limit read rate (bytes per second) from a device")
	fs.Var(&l.writeBps, "device-write-bps", "Limit write rate (bytes per second) to a device")
	fs.Var(&l.readIOps, "device-read-iops", "Limit read rate (IO per second) from a device")
	fs.Var(&l.writeIOps, "device-write-iops", "Limit write rate (IO per second) to a device")
}

// apply sets them in r, with the docker CLI's checks.
func (l *lessCommon) apply(r *container.Resources) error {
	if !l.forUpdateOnly && (l.swappiness < -1 || l.swappiness > 100) {
		return fmt.Errorf("invalid value: %d. Valid memory swappiness range is 0-100", l.swappiness)
	}
	if l.blkioWeight != 0 && (l.blkioWeight < 10 || l.blkioWeight > 1000) {
		return fmt.Errorf("invalid value: %d. Valid blkio weight range is 10-1000", l.blkioWeight)
	}
	r.MemorySwap = int64(l.memorySwap)
	r.CPURealtimePeriod, r.CPURealtimeRuntime = l.rtPeriod, l.rtRuntime
	r.BlkioWeight = l.blkioWeight
	if l.forUpdateOnly {
		return nil
	}
	r.CPUPeriod, r.CPUQuota = l.cpuPeriod, l.cpuQuota
	sw := l.swappiness
	r.MemorySwappiness = &sw
	// Empty lists, not null, as the docker CLI sends them.
	r.BlkioWeightDevice = append([]*blkiodev.WeightDevice{}, l.weightDevices...)
	r.BlkioDeviceReadBps = append([]*blkiodev.ThrottleDevice{}, l.readBps.list...)
	r.BlkioDeviceWriteBps = append([]*blkiodev.ThrottleDevice{}, l.writeBps.list...)
	r.BlkioDeviceReadIOps = append([]*blkiodev.ThrottleDevice{}, l.readIOps.list...)
	r.BlkioDeviceWriteIOps = append([]*blkiodev.ThrottleDevice{}, l.writeIOps.list...)
	return nil
}

// swapValue is --memory-swap: a size, or -1 for unlimited swap.
type swapValue int64

func (s *swapValue) String() string {
	if *s <= 0 {
		return strconv.FormatInt(int64(*s), 10)
	}
	return units.BytesSize(float64(*s))
}

func (s *swapValue) Set(v string) error {
	if v == "-1" {
		*s = -1
		return nil
	}
	n, err := units.RAMInBytes(v)
	if err != nil {
		return err
	}
	*s = swapValue(n)
	return nil
}

func (s *swapValue) Type() string { return "bytes" }

// devicePath splits "PATH:VALUE" as the docker CLI does: the path must
// be under /dev.
func devicePath(v string) (string, string, error) {
	path, value, ok := strings.Cut(v, ":")
	if !ok || value == "" {
		return "", "", fmt.Errorf("bad format: %s", v)
	}
	if !strings.HasPrefix(path, "/dev/") {
		return "", "", fmt.Errorf("bad format for path: %s", path)
	}
	return path, value, nil
}

// weightDeviceList is --blkio-weight-device PATH:WEIGHT, repeatable.
type weightDeviceList []*blkiodev.WeightDevice

func (w *weightDeviceList) String() string { return fmt.Sprint(len(*w)) }
func (w *weightDeviceList) Type() string   { return "list" }
func (w *weightDeviceList) Set(v string) error {
	path, value, err := devicePath(v)
	if err != nil {
		return err
	}
	n, err := strconv.ParseUint(value, 10, 16)
	if err != nil || (n != 0 && (n < 10 || n > 1000)) {
		return fmt.Errorf("invalid weight for device: %s", v)
	}
	*w = append(*w, &blkiodev.WeightDevice{Path: path, Weight: uint16(n)})
	return nil
}

// throttleList is --device-read-bps PATH:RATE (a size) or
// --device-read-iops PATH:RATE (a count), repeatable.
type throttleList struct {
	bytes bool
	list  []*blkiodev.ThrottleDevice
}

func (t *throttleList) String() string { return fmt.Sprint(len(t.list)) }
func (t *throttleList) Type() string   { return "list" }
func (t *throttleList) Set(v string) error {
	path, value, err := devicePath(v)
	if err != nil {
		return err
	}
	var rate uint64
	if t.bytes {
		n, err := units.RAMInBytes(value)
		if err != nil || n < 0 {
			return fmt.Errorf("invalid rate for device: %s. The correct format is <device-path>:<number>[<unit>]. Number must be a positive integer. Unit is optional and can be kb, mb, or gb", v)
		}
		rate = uint64(n)
	} else if rate, err = strconv.ParseUint(value, 10, 64); err != nil {
		return fmt.Errorf("invalid rate for device: %s. The correct format is <device-path>:<number>. Number must be a positive integer", v)
	}
	t.list = append(t.list, &blkiodev.ThrottleDevice{Path: path, Rate: rate})
	return nil
}
