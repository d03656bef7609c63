//go:build unix

package cpu

import "golang.org/x/sys/unix"

// bigAlloc is the size from which Alloc maps memory from the operating
// system instead of the Go heap: a KV cache or a large activation buffer
// is device memory, outside the garbage collector's accounting (which
// would otherwise let as much garbage grow beside it), and its pages cost
// resident memory only once written.
const bigAlloc = 1 << 20

// osAlloc maps n zeroed bytes (8-byte aligned), or returns nil when the
// mapping fails (the caller falls back to the Go heap).
func osAlloc(n int) []byte {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil
	}
	return b[:n:n]
}

// osFree unmaps memory osAlloc returned.
func osFree(b []byte) { _ = unix.Munmap(b[:cap(b)]) }
