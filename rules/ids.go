package rules

// The rules' IDs: a public contract (JSON, CSV, suppressions in the
// config, Security Hub's GeneratorId), for code outside the catalogue
// that must name a rule.
const (
	RootAccessKey     = "root-access-key"
	KeyRotation       = "key-rotation"
	KeyUnused         = "key-unused"
	KeySetupUnused    = "key-setup-unused"
	KeyTwoActive      = "key-two-active"
	KeyInactive       = "key-inactive"
	KeyWithoutMFA     = "key-without-mfa"
	KeyLongTerm       = "key-long-term"
	KeyForeignAccount = "key-foreign-account"
	KeyLeaked         = "key-leaked"
)
