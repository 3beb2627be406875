//go:build tools

// Package tools pins talhelper, built by hack/talhelper.sh for the test
// that compares its rendering of talconfig.yaml with the deployer's
// per-node machine configs.
package tools

import _ "github.com/budimanjojo/talhelper/v3"
