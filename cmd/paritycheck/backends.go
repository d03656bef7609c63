package main

// Backends linked into the command besides cpu (which the paths link): cuda
// registers itself and, where there is no NVIDIA driver, GPU or NVRTC,
// reports itself unavailable ("cuda: unavailable: …", exit 2).
import _ "github.com/metallic-go/metallic/cuda"
