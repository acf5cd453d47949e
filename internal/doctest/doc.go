// Package doctest holds the test that keeps the documentation true: every
// keyaudit command in a shell block of README.md and docs/*.md is run with
// the built binary, and every keyaudit config in a yaml block is read by
// the real config loader. How to mark an example is in docs/development.md.
package doctest
