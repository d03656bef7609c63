//go:build !unix

package main

// peakRSSMB is unknown on this platform.
func peakRSSMB() float64 { return 0 }
