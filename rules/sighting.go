package rules

import (
	"fmt"
	"strings"

	"github.com/keyaudit/keyaudit/audit/inventory"
)

// sightingFinding starts a finding about a key found outside IAM.
func sightingFinding(env Env, s *inventory.Sighting) Finding {
	a := &inventory.Account{ID: s.OwnerAccount, Name: s.OwnerName}
	u := sightingUser(s)
	k := s.Key
	if k == nil {
		k = &inventory.Key{ID: s.AccessKeyID, Active: true}
	}
	f := newFinding(env, a, u, k)
	if s.Key == nil {
		f.Details.KeyActive = nil
	}
	f.Details.Source = s.Source
	return f
}

// sightingPrincipal is the principal a sighting's findings name.
func sightingPrincipal(s *inventory.Sighting) string {
	if s.Principal == "" {
		return "unknown"
	}
	return s.Principal
}

// sightingUser is the principal a sighting names, as a plan sees it.
func sightingUser(s *inventory.Sighting) *inventory.User {
	return &inventory.User{Name: sightingPrincipal(s), ARN: s.PrincipalARN, Root: s.Principal == inventory.RootName}
}

// stored: the key was found where it is kept for use (a credentials file
// profile or the environment), not merely named to whois.
func stored(s *inventory.Sighting) bool {
	return s.Profile != "" || strings.HasPrefix(s.Source, "environment")
}

// keyLongTerm: a long-term key in a file or the environment is a secret
// that never expires, readable by anything that can read the file. A key
// ID given to whois was stored nowhere keyaudit saw. A leaked key gets
// key-leaked instead (deactivate now, not migrate), a root key
// root-access-key.
func keyLongTerm(env Env, s *inventory.Sighting) []Finding {
	if s.Kind != inventory.KindLongTerm || s.Leaked || !stored(s) || s.Principal == inventory.RootName {
		return nil
	}
	f := sightingFinding(env, s)
	f.Message = "long-term access key found in " + s.Source
	f.Recommendation = "Use short-term credentials instead: IAM Identity Center, a role with source_profile and mfa_serial, or aws-vault; then remove the key from where it is stored and delete it."
	return []Finding{f}
}

// keyForeignAccount: a key of an account outside the audited set, found in
// use here, is either a vendor's or somebody's mistake; both need an owner.
// Only an access key (AKIA, ASIA) is one: a role's or user's unique ID
// decodes to an account too, but nobody holds it as a credential.
func keyForeignAccount(env Env, s *inventory.Sighting) []Finding {
	if s.Kind != inventory.KindLongTerm && s.Kind != inventory.KindTemporary || s.OwnerAccount == "" || env.Audited[s.OwnerAccount] {
		return nil
	}
	f := sightingFinding(env, s)
	f.Details.OwnerAccount = s.OwnerAccount
	f.Message = fmt.Sprintf("found in %s; belongs to account %s, outside the audited accounts", s.Source, s.OwnerAccount)
	f.Recommendation = fmt.Sprintf("Find out whose account %s is and why its key is here. If it is a vendor's, give the vendor a role to assume with an external ID instead; otherwise remove the key and ask the account's owner to delete it.", s.OwnerAccount)
	return []Finding{f}
}

// keyLeaked: the person asking found the key where it must not be (a log,
// a repository, a ticket). Anyone may hold it now: an active key, or one
// whose state is unknown, is critical.
func keyLeaked(env Env, s *inventory.Sighting) []Finding {
	if !s.Leaked {
		return nil
	}
	f := sightingFinding(env, s)
	if s.Key != nil && !s.Key.Active {
		f.Severity = High
	}
	state := "state unknown"
	if s.Key != nil {
		state = map[bool]string{true: "active", false: "inactive"}[s.Key.Active]
	}
	f.Message = fmt.Sprintf("reported leaked (%s)", state)
	f.Recommendation = "Deactivate the key now (reversible), then investigate its use in CloudTrail from its first event, rotate it, and keep or attach AWS's quarantine policy (AWSCompromisedKeyQuarantineV3) until the investigation is done."
	if s.Kind == inventory.KindTemporary {
		f.Recommendation = "Temporary credentials cannot be deactivated: revoke the role's active sessions (IAM console: the role, Revoke active sessions), investigate in CloudTrail, and rotate whatever long-term credential issued them."
	}
	return []Finding{f}
}
