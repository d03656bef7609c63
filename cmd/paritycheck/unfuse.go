package main

import "flag"

// --unfuse (steps, bisect, repro): the dsl path's composed kernels also
// run stage by stage (the unfused twin "dsl-unfused", opened after dsl),
// every stage's output judged as a stage checkpoint
// "<checkpoint>.<stage>" against the float64 oracle, and a fused kernel
// that fails while its stages pass is reported as a composition fault.

func init() {
	registerFlagRule("unfuse", flagRule{
		why:     "it runs the dsl path's kernels stage by stage, and the dsl path does not run",
		applies: func(s *runScope) bool { return s.has("dsl") },
	})
}

// unfuseFlag defines --unfuse.
func unfuseFlag(fs *flag.FlagSet, p *bool) {
	fs.BoolVar(p, "unfuse", false, "also run the dsl path's fused kernels stage by stage (path dsl-unfused): every stage's output is a checkpoint CHECKPOINT.STAGE judged by the oracle, and a fused kernel that fails while its stages pass is named a composition fault")
}
