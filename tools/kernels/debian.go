package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// kernelTree is an extracted Debian kernel package in the cache.
type kernelTree struct {
	Kernel  *Kernel
	Package string // linux-image-6.1.0-57-amd64
	Version string // the package version, 6.1.192-3
	Root    string // where the package is extracted
	Release string // uname -r, the directory under lib/modules
	Vmlinuz string
	LSM     string // CONFIG_LSM: the kernel's default LSM order
}

// apt runs apt-get and apt-cache for one harness run, one call at a time
// (apt takes its own lock anyway), and remembers which package lists were
// refreshed in this run.
//
// Packages of the host's own architecture come from the host's apt lists.
// A foreign architecture the host's dpkg is not configured for (arm64 on
// an amd64 CI machine) gets its own lists inside the cache directory, so
// that the harness never changes the host's apt or dpkg configuration.
type apt struct {
	cache   string
	native  map[string]bool // architectures the host's apt lists cover
	updated map[string]bool // lists refreshed in this run, by architecture
	log     func(format string, args ...any)
}

// aptTimeout bounds every apt call; downloads of ~100 MB packages are the
// slowest.
const aptTimeout = 10 * time.Minute

func newApt(ctx context.Context, cache string, log func(string, ...any)) (*apt, error) {
	a := &apt{cache: cache, native: map[string]bool{}, updated: map[string]bool{}, log: log}
	for _, q := range [][]string{{"--print-architecture"}, {"--print-foreign-architectures"}} {
		out, err := a.run(ctx, "", "dpkg", nil, q...)
		if err != nil {
			return nil, err
		}
		for _, arch := range strings.Fields(string(out)) {
			a.native[arch] = true
		}
	}
	return a, nil
}

// options are the apt options that point apt at arch's lists.
func (a *apt) options(arch string) ([]string, error) {
	if a.native[arch] {
		return nil, nil
	}
	dir := filepath.Join(a.cache, "apt-"+arch)
	for _, d := range []string{"lists/partial", "cache/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	return []string{
		"-o", "Dir::State::Lists=" + filepath.Join(dir, "lists"),
		"-o", "Dir::Cache=" + filepath.Join(dir, "cache"),
		"-o", "APT::Architectures::=" + arch,
	}, nil
}

// run runs an apt tool with arch's options (none for dpkg-deb and dpkg:
// pass a nil options slice).
func (a *apt) run(ctx context.Context, dir, name string, opts []string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, aptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, append(append([]string{}, opts...), args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// query runs q with arch's apt options; if apt did not know the package,
// it refreshes arch's lists once per run (apt-get update) and asks again.
func (a *apt) query(ctx context.Context, arch, what string, q func(opts []string) error) error {
	opts, err := a.options(arch)
	if err != nil {
		return err
	}
	err = q(opts)
	if err == nil || a.updated[arch] {
		return err
	}
	a.log("apt does not know %s (%v); running apt-get update", what, err)
	if _, uerr := a.run(ctx, "", "apt-get", opts, "update", "-qq"); uerr != nil {
		return uerr
	}
	a.updated[arch] = true
	return q(opts)
}

// resolveMeta names the concrete kernel package behind k's metapackage.
func (a *apt) resolveMeta(ctx context.Context, k *Kernel) (string, error) {
	meta := k.Meta + ":" + k.Arch.Name
	var pkg string
	err := a.query(ctx, k.Arch.Name, meta, func(opts []string) error {
		out, err := a.run(ctx, "", "apt-cache", opts, "depends", meta)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			// "  Depends: linux-image-6.1.0-57-amd64" (":arm64" on a foreign arch)
			if len(f) >= 2 && f[0] == "Depends:" && strings.HasPrefix(f[1], "linux-image-") {
				pkg = strings.TrimSuffix(f[1], ":"+k.Arch.Name)
				return nil
			}
		}
		return fmt.Errorf("%s depends on no linux-image package (apt-cache depends said %q)", meta, strings.TrimSpace(string(out)))
	})
	return pkg, err
}

// candidate is the version apt would install of pkg for arch.
func (a *apt) candidate(ctx context.Context, pkg, arch string) (string, error) {
	var version string
	err := a.query(ctx, arch, pkg+":"+arch, func(opts []string) error {
		out, err := a.run(ctx, "", "apt-cache", opts, "show", "--no-all-versions", pkg+":"+arch)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "Version: "); ok {
				version = strings.TrimSpace(v)
				return nil
			}
		}
		return fmt.Errorf("apt-cache show %s: no Version", pkg)
	})
	return version, err
}

// fetchPackage returns the directory where pkg's candidate version for
// arch is extracted in the cache, downloading and extracting it first if
// that version is not there yet. A cache entry is complete only once its
// stamp file exists, so an interrupted run never leaves a half-extracted
// tree that a later run would trust.
func (a *apt) fetchPackage(ctx context.Context, pkg, arch string) (root, version string, err error) {
	version, err = a.candidate(ctx, pkg, arch)
	if err != nil {
		return "", "", err
	}
	entry := filepath.Join(a.cache, entryName(pkg, version, arch))
	deb := filepath.Join(entry, "package.deb")
	root = filepath.Join(entry, "root")
	stamp := filepath.Join(entry, "complete")
	if _, err := os.Stat(stamp); err == nil {
		return root, version, nil
	}
	if err := os.RemoveAll(entry); err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(entry, 0o755); err != nil {
		return "", "", err
	}
	a.log("downloading %s %s (%s)", pkg, version, arch)
	// The cache is root's; without the option apt warns that its _apt
	// user cannot write there, and downloads as root anyway.
	opts, err := a.options(arch)
	if err != nil {
		return "", "", err
	}
	opts = append(opts, "-o", "APT::Sandbox::User=root")
	if _, err := a.run(ctx, entry, "apt-get", opts, "download", pkg+":"+arch+"="+version); err != nil {
		return "", "", err
	}
	debs, _ := filepath.Glob(filepath.Join(entry, "*.deb"))
	if len(debs) != 1 {
		return "", "", fmt.Errorf("apt-get download %s left %d .deb files in %s", pkg, len(debs), entry)
	}
	if err := os.Rename(debs[0], deb); err != nil {
		return "", "", err
	}
	a.log("extracting %s", pkg)
	if _, err := a.run(ctx, "", "dpkg-deb", nil, "-x", deb, root); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(stamp, []byte(pkg+" "+version+"\n"), 0o644); err != nil {
		return "", "", err
	}
	return root, version, nil
}

// fetchKernel returns k's current package, extracted in the cache.
func (a *apt) fetchKernel(ctx context.Context, k *Kernel) (*kernelTree, error) {
	pkg, err := a.resolveMeta(ctx, k)
	if err != nil {
		return nil, err
	}
	root, version, err := a.fetchPackage(ctx, pkg, k.Arch.Name)
	if err != nil {
		return nil, err
	}
	return openTree(k, pkg, version, root)
}

// fetchBusybox returns the static busybox of Debian's busybox-static for
// arch, from the cache. It is downloaded rather than taken from the host
// because busybox-static conflicts with the dynamic busybox package that
// the network lab installs (internal/lab/packages.txt), and because an
// arm64 guest needs the arm64 build.
func (a *apt) fetchBusybox(ctx context.Context, arch *Arch) (string, error) {
	root, _, err := a.fetchPackage(ctx, "busybox-static", arch.Name)
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin", "busybox"), nil
}

// entryName is a package's directory in the cache.
func entryName(pkg, version, arch string) string {
	return safeName(pkg + "_" + version + "_" + arch)
}

// prune removes the cache entries of arch that newer builds superseded, so
// that the cache holds one copy of each kernel line (about 500 MB for the
// four amd64 kernels) instead of growing with every Debian kernel update.
// It keeps what every kernel line of arch resolves to now, selected for
// this run or not, and removes nothing if any of them cannot be resolved.
func (a *apt) prune(ctx context.Context, arch *Arch) error {
	keep := map[string]bool{}
	pkgs := []string{"busybox-static"}
	for _, k := range kernelsFor(arch) {
		pkg, err := a.resolveMeta(ctx, k)
		if err != nil {
			return nil
		}
		pkgs = append(pkgs, pkg)
	}
	for _, pkg := range pkgs {
		v, err := a.candidate(ctx, pkg, arch.Name)
		if err != nil {
			return nil
		}
		keep[entryName(pkg, v, arch.Name)] = true
	}
	entries, err := os.ReadDir(a.cache)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if !e.IsDir() || keep[name] || !strings.HasSuffix(name, "_"+arch.Name) {
			continue
		}
		// Only what fetchPackage creates: never a stranger's directory
		// in a -cache that holds other things.
		if _, err := os.Stat(filepath.Join(a.cache, name, "package.deb")); err != nil {
			if _, err := os.Stat(filepath.Join(a.cache, name, "root")); err != nil {
				continue
			}
		}
		a.log("removing superseded %s from the cache", name)
		if err := os.RemoveAll(filepath.Join(a.cache, name)); err != nil {
			return err
		}
	}
	return nil
}

// safeName keeps a cache directory name to characters no tool quotes
// differently (Debian versions may hold ':', '~' and '+').
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_', r == '+':
			return r
		}
		return '_'
	}, s)
}

func openTree(k *Kernel, pkg, version, root string) (*kernelTree, error) {
	t := &kernelTree{Kernel: k, Package: pkg, Version: version, Root: root}
	rels, err := os.ReadDir(filepath.Join(root, "lib/modules"))
	if err != nil || len(rels) != 1 {
		return nil, fmt.Errorf("%s: expected one directory in lib/modules (%v)", root, err)
	}
	t.Release = rels[0].Name()
	t.Vmlinuz = filepath.Join(root, "boot", "vmlinuz-"+t.Release)
	if _, err := os.Stat(t.Vmlinuz); err != nil {
		return nil, err
	}
	cfg, err := os.ReadFile(filepath.Join(root, "boot", "config-"+t.Release))
	if err != nil {
		return nil, err
	}
	t.LSM = configValue(cfg, "CONFIG_LSM")
	if t.LSM == "" {
		return nil, fmt.Errorf("%s: config has no CONFIG_LSM", pkg)
	}
	return t, nil
}

// configValue returns a Kconfig value without its quotes.
func configValue(config []byte, key string) string {
	for _, line := range strings.Split(string(config), "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

// module is a kernel module ready for the initramfs: uncompressed, because
// busybox insmod and kernels before 6.4 only load plain ELF images.
type module struct {
	Name string
	Data []byte
}

// modules returns the named modules and everything they depend on,
// dependencies first, in the order insmod must load them. The package has
// no modules.dep (depmod writes it at install time), so the dependencies
// come from each module's own .modinfo "depends=" entry.
func (t *kernelTree) modules(names ...string) ([]module, error) {
	index := map[string]string{}
	dir := filepath.Join(t.Root, "lib/modules", t.Release, "kernel")
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if n, ok := moduleName(d.Name()); ok {
			index[n] = p
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []module
	seen := map[string]bool{}
	var visit func(name string, depth int) error
	visit = func(name string, depth int) error {
		name = strings.ReplaceAll(name, "-", "_")
		if seen[name] {
			return nil
		}
		if depth > 20 {
			return fmt.Errorf("module %s: dependency chain too deep", name)
		}
		seen[name] = true
		p, ok := index[name]
		if !ok {
			return fmt.Errorf("%s has no module %s (built in, or not in this package?)", t.Package, name)
		}
		data, err := readModule(p)
		if err != nil {
			return err
		}
		deps, err := moduleDepends(data)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		for _, d := range deps {
			if err := visit(d, depth+1); err != nil {
				return err
			}
		}
		out = append(out, module{Name: name, Data: data})
		return nil
	}
	for _, n := range names {
		if err := visit(n, 0); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// moduleName maps a module file name to the module's name ('-' and '_'
// are the same to the kernel).
func moduleName(file string) (string, bool) {
	for _, ext := range []string{".ko", ".ko.xz", ".ko.zst", ".ko.gz"} {
		if n, ok := strings.CutSuffix(file, ext); ok {
			return strings.ReplaceAll(n, "-", "_"), true
		}
	}
	return "", false
}

// readModule returns a module file's ELF image. Compressed modules are
// decompressed by the matching tool (xz-utils, zstd): the Go standard
// library reads neither format.
func readModule(path string) ([]byte, error) {
	var tool, pkg string
	switch {
	case strings.HasSuffix(path, ".xz"):
		tool, pkg = "xz", "xz-utils"
	case strings.HasSuffix(path, ".zst"):
		tool, pkg = "zstd", "zstd"
	case strings.HasSuffix(path, ".gz"):
		tool, pkg = "gzip", "gzip"
	default:
		return os.ReadFile(path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, tool, "-dc", path)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, fmt.Errorf("%s is compressed and %s is not installed (Debian package %s)", path, tool, pkg)
		}
		return nil, fmt.Errorf("%s -dc %s: %v: %s", tool, path, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// moduleDepends reads "depends=a,b" from a module's .modinfo section.
func moduleDepends(ko []byte) ([]string, error) {
	f, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := f.Section(".modinfo")
	if s == nil {
		return nil, errors.New("no .modinfo section")
	}
	info, err := s.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(info, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var deps []string
			for _, d := range strings.Split(string(v), ",") {
				if d != "" {
					deps = append(deps, d)
				}
			}
			return deps, nil
		}
	}
	return nil, nil
}
