package metal

import "errors"

// KernelTime is the GPU time of one dispatch (profiling mode).
type KernelTime struct {
	Kernel         string  // the kernel's label
	Grid           [3]int  // threadgroups
	Threads        int     // threads per threadgroup
	ThreadgroupMem int     // dynamic threadgroup memory in bytes
	Ms             float64 // GPUEndTime − GPUStartTime of its command buffer
}

// profiler holds the dispatch times of profiling mode.
type profiler struct {
	on    bool
	times []KernelTime
}

// SetProfiling turns profiling mode on or off: while on, every dispatch
// is committed as its own command buffer, whose GPUStartTime and
// GPUEndTime give its time (slower than one command buffer per forward
// call; for bench --profile). It waits for the work in flight first.
func (b *Backend) SetProfiling(on bool) error {
	if err := b.checkOpen("SetProfiling"); err != nil {
		return err
	}
	if err := b.wait("SetProfiling"); err != nil {
		return err
	}
	b.prof.on = on
	return nil
}

// Profile waits for the work in flight and returns the times of the
// dispatches profiled since the last call, in commit order.
func (b *Backend) Profile() ([]KernelTime, error) {
	if err := b.checkOpen("Profile"); err != nil {
		return nil, err
	}
	if !b.prof.on && len(b.prof.times) == 0 {
		return nil, errors.New("metal: Profile: profiling is off (SetProfiling(true) first)")
	}
	if err := b.wait("Profile"); err != nil {
		return nil, err
	}
	t := b.prof.times
	b.prof.times = nil
	return t, nil
}
