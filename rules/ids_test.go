package rules

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// The constants are the catalogue's IDs, each once.
func TestIDsAreTheCatalogue(t *testing.T) {
	var ids []string
	for _, r := range Catalogue() {
		ids = append(ids, r.ID)
	}
	assert.ElementsMatch(t, []string{RootAccessKey, KeyRotation, KeyUnused, KeySetupUnused, KeyTwoActive, KeyInactive,
		KeyWithoutMFA, KeyLongTerm, KeyForeignAccount, KeyLeaked}, ids, "rule IDs")
}
