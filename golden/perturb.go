package golden

import (
	"github.com/metallic-go/metallic/model"
	"github.com/metallic-go/metallic/parity"
)

// PerturbHooks returns a VerifyOptions.Perturb function that applies every
// perturbation aimed at a path (parity.Perturbation.Hook, a fresh seeded
// stream per run), in order. It returns nil when ps is empty.
func PerturbHooks(ps []parity.Perturbation) func(path string) model.Hook {
	if len(ps) == 0 {
		return nil
	}
	return func(path string) model.Hook {
		var hooks []model.Hook
		for _, p := range ps {
			if p.Path == path {
				hooks = append(hooks, p.Hook())
			}
		}
		if len(hooks) == 0 {
			return nil
		}
		return func(t *model.Tensor) {
			for _, h := range hooks {
				h(t)
			}
		}
	}
}
