//go:build !linux

package metal

// gettid is -1 where the tests cannot tell threads apart: the fake skips
// its same-thread checks.
func gettid() int { return -1 }
