package llamacpp

import (
	"os"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// ggml_log_level values.
const (
	logWarn  = 3
	logError = 4
	logCont  = 5
)

// logState keeps the last warnings and errors llama.cpp logged, to put in
// error messages.
var logState struct {
	once    sync.Once
	cb      uintptr
	forward bool
	mu      sync.Mutex
	recent  []logLine
	keeping bool // the previous message was kept (for GGML_LOG_LEVEL_CONT)
}

const logKeep = 8

type logLine struct {
	level int32
	text  string
}

// logCallback returns the process's ggml_log_callback, created once.
func logCallback() uintptr {
	logState.once.Do(func() {
		logState.forward = os.Getenv(EnvLog) == "1"
		logState.cb = purego.NewCallback(func(level uintptr, text unsafe.Pointer, _ uintptr) {
			s := goString(text)
			lv := int32(level)
			if logState.forward {
				os.Stderr.WriteString(s)
			}
			logState.mu.Lock()
			defer logState.mu.Unlock()
			switch {
			case lv == logWarn || lv == logError:
				logState.recent = append(logState.recent, logLine{lv, strings.TrimRight(s, "\n")})
				if len(logState.recent) > logKeep {
					logState.recent = logState.recent[len(logState.recent)-logKeep:]
				}
				logState.keeping = true
			case lv == logCont && logState.keeping && len(logState.recent) > 0:
				logState.recent[len(logState.recent)-1].text += strings.TrimRight(s, "\n")
			default:
				logState.keeping = false
			}
		})
	})
	return logState.cb
}

// recentLog returns the warnings and errors llama.cpp logged since the last
// call, formatted to append to an error message ("" when none).
func recentLog() string {
	logState.mu.Lock()
	defer logState.mu.Unlock()
	if len(logState.recent) == 0 {
		return ""
	}
	// Errors alone when there are any, else the warnings.
	var errs, warns []string
	for _, l := range logState.recent {
		if l.level == logError {
			errs = append(errs, l.text)
		} else {
			warns = append(warns, l.text)
		}
	}
	if len(errs) == 0 {
		errs = warns
	}
	s := "; llama.cpp said: " + strings.Join(errs, " | ")
	logState.recent = nil
	return s
}

// clearLog forgets the kept messages.
func clearLog() {
	logState.mu.Lock()
	logState.recent = nil
	logState.mu.Unlock()
}
