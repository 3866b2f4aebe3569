//go:build cgo

package sandbox

// cgoBuild: this program is linked with cgo (see [CheckBuild]).
const cgoBuild = true
