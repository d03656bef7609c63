package sysmem

import (
	"bufio"
	"bytes"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

func available() (uint64, bool) {
	avail, ok := machine()
	if !ok {
		return 0, false
	}
	if n, ok := cgroupRoom(); ok {
		avail = min(avail, n)
	}
	if n, ok := addressRoom(); ok {
		avail = min(avail, n)
	}
	return avail, true
}

// machine is MemAvailable, or free plus buffer memory from sysinfo(2).
func machine() (uint64, bool) {
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		if kb, ok := memAvailable(data); ok {
			return kb << 10, true
		}
	}
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		return 0, false
	}
	unit := uint64(si.Unit)
	if unit == 0 {
		unit = 1
	}
	return (uint64(si.Freeram) + uint64(si.Bufferram)) * unit, true
}

// cgroupRoom is what the process's memory cgroup still allows: the limit
// less the usage (v2 memory.max and memory.current, v1
// memory.limit_in_bytes and memory.usage_in_bytes), when a limit is set.
func cgroupRoom() (uint64, bool) {
	var v1, v2 string
	if data, err := os.ReadFile("/proc/self/cgroup"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if p, ok := strings.CutPrefix(line, "0::"); ok {
				v2 = strings.TrimSpace(p)
			} else if f := strings.SplitN(line, ":", 3); len(f) == 3 && slices.Contains(strings.Split(f[1], ","), "memory") {
				v1 = strings.TrimSpace(f[2])
			}
		}
	}
	for _, c := range []struct{ dir, limit, usage string }{
		{"/sys/fs/cgroup" + v2, "memory.max", "memory.current"},
		{"/sys/fs/cgroup/memory" + v1, "memory.limit_in_bytes", "memory.usage_in_bytes"},
		{"/sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.usage_in_bytes"},
	} {
		limit, ok := readUint(c.dir + "/" + c.limit)
		if !ok || limit >= 1<<62 { // "max", or v1's page-rounded "unlimited"
			continue
		}
		used, _ := readUint(c.dir + "/" + c.usage)
		if used >= limit {
			return 0, true
		}
		return limit - used, true
	}
	return 0, false
}

// addressRoom is what RLIMIT_AS (ulimit -v) still allows: the limit less
// the process's virtual size, when a limit is set.
func addressRoom() (uint64, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &rl); err != nil || rl.Cur == ^uint64(0) {
		return 0, false
	}
	vm := vmSize()
	if vm >= rl.Cur {
		return 0, true
	}
	return rl.Cur - vm, true
}

// vmSize is the process's virtual size (VmSize of /proc/self/status).
func vmSize() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmSize:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// readUint reads a file holding one unsigned number ("max" is no number).
func readUint(path string) (uint64, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
	return v, err == nil
}

// memAvailable reads the MemAvailable line of /proc/meminfo, in KiB.
func memAvailable(data []byte) (uint64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) >= 2 && string(f[0]) == "MemAvailable:" {
			v, err := strconv.ParseUint(string(f[1]), 10, 64)
			return v, err == nil
		}
	}
	return 0, false
}
