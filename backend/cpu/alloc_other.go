//go:build !unix

package cpu

// bigAlloc is 0 where memory is not mapped from the operating system:
// every buffer lives on the Go heap.
const bigAlloc = 0

func osAlloc(int) []byte { return nil }
func osFree([]byte)      {}
