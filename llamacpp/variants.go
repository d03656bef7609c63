package llamacpp

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/metallic-go/metallic/internal/infile"
)

// pinnedFile is the identity of one library file of the pinned release.
type pinnedFile struct {
	size   int64
	sha256 string
}

// pinnedCPUVariants are the libggml-cpu builds that npm
// @node-llama-cpp/linux-x64@3.22.1 ships in bins/linux-x64, by file name.
// ggml_backend_load_all_from_path scores every libggml-cpu*.so of the
// library folder and loads the best for this CPU, so a variant left over
// from another release (or a rebuilt one) would run without any version
// check noticing: checkCPUVariants refuses such a folder before anything
// is loaded.
var pinnedCPUVariants = map[string]pinnedFile{
	"libggml-cpu-alderlake.so":      {1224328, "6527efda35405a0d91574aced4a7766db9bb0494ab6458c83fe9eba755eb76f7"},
	"libggml-cpu-cannonlake.so":     {1369312, "44285a67a31a81a036a70c565d391b31145d835044c03c76cfaa2f90a9d57d42"},
	"libggml-cpu-cascadelake.so":    {1369312, "97cace813fbf7b7a07c4793f6a75b8b2d3de256430620f0be4a15bd4372468ea"},
	"libggml-cpu-cooperlake.so":     {1365288, "5eda284fd8986d550e21623b269dd31d02c07fc70121d3099609d5dde6b6847e"},
	"libggml-cpu-haswell.so":        {1228424, "ddaa96012769f0e86e8670cca374243751880bea2c2d0a4413b3a1b7a29dca74"},
	"libggml-cpu-icelake.so":        {1369312, "9b9c24aaa775fd38a6e1ff082549e50d4138d29f2e2883630b28ab70704ed896"},
	"libggml-cpu-ivybridge.so":      {1190120, "91b27ab81df92b8429c8e3441a8861014d3aec1424f90885a628fd0d4567532f"},
	"libggml-cpu-piledriver.so":     {1186024, "2cb5b2101f5bbefa2416ec7f8b6c6acb177d04f0157989c5d92e4c07750fd3f8"},
	"libggml-cpu-sandybridge.so":    {1180808, "bce17565033835dfb59fae2ed712d4c35e56463c2d49ea61ca08e6e2908bdfd6"},
	"libggml-cpu-sapphirerapids.so": {1669760, "e3d4840632b2242655e1721c6b93ec0370406dded9074accfe90bcfb67bd30b8"},
	"libggml-cpu-skylakex.so":       {1369312, "df30b40a957175cd8e462e8838632dc51e3be7570b27b9526cb7a044263aeab3"},
	"libggml-cpu-sse42.so":          {981608, "ec65053445506965db5dd9382d7ede084ba639edc55f77aaf73581c778969e02"},
	"libggml-cpu-x64.so":            {977688, "1174c3c3e0b8722313df561d7ef5ece516a070732cec9b8ddda3667c0b959728"},
	"libggml-cpu-zen4.so":           {1365288, "d84208de33fdadb8921a1a1a34342f5eceb1e58b83648be68050f7557312bd3e"},
}

// checkCPUVariants returns an error unless every libggml-cpu*.so in dir is
// one of the pinned release's variants, byte for byte (name, size and
// SHA-256), and there is at least one.
func checkCPUVariants(dir string) error {
	found, err := filepath.Glob(filepath.Join(dir, "libggml-cpu*.so"))
	if err != nil {
		return fmt.Errorf("llamacpp: library folder %s: %w", dir, err)
	}
	if len(found) == 0 {
		return fmt.Errorf("llamacpp: library folder %s has no libggml-cpu-*.so (the CPU backend of npm @node-llama-cpp/linux-x64@3.22.1)", dir)
	}
	var bad []string
	for _, path := range found {
		name := filepath.Base(path)
		pin, ok := pinnedCPUVariants[name]
		if !ok {
			bad = append(bad, name+" is not a variant of the pinned release")
			continue
		}
		if why := checkFile(path, pin); why != "" {
			bad = append(bad, name+" "+why)
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("llamacpp: library folder %s mixes in CPU backends of another build: %s (remove them, or reinstall npm @node-llama-cpp/linux-x64@3.22.1 with scripts/setup.sh)",
			dir, strings.Join(bad, "; "))
	}
	return nil
}

// checkFile compares a file with its pin; it returns why it differs, or "".
func checkFile(path string, pin pinnedFile) string {
	f, err := infile.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err.Error()
	}
	if st.Size() != pin.size {
		return fmt.Sprintf("has %d bytes, the pinned build %d", st.Size(), pin.size)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err.Error()
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != pin.sha256 {
		return fmt.Sprintf("has sha256 %s, the pinned build %s", got, pin.sha256)
	}
	return ""
}
