package awssim

import (
	_ "embed"
	"fmt"
)

// demoJSON is a small organization for `keyaudit scan --demo`: a
// management account, three members with a believable spread of findings,
// and one member without AuditRole, so the demo also shows honest coverage.
//
//go:embed demo.json
var demoJSON string

// DemoWorld returns a fresh copy of the demo organization.
func DemoWorld() (*World, error) {
	w, err := ParseWorld([]byte(demoJSON))
	if err != nil {
		return nil, fmt.Errorf("demo world: %w", err)
	}
	return w, nil
}
