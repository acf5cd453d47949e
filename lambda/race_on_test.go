//go:build race

package main

// buildFlags are added to the go build of the binary under test: a race
// test run builds it with -race too, so it reuses the packages the test
// itself compiled instead of compiling them all a second time.
var buildFlags = []string{"-race"}
