// Package version reports the version of the hier module a program was built from, so that
// results (a run's metrics.json) and `hier version` can record it.
package version

import (
	"runtime/debug"
)

// ModulePath is the hier module's path.
const ModulePath = "github.com/hier-ai/hier"

// Hier is the version of the hier module in the running program, from its build information:
// the module version ("(devel)" for a build inside the repository, a release tag or
// pseudo-version when another module depends on hier), followed by the VCS revision when the
// build recorded one (inside a git checkout without -buildvcs=false), e.g.
// "(devel) rev 1a2b3c4d5e6f (modified)". "unknown" without build information.
func Hier() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if bi.Main.Path != ModulePath {
		// hier is a dependency of the running program.
		for _, d := range bi.Deps {
			if d.Path == ModulePath {
				if d.Replace != nil {
					return d.Version + " => " + d.Replace.Path + " " + d.Replace.Version
				}
				return d.Version
			}
		}
		return "unknown"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " rev " + rev
		if modified == "true" {
			v += " (modified)"
		}
	}
	return v
}
