package main

import "runtime/debug"

// version is the spool release this binary is, set by scripts/release.sh
// with -ldflags "-X main.version=$(git describe …)". Bench reports carry
// it: a number is only comparable with one from the same code.
var version = ""

// spoolVersion is version, else what the Go build info knows (the module
// version or the VCS revision go build stamped), else "devel".
func spoolVersion() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, modified := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if modified {
		rev += "-dirty"
	}
	return rev
}
