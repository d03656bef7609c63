//go:build unix

package infile

import "syscall"

// nonBlock makes open return at once on a named pipe without a writer.
const nonBlock = syscall.O_NONBLOCK
