package ifch

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports keeps the package pure: the engine imports it, so it must not
// reach the system or the engine's own DHCP code.
func TestImports(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		switch {
		case imp == "os", imp == "syscall", imp == "os/exec", imp == "net",
			strings.HasPrefix(imp, "golang.org/x/sys"),
			strings.HasPrefix(imp, "github.com/vishvananda/"),
			strings.HasPrefix(imp, "github.com/ndhc-go/ndhc/"):
			t.Errorf("package ifch imports %s", imp)
		}
	}
}
