//go:build !unix

package infile

// nonBlock is 0 where named pipes do not block open (or do not exist).
const nonBlock = 0
