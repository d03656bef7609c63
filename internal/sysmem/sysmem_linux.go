package sysmem

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"syscall"
)

func available() (uint64, bool) {
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
