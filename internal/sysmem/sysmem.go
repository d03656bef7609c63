// Package sysmem tells how much memory the machine can still give a
// process, without cgo, so that sizes can be refused up front instead of
// ending in an out-of-memory crash.
package sysmem

// Available returns the bytes of memory available for new allocations
// without swapping, and false where that is unknown (the caller should
// then not refuse on memory grounds). On Linux it is MemAvailable of
// /proc/meminfo (free plus buffer memory from sysinfo(2) on kernels
// without it), lowered to what the process's cgroup (v2 memory.max) and
// address-space limit (ulimit -v) still allow; elsewhere it is unknown.
func Available() (uint64, bool) { return available() }
