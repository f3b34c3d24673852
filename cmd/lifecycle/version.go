package main

import (
	"errors"
	"runtime/debug"
)

// version is stamped at build time: go build -ldflags "-X main.version=1.4.0".
var version = ""

// buildID is this binary's id in a Worker Deployment: the stamped version,
// else the VCS revision go build recorded (a build from a modified tree is
// marked, so that it never shares an id with the clean build).
func buildID() (string, error) {
	if version != "" {
		return version, nil
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "", errNoBuildID
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "", errNoBuildID
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-modified"
	}
	return rev, nil
}

var errNoBuildID = errors.New("LIFECYCLE_BUILD_ID: this binary has no stamped version or VCS revision; set LIFECYCLE_BUILD_ID (e.g. the image tag), or LIFECYCLE_WORKER_VERSIONING=off")

// versionText is what `lifecycle version` prints.
func versionText() string {
	id, err := buildID()
	if err != nil {
		id = "unknown (no stamped version or VCS revision)"
	}
	info, _ := debug.ReadBuildInfo()
	goVersion := ""
	if info != nil {
		goVersion = info.GoVersion
	}
	return "lifecycle " + id + " (" + goVersion + ", embedded Temporal server: " + devIncluded + ")\n"
}
