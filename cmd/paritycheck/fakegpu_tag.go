//go:build fakegpu

package main

// Built with -tags fakegpu, the command also links the fake GPU backend
// "fake" (internal/fakegpu: the cpu's kernels presented as a plain-only
// GPU backend with cuda's Describe and SetProfiling/Profile), so that
// scripts/gpu-acceptance.sh can be rehearsed on a machine without a GPU:
// BACKEND=fake scripts/gpu-acceptance.sh OUT ./paritycheck. Ordinary
// builds do not contain it.

import "github.com/metallic-go/metallic/internal/fakegpu"

func init() { fakegpu.Register("fake") }
