package sandbox

import "fmt"

// LandlockRights splits the Landlock rights into those a kernel with ABI
// abi enforces for l and those it lacks, by name.
func LandlockRights(abi int, l Landlock) (enforced, missing []string) {
	rights := []struct {
		name string
		abi  int
		skip bool
	}{
		{"fs", 1, false},
		{"fs.refer", 2, false},
		{"fs.truncate", 3, false},
		{"net.tcp", 4, l.AllowNetwork},
		{"fs.ioctl_dev", 5, false},
		{"scope.abstract_unix", 6, l.AllowAbstractOut},
		{"scope.signal", 6, l.AllowSignalsOut},
		{"fs.resolve_unix", 9, false},
		{"net.udp", 10, l.AllowNetwork},
	}
	for _, r := range rights {
		switch {
		case r.skip:
		case abi >= r.abi:
			enforced = append(enforced, r.name)
		default:
			missing = append(missing, fmt.Sprintf("%s (ABI %d)", r.name, r.abi))
		}
	}
	return enforced, missing
}
