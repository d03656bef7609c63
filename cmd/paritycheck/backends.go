package main

// Backends linked into the command besides cpu (which the paths link): cuda
// and metal register themselves and, where they cannot run, report why
// ("cuda: unavailable: …" without an NVIDIA driver, GPU or NVRTC; "metal:
// needs macOS on Apple silicon, …" off macOS/arm64), exit 2.
import (
	_ "github.com/metallic-go/metallic/cuda"
	_ "github.com/metallic-go/metallic/metal"
)
